//! The shipped configuration, compiled into the binary.
//!
//! `pv2` must work wherever it is started: with no `--config`, no `PV2_CONFIG` and no
//! `./config` directory it reads these files, which are byte for byte the repository's
//! `config/` at build time. `pv2 config init DIR` writes them out to be edited.

use std::path::{Path, PathBuf};

macro_rules! shipped {
    ($($rel:literal),* $(,)?) => {
        &[$(($rel, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/config/", $rel)))),*]
    };
}

/// Every shipped file: (path under the config directory, contents).
pub const FILES: &[(&str, &str)] = shipped!(
    "default.toml",
    "markets.toml",
    "dags.toml",
    "engines/assessment.toml",
    "engines/derived.toml",
    "engines/execution.toml",
    "engines/fragility.toml",
    "engines/ingest.toml",
    "engines/joint_encoder.toml",
    "engines/kronos.toml",
    "engines/noop.toml",
    "engines/numeric_encoder.toml",
    "engines/portfolio.toml",
    "engines/profiles.toml",
    "engines/regime.toml",
    "engines/scenarios.toml",
    "engines/stability.toml",
    "engines/text_encoder.toml",
    "engines/universe.toml",
    "strategies/core_long_eq.toml",
    "strategies/equal_weight.toml",
    "strategies/hrp.toml",
    "strategies/mean_variance.toml",
    "strategies/min_variance.toml",
);

/// The shipped file at `rel` (e.g. `engines/regime.toml`), if there is one.
pub fn file(rel: &str) -> Option<&'static str> {
    FILES.iter().find(|(p, _)| *p == rel).map(|(_, text)| *text)
}

/// Writes every shipped file under `dir`, refusing to overwrite a file that exists (an
/// edited config is never lost). Returns the paths written.
///
/// # Errors
/// A file that already exists, or a write failure, naming the path.
pub fn write_to(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let existing: Vec<PathBuf> = FILES
        .iter()
        .map(|(rel, _)| dir.join(rel))
        .filter(|p| p.exists())
        .collect();
    if let Some(first) = existing.first() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            format!(
                "{} already exists ({} of the {} files do); choose an empty directory or remove them",
                first.display(),
                existing.len(),
                FILES.len()
            ),
        ));
    }
    let mut written = Vec::with_capacity(FILES.len());
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_repository_config_is_built_in() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let mut on_disk = Vec::new();
        for sub in ["", "engines", "strategies"] {
            for e in std::fs::read_dir(root.join(sub)).unwrap() {
                let p = e.unwrap().path();
                if p.extension().is_some_and(|x| x == "toml") {
                    on_disk.push(p.strip_prefix(&root).unwrap().display().to_string());
                }
            }
        }
        on_disk.sort();
        let mut built_in: Vec<String> = FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        built_in.sort();
        assert_eq!(on_disk, built_in, "add new config files to FILES");
    }

    #[test]
    fn the_shipped_daily_ingest_reads_the_inbox() {
        let cfg = crate::config::parse_engine_text::<crate::ingest::daily::DailyIngestConfig>(
            "engines/ingest.toml",
            file("engines/ingest.toml").unwrap(),
        )
        .unwrap();
        assert_eq!(cfg.config.source, crate::ingest::daily::DailySource::Inbox);
    }

    #[test]
    fn init_writes_every_file_once_and_never_overwrites() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_to(dir.path()).unwrap();
        assert_eq!(written.len(), FILES.len());
        assert_eq!(
            std::fs::read_to_string(dir.path().join("engines/regime.toml")).unwrap(),
            file("engines/regime.toml").unwrap()
        );
        let err = write_to(dir.path()).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    }
}

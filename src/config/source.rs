//! Reading configuration files and applying `PV2_…` environment overrides.

use super::engine::{EngineConfig, VersionedConfig};
use super::error::{ConfigError, ConfigIssue, Issues};
use serde::de::DeserializeOwned;
use std::path::PathBuf;

/// One `PV2_A__B__C=value` variable, parsed.
#[derive(Clone, Debug)]
struct EnvOverride {
    var: String,
    path: Vec<String>,
    value: toml::Value,
}

/// Where configuration files are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigRoot {
    /// A directory laid out like the repository's `config/` (a missing file there means
    /// "every key at its default").
    Dir(PathBuf),
    /// The shipped files compiled into the binary ([`super::builtin`]).
    Builtin,
}

/// The configuration root plus the environment overrides that apply to it.
///
/// The environment is passed in (not read here) so loading is a pure function of its inputs
/// and tests can supply their own.
#[derive(Clone, Debug)]
pub struct ConfigSource {
    root: ConfigRoot,
    overrides: Vec<EnvOverride>,
}

/// The file under the config directory that holds application settings.
const APP_FILE: &str = "default.toml";

impl ConfigSource {
    /// A source reading `dir`, with overrides taken from `env` (variables named
    /// `PV2_<SEGMENT>__<SEGMENT>…`; single-segment variables such as `PV2_FAULTS` are settings
    /// of their own, not overrides, and are ignored here).
    ///
    /// # Errors
    /// [`ConfigError::MissingDir`] when `dir` is not a directory.
    pub fn new(
        dir: impl Into<PathBuf>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let dir = dir.into();
        if !dir.is_dir() {
            return Err(ConfigError::MissingDir(dir));
        }
        Ok(Self::with_root(ConfigRoot::Dir(dir), env))
    }

    /// A source reading the shipped files compiled into the binary, with overrides from
    /// `env`.
    pub fn builtin(env: impl IntoIterator<Item = (String, String)>) -> Self {
        Self::with_root(ConfigRoot::Builtin, env)
    }

    fn with_root(root: ConfigRoot, env: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut overrides: Vec<EnvOverride> = env
            .into_iter()
            .filter_map(|(var, raw)| {
                let rest = var.strip_prefix("PV2_")?;
                if !rest.contains("__") {
                    return None;
                }
                let path = rest.split("__").map(str::to_ascii_lowercase).collect();
                Some(EnvOverride {
                    value: parse_env_value(&raw),
                    var,
                    path,
                })
            })
            .collect();
        overrides.sort_by(|a, b| a.var.cmp(&b.var));
        Self { root, overrides }
    }

    /// Where the files come from.
    pub fn root(&self) -> &ConfigRoot {
        &self.root
    }

    /// Where the files come from, for messages: the directory, or "the built-in defaults".
    pub fn describe(&self) -> String {
        match &self.root {
            ConfigRoot::Dir(d) => d.display().to_string(),
            ConfigRoot::Builtin => {
                "the built-in defaults (pv2 config init DIR writes them out)".into()
            }
        }
    }

    /// The text of the file at `rel` (e.g. `strategies/hrp.toml`) and the origin to name in
    /// messages; `None` when there is no such file.
    ///
    /// # Errors
    /// [`ConfigError::Read`] when the file exists but cannot be read.
    pub fn read(&self, rel: &str) -> Result<Option<(String, String)>, ConfigError> {
        match &self.root {
            ConfigRoot::Dir(dir) => {
                let path = dir.join(rel);
                match std::fs::read_to_string(&path) {
                    Ok(text) => Ok(Some((text, path.display().to_string()))),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(ConfigError::Read { path, source }),
                }
            }
            ConfigRoot::Builtin => Ok(super::builtin::file(rel)
                .map(|t| (t.to_owned(), format!("(built-in) config/{rel}")))),
        }
    }

    fn describe_file(&self, rel: &str) -> String {
        match &self.root {
            ConfigRoot::Dir(d) => d.join(rel).display().to_string(),
            ConfigRoot::Builtin => format!("(built-in) config/{rel}"),
        }
    }

    /// Loads `default.toml` (all overrides except those under `engines`).
    ///
    /// # Errors
    /// Unreadable file, syntax error, unknown or mistyped key, or failed validation — every
    /// issue at once, each naming file or variable, key and reason.
    pub fn load_app(&self) -> Result<super::AppConfig, ConfigError> {
        let (cfg, origins): (super::AppConfig, _) = self.load_file(APP_FILE, &[], |path| {
            path.first().is_some_and(|s| s != "engines")
        })?;
        let mut issues = Issues::new();
        cfg.validate(&mut issues);
        origins.finish(issues)?;
        Ok(cfg)
    }

    /// Loads `engines/<ENGINE>.toml` (defaults when the file is absent) with its overrides,
    /// validates it and computes its `config_id`.
    ///
    /// # Errors
    /// As [`Self::load_app`].
    pub fn load_engine<C: EngineConfig>(&self) -> Result<VersionedConfig<C>, ConfigError> {
        let rel = format!("engines/{}.toml", C::ENGINE);
        let (cfg, origins): (C, _) = self.load_file(&rel, &["engines", C::ENGINE], |_| true)?;
        let mut issues = Issues::new();
        cfg.validate(&mut issues);
        origins.finish(issues)?;
        Ok(VersionedConfig::new(cfg))
    }

    /// Loads another file (e.g. `dags.toml`) without overrides; the caller validates it.
    ///
    /// # Errors
    /// As [`Self::load_app`], minus validation.
    pub fn load_plain<T: DeserializeOwned>(&self, rel: &str) -> Result<T, ConfigError> {
        let (cfg, origins) = self.load_file(rel, &[], |_| false)?;
        origins.finish(Issues::new())?;
        Ok(cfg)
    }

    /// Loads and validates `markets.toml` (no environment overrides: it is a list).
    ///
    /// # Errors
    /// As [`Self::load_app`]; also when no market is configured.
    pub fn load_markets(&self) -> Result<super::MarketsConfig, ConfigError> {
        let (cfg, origins): (super::MarketsConfig, _) =
            self.load_file("markets.toml", &[], |_| false)?;
        let mut issues = Issues::new();
        cfg.validate(&mut issues);
        if cfg.markets.is_empty() {
            issues.push(
                "market",
                "no [[market]] entries; at least one market is needed",
            );
        }
        origins.finish(issues)?;
        Ok(cfg)
    }

    /// Overrides naming an engine that is not in `known_engines` (a typo would otherwise be
    /// silently ignored because that engine file is never loaded).
    ///
    /// # Errors
    /// Lists every such variable.
    pub fn check_engine_overrides(&self, known_engines: &[&str]) -> Result<(), ConfigError> {
        let issues: Vec<ConfigIssue> = self
            .overrides
            .iter()
            .filter(|o| o.path.first().is_some_and(|s| s == "engines"))
            .filter(|o| {
                !o.path
                    .get(1)
                    .is_some_and(|e| known_engines.contains(&e.as_str()))
            })
            .map(|o| ConfigIssue {
                origin: format!("env {}", o.var),
                key: o.path.join("."),
                reason: format!(
                    "no such engine; known engines: {}",
                    known_engines.join(", ")
                ),
            })
            .collect();
        if issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(issues))
        }
    }

    fn load_file<T: DeserializeOwned>(
        &self,
        rel: &str,
        prefix: &[&str],
        applies: impl Fn(&[String]) -> bool,
    ) -> Result<(T, Origins), ConfigError> {
        let (mut table, file_origin) = match self.read(rel)? {
            Some((text, origin)) => (parse_table(&origin, &text)?, origin),
            None => (toml::Table::new(), self.describe_file(rel)),
        };
        let mut origins = Origins {
            file: file_origin,
            env: Vec::new(),
            issues: Vec::new(),
        };
        for o in &self.overrides {
            let Some(rest) = strip_prefix(&o.path, prefix) else {
                continue;
            };
            if !applies(&o.path) || rest.is_empty() {
                continue;
            }
            if let Err(reason) = set_path(&mut table, rest, o.value.clone()) {
                origins.issues.push(ConfigIssue {
                    origin: format!("env {}", o.var),
                    key: rest.join("."),
                    reason,
                });
            }
            origins.env.push((rest.join("."), o.var.clone()));
        }
        let value = deserialize_table(table, &mut origins);
        match value {
            Some(v) => Ok((v, origins)),
            None => Err(ConfigError::Invalid(origins.issues)),
        }
    }
}

/// Parses TOML text into a table; a syntax error becomes an issue for `origin`.
fn parse_table(origin: &str, text: &str) -> Result<toml::Table, ConfigError> {
    text.parse::<toml::Table>().map_err(|e| {
        let line = e
            .span()
            .map_or(0, |span| text[..span.start].lines().count().max(1));
        ConfigError::Invalid(vec![ConfigIssue {
            origin: format!("{origin}:{line}"),
            key: String::new(),
            reason: format!("not valid TOML: {}", e.message().trim()),
        }])
    })
}

/// Parses a TOML document given as text (e.g. a config sent to a running daemon), validates
/// it as engine `C` and computes its id. `origin` names the text in errors.
///
/// # Errors
/// Syntax errors, unknown or mistyped keys, failed validation.
pub fn parse_engine_text<C: EngineConfig>(
    origin: &str,
    text: &str,
) -> Result<VersionedConfig<C>, ConfigError> {
    let table = parse_table(origin, text)?;
    let mut origins = Origins {
        file: origin.to_owned(),
        env: Vec::new(),
        issues: Vec::new(),
    };
    let Some(cfg) = deserialize_table::<C>(table, &mut origins) else {
        return Err(ConfigError::Invalid(origins.issues));
    };
    let mut issues = Issues::new();
    cfg.validate(&mut issues);
    origins.finish(issues)?;
    Ok(VersionedConfig::new(cfg))
}

fn deserialize_table<T: DeserializeOwned>(table: toml::Table, origins: &mut Origins) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(toml::Value::Table(table)) {
        Ok(v) => Some(v),
        Err(e) => {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            let reason = e.inner().to_string();
            origins.issues.push(ConfigIssue {
                origin: origins.origin_of(&key),
                key,
                reason,
            });
            None
        }
    }
}

/// Where each key's value came from, so an issue can name the right file or variable.
#[derive(Debug)]
struct Origins {
    file: String,
    env: Vec<(String, String)>,
    issues: Vec<ConfigIssue>,
}

impl Origins {
    fn origin_of(&self, key: &str) -> String {
        self.env
            .iter()
            .find(|(k, _)| key == k || key.starts_with(&format!("{k}.")))
            .map_or_else(|| self.file.clone(), |(_, var)| format!("env {var}"))
    }

    fn finish(mut self, issues: Issues) -> Result<(), ConfigError> {
        for (key, reason) in issues.into_pairs() {
            self.issues.push(ConfigIssue {
                origin: self.origin_of(&key),
                key,
                reason,
            });
        }
        if self.issues.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.issues))
        }
    }
}

fn strip_prefix<'a>(path: &'a [String], prefix: &[&str]) -> Option<&'a [String]> {
    if path.len() < prefix.len() || path.iter().zip(prefix).any(|(a, b)| a != b) {
        return None;
    }
    Some(&path[prefix.len()..])
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let (last, parents) = path.split_last().ok_or_else(|| "empty key".to_owned())?;
    let mut cur = table;
    for seg in parents {
        let entry = cur
            .entry(seg.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = entry
            .as_table_mut()
            .ok_or_else(|| format!("`{seg}` is a value, not a section, and cannot hold keys"))?;
    }
    cur.insert(last.clone(), value);
    Ok(())
}

/// Environment values are TOML scalars or arrays when they parse as such (`42`, `0.5`,
/// `true`, `[1, 5, 21]`); anything else, dates included, is taken as a plain string.
fn parse_env_value(raw: &str) -> toml::Value {
    match format!("v = {raw}").parse::<toml::Table>() {
        Ok(mut t) => match t.remove("v") {
            Some(
                v @ (toml::Value::Integer(_)
                | toml::Value::Float(_)
                | toml::Value::Boolean(_)
                | toml::Value::Array(_)),
            ) => v,
            _ => toml::Value::String(raw.to_owned()),
        },
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_parse_as_toml_scalars_or_strings() {
        assert_eq!(parse_env_value("42"), toml::Value::Integer(42));
        assert_eq!(parse_env_value("true"), toml::Value::Boolean(true));
        assert!(matches!(parse_env_value("[1, 5]"), toml::Value::Array(_)));
        assert_eq!(
            parse_env_value("sqlite://data/x.db"),
            toml::Value::String("sqlite://data/x.db".into())
        );
        assert_eq!(
            parse_env_value("2020-01-02"),
            toml::Value::String("2020-01-02".into())
        );
    }
}

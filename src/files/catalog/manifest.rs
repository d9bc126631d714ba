//! The catalog's manifest (`manifest.json`): every dataset's columns and partitions with
//! their row counts and SHA-256, and the data fingerprint of each market's prices at export.
//! It holds no clock reading, so exporting the same data twice gives the same bytes; it is
//! what an incremental export compares against and what a reader checks before trusting
//! the files.

use super::CatalogError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// The manifest's format tag.
pub const FORMAT: &str = "pv2-catalog/1";

/// The whole manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: String,
    /// Datasets by name.
    pub datasets: BTreeMap<String, DatasetEntry>,
    /// Each market's historical-data fingerprint when its prices were exported: a reader of
    /// the prices compares it with the database's, so a stale catalog is never read as if
    /// it were current.
    pub price_fingerprints: BTreeMap<String, String>,
}

/// One dataset in the manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetEntry {
    /// What it holds.
    pub about: String,
    /// `historical` or `runtime`.
    pub database: String,
    /// Columns and their types, in file order.
    pub columns: Vec<(String, String)>,
    /// The partitions, by market then year.
    pub partitions: Vec<Partition>,
}

/// One partition file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// The market.
    pub market: String,
    /// The year.
    pub year: i32,
    /// Path relative to the catalog directory.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file.
    pub sha256: String,
}

impl Manifest {
    /// The manifest in `dir`, or an empty one when there is none yet.
    ///
    /// # Errors
    /// An unreadable or malformed manifest.
    pub fn load(dir: &Path) -> Result<Self, CatalogError> {
        let path = dir.join("manifest.json");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Self {
                    format: FORMAT.into(),
                    ..Self::default()
                });
            }
            Err(source) => return Err(CatalogError::Io { path, source }),
        };
        let m: Self = serde_json::from_str(&text).map_err(|e| CatalogError::Manifest {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if m.format != FORMAT {
            return Err(CatalogError::Manifest {
                path,
                reason: format!("format `{}`, this build reads `{FORMAT}`", m.format),
            });
        }
        Ok(m)
    }

    /// Writes the manifest into `dir` (whole or not at all).
    ///
    /// # Errors
    /// I/O failures.
    pub fn save(&self, dir: &Path) -> Result<(), CatalogError> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| CatalogError::Manifest {
            path: dir.join("manifest.json"),
            reason: e.to_string(),
        })?;
        text.push('\n');
        super::write_atomically(&dir.join("manifest.json"), text.as_bytes())
    }
}

//! Application settings from `config/default.toml`.

use super::error::Issues;
use serde::{Deserialize, Serialize};

/// Everything in `default.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AppConfig {
    /// Where the two databases live.
    pub storage: StorageConfig,
    /// Bulk-load tuning.
    pub ingest: IngestConfig,
    /// Defaults of `pv2 demo`.
    pub demo: DemoConfig,
}

impl AppConfig {
    /// Records every invalid key.
    pub fn validate(&self, issues: &mut Issues) {
        self.storage.validate(issues);
        self.ingest.validate(issues);
        self.demo.validate(issues);
    }
}

/// Database locations. A `sqlite://PATH` URL creates the file when missing; a
/// `postgres://…` URL points at a server. Both may name the same database.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Market data, text, embeddings.
    pub historical_db: String,
    /// Configs, runs, engine outputs, portfolios, backtests.
    pub runtime_db: String,
    /// Connection pool size per database.
    pub max_connections: u32,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            historical_db: "sqlite://data/historical.db".into(),
            runtime_db: "sqlite://data/runtime.db".into(),
            max_connections: 4,
        }
    }
}

impl StorageConfig {
    fn validate(&self, issues: &mut Issues) {
        for (key, url) in [
            ("storage.historical_db", &self.historical_db),
            ("storage.runtime_db", &self.runtime_db),
        ] {
            issues.check(!is_supported_url(url), key, || {
                format!(
                    "`{url}` is not a database URL; use sqlite://PATH or postgres://USER@HOST/DB"
                )
            });
        }
        issues.check(
            !(1..=64).contains(&self.max_connections),
            "storage.max_connections",
            || format!("{} is out of range; use 1..=64", self.max_connections),
        );
    }
}

/// True for the URL schemes the store understands.
pub(crate) fn is_supported_url(url: &str) -> bool {
    ["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|p| url.starts_with(p))
}

/// Bulk-load tuning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Rows per multi-row INSERT on SQLite (8 parameters per row; SQLite allows 32,766).
    pub sqlite_rows_per_statement: usize,
    /// Bytes buffered per `COPY` send on PostgreSQL.
    pub pg_copy_chunk_bytes: usize,
    /// Compute returns, volatility and factors right after each import.
    pub derive_after_import: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            sqlite_rows_per_statement: 4000,
            pg_copy_chunk_bytes: 1 << 20,
            derive_after_import: true,
        }
    }
}

impl IngestConfig {
    fn validate(&self, issues: &mut Issues) {
        issues.check(
            !(1..=4095).contains(&self.sqlite_rows_per_statement),
            "ingest.sqlite_rows_per_statement",
            || {
                format!(
                    "{} is out of range; use 1..=4095 (8 bound values per row, SQLite's limit is 32,766)",
                    self.sqlite_rows_per_statement
                )
            },
        );
        issues.check(
            !(4096..=(256 << 20)).contains(&self.pg_copy_chunk_bytes),
            "ingest.pg_copy_chunk_bytes",
            || {
                format!(
                    "{} is out of range; use 4 KiB ..= 256 MiB",
                    self.pg_copy_chunk_bytes
                )
            },
        );
    }
}

/// Defaults of `pv2 demo` (each can be overridden on the command line).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DemoConfig {
    /// Number of synthetic instruments.
    pub instruments: usize,
    /// Years of daily history.
    pub years: u32,
    /// Generator seed.
    pub seed: u64,
    /// Market the synthetic instruments are listed on.
    pub market: String,
    /// Last date of the synthetic history (`YYYY-MM-DD`); history runs backwards from it.
    pub end_date: String,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            instruments: 500,
            years: 10,
            seed: 7,
            market: "US_EQ".into(),
            end_date: "2025-12-31".into(),
        }
    }
}

impl DemoConfig {
    /// Records every invalid key (the demo re-checks after applying command-line overrides).
    pub fn validate(&self, issues: &mut Issues) {
        issues.check(
            !(1..=100_000).contains(&self.instruments),
            "demo.instruments",
            || format!("{} is out of range; use 1..=100000", self.instruments),
        );
        issues.check(!(1..=60).contains(&self.years), "demo.years", || {
            format!("{} is out of range; use 1..=60", self.years)
        });
        issues.check(self.market.trim().is_empty(), "demo.market", || {
            "must not be empty".into()
        });
        issues.check(
            chrono::NaiveDate::parse_from_str(&self.end_date, "%Y-%m-%d").is_err(),
            "demo.end_date",
            || format!("`{}` is not a date; use YYYY-MM-DD", self.end_date),
        );
    }
}

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
    /// The long-running daemon.
    pub daemon: DaemonConfig,
    /// Restart policies of the supervised actors.
    pub supervision: SupervisionConfig,
    /// The Parquet catalog.
    pub catalog: CatalogConfig,
}

impl AppConfig {
    /// Records every invalid key.
    pub fn validate(&self, issues: &mut Issues) {
        self.storage.validate(issues);
        self.ingest.validate(issues);
        self.demo.validate(issues);
        self.daemon.validate(issues);
        self.supervision.validate(issues);
        self.catalog.validate(issues);
    }
}

/// Where backtests read their price panels from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceSource {
    /// The historical database (the default).
    #[default]
    Database,
    /// The Parquet catalog's `prices` dataset, checked to be current with the database.
    Catalog,
}

/// The Parquet catalog (`pv2 export`) and whether backtests read prices from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CatalogConfig {
    /// The catalog's directory (`pv2 export` writes there unless `--out` says otherwise).
    pub dir: String,
    /// Where backtests read their price panels: `database` or `catalog`.
    pub backtest_prices: PriceSource,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self {
            dir: "data/catalog".into(),
            backtest_prices: PriceSource::Database,
        }
    }
}

impl CatalogConfig {
    fn validate(&self, issues: &mut Issues) {
        issues.check(self.dir.trim().is_empty(), "catalog.dir", || {
            "is empty; name the catalog's directory (e.g. data/catalog)".to_owned()
        });
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
    /// How long a query waits for a connection (reconnecting to a database that went away)
    /// before it fails as `unavailable` and its job is retried by the orchestrator.
    pub acquire_timeout_secs: f64,
    /// Keep the threads that hand work to each other (actors, async workers, SQLite's
    /// workers) on one CPU, computation on all: a hand-off to a thread on another, idle CPU
    /// waits for that CPU to wake (see the README's performance notes).
    pub share_one_cpu: bool,
    /// Where every imported file is archived by the SHA-256 of its bytes before it is
    /// parsed ([`crate::files::RawArchive`]): what `pv2 import replay` reads.
    pub archive_dir: String,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            historical_db: "sqlite://data/historical.db".into(),
            runtime_db: "sqlite://data/runtime.db".into(),
            max_connections: 4,
            acquire_timeout_secs: 30.0,
            share_one_cpu: true,
            archive_dir: "data/archive".into(),
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
            self.archive_dir.trim().is_empty(),
            "storage.archive_dir",
            || {
                "is empty; name the directory imported files are archived in (e.g. data/archive)"
                    .to_owned()
            },
        );
        issues.check(
            !(1..=64).contains(&self.max_connections),
            "storage.max_connections",
            || format!("{} is out of range; use 1..=64", self.max_connections),
        );
        issues.check(
            !(self.acquire_timeout_secs > 0.0 && self.acquire_timeout_secs <= 3600.0),
            "storage.acquire_timeout_secs",
            || {
                format!(
                    "{} is out of range; use (0, 3600]",
                    self.acquire_timeout_secs
                )
            },
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
    /// The last sessions of the history run through the `features` and `profiles` DAGs
    /// (encoders, profiles, joint spaces); 0 skips them.
    pub encode_sessions: usize,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            instruments: 500,
            years: 10,
            seed: 7,
            market: "US_EQ".into(),
            end_date: "2025-12-31".into(),
            encode_sessions: 10,
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
        issues.check(self.encode_sessions > 2520, "demo.encode_sessions", || {
            format!("{} is out of range; use 0..=2520", self.encode_sessions)
        });
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

/// The daemon: where it listens, where it keeps its state, whether its scheduler fires DAGs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonConfig {
    /// HTTP listener (health, readiness, control API). Loopback by default.
    pub listen: String,
    /// Directory for the daemon's state file and generated control token.
    pub state_dir: String,
    /// The DAG an HTTP `POST /runs` without a `dag` field activates.
    pub daily_dag: String,
    /// Whether the scheduler actor fires the DAGs bound to market states and cron
    /// schedules (`[dag.trigger]` in dags.toml). Off: runs start only on request.
    pub scheduler: bool,
    /// Jobs dispatched at once across all runs.
    pub max_concurrent_jobs: usize,
    /// How long SIGTERM waits for running jobs before recording them as interrupted.
    pub drain_timeout_secs: f64,
    /// The token reads need (`Authorization: Bearer …`); empty: reads are open to whoever
    /// can reach the listener (loopback by default). `PV2_READ_TOKEN` overrides it, so it
    /// need not be written in a file. A listener on a non-loopback address without one is
    /// refused at start.
    pub read_token: String,
    /// Minutes after a session's close by which its prices should be in the database; later
    /// than that the freshness watchdog raises an alert and `/readyz` says why.
    pub data_due_minutes: u32,
    /// How often the freshness watchdog looks, in seconds (0: it never looks).
    pub freshness_check_secs: f64,
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8760".into(),
            state_dir: "data".into(),
            daily_dag: "daily".into(),
            scheduler: true,
            max_concurrent_jobs: 4,
            drain_timeout_secs: 8.0,
            read_token: String::new(),
            data_due_minutes: 120,
            freshness_check_secs: 60.0,
        }
    }
}

impl DaemonConfig {
    fn validate(&self, issues: &mut Issues) {
        issues.check(
            self.listen.parse::<std::net::SocketAddr>().is_err(),
            "daemon.listen",
            || {
                format!(
                    "`{}` is not an address; use IP:PORT such as 127.0.0.1:8760",
                    self.listen
                )
            },
        );
        issues.check(self.state_dir.trim().is_empty(), "daemon.state_dir", || {
            "must not be empty".into()
        });
        issues.check(
            !(1..=64).contains(&self.max_concurrent_jobs),
            "daemon.max_concurrent_jobs",
            || format!("{} is out of range; use 1..=64", self.max_concurrent_jobs),
        );
        issues.check(
            !(0.0..=3600.0).contains(&self.drain_timeout_secs),
            "daemon.drain_timeout_secs",
            || format!("{} is out of range; use 0..=3600", self.drain_timeout_secs),
        );
        issues.check(
            self.data_due_minutes > 7 * 24 * 60,
            "daemon.data_due_minutes",
            || {
                format!(
                    "{} is more than a week after the close; use 0..=10080",
                    self.data_due_minutes
                )
            },
        );
        issues.check(
            !(0.0..=86_400.0).contains(&self.freshness_check_secs),
            "daemon.freshness_check_secs",
            || {
                format!(
                    "{} is out of range; use 0 (off) ..= 86400",
                    self.freshness_check_secs
                )
            },
        );
        issues.check(
            !self.read_token.is_empty() && self.read_token.trim().len() < 16,
            "daemon.read_token",
            || "is shorter than 16 characters; use a long random string (or leave it empty)".into(),
        );
    }
}

/// A restart policy: at most `max_restarts` within `window_secs`, waiting `backoff_ms`
/// (doubling per recent restart, capped at `backoff_max_ms`) before each; one more
/// failure escalates (the actor is marked DEGRADED).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestartPolicy {
    /// Restarts allowed within the window.
    pub max_restarts: u32,
    /// The window, in seconds.
    pub window_secs: f64,
    /// Delay before the first restart.
    pub backoff_ms: u64,
    /// Largest delay.
    pub backoff_max_ms: u64,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        Self {
            max_restarts: 3,
            window_secs: 60.0,
            backoff_ms: 100,
            backoff_max_ms: 5000,
        }
    }
}

impl RestartPolicy {
    fn validate(&self, key: &str, issues: &mut Issues) {
        issues.check(
            self.max_restarts > 1000,
            &format!("{key}.max_restarts"),
            || format!("{} is out of range; use 0..=1000", self.max_restarts),
        );
        issues.check(
            !(self.window_secs > 0.0 && self.window_secs <= 86_400.0),
            &format!("{key}.window_secs"),
            || format!("{} is out of range; use (0, 86400]", self.window_secs),
        );
        issues.check(
            self.backoff_ms > self.backoff_max_ms,
            &format!("{key}.backoff_ms"),
            || "exceeds backoff_max_ms".into(),
        );
    }
}

/// The default restart policy (top-level keys of `[supervision]`) and per-actor overrides
/// (`[supervision.actor.<name>]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SupervisionConfig {
    /// Restarts allowed within the window.
    pub max_restarts: u32,
    /// The window, in seconds.
    pub window_secs: f64,
    /// Delay before the first restart.
    pub backoff_ms: u64,
    /// Largest delay.
    pub backoff_max_ms: u64,
    /// Overrides by actor name.
    pub actor: std::collections::BTreeMap<String, RestartPolicy>,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        let p = RestartPolicy::default();
        Self {
            max_restarts: p.max_restarts,
            window_secs: p.window_secs,
            backoff_ms: p.backoff_ms,
            backoff_max_ms: p.backoff_max_ms,
            actor: std::collections::BTreeMap::new(),
        }
    }
}

impl SupervisionConfig {
    /// The policy of `actor`: its override, or the default.
    pub fn policy(&self, actor: &str) -> RestartPolicy {
        self.actor
            .get(actor)
            .cloned()
            .unwrap_or_else(|| self.default_policy())
    }

    fn default_policy(&self) -> RestartPolicy {
        RestartPolicy {
            max_restarts: self.max_restarts,
            window_secs: self.window_secs,
            backoff_ms: self.backoff_ms,
            backoff_max_ms: self.backoff_max_ms,
        }
    }

    fn validate(&self, issues: &mut Issues) {
        self.default_policy().validate("supervision", issues);
        for (name, p) in &self.actor {
            p.validate(&format!("supervision.actor.{name}"), issues);
        }
    }
}

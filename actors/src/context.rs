//! Everything a command needs from its surroundings: configuration from disk and the
//! environment, and the two databases.

use crate::cli::GlobalArgs;
use anyhow::Context as _;
use prometheus::config::{AppConfig, ConfigSource, MarketsConfig, VersionedConfig};
use prometheus::derived::DerivedConfig;
use prometheus::store::{BulkTuning, ReferenceStore, Stores, WriterFault, redact_url};

/// Configuration of one `pv2` invocation.
#[derive(Clone, Debug)]
pub struct Context {
    /// Where configuration comes from (`--config`, `PV2_CONFIG`, `./config` or the built-in
    /// defaults, plus environment overrides).
    pub source: ConfigSource,
    /// `default.toml`, with the command line's database URLs applied.
    pub app: AppConfig,
    /// `markets.toml`.
    pub markets: MarketsConfig,
    /// A fault for the runtime database's batching writer (`--faults writer:abort@N`).
    pub writer_fault: Option<(WriterFault, u64)>,
}

impl Context {
    /// Loads and validates the configuration named by the global options and the process
    /// environment.
    ///
    /// # Errors
    /// Any configuration problem, naming file or variable, key and reason.
    pub fn load(global: &GlobalArgs) -> anyhow::Result<Self> {
        let source = match &global.config {
            Some(dir) => ConfigSource::new(dir, std::env::vars())?,
            None if std::path::Path::new("config").is_dir() => {
                ConfigSource::new("config", std::env::vars())?
            }
            None => ConfigSource::builtin(std::env::vars()),
        };
        source.check_engine_overrides(crate::spine::ACTOR_NAMES)?;
        let mut app = source.load_app()?;
        if let Some(url) = &global.historical_db {
            app.storage.historical_db.clone_from(url);
        }
        if let Some(url) = &global.runtime_db {
            app.storage.runtime_db.clone_from(url);
        }
        let markets = source.load_markets()?;
        let writer_fault =
            crate::spine::faults::writer_fault(global.faults.as_deref().unwrap_or(""))
                .map_err(anyhow::Error::msg)?;
        Ok(Self {
            source,
            app,
            markets,
            writer_fault,
        })
    }

    /// Bulk-write tuning from `[ingest]`.
    pub fn tuning(&self) -> BulkTuning {
        BulkTuning {
            sqlite_rows_per_statement: self.app.ingest.sqlite_rows_per_statement,
            pg_copy_chunk_bytes: self.app.ingest.pg_copy_chunk_bytes,
            ..BulkTuning::default()
        }
    }

    /// Opens (creating and migrating) both databases and registers the configured markets.
    ///
    /// # Errors
    /// Connection, migration or write failures, naming the database.
    pub async fn open_stores(&self) -> anyhow::Result<Stores> {
        let s = &self.app.storage;
        let stores = Stores::open(s, self.tuning()).await.with_context(|| {
            format!(
                "opening databases (historical {}, runtime {})",
                redact_url(&s.historical_db),
                redact_url(&s.runtime_db)
            )
        })?;
        stores
            .historical
            .upsert_markets(&self.markets.to_markets())
            .await
            .context("registering markets")?;
        if let Some((fault, group)) = self.writer_fault
            && !stores.runtime.inject_writer_fault(fault, group)
        {
            anyhow::bail!(
                "the writer fault needs a SQLite runtime database file: {} has no batching writer",
                redact_url(&s.runtime_db)
            );
        }
        Ok(stores)
    }

    /// The derived-data job's configuration.
    ///
    /// # Errors
    /// Validation failures of `engines/derived.toml` or its overrides.
    pub fn derived_config(&self) -> anyhow::Result<VersionedConfig<DerivedConfig>> {
        Ok(self.source.load_engine::<DerivedConfig>()?)
    }
}

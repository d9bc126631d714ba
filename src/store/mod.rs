//! Storage: the historical and runtime databases behind traits, one per concern.
//!
//! - [`HistoricalDb`] — reference data, daily prices, derived series, news, ingest log —
//!   implements [`ReferenceStore`], [`PriceStore`], [`DerivedStore`], [`NewsStore`],
//!   [`IngestLog`], [`SyntheticTruthStore`], [`EmbeddingStore`] and [`FundamentalsStore`].
//! - [`RuntimeDb`] — configs, runs, events, scheduler — implements [`ConfigStore`],
//!   [`RunStore`], [`EventLog`], [`ScheduleStore`], [`ProfileStore`], [`WorldStateStore`],
//!   [`DecisionStore`], [`BacktestStore`], [`KronosStore`], [`TradingStore`] and
//!   [`ExecutionStore`] (the kill switch and the execution ledger).
//!
//! Each database opens on SQLite (`sqlite://PATH`, the embedded default) or PostgreSQL
//! (`postgres://…`), migrating itself to the latest schema on open. Queries are written once
//! and run on either backend; bulk loads are backend-specific ([`bulk`]). Every read that can
//! feed a decision takes an `as_of` bound and never returns anything dated after it. Every
//! write is an upsert on the table's natural key, so repeating it changes nothing.
//! [`compare`] diffs two databases output by output (fault drills, soak tests).

pub mod admin;
mod backtests;
pub(crate) mod bulk;
pub mod compare;
pub(crate) mod configs;
mod decisions;
mod derived;
mod embeddings;
mod error;
mod events;
mod execution;
mod experiments;
mod fundamentals;
mod ingest_log;
mod kronos;
mod migrate;
mod news;
pub(crate) mod pool;
pub(crate) mod prices;
mod profiles;
mod read;
mod reference;
mod runs;
mod schedule;
mod shadows;
mod statement;
mod synthetic_truth;
mod trading;
mod tx;
mod world_state;
mod writer;

pub use backtests::{BacktestRun, BacktestStore, StoredDay};
pub use bulk::BulkTuning;
pub use configs::{ConfigChange, ConfigStore, StoredConfig};
pub use decisions::{AssessmentRun, DecisionStore, PastScoreRow, StoredScores, StoredTarget};
pub use derived::{DerivedSlice, DerivedStore};
pub use embeddings::{
    ArticleVector, EmbeddingStore, EntityVector, IssuerTextVector, JointVector, StoredModel,
    blob_to_vector, vector_to_blob,
};
pub use error::{StoreError, driver_error_class, redact_url};
pub use events::{ActorEvent, EventLog};
pub use execution::{ExecutionStore, OrderUpdate};
pub use experiments::{ExperimentEnd, ExperimentRecord, ExperimentStore};
pub use fundamentals::FundamentalsStore;
pub use ingest_log::{IngestBatch, IngestLog, IngestReject, Provenance};
pub use kronos::{
    DecisionRecord, FreezeState, KronosAudit, KronosStore, ProposalRecord, ProposalState,
    SHADOW_DECISION, StoredOutcome, TransitionError,
};
pub use migrate::{Schema, migrate};
pub use news::{NewsItem, NewsStore};
pub use pool::{Backend, Pool};
pub use prices::{PriceStore, PriceWriteSummary, SessionPrice};
pub use profiles::{ProfileRecord, ProfileStore};
pub use reference::ReferenceStore;
pub use runs::{DagRunRecord, JobRunRecord, RunRecord, RunStore};
pub use schedule::{Activation, ScheduleStore};
pub use shadows::{ShadowRun, ShadowSpec, ShadowStore};
pub use synthetic_truth::SyntheticTruthStore;
pub use trading::{TradingModeChange, TradingStore};
pub use world_state::{Stamp, StoredScenarioSet, TransitionRow, WorldOutput, WorldStateStore};
pub use writer::{WriterFault, on_checkpointer_start};

use crate::config::StorageConfig;
use std::sync::Arc;

/// The historical database: market data and everything derived from it.
#[derive(Clone, Debug)]
pub struct HistoricalDb {
    pool: Pool,
    tuning: BulkTuning,
    /// Each session's embeddings go through here ([`writer`]).
    writes: writer::Writes,
    /// Small reads without sqlx's thread hand-off on a SQLite file ([`read`]).
    direct: Option<Arc<read::DirectReads>>,
}

impl HistoricalDb {
    /// Connects to `url` and migrates the historical schema (idempotent).
    ///
    /// # Errors
    /// Connection or migration failures.
    pub async fn open(
        url: &str,
        max_connections: u32,
        tuning: BulkTuning,
    ) -> Result<Self, StoreError> {
        Self::on(Pool::connect(url, max_connections).await?, tuning).await
    }

    /// Migrates the historical schema on an open pool.
    async fn on(pool: Pool, tuning: BulkTuning) -> Result<Self, StoreError> {
        migrate(&pool, Schema::Historical).await?;
        let direct = read::DirectReads::for_pool(&pool);
        let writes = writer::Writes::for_pool(&pool);
        Ok(Self {
            pool,
            tuning,
            writes,
            direct,
        })
    }

    /// This database's small reads ([`read`]).
    fn reads(&self) -> read::Reads<'_> {
        read::Reads::new(&self.pool, self.direct.as_deref())
    }

    /// The underlying pool (for backend-specific tools such as benchmarks).
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Which backend this database lives on.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }
}

/// The runtime database: configurations, runs, events and (later) engine outputs.
#[derive(Clone, Debug)]
pub struct RuntimeDb {
    pool: Pool,
    /// Engine outputs, run records and events go through here ([`writer`]).
    writes: writer::Writes,
    /// Config versions read by id: a version is never changed once stored, and every job
    /// of every session reads its own (seven reads a backfilled session).
    configs: configs::ConfigCache,
    /// Small reads without sqlx's thread hand-off on a SQLite file ([`read`]).
    direct: Option<Arc<read::DirectReads>>,
}

impl RuntimeDb {
    /// Connects to `url` and migrates the runtime schema (idempotent).
    ///
    /// # Errors
    /// Connection or migration failures.
    pub async fn open(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::on(Pool::connect(url, max_connections).await?).await
    }

    /// Migrates the runtime schema on an open pool.
    async fn on(pool: Pool) -> Result<Self, StoreError> {
        migrate(&pool, Schema::Runtime).await?;
        let writes = writer::Writes::for_pool(&pool);
        let direct = read::DirectReads::for_pool(&pool);
        Ok(Self {
            pool,
            writes,
            configs: configs::ConfigCache::default(),
            direct,
        })
    }

    /// This database's small reads ([`read`]).
    fn reads(&self) -> read::Reads<'_> {
        read::Reads::new(&self.pool, self.direct.as_deref())
    }

    /// Arms a fault in the batching writer, striking its `group`-th group from now after
    /// the group's statements ran and before its commit: the drill of the writer's
    /// promise (`PV2_FAULTS=writer:abort@N`). Returns false when the database has no
    /// batching writer (PostgreSQL, in-memory SQLite).
    pub fn inject_writer_fault(&self, fault: WriterFault, group: u64) -> bool {
        self.writes.inject(fault, group)
    }

    /// Commits what the batching writer has queued and stops it; later writes through it
    /// fail. The pool stays open for reads.
    pub async fn stop_writer(&self) {
        self.writes.stop().await;
    }

    /// The underlying pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Which backend this database lives on.
    pub fn backend(&self) -> Backend {
        self.pool.backend()
    }
}

/// Both databases, opened from one storage configuration.
#[derive(Clone, Debug)]
pub struct Stores {
    /// Market data.
    pub historical: HistoricalDb,
    /// Configs, runs, outputs.
    pub runtime: RuntimeDb,
    /// The raw-file archive (`storage.archive_dir`): every imported file, by SHA-256.
    pub archive: crate::files::RawArchive,
}

impl Stores {
    /// Opens (creating and migrating as needed) both databases; the archive directory is
    /// created on its first write.
    ///
    /// # Errors
    /// Connection or migration failures of either database.
    pub async fn open(storage: &StorageConfig, tuning: BulkTuning) -> Result<Self, StoreError> {
        let wait = std::time::Duration::from_secs_f64(storage.acquire_timeout_secs);
        let n = storage.max_connections;
        let historical = HistoricalDb::on(
            Pool::connect_with(&storage.historical_db, n, wait).await?,
            tuning,
        )
        .await?;
        let runtime =
            RuntimeDb::on(Pool::connect_with(&storage.runtime_db, n, wait).await?).await?;
        Ok(Self {
            historical,
            runtime,
            archive: crate::files::RawArchive::new(&storage.archive_dir),
        })
    }

    /// Closes both pools.
    pub async fn close(&self) {
        self.runtime.writes.stop().await;
        self.historical.writes.stop().await;
        self.historical.pool.close().await;
        self.runtime.pool.close().await;
    }
}

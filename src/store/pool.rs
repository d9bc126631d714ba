//! Connections to either backend behind one type.
//!
//! Most SQL is written once with `$N` placeholders, which both PostgreSQL and SQLite accept,
//! and runs on whichever pool is open via [`on_pool!`]; only bulk loading and schema
//! migration differ per backend and live in their own modules.

use super::error::{StoreError, redact_url};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// The settings of every connection to a SQLite file, whoever drives it: the pool's, the
/// direct reads' (`read.rs`, which then take a smaller page cache) and the batching
/// writer's (`writer.rs`), so that all of them check foreign keys, sync, cache and wait
/// for a lock alike.
pub(crate) const SQLITE_PRAGMAS: [(&str, &str); 6] = [
    ("foreign_keys", "ON"),
    ("synchronous", "NORMAL"),
    // How long a statement waits for a lock another connection holds before it fails as
    // busy (milliseconds).
    ("busy_timeout", "60000"),
    ("cache_size", "-65536"),
    ("temp_store", "memory"),
    // No memory map: a reader drops its whole map at the first read after any other
    // connection's commit (SQLite re-maps from scratch), and each unmap stops every CPU
    // the process runs on to flush its TLB — 4% of a backfill's samples. Reads through the
    // page cache measured 9% faster on the backfill and no slower on the 20-year backtest
    // (its prices are read once into the panel cache).
    ("mmap_size", "0"),
];

/// Pages of write-ahead log after which a commit checkpoints it (64 MB rather than
/// SQLite's 4 MB: each checkpoint syncs the database file, and the engines write a few MB
/// per session). The batching writer turns this off when its checkpointer thread runs.
pub(crate) const WAL_AUTOCHECKPOINT: &str = "16384";

/// Which database engine a pool talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Lower-case name for messages and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// An open connection pool on one of the two backends.
#[derive(Clone, Debug)]
pub enum Pool {
    /// SQLite pool (WAL mode, foreign keys on).
    Sqlite(SqlitePool),
    /// PostgreSQL pool.
    Postgres(PgPool),
}

/// Runs `$body` with `$p` bound to the concrete pool, once per backend arm, so SQL written
/// once (with `$N` placeholders) serves both.
macro_rules! on_pool {
    ($pool:expr, $p:ident => $body:expr) => {
        match $pool {
            $crate::store::pool::Pool::Sqlite($p) => $body,
            $crate::store::pool::Pool::Postgres($p) => $body,
        }
    };
}
pub(crate) use on_pool;

/// How many rows of `table` are in each `state`: the `/metrics` gauges of queues kept as
/// state machines (Kronos's experiments and proposals).
pub(crate) async fn counts_by_state(
    pool: &Pool,
    table: &'static str,
) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
    let sql = format!("SELECT state, COUNT(*) FROM {table} GROUP BY state");
    let rows: Vec<(String, i64)> = on_pool!(pool, p => sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(p)
        .await
        .map_err(StoreError::query("count rows by state"))?);
    Ok(rows
        .into_iter()
        .map(|(s, n)| (s, u64::try_from(n).unwrap_or(0)))
        .collect())
}

/// `$first, $first+1, …` for `n` bind parameters: the list of an `IN (…)` clause whose
/// length is known only at run time (a batch of instrument ids).
pub(crate) fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Pool {
    /// Opens a pool for `url` (`sqlite://PATH`, `sqlite::memory:`, `postgres://…`).
    /// A SQLite file and its parent directories are created when missing.
    ///
    /// # Errors
    /// [`StoreError::UnsupportedUrl`] for other schemes, [`StoreError::Connect`] when the
    /// database cannot be opened.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        Self::connect_with(url, max_connections, Duration::from_secs(30)).await
    }

    /// As [`Pool::connect`], with how long a query waits for a connection (reconnecting to
    /// a server that went away) before failing.
    ///
    /// # Errors
    /// As [`Pool::connect`].
    pub async fn connect_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        let connect_err = |source| StoreError::Connect {
            url: redact_url(url),
            source,
        };
        if url.starts_with("sqlite:") {
            let opts = SQLITE_PRAGMAS
                .iter()
                .fold(
                    SqliteConnectOptions::from_str(url)
                        .map_err(connect_err)?
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal),
                    |opts, &(name, value)| opts.pragma(name, value),
                )
                .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT)
                .statement_cache_capacity(super::bulk::STATEMENT_CACHE)
                .row_buffer_size(8192)
                .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
            let parent = opts
                .get_filename()
                .parent()
                .filter(|p| !p.as_os_str().is_empty());
            if let Some(parent) = parent.filter(|p| !p.exists()) {
                std::fs::create_dir_all(parent).map_err(|e| connect_err(sqlx::Error::Io(e)))?;
            }
            let pool = SqlitePoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                // The packed price reads' aggregate (`prices::packed_sqlite`).
                .after_connect(|conn, _| Box::pin(prometheus_sqlite_ext::register_on(conn)))
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Self::Sqlite(pool))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(connect_err)?
                .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
            let pool = PgPoolOptions::new()
                .max_connections(max_connections)
                .acquire_timeout(acquire_timeout)
                .connect_with(opts)
                .await
                .map_err(connect_err)?;
            Ok(Self::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }

    /// The backend behind this pool.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// Closes every connection (waits for checked-out ones to return).
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await);
    }
}

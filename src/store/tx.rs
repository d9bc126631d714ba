//! Opening write transactions the right way for each backend.
//!
//! SQLite's default deferred transaction takes the write lock only at its first write; two
//! such transactions that both read first then fail with `SQLITE_BUSY` instead of waiting.
//! `BEGIN IMMEDIATE` takes the lock up front. Writers of one process then also queue on an
//! in-process gate per database file before they ask SQLite: SQLite's own busy handler
//! waits by sleeping 1, 2, 5 … 100 ms between tries, and with a backtest's dates in flight
//! those sleeps added up to a third of its wall time. The gate hands the lock over the
//! moment the previous writer commits; other processes still queue on the busy timeout.
//! PostgreSQL needs nothing special.

use sqlx::{Database, Postgres, Sqlite, Transaction};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;
use tokio::sync::OwnedMutexGuard;

/// How long a writer waits for the in-process gate (SQLite's busy timeout, likewise).
const GATE_TIMEOUT: Duration = Duration::from_secs(60);

/// One gate per SQLite database file, shared by every pool of the process.
static GATES: LazyLock<Mutex<HashMap<PathBuf, Arc<tokio::sync::Mutex<()>>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A write transaction; on SQLite it also holds the file's in-process write gate until it
/// commits or is dropped. Derefs to the connection, like a [`Transaction`].
pub(crate) struct WriteTx<DB: Database> {
    tx: Transaction<'static, DB>,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl<DB: Database> WriteTx<DB> {
    /// Commits the transaction (and then releases the gate).
    pub(crate) async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }

    /// Rolls the transaction back (and then releases the gate).
    pub(crate) async fn rollback(self) -> Result<(), sqlx::Error> {
        self.tx.rollback().await
    }
}

impl<DB: Database> Deref for WriteTx<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl<DB: Database> DerefMut for WriteTx<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

/// A pool that can open a transaction meant to write.
pub(crate) trait BeginWrite {
    type Db: Database;
    async fn begin_write(&self) -> Result<WriteTx<Self::Db>, sqlx::Error>;
}

impl BeginWrite for sqlx::Pool<Sqlite> {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<WriteTx<Sqlite>, sqlx::Error> {
        let file = self.connect_options().get_filename().to_path_buf();
        if file.as_os_str() == ":memory:" {
            // Each in-memory database is its own; nothing to share a turn with.
            return Ok(WriteTx {
                tx: self.begin_with("BEGIN IMMEDIATE").await?,
                _gate: None,
            });
        }
        let gate = {
            let mut gates = GATES
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(gates.entry(file).or_default())
        };
        let guard = tokio::time::timeout(GATE_TIMEOUT, gate.lock_owned())
            .await
            .map_err(|_| {
                sqlx::Error::Protocol(format!(
                    "no write turn on the SQLite database within {}s: another writer of this \
                     process holds it",
                    GATE_TIMEOUT.as_secs()
                ))
            })?;
        Ok(WriteTx {
            tx: self.begin_with("BEGIN IMMEDIATE").await?,
            _gate: Some(guard),
        })
    }
}

impl BeginWrite for sqlx::Pool<Postgres> {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<WriteTx<Postgres>, sqlx::Error> {
        Ok(WriteTx {
            tx: self.begin().await?,
            _gate: None,
        })
    }
}

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

use super::statement::Statement;
use sqlx::pool::PoolConnection;
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

impl WriteTx<Postgres> {
    /// Runs one statement of a write batch: on PostgreSQL a batch is this transaction and
    /// each statement runs as it is added (see [`super::writer`]).
    pub(crate) async fn run(&mut self, statement: Statement) -> Result<(), sqlx::Error> {
        statement
            .to_postgres()
            .execute(&mut *self.tx)
            .await
            .map(|_| ())
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

/// A pooled connection holding the file's write turn (on SQLite) for autocommit writes.
/// Derefs to the connection.
pub(crate) struct WriteConn<DB: Database> {
    conn: PoolConnection<DB>,
    _gate: Option<OwnedMutexGuard<()>>,
}

impl<DB: Database> Deref for WriteConn<DB> {
    type Target = DB::Connection;
    fn deref(&self) -> &Self::Target {
        &self.conn
    }
}

impl<DB: Database> DerefMut for WriteConn<DB> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.conn
    }
}

/// A pool that can open a transaction meant to write.
pub(crate) trait BeginWrite {
    type Db: Database;
    async fn begin_write(&self) -> Result<WriteTx<Self::Db>, sqlx::Error>;
    /// A connection for one write statement outside a transaction (it commits on its
    /// own), holding the write turn as [`BeginWrite::begin_write`] does: without it, a
    /// lone insert that meets another writer of this process falls into SQLite's busy
    /// handler, which sleeps a millisecond or more before it tries again.
    async fn write_conn(&self) -> Result<WriteConn<Self::Db>, sqlx::Error>;
}

/// Waits for this process's write turn on the SQLite file of `pool` (`None` for an
/// in-memory database, which is its own).
async fn write_turn(pool: &sqlx::Pool<Sqlite>) -> Result<Option<OwnedMutexGuard<()>>, sqlx::Error> {
    write_turn_on(pool.connect_options().get_filename()).await
}

/// Whether a SQLite pool's file name is an in-memory database (`:memory:`, or the shared
/// `file:sqlx-in-memory-N` name sqlx gives `sqlite::memory:`), which no other connection
/// of another pool can open.
pub(crate) fn in_memory(file: &std::path::Path) -> bool {
    let name = file.to_string_lossy();
    name == ":memory:" || (name.starts_with("file:") && name.contains("memory"))
}

/// Waits for this process's write turn on the SQLite database `file` (`None` for
/// `:memory:`): the batching writer takes it for each group it commits.
pub(crate) async fn write_turn_on(
    file: &std::path::Path,
) -> Result<Option<OwnedMutexGuard<()>>, sqlx::Error> {
    if in_memory(file) {
        return Ok(None);
    }
    let file = file.to_path_buf();
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
    Ok(Some(guard))
}

impl BeginWrite for sqlx::Pool<Sqlite> {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<WriteTx<Sqlite>, sqlx::Error> {
        let gate = write_turn(self).await?;
        Ok(WriteTx {
            tx: self.begin_with("BEGIN IMMEDIATE").await?,
            _gate: gate,
        })
    }

    async fn write_conn(&self) -> Result<WriteConn<Sqlite>, sqlx::Error> {
        let gate = write_turn(self).await?;
        Ok(WriteConn {
            conn: self.acquire().await?,
            _gate: gate,
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

    async fn write_conn(&self) -> Result<WriteConn<Postgres>, sqlx::Error> {
        Ok(WriteConn {
            conn: self.acquire().await?,
            _gate: None,
        })
    }
}

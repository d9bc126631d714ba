//! Opening write transactions the right way for each backend.
//!
//! SQLite's default deferred transaction takes the write lock only at its first write; two
//! such transactions that both read first then fail with `SQLITE_BUSY` instead of waiting.
//! `BEGIN IMMEDIATE` takes the lock up front, so concurrent writers queue on the busy
//! timeout. PostgreSQL needs nothing special.

use sqlx::{Database, Postgres, Sqlite, Transaction};

/// A pool that can open a transaction meant to write.
pub(crate) trait BeginWrite {
    type Db: Database;
    async fn begin_write(&self) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

impl BeginWrite for sqlx::Pool<Sqlite> {
    type Db = Sqlite;
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for sqlx::Pool<Postgres> {
    type Db = Postgres;
    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.begin().await
    }
}

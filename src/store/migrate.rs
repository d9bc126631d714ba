//! Schema migrations for both logical databases on both backends.
//!
//! Each (database, backend) pair has its own migration directory and its own bookkeeping
//! table, so the historical and runtime schemas can share one PostgreSQL database (or one
//! SQLite file) without their version numbers colliding. Migrations are embedded in the
//! binary; `pv2 init` works from any directory.

use super::error::StoreError;
use super::pool::Pool;
use sqlx::migrate::Migrator;

static SQLITE_HISTORICAL: Migrator = sqlx::migrate!("migrations/sqlite/historical");
static SQLITE_RUNTIME: Migrator = sqlx::migrate!("migrations/sqlite/runtime");
static POSTGRES_HISTORICAL: Migrator = sqlx::migrate!("migrations/postgres/historical");
static POSTGRES_RUNTIME: Migrator = sqlx::migrate!("migrations/postgres/runtime");

/// Which logical database a pool holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    /// Market data, text, embeddings, ingest bookkeeping.
    Historical,
    /// Configs, runs, events, engine outputs.
    Runtime,
}

impl Schema {
    fn name(self) -> &'static str {
        match self {
            Self::Historical => "historical",
            Self::Runtime => "runtime",
        }
    }
}

/// Brings `pool` to the latest schema version of `schema`. Idempotent.
///
/// # Errors
/// [`StoreError::Migrate`] when a migration fails or the database holds a version this
/// binary does not know (a newer `pv2` migrated it).
pub async fn migrate(pool: &Pool, schema: Schema) -> Result<(), StoreError> {
    let template = match (pool, schema) {
        (Pool::Sqlite(_), Schema::Historical) => &SQLITE_HISTORICAL,
        (Pool::Sqlite(_), Schema::Runtime) => &SQLITE_RUNTIME,
        (Pool::Postgres(_), Schema::Historical) => &POSTGRES_HISTORICAL,
        (Pool::Postgres(_), Schema::Runtime) => &POSTGRES_RUNTIME,
    };
    let mut migrator = Migrator::with_migrations(template.iter().cloned().collect());
    migrator.dangerous_set_table_name(format!("_pv2_{}_migrations", schema.name()));
    let err = |source| StoreError::Migrate {
        db: schema.name(),
        source,
    };
    match pool {
        Pool::Sqlite(p) => migrator.run(p).await.map_err(err),
        Pool::Postgres(p) => migrator.run(p).await.map_err(err),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The five per-instrument output tables with one row each, as runtime migration 0012
    /// left them.
    const ROWS: &[&str] = &[
        "INSERT INTO stability_vectors VALUES ('US_EQ:A', '2024-01-02', 'c1', 'US_EQ', 0.5, '{}', 'r1')",
        "INSERT INTO soft_target_classes VALUES ('US_EQ:A', '2024-01-02', 'c1', 'US_EQ', 40.0, 'STABLE', 'STABLE', 'CARRY', 'r1')",
        "INSERT INTO fragility_measures VALUES ('US_EQ:A', '2024-01-02', 'c1', 'US_EQ', 'scn-1', 0.2, 'NONE', '{}', 'r1')",
        "INSERT INTO instrument_scores (strategy_id, instrument_id, as_of_date, horizon_days, config_id, market_id, run_id, expected_return, score, confidence, label, prediction) VALUES ('s', 'US_EQ:A', '2024-01-02', 21, 'c1', 'US_EQ', 'r1', 0.01, 0.3, 0.5, 'BUY', 0.01)",
        "INSERT INTO profiles VALUES ('I1', '2024-01-02', 'c1', 'US_EQ', '{}', '{}', 'r1')",
    ];

    /// Runtime migration 0013 rebuilds those tables under keys that start with the date: the
    /// rows a database held are all there afterwards, the new key is in force, and it is as
    /// unique as the old one.
    #[tokio::test]
    async fn keying_outputs_by_date_keeps_every_row_and_uniqueness() {
        let pool = Pool::connect("sqlite::memory:", 1).await.unwrap();
        let Pool::Sqlite(p) = &pool else {
            unreachable!()
        };
        let before = SQLITE_RUNTIME
            .iter()
            .filter(|m| m.version < 13)
            .cloned()
            .collect();
        let mut migrator = Migrator::with_migrations(before);
        migrator.dangerous_set_table_name("_pv2_runtime_migrations");
        migrator.run(p).await.unwrap();
        for row in ROWS {
            sqlx::query(*row).execute(p).await.unwrap();
        }
        migrate(&pool, Schema::Runtime).await.unwrap();
        for (table, key) in [
            ("stability_vectors", "as_of_date,config_id,instrument_id"),
            ("soft_target_classes", "as_of_date,config_id,instrument_id"),
            ("fragility_measures", "as_of_date,config_id,instrument_id"),
            (
                "instrument_scores",
                "strategy_id,as_of_date,config_id,instrument_id,horizon_days",
            ),
            ("profiles", "as_of_date,config_id,issuer_id"),
        ] {
            let sql = format!("SELECT COUNT(*) FROM {table}");
            let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap();
            assert_eq!(n, 1, "{table} lost its row");
            let sql = format!(
                "SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info(\
                 (SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = '{table}' \
                 AND name LIKE 'sqlite_autoindex%')) ORDER BY seqno)"
            );
            let (columns,): (String,) = sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .fetch_one(p)
                .await
                .unwrap();
            assert_eq!(columns, key, "{table}'s key");
        }
        for row in ROWS {
            assert!(
                sqlx::query(*row).execute(p).await.is_err(),
                "a second copy was accepted: {row}"
            );
        }
    }
}

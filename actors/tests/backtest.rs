//! Backtests through the real actors and databases: after the daily DAG has loaded two
//! years of a synthetic market, `pv2 backtest` drives the strategies' engines over their
//! rebalance dates. Checks the portfolio invariants on every target, recomputes the equity
//! curve from the stored fills and prices, reproduces a backtest byte for byte, compares
//! minimum variance with equal weight, and runs on imported closes-only data.

mod common;

use common::pv2_ok as pv2;
use common::rows;
use common::{Env, in_system};
use prometheus::store::Pool;
use serde_json::Value;
use std::collections::BTreeMap;

const DAGS: &str = r#"
[[dag]]
id = "daily"
markets = ["US_EQ"]
[dag.trigger]
on = "POST_CLOSE"
catch_up = "all"
[[dag.job]]
id = "ingest"
actor = "ingest"
timeout_secs = 120
[[dag.job]]
id = "derive"
actor = "derived"
depends_on = ["ingest"]
timeout_secs = 120
"#;

/// An environment with the repository's strategies and small scenario sets.
fn env(ingest: &str) -> Env {
    let env = Env::with(None, DAGS, "");
    let cfg = env.config_dir();
    std::fs::write(cfg.join("engines/ingest.toml"), ingest).unwrap();
    std::fs::write(
        cfg.join("engines/scenarios.toml"),
        "stored_paths = 2\n[params]\npaths = 200\nhorizon = 10\n",
    )
    .unwrap();
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/strategies");
    std::fs::create_dir_all(cfg.join("strategies")).unwrap();
    for f in std::fs::read_dir(&repo).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, cfg.join("strategies").join(f.file_name().unwrap())).unwrap();
    }
    env
}

fn backtest(env: &Env, strategy: &str, from: &str, to: &str) -> Value {
    let out = pv2(
        env,
        &[
            "backtest",
            "--strategy",
            strategy,
            "--from",
            from,
            "--to",
            to,
            "--format",
            "json",
        ],
    );
    serde_json::from_str(&out).unwrap()
}

type Weights = BTreeMap<String, BTreeMap<String, f64>>;

/// Every target of a portfolio id, by date then instrument.
async fn targets(r: &Pool, portfolio: &str) -> Weights {
    let rows: Vec<(String, String, f64)> = rows!(
        r,
        format!(
            "SELECT CAST(as_of_date AS TEXT), instrument_id, weight FROM target_portfolios \
             WHERE portfolio_id = '{portfolio}' ORDER BY as_of_date, instrument_id"
        ),
        (String, String, f64)
    );
    let mut out: Weights = BTreeMap::new();
    for (d, id, w) in rows {
        out.entry(d).or_default().insert(id, w);
    }
    out
}

/// Checks the portfolio invariants of every target of `portfolio` against its universe;
/// the per-name cap is `max(max_weight, per_name / N)` with N the day's eligible names.
async fn check_invariants(
    r: &Pool,
    portfolio: &str,
    (max_weight, per_name): (f64, f64),
    sector_cap: f64,
    turnover: f64,
) {
    let targets = targets(r, portfolio).await;
    assert!(targets.len() >= 10, "{} targets", targets.len());
    let members: Vec<(String, String, String, String)> = rows!(
        r,
        format!(
            "SELECT CAST(as_of_date AS TEXT), instrument_id, tier, sector FROM universe_members \
             WHERE universe_id = '{portfolio}'"
        ),
        (String, String, String, String)
    );
    let mut universe: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
    for (d, id, tier, sector) in members {
        universe.insert((d, id), (tier, sector));
    }
    let mut previous: Option<&BTreeMap<String, f64>> = None;
    for (date, weights) in &targets {
        let eligible_names = universe
            .iter()
            .filter(|((d, _), (tier, _))| d == date && tier != "EXCLUDED")
            .count();
        let max_weight = max_weight.max(per_name / eligible_names as f64);
        let sum: f64 = weights.values().sum();
        assert!((sum - 1.0).abs() <= 1e-9, "{date}: weights sum to {sum}");
        let mut sectors: BTreeMap<&str, f64> = BTreeMap::new();
        for (id, w) in weights {
            assert!(
                *w >= 0.0 && *w <= max_weight + 1e-9,
                "{date} {id}: weight {w}"
            );
            let (tier, sector) = universe
                .get(&(date.clone(), id.clone()))
                .unwrap_or_else(|| panic!("{date} {id}: held but not in the universe"));
            assert_ne!(tier, "EXCLUDED", "{date} {id}: weight for an excluded name");
            *sectors.entry(sector.as_str()).or_default() += w;
        }
        for (s, w) in sectors {
            assert!(w <= sector_cap + 1e-9, "{date} sector {s}: {w}");
        }
        if let Some(prev) = previous {
            // Turnover over the names still eligible, within the limit plus the weight that
            // names leaving the universe freed up.
            let eligible = |id: &String| {
                universe
                    .get(&(date.clone(), id.clone()))
                    .is_some_and(|(t, _)| t != "EXCLUDED")
            };
            let forced: f64 = prev
                .iter()
                .filter(|(id, _)| !eligible(id))
                .map(|(_, w)| w.abs())
                .sum();
            let mut names: Vec<&String> = weights.keys().chain(prev.keys()).collect();
            names.sort();
            names.dedup();
            let t: f64 = names
                .into_iter()
                .filter(|id| eligible(id))
                .map(|id| {
                    (weights.get(id).copied().unwrap_or(0.0) - prev.get(id).copied().unwrap_or(0.0))
                        .abs()
                })
                .sum();
            assert!(
                t <= turnover + forced + 1e-9,
                "{date}: turnover {t}, forced {forced}"
            );
        }
        previous = Some(weights);
    }
}

/// Rebuilds the equity curve from the stored fills and adjusted closes and compares it
/// with the stored one to 1e-9 (relative).
async fn check_equity(
    r: &Pool,
    h: &Pool,
    backtest_id: &str,
    capital: f64,
    slippage_bp: f64,
    commission_bp: f64,
) {
    let fills: Vec<(String, String, f64, f64, f64, f64)> = rows!(
        r,
        format!(
            "SELECT CAST(trade_date AS TEXT), instrument_id, shares, price, commission, notional FROM backtest_trades \
             WHERE backtest_id = '{backtest_id}' ORDER BY trade_date, instrument_id"
        ),
        (String, String, f64, f64, f64, f64)
    );
    assert!(!fills.is_empty());
    let days: Vec<(String, f64, f64)> = rows!(
        r,
        format!(
            "SELECT CAST(trade_date AS TEXT), equity, cash FROM backtest_daily \
             WHERE backtest_id = '{backtest_id}' ORDER BY trade_date"
        ),
        (String, f64, f64)
    );
    type Bar = (String, String, f64, Option<f64>, Option<f64>);
    let closes: Vec<Bar> = rows!(
        h,
        "SELECT instrument_id, CAST(trade_date AS TEXT), adj_close, open, close FROM prices_daily",
        Bar
    );
    let mut close: BTreeMap<(String, String), f64> = BTreeMap::new();
    let mut reference: BTreeMap<(String, String), f64> = BTreeMap::new();
    for (id, d, adj, open, raw) in closes {
        let factor = raw.filter(|c| *c > 0.0).map_or(1.0, |c| adj / c);
        reference.insert((id.clone(), d.clone()), open.map_or(adj, |o| o * factor));
        close.insert((id, d), adj);
    }
    let mut cash = capital;
    let mut positions: BTreeMap<String, f64> = BTreeMap::new();
    let mut last: BTreeMap<String, f64> = BTreeMap::new();
    let mut k = 0;
    for (date, equity, stored_cash) in &days {
        while k < fills.len() && &fills[k].0 == date {
            let (_, id, shares, price, commission, notional) = &fills[k];
            // Independent cost model: the fill price is the reference price moved against
            // the trade by the slippage, and the commission is a share of the notional.
            let refp = reference[&(id.clone(), date.clone())];
            let expected = refp * (1.0 + shares.signum() * slippage_bp / 1e4);
            assert!(
                (price - expected).abs() <= 1e-9 * expected,
                "{date} {id}: fill price"
            );
            assert!((commission - notional * commission_bp / 1e4).abs() <= 1e-9 * notional);
            assert!((notional - shares.abs() * price).abs() <= 1e-9 * notional);
            cash -= shares * price + commission;
            *positions.entry(id.clone()).or_default() += shares;
            k += 1;
        }
        for id in positions.keys() {
            if let Some(c) = close.get(&(id.clone(), date.clone())) {
                last.insert(id.clone(), *c);
            }
        }
        let value: f64 = positions.iter().map(|(id, s)| s * last[id]).sum();
        let rebuilt = cash + value;
        assert!(
            (rebuilt - equity).abs() <= 1e-9 * equity.abs(),
            "{date}: equity {equity} vs rebuilt {rebuilt}"
        );
        assert!((cash - stored_cash).abs() <= 1e-9 * capital, "{date}: cash");
    }
    assert_eq!(k, fills.len(), "every fill falls on a stored session");
}

#[test]
fn backtests_hold_the_invariants_reproduce_and_rank_min_variance_below_equal_weight() {
    let env = env(
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 60\nseed = 21\nhistory_start = \"2021-01-04\"\n",
    );
    pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2021-01-04",
            "--to",
            "2022-12-30",
            "--dag",
            "daily",
        ],
    );
    let (from, to) = ("2022-01-03", "2022-12-30");
    let core = backtest(&env, "core_long_eq", from, to);
    let id = core["backtest_id"].as_str().unwrap().to_owned();
    // The first session, then every month end but the last (December 30 ends the range:
    // an order from it could not fill inside it).
    assert_eq!(core["rebalances"], 12, "{core}");
    assert_eq!(core["failed_rebalances"], 0, "{core}");
    let m = &core["metrics"]["overall"];
    assert_eq!(m["days"], 251);
    for k in [
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "turnover",
        "hit_rate",
    ] {
        assert!(m[k].as_f64().unwrap().is_finite(), "{k}: {m}");
    }
    assert!(m["tracking_error"].as_f64().unwrap() > 0.0);
    assert!(m["information_ratio"].as_f64().is_some());
    let regimes = core["metrics"]["by_regime"].as_object().unwrap();
    let regime_days: u64 = regimes.values().map(|v| v["days"].as_u64().unwrap()).sum();
    assert_eq!(regime_days, 251, "every day in one regime");
    assert!(regimes.keys().any(|k| k != "UNKNOWN"), "{regimes:?}");
    assert!(
        core["metrics"]["ic"].as_f64().is_some(),
        "assessment skill recorded"
    );
    let ew = backtest(&env, "equal_weight", from, to);
    let mv = backtest(&env, "min_variance", from, to);
    let vol = |v: &Value| v["metrics"]["overall"]["volatility"].as_f64().unwrap();
    assert!(
        vol(&mv) < vol(&ew),
        "min variance {} vs equal weight {}",
        vol(&mv),
        vol(&ew)
    );

    let snapshot = |env: &Env, id: String| {
        in_system(async move {
            let r = Pool::connect(&env.runtime, 2).await.unwrap();
            let h = Pool::connect(&env.historical, 2).await.unwrap();
            check_invariants(&r, &id, (0.05, 3.0), 0.35, 0.5).await;
            check_equity(&r, &h, &id, 1_000_000.0, 5.0, 1.0).await;
            let days: Vec<(String, f64, f64)> = rows!(
                r,
                format!(
                    "SELECT CAST(trade_date AS TEXT), equity, daily_return FROM backtest_daily WHERE backtest_id = '{id}' ORDER BY trade_date"
                ),
                (String, f64, f64)
            );
            let targets = targets(&r, &id).await;
            (days, targets)
        })
    };
    let first = snapshot(&env, id.clone());
    let ew_id = ew["backtest_id"].as_str().unwrap().to_owned();
    in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        check_invariants(&r, &ew_id, (0.05, 3.0), 1.0, 2.0).await;
    });
    // The same backtest again: same id, same rows, bit for bit.
    let again = backtest(&env, "core_long_eq", from, to);
    assert_eq!(again["backtest_id"].as_str(), Some(id.as_str()));
    assert_eq!(again["metrics"], core["metrics"]);
    let second = snapshot(&env, id);
    assert_eq!(first, second);
}

#[test]
fn backtests_run_on_imported_closes_without_volume() {
    let env = env("source = \"inbox\"\ninbox_dir = \"inbox\"\n");
    // 30 names over the sessions of 2021-2022 (closes only), from a seeded random walk.
    let sessions: Vec<String> = {
        let out = pv2(
            &env,
            &[
                "calendar",
                "sessions",
                "--market",
                "US_EQ",
                "--from",
                "2021-01-04",
                "--to",
                "2022-12-30",
                "--format",
                "csv",
            ],
        );
        out.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_owned())
            .collect()
    };
    let names: Vec<String> = (0..30).map(|i| format!("W{i:02}")).collect();
    let mut csv = format!("Date,{}\n", names.join(","));
    let mut level = vec![50.0f64; names.len()];
    let mut state: u64 = 7;
    for d in &sessions {
        let market = {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.03
        };
        let row: Vec<String> = level
            .iter_mut()
            .enumerate()
            .map(|(i, l)| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let e = ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5)
                    * 0.04
                    * (1.0 + i as f64 / 30.0);
                *l *= 1.0 + market * (0.5 + i as f64 / 30.0) + e;
                format!("{:.4}", *l)
            })
            .collect();
        csv.push_str(&format!("{d},{}\n", row.join(",")));
    }
    let file = env.config_dir().join("../wide.csv");
    std::fs::write(&file, csv).unwrap();
    pv2(
        &env,
        &[
            "import",
            "prices",
            "--format",
            "wide",
            "--market",
            "US_EQ",
            file.to_str().unwrap(),
        ],
    );
    pv2(&env, &["derive"]);
    for strategy in ["equal_weight", "hrp", "core_long_eq"] {
        let out = backtest(&env, strategy, "2022-01-03", "2022-12-30");
        assert_eq!(out["failed_rebalances"], 0, "{strategy}: {out}");
        assert!(out["metrics"]["overall"]["volatility"].as_f64().unwrap() > 0.0);
        let id = out["backtest_id"].as_str().unwrap().to_owned();
        in_system(async {
            let r = Pool::connect(&env.runtime, 2).await.unwrap();
            let h = Pool::connect(&env.historical, 2).await.unwrap();
            // No volume: no participation cap; no open: fills at the close.
            check_equity(&r, &h, &id, 1_000_000.0, 5.0, 1.0).await;
            let partial: Vec<(f64, f64)> = rows!(
                r,
                format!(
                    "SELECT shares, requested_shares FROM backtest_trades WHERE backtest_id = '{id}'"
                ),
                (f64, f64)
            );
            assert!(!partial.is_empty());
        });
    }
}

/// The panel cache hands every job exactly the rows an uncached read gives — as a backtest
/// walks forward past its yearly read-ahead (the shared rows are rebuilt from the earliest
/// date recently asked for, not from the first cached row), and when a job then asks for
/// an earlier start than the current build holds.
#[test]
fn cached_panels_equal_uncached_reads_forward_and_back() {
    let env = env(
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 12\nseed = 5\nhistory_start = \"2019-01-02\"\n",
    );
    pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2019-01-02",
            "--to",
            "2022-12-30",
            "--dag",
            "daily",
        ],
    );
    let ctx = env.context();
    in_system(async move {
        let stores = ctx.open_stores().await.unwrap();
        let db = &stores.historical;
        let market = prometheus::domain::MarketId::new("US_EQ");
        let cache = prometheus_actors::panel_cache::PanelCache::default();
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Forward through three years (each crossing the read-ahead), several windows per
        // date, then back to a start before anything built since.
        let asks = [
            ("2020-01-31", 200),
            ("2020-01-31", 60),
            ("2020-07-31", 400),
            ("2021-03-31", 90),
            ("2021-03-31", 500),
            ("2022-02-28", 30),
            ("2022-11-30", 120),
            ("2022-11-30", 1200),
            ("2021-06-30", 60),
        ];
        for (as_of, days) in asks {
            let (listed, cached) = cache.panel(db, &market, d(as_of), days).await.unwrap();
            let (listed_ref, reference) =
                prometheus::features::load::load_panel(db, &market, d(as_of), days)
                    .await
                    .unwrap();
            assert_eq!(listed, listed_ref, "{as_of} {days}");
            assert!(!reference.instruments.is_empty(), "{as_of} {days}");
            assert_eq!(cached, reference, "{as_of} {days}");
        }
    });
}

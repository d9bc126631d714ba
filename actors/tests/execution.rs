//! Execution through the real actors and databases: the execution actor on the portfolio's
//! `TargetPortfolio` edge, the paper broker, the live outbox, the ledger, the pre-trade
//! checks, the kill switch and reconciliation.
//!
//! - A paper-trading daemon on the simulated clock over a year of the synthetic market
//!   holds exactly what the backtest of the same strategy holds, with the same equity every
//!   session (same fills, same costs), to 1e-9.
//! - The kill switch: halt cancels the plan and survives a daemon restart; reduce-only
//!   never grows a position; flatten closes everything at the next fill; resume trades.
//! - Pre-trade checks block a plan as a whole with their reasons; a config that would
//!   loosen a limit is refused unless a person gives a reason (audited).
//! - A crash between planning and sending never sends an order twice (live outbox tickets
//!   counted), and a re-run plans nothing new.
//! - Broker statements are matched, bad rows rejected, and a ledger that does not reconcile
//!   (an unplanned fill, a tampered position) halts trading with an alert.

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

[[dag]]
id = "engines"
markets = ["US_EQ"]
[dag.trigger]
after = "daily"
catch_up = "all"
[[dag.job]]
id = "regime"
actor = "regime"
timeout_secs = 60
[[dag.job]]
id = "stability"
actor = "stability"
depends_on = ["regime"]
timeout_secs = 60
[[dag.job]]
id = "scenarios"
actor = "scenarios"
depends_on = ["stability"]
timeout_secs = 60
[[dag.job]]
id = "fragility"
actor = "fragility"
depends_on = ["scenarios"]
timeout_secs = 60
[[dag.job]]
id = "assessment"
actor = "assessment"
depends_on = ["fragility"]
timeout_secs = 60
[[dag.job]]
id = "universe"
actor = "universe"
depends_on = ["assessment"]
timeout_secs = 60
[[dag.job]]
id = "portfolio"
actor = "portfolio"
depends_on = ["universe"]
timeout_secs = 60
[[dag.job]]
id = "execution"
actor = "execution"
depends_on = ["portfolio"]
max_attempts = 3
backoff_ms = 50
timeout_secs = 60
on_failure = "degraded"
"#;

/// An environment with `instruments` synthetic names from `history_start`, small scenario
/// sets, and `execution` as the execution config.
fn env(instruments: u32, history_start: &str, execution: &str) -> Env {
    let env = Env::with(None, DAGS, "");
    let cfg = env.config_dir();
    std::fs::write(
        cfg.join("engines/ingest.toml"),
        format!(
            "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = {instruments}\nseed = 21\nhistory_start = \"{history_start}\"\n"
        ),
    )
    .unwrap();
    std::fs::write(
        cfg.join("engines/scenarios.toml"),
        "stored_paths = 2\n[params]\npaths = 200\nhorizon = 10\n",
    )
    .unwrap();
    std::fs::write(cfg.join("engines/execution.toml"), execution).unwrap();
    env
}

/// The shipped execution config (paper, whole shares).
fn paper() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/engines/execution.toml"),
    )
    .unwrap()
}

fn json(env: &Env, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&pv2(env, &all)).unwrap()
}

/// The engine chain and execution of one session, through `pv2 run`.
fn engines(env: &Env, date: &str) {
    let out = pv2(
        env,
        &[
            "run", "--market", "US_EQ", "--date", date, "--dag", "engines", "--rerun",
        ],
    );
    assert!(out.contains("SUCCEEDED"), "engines on {date}: {out}");
}

/// The daily DAG over `from..=to` (prices and derived series only).
fn load(env: &Env, from: &str, to: &str) {
    pv2(
        env,
        &[
            "backfill", "--market", "US_EQ", "--from", from, "--to", to, "--dag", "daily",
        ],
    );
}

async fn pool(env: &Env) -> Pool {
    Pool::connect(&env.runtime, 2).await.unwrap()
}

/// Orders of a session: (instrument, quantity, state, purpose).
async fn orders(r: &Pool, date: &str) -> Vec<(String, f64, String, String)> {
    rows!(
        r,
        format!(
            "SELECT instrument_id, quantity, state, purpose FROM exec_orders \
             WHERE CAST(order_date AS TEXT) = '{date}' ORDER BY seq, instrument_id"
        ),
        (String, f64, String, String)
    )
}

/// Positions at a session's close, by instrument.
async fn positions(r: &Pool, date: &str) -> BTreeMap<String, f64> {
    let rows: Vec<(String, f64)> = rows!(
        r,
        format!(
            "SELECT instrument_id, quantity FROM exec_positions \
             WHERE CAST(as_of_date AS TEXT) = '{date}'"
        ),
        (String, f64)
    );
    rows.into_iter().collect()
}

/// The engine chain's sessions `from..=to` on the simulated clock (the scheduler moves
/// it), every run awaited: the daemon's scheduling, compressed.
async fn sessions(
    spine: &prometheus_actors::spine::system::Spine,
    clock: &std::sync::Arc<prometheus_actors::scheduler::SimulatedClock>,
    from: &str,
    to: &str,
) {
    use prometheus_actors::scheduler::{
        SchedulerClock, SchedulerOptions, WhenFinished, start_of_day,
    };
    let ny = chrono_tz::America::New_York;
    let (from, to): (chrono::NaiveDate, chrono::NaiveDate) =
        (from.parse().unwrap(), to.parse().unwrap());
    let start = start_of_day(ny, from);
    let until = start_of_day(ny, to + chrono::TimeDelta::days(1)) - chrono::TimeDelta::seconds(1);
    clock.advance_to(start);
    let opts = SchedulerOptions {
        scheduler_id: format!("sim-{from}"),
        clock: SchedulerClock::Simulated(std::sync::Arc::clone(clock)),
        start: Some(start),
        until: Some(until),
        wait_for_runs: true,
        resubmit_recorded: true,
        catch_up: false,
        on_activation: None,
    };
    let scheduler = spine.start_scheduler(opts, Some("US_EQ"), None).unwrap();
    let report = scheduler.send(WhenFinished).await.unwrap().await.unwrap();
    assert!(
        report.failed_runs.is_empty() && report.refused.is_empty(),
        "{report:?}"
    );
}

#[test]
fn a_paper_daemon_over_a_year_equals_the_backtest_of_the_same_strategy() {
    use prometheus::domain::Clock;
    use prometheus_actors::scheduler::SimulatedClock;
    use prometheus_actors::spine::faults::FaultPlan;
    use prometheus_actors::spine::system::Spine;
    use std::sync::Arc;

    let env = env(20, "2019-01-02", &paper());
    load(&env, "2019-01-02", "2020-12-31");
    let (from, to) = ("2021-01-04", "2021-12-31");
    in_system(async {
        let ctx = env.context();
        let stores = ctx.open_stores().await.unwrap();
        let start = prometheus_actors::scheduler::start_of_day(
            chrono_tz::America::New_York,
            from.parse().unwrap(),
        );
        let clock = Arc::new(SimulatedClock::new(start));
        let dyn_clock: Arc<dyn Clock> = Arc::clone(&clock) as Arc<dyn Clock>;
        let faults = FaultPlan::parse("", prometheus_actors::spine::ACTOR_NAMES).unwrap();
        let spine = Spine::start(&ctx, stores, faults, dyn_clock).await.unwrap();
        sessions(&spine, &clock, from, to).await;
        spine.shutdown(std::time::Duration::from_secs(5)).await;
    });
    // The same strategy as a backtest: every engine at its active config, rebalanced every
    // session, traded by the execution config's broker rules.
    let strategy = env.dir.path().join("paper_twin.toml");
    std::fs::write(
        &strategy,
        "name = \"paper_twin\"\nmarket = \"US_EQ\"\n\
         jobs = [\"regime\", \"stability\", \"scenarios\", \"fragility\", \"assessment\", \"universe\", \"portfolio\"]\n\
         rebalance = \"daily\"\nbenchmark = \"MKT:US_EQ\"\ninitial_capital = 1000000.0\n\
         [broker]\nfill = \"next_open\"\nslippage_bp = 5.0\ncommission_bp = 1.0\nparticipation = 0.1\n\
         min_trade_value = 100.0\nlot_size = 1.0\n",
    )
    .unwrap();
    let bt = json(
        &env,
        &[
            "backtest",
            "--strategy",
            strategy.to_str().unwrap(),
            "--from",
            from,
            "--to",
            to,
        ],
    );
    let id = bt["backtest_id"].as_str().unwrap().to_owned();
    in_system(async {
        let r = pool(&env).await;
        let paper: Vec<(String, f64, f64, f64)> = rows!(
            r,
            "SELECT CAST(as_of_date AS TEXT), equity, cash, costs FROM exec_account_days ORDER BY as_of_date",
            (String, f64, f64, f64)
        );
        let twin: Vec<(String, f64, f64, f64)> = rows!(
            r,
            format!(
                "SELECT CAST(trade_date AS TEXT), equity, cash, costs FROM backtest_daily \
                 WHERE backtest_id = '{id}' ORDER BY trade_date"
            ),
            (String, f64, f64, f64)
        );
        assert_eq!(paper.len(), twin.len(), "one account day per backtest day");
        assert!(paper.len() >= 250, "{} sessions", paper.len());
        let traded: f64 = twin.iter().map(|d| d.3).sum();
        assert!(traded > 0.0, "the strategy traded");
        for (p, t) in paper.iter().zip(&twin) {
            assert_eq!(p.0, t.0);
            for (what, a, b) in [
                ("equity", p.1, t.1),
                ("cash", p.2, t.2),
                ("costs", p.3, t.3),
            ] {
                assert!(
                    (a - b).abs() <= 1e-9 * b.abs().max(1.0),
                    "{what} on {}: paper {a} vs backtest {b}",
                    p.0
                );
            }
        }
        // The same fills: every backtest trade is a paper fill of the same shares and price.
        let fills: Vec<(String, String, f64, f64, f64)> = rows!(
            r,
            "SELECT CAST(trade_date AS TEXT), instrument_id, quantity, price, commission \
             FROM exec_fills ORDER BY trade_date, instrument_id",
            (String, String, f64, f64, f64)
        );
        let trades: Vec<(String, String, f64, f64, f64)> = rows!(
            r,
            format!(
                "SELECT CAST(trade_date AS TEXT), instrument_id, shares, price, commission \
                 FROM backtest_trades WHERE backtest_id = '{id}' ORDER BY trade_date, instrument_id"
            ),
            (String, String, f64, f64, f64)
        );
        assert_eq!(fills.len(), trades.len());
        for (f, t) in fills.iter().zip(&trades) {
            assert_eq!((&f.0, &f.1), (&t.0, &t.1));
            assert!(
                (f.2 - t.2).abs() < 1e-9 && (f.3 - t.3).abs() < 1e-9 && (f.4 - t.4).abs() < 1e-9
            );
            assert_eq!(f.2, f.2.round(), "whole shares: {f:?}");
        }
        // Positions at the end: the backtest's trades summed.
        let mut held: BTreeMap<String, f64> = BTreeMap::new();
        for t in &trades {
            *held.entry(t.1.clone()).or_default() += t.2;
        }
        held.retain(|_, q| *q != 0.0);
        assert_eq!(positions(&r, to).await, held);
    });
}

//! Kronos through the real actors: after the daily DAG has loaded seventeen months of a
//! synthetic market, a backfill runs the engine chain and `kronos_daily` for four weeks.
//! Checks the decision log against the run record, recomputes an outcome from the stored
//! target and prices, shows that outcomes and analytics known by a date do not move when
//! later prices are corrupted and every date is re-run, and drives `pv2 kronos` (report,
//! propose, refuse, reject, freeze, audit). The whole loop runs inside one daemon (spine,
//! HTTP API, its experiment worker) on the simulated clock: a deliberately worse config is
//! measured, swept, tested only in a quiet window, run in shadow, approved, used, reverted
//! — and then promoted by the policy.

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

[[dag]]
id = "kronos_daily"
markets = ["US_EQ"]
[dag.trigger]
after = "engines"
catch_up = "all"
[[dag.job]]
id = "decisions"
actor = "kronos"
timeout_secs = 60
[[dag.job]]
id = "outcomes"
actor = "kronos"
depends_on = ["decisions"]
timeout_secs = 60

[[dag]]
id = "kronos_weekly"
markets = []
[[dag.job]]
id = "proposals"
actor = "kronos"
timeout_secs = 60
"#;

const ENGINES: [&str; 7] = [
    "assessment",
    "fragility",
    "portfolio",
    "regime",
    "scenarios",
    "stability",
    "universe",
];

macro_rules! exec {
    ($pool:expr, $sql:expr) => {
        match &$pool {
            Pool::Sqlite(p) => {
                sqlx::query($sql).execute(p).await.unwrap();
            }
            Pool::Postgres(p) => {
                sqlx::query($sql).execute(p).await.unwrap();
            }
        }
    };
}

/// Short horizons, small searches, experiments over nine months.
const KRONOS: &str = "horizons = [1, 5]\nmin_outcomes = 3\nmax_sweep_candidates = 2\n\
    [experiments]\nin_sample_months = 6\nholdout_months = 3\n";

/// 40 synthetic instruments from January 2022, small scenario sets, 1- and 5-session
/// horizons, a 5-session forecast and a 25-name universe.
fn env() -> Env {
    let env = Env::with(None, DAGS, "");
    let engines = env.config_dir().join("engines");
    for (file, text) in [
        (
            "ingest.toml",
            "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 40\nseed = 8\nhistory_start = \"2022-01-03\"\n",
        ),
        (
            "scenarios.toml",
            "stored_paths = 2\n[params]\npaths = 200\nhorizon = 10\n",
        ),
        ("kronos.toml", KRONOS),
        ("assessment.toml", "horizon_days = 5\n"),
        // Some names left out, so the universe's choice can be judged.
        ("universe.toml", "core_size = 20\nsatellite_size = 5\n"),
    ] {
        std::fs::write(engines.join(file), text).unwrap();
    }
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/strategies");
    let strategies = env.config_dir().join("strategies");
    std::fs::create_dir_all(&strategies).unwrap();
    std::fs::copy(
        repo.join("core_long_eq.toml"),
        strategies.join("core_long_eq.toml"),
    )
    .unwrap();
    env
}

fn json(env: &Env, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--format", "json"]);
    serde_json::from_str(&pv2(env, &all)).unwrap()
}

/// Every stored outcome known by `day`, as text, ordered.
async fn outcomes_known_by(r: &Pool, day: &str) -> Vec<String> {
    let rows: Vec<(String,)> = rows!(
        r,
        format!(
            "SELECT engine || '|' || CAST(as_of_date AS TEXT) || '|' || config_id || '|' || subject || '|' || \
             CAST(horizon_days AS TEXT) || '|' || metric || '|' || CAST(value AS TEXT) || '|' || \
             COALESCE(regime, '-') || '|' || CAST(known_on AS TEXT) FROM decision_outcomes \
             WHERE known_on <= '{day}' ORDER BY 1"
        ),
        (String,)
    );
    rows.into_iter().map(|r| r.0).collect()
}

#[test]
fn kronos_logs_decisions_measures_outcomes_point_in_time_and_serves_the_cli() {
    let env = env();
    pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2022-01-03",
            "--to",
            "2023-06-02",
            "--dag",
            "daily",
        ],
    );
    let out = pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2023-06-05",
            "--to",
            "2023-06-30",
        ],
    );
    assert!(out.contains("19 sessions"), "{out}");
    let cut = "2023-06-16";
    let before = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        // The decision log: every engine of every engines run, under the config and run the
        // run record names.
        let logged: Vec<(String, String, String, String, String, String)> = rows!(
            r,
            "SELECT CAST(as_of_date AS TEXT), engine, config_id, run_id, output_table, output_key \
             FROM engine_decisions ORDER BY as_of_date, engine",
            (String, String, String, String, String, String)
        );
        assert_eq!(logged.len(), 19 * 7, "{logged:?}");
        let recorded: Vec<(String, String, String)> = rows!(
            r,
            "SELECT CAST(d.as_of_date AS TEXT), j.actor, j.config_id FROM job_runs j JOIN dag_runs d \
             ON d.run_id = j.run_id WHERE d.dag_id = 'engines' AND j.state = 'SUCCEEDED' \
             ORDER BY 1, 2",
            (String, String, String)
        );
        let logged_keys: Vec<(String, String, String)> = logged
            .iter()
            .map(|l| (l.0.clone(), l.1.clone(), l.2.clone()))
            .collect();
        assert_eq!(logged_keys, recorded);
        for (day, engine, _, run, table, key) in &logged {
            assert!(ENGINES.contains(&engine.as_str()));
            assert_eq!(run, &format!("engines:US_EQ:{day}"));
            let expected_key = match engine.as_str() {
                "assessment" | "universe" | "portfolio" => "core_long_eq",
                _ => "US_EQ",
            };
            assert_eq!(key, expected_key, "{engine} → {table}");
        }
        // Outcomes: 1-session horizons for all but the last date, 5-session ones for all
        // but the last five; each known on its horizon's last session.
        let horizons: Vec<(i64, i64, String, String)> = rows!(
            r,
            "SELECT horizon_days, COUNT(DISTINCT as_of_date), CAST(MIN(known_on) AS TEXT), \
             CAST(MAX(as_of_date) AS TEXT) FROM decision_outcomes GROUP BY horizon_days ORDER BY 1",
            (i64, i64, String, String)
        );
        assert_eq!(
            horizons,
            vec![
                (1, 18, "2023-06-06".into(), "2023-06-29".into()),
                (5, 14, "2023-06-12".into(), "2023-06-23".into()),
            ]
        );
        let metrics: Vec<(String, String, String)> = rows!(
            r,
            "SELECT DISTINCT engine, subject, metric FROM decision_outcomes WHERE horizon_days = 5 \
             AND subject NOT IN ('STABLE', 'WATCH', 'FRAGILE', 'TARGETABLE', 'BREAKER', 'NONE', \
             'WATCHLIST', 'SHORT_CANDIDATE', 'CRISIS', 'CARRY', 'NEUTRAL', 'RISK_OFF') ORDER BY 1, 2, 3",
            (String, String, String)
        );
        let has =
            |e: &str, s: &str, m: &str| metrics.iter().any(|x| x.0 == e && x.1 == s && x.2 == m);
        for (e, s, m) in [
            ("assessment", "forecast", "rank_ic"),
            ("assessment", "forecast", "hit_rate"),
            ("portfolio", "portfolio", "active_return"),
            ("portfolio", "portfolio", "vol"),
            ("universe", "included_vs_excluded", "return_spread"),
        ] {
            assert!(has(e, s, m), "{e} {s} {m} missing from {metrics:?}");
        }
        let regime_metrics: Vec<(String, String)> = rows!(
            r,
            "SELECT DISTINCT subject, metric FROM decision_outcomes WHERE engine = 'regime' AND horizon_days = 5",
            (String, String)
        );
        assert!(
            regime_metrics.iter().any(|m| m.1 == "realised_vol"),
            "{regime_metrics:?}"
        );
        let class_rows: Vec<(String,)> = rows!(
            r,
            "SELECT DISTINCT subject FROM decision_outcomes WHERE engine = 'stability' AND metric = 'es_95'",
            (String,)
        );
        assert!(!class_rows.is_empty());
        // One outcome recomputed by hand: the 2023-06-09 target held to 2023-06-16.
        let target: Vec<(String, f64)> = rows!(
            r,
            "SELECT instrument_id, weight FROM target_portfolios WHERE as_of_date = '2023-06-09' \
             AND portfolio_id = 'core_long_eq'",
            (String, f64)
        );
        let h = Pool::connect(&env.historical, 2).await.unwrap();
        let closes: Vec<(String, String, f64)> = rows!(
            h,
            "SELECT instrument_id, CAST(trade_date AS TEXT), adj_close FROM prices_daily \
             WHERE trade_date IN ('2023-06-09', '2023-06-16')",
            (String, String, f64)
        );
        let px: BTreeMap<(String, String), f64> =
            closes.into_iter().map(|(i, d, c)| ((i, d), c)).collect();
        let invested: f64 = target.iter().map(|t| t.1).sum();
        let end: f64 = target
            .iter()
            .map(|(id, w)| {
                w * px[&(id.clone(), "2023-06-16".to_owned())]
                    / px[&(id.clone(), "2023-06-09".to_owned())]
            })
            .sum::<f64>()
            + (1.0 - invested);
        let stored: Vec<(f64,)> = rows!(
            r,
            "SELECT value FROM decision_outcomes WHERE engine = 'portfolio' AND as_of_date = '2023-06-09' \
             AND horizon_days = 5 AND metric = 'return'",
            (f64,)
        );
        assert_eq!(stored.len(), 1);
        assert!(
            (stored[0].0 - (end - 1.0)).abs() < 1e-12,
            "{} vs {}",
            stored[0].0,
            end - 1.0
        );
        let before = outcomes_known_by(&r, cut).await;
        assert!(before.len() > 500, "{}", before.len());
        // The future cannot change what was known by the cut: corrupt every later price
        // and market factor.
        exec!(
            h,
            "UPDATE prices_daily SET adj_close = adj_close * 0.3 WHERE trade_date > '2023-06-16'"
        );
        exec!(
            h,
            "UPDATE factors_daily SET value = -0.2 WHERE trade_date > '2023-06-16'"
        );
        before
    });
    let report = |env: &Env| -> Value {
        serde_json::from_str(&pv2(
            env,
            &["kronos", "report", "--as-of", cut, "--format", "json"],
        ))
        .unwrap()
    };
    let analytics_before = report(&env);
    assert!(analytics_before["outcomes"].as_u64().unwrap() > 500);
    let labels = analytics_before["labels"].as_array().unwrap();
    assert!(
        labels.iter().any(|l| l["engine"] == "portfolio"),
        "{labels:?}"
    );
    // Re-run Kronos on dates before and after the cut: everything known by the cut stays.
    for day in ["2023-06-09", "2023-06-16", "2023-06-23", "2023-06-30"] {
        pv2(
            &env,
            &[
                "run",
                "--market",
                "US_EQ",
                "--date",
                day,
                "--dag",
                "kronos_daily",
                "--rerun",
            ],
        );
    }
    let after = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        outcomes_known_by(&r, cut).await
    });
    assert_eq!(before, after);
    assert_eq!(report(&env), analytics_before);
    // The text report names the configs and their labels.
    let text = pv2(&env, &["kronos", "report", "--engine", "portfolio"]);
    assert!(
        text.contains("portfolio") && text.contains("active_return"),
        "{text}"
    );

    // A user proposal: risk aversion doubled → PROPOSED with its change listed.
    let file = env.config_dir().join("candidate.toml");
    std::fs::write(&file, "risk_aversion = 8.0\n").unwrap();
    let out = pv2(
        &env,
        &[
            "kronos",
            "propose",
            "portfolio",
            file.to_str().unwrap(),
            "--by",
            "alice",
            "--format",
            "json",
        ],
    );
    let proposed: Value = serde_json::from_str(&out).unwrap();
    let id = proposed["proposal"]["proposal_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(proposed["proposal"]["state"], "PROPOSED");
    assert!(
        proposed["proposal"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["key"] == "risk_aversion" && c["to"] == 8.0),
        "{proposed}"
    );
    // Loosening a hard limit is refused, stored with its reason, and exits non-zero.
    std::fs::write(&file, "[limits]\nmax_ex_ante_vol = 0.9\n").unwrap();
    let refused = env
        .pv2()
        .args([
            "kronos",
            "propose",
            "portfolio",
            file.to_str().unwrap(),
            "--by",
            "alice",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("max_ex_ante_vol") && err.contains("loosens a hard limit"),
        "{err}"
    );
    let refused_list: Value = serde_json::from_str(&pv2(
        &env,
        &[
            "kronos",
            "proposals",
            "--state",
            "refused",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(refused_list.as_array().unwrap().len(), 1);
    // An invalid file is an error naming the key, and nothing is stored.
    std::fs::write(&file, "risk_aversion = -1.0\n").unwrap();
    let bad = env
        .pv2()
        .args(["kronos", "propose", "portfolio", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("risk_aversion"));
    // Reject, freeze, unfreeze: each audited with who did it.
    pv2(
        &env,
        &[
            "kronos", "reject", &id, "--reason", "not now", "--by", "bob",
        ],
    );
    let again = env.pv2().args(["kronos", "reject", &id]).output().unwrap();
    assert!(
        !again.status.success(),
        "a rejected proposal cannot be rejected twice"
    );
    pv2(&env, &["kronos", "freeze", "drill", "--by", "carol"]);
    let audit: Value =
        serde_json::from_str(&pv2(&env, &["kronos", "audit", "--format", "json"])).unwrap();
    assert_eq!(audit["frozen"], true);
    pv2(&env, &["kronos", "unfreeze", "drill over", "--by", "carol"]);
    let audit: Value =
        serde_json::from_str(&pv2(&env, &["kronos", "audit", "--format", "json"])).unwrap();
    assert_eq!(audit["frozen"], false);
    let actions: Vec<(String, String)> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["action"].as_str().unwrap().to_owned(),
                a["actor"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("proposed".into(), "alice".into()),
            ("proposed".into(), "alice".into()),
            ("rejected".into(), "bob".into()),
            ("freeze".into(), "carol".into()),
            ("unfreeze".into(), "carol".into()),
        ]
    );
    let shown: Value =
        serde_json::from_str(&pv2(&env, &["kronos", "show", &id, "--format", "json"])).unwrap();
    assert_eq!(shown["state"], "REJECTED");
    assert_eq!(shown["audit"].as_array().unwrap().len(), 2);

    // The weekly search: sweeps for engines the outcomes do not call robust, and the three
    // negative controls, each on its engine's active config; a second run adds nothing.
    let weekly = |env: &Env| {
        pv2(
            env,
            &[
                "run",
                "--market",
                "US_EQ",
                "--date",
                "2023-06-30",
                "--dag",
                "kronos_weekly",
                "--rerun",
            ],
        );
    };
    weekly(&env);
    let all: Value =
        serde_json::from_str(&pv2(&env, &["kronos", "proposals", "--format", "json"])).unwrap();
    let by_kronos: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["created_by"] == "kronos")
        .collect();
    let controls: Vec<(String, String)> = by_kronos
        .iter()
        .filter(|p| p["origin"]["kind"] == "control")
        .map(|p| {
            (
                p["origin"]["control"].as_str().unwrap().to_owned(),
                p["engine"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = controls.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            ("caps_removed".into(), "portfolio".into()),
            ("inverted_signal".into(), "assessment".into()),
            ("liquidity_blind".into(), "universe".into()),
            ("reads_future".into(), "assessment".into()),
        ]
    );
    for p in &by_kronos {
        assert_eq!(p["state"], "PROPOSED", "{p}");
        if p["origin"]["kind"] == "sweep" {
            assert_eq!(p["changes"].as_array().unwrap().len(), 1, "{p}");
        }
    }
    let report = report(&env);
    let not_robust: Vec<&str> = report["labels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["label"] != "robust" && l["label"] != "unrated")
        .map(|l| l["engine"].as_str().unwrap())
        .collect();
    for engine in &not_robust {
        assert!(
            by_kronos
                .iter()
                .any(|p| p["engine"] == *engine && p["origin"]["kind"] == "sweep"),
            "{engine} is not robust but was not swept"
        );
    }
    let count = by_kronos.len();
    weekly(&env);
    let again: Value =
        serde_json::from_str(&pv2(&env, &["kronos", "proposals", "--format", "json"])).unwrap();
    assert_eq!(
        again
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["created_by"] == "kronos")
            .count(),
        count
    );

    // The search's experiments: a worker runs them all, then the gates judge the search.
    // Every negative control fails, and promotion stays open.
    pv2(&env, &["kronos", "experiments", "run", "--wait"]);
    let all_exps = json(&env, &["kronos", "experiments"]);
    // Alice's rejected proposal had its search queued too; it is not tried.
    let skipped: Vec<&Value> = all_exps
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["search"] != "search-US_EQ-2023-06-30")
        .collect();
    assert_eq!(skipped.len(), 2, "{all_exps}");
    assert!(
        skipped
            .iter()
            .any(|e| e["state"] == "FAILED" && e["error"].as_str().unwrap().contains("REJECTED")),
        "{skipped:?}"
    );
    let exps = json(
        &env,
        &[
            "kronos",
            "experiments",
            "--search",
            "search-US_EQ-2023-06-30",
        ],
    );
    let exps = exps.as_array().unwrap();
    assert_eq!(exps.len(), count + 1, "a baseline and one per candidate");
    for e in exps {
        assert_eq!(e["state"], "DONE", "{e}");
        assert_eq!(e["attempts"], 1);
        let ev = &e["result"]["evaluation"];
        assert!(ev["in_sample"]["days"].as_u64().unwrap() > 100, "{ev}");
        assert!(ev["holdout"]["days"].as_u64().unwrap() > 50, "{ev}");
    }
    let judged = json(&env, &["kronos", "proposals"]);
    for p in judged
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["created_by"] == "kronos")
    {
        let shown = json(
            &env,
            &["kronos", "show", p["proposal_id"].as_str().unwrap()],
        );
        assert!(
            shown["state"] == "PASSED" || shown["state"] == "FAILED",
            "{shown}"
        );
        let gates = shown["gates"].as_array().unwrap();
        assert_eq!(
            gates.len(),
            prometheus::kronos::gates::GATES.len(),
            "{shown}"
        );
        if p["origin"]["kind"] == "control" {
            assert_eq!(
                shown["state"], "FAILED",
                "a negative control passed: {shown}"
            );
            assert!(gates.iter().any(|g| g["passed"] == false));
            // Each fails at least where it must: removed caps loosen hard limits, a
            // liquidity-blind universe leaves the declared bounds, a config that reads the
            // future (and changes nothing else) breaks the point-in-time bound.
            let failed = |name: &str| {
                gates
                    .iter()
                    .any(|g| g["gate"] == name && g["passed"] == false)
            };
            match p["origin"]["control"].as_str().unwrap() {
                "caps_removed" => assert!(failed("hard_limits") && failed("bounds"), "{shown}"),
                "liquidity_blind" => assert!(failed("bounds"), "{shown}"),
                "reads_future" => assert!(
                    failed("point_in_time") && !failed("bounds") && !failed("hard_limits"),
                    "{shown}"
                ),
                _ => assert!(failed("bounds"), "{shown}"),
            }
        }
    }
    assert_eq!(json(&env, &["kronos", "audit"])["frozen"], false);

    // A rigged gate set (every gate switched off) lets the controls through: promotion
    // freezes, and nothing can be promoted until a person unfreezes it.
    let rigged = env.config_dir().join("rigged.toml");
    std::fs::write(
        &rigged,
        format!(
            "{KRONOS}[gates]\ndisabled = [{}]\n",
            prometheus::kronos::gates::GATES
                .iter()
                .map(|g| format!("\"{g}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
    .unwrap();
    pv2(
        &env,
        &["config", "apply", "kronos", rigged.to_str().unwrap()],
    );
    pv2(
        &env,
        &[
            "run",
            "--market",
            "US_EQ",
            "--date",
            "2023-06-29",
            "--dag",
            "kronos_weekly",
            "--rerun",
        ],
    );
    pv2(&env, &["kronos", "experiments", "run", "--wait"]);
    let audit = json(&env, &["kronos", "audit"]);
    assert_eq!(audit["frozen"], true, "{audit}");
    assert!(
        audit["freeze_reason"]
            .as_str()
            .unwrap()
            .contains("negative control"),
        "{audit}"
    );
    let passed: Vec<Value> = json(&env, &["kronos", "proposals", "--state", "passed"])
        .as_array()
        .unwrap()
        .clone();
    let candidate = passed
        .iter()
        .find(|p| p["origin"]["kind"] == "sweep")
        .or_else(|| passed.first())
        .expect("with every gate off, something passed")
        .clone();
    let id = candidate["proposal_id"].as_str().unwrap();
    let engine = candidate["engine"].as_str().unwrap();
    let refused = env.pv2().args(["kronos", "approve", id]).output().unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("frozen"));
    // Unfrozen by a person, the approval promotes the candidate in one step; revert undoes it.
    pv2(&env, &["kronos", "unfreeze", "rig removed", "--by", "dana"]);
    let before = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let active: Vec<(String,)> = rows!(
            r,
            format!("SELECT config_id FROM active_configs WHERE engine = '{engine}'"),
            (String,)
        );
        active[0].0.clone()
    });
    pv2(&env, &["kronos", "approve", id, "--by", "dana"]);
    let after = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let active: Vec<(String,)> = rows!(
            r,
            format!("SELECT config_id FROM active_configs WHERE engine = '{engine}'"),
            (String,)
        );
        active[0].0.clone()
    });
    assert_eq!(after, candidate["config_id"].as_str().unwrap());
    assert_ne!(after, before);
    pv2(
        &env,
        &["kronos", "revert", id, "--by", "dana", "--reason", "drill"],
    );
    let reverted = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let active: Vec<(String,)> = rows!(
            r,
            format!("SELECT config_id FROM active_configs WHERE engine = '{engine}'"),
            (String,)
        );
        active[0].0.clone()
    });
    assert_eq!(reverted, before);
    let shown = json(&env, &["kronos", "show", id]);
    let actions: Vec<&str> = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["proposed", "passed", "promoted", "reverted"]);
}

#[test]
fn a_killed_worker_s_experiment_is_taken_over_when_its_lease_ends_without_duplicates() {
    let env = env();
    std::fs::write(
        env.config_dir().join("engines/kronos.toml"),
        format!("{KRONOS}lease_secs = 10\n"),
    )
    .unwrap();
    queue_a_search(&env);
    // A worker claims an experiment, then dies without a word.
    let mut worker = env
        .pv2()
        .args(["kronos", "worker", "--name", "doomed", "--poll-secs", "1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let claimed = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let running: Vec<(String,)> = rows!(
                r,
                "SELECT experiment_id FROM kronos_experiments WHERE state = 'RUNNING' AND lease_owner = 'doomed'",
                (String,)
            );
            if let Some((id,)) = running.into_iter().next() {
                return id;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the worker never claimed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    });
    worker.kill().unwrap();
    worker.wait().unwrap();
    // Another worker runs the rest, waits out the dead one's lease and takes its experiment.
    pv2(&env, &["kronos", "experiments", "run", "--wait"]);
    let exps = json(&env, &["kronos", "experiments"]);
    let exps = exps.as_array().unwrap();
    assert_eq!(exps.len(), 2);
    for e in exps {
        assert_eq!(e["state"], "DONE", "{e}");
        let expected = if e["experiment_id"] == claimed.as_str() {
            2
        } else {
            1
        };
        assert_eq!(e["attempts"], expected, "{e}");
    }
    // One backtest per experiment, however many times it started.
    let backtests = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let n: Vec<(i64, i64)> = rows!(
            r,
            "SELECT COUNT(*), COUNT(DISTINCT backtest_id) FROM backtest_runs",
            (i64, i64)
        );
        n[0]
    });
    assert_eq!(backtests, (2, 2));
    let proposals = json(&env, &["kronos", "proposals"]);
    let state = proposals[0]["state"].as_str().unwrap();
    assert!(
        state == "PASSED" || state == "FAILED",
        "judged: {proposals}"
    );
}

/// Seventeen months of data, then a user's candidate (risk aversion doubled): its search —
/// a baseline and one candidate — is queued, ending on 2023-06-02.
fn queue_a_search(env: &Env) {
    pv2(
        env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2022-01-03",
            "--to",
            "2023-06-02",
            "--dag",
            "daily",
        ],
    );
    let file = env.config_dir().join("candidate.toml");
    std::fs::write(&file, "risk_aversion = 8.0\n").unwrap();
    pv2(
        env,
        &[
            "kronos",
            "propose",
            "portfolio",
            file.to_str().unwrap(),
            "--as-of",
            "2023-06-02",
        ],
    );
}

/// The same DAGs without triggers: nothing is scheduled, every market counts as quiet.
fn untriggered(dags: &str) -> String {
    let mut out = String::new();
    let mut skip = false;
    for line in dags.lines() {
        if line.trim() == "[dag.trigger]" {
            skip = true;
            continue;
        }
        if skip && (line.starts_with('[') || line.trim().is_empty()) {
            skip = false;
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[test]
fn the_daemon_runs_queued_experiments_itself_in_a_quiet_window() {
    let env = env();
    std::fs::write(
        env.config_dir().join("engines/kronos.toml"),
        format!("{KRONOS}poll_secs = 1\n"),
    )
    .unwrap();
    queue_a_search(&env);
    // Nothing scheduled: whatever the real clock says, the window is quiet.
    std::fs::write(env.config_dir().join("dags.toml"), untriggered(DAGS)).unwrap();
    let mut daemon = env
        .pv2()
        .arg("daemon")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let judged = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let states: Vec<(String,)> = rows!(
                r,
                "SELECT state FROM kronos_proposals WHERE created_by != 'kronos'",
                (String,)
            );
            if states.iter().all(|s| s.0 == "PASSED" || s.0 == "FAILED") {
                return states;
            }
            if let Ok(Some(status)) = daemon.try_wait() {
                panic!("the daemon exited: {status}");
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the daemon's worker did not run the experiments: {states:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    });
    assert_eq!(judged.len(), 1);
    let exps = json(&env, &["kronos", "experiments"]);
    assert!(
        exps.as_array()
            .unwrap()
            .iter()
            .all(|e| e["state"] == "DONE" && e["attempts"] == 1),
        "{exps}"
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status}");
}

/// Two and a half years of 40 synthetic names from 2019, experiments over twelve months in
/// sample and six held out, sweeps of two candidates per engine, no controls (the other
/// tests run them), the daemon's worker looking every second.
fn loop_env() -> Env {
    let env = env();
    let engines = env.config_dir().join("engines");
    std::fs::write(
        engines.join("ingest.toml"),
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 40\nseed = 8\nhistory_start = \"2019-01-02\"\n",
    )
    .unwrap();
    std::fs::write(
        engines.join("kronos.toml"),
        "horizons = [1, 5]\nmin_outcomes = 3\nmax_sweep_candidates = 2\nnegative_controls = false\n\
         [experiments]\nin_sample_months = 12\nholdout_months = 6\npoll_secs = 1\n",
    )
    .unwrap();
    env
}

/// The engine chain's sessions `from..=to` on the simulated clock (the scheduler moves it),
/// every run awaited.
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
        dates_in_flight: 1,
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
    assert!(report.fired > 0, "{report:?}");
}

/// The portfolio configs the engines runs of `from..=to` used, distinct.
async fn portfolio_configs(r: &Pool, from: &str, to: &str) -> Vec<String> {
    let rows: Vec<(String,)> = rows!(
        r,
        format!(
            "SELECT DISTINCT j.config_id FROM job_runs j JOIN dag_runs d ON d.run_id = j.run_id \
             WHERE d.dag_id = 'engines' AND j.actor = 'portfolio' AND j.state = 'SUCCEEDED' \
             AND d.as_of_date BETWEEN '{from}' AND '{to}'"
        ),
        (String,)
    );
    rows.into_iter().map(|r| r.0).collect()
}

/// Waits (real time) until every proposal of `search` is judged; their states.
async fn judged(r: &Pool, search: &str) -> Vec<(String, String, String)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    loop {
        let rows: Vec<(String, String, String)> = rows!(
            r,
            format!(
                "SELECT proposal_id, engine, state FROM kronos_proposals WHERE sweep_id = '{search}' \
                 ORDER BY proposal_id"
            ),
            (String, String, String)
        );
        if !rows.is_empty() && rows.iter().all(|p| p.2 != "PROPOSED") {
            return rows;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon's worker did not judge {search}: {rows:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[test]
fn a_worse_config_is_found_tested_promoted_and_reverted_inside_one_daemon_on_the_simulated_clock() {
    use prometheus::domain::{Clock, MarketId};
    use prometheus_actors::monitor::client::request;
    use prometheus_actors::monitor::http;
    use prometheus_actors::scheduler::SimulatedClock;
    use prometheus_actors::spine::faults::FaultPlan;
    use prometheus_actors::spine::system::Spine;
    use std::sync::Arc;
    use std::time::Duration;

    let env = loop_env();
    pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2019-01-02",
            "--to",
            "2021-05-28",
            "--dag",
            "daily",
        ],
    );
    // The deliberately worse config: the lowest risk aversion the portfolio engine allows,
    // so the targets chase forecasts whose IC on this market is negative.
    let worse = env.config_dir().join("worse.toml");
    std::fs::write(&worse, "risk_aversion = 0.5\n").unwrap();
    pv2(
        &env,
        &["config", "apply", "portfolio", worse.to_str().unwrap()],
    );
    let token = "e2e-control-token";
    in_system(async {
        let ctx = env.context();
        let stores = ctx.open_stores().await.unwrap();
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let start = prometheus_actors::scheduler::start_of_day(
            chrono_tz::America::New_York,
            "2021-06-01".parse().unwrap(),
        );
        let clock = Arc::new(SimulatedClock::new(start));
        let dyn_clock: Arc<dyn Clock> = Arc::clone(&clock) as Arc<dyn Clock>;
        let faults = FaultPlan::parse("", prometheus_actors::spine::ACTOR_NAMES).unwrap();
        let spine = Arc::new(
            Spine::start(&ctx, stores, faults, Arc::clone(&dyn_clock))
                .await
                .unwrap(),
        );
        let server = http::serve(
            &env.listen,
            Arc::clone(&spine),
            prometheus_actors::daemon::serve_options(&ctx, token.to_owned()),
        )
        .unwrap();
        let worker = actix::spawn(prometheus_actors::kronos::daemon_worker::run(
            ctx.clone(),
            Arc::clone(&spine),
            Arc::clone(&dyn_clock),
        ));
        let post = |path: String| {
            let listen = env.listen.clone();
            async move {
                let r = request(
                    &listen,
                    "POST",
                    &path,
                    Some(token),
                    "e2e",
                    Duration::from_secs(60),
                )
                .await
                .unwrap();
                assert_eq!(r.status, 200, "{path}: {}", r.body);
                serde_json::from_str::<Value>(&r.body).unwrap()
            }
        };

        // June: every session's chain under the worse config, Kronos measuring it.
        sessions(&spine, &clock, "2021-06-01", "2021-06-30").await;
        let worse_id = portfolio_configs(&r, "2021-06-01", "2021-06-30").await;
        assert_eq!(worse_id.len(), 1, "{worse_id:?}");
        let worse_id = worse_id[0].clone();
        // Detected: the outcomes do not call it robust, so the weekly search sweeps it.
        let report = json(&env, &["kronos", "report", "--engine", "portfolio"]);
        let label = report["labels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["config_id"] == worse_id.as_str())
            .unwrap_or_else(|| panic!("no label for {worse_id}: {report}"));
        assert_ne!(label["label"], "robust", "{label}");

        // The search is queued while the market is open: the worker must not touch it.
        clock.advance_to(
            chrono::DateTime::parse_from_rfc3339("2021-07-01T19:55:00Z")
                .unwrap()
                .into(),
        );
        let (run, status) = spine
            .run_and_wait(
                "kronos_weekly",
                &MarketId::from("US_EQ"),
                "2021-06-30".parse().unwrap(),
                "e2e",
            )
            .await
            .unwrap();
        assert_eq!(status.as_str(), "SUCCEEDED", "{run}");
        tokio::time::sleep(Duration::from_secs(3)).await;
        let claimed: Vec<(i64,)> = rows!(
            r,
            "SELECT COUNT(*) FROM kronos_experiments WHERE state != 'QUEUED' OR attempts > 0",
            (i64,)
        );
        assert_eq!(claimed[0].0, 0, "an experiment started in session");
        let sweeps: Vec<(String, String)> = rows!(
            r,
            "SELECT proposal_id, changes FROM kronos_proposals WHERE engine = 'portfolio' \
             AND base_config_id = '{worse_id}'"
                .replace("{worse_id}", &worse_id),
            (String, String)
        );
        assert!(!sweeps.is_empty(), "the worse config is swept");

        // That day's chain runs first; then, overnight, the worker runs the search.
        sessions(&spine, &clock, "2021-07-01", "2021-07-01").await;
        let states = judged(&r, "search-US_EQ-2021-06-30").await;
        let passed: Vec<&(String, String, String)> = states
            .iter()
            .filter(|p| p.1 == "portfolio" && p.2 == "PASSED")
            .collect();
        assert!(
            !passed.is_empty(),
            "a sweep of the worse config passes: {states:?}"
        );
        let (chosen, _, _) = passed[0].clone();
        let shown = json(&env, &["kronos", "show", &chosen]);
        let gates = shown["gates"].as_array().unwrap();
        assert_eq!(gates.len(), prometheus::kronos::gates::GATES.len());
        assert!(gates.iter().all(|g| g["passed"] == true), "{shown}");
        let new_id = shown["config_id"].as_str().unwrap().to_owned();

        // Shadow first, for three sessions: the candidate runs beside the active config on
        // the same runs, its targets stored under its own id, the run record (what
        // downstream reads by) still naming the active one; then it stops.
        let shadowed = post(format!("/kronos/proposals/{chosen}/shadow?sessions=3")).await;
        assert_eq!(shadowed["proposal"]["state"], "SHADOW", "{shadowed}");
        sessions(&spine, &clock, "2021-07-02", "2021-07-08").await;
        assert_eq!(
            portfolio_configs(&r, "2021-07-02", "2021-07-08").await,
            vec![worse_id.clone()]
        );
        let shadow_days: Vec<(String, String)> = rows!(
            r,
            format!(
                "SELECT CAST(as_of_date AS TEXT), state FROM kronos_shadow_runs \
                 WHERE proposal_id = '{chosen}' ORDER BY 1"
            ),
            (String, String)
        );
        // July 5th is a holiday: three sessions from the 2nd, then no more.
        let expected: Vec<(String, String)> = ["2021-07-02", "2021-07-06", "2021-07-07"]
            .iter()
            .map(|d| ((*d).to_owned(), "SUCCEEDED".to_owned()))
            .collect();
        assert_eq!(shadow_days, expected);
        let targets: Vec<(String, i64)> = rows!(
            r,
            "SELECT config_id, COUNT(DISTINCT as_of_date) FROM target_portfolios \
             WHERE as_of_date BETWEEN '2021-07-02' AND '2021-07-08' GROUP BY config_id ORDER BY 2 DESC",
            (String, i64)
        );
        assert_eq!(targets, vec![(worse_id.clone(), 4), (new_id.clone(), 3)]);
        let shown = json(&env, &["kronos", "show", &chosen]);
        let shadow = &shown["shadow"];
        assert_eq!(shadow["ran"], 3, "{shadow}");
        let primary = &shadow["comparison"][0];
        assert_eq!(primary["primary"], true, "{shadow}");
        assert_eq!(primary["metric"], "active_return");
        assert!(primary["n"].as_u64().unwrap() >= 2, "{shadow}");

        // Approval (from shadow) over HTTP switches the running engine; the next session
        // uses it.
        let approved = post(format!("/kronos/proposals/{chosen}/approve")).await;
        assert_eq!(
            approved["engine"]["config_id"],
            new_id.as_str(),
            "{approved}"
        );
        sessions(&spine, &clock, "2021-07-09", "2021-07-09").await;
        assert_eq!(
            portfolio_configs(&r, "2021-07-09", "2021-07-09").await,
            vec![new_id.clone()]
        );
        // Revert: the old config again, from the next session.
        let reverted = post(format!("/kronos/proposals/{chosen}/revert")).await;
        assert_eq!(
            reverted["engine"]["config_id"],
            worse_id.as_str(),
            "{reverted}"
        );
        sessions(&spine, &clock, "2021-07-12", "2021-07-14").await;
        assert_eq!(
            portfolio_configs(&r, "2021-07-12", "2021-07-14").await,
            vec![worse_id.clone()]
        );
        let audit = json(&env, &["kronos", "show", &chosen]);
        let actions: Vec<&str> = audit["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            vec!["proposed", "passed", "shadow", "promoted", "reverted"]
        );

        // The promotion policy on for the portfolio engine: a later search's best passed
        // portfolio sweep is promoted by the daemon itself in the next quiet window, audited
        // as the policy, and used from the next session; other engines' passes wait for a
        // person.
        let policy = env.config_dir().join("kronos-auto.toml");
        std::fs::write(
            &policy,
            format!(
                "{}[promotion]\nauto = true\nengines = [\"portfolio\"]\n",
                std::fs::read_to_string(env.config_dir().join("engines/kronos.toml")).unwrap()
            ),
        )
        .unwrap();
        let body = std::fs::read_to_string(&policy).unwrap();
        let listen = env.listen.clone();
        let applied = request(
            &listen,
            "POST",
            "/config/kronos",
            Some(token),
            &body,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
        assert_eq!(applied.status, 200, "{}", applied.body);
        let (_, status) = spine
            .run_and_wait(
                "kronos_weekly",
                &MarketId::from("US_EQ"),
                "2021-07-09".parse().unwrap(),
                "e2e",
            )
            .await
            .unwrap();
        assert_eq!(status.as_str(), "SUCCEEDED");
        let states = judged(&r, "search-US_EQ-2021-07-09").await;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let promoted = loop {
            let rows: Vec<(String, String, String)> = rows!(
                r,
                "SELECT proposal_id, engine, config_id FROM kronos_proposals WHERE sweep_id = 'search-US_EQ-2021-07-09' AND state = 'PROMOTED'",
                (String, String, String)
            );
            if !rows.is_empty() {
                break rows;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "nothing auto-promoted: {states:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let by: Vec<(String,)> = rows!(
            r,
            format!(
                "SELECT actor FROM kronos_audit WHERE proposal_id = '{}' AND action = 'promoted'",
                promoted[0].0
            ),
            (String,)
        );
        assert_eq!(by, vec![("kronos:policy".to_owned(),)]);
        assert_eq!(promoted.len(), 1, "{promoted:?}");
        assert_eq!(promoted[0].1, "portfolio");
        let waiting: Vec<(String,)> = rows!(
            r,
            "SELECT DISTINCT engine FROM kronos_proposals WHERE sweep_id = 'search-US_EQ-2021-07-09' AND state = 'PASSED'",
            (String,)
        );
        assert!(
            !waiting.is_empty(),
            "other engines' passes wait: {states:?}"
        );
        assert!(waiting.iter().all(|w| w.0 != "portfolio"));
        sessions(&spine, &clock, "2021-07-15", "2021-07-16").await;
        let used: Vec<(String,)> = rows!(
            r,
            format!(
                "SELECT DISTINCT j.config_id FROM job_runs j JOIN dag_runs d ON d.run_id = j.run_id \
                 WHERE d.dag_id = 'engines' AND j.actor = '{}' AND d.as_of_date >= '2021-07-15'",
                promoted[0].1
            ),
            (String,)
        );
        assert_eq!(used, vec![(promoted[0].2.clone(),)]);

        worker.abort();
        server.stop(true).await;
        spine.shutdown(Duration::from_secs(5)).await;
        spine.stores.close().await;
    });
}

#[test]
fn an_experiment_paused_for_a_must_run_job_goes_back_to_the_queue_without_spending_an_attempt() {
    use prometheus_actors::kronos::experiments::{Worked, work_one_until};
    use std::sync::atomic::AtomicBool;
    let env = env();
    queue_a_search(&env);
    in_system(async {
        let ctx = env.context();
        let stores = ctx.open_stores().await.unwrap();
        let cfg: prometheus::kronos::config::KronosConfig = toml::from_str(KRONOS).unwrap();
        // The window closed before the first rebalance: the backtest stops, the experiment
        // goes back to the queue, its claim not counted.
        let stop = AtomicBool::new(true);
        let (worked, _) = work_one_until(&ctx, &stores, &cfg, "w1", Some(&stop))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(worked, Worked::Paused);
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let states: Vec<(String, i64, Option<String>)> = rows!(
            r,
            "SELECT state, attempts, error FROM kronos_experiments ORDER BY priority, experiment_id",
            (String, i64, Option<String>)
        );
        assert_eq!(states.len(), 2);
        assert!(
            states.iter().all(|s| s.0 == "QUEUED" && s.1 == 0),
            "{states:?}"
        );
        assert!(
            states
                .iter()
                .any(|s| s.2.as_deref().is_some_and(|e| e.starts_with("paused"))),
            "{states:?}"
        );
        // The next quiet window runs both to the end, once each.
        for _ in 0..2 {
            let (worked, _) = work_one_until(&ctx, &stores, &cfg, "w2", None)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(worked, Worked::Done);
        }
        let done: Vec<(String, i64)> = rows!(
            r,
            "SELECT state, attempts FROM kronos_experiments",
            (String, i64)
        );
        assert!(done.iter().all(|d| d.0 == "DONE" && d.1 == 1), "{done:?}");
        stores.close().await;
    });
}

//! The world-state engines through the real actors: after the daily DAG has run over 17
//! months of a synthetic market, `pv2 backfill --dag engines` runs regime → stability →
//! scenarios → fragility for each session. Checks what they write, that the future cannot
//! change any of the four outputs, and that a re-run reproduces them.

mod common;

use common::pv2_ok as pv2;
use common::rows;
use common::{Env, in_system};
use prometheus::store::Pool;

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
"#;

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

/// 40 synthetic instruments from January 2022; small scenario sets.
fn env() -> Env {
    let env = Env::with(None, DAGS, "");
    let engines = env.config_dir().join("engines");
    std::fs::write(
        engines.join("ingest.toml"),
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 40\nseed = 8\nhistory_start = \"2022-01-03\"\n",
    )
    .unwrap();
    std::fs::write(
        engines.join("scenarios.toml"),
        "stored_paths = 5\n[params]\npaths = 200\nhorizon = 10\n",
    )
    .unwrap();
    env
}

/// Every output of the four engines on one day, as text, ordered.
async fn outputs(r: &Pool, day: &str) -> Vec<String> {
    let q = |table: &str, cols: &str, key: &str| {
        format!("SELECT {key} || '|' || {cols} FROM {table} WHERE as_of_date = '{day}' ORDER BY 1")
    };
    let mut out = Vec::new();
    for sql in [
        q(
            "regimes",
            "model_id || '|' || label || '|' || body",
            "market_id",
        ),
        q(
            "regime_transitions",
            "CAST(transitions AS TEXT) || '|' || CAST(probability AS TEXT)",
            "from_label || to_label",
        ),
        q("stability_vectors", "body", "instrument_id"),
        q(
            "soft_target_classes",
            "class || '|' || forecast_class || '|' || CAST(soft_target_score AS TEXT)",
            "instrument_id",
        ),
        q(
            "fragility_measures",
            "scenario_set_id || '|' || body",
            "instrument_id",
        ),
        q("scenario_sets", "kind || '|' || instruments", "set_id"),
    ] {
        let rows: Vec<(String,)> = rows!(r, &sql, (String,));
        out.extend(rows.into_iter().map(|r| r.0));
    }
    out
}

#[test]
fn world_state_engines_run_in_order_point_in_time_and_reproducibly() {
    let env = env();
    // Seventeen months of daily data: the regime's first fit needs a year of features.
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
            "2023-06-09",
        ],
    );
    assert!(out.contains("5 sessions"), "{out}");
    let day = "2023-06-07";
    let before = in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let regimes: Vec<(String, String, f64)> = rows!(
            r,
            "SELECT CAST(as_of_date AS TEXT), label, change_risk FROM regimes ORDER BY as_of_date",
            (String, String, f64)
        );
        assert_eq!(regimes.len(), 5, "one regime per session");
        for (_, label, risk) in &regimes {
            assert!(["CRISIS", "RISK_OFF", "NEUTRAL", "CARRY"].contains(&label.as_str()));
            assert!((0.0..=1.0).contains(risk));
        }
        let transitions: Vec<(i64,)> = rows!(
            r,
            &format!("SELECT transitions FROM regime_transitions WHERE as_of_date = '{day}'"),
            (i64,)
        );
        assert!(
            transitions.iter().map(|t| t.0).sum::<i64>() > 250,
            "the fit window's pairs"
        );
        let classes: Vec<(String, f64, String)> = rows!(
            r,
            &format!(
                "SELECT class, soft_target_score, regime FROM soft_target_classes WHERE as_of_date = '{day}'"
            ),
            (String, f64, String)
        );
        assert_eq!(classes.len(), 40, "every traded instrument");
        for (class, score, regime) in &classes {
            assert!(
                ["STABLE", "WATCH", "FRAGILE", "TARGETABLE", "BREAKER"].contains(&class.as_str())
            );
            assert!((0.0..=100.0).contains(score));
            assert_eq!(regime, &regimes[2].1, "classed under the day's regime");
        }
        let sets: Vec<(String, i64, i64, i64)> = rows!(
            r,
            &format!(
                "SELECT set_id, paths, stored_paths, horizon FROM scenario_sets WHERE as_of_date = '{day}'"
            ),
            (String, i64, i64, i64)
        );
        assert_eq!(sets.len(), 1);
        assert_eq!((sets[0].1, sets[0].2, sets[0].3), (200, 5, 10));
        let paths: Vec<(i64, String, Vec<u8>)> = rows!(
            r,
            &format!(
                "SELECT path, kind, returns FROM scenario_paths WHERE set_id = '{}' ORDER BY path",
                sets[0].0
            ),
            (i64, String, Vec<u8>)
        );
        assert_eq!(paths.len(), 6, "baseline + 5 stored paths");
        assert_eq!(paths[0].1, "baseline");
        assert!(
            paths.iter().all(|p| p.2.len() == 10 * 40 * 4),
            "horizon x instruments f32"
        );
        let fragility: Vec<(String, f64, String)> = rows!(
            r,
            &format!(
                "SELECT class, fragility_score, scenario_set_id FROM fragility_measures WHERE as_of_date = '{day}'"
            ),
            (String, f64, String)
        );
        assert_eq!(fragility.len(), 40);
        assert!(
            fragility
                .iter()
                .all(|f| (0.0..=1.0).contains(&f.1) && f.2 == sets[0].0)
        );
        let runs: Vec<(String, String)> = rows!(
            r,
            &format!(
                "SELECT DISTINCT run_id, config_id FROM fragility_measures WHERE as_of_date = '{day}'"
            ),
            (String, String)
        );
        assert_eq!(runs.len(), 1);
        assert!(
            runs[0].0.starts_with("engines:US_EQ:2023-06-07")
                && runs[0].1.starts_with("fragility-")
        );
        let before = outputs(&r, day).await;
        // The future cannot change the day: corrupt every later price and factor, drop the
        // stored regime models, and re-run the day.
        let h = Pool::connect(&env.historical, 2).await.unwrap();
        exec!(
            h,
            "UPDATE prices_daily SET adj_close = adj_close * 0.3 WHERE trade_date > '2023-06-07'"
        );
        exec!(
            h,
            "UPDATE factors_daily SET value = -0.2 WHERE trade_date > '2023-06-07'"
        );
        exec!(h, "DELETE FROM encoder_models");
        before
    });
    pv2(
        &env,
        &[
            "run", "--market", "US_EQ", "--date", day, "--dag", "engines", "--rerun",
        ],
    );
    in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let after = outputs(&r, day).await;
        assert_eq!(after.len(), before.len());
        for (a, b) in after.iter().zip(&before) {
            assert_eq!(a, b, "the same output from the same past");
        }
    });

    // `pv2 show` prints what was stored.
    let shown = pv2(
        &env,
        &["show", "regime", "--market", "US_EQ", "--date", day],
    );
    assert!(
        shown.contains("US_EQ 2023-06-07:") && shown.contains("p(CRISIS"),
        "{shown}"
    );
    let stab: serde_json::Value = serde_json::from_str(&pv2(
        &env,
        &[
            "show",
            "stability",
            "--market",
            "US_EQ",
            "--date",
            day,
            "--top",
            "5",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(stab.as_array().unwrap().len(), 5);
    let frag = pv2(
        &env,
        &["show", "fragility", "--market", "US_EQ", "--date", day],
    );
    assert!(
        frag.contains("instrument") && frag.lines().count() == 21,
        "{frag}"
    );
    let scn = pv2(
        &env,
        &["show", "scenarios", "--market", "US_EQ", "--date", day],
    );
    assert!(
        scn.contains("block_bootstrap: 200 paths x 10 days x 40 instruments"),
        "{scn}"
    );

    // A hot-applied fragility config takes effect on the next run, under its own id.
    let file = env.dir.path().join("fragility.toml");
    std::fs::write(
        &file,
        "watchlist = 0.01\nshort_candidate = 0.02\ncrisis = 0.03\n",
    )
    .unwrap();
    pv2(
        &env,
        &["config", "apply", "fragility", file.to_str().unwrap()],
    );
    pv2(
        &env,
        &[
            "run", "--market", "US_EQ", "--date", day, "--dag", "engines", "--rerun",
        ],
    );
    in_system(async {
        let r = Pool::connect(&env.runtime, 2).await.unwrap();
        let by_config: Vec<(String, i64, i64)> = rows!(
            r,
            "SELECT config_id, COUNT(*), SUM(CASE WHEN class = 'CRISIS' THEN 1 ELSE 0 END) FROM fragility_measures \
             WHERE as_of_date = '2023-06-07' GROUP BY config_id ORDER BY 2",
            (String, i64, i64)
        );
        assert_eq!(by_config.len(), 2, "{by_config:?}");
        let new = by_config.iter().find(|c| c.2 == 40);
        assert!(
            new.is_some(),
            "every name is CRISIS under the new cut-offs: {by_config:?}"
        );
    });
}

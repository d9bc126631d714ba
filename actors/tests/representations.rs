//! The representation layer through the real actors: `pv2 backfill` runs the daily DAG,
//! then `features` (numeric and text encoders) and `profiles` (profiles, then the joint
//! encoder) after it for every session. Checks what they write, that the future cannot
//! change an embedding, that re-runs reproduce the bytes, that a hot-applied joint config
//! takes effect, and the `pv2 embed text` command.

mod common;

use common::pv2_ok as pv2;
use common::{Env, in_system};
use prometheus::store::{Pool, blob_to_vector};
use std::path::Path;

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
timeout_secs = 60
[[dag.job]]
id = "derive"
actor = "derived"
depends_on = ["ingest"]
timeout_secs = 60

[[dag]]
id = "features"
markets = ["US_EQ"]
[dag.trigger]
after = "daily"
catch_up = "all"
[[dag.job]]
id = "numeric"
actor = "numeric_encoder"
timeout_secs = 60
[[dag.job]]
id = "text"
actor = "text_encoder"
timeout_secs = 120

[[dag]]
id = "profiles"
markets = ["US_EQ"]
[dag.trigger]
after = "features"
catch_up = "all"
[[dag.job]]
id = "profiles"
actor = "profiles"
timeout_secs = 60
[[dag.job]]
id = "joint"
actor = "joint_encoder"
depends_on = ["profiles"]
timeout_secs = 60
"#;

fn models_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models")
        .display()
        .to_string()
}

/// 16 synthetic instruments from October 2023, small windows so a month of history is
/// enough, MiniLM for the news.
fn env() -> Env {
    let env = Env::with(None, DAGS, "");
    let engines = env.config_dir().join("engines");
    std::fs::write(
        engines.join("ingest.toml"),
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 16\nseed = 5\nhistory_start = \"2023-10-02\"\n",
    )
    .unwrap();
    std::fs::write(
        engines.join("numeric_encoder.toml"),
        "return_horizons = [5, 21]\nvol_window = 10\nlong_window = 21\ndim = 4\nfit_dates = 6\nfit_stride = 2\nmin_fit_rows = 40\n",
    )
    .unwrap();
    std::fs::write(
        engines.join("text_encoder.toml"),
        format!(
            "model = \"minilm\"\nmodels_dir = \"{}\"\nthreads = 1\n",
            models_dir()
        ),
    )
    .unwrap();
    std::fs::write(
        engines.join("profiles.toml"),
        "return_horizons = [5, 21]\nvol_window = 10\nlong_window = 21\nnews_recent_sessions = 5\nnews_baseline_sessions = 40\n",
    )
    .unwrap();
    env
}

/// The daily DAG alone over December and January (ingest loads from the first date run),
/// then every DAG over `from..=to`.
fn backfill(env: &Env, from: &str, to: &str) -> String {
    let first = pv2(
        env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2023-12-01",
            "--to",
            "2024-01-31",
            "--dag",
            "daily",
        ],
    );
    assert!(first.contains("41 sessions"), "{first}");
    pv2(
        env,
        &["backfill", "--market", "US_EQ", "--from", from, "--to", to],
    )
}

async fn pool(url: &str) -> Pool {
    Pool::connect(url, 2).await.unwrap()
}

macro_rules! rows {
    ($pool:expr, $sql:expr, $ty:ty) => {
        match &$pool {
            Pool::Sqlite(p) => sqlx::query_as::<_, $ty>($sql).fetch_all(p).await.unwrap(),
            Pool::Postgres(p) => sqlx::query_as::<_, $ty>($sql).fetch_all(p).await.unwrap(),
        }
    };
}

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

type VecRow = (String, String, Vec<u8>, String);

async fn numeric_on(h: &Pool, day: &str) -> Vec<VecRow> {
    let sql = format!(
        "SELECT entity_id, model_id, vector, config_id FROM numeric_window_embeddings \
         WHERE as_of_date = '{day}' ORDER BY entity_id"
    );
    rows!(h, sqlx::AssertSqlSafe(sql), VecRow)
}

fn norm(v: &[f32]) -> f64 {
    v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
}

#[test]
fn encoders_and_profiles_run_after_the_daily_dag_point_in_time_and_reproducibly() {
    let env = env();
    // Daily data first, then fundamentals for one issuer, filed mid-February.
    let first = pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2023-12-01",
            "--to",
            "2024-01-31",
            "--dag",
            "daily",
        ],
    );
    assert!(first.contains("41 sessions"), "{first}");
    let fundamentals = env.dir.path().join("fundamentals.csv");
    std::fs::write(
        &fundamentals,
        "symbol,period_end,filed,metric,value
\
         AAAA,2023-12-31,2024-02-14,total_assets,1000
\
         AAAA,2023-12-31,2024-02-14,total_liabilities,850
\
         AAAA,2023-12-31,2023-12-01,revenue,5
",
    )
    .unwrap();
    let imported = pv2(
        &env,
        &["import", "fundamentals", fundamentals.to_str().unwrap()],
    );
    assert!(imported.contains("filed_before_period_end"), "{imported}");
    let out = pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2024-02-01",
            "--to",
            "2024-02-29",
        ],
    );
    assert!(out.contains("20 sessions"), "{out}");
    let before = in_system(async {
        let h = pool(&env.historical).await;
        let r = pool(&env.runtime).await;
        // Every session: daily, then features, then profiles, all succeeded.
        let runs: Vec<(String, String)> = rows!(
            r,
            "SELECT dag_id, state FROM dag_runs ORDER BY run_id",
            (String, String)
        );
        for dag in ["daily", "features", "profiles"] {
            let ok = runs
                .iter()
                .filter(|(d, s)| d == dag && s == "SUCCEEDED")
                .count();
            let expect = if dag == "daily" { 20 + 41 } else { 20 };
            assert_eq!(ok, expect, "{dag}: {runs:?}");
        }

        // Numeric: 16 instruments × 20 sessions, 4 dims, one model per month anchor.
        let n: Vec<(i64,)> = rows!(h, "SELECT COUNT(*) FROM numeric_window_embeddings", (i64,));
        assert_eq!(n[0].0, 16 * 20);
        let models: Vec<(String, String)> = rows!(
            h,
            "SELECT model_id, CAST(fitted_as_of AS TEXT) FROM encoder_models",
            (String, String)
        );
        assert_eq!(models.len(), 1, "{models:?}");
        assert!(models[0].1.starts_with("2024-01-31"), "{models:?}");
        let day = numeric_on(&h, "2024-02-15").await;
        assert_eq!(day.len(), 16);
        assert!(day.iter().all(|r| r.1 == models[0].0));
        assert!(day.iter().all(|r| blob_to_vector(&r.2).unwrap().len() == 4));

        // Text: MiniLM vectors of unit norm; issuer-day aggregates too.
        let text: Vec<(String, Vec<u8>)> = rows!(
            h,
            "SELECT model_id, vector FROM text_embeddings",
            (String, Vec<u8>)
        );
        assert!(!text.is_empty(), "the synthetic market publishes news");
        for (model, v) in &text {
            assert!(model.starts_with("minilm-l6-v2-int8-"), "{model}");
            let v = blob_to_vector(v).unwrap();
            assert_eq!(v.len(), 384);
            assert!((norm(&v) - 1.0).abs() < 1e-4);
        }
        let issuer_days: Vec<(i64,)> =
            rows!(h, "SELECT COUNT(*) FROM issuer_text_embeddings", (i64,));
        assert!(issuer_days[0].0 > 0);

        // Profiles: one per issuer and session, every flag in [0,1].
        let profiles: Vec<(String, String)> =
            rows!(r, "SELECT risk_flags, body FROM profiles", (String, String));
        assert_eq!(profiles.len(), 16 * 20);
        let mut flags_seen = 0;
        for (flags, body) in &profiles {
            let flags: std::collections::BTreeMap<String, f64> =
                serde_json::from_str(flags).unwrap();
            for (name, f) in &flags {
                assert!((0.0..=1.0).contains(f), "{name} = {f}");
                flags_seen += 1;
            }
            let body: serde_json::Value = serde_json::from_str(body).unwrap();
            assert!(body["facts"]["sector"].is_string(), "{body}");
            assert!(body["price"]["vol_10"].is_number(), "{body}");
        }
        assert!(flags_seen >= 5 * profiles.len(), "most flags computable");

        // Fundamentals count from their filing date, not their period end.
        let aaaa: Vec<(String, String, String)> = rows!(
            r,
            "SELECT CAST(as_of_date AS TEXT), body, risk_flags FROM profiles WHERE issuer_id = 'AAAA' \
             AND as_of_date IN ('2024-02-13', '2024-02-14') ORDER BY as_of_date",
            (String, String, String)
        );
        assert_eq!(aaaa.len(), 2);
        let body = |i: usize| serde_json::from_str::<serde_json::Value>(&aaaa[i].1).unwrap();
        assert_eq!(
            body(0)["fundamentals"],
            serde_json::json!({}),
            "not yet filed"
        );
        assert_eq!(body(1)["fundamentals"]["total_liabilities"]["value"], 850.0);
        assert!(!aaaa[0].2.contains("high_leverage"));
        assert!(
            aaaa[1].2.contains("\"high_leverage\":0.8333"),
            "{}",
            aaaa[1].2
        );

        // Joint: per instrument in three spaces, per market in regime_context; with all
        // branches present a joint vector has unit norm, never more.
        let joint: Vec<(String, String, Vec<u8>)> = rows!(
            h,
            "SELECT joint_type, entity_id, vector FROM joint_embeddings WHERE as_of_date = '2024-02-15'",
            (String, String, Vec<u8>)
        );
        let count = |t: &str| joint.iter().filter(|j| j.0 == t).count();
        assert_eq!(count("profile_core"), 16);
        assert_eq!(count("stability"), 16);
        assert_eq!(count("assessment"), 16);
        assert_eq!(count("regime_context"), 1);
        for (space, _, v) in &joint {
            let v = blob_to_vector(v).unwrap();
            let expect = if space == "regime_context" {
                4 + 384
            } else {
                4 + 384 + 8
            };
            assert_eq!(v.len(), expect, "{space}");
            assert!(norm(&v) <= 1.0 + 1e-5, "{space}: {}", norm(&v));
        }
        let stab = joint
            .iter()
            .filter(|j| j.0 == "stability")
            .map(|j| norm(&blob_to_vector(&j.2).unwrap()))
            .collect::<Vec<_>>();
        assert!(stab.iter().any(|n| (n - 1.0).abs() < 1e-5), "{stab:?}");

        // The future cannot change an embedding: corrupt every later price and factor,
        // drop the stored model so it is refitted, re-run the day → the same bytes.
        exec!(
            h,
            "UPDATE prices_daily SET adj_close = adj_close * 3.7, volume = NULL WHERE trade_date > '2024-02-15'"
        );
        exec!(
            h,
            "UPDATE factors_daily SET value = 0.25 WHERE trade_date > '2024-02-15'"
        );
        exec!(h, "DELETE FROM encoder_models");
        exec!(
            h,
            "DELETE FROM numeric_window_embeddings WHERE as_of_date = '2024-02-15'"
        );
        day
    });
    pv2(
        &env,
        &[
            "run",
            "--market",
            "US_EQ",
            "--date",
            "2024-02-15",
            "--dag",
            "features",
            "--rerun",
        ],
    );
    in_system(async {
        let h = pool(&env.historical).await;
        let refitted: Vec<(String,)> = rows!(h, "SELECT model_id FROM encoder_models", (String,));
        assert_eq!(refitted.len(), 1, "refitted once");
        assert_eq!(
            refitted[0].0, before[0].1,
            "the same model from the same past"
        );
        assert_eq!(numeric_on(&h, "2024-02-15").await, before, "the same bytes");
    });
}

#[test]
fn a_hot_applied_joint_config_writes_a_new_space_version() {
    let env = env();
    backfill(&env, "2024-02-01", "2024-02-07");
    let file = env.dir.path().join("joint.toml");
    std::fs::write(
        &file,
        "text_lookback_days = 10\n[spaces.stability]\nnumeric = 1.0\nprofile = 3.0\n",
    )
    .unwrap();
    pv2(
        &env,
        &["config", "apply", "joint_encoder", file.to_str().unwrap()],
    );
    pv2(
        &env,
        &[
            "run",
            "--market",
            "US_EQ",
            "--date",
            "2024-02-07",
            "--dag",
            "profiles",
            "--rerun",
        ],
    );
    in_system(async {
        let h = pool(&env.historical).await;
        let rows: Vec<(String, String, String, Vec<u8>)> = rows!(
            h,
            "SELECT config_id, model_id, joint_type, vector FROM joint_embeddings WHERE as_of_date = '2024-02-07' AND joint_type = 'stability' ORDER BY entity_id, config_id",
            (String, String, String, Vec<u8>)
        );
        let configs: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
        let models: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(
            configs.len(),
            2,
            "old and new config both kept: {configs:?}"
        );
        assert_eq!(models.len(), 2);
        let counts: Vec<(String, i64)> = rows!(
            h,
            "SELECT joint_type, COUNT(*) FROM joint_embeddings WHERE as_of_date = '2024-02-07' GROUP BY joint_type ORDER BY joint_type",
            (String, i64)
        );
        // The new config has only the stability space: the others keep their old rows.
        assert!(
            counts.iter().any(|(t, n)| t == "stability" && *n == 32),
            "{counts:?}"
        );
        // Old weights 1 : 1, new 1 : 3: the profile branch's norm over the numeric one's.
        let mut ratios = std::collections::BTreeMap::<&str, Vec<f64>>::new();
        for r in &rows {
            let v = blob_to_vector(&r.3).unwrap();
            let (numeric, profile) = (norm(&v[..4]), norm(&v[4 + 384..]));
            if profile > 0.0 && numeric > 0.0 {
                ratios
                    .entry(r.0.as_str())
                    .or_default()
                    .push(profile / numeric);
            }
        }
        let mut seen: Vec<f64> = ratios
            .values()
            .map(|rs| {
                assert!(rs.iter().all(|x| (x - rs[0]).abs() < 1e-4), "{rs:?}");
                rs[0]
            })
            .collect();
        seen.sort_by(f64::total_cmp);
        assert_eq!(seen.len(), 2, "{ratios:?}");
        assert!(
            (seen[0] - 1.0).abs() < 1e-4 && (seen[1] - 3.0).abs() < 1e-4,
            "{seen:?}"
        );
    });
}

#[test]
fn embed_text_prints_vectors_and_explains_a_missing_model() {
    let env = env();
    let out = pv2(
        &env,
        &[
            "embed",
            "text",
            "--format",
            "json",
            "Acme cuts guidance",
            "Rates rise",
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(doc["model_id"].as_str().unwrap().starts_with("hashing-v1"));
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 2);
    for v in vectors {
        let v: Vec<f32> = serde_json::from_value(v["vector"].clone()).unwrap();
        assert_eq!(v.len(), 384);
        assert!((norm(&v) - 1.0).abs() < 1e-5);
    }

    // MiniLM from the command line equals the Python reference for a fixture sentence.
    let fixture = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/minilm/reference.jsonl"),
    )
    .unwrap();
    let first: serde_json::Value = serde_json::from_str(fixture.lines().next().unwrap()).unwrap();
    let sentence = first["sentence"].as_str().unwrap();
    let reference: Vec<f32> = serde_json::from_value(first["vector"].clone()).unwrap();
    let out = pv2(
        &env,
        &[
            "embed",
            "text",
            "--model",
            "minilm",
            "--models-dir",
            &models_dir(),
            "--format",
            "json",
            sentence,
        ],
    );
    let doc: serde_json::Value = serde_json::from_str(&out).unwrap();
    let v: Vec<f32> = serde_json::from_value(doc["vectors"][0]["vector"].clone()).unwrap();
    let cos: f64 = v
        .iter()
        .zip(&reference)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum::<f64>()
        / (norm(&v) * norm(&reference));
    assert!(cos >= 0.9999, "cosine {cos}");

    // A missing model: non-zero exit, one line that says how to fetch it.
    let out = env
        .pv2()
        .args([
            "embed",
            "text",
            "--model",
            "minilm",
            "--models-dir",
            "/nonexistent",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("scripts/fetch-models"), "{err}");
    assert!(
        err.contains("/nonexistent/all-MiniLM-L6-v2-int8/model.onnx"),
        "{err}"
    );
}

#[test]
fn the_pls_projection_is_fitted_once_history_exists_and_only_from_the_past() {
    let env = env();
    std::fs::write(
        env.config_dir().join("engines/joint_encoder.toml"),
        "[spaces.assessment]\nnumeric = 1.0\ntext = 0.5\nprofile = 0.5\n\n\
         [pls]\nspaces = [\"assessment\"]\ncomponents = 3\nhorizon = 5\nfit_dates = 6\nfit_stride = 2\nmin_fit_rows = 40\n",
    )
    .unwrap();
    backfill(&env, "2024-02-01", "2024-03-06");
    let pls_rows = || {
        in_system(async {
            let h = pool(&env.historical).await;
            rows!(
                h,
                "SELECT CAST(as_of_date AS TEXT), entity_id, model_id, vector FROM joint_embeddings \
                 WHERE joint_type = 'assessment:pls' ORDER BY as_of_date, entity_id",
                (String, String, String, Vec<u8>)
            )
        })
    };
    let before = pls_rows();
    // February's anchor (31 January) has no embedded history: no projection. March's
    // (29 February) has February's: 4 sessions × 16 instruments, 3 components each.
    assert!(
        before.iter().all(|r| r.0.as_str() >= "2024-03-01"),
        "{:?}",
        before.first()
    );
    assert_eq!(before.len(), 4 * 16);
    assert!(
        before
            .iter()
            .all(|r| blob_to_vector(&r.3).unwrap().len() == 3)
    );
    let model = before[0].2.clone();
    assert!(model.starts_with("pls-") && before.iter().all(|r| r.2 == model));
    // The future cannot change it: corrupt prices after the day, forget the model and the
    // day's vectors, re-run 1 March → the same model (fitted from data up to the anchor)
    // and the same bytes.
    in_system(async {
        let h = pool(&env.historical).await;
        let fits: Vec<(String, String)> = rows!(
            h,
            "SELECT encoder, CAST(fitted_as_of AS TEXT) FROM encoder_models WHERE encoder LIKE 'joint_encoder:pls:%'",
            (String, String)
        );
        assert_eq!(fits.len(), 1);
        assert_eq!(fits[0].0, "joint_encoder:pls:assessment");
        assert!(fits[0].1.starts_with("2024-02-29"));
        exec!(
            h,
            "UPDATE prices_daily SET adj_close = adj_close * 0.3 WHERE trade_date > '2024-03-01'"
        );
        exec!(
            h,
            "DELETE FROM encoder_models WHERE encoder LIKE 'joint_encoder:pls:%'"
        );
        exec!(
            h,
            "DELETE FROM joint_embeddings WHERE joint_type = 'assessment:pls'"
        );
    });
    pv2(
        &env,
        &[
            "run",
            "--market",
            "US_EQ",
            "--date",
            "2024-03-01",
            "--dag",
            "profiles",
            "--rerun",
        ],
    );
    let after = pls_rows();
    let first_day: Vec<_> = before
        .iter()
        .filter(|r| r.0.starts_with("2024-03-01"))
        .cloned()
        .collect();
    assert_eq!(after, first_day);
}

#[test]
fn a_failed_daily_run_refuses_the_dags_that_follow_it() {
    let env = env();
    pv2(
        &env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-03",
            "--dag",
            "daily",
        ],
    );
    // Every derive attempt fails: the daily run of 4 January fails, so `features` (after
    // daily) and `profiles` (after features) are refused for that date, with the reason.
    let out = env
        .pv2()
        .args(["--faults", "derived:error@*"])
        .args([
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2024-01-04",
            "--to",
            "2024-01-04",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(
            "features:US_EQ:2024-01-04:POST_CLOSE: upstream run daily:US_EQ:2024-01-04 is FAILED"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("profiles:US_EQ:2024-01-04:POST_CLOSE: upstream run features:US_EQ:2024-01-04 is NOT RUN"),
        "{stdout}"
    );
    in_system(async {
        let r = pool(&env.runtime).await;
        let acts: Vec<(String, String)> = rows!(
            r,
            "SELECT dag_id, outcome FROM scheduler_activations WHERE as_of_date = '2024-01-04' ORDER BY due_at, activation_id",
            (String, String)
        );
        assert_eq!(
            acts,
            [
                ("daily".to_owned(), "fired".to_owned()),
                ("features".to_owned(), "refused".to_owned()),
                ("profiles".to_owned(), "refused".to_owned()),
            ]
        );
        let runs: Vec<(String,)> = rows!(
            r,
            "SELECT dag_id FROM dag_runs WHERE dag_id <> 'daily'",
            (String,)
        );
        assert!(runs.is_empty(), "{runs:?}");
    });
}

//! The crash soak: a two-year backfill of the whole daily chain killed with SIGKILL at ten
//! random moments and resumed each time writes exactly what an uninterrupted backfill
//! writes — every output table, row for row — with each run recorded once.

mod common;

use common::backfill::{backfill, chain_env, first_difference, preload};
use common::in_system;
use prometheus::store::{RunStore, RuntimeDb};
use rand::{Rng, SeedableRng};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn a_backfill_killed_ten_times_and_resumed_writes_what_an_uninterrupted_one_writes() {
    let reference = chain_env(None);
    preload(&reference);
    let t = Instant::now();
    let out = backfill(&reference).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let full = t.elapsed();

    let soaked = chain_env(None);
    preload(&soaked);
    // Kill points spread over the time a whole backfill takes, seeded (the same every run).
    let mut rng = rand::rngs::StdRng::seed_from_u64(14);
    let span = full.as_millis().max(2_000) as u64;
    let mut kills = 0;
    for _ in 0..10 {
        let mut child = backfill(&soaked)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Ten kills at 2.5–8% of the full run's time each leave most of the work for the
        // last pass, so the kills land mid-backfill even when the suite runs busy (wider
        // windows once let the backfill finish before the tenth).
        let wait = Duration::from_millis(rng.random_range(span / 40..span / 12));
        std::thread::sleep(wait);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(kills >= 8, "most kills landed mid-backfill ({kills})");
    let out = backfill(&soaked).output().unwrap();
    assert!(
        out.status.success(),
        "the resumed backfill completes: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    in_system(async {
        if let Some((db, d)) = first_difference(&reference, &soaked).await {
            panic!(
                "{db}.{} differs at {}: {:?} vs {:?}",
                d.table, d.at, d.left, d.right
            );
        }
        // Each date's run of each DAG once: resumed, never duplicated.
        let rt = RuntimeDb::open(&soaked.runtime, 2).await.unwrap();
        let runs = rt.dag_runs(100_000).await.unwrap();
        assert!(runs.iter().all(|r| !r.run_id.contains(":r")), "no re-runs");
        assert!(runs.iter().all(|r| r.state.as_str() == "SUCCEEDED"));
        let reference_runs = RuntimeDb::open(&reference.runtime, 2)
            .await
            .unwrap()
            .dag_runs(100_000)
            .await
            .unwrap();
        assert_eq!(runs.len(), reference_runs.len());
    });
}

/// The bookkeeping a backfill leaves that must not depend on how many dates were in
/// flight: every run and attempt with its times, and every activation.
async fn runs_and_activations(env: &common::Env) -> Vec<String> {
    use prometheus::store::Pool;
    let pool = Pool::connect(&env.runtime, 2).await.unwrap();
    let mut rows: Vec<String> = Vec::new();
    for sql in [
        "SELECT run_id || '|' || state || '|' || created_at || '|' || COALESCE(finished_at, '') FROM dag_runs ORDER BY run_id",
        "SELECT run_id || '|' || job_id || '|' || attempt || '|' || state || '|' || started_at || '|' || COALESCE(finished_at, '') || '|' || COALESCE(config_id, '') FROM job_runs ORDER BY run_id, job_id, attempt",
        "SELECT activation_id || '|' || due_at || '|' || fired_at || '|' || outcome || '|' || COALESCE(run_id, '') FROM scheduler_activations ORDER BY activation_id",
    ] {
        rows.extend(common::fetch_column(&pool, sql).await);
    }
    pool.close().await;
    rows
}

#[test]
fn a_backfill_with_dates_in_flight_writes_what_one_date_at_a_time_writes() {
    let (to, dates) = ("2023-06-30", ["1", "4"]);
    let [one, overlapped] = dates.map(|n| {
        let env = chain_env(None);
        preload(&env);
        let out = common::backfill::backfill_over(&env, common::backfill::FROM, to)
            .args(["--dates-in-flight", n])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        env
    });
    in_system(async {
        if let Some((db, d)) = first_difference(&one, &overlapped).await {
            panic!(
                "{db}.{} differs at {}: {:?} vs {:?}",
                d.table, d.at, d.left, d.right
            );
        }
        // The records stand at each run's own session, not at the clock the overlapped
        // backfill had moved on.
        let (a, b) = (
            runs_and_activations(&one).await,
            runs_and_activations(&overlapped).await,
        );
        assert!(a.len() > 600, "{}", a.len());
        assert_eq!(a, b);
        // And the dates did overlap: some session's daily run began before the previous
        // session's engines had finished.
        let overlaps = |events: &[(String, String, String)]| {
            let at = |event: &str, detail: &str| {
                events
                    .iter()
                    .position(|(_, e, d)| e == event && d.starts_with(detail))
            };
            let sessions: Vec<&str> = events
                .iter()
                .filter(|(_, e, d)| e == "run_activated" && d.starts_with("daily:"))
                .filter_map(|(_, _, d)| d.split([':', ' ']).nth(2))
                .collect();
            sessions.windows(2).any(|w| {
                match (
                    at("run_activated", &format!("daily:US_EQ:{}", w[1])),
                    at("run_finished", &format!("engines:US_EQ:{}", w[0])),
                ) {
                    (Some(next), Some(done)) => next < done,
                    _ => false,
                }
            })
        };
        let log = |env: &common::Env| {
            let url = env.runtime.clone();
            async move {
                let db = RuntimeDb::open(&url, 2).await.unwrap();
                common::events(&db).await
            }
        };
        assert!(overlaps(&log(&overlapped).await));
        assert!(!overlaps(&log(&one).await));
    });
}

//! The crash soak: a two-year backfill of the whole daily chain killed with SIGKILL at ten
//! random moments and resumed each time writes exactly what an uninterrupted backfill
//! writes — every output table, row for row — with each run recorded once.

mod common;

use common::backfill::{backfill, chain_env, first_difference, preload};
use common::in_system;
use prometheus::store::{Pool, RunStore, RuntimeDb};
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

/// The session whose activations the database refuses for a while in the blocked backfill.
const BLOCKED_SESSION: &str = "2023-03-01";

/// Makes the runtime database of `env` refuse to record the activations of
/// [`BLOCKED_SESSION`] while `test_block` has a row: the record of that session's chain
/// fails as it would with the database away.
async fn block_activations(env: &common::Env) {
    let Pool::Sqlite(p) = Pool::connect(&env.runtime, 1).await.unwrap() else {
        unreachable!("the soak runs on SQLite")
    };
    for sql in [
        "CREATE TABLE test_block (x INTEGER)".to_owned(),
        "INSERT INTO test_block VALUES (1)".to_owned(),
        format!(
            "CREATE TRIGGER test_block_activations BEFORE INSERT ON scheduler_activations \
             WHEN NEW.as_of_date = '{BLOCKED_SESSION}' AND EXISTS (SELECT 1 FROM test_block) \
             BEGIN SELECT RAISE(ABORT, 'test: activations refused'); END"
        ),
    ] {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&p)
            .await
            .unwrap();
    }
    p.close().await;
}

/// Waits until the scheduler has said it fires the blocked session's chain again, then
/// lets the database take its records (and removes the block). Fails if the backfill ends
/// first.
async fn unblock_after_retry(env: &common::Env, backfill: &mut std::process::Child) {
    let Pool::Sqlite(p) = Pool::connect(&env.runtime, 1).await.unwrap() else {
        unreachable!("the soak runs on SQLite")
    };
    let pattern = format!("%{BLOCKED_SESSION}%fired again in%");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM actor_events WHERE detail LIKE $1")
            .bind(&pattern)
            .fetch_one(&p)
            .await
            .unwrap();
        if n > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the blocked chain was never retried"
        );
        if backfill.try_wait().unwrap().is_some() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut backfill.stderr.take().unwrap(), &mut err).unwrap();
            panic!("the backfill ended before the blocked chain was fired again: {err}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for sql in [
        "DROP TRIGGER test_block_activations",
        "DROP TABLE test_block",
    ] {
        sqlx::query(sql).execute(&p).await.unwrap();
    }
    p.close().await;
}

#[test]
fn a_backfill_with_dates_in_flight_writes_what_one_date_at_a_time_writes() {
    let to = "2023-06-30";
    let start = |n: &str, blocked: bool| {
        let env = chain_env(None);
        preload(&env);
        if blocked {
            in_system(block_activations(&env));
        }
        let child = common::backfill::backfill_over(&env, common::backfill::FROM, to)
            .args(["--dates-in-flight", n])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        (env, child)
    };
    let finish = |child: std::process::Child| {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let [one, overlapped] = ["1", "4"].map(|n| {
        let (env, child) = start(n, false);
        finish(child);
        env
    });
    // With four in flight, one session's records are refused for a while (as with the
    // database away): its chain keeps its place, is fired again and the backfill ends as
    // if nothing had happened.
    let blocked = {
        let (env, mut child) = start("4", true);
        in_system(unblock_after_retry(&env, &mut child));
        finish(child);
        env
    };
    in_system(async {
        for other in [&overlapped, &blocked] {
            if let Some((db, d)) = first_difference(&one, other).await {
                panic!(
                    "{db}.{} differs at {}: {:?} vs {:?}",
                    d.table, d.at, d.left, d.right
                );
            }
        }
        // The records stand at each run's own session, not at the clock the overlapped
        // backfill had moved on.
        let (a, b, c) = (
            runs_and_activations(&one).await,
            runs_and_activations(&overlapped).await,
            runs_and_activations(&blocked).await,
        );
        assert!(a.len() > 600, "{}", a.len());
        assert_eq!(a, b);
        assert_eq!(a, c);
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

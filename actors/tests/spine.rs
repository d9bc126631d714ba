//! The actor spine, in process, against real databases: supervised restarts after panics,
//! escalation, timeouts with late results, and outputs identical to a fault-free run.

mod common;

use chrono::NaiveDate;
use common::{DATES, Env, attempts, events, in_system, outputs};
use prometheus::domain::{Clock, MarketId};
use prometheus::store::RunStore;
use prometheus_actors::clock::SystemClock;
use prometheus_actors::orchestrator::{RunSummary, Submit, WaitRun};
use prometheus_actors::spine::faults::FaultPlan;
use prometheus_actors::spine::system::Spine;
use std::sync::Arc;
use std::time::Duration;

async fn start(env: &Env, faults: &str) -> Spine {
    let ctx = env.context();
    let stores = ctx.open_stores().await.unwrap();
    let faults = FaultPlan::parse(faults, prometheus_actors::spine::ACTOR_NAMES).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Spine::start(&ctx, stores, faults, clock).await.unwrap()
}

async fn run(spine: &Spine, dag: &str, date: &str) -> RunSummary {
    let submit = Submit {
        dag_id: dag.into(),
        market: MarketId::from("US_EQ"),
        as_of: date.parse::<NaiveDate>().unwrap(),
        trigger: "test".into(),
        rerun: false,
        run_key: None,
        stands_at: None,
    };
    let s = spine.orchestrator.send(submit).await.unwrap().unwrap();
    let rx = spine
        .orchestrator
        .send(WaitRun(s.run_id.clone()))
        .await
        .unwrap()
        .expect("the run is active");
    tokio::time::timeout(Duration::from_secs(120), rx)
        .await
        .expect("run finished in time")
        .unwrap()
}

/// Runs the daily DAG over [`DATES`] with `faults` and returns the outputs and the spine.
async fn daily_over_dates(env: &Env, faults: &str) -> (common::Outputs, Spine) {
    let spine = start(env, faults).await;
    for d in DATES {
        let s = run(&spine, "daily", d).await;
        assert_eq!(s.state.as_str(), "SUCCEEDED", "{d}: {s:?}");
    }
    spine.shutdown(Duration::from_secs(5)).await;
    (outputs(spine.stores.historical.pool()).await, spine)
}

async fn panic_is_restarted_and_retried(reference: Env, faulty: Env) {
    let (clean, _) = daily_over_dates(&reference, "").await;
    assert!(!clean.prices.is_empty() && !clean.returns.is_empty() && !clean.factors.is_empty());
    assert!(clean.marks.is_empty());
    // A panic inside derive's computation (after its writes: derive computes inside the
    // store's paths) and one on ingest's actor thread: the same supervised event.
    let (with_faults, spine) =
        daily_over_dates(&faulty, "derived:panic@1,ingest:actor-panic@2").await;
    assert_eq!(
        with_faults, clean,
        "every output table equals the fault-free run's"
    );
    let rt = &spine.stores.runtime;
    let first = attempts(rt, &format!("daily:US_EQ:{}", DATES[0])).await;
    assert_eq!(first[0].0, "derive");
    assert_eq!((first[0].1, first[0].2.as_str()), (1, "FAILED"));
    assert!(
        first[0]
            .3
            .as_deref()
            .unwrap()
            .contains("injected fault derived:panic@1 inside the computation"),
        "{first:?}"
    );
    assert_eq!((first[1].1, first[1].2.as_str()), (2, "SUCCEEDED"));
    let second = attempts(rt, &format!("daily:US_EQ:{}", DATES[1])).await;
    assert!(
        second
            .iter()
            .any(|a| a.0 == "ingest" && a.1 == 1 && a.2 == "FAILED")
    );
    assert!(
        second
            .iter()
            .any(|a| a.0 == "ingest" && a.1 == 2 && a.2 == "SUCCEEDED")
    );
    let ev = events(rt).await;
    let restarts = |actor: &str| {
        ev.iter()
            .filter(|(a, e, _)| a == actor && e == "restarted")
            .count()
    };
    assert_eq!((restarts("derived"), restarts("ingest")), (1, 1), "{ev:?}");
    assert!(ev.iter().any(|(a, e, _)| a == "derived" && e == "started"));
    reference.cleanup().await;
    faulty.cleanup().await;
}

#[test]
fn a_panicking_job_is_restarted_retried_and_changes_nothing_sqlite() {
    in_system(panic_is_restarted_and_retried(Env::sqlite(), Env::sqlite()));
}

#[test]
fn a_panicking_job_is_restarted_retried_and_changes_nothing_postgres() {
    in_system(async {
        let dags = common::dags(30.0, 30.0, 3);
        let a = Env::postgres("panic_ref", &dags, "").await;
        let b = Env::postgres("panic_faulty", &dags, "").await;
        panic_is_restarted_and_retried(a, b).await;
    });
}

#[test]
fn repeated_panics_escalate_and_other_actors_keep_serving() {
    in_system(async {
        let env = Env::with(
            None,
            &common::dags(30.0, 30.0, 6),
            "[supervision.actor.derived]\nmax_restarts = 2\nwindow_secs = 60\nbackoff_ms = 10\nbackoff_max_ms = 20\n",
        );
        let spine = start(&env, "derived:panic@*").await;
        let first = run(&spine, "daily", DATES[0]).await;
        assert_eq!(first.state.as_str(), "FAILED");
        let derive = first.jobs.iter().find(|j| j.job_id == "derive").unwrap();
        assert_eq!(derive.status, "FAILED");
        assert!(
            derive.error.as_deref().unwrap().contains("DEGRADED"),
            "{derive:?}"
        );
        // The next run: ingest (a healthy actor) still works; derive fails at once, clearly.
        let second = run(&spine, "daily", DATES[1]).await;
        assert_eq!(second.state.as_str(), "FAILED");
        let ingest = second.jobs.iter().find(|j| j.job_id == "ingest").unwrap();
        assert_eq!((ingest.attempts, ingest.status), (1, "SUCCEEDED"));
        let rt = &spine.stores.runtime;
        let second_attempts = attempts(rt, &format!("daily:US_EQ:{}", DATES[1])).await;
        let d = second_attempts.iter().find(|a| a.0 == "derive").unwrap();
        assert_eq!(
            (d.1, d.2.as_str()),
            (1, "FAILED"),
            "no retries on a degraded actor"
        );
        assert!(d.3.as_deref().unwrap().contains("is DEGRADED"));
        let drill = run(&spine, "drill", DATES[1]).await;
        assert_eq!(
            drill.state.as_str(),
            "SUCCEEDED",
            "other actors are unaffected"
        );
        spine.shutdown(Duration::from_secs(5)).await;
        let ev = events(rt).await;
        let of = |e: &str| {
            ev.iter()
                .filter(|(a, x, _)| a == "derived" && x == e)
                .count()
        };
        assert_eq!(
            (of("restarted"), of("escalated"), of("alert")),
            (2, 1, 1),
            "{ev:?}"
        );
        let statuses = spine.statuses().await;
        let derived = statuses.iter().find(|s| s.name == "derived").unwrap();
        assert_eq!(derived.lifecycle.to_string(), "DEGRADED");
        // The same story in /metrics: restarts, the escalation, retried and failed
        // attempts, the failed runs, the rows the healthy ingest wrote.
        let metrics = spine
            .events
            .telemetry()
            .render(&prometheus_actors::monitor::telemetry::Gauges::default());
        for line in [
            "pv2_actor_restarts_total{actor=\"derived\"} 2",
            "pv2_actor_escalations_total{actor=\"derived\"} 1",
            "pv2_job_retries_total{dag=\"daily\",job=\"derive\"} 2",
            "pv2_job_attempts_total{dag=\"daily\",job=\"ingest\",state=\"SUCCEEDED\"} 2",
            "pv2_runs_total{dag=\"daily\",state=\"FAILED\"} 2",
            "pv2_runs_total{dag=\"drill\",state=\"SUCCEEDED\"} 1",
        ] {
            assert!(metrics.contains(line), "missing `{line}` in\n{metrics}");
        }
        assert!(
            metrics.contains("pv2_rows_written_total{actor=\"ingest\"}"),
            "{metrics}"
        );
        env.cleanup().await;
    });
}

#[test]
fn a_hanging_job_times_out_is_retried_and_its_late_result_is_ignored() {
    in_system(async {
        let reference = Env::with(None, &common::dags(1.0, 30.0, 3), "");
        let (clean, _) = daily_over_dates(&reference, "").await;
        let env = Env::with(None, &common::dags(1.0, 30.0, 3), "");
        let spine = start(&env, "ingest:hang@1").await;
        let s = run(&spine, "daily", DATES[0]).await;
        assert_eq!(s.state.as_str(), "SUCCEEDED");
        let rt = &spine.stores.runtime;
        let a = attempts(rt, &format!("daily:US_EQ:{}", DATES[0])).await;
        let ingest: Vec<_> = a
            .iter()
            .filter(|x| x.0 == "ingest")
            .map(|x| (x.1, x.2.as_str()))
            .collect();
        assert_eq!(ingest, [(1, "TIMED_OUT"), (2, "SUCCEEDED")]);
        // The hung attempt finishes (2 × timeout + 0.5 s) after the retry; its result is ignored.
        tokio::time::sleep(Duration::from_millis(2_000)).await;
        for d in &DATES[1..] {
            assert_eq!(run(&spine, "daily", d).await.state.as_str(), "SUCCEEDED");
        }
        spine.shutdown(Duration::from_secs(5)).await;
        let ev = events(rt).await;
        assert!(
            ev.iter().any(|(a, e, d)| a == "orchestrator"
                && e == "late_result_ignored"
                && d.contains("ingest attempt 1")),
            "{ev:?}"
        );
        assert!(
            ev.iter()
                .any(|(a, e, _)| a == "orchestrator" && e == "job_timed_out")
        );
        let runs = rt.dag_runs(10).await.unwrap();
        assert!(runs.iter().all(|r| r.state.as_str() == "SUCCEEDED"));
        assert_eq!(
            outputs(spine.stores.historical.pool()).await,
            clean,
            "late writes changed nothing"
        );
        reference.cleanup().await;
        env.cleanup().await;
    });
}

#[test]
fn repeated_submits_do_not_rerun_finished_dates_unless_asked() {
    in_system(async {
        let env = Env::sqlite();
        let spine = start(&env, "").await;
        assert_eq!(
            run(&spine, "drill", DATES[0]).await.state.as_str(),
            "SUCCEEDED"
        );
        let again = Submit {
            dag_id: "drill".into(),
            market: MarketId::from("US_EQ"),
            as_of: DATES[0].parse().unwrap(),
            trigger: "test".into(),
            rerun: false,
            run_key: None,
            stands_at: None,
        };
        let s = spine.orchestrator.send(again).await.unwrap().unwrap();
        assert_eq!(s.finished.map(|f| f.as_str()), Some("SUCCEEDED"));
        let rerun = Submit {
            dag_id: "drill".into(),
            market: MarketId::from("US_EQ"),
            as_of: DATES[0].parse().unwrap(),
            trigger: "test".into(),
            rerun: true,
            run_key: None,
            stands_at: None,
        };
        let s = spine.orchestrator.send(rerun).await.unwrap().unwrap();
        assert_eq!(s.run_id, format!("drill:US_EQ:{}:r2", DATES[0]));
        let bad = Submit {
            dag_id: "nope".into(),
            market: MarketId::from("US_EQ"),
            as_of: DATES[0].parse().unwrap(),
            trigger: "test".into(),
            rerun: false,
            run_key: None,
            stands_at: None,
        };
        let e = spine.orchestrator.send(bad).await.unwrap().unwrap_err();
        assert!(
            e.contains("unknown DAG `nope`") && e.contains("daily"),
            "{e}"
        );
        spine.shutdown(Duration::from_secs(5)).await;
        env.cleanup().await;
    });
}

/// Submits the daily DAG for every date at once (as a catch-up or a backtest does) and
/// waits for all.
async fn daily_all_at_once(env: &Env) -> (common::Outputs, Spine) {
    let spine = start(env, "").await;
    let mut waits = Vec::new();
    for d in DATES {
        let submit = Submit {
            dag_id: "daily".into(),
            market: MarketId::from("US_EQ"),
            as_of: d.parse::<NaiveDate>().unwrap(),
            trigger: "test".into(),
            rerun: false,
            run_key: None,
            stands_at: None,
        };
        let s = spine.orchestrator.send(submit).await.unwrap().unwrap();
        let rx = spine
            .orchestrator
            .send(WaitRun(s.run_id.clone()))
            .await
            .unwrap()
            .expect("the run is active");
        waits.push((d, rx));
    }
    for (d, rx) in waits {
        let s = tokio::time::timeout(Duration::from_secs(120), rx)
            .await
            .expect("run finished in time")
            .unwrap();
        assert_eq!(s.state.as_str(), "SUCCEEDED", "{d}: {s:?}");
    }
    spine.shutdown(Duration::from_secs(5)).await;
    (outputs(spine.stores.historical.pool()).await, spine)
}

#[test]
fn dates_in_flight_run_one_after_another_and_write_what_one_at_a_time_writes() {
    in_system(async {
        let (reference, overlapped) = (Env::sqlite(), Env::sqlite());
        let (one_by_one, _) = daily_over_dates(&reference, "").await;
        let (together, spine) = daily_all_at_once(&overlapped).await;
        assert_eq!(together, one_by_one);
        // Each date's run started once the earlier date's was over (with four jobs allowed
        // at once, all three ingests would otherwise have started together, and derive
        // would have lost the marks of the next day's ingest).
        let rt = &spine.stores.runtime;
        let mut spans = Vec::new();
        for d in DATES {
            let runs = rt.job_runs(&format!("daily:US_EQ:{d}")).await.unwrap();
            let start = runs.iter().map(|r| r.started_at).min().expect("jobs ran");
            let end = runs.iter().filter_map(|r| r.finished_at).max();
            spans.push((d, start, end.expect("jobs finished")));
        }
        for w in spans.windows(2) {
            assert!(
                w[1].1 >= w[0].2,
                "the run for {} started before the run for {} ended: {spans:?}",
                w[1].0,
                w[0].0
            );
        }
        reference.cleanup().await;
        overlapped.cleanup().await;
    });
}

#[test]
fn a_degraded_actor_is_reset_by_an_operator_and_serves_again() {
    in_system(async {
        let env = Env::with(
            None,
            &common::dags(30.0, 30.0, 6),
            "[supervision.actor.derived]\nmax_restarts = 2\nwindow_secs = 600\nbackoff_ms = 10\nbackoff_max_ms = 20\n",
        );
        // Three panics in a row: two restarts, then DEGRADED.
        let spine = start(&env, "derived:panic@1,derived:panic@2,derived:panic@3").await;
        let first = run(&spine, "daily", DATES[0]).await;
        assert_eq!(first.state.as_str(), "FAILED");
        let status = |name: &'static str| {
            let spine = &spine;
            async move {
                spine
                    .statuses()
                    .await
                    .into_iter()
                    .find(|s| s.name == name)
                    .unwrap()
            }
        };
        assert_eq!(status("derived").await.lifecycle.as_str(), "DEGRADED");
        // Resetting a healthy actor changes nothing; resetting the degraded one brings it
        // back, with who asked on record, and its jobs are dispatched again.
        let healthy = spine.reset("ingest", "ops@desk").await.unwrap();
        assert!(!healthy.changed);
        assert!(spine.reset("ghost", "ops@desk").await.is_err());
        let reset = spine.reset("derived", "ops@desk").await.unwrap();
        assert!(reset.changed);
        assert_eq!(reset.was.as_str(), "DEGRADED");
        let s = status("derived").await;
        assert_eq!((s.lifecycle.as_str(), s.recent_restarts), ("RUNNING", 0));
        assert!(
            s.last_error
                .is_some_and(|(_, e)| e.contains("DEGRADED") || e.contains("panicked"))
        );
        let again = run(&spine, "daily", DATES[1]).await;
        assert_eq!(again.state.as_str(), "SUCCEEDED", "{again:?}");
        spine.shutdown(Duration::from_secs(5)).await;
        let ev = events(&spine.stores.runtime).await;
        assert!(
            ev.iter().any(|(a, e, d)| a == "derived"
                && e == "reset"
                && d.contains("requested by ops@desk")),
            "{ev:?}"
        );
        env.cleanup().await;
    });
}

#[test]
fn a_restart_fails_the_actors_other_attempts_at_once_and_they_are_retried() {
    in_system(async {
        let env = Env::sqlite();
        std::fs::write(
            env.config_dir().join("engines/noop.toml"),
            "work_ms = 3000\n",
        )
        .unwrap();
        // Two drill runs at once on the noop actor: its first job sleeps, its second panics
        // on the actor's thread. The sleeping attempt is lost with the restart; it must
        // fail at once (and be retried), not wait for its 30 s timeout.
        let spine = start(&env, "noop:actor-panic@2").await;
        let started = std::time::Instant::now();
        let mut waits = Vec::new();
        for market in ["US_EQ", "EU_EQ"] {
            let submit = Submit {
                dag_id: "drill".into(),
                market: MarketId::from(market),
                as_of: DATES[0].parse().unwrap(),
                trigger: "test".into(),
                rerun: false,
                run_key: None,
                stands_at: None,
            };
            let s = spine.orchestrator.send(submit).await.unwrap().unwrap();
            let rx = spine
                .orchestrator
                .send(WaitRun(s.run_id.clone()))
                .await
                .unwrap()
                .unwrap();
            waits.push((s.run_id, rx));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for (run_id, rx) in waits {
            let s = rx.await.unwrap();
            assert_eq!(s.state.as_str(), "SUCCEEDED", "{run_id}: {s:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the abandoned attempt waited for its timeout: {:?}",
            started.elapsed()
        );
        let rt = &spine.stores.runtime;
        let us = attempts(rt, &format!("drill:US_EQ:{}", DATES[0])).await;
        assert_eq!(us.len(), 2, "{us:?}");
        assert_eq!((us[0].1, us[0].2.as_str()), (1, "FAILED"));
        assert!(us[0].3.as_deref().unwrap().contains("abandoned"), "{us:?}");
        assert_eq!((us[1].1, us[1].2.as_str()), (2, "SUCCEEDED"));
        spine.shutdown(Duration::from_secs(5)).await;
        let ev = events(rt).await;
        assert!(
            ev.iter()
                .any(|(a, e, _)| a == "noop" && e == "attempt_abandoned"),
            "{ev:?}"
        );
        let classes: Vec<_> = rt
            .job_runs(&format!("drill:US_EQ:{}", DATES[0]))
            .await
            .unwrap()
            .into_iter()
            .map(|j| j.error_class.map(|c| c.as_str()))
            .collect();
        assert_eq!(classes, [Some("transient"), None]);
        env.cleanup().await;
    });
}

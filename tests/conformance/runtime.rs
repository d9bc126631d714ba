//! Runtime database: configs, runs, events.

use crate::harness::{TestDb, conformance, date};
use chrono::{DateTime, TimeDelta, Utc};
use prometheus::domain::{AttemptState, ConfigId, ErrorClass, EventKind, RunStatus};
use prometheus::store::{
    ActorEvent, ConfigStore, DagRunRecord, EventLog, JobRunRecord, RunRecord, RunStore,
};

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

async fn config_versions_activation_and_audit(db: &TestDb) {
    let r = &db.runtime;
    assert!(r.active_config("derived").await.unwrap().is_none());
    let (v1, changed) = r
        .activate_config(
            "derived",
            &ConfigId::from("derived-aaa"),
            "{\"a\":1}",
            "bootstrap",
            "initial",
            t(0),
        )
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(v1.version, 1);
    let (_, changed) = r
        .activate_config(
            "derived",
            &ConfigId::from("derived-aaa"),
            "{\"a\":1}",
            "cli",
            "again",
            t(1),
        )
        .await
        .unwrap();
    assert!(!changed, "activating the active config is a no-op");
    let (v2, _) = r
        .activate_config(
            "derived",
            &ConfigId::from("derived-bbb"),
            "{\"a\":2}",
            "cli",
            "tune",
            t(2),
        )
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let by_id = r
        .config(&ConfigId::from("derived-aaa"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (by_id.version, by_id.body.as_str()),
        (1, "{\"a\":1}"),
        "inactive versions stay readable"
    );
    assert!(r.config(&ConfigId::from("nope")).await.unwrap().is_none());
    r.record_config_rejection("derived", "cli", "key `a`: must be positive", t(3))
        .await
        .unwrap();
    let (back, _) = r
        .activate_config(
            "derived",
            &ConfigId::from("derived-aaa"),
            "{\"a\":1}",
            "cli",
            "roll back",
            t(4),
        )
        .await
        .unwrap();
    assert_eq!(back.version, 1, "an existing config keeps its version");
    assert_eq!(
        r.active_config("derived").await.unwrap().unwrap().config_id,
        ConfigId::from("derived-aaa")
    );
    assert_eq!(r.config_versions("derived").await.unwrap().len(), 2);
    let changes = r.config_changes("derived").await.unwrap();
    let trail: Vec<(&str, Option<&str>, Option<&str>)> = changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.old_config_id.as_ref().map(ConfigId::as_str),
                c.new_config_id.as_ref().map(ConfigId::as_str),
            )
        })
        .collect();
    assert_eq!(
        trail,
        [
            ("activated", None, Some("derived-aaa")),
            ("activated", Some("derived-aaa"), Some("derived-bbb")),
            ("rejected", Some("derived-bbb"), None),
            ("activated", Some("derived-bbb"), Some("derived-aaa")),
        ]
    );
    assert_eq!(changes[2].reason, "key `a`: must be positive");
    assert_eq!(changes[0].at, t(0));
    let err = r
        .activate_config(
            "other",
            &ConfigId::from("derived-aaa"),
            "{}",
            "cli",
            "",
            t(5),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("belongs to engine `derived`"),
        "{err}"
    );
}

async fn runs_and_attempts_are_upserted(db: &TestDb) {
    let r = &db.runtime;
    let mut run = DagRunRecord {
        run_id: "daily:US_EQ:2024-01-02".into(),
        dag_id: "daily".into(),
        market_id: Some("US_EQ".into()),
        as_of_date: Some(date("2024-01-02")),
        state: RunStatus::Running,
        trigger: "cli".into(),
        created_at: t(0),
        finished_at: None,
        error: None,
    };
    r.upsert_dag_run(&run).await.unwrap();
    let mut job = JobRunRecord {
        run_id: run.run_id.clone(),
        job_id: "ingest".into(),
        attempt: 1,
        actor: "ingest".into(),
        state: AttemptState::Running,
        error_class: None,
        config_id: None,
        started_at: t(1),
        finished_at: None,
        error: None,
    };
    r.upsert_job_run(&job).await.unwrap();
    job.state = AttemptState::Failed;
    job.error_class = Some(ErrorClass::Transient);
    job.error = Some("boom".into());
    job.finished_at = Some(t(2));
    r.upsert_job_run(&job).await.unwrap();
    let retry = JobRunRecord {
        attempt: 2,
        state: AttemptState::Succeeded,
        error_class: None,
        config_id: Some("ingest-1".into()),
        error: None,
        started_at: t(3),
        finished_at: Some(t(4)),
        ..job.clone()
    };
    r.upsert_job_run(&retry).await.unwrap();
    assert_eq!(r.unfinished_dag_runs().await.unwrap().len(), 1);
    run.state = RunStatus::Succeeded;
    run.finished_at = Some(t(5));
    r.upsert_dag_run(&run).await.unwrap();
    assert!(r.unfinished_dag_runs().await.unwrap().is_empty());
    assert_eq!(r.dag_run(&run.run_id).await.unwrap().unwrap(), run);
    let jobs = r.job_runs(&run.run_id).await.unwrap();
    assert_eq!(jobs, [job, retry.clone()]);
    // An upstream actor's config is found by market, date and actor, in any run.
    assert_eq!(
        r.succeeded_config("US_EQ", date("2024-01-02"), "ingest")
            .await
            .unwrap(),
        Some(ConfigId::new("ingest-1"))
    );
    assert_eq!(
        r.succeeded_config("US_EQ", date("2024-01-03"), "ingest")
            .await
            .unwrap(),
        None
    );
    let later = DagRunRecord {
        run_id: "daily:US_EQ:2024-01-03".into(),
        created_at: t(10),
        ..run.clone()
    };
    r.upsert_dag_run(&later).await.unwrap();
    let recent = r.dag_runs(1).await.unwrap();
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].run_id, later.run_id);
    // A day's runs (the dashboard's pipeline) and the succeeded attempts of a window, each
    // with its DAG (a job's usual latency).
    let day = r.runs_on("US_EQ", date("2024-01-02")).await.unwrap();
    assert_eq!(
        day,
        [run.clone(), later.clone()],
        "both are for that session, oldest first"
    );
    assert!(
        r.runs_on("JP_EQ", date("2024-01-02"))
            .await
            .unwrap()
            .is_empty()
    );
    let done = r
        .succeeded_attempts("US_EQ", date("2024-01-01"), date("2024-01-03"))
        .await
        .unwrap();
    assert_eq!(done, [("daily".to_owned(), retry.clone())]);
    assert!(
        r.succeeded_attempts("US_EQ", date("2024-01-03"), date("2024-01-05"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn batched_run_records_apply_in_order(db: &TestDb) {
    let r = &db.runtime;
    let run = DagRunRecord {
        run_id: "drill:US_EQ:2024-01-02".into(),
        dag_id: "drill".into(),
        market_id: None,
        as_of_date: None,
        state: RunStatus::Running,
        trigger: "test".into(),
        created_at: t(0),
        finished_at: None,
        error: None,
    };
    let job = JobRunRecord {
        run_id: run.run_id.clone(),
        job_id: "first".into(),
        attempt: 1,
        actor: "ingest".into(),
        state: AttemptState::Running,
        error_class: None,
        config_id: None,
        started_at: t(1),
        finished_at: None,
        error: None,
    };
    let done = JobRunRecord {
        state: AttemptState::Succeeded,
        config_id: Some("noop-1".into()),
        finished_at: Some(t(2)),
        ..job.clone()
    };
    let finished = DagRunRecord {
        state: RunStatus::Succeeded,
        finished_at: Some(t(3)),
        ..run.clone()
    };
    r.record_runs(&[
        RunRecord::Run(run),
        RunRecord::Job(job),
        RunRecord::Job(done.clone()),
        RunRecord::Run(finished.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(
        r.dag_run(&finished.run_id).await.unwrap().unwrap(),
        finished
    );
    assert_eq!(r.job_runs(&finished.run_id).await.unwrap(), [done]);
    r.record_runs(&[]).await.unwrap();
}

async fn events_are_appended_in_order(db: &TestDb) {
    let r = &db.runtime;
    for (i, (actor, event)) in [
        ("regime", EventKind::Started),
        ("stability", EventKind::Started),
        ("regime", EventKind::Restarted),
        ("regime", EventKind::Escalated),
    ]
    .iter()
    .enumerate()
    {
        let e = ActorEvent {
            at: t(0) + TimeDelta::seconds(i as i64),
            actor: (*actor).into(),
            event: *event,
            detail: format!("#{i}"),
        };
        r.append_event(&e).await.unwrap();
    }
    let regime = r.events(Some("regime"), 2).await.unwrap();
    assert_eq!(
        regime.iter().map(|e| e.event.as_str()).collect::<Vec<_>>(),
        ["restarted", "escalated"]
    );
    assert_eq!(r.events(None, 100).await.unwrap().len(), 4);
}

/// The kill switch: ACTIVE until set; each change records the mode it replaced, who and
/// why; the latest is in force, read back by a second handle on the same database (what a
/// restarted daemon does).
async fn the_trading_mode_is_audited_and_the_latest_is_in_force(db: &TestDb) {
    use prometheus::domain::TradingMode;
    use prometheus::store::TradingStore;
    let r = &db.runtime;
    assert_eq!(r.trading_mode().await.unwrap(), (TradingMode::Active, None));
    let halt = r
        .set_trading_mode(TradingMode::Halted, "cli:ops@host", "broker outage", t(10))
        .await
        .unwrap();
    assert_eq!(
        (
            halt.mode,
            halt.previous,
            halt.actor.as_str(),
            halt.reason.as_str(),
            halt.at
        ),
        (
            TradingMode::Halted,
            TradingMode::Active,
            "cli:ops@host",
            "broker outage",
            t(10)
        )
    );
    let reduce = r
        .set_trading_mode(TradingMode::ReduceOnly, "http", "winding down", t(20))
        .await
        .unwrap();
    assert_eq!(reduce.previous, TradingMode::Halted);
    assert!(reduce.change_id > halt.change_id);
    let again = db.reopen_runtime().await;
    assert_eq!(
        again.trading_mode().await.unwrap(),
        (TradingMode::ReduceOnly, Some(reduce.clone()))
    );
    assert_eq!(
        again.trading_mode_changes(10).await.unwrap(),
        [reduce, halt.clone()]
    );
    assert_eq!(again.trading_mode_changes(1).await.unwrap().len(), 1);
    again.pool().close().await;
}

conformance!(
    the_trading_mode_is_audited_and_the_latest_is_in_force,
    config_versions_activation_and_audit,
    runs_and_attempts_are_upserted,
    batched_run_records_apply_in_order,
    events_are_appended_in_order
);

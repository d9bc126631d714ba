//! Kronos's tables (runtime): decisions and outcomes upserted on their keys, outcomes read
//! only once knowable, proposals with audited state transitions, the promotion freeze.

use crate::harness::{TestDb, conformance, date};
use chrono::{DateTime, Utc};
use prometheus::domain::ConfigId;
use prometheus::kronos::analytics::OutcomeRecord;
use prometheus::store::{
    ConfigStore, DecisionRecord, ExperimentEnd, ExperimentRecord, ExperimentStore, KronosStore,
    ProposalRecord, ProposalState, ShadowRun, ShadowStore, StoredOutcome, TransitionError,
};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).expect("timestamp")
}

fn decision(engine: &str, day: &str, summary: &str) -> DecisionRecord {
    DecisionRecord {
        engine: engine.into(),
        market_id: "US_EQ".into(),
        as_of: date(day),
        config_id: format!("{engine}-1"),
        run_id: format!("engines:US_EQ:{day}"),
        output_table: "target_portfolios".into(),
        output_key: "core".into(),
        summary: summary.into(),
    }
}

fn outcome(day: &str, known: &str, value: f64) -> StoredOutcome {
    StoredOutcome {
        record: OutcomeRecord {
            engine: "portfolio".into(),
            config_id: "portfolio-1".into(),
            market_id: "US_EQ".into(),
            as_of: date(day),
            regime: Some("CARRY".into()),
            subject: "portfolio".into(),
            horizon_days: 21,
            metric: "active_return".into(),
            value,
        },
        known_on: date(known),
        run_id: format!("kronos_daily:US_EQ:{known}"),
    }
}

async fn decisions_and_outcomes_upsert_and_read_as_known(db: &TestDb) {
    let r = &db.runtime;
    r.write_decisions(&[
        decision("portfolio", "2024-03-01", "first"),
        decision("assessment", "2024-03-01", "scores"),
    ])
    .await
    .unwrap();
    r.write_decisions(&[decision("portfolio", "2024-03-01", "again")])
        .await
        .unwrap();
    let d = r
        .decisions("US_EQ", date("2024-03-01"), date("2024-03-01"))
        .await
        .unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[1].summary, "again");
    r.write_outcomes(&[
        outcome("2024-03-01", "2024-04-01", 0.01),
        outcome("2024-03-04", "2024-04-02", -0.02),
    ])
    .await
    .unwrap();
    r.write_outcomes(&[outcome("2024-03-01", "2024-04-01", 0.03)])
        .await
        .unwrap();
    // The decisions of the dates asked for, not of the days between them.
    r.write_decisions(&[
        decision("portfolio", "2024-03-04", "next"),
        decision("portfolio", "2024-03-05", "after"),
    ])
    .await
    .unwrap();
    let on = r
        .decisions_on("US_EQ", &[date("2024-03-05"), date("2024-03-01")])
        .await
        .unwrap();
    assert_eq!(
        on.iter()
            .map(|d| (d.as_of, d.summary.as_str()))
            .collect::<Vec<_>>(),
        [
            (date("2024-03-01"), "scores"),
            (date("2024-03-01"), "again"),
            (date("2024-03-05"), "after")
        ]
    );
    assert!(r.decisions_on("US_EQ", &[]).await.unwrap().is_empty());
    assert!(
        r.decisions_on("EU_EQ", &[date("2024-03-01")])
            .await
            .unwrap()
            .is_empty()
    );
    // Which (date, horizon) pairs have outcomes: the date and the horizon must both match.
    let pairs = [
        (date("2024-03-04"), 21),
        (date("2024-03-01"), 5),
        (date("2024-03-01"), 21),
        (date("2024-03-05"), 21),
    ];
    assert_eq!(
        r.measured("US_EQ", &pairs).await.unwrap(),
        [(date("2024-03-01"), 21), (date("2024-03-04"), 21)]
            .into_iter()
            .collect()
    );
    assert!(r.measured("EU_EQ", &pairs).await.unwrap().is_empty());
    assert!(r.measured("US_EQ", &[]).await.unwrap().is_empty());
    // Only what was knowable by the date is read.
    let known = r
        .outcomes(Some("US_EQ"), None, date("2024-04-01"))
        .await
        .unwrap();
    assert_eq!(known.len(), 1);
    assert_eq!(known[0].record.value, 0.03);
    assert_eq!(known[0].record.regime.as_deref(), Some("CARRY"));
    let all = r
        .outcomes(None, Some("portfolio"), date("2024-12-31"))
        .await
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(
        r.outcomes(Some("EU_EQ"), None, date("2024-12-31"))
            .await
            .unwrap()
            .is_empty()
    );
}

fn proposal(id: &str, secs: i64) -> ProposalRecord {
    ProposalRecord {
        proposal_id: id.into(),
        engine: "portfolio".into(),
        market_id: "US_EQ".into(),
        config_id: format!("portfolio-{id}"),
        base_config_id: "portfolio-1".into(),
        body: "{}".into(),
        changes: "[]".into(),
        origin: "{\"kind\":\"sweep\"}".into(),
        sweep_id: "sweep-1".into(),
        state: ProposalState::Proposed.as_str().into(),
        reason: "risk_aversion 4 → 8".into(),
        created_at: at(secs),
        created_by: "kronos".into(),
        updated_at: at(secs),
        gates: None,
    }
}

async fn proposals_change_state_only_as_allowed_and_every_change_is_audited(db: &TestDb) {
    let r = &db.runtime;
    assert!(r.insert_proposal(&proposal("p1", 0)).await.unwrap());
    assert!(!r.insert_proposal(&proposal("p1", 5)).await.unwrap());
    assert!(r.insert_proposal(&proposal("p2", 10)).await.unwrap());
    assert_eq!(
        r.proposal_counts().await.unwrap(),
        [("PROPOSED".to_owned(), 2)].into_iter().collect()
    );
    let listed = r.proposals(None).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| p.proposal_id.as_str())
            .collect::<Vec<_>>(),
        vec!["p2", "p1"]
    );
    let err = r
        .transition_proposal(
            "p1",
            ProposalState::Promoted,
            None,
            "alice",
            "too early",
            at(20),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { .. }), "{err}");
    r.transition_proposal(
        "p1",
        ProposalState::Passed,
        Some("[]"),
        "kronos",
        "all gates",
        at(30),
    )
    .await
    .unwrap();
    let before = r
        .promote_proposal("p1", "alice", "approved", at(40))
        .await
        .unwrap();
    assert_eq!(before.state, "PASSED");
    assert!(matches!(
        r.transition_proposal("nope", ProposalState::Passed, None, "kronos", "", at(50))
            .await
            .unwrap_err(),
        TransitionError::Unknown(_)
    ));
    let p1 = r.proposal("p1").await.unwrap().unwrap();
    assert_eq!(
        (p1.state.as_str(), p1.reason.as_str()),
        ("PROMOTED", "approved")
    );
    assert_eq!(
        r.proposals(Some(ProposalState::Proposed))
            .await
            .unwrap()
            .len(),
        1
    );
    let audit = r.kronos_audit(100).await.unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|a| (a.action.as_str(), a.actor.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            ("proposed", "kronos"),
            ("proposed", "kronos"),
            ("passed", "kronos"),
            ("promoted", "alice"),
        ]
    );
}

async fn promotion_freezes_and_unfreezes_with_an_audit_row(db: &TestDb) {
    let r = &db.runtime;
    assert!(!r.freeze_state().await.unwrap().frozen);
    r.set_freeze(
        true,
        "kronos",
        "control caps_removed passed its gates",
        at(0),
    )
    .await
    .unwrap();
    let f = r.freeze_state().await.unwrap();
    assert!(f.frozen);
    assert_eq!(f.reason, "control caps_removed passed its gates");
    assert_eq!(f.by, "kronos");
    r.set_freeze(false, "alice", "gates fixed", at(10))
        .await
        .unwrap();
    assert!(!r.freeze_state().await.unwrap().frozen);
    let audit = r.kronos_audit(1).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "unfreeze");
}

async fn promotion_activates_the_config_in_one_step_and_revert_restores_the_old_one(db: &TestDb) {
    let r = &db.runtime;
    let base = ConfigId::new("portfolio-1");
    r.activate_config("portfolio", &base, "{\"v\":1}", "bootstrap", "start", at(0))
        .await
        .unwrap();
    let mut p = proposal("p9", 1);
    p.body = "{\"v\":2}".into();
    r.insert_proposal(&p).await.unwrap();
    // Only a PASSED proposal can be promoted.
    assert!(matches!(
        r.promote_proposal("p9", "alice", "early", at(2))
            .await
            .unwrap_err(),
        TransitionError::NotAllowed { .. }
    ));
    r.transition_proposal(
        "p9",
        ProposalState::Passed,
        Some("[{\"gate\":\"pbo\"}]"),
        "kronos",
        "ok",
        at(3),
    )
    .await
    .unwrap();
    assert_eq!(
        r.proposal("p9").await.unwrap().unwrap().gates.as_deref(),
        Some("[{\"gate\":\"pbo\"}]")
    );
    // Frozen: refused, nothing changes.
    r.set_freeze(true, "kronos", "a control passed", at(4))
        .await
        .unwrap();
    let err = r
        .promote_proposal("p9", "alice", "go", at(5))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransitionError::Frozen(ref why) if why == "a control passed"),
        "{err}"
    );
    assert_eq!(
        r.active_config("portfolio")
            .await
            .unwrap()
            .unwrap()
            .config_id,
        base
    );
    r.set_freeze(false, "alice", "fixed", at(6)).await.unwrap();
    r.promote_proposal("p9", "alice", "go", at(7))
        .await
        .unwrap();
    let active = r.active_config("portfolio").await.unwrap().unwrap();
    assert_eq!(active.config_id.as_str(), "portfolio-p9");
    assert_eq!(active.body, "{\"v\":2}");
    let changes = r.config_changes("portfolio").await.unwrap();
    assert!(
        changes
            .last()
            .unwrap()
            .reason
            .contains("promoted proposal p9")
    );
    assert_eq!(changes.last().unwrap().actor, "alice");
    r.revert_proposal("p9", "bob", "worse live", at(8))
        .await
        .unwrap();
    assert_eq!(
        r.active_config("portfolio")
            .await
            .unwrap()
            .unwrap()
            .config_id,
        base
    );
    assert_eq!(r.proposal("p9").await.unwrap().unwrap().state, "REVERTED");
    assert!(matches!(
        r.revert_proposal("p9", "bob", "again", at(9))
            .await
            .unwrap_err(),
        TransitionError::NotAllowed { .. }
    ));
}

fn experiment(id: &str, priority: i64, secs: i64) -> ExperimentRecord {
    ExperimentRecord {
        experiment_id: id.into(),
        sweep_id: "sweep-1".into(),
        proposal_id: Some(format!("kp-{id}")),
        priority,
        state: "QUEUED".into(),
        spec: "{}".into(),
        lease_owner: None,
        lease_expires: None,
        attempts: 0,
        result: None,
        error: None,
        created_at: at(secs),
        finished_at: None,
    }
}

async fn experiments_are_claimed_once_under_leases_that_expire(db: &TestDb) {
    let r = &db.runtime;
    assert!(r.enqueue_experiment(&experiment("a", 2, 0)).await.unwrap());
    assert!(r.enqueue_experiment(&experiment("b", 1, 5)).await.unwrap());
    assert!(!r.enqueue_experiment(&experiment("b", 1, 9)).await.unwrap());
    // Best priority first.
    let first = r
        .claim_experiment("w1", at(10), at(70))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.experiment_id.as_str(), first.attempts), ("b", 1));
    let second = r
        .claim_experiment("w2", at(10), at(70))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.experiment_id, "a");
    assert!(
        r.claim_experiment("w3", at(10), at(70))
            .await
            .unwrap()
            .is_none()
    );
    assert!(r.renew_lease("b", "w1", at(130)).await.unwrap());
    assert!(!r.renew_lease("b", "w2", at(130)).await.unwrap());
    // w2 dies: after its lease, w3 takes "a" over; w2's late result is refused.
    let taken = r
        .claim_experiment("w3", at(80), at(140))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((taken.experiment_id.as_str(), taken.attempts), ("a", 2));
    assert!(
        !r.finish_experiment("a", "w2", ExperimentEnd::Done("{}"), at(90))
            .await
            .unwrap()
    );
    assert!(
        r.finish_experiment("a", "w3", ExperimentEnd::Retry("busy"), at(95))
            .await
            .unwrap()
    );
    let again = r
        .claim_experiment("w3", at(96), at(150))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.experiment_id.as_str(), again.attempts), ("a", 3));
    assert!(
        r.finish_experiment("a", "w3", ExperimentEnd::Done("{\"x\":1}"), at(100))
            .await
            .unwrap()
    );
    assert!(
        r.finish_experiment("b", "w1", ExperimentEnd::Failed("no data"), at(101))
            .await
            .unwrap()
    );
    let all = r.experiments(Some("sweep-1")).await.unwrap();
    let states: Vec<(&str, &str)> = all
        .iter()
        .map(|e| (e.experiment_id.as_str(), e.state.as_str()))
        .collect();
    assert_eq!(states, vec![("b", "FAILED"), ("a", "DONE")]);
    assert_eq!(all[1].result.as_deref(), Some("{\"x\":1}"));
    assert!(all.iter().all(|e| e.lease_owner.is_none()));
    assert!(
        r.claim_experiment("w1", at(500), at(600))
            .await
            .unwrap()
            .is_none()
    );
}

async fn two_workers_racing_for_the_queue_never_share_an_experiment(db: &TestDb) {
    let r = &db.runtime;
    for i in 0..24 {
        r.enqueue_experiment(&experiment(&format!("e{i:02}"), i % 3, i))
            .await
            .unwrap();
    }
    // Two workers claim as fast as they can, each finishing what it claims.
    let worker = |name: &'static str| {
        let r = r.clone();
        tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(e) = r.claim_experiment(name, at(100), at(10_000)).await.unwrap() {
                assert!(
                    r.finish_experiment(&e.experiment_id, name, ExperimentEnd::Done("{}"), at(101))
                        .await
                        .unwrap()
                );
                mine.push(e.experiment_id);
            }
            mine
        })
    };
    let (a, b) = (worker("w1"), worker("w2"));
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    let mut all: Vec<String> = a.iter().chain(&b).cloned().collect();
    all.sort();
    let unique: std::collections::BTreeSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 24, "w1 {a:?} w2 {b:?}");
    assert_eq!(
        unique.len(),
        24,
        "an experiment was run twice: w1 {a:?} w2 {b:?}"
    );
    assert!(
        r.experiments(None)
            .await
            .unwrap()
            .iter()
            .all(|e| e.state == "DONE" && e.attempts == 1)
    );
    assert_eq!(
        r.experiment_counts().await.unwrap(),
        [("DONE".to_owned(), 24)].into_iter().collect()
    );
}

async fn a_passed_proposal_runs_in_shadow_until_a_person_decides(db: &TestDb) {
    let r = &db.runtime;
    let mut p = proposal("ps", 1);
    p.body = "{\"risk_aversion\":8.0}".into();
    r.insert_proposal(&p).await.unwrap();
    // Only a PASSED proposal can go in shadow.
    assert!(matches!(
        r.start_shadow("ps", "engines", 3, "alice", "early", at(2))
            .await
            .unwrap_err(),
        TransitionError::NotAllowed { .. }
    ));
    assert!(r.shadow("ps").await.unwrap().is_none());
    r.transition_proposal(
        "ps",
        ProposalState::Passed,
        Some("[]"),
        "kronos",
        "ok",
        at(3),
    )
    .await
    .unwrap();
    r.start_shadow("ps", "engines", 3, "alice", "watch it first", at(4))
        .await
        .unwrap();
    assert_eq!(
        r.proposal("ps").await.unwrap().unwrap().state,
        ProposalState::Shadow.as_str()
    );
    // Its config is a stored version, not the active one.
    let stored = r
        .config(&ConfigId::new("portfolio-ps"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.body, p.body);
    assert!(r.active_config("portfolio").await.unwrap().is_none());
    let active = r.active_shadows(Some("portfolio")).await.unwrap();
    assert_eq!(active.len(), 1);
    let spec = &active[0];
    assert_eq!(
        (
            spec.dag_id.as_str(),
            spec.sessions,
            spec.body.as_str(),
            spec.started_by.as_str()
        ),
        ("engines", 3, p.body.as_str(), "alice")
    );
    assert!(r.active_shadows(Some("regime")).await.unwrap().is_empty());
    // A session's run is upserted on (proposal, date).
    let mut run = ShadowRun {
        proposal_id: "ps".into(),
        as_of: date("2024-03-01"),
        engine: "portfolio".into(),
        market_id: "US_EQ".into(),
        config_id: "portfolio-ps".into(),
        run_id: "engines:US_EQ:2024-03-01".into(),
        state: "FAILED".into(),
        detail: "stale inputs".into(),
    };
    r.record_shadow_run(&run).await.unwrap();
    run.state = "SUCCEEDED".into();
    run.detail = "12 names".into();
    r.record_shadow_run(&run).await.unwrap();
    let mut next = run.clone();
    next.as_of = date("2024-03-04");
    next.run_id = "engines:US_EQ:2024-03-04".into();
    r.record_shadow_run(&next).await.unwrap();
    let runs = r.shadow_runs(Some("ps"), None).await.unwrap();
    assert_eq!(runs, vec![run.clone(), next.clone()]);
    assert_eq!(
        r.shadow_runs(None, Some(("US_EQ", date("2024-03-04"))))
            .await
            .unwrap(),
        vec![next]
    );
    assert!(
        r.shadow_runs(None, Some(("EU_EQ", date("2024-03-04"))))
            .await
            .unwrap()
            .is_empty()
    );
    // A person decides: the shadow is no longer active; its record stays.
    r.activate_config(
        "portfolio",
        &ConfigId::new("portfolio-1"),
        "{}",
        "bootstrap",
        "start",
        at(5),
    )
    .await
    .unwrap();
    r.promote_proposal("ps", "alice", "shadow looked right", at(6))
        .await
        .unwrap();
    assert!(r.active_shadows(None).await.unwrap().is_empty());
    assert_eq!(r.shadow("ps").await.unwrap().unwrap().sessions, 3);
    let actions: Vec<String> = r
        .kronos_audit(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.proposal_id.as_deref() == Some("ps"))
        .map(|a| a.action)
        .collect();
    assert_eq!(actions, vec!["proposed", "passed", "shadow", "promoted"]);
}

conformance!(
    a_passed_proposal_runs_in_shadow_until_a_person_decides,
    two_workers_racing_for_the_queue_never_share_an_experiment,
    promotion_activates_the_config_in_one_step_and_revert_restores_the_old_one,
    experiments_are_claimed_once_under_leases_that_expire,
    decisions_and_outcomes_upsert_and_read_as_known,
    proposals_change_state_only_as_allowed_and_every_change_is_audited,
    promotion_freezes_and_unfreezes_with_an_audit_row,
);

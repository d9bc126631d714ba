//! Kronos's tables (runtime): decisions and outcomes upserted on their keys, outcomes read
//! only once knowable, proposals with audited state transitions, the promotion freeze.

use crate::harness::{TestDb, conformance, date};
use chrono::{DateTime, Utc};
use prometheus::kronos::analytics::OutcomeRecord;
use prometheus::store::{
    DecisionRecord, KronosStore, ProposalRecord, ProposalState, StoredOutcome, TransitionError,
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
    }
}

async fn proposals_change_state_only_as_allowed_and_every_change_is_audited(db: &TestDb) {
    let r = &db.runtime;
    assert!(r.insert_proposal(&proposal("p1", 0)).await.unwrap());
    assert!(!r.insert_proposal(&proposal("p1", 5)).await.unwrap());
    assert!(r.insert_proposal(&proposal("p2", 10)).await.unwrap());
    let listed = r.proposals(None).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|p| p.proposal_id.as_str())
            .collect::<Vec<_>>(),
        vec!["p2", "p1"]
    );
    let err = r
        .transition_proposal("p1", ProposalState::Promoted, "alice", "too early", at(20))
        .await
        .unwrap_err();
    assert!(matches!(err, TransitionError::NotAllowed { .. }), "{err}");
    r.transition_proposal("p1", ProposalState::Passed, "kronos", "all gates", at(30))
        .await
        .unwrap();
    let before = r
        .transition_proposal("p1", ProposalState::Promoted, "alice", "approved", at(40))
        .await
        .unwrap();
    assert_eq!(before.state, "PASSED");
    assert!(matches!(
        r.transition_proposal("nope", ProposalState::Passed, "kronos", "", at(50))
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

conformance!(
    decisions_and_outcomes_upsert_and_read_as_known,
    proposals_change_state_only_as_allowed_and_every_change_is_audited,
    promotion_freezes_and_unfreezes_with_an_audit_row,
);

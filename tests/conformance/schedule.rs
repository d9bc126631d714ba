//! Runtime database: the scheduler's activations and watermarks.

use crate::harness::{TestDb, conformance, date};
use chrono::{DateTime, TimeDelta, Utc};
use prometheus::store::{Activation, ScheduleStore};

fn t(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_710_000_000 + secs, 0).unwrap()
}

fn activation(id: &str, due: i64, outcome: &str, run: Option<&str>) -> Activation {
    Activation {
        activation_id: id.into(),
        scheduler_id: "daemon".into(),
        dag_id: "daily".into(),
        market_id: "US_EQ".into(),
        as_of_date: date("2024-03-11"),
        trigger: "POST_CLOSE".into(),
        due_at: t(due),
        fired_at: t(due + 2),
        outcome: outcome.into(),
        run_id: run.map(str::to_owned),
    }
}

async fn activations_are_recorded_once(db: &TestDb) {
    let r = &db.runtime;
    let a = activation(
        "daily:US_EQ:2024-03-11:POST_CLOSE",
        100,
        "fired",
        Some("daily:US_EQ:2024-03-11"),
    );
    assert!(!r.activation_exists(&a.activation_id).await.unwrap());
    assert!(r.record_activation(&a).await.unwrap());
    assert!(r.activation_exists(&a.activation_id).await.unwrap());
    // A second record of the same id writes nothing and keeps the first.
    let again = Activation {
        outcome: "skipped".into(),
        run_id: None,
        ..a.clone()
    };
    assert!(!r.record_activation(&again).await.unwrap());
    let skipped = activation("daily:US_EQ:2024-03-12:POST_CLOSE", 50, "skipped", None);
    assert!(r.record_activation(&skipped).await.unwrap());
    let refused = activation("daily:US_EQ:2024-03-13:POST_CLOSE", 300, "refused", None);
    assert!(r.record_activation(&refused).await.unwrap());
    // Read back by due time, inclusive bounds, every field intact.
    assert_eq!(
        r.activations(t(50), t(100)).await.unwrap(),
        [skipped.clone(), a.clone()]
    );
    assert_eq!(r.activations(t(0), t(1000)).await.unwrap().len(), 3);
    assert!(r.activations(t(101), t(299)).await.unwrap().is_empty());
    // An unknown outcome is refused by the schema.
    let bad = activation("x", 1, "maybe", None);
    assert!(r.record_activation(&bad).await.is_err());
}

async fn watermarks_move_per_scheduler(db: &TestDb) {
    let r = &db.runtime;
    assert_eq!(r.watermark("daemon").await.unwrap(), None);
    r.set_watermark("daemon", t(10)).await.unwrap();
    r.set_watermark("backfill:*:US_EQ:2024-01-01:2024-12-31", t(5))
        .await
        .unwrap();
    r.set_watermark("daemon", t(20) + TimeDelta::milliseconds(250))
        .await
        .unwrap();
    assert_eq!(
        r.watermark("daemon").await.unwrap(),
        Some(t(20) + TimeDelta::milliseconds(250))
    );
    assert_eq!(
        r.watermark("backfill:*:US_EQ:2024-01-01:2024-12-31")
            .await
            .unwrap(),
        Some(t(5))
    );
}

conformance!(activations_are_recorded_once, watermarks_move_per_scheduler);

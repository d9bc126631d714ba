//! Historical database: fundamentals read as they were known on a date (by filing date).

use crate::harness::{TestDb, conformance, date};
use crate::reference::issuer;
use prometheus::domain::{FundamentalValue, IssuerId};
use prometheus::store::{FundamentalsStore, ReferenceStore};

fn f(metric: &str, period: &str, filed: &str, value: f64) -> FundamentalValue {
    FundamentalValue {
        issuer_id: IssuerId::new("AAA"),
        metric: metric.into(),
        period_end: date(period),
        filed: date(filed),
        value,
    }
}

async fn figures_are_known_from_their_filing_date(db: &TestDb) {
    let h = &db.historical;
    h.upsert_issuers(&[issuer("AAA", Some("Tech"))])
        .await
        .unwrap();
    let q1 = f("revenue", "2024-03-31", "2024-05-02", 100.0);
    let q1_restated = f("revenue", "2024-03-31", "2024-06-20", 95.0);
    let q2 = f("revenue", "2024-06-30", "2024-08-01", 110.0);
    let assets = f("total_assets", "2024-03-31", "2024-05-02", 1000.0);
    h.write_fundamentals(
        "b1",
        &[q2.clone(), q1.clone(), q1_restated.clone(), assets.clone()],
    )
    .await
    .unwrap();
    let known = |d: &str| {
        let d = date(d);
        async move {
            h.fundamentals_as_of(&IssuerId::new("AAA"), d)
                .await
                .unwrap()
        }
    };
    // Before any filing: nothing, although the period has ended.
    assert!(known("2024-04-15").await.is_empty());
    // The filing day: the figure as first filed.
    assert_eq!(known("2024-05-02").await, vec![q1.clone(), assets.clone()]);
    // After the restatement: the restated figure, the other metric unchanged.
    assert_eq!(known("2024-07-01").await, vec![q1_restated, assets.clone()]);
    // After the next quarter is filed: the latest period.
    assert_eq!(known("2024-12-31").await, vec![q2, assets]);
    // Every issuer at once reads the same as one issuer at a time.
    h.upsert_issuers(&[issuer("BBB", None)]).await.unwrap();
    let other = FundamentalValue {
        issuer_id: IssuerId::new("BBB"),
        ..f("revenue", "2024-03-31", "2024-05-10", 7.0)
    };
    h.write_fundamentals("b3", std::slice::from_ref(&other))
        .await
        .unwrap();
    for d in [
        "2024-04-15",
        "2024-05-02",
        "2024-05-10",
        "2024-07-01",
        "2024-12-31",
    ] {
        let all = h.all_fundamentals_as_of(date(d)).await.unwrap();
        for issuer in ["AAA", "BBB"] {
            let one = h
                .fundamentals_as_of(&IssuerId::new(issuer), date(d))
                .await
                .unwrap();
            assert_eq!(
                all.get(&IssuerId::new(issuer)).cloned().unwrap_or_default(),
                one,
                "{issuer} on {d}"
            );
        }
    }
    // Re-writing a key replaces its value (no duplicate).
    h.write_fundamentals("b2", &[f("revenue", "2024-03-31", "2024-05-02", 101.0)])
        .await
        .unwrap();
    assert_eq!(known("2024-05-02").await[0].value, 101.0);
}

conformance!(figures_are_known_from_their_filing_date);

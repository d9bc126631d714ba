//! No read bounded by `as_of` ever returns anything dated after it.

use crate::harness::{TestDb, conformance, date};
use crate::prices::{path, register};
use chrono::{NaiveDate, TimeDelta};
use prometheus::config::VersionedConfig;
use prometheus::derived::{DerivedConfig, derive_incremental};
use prometheus::domain::{
    InstrumentId, IssuerId, MarketId, NewsArticle, NewsLink, RunId, date_floor,
};
use prometheus::store::{DerivedStore, NewsStore, PriceStore};

async fn reads_stop_at_as_of(db: &TestDb) {
    register(db, &["AAA", "BBB"]).await;
    let h = &db.historical;
    let all = vec![path("AAA", 60, 0.0), path("BBB", 45, 1.0)];
    h.write_prices("b", &all).await.unwrap();
    derive_incremental(
        h,
        &VersionedConfig::new(DerivedConfig::default()),
        &RunId::from("r"),
        |_, _| {},
    )
    .await
    .unwrap();
    let articles: Vec<NewsArticle> = all[0]
        .bars
        .iter()
        .map(|b| NewsArticle {
            article_id: format!("n-{}", b.trade_date),
            published_at: b.trade_date.and_hms_opt(21, 0, 0).unwrap().and_utc(),
            source: "t".into(),
            headline: "h".into(),
            body: String::new(),
        })
        .collect();
    let links: Vec<NewsLink> = articles
        .iter()
        .map(|a| NewsLink {
            article_id: a.article_id.clone(),
            issuer_id: IssuerId::from("AAA"),
            instrument_id: InstrumentId::from("US_EQ:AAA"),
        })
        .collect();
    h.write_news("n", &articles, &links).await.unwrap();

    let days: Vec<NaiveDate> = all[0].bars.iter().map(|b| b.trade_date).collect();
    for as_of in [
        days[0],
        days[7],
        days[30],
        days[44],
        days[45],
        days[59],
        days[59] + TimeDelta::days(400),
    ] {
        for s in &all {
            let bars = h.bars(&s.instrument_id, date_floor(), as_of).await.unwrap();
            let want: Vec<_> = s
                .bars
                .iter()
                .filter(|b| b.trade_date <= as_of)
                .copied()
                .collect();
            assert_eq!(bars, want, "bars of {} as of {as_of}", s.instrument_id);
            for hz in [1, 5, 21] {
                let r = h
                    .returns(&s.instrument_id, hz, date_floor(), as_of)
                    .await
                    .unwrap();
                assert!(r.iter().all(|x| x.trade_date <= as_of));
                let expected = want.len().saturating_sub(hz as usize);
                assert_eq!(r.len(), expected, "h={hz} as of {as_of}");
            }
            for w in [21, 63] {
                let v = h
                    .volatility(&s.instrument_id, w, date_floor(), as_of)
                    .await
                    .unwrap();
                assert!(v.iter().all(|x| x.trade_date <= as_of));
                assert_eq!(v.len(), want.len().saturating_sub(w as usize));
            }
        }
        let mr = h
            .market_returns(&MarketId::from("US_EQ"), 1, date_floor(), as_of)
            .await
            .unwrap();
        assert!(mr.iter().all(|x| x.trade_date <= as_of));
        assert!(mr.windows(2).all(
            |w| (w[0].trade_date, &w[0].instrument_id) < (w[1].trade_date, &w[1].instrument_id)
        ));
        let f = h.factor("MKT:US_EQ", date_floor(), as_of).await.unwrap();
        assert!(f.iter().all(|x| x.trade_date <= as_of));
        assert_eq!(
            f.len(),
            days.iter()
                .filter(|d| **d <= as_of)
                .count()
                .saturating_sub(1)
        );
        let cutoff = as_of.and_hms_opt(21, 0, 0).unwrap().and_utc();
        let news = h
            .news(
                None,
                date_floor().and_hms_opt(0, 0, 0).unwrap().and_utc(),
                cutoff,
            )
            .await
            .unwrap();
        assert!(news.iter().all(|n| n.article.published_at <= cutoff));
        assert_eq!(news.len(), days.iter().filter(|d| **d <= as_of).count());
        // One second before publication, the article of `as_of` itself is not yet known.
        let before = h
            .news(
                Some(&IssuerId::from("AAA")),
                date_floor().and_hms_opt(0, 0, 0).unwrap().and_utc(),
                cutoff - TimeDelta::seconds(1),
            )
            .await
            .unwrap();
        assert_eq!(
            before.len() + usize::from(days.contains(&as_of)),
            news.len()
        );
    }
    assert_eq!(date("2024-01-01"), days[0]);
}

conformance!(reads_stop_at_as_of);

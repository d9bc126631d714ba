//! News storage: time windows, issuer filters, links.

use crate::harness::{TestDb, conformance};
use crate::prices::register;
use chrono::{DateTime, Utc};
use prometheus::domain::{InstrumentId, IssuerId, NewsArticle, NewsLink};
use prometheus::store::NewsStore;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn article(id: &str, t: &str) -> NewsArticle {
    NewsArticle {
        article_id: id.into(),
        published_at: at(t),
        source: "wire".into(),
        headline: format!("headline {id}"),
        body: "tab\there, newline\nthere, back\\slash".into(),
    }
}

fn link(a: &str, sym: &str) -> NewsLink {
    NewsLink {
        article_id: a.into(),
        issuer_id: IssuerId::from(sym),
        instrument_id: InstrumentId::from(format!("US_EQ:{sym}").as_str()),
    }
}

async fn news_by_window_and_issuer(db: &TestDb) {
    register(db, &["AAA", "BBB"]).await;
    let h = &db.historical;
    let articles = vec![
        article("a", "2024-01-02T14:30:00Z"),
        article("b", "2024-01-02T14:30:00.250Z"),
        article("c", "2024-01-03T09:00:00-05:00"),
        article("d", "2024-01-05T00:00:00Z"),
    ];
    let links = vec![
        link("a", "AAA"),
        link("b", "AAA"),
        link("b", "BBB"),
        link("c", "BBB"),
    ];
    h.write_news("n1", &articles, &links).await.unwrap();
    h.write_news("n1", &articles, &links).await.unwrap();
    assert_eq!(h.news_count().await.unwrap(), 4);
    let all = h
        .news(None, at("2024-01-01T00:00:00Z"), at("2024-01-31T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .map(|n| n.article.article_id.as_str())
            .collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(
        all[1].issuers,
        [IssuerId::from("AAA"), IssuerId::from("BBB")]
    );
    assert!(
        all[3].issuers.is_empty(),
        "an article about no known issuer is still news"
    );
    assert_eq!(
        all[0].article, articles[0],
        "text with tabs, newlines and backslashes round-trips"
    );
    let window = h
        .news(
            None,
            at("2024-01-02T14:30:00.100Z"),
            at("2024-01-03T14:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        window
            .iter()
            .map(|n| n.article.article_id.as_str())
            .collect::<Vec<_>>(),
        ["b", "c"]
    );
    let exact = h
        .news(None, at("2024-01-02T14:30:00Z"), at("2024-01-02T14:30:00Z"))
        .await
        .unwrap();
    assert_eq!(exact.len(), 1, "as_of is inclusive, to the sub-second");
    let bbb = h
        .news(
            Some(&IssuerId::from("BBB")),
            at("2024-01-01T00:00:00Z"),
            at("2024-01-31T00:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(
        bbb.iter()
            .map(|n| n.article.article_id.as_str())
            .collect::<Vec<_>>(),
        ["b", "c"]
    );
    assert_eq!(
        bbb[0].issuers.len(),
        2,
        "the filter selects articles, not links"
    );
}

conformance!(news_by_window_and_issuer);

//! Comparing databases output by output (fault drills, soak and outage tests): a copy is
//! identical to its source; a changed row is found and named; bookkeeping and wall-clock
//! columns never count; on SQLite, tracked copies are compared by the rows they touched.

use crate::harness::markets;
use prometheus::domain::{EventKind, Market};
use prometheus::store::admin::{clone_snapshot, remove_copy, snapshot};
use prometheus::store::compare::{compare_tracked, compare_with, digest_tables, track_changes};
use prometheus::store::{ActorEvent, EventLog, HistoricalDb, Pool, ReferenceStore, RuntimeDb};

async fn seed(url: &str) {
    let h = HistoricalDb::open(url, 2, crate::harness::tuning())
        .await
        .expect("open");
    h.upsert_markets(&markets().to_markets())
        .await
        .expect("markets");
    h.pool().close().await;
}

async fn rename_market(url: &str, id: &str, name: &str) {
    let h = HistoricalDb::open(url, 2, crate::harness::tuning())
        .await
        .expect("open");
    let mut m: Vec<Market> = markets()
        .to_markets()
        .into_iter()
        .filter(|m| m.market_id.as_str() == id)
        .collect();
    m[0].name = name.into();
    h.upsert_markets(&m).await.expect("rename");
    h.pool().close().await;
}

async fn bookkeeping_only(url: &str) {
    let r = RuntimeDb::open(url, 2).await.expect("open runtime");
    r.append_event(&ActorEvent {
        at: chrono::Utc::now(),
        actor: "regime".into(),
        event: EventKind::Restarted,
        detail: "drill".into(),
    })
    .await
    .expect("event");
    r.pool().close().await;
}

/// A copy equals its source; events (bookkeeping) do not count; a renamed market does,
/// and is named with its row.
async fn copies_compare_by_content(source: &str, dir: &std::path::Path, tag: &str) {
    seed(source).await;
    let base = Pool::connect(source, 2).await.expect("connect");
    let digests = digest_tables(&base).await.expect("digest");
    assert!(digests.iter().any(|d| d.table == "markets" && d.rows == 2));
    assert!(
        !digests.iter().any(|d| d.table == "actor_events"),
        "bookkeeping is not an output"
    );
    base.close().await;
    let copy = snapshot(source, dir, &format!("cmp_copy_{tag}"))
        .await
        .expect("snapshot");
    bookkeeping_only(&copy).await;
    let (a, b) = (
        Pool::connect(source, 2).await.expect("a"),
        Pool::connect(&copy, 2).await.expect("b"),
    );
    assert_eq!(compare_with(&a, &digests, &b).await.expect("compare"), None);
    b.close().await;
    rename_market(&copy, "EU_EQ", "Europe").await;
    let b = Pool::connect(&copy, 2).await.expect("b");
    let diff = compare_with(&a, &digests, &b)
        .await
        .expect("compare")
        .expect("a difference");
    assert_eq!(diff.table, "markets");
    assert!(
        diff.right.as_deref().is_some_and(|r| r.contains("Europe")),
        "{diff:?}"
    );
    a.close().await;
    b.close().await;
    remove_copy(&copy).await.expect("remove");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_copies_compare_by_content_and_by_tracked_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let source = format!("sqlite://{}", dir.path().join("source.db").display());
    copies_compare_by_content(&source, dir.path(), "sqlite").await;

    // Tracked: two clones of a snapshot; only rows either touched are compared.
    let base = snapshot(&source, dir.path(), "base")
        .await
        .expect("snapshot");
    let pool = Pool::connect(&base, 1).await.expect("base");
    assert!(track_changes(&pool).await.expect("track"));
    pool.close().await;
    let left = clone_snapshot(&base, dir.path(), "left")
        .await
        .expect("left");
    let right = clone_snapshot(&base, dir.path(), "right")
        .await
        .expect("right");
    let file = |url: &str| std::path::PathBuf::from(url.trim_start_matches("sqlite://"));
    // The same write on both sides (an upsert that repeats a row too): identical.
    rename_market(&left, "US_EQ", "New York").await;
    rename_market(&right, "US_EQ", "New York").await;
    rename_market(&right, "US_EQ", "New York").await;
    let l = Pool::connect(&left, 2).await.expect("left pool");
    assert_eq!(compare_tracked(&l, &file(&right)).await.expect("cmp"), None);
    // A row only one side changed.
    rename_market(&right, "EU_EQ", "Lombard Street").await;
    let diff = compare_tracked(&l, &file(&right))
        .await
        .expect("cmp")
        .expect("a difference");
    assert_eq!(diff.table, "markets");
    assert!(diff.at.contains("EU_EQ"), "{diff:?}");
    assert!(
        diff.left
            .as_deref()
            .is_some_and(|r| !r.contains("Lombard Street"))
    );
    assert!(
        diff.right
            .as_deref()
            .is_some_and(|r| r.contains("Lombard Street"))
    );
    l.close().await;
    for url in [&left, &right, &base] {
        remove_copy(url).await.expect("remove");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_copies_compare_by_content() {
    let server = std::env::var("PV2_TEST_PG_URL").expect(
        "PV2_TEST_PG_URL is not set: run scripts/test, which starts a throwaway PostgreSQL and sets it",
    );
    let name = format!("cmp_source_{}", std::process::id());
    let source = prometheus::store::admin::create_database(&server, &name)
        .await
        .expect("create");
    let dir = tempfile::tempdir().expect("tempdir");
    copies_compare_by_content(&source, dir.path(), &std::process::id().to_string()).await;
    let pool = Pool::connect(&source, 1).await.expect("pool");
    assert!(
        !track_changes(&pool).await.expect("track"),
        "tracking is SQLite's; PostgreSQL compares digests"
    );
    pool.close().await;
    remove_copy(&source).await.expect("drop");
}

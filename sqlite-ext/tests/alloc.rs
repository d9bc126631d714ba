//! SQLite on mimalloc (its own process: the allocator can only be chosen before SQLite
//! initializes). Configured first, it serves real work — rows of every size written,
//! rewritten larger and smaller, and read back exactly — keeps no statistics, and refuses a
//! second configuration once initialized.

use sqlx::sqlite::SqlitePoolOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_on_mimalloc_and_refuses_a_late_change() {
    prometheus_sqlite_ext::use_mimalloc().expect("before any connection, SQLite accepts it");
    let pool = SqlitePoolOptions::new()
        .max_connections(2)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    // Sizes from a byte to 200 KB (SQLite's small-object, page and large-object paths),
    // each blob filled with its key so a mixed-up buffer shows.
    let size = |k: i64| ((k * 7919) % 200_000 + 1) as usize;
    for k in 0..400i64 {
        sqlx::query("INSERT INTO t (k, b) VALUES ($1, $2)")
            .bind(k)
            .bind(vec![(k % 251) as u8; size(k)])
            .execute(&pool)
            .await
            .unwrap();
    }
    // Rewritten: grown and shrunk (reallocations of every kind).
    sqlx::query(
        "UPDATE t SET b = CASE WHEN k % 2 = 0 THEN b || b ELSE substr(b, 1, length(b) / 3 + 1) END",
    )
    .execute(&pool)
    .await
    .unwrap();
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT k, b FROM t ORDER BY k")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(rows.len(), 400);
    for (k, b) in &rows {
        let n = size(*k);
        let want = if k % 2 == 0 { 2 * n } else { n / 3 + 1 };
        assert_eq!(b.len(), want, "row {k}");
        assert!(b.iter().all(|&x| x == (k % 251) as u8), "row {k}");
    }
    // SAFETY: a plain read of a counter.
    let counted = unsafe { libsqlite3_sys::sqlite3_memory_used() };
    assert_eq!(counted, 0, "SQLite keeps no allocation statistics");
    assert!(
        prometheus_sqlite_ext::use_mimalloc().is_err(),
        "SQLite has initialized: a second configuration is refused"
    );
}

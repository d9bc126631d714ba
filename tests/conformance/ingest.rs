//! Whole-file imports: quarantine, idempotence, corrections, file-level errors.

use crate::harness::{TestDb, clock, conformance, date, markets};
use prometheus::config::MarketsConfig;
use prometheus::domain::Clock;
use prometheus::domain::{InstrumentId, MarketId};
use prometheus::ingest::{ImportOutcome, ImportRequest, IngestError, PriceFormat, RawFile};
use prometheus::store::{IngestLog, NewsStore, PriceStore, PriceWriteSummary, ReferenceStore};
use std::path::Path;

const YAHOO: &str = "Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,10,11,9,10.5,10.4,1000
2024-01-03,10,11,9,12.5,10.4,1000
1/4/2024,10.5,11.5,10,11,10.9,1200
2024-01-05,10,9,11,10,10,100
2024-01-08,11,12,10.5,11.5,11.4,-1
2024-01-08,11,12,10.5,11.5,11.4,900
2024-01-09,11,12,10.5,11.5,11.4,900
";

/// What these tests import: a file on disk, read and archived by the shims below as the
/// command line does.
#[derive(Clone, Copy)]
struct Req<'a> {
    path: &'a Path,
    market: &'a MarketId,
    symbol: Option<&'a str>,
}

async fn import_prices(
    db: &TestDb,
    req: Req<'_>,
    format: PriceFormat,
    ms: &MarketsConfig,
    clock: &dyn Clock,
) -> Result<ImportOutcome, IngestError> {
    let file = RawFile::read(req.path)?;
    let request = ImportRequest {
        file: &file,
        market: req.market,
        symbol: req.symbol,
    };
    prometheus::ingest::import_prices(&db.historical, &db.archive(), request, format, ms, clock)
        .await
}

async fn import_news(
    db: &TestDb,
    path: &Path,
    clock: &dyn Clock,
) -> Result<ImportOutcome, IngestError> {
    let file = RawFile::read(path)?;
    prometheus::ingest::import_news(&db.historical, &db.archive(), &file, clock).await
}

async fn import_instruments(
    db: &TestDb,
    path: &Path,
    ms: &MarketsConfig,
    clock: &dyn Clock,
) -> Result<ImportOutcome, IngestError> {
    let file = RawFile::read(path)?;
    prometheus::ingest::import_instruments(&db.historical, &db.archive(), &file, ms, clock).await
}

fn us() -> MarketId {
    MarketId::from("US_EQ")
}

async fn yahoo_rejects_are_quarantined_and_good_rows_kept(db: &TestDb) {
    let h = &db.historical;
    let file = db.file("aaa.csv", YAHOO);
    let req = Req {
        path: &file,
        market: &us(),
        symbol: Some("AAA"),
    };
    let out = import_prices(db, req, PriceFormat::Yahoo, &markets(), &clock())
        .await
        .unwrap();
    assert_eq!((out.batch.rows_ok, out.batch.rows_rejected), (4, 3));
    assert_eq!(
        out.registered,
        [InstrumentId::from("US_EQ:AAA")],
        "an unknown symbol is registered"
    );
    assert_eq!(
        out.prices,
        Some(PriceWriteSummary {
            inserted: 4,
            updated: 0,
            unchanged: 0
        })
    );
    let rejects = h.rejects(&out.batch.batch_id).await.unwrap();
    let got: Vec<(u64, &str, &str)> = rejects
        .iter()
        .map(|r| (r.line_no, r.column.as_str(), r.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (3, "Close", "close_outside_range"),
            (5, "", "high_below_low"),
            (6, "Volume", "negative_volume")
        ]
    );
    assert_eq!(rejects[0].raw, "2024-01-03,10,11,9,12.5,10.4,1000");
    let batch = h.batch(&out.batch.batch_id).await.unwrap().unwrap();
    assert_eq!(
        batch.file,
        file.display().to_string(),
        "the batch names the file"
    );
    assert_eq!(batch.source, "prices:yahoo");
    let stored = h
        .bars(
            &InstrumentId::from("US_EQ:AAA"),
            date("2024-01-01"),
            date("2024-12-31"),
        )
        .await
        .unwrap();
    let dates: Vec<String> = stored.iter().map(|b| b.trade_date.to_string()).collect();
    assert_eq!(
        dates,
        ["2024-01-02", "2024-01-04", "2024-01-08", "2024-01-09"]
    );
    assert_eq!(
        stored[2].volume,
        Some(900.0),
        "the valid duplicate-date row after an invalid one is kept"
    );
}

async fn reimport_is_idempotent(db: &TestDb) {
    let h = &db.historical;
    let file = db.file("aaa.csv", YAHOO);
    let req = Req {
        path: &file,
        market: &us(),
        symbol: Some("AAA"),
    };
    let first = import_prices(db, req, PriceFormat::Yahoo, &markets(), &clock())
        .await
        .unwrap();
    let second = import_prices(db, req, PriceFormat::Yahoo, &markets(), &clock())
        .await
        .unwrap();
    assert_eq!(first.batch.batch_id, second.batch.batch_id);
    assert_eq!(
        second.prices,
        Some(PriceWriteSummary {
            inserted: 0,
            updated: 0,
            unchanged: 4
        })
    );
    assert!(second.registered.is_empty());
    assert_eq!(h.price_row_count().await.unwrap(), 4);
    assert_eq!(
        h.rejects(&first.batch.batch_id).await.unwrap().len(),
        3,
        "rejects replaced, not duplicated"
    );
    assert_eq!(h.instruments(None).await.unwrap().len(), 1);
}

async fn corrected_file_updates_values(db: &TestDb) {
    let h = &db.historical;
    let file = db.file("aaa.csv", YAHOO);
    let req = Req {
        path: &file,
        market: &us(),
        symbol: Some("AAA"),
    };
    import_prices(db, req, PriceFormat::Yahoo, &markets(), &clock())
        .await
        .unwrap();
    let fixed = YAHOO.replace(
        "2024-01-09,11,12,10.5,11.5,11.4,900",
        "2024-01-09,11,12,10.5,11.8,11.7,950",
    );
    let file2 = db.file("aaa-fixed.csv", &fixed);
    let req2 = Req {
        path: &file2,
        ..req
    };
    let out = import_prices(db, req2, PriceFormat::Yahoo, &markets(), &clock())
        .await
        .unwrap();
    assert_ne!(
        out.batch.batch_id,
        import_prices(db, req, PriceFormat::Yahoo, &markets(), &clock())
            .await
            .unwrap()
            .batch
            .batch_id
    );
    assert_eq!(
        out.prices,
        Some(PriceWriteSummary {
            inserted: 0,
            updated: 1,
            unchanged: 3
        })
    );
    let bar = h
        .bars(
            &InstrumentId::from("US_EQ:AAA"),
            date("2024-01-09"),
            date("2024-01-09"),
        )
        .await
        .unwrap();
    // The original file was imported again in between: it restores the original values.
    assert_eq!(bar[0].adj_close, 11.4);
    let out = import_prices(db, req2, PriceFormat::Yahoo, &markets(), &clock())
        .await
        .unwrap();
    assert_eq!(
        out.prices,
        Some(PriceWriteSummary {
            inserted: 0,
            updated: 1,
            unchanged: 3
        })
    );
    let bar = h
        .bars(
            &InstrumentId::from("US_EQ:AAA"),
            date("2024-01-09"),
            date("2024-01-09"),
        )
        .await
        .unwrap();
    assert_eq!(
        (bar[0].adj_close, bar[0].close, bar[0].volume),
        (11.7, Some(11.8), Some(950.0))
    );
}

async fn file_level_errors_are_clear(db: &TestDb) {
    let h = &db.historical;
    let ms = markets();
    let missing = db.dir.path().join("nope.csv");
    let req = Req {
        path: &missing,
        market: &us(),
        symbol: Some("AAA"),
    };
    let e = import_prices(db, req, PriceFormat::Yahoo, &ms, &clock())
        .await
        .unwrap_err();
    assert!(matches!(e, IngestError::Unreadable { .. }), "{e}");
    assert!(e.to_string().contains("nope.csv"));

    let bad = db.file(
        "bad.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\nx,1,1,1,1,1,1\n2024-01-02,a,1,1,1,1,1\n",
    );
    let req = Req {
        path: &bad,
        market: &us(),
        symbol: Some("AAA"),
    };
    let e = import_prices(db, req, PriceFormat::Yahoo, &ms, &clock())
        .await
        .unwrap_err();
    let IngestError::WhollyInvalid {
        rejected, batch_id, ..
    } = &e
    else {
        panic!("{e}")
    };
    assert_eq!(*rejected, 2);
    assert_eq!(
        h.rejects(batch_id).await.unwrap().len(),
        2,
        "rejects of a wholly invalid file are kept"
    );
    assert!(!e.to_string().contains('\n'), "one-line reason: {e}");

    let header = db.file("header.csv", "When,Price\n2024-01-02,1\n");
    let req = Req {
        path: &header,
        market: &us(),
        symbol: Some("AAA"),
    };
    let e = import_prices(db, req, PriceFormat::Yahoo, &ms, &clock())
        .await
        .unwrap_err();
    assert!(
        matches!(e, IngestError::BadHeader { .. }) && e.to_string().contains("Open"),
        "{e}"
    );

    let empty = db.file("empty.csv", "Date,Open,High,Low,Close,Adj Close,Volume\n");
    let req = Req {
        path: &empty,
        market: &us(),
        symbol: Some("AAA"),
    };
    assert!(matches!(
        import_prices(db, req, PriceFormat::Yahoo, &ms, &clock()).await,
        Err(IngestError::Empty { .. })
    ));

    let req = Req {
        path: &bad,
        market: &MarketId::from("MARS"),
        symbol: Some("AAA"),
    };
    let e = import_prices(db, req, PriceFormat::Yahoo, &ms, &clock())
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("MARS") && e.to_string().contains("US_EQ"),
        "{e}"
    );
    assert_eq!(h.price_row_count().await.unwrap(), 0);
}

async fn wide_files_carry_no_volume(db: &TestDb) {
    let h = &db.historical;
    let file = db.file(
        "wide.csv",
        "Date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,,21\n2024-01-04,11,-3\n",
    );
    let req = Req {
        path: &file,
        market: &us(),
        symbol: None,
    };
    let out = import_prices(db, req, PriceFormat::Wide, &markets(), &clock())
        .await
        .unwrap();
    assert_eq!((out.batch.rows_ok, out.batch.rows_rejected), (4, 1));
    assert_eq!(out.registered.len(), 2);
    let bars = h
        .bars(
            &InstrumentId::from("US_EQ:BBB"),
            date("2024-01-01"),
            date("2024-12-31"),
        )
        .await
        .unwrap();
    assert_eq!(bars.len(), 2);
    assert!(bars.iter().all(|b| b.volume.is_none() && b.open.is_none()));
    let rejects = h.rejects(&out.batch.batch_id).await.unwrap();
    assert_eq!(
        (
            rejects[0].line_no,
            rejects[0].column.as_str(),
            rejects[0].reason.as_str()
        ),
        (4, "BBB", "non_positive_price")
    );
}

async fn instruments_then_news(db: &TestDb) {
    let h = &db.historical;
    let news = r#"{"id":"a1","published_at":"2024-01-02T21:00:00Z","source":"wire","headline":"AAA up","symbols":["AAA"]}
{"id":"a2","published_at":"2024-01-03T21:00:00Z","source":"wire","headline":"CCC down","symbols":["CCC"]}
"#;
    let news_file = db.file("news.jsonl", news);
    let e = import_news(db, &news_file, &clock()).await.unwrap_err();
    assert!(
        matches!(e, IngestError::WhollyInvalid { .. }),
        "no instruments yet: {e}"
    );

    let inst = db.file(
        "inst.csv",
        "symbol,name,sector,industry,country,market\nAAA,\"Alpha, Inc.\",Tech,Chips,US,US_EQ\nBBB,Beta,Energy,,US,US_EQ\nZZZ,Zed,,,,MOON\n",
    );
    let out = import_instruments(db, &inst, &markets(), &clock())
        .await
        .unwrap();
    assert_eq!((out.batch.rows_ok, out.batch.rows_rejected), (2, 1));
    assert_eq!(
        h.rejects(&out.batch.batch_id).await.unwrap()[0].reason,
        "unknown_market"
    );
    let issuers = h.issuers().await.unwrap();
    assert_eq!(issuers[0].name, "Alpha, Inc.");

    let out = import_news(db, &news_file, &clock()).await.unwrap();
    assert_eq!((out.batch.rows_ok, out.batch.rows_rejected), (1, 1));
    assert_eq!(
        h.rejects(&out.batch.batch_id).await.unwrap()[0].reason,
        "unknown_symbol"
    );
    assert_eq!(h.news_count().await.unwrap(), 1);

    // A corrected feed re-links a1 to BBB instead of AAA.
    let fixed = db.file(
        "news2.jsonl",
        &news.replace(r#""symbols":["AAA"]"#, r#""symbols":["BBB"]"#),
    );
    import_news(db, &fixed, &clock()).await.unwrap();
    let from = chrono::DateTime::from_timestamp(0, 0).unwrap();
    let to = chrono::DateTime::from_timestamp(4_000_000_000, 0).unwrap();
    let items = h.news(None, from, to).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]
            .issuers
            .iter()
            .map(|i| i.as_str())
            .collect::<Vec<_>>(),
        ["BBB"]
    );
}

/// Files under the archive directory (temporaries included, so a leftover would show).
fn archived_files(db: &TestDb) -> Vec<std::path::PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(db.archive().dir(), &mut out);
    out.sort();
    out
}

async fn every_file_is_archived_once_and_a_replay_gives_the_same_rows(db: &TestDb) {
    let h = &db.historical;
    let archive = db.archive();
    let instruments = db.file(
        "instruments.csv",
        "symbol,name,sector,industry,country,market\nAAA,Alpha,Tech,Software,US,US_EQ\nBBB,Beta,Energy,Oil,US,US_EQ\nBAD,,,,,MARS\n",
    );
    let yahoo = db.file("aaa.csv", YAHOO);
    let wide = db.file(
        "wide.csv",
        "Date,BBB\n2024-01-02,20\n2024-01-03,21\n2024-01-04,-3\n",
    );
    let news = db.file(
        "news.jsonl",
        r#"{"id":"a1","published_at":"2024-01-02T21:00:00Z","source":"wire","headline":"AAA up","symbols":["AAA"]}
not json
"#,
    );
    let mut batches = Vec::new();
    let o = import_instruments(db, &instruments, &markets(), &clock())
        .await
        .unwrap();
    batches.push(o.batch);
    let market = us();
    let req = |path| Req {
        path,
        market: &market,
        symbol: Some("AAA"),
    };
    batches.push(
        import_prices(db, req(&yahoo), PriceFormat::Yahoo, &markets(), &clock())
            .await
            .unwrap()
            .batch,
    );
    let wide_req = Req {
        path: &wide,
        market: &us(),
        symbol: None,
    };
    batches.push(
        import_prices(db, wide_req, PriceFormat::Wide, &markets(), &clock())
            .await
            .unwrap()
            .batch,
    );
    batches.push(import_news(db, &news, &clock()).await.unwrap().batch);
    for b in &batches {
        let sha = b
            .archive_sha256
            .as_deref()
            .expect("every import is archived");
        let path = Path::new(&b.file);
        assert_eq!(
            archive.get(sha).unwrap(),
            std::fs::read(path).unwrap(),
            "the archive holds {}'s bytes",
            b.file
        );
        assert_eq!(
            h.batch(&b.batch_id).await.unwrap().as_ref(),
            Some(b),
            "the batch row points to the archive"
        );
    }
    assert_eq!(archived_files(db).len(), 4);

    // The same bytes under another name: the same batch, nothing archived again.
    let copy = db.file("aaa-copy.csv", YAHOO);
    let again = import_prices(db, req(&copy), PriceFormat::Yahoo, &markets(), &clock())
        .await
        .unwrap();
    assert_eq!(again.batch.batch_id, batches[1].batch_id);
    assert_eq!(again.batch.archive_sha256, batches[1].archive_sha256);
    assert_eq!(
        archived_files(db).len(),
        4,
        "the same bytes are stored once"
    );

    // The originals go away and the rows are lost; the archive brings them back.
    let before = prometheus::store::compare::digest_tables(h.pool())
        .await
        .unwrap();
    for p in [&instruments, &yahoo, &wide, &news, &copy] {
        std::fs::remove_file(p).unwrap();
    }
    for sql in [
        "DELETE FROM news_links",
        "DELETE FROM news_articles",
        "DELETE FROM prices_daily",
        "DELETE FROM ingest_rejects",
    ] {
        match h.pool() {
            prometheus::store::Pool::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            prometheus::store::Pool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
        .unwrap();
    }
    assert_eq!(h.price_row_count().await.unwrap(), 0);
    for b in &batches {
        let replayed = prometheus::ingest::replay(h, &archive, &b.batch_id, &markets(), &clock())
            .await
            .unwrap();
        let prometheus::ingest::Replayed::Imported { outcome, .. } = replayed else {
            panic!("{} is market data", b.batch_id)
        };
        assert_eq!(
            outcome.batch.batch_id, b.batch_id,
            "a replay names the same batch"
        );
    }
    let after = prometheus::store::compare::digest_tables(h.pool())
        .await
        .unwrap();
    assert_eq!(
        before, after,
        "a replayed history equals the imported one, table by table"
    );
    assert_eq!(archived_files(db).len(), 4);

    // What cannot be replayed says why.
    let e = prometheus::ingest::replay(h, &archive, "b-nope", &markets(), &clock())
        .await
        .unwrap_err();
    assert!(
        matches!(e, IngestError::NotReplayable(_)) && e.to_string().contains("b-nope"),
        "{e}"
    );
    let sha = batches[3].archive_sha256.clone().unwrap();
    std::fs::write(archive.path_of(&sha).unwrap(), b"tampered").unwrap();
    let e = prometheus::ingest::replay(h, &archive, &batches[3].batch_id, &markets(), &clock())
        .await
        .unwrap_err();
    assert!(e.to_string().contains("corrupt"), "{e}");
}

conformance!(
    yahoo_rejects_are_quarantined_and_good_rows_kept,
    reimport_is_idempotent,
    corrected_file_updates_values,
    file_level_errors_are_clear,
    wide_files_carry_no_volume,
    instruments_then_news,
    every_file_is_archived_once_and_a_replay_gives_the_same_rows,
);

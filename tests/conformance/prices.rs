//! Price writes: new, changed and unchanged rows; partial rows; derive marks.

use crate::harness::{TestDb, conformance, date, markets};
use crate::reference::{instrument, issuer};
use chrono::NaiveDate;
use prometheus::domain::{DailyBar, InstrumentId, InstrumentSeries};
use prometheus::store::{DerivedStore, PriceStore, PriceWriteSummary, ReferenceStore};

pub async fn register(db: &TestDb, symbols: &[&str]) {
    let h = &db.historical;
    h.upsert_markets(&markets().to_markets()).await.unwrap();
    let issuers: Vec<_> = symbols
        .iter()
        .map(|s| issuer(s, Some(if s < &"M" { "Tech" } else { "Energy" })))
        .collect();
    h.upsert_issuers(&issuers).await.unwrap();
    let instruments: Vec<_> = symbols.iter().map(|s| instrument("US_EQ", s)).collect();
    h.upsert_instruments(&instruments).await.unwrap();
}

pub fn ohlcv(d: &str, adj: f64, volume: Option<f64>) -> DailyBar {
    DailyBar {
        trade_date: date(d),
        open: Some(adj * 0.99),
        high: Some(adj * 1.02),
        low: Some(adj * 0.97),
        close: Some(adj),
        adj_close: adj,
        volume,
    }
}

pub fn series(sym: &str, bars: Vec<DailyBar>) -> InstrumentSeries {
    InstrumentSeries {
        instrument_id: InstrumentId::from(format!("US_EQ:{sym}").as_str()),
        bars,
    }
}

/// `n` consecutive weekday bars from 2024-01-01 with a deterministic price path.
pub fn path(sym: &str, n: usize, seed: f64) -> InstrumentSeries {
    let days = prometheus::synthetic_market::weekdays(date("2024-01-01"), date("2030-01-01"));
    let bars = days
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, d)| {
            let p = 100.0 * (1.0 + 0.3 * ((i as f64) * 0.37 + seed).sin()) + i as f64 * 0.1;
            ohlcv(&d.to_string(), p, Some(1000.0 + i as f64))
        })
        .collect();
    series(sym, bars)
}

async fn counts_new_changed_and_unchanged_rows(db: &TestDb) {
    register(db, &["AAA", "BBB"]).await;
    let h = &db.historical;
    let first = vec![path("AAA", 40, 0.0), path("BBB", 25, 1.0)];
    let s = h.write_prices("b1", &first).await.unwrap();
    assert_eq!(
        s,
        PriceWriteSummary {
            inserted: 65,
            updated: 0,
            unchanged: 0
        }
    );
    assert_eq!(h.price_row_count().await.unwrap(), 65);
    let again = h.write_prices("b1", &first).await.unwrap();
    assert_eq!(
        again,
        PriceWriteSummary {
            inserted: 0,
            updated: 0,
            unchanged: 65
        }
    );
    assert_eq!(
        h.price_row_count().await.unwrap(),
        65,
        "repeating a write adds nothing"
    );

    let mut corrected = path("AAA", 42, 0.0);
    corrected.bars[10].adj_close = 123.25;
    let s = h.write_prices("b2", &[corrected.clone()]).await.unwrap();
    assert_eq!(
        s,
        PriceWriteSummary {
            inserted: 2,
            updated: 1,
            unchanged: 39
        }
    );
    let stored = h
        .bars(
            &corrected.instrument_id,
            date("2000-01-01"),
            date("2100-01-01"),
        )
        .await
        .unwrap();
    assert_eq!(
        stored, corrected.bars,
        "stored bars equal the corrected file exactly"
    );
}

async fn rows_without_volume_keep_known_fields(db: &TestDb) {
    register(db, &["AAA"]).await;
    let h = &db.historical;
    h.write_prices(
        "yahoo",
        &[series("AAA", vec![ohlcv("2024-01-02", 10.0, Some(500.0))])],
    )
    .await
    .unwrap();
    let wide = DailyBar {
        trade_date: date("2024-01-02"),
        open: None,
        high: None,
        low: None,
        close: None,
        adj_close: 9.5,
        volume: None,
    };
    let wide_new = DailyBar {
        trade_date: date("2024-01-03"),
        ..wide
    };
    let s = h
        .write_prices("wide", &[series("AAA", vec![wide, wide_new])])
        .await
        .unwrap();
    assert_eq!(
        s,
        PriceWriteSummary {
            inserted: 1,
            updated: 1,
            unchanged: 0
        }
    );
    let bars = h
        .bars(
            &InstrumentId::from("US_EQ:AAA"),
            date("2024-01-01"),
            date("2024-12-31"),
        )
        .await
        .unwrap();
    assert_eq!(bars[0].adj_close, 9.5);
    assert_eq!(
        bars[0].volume,
        Some(500.0),
        "a file without volume does not erase a known volume"
    );
    assert_eq!(bars[0].close, Some(10.0));
    assert_eq!(
        bars[1].volume, None,
        "unknown volume is stored as unknown, not zero"
    );
    assert_eq!(bars[1].open, None);
}

async fn marks_remember_the_earliest_changed_date(db: &TestDb) {
    register(db, &["AAA", "BBB"]).await;
    let h = &db.historical;
    h.write_prices("b", &[path("AAA", 30, 0.0)]).await.unwrap();
    let marks = h.derive_marks().await.unwrap();
    assert_eq!(
        marks,
        [(InstrumentId::from("US_EQ:AAA"), date("2024-01-01"))]
    );
    h.clear_derive_marks(&marks).await.unwrap();
    assert!(h.derive_marks().await.unwrap().is_empty());

    // A later change marks from its own date; an earlier one moves the mark back.
    let mut later = path("AAA", 30, 0.0);
    later.bars[20].adj_close += 1.0;
    h.write_prices("c", &[later]).await.unwrap();
    let d20 = path("AAA", 30, 0.0).bars[20].trade_date;
    assert_eq!(h.derive_marks().await.unwrap()[0].1, d20);
    let mut earlier = path("AAA", 30, 0.0);
    earlier.bars[5].adj_close += 1.0;
    h.write_prices("d", &[earlier.clone()]).await.unwrap();
    assert_eq!(
        h.derive_marks().await.unwrap()[0].1,
        earlier.bars[5].trade_date
    );
    // Clearing with a later processed date keeps the earlier mark.
    h.clear_derive_marks(&[(InstrumentId::from("US_EQ:AAA"), d20)])
        .await
        .unwrap();
    assert_eq!(h.derive_marks().await.unwrap().len(), 1);
    // Unchanged rows mark nothing.
    h.clear_derive_marks(&h.derive_marks().await.unwrap())
        .await
        .unwrap();
    h.write_prices("e", &[earlier]).await.unwrap();
    assert!(h.derive_marks().await.unwrap().is_empty());
}

async fn the_latest_price_date_is_per_market(db: &TestDb) {
    register(db, &["AAA", "BBB"]).await;
    let h = &db.historical;
    assert_eq!(h.latest_price_date("US_EQ").await.unwrap(), None);
    h.write_prices(
        "b",
        &[
            series(
                "AAA",
                vec![
                    ohlcv("2024-01-02", 10.0, Some(1.0)),
                    ohlcv("2024-01-05", 11.0, Some(1.0)),
                ],
            ),
            series("BBB", vec![ohlcv("2024-01-03", 20.0, Some(1.0))]),
        ],
    )
    .await
    .unwrap();
    assert_eq!(
        h.latest_price_date("US_EQ").await.unwrap(),
        Some(date("2024-01-05"))
    );
    assert_eq!(h.latest_price_date("JP_EQ").await.unwrap(), None);
}

async fn lookback_start_counts_observations(db: &TestDb) {
    register(db, &["AAA"]).await;
    let h = &db.historical;
    let s = path("AAA", 10, 0.0);
    h.write_prices("b", std::slice::from_ref(&s)).await.unwrap();
    let id = &s.instrument_id;
    assert_eq!(
        h.lookback_start(id, s.bars[6].trade_date, 3).await.unwrap(),
        Some(s.bars[3].trade_date)
    );
    assert_eq!(
        h.lookback_start(id, s.bars[6].trade_date, 1).await.unwrap(),
        Some(s.bars[5].trade_date)
    );
    assert_eq!(
        h.lookback_start(id, s.bars[2].trade_date, 5).await.unwrap(),
        None
    );
}

async fn many_instruments_read_in_one_call_equal_single_reads(db: &TestDb) {
    register(db, &["AAA", "BBB", "CCC"]).await;
    let h = &db.historical;
    let all = [
        path("AAA", 30, 0.0),
        path("BBB", 12, 1.0),
        path("CCC", 20, 2.0),
    ];
    h.write_prices("b", &all).await.unwrap();
    let ids: Vec<InstrumentId> = all.iter().map(|s| s.instrument_id.clone()).collect();
    let ghost = InstrumentId::from("US_EQ:NONE");
    let mut asked = ids.clone();
    asked.push(ghost.clone());
    let (from, to) = (all[0].bars[5].trade_date, all[0].bars[25].trade_date);
    let many = h.adj_closes_many(&asked, from, to).await.unwrap();
    assert_eq!(many.len(), 3, "an instrument without rows is absent");
    assert!(!many.contains_key(&ghost));
    for id in &ids {
        assert_eq!(many[id], h.adj_closes(id, from, to).await.unwrap(), "{id}");
    }
    assert!(h.adj_closes_many(&[], from, to).await.unwrap().is_empty());
}

async fn many_instrument_reads_are_bit_exact(db: &TestDb) {
    register(db, &["AAA", "BBB", "CCC"]).await;
    let h = &db.historical;
    // Values whose shortest decimal form needs 17 digits and missing fields (AAA), tiny
    // and huge magnitudes (CCC): every read must give back the bits a row read gives.
    let awkward = [
        0.1 + 0.2,
        1.0 / 3.0,
        123.456_789_012_345_68,
        f64::from_bits(0x3FF0_0000_0000_0001),
        7e-5,
        98_765.432_1,
        f64::from_bits(0x4059_0000_0000_0003),
        1e-7 / 3.0,
    ];
    let extreme = [2.225_073_858_507_201e-308, 1.797_693_134_862_315_7e305, 5.0];
    let days = prometheus::synthetic_market::weekdays(date("2024-01-01"), date("2024-03-01"));
    let bars = |values: &[f64]| -> Vec<DailyBar> {
        values
            .iter()
            .zip(&days)
            .enumerate()
            .map(|(i, (v, d))| DailyBar {
                trade_date: *d,
                open: (i % 3 != 0).then_some(v * 0.7),
                high: None,
                low: Some(*v),
                close: (i % 2 == 0).then_some(v / 3.0),
                adj_close: *v,
                volume: (i % 4 != 1).then_some(v * 1e3),
            })
            .collect()
    };
    let all = [
        series("AAA", bars(&awkward)),
        path("BBB", 8, 0.5),
        series("CCC", bars(&extreme)),
    ];
    h.write_prices("b", &all).await.unwrap();
    let ids: Vec<InstrumentId> = all.iter().map(|s| s.instrument_id.clone()).collect();
    let (from, to) = (days[0], days[days.len() - 1]);
    let many = h.bars_many(&ids, from, to).await.unwrap();
    let closes = h.closes_volumes_many(&ids, from, to).await.unwrap();
    for id in &ids {
        let single = h.bars(id, from, to).await.unwrap();
        assert_eq!(many[id].len(), single.len());
        for (a, b) in many[id].iter().zip(&single) {
            assert_eq!(a.trade_date, b.trade_date);
            let bits = |x: Option<f64>| x.map(f64::to_bits);
            assert_eq!(bits(a.open), bits(b.open), "{id} open");
            assert_eq!(bits(a.high), bits(b.high), "{id} high");
            assert_eq!(bits(a.low), bits(b.low), "{id} low");
            assert_eq!(bits(a.close), bits(b.close), "{id} close");
            assert_eq!(a.adj_close.to_bits(), b.adj_close.to_bits(), "{id} adj");
            assert_eq!(bits(a.volume), bits(b.volume), "{id} volume");
        }
        let cv: Vec<(NaiveDate, u64, Option<u64>)> = closes[id]
            .iter()
            .map(|(d, c, v)| (*d, c.to_bits(), v.map(f64::to_bits)))
            .collect();
        let expected: Vec<(NaiveDate, u64, Option<u64>)> = single
            .iter()
            .map(|b| {
                (
                    b.trade_date,
                    b.adj_close.to_bits(),
                    b.volume.map(f64::to_bits),
                )
            })
            .collect();
        assert_eq!(cv, expected, "{id}");
    }
}

conformance!(
    many_instrument_reads_are_bit_exact,
    many_instruments_read_in_one_call_equal_single_reads,
    counts_new_changed_and_unchanged_rows,
    rows_without_volume_keep_known_fields,
    marks_remember_the_earliest_changed_date,
    lookback_start_counts_observations,
    the_latest_price_date_is_per_market,
);

/// The bundled SQLite is compiled without memory statistics (`LIBSQLITE3_FLAGS` in
/// `.cargo/config.toml`): with them, every allocation of every connection's thread takes one
/// process-wide mutex, which a backtest's profile showed in 13% of their time.
#[tokio::test]
async fn sqlite_is_built_without_memory_statistics() {
    let db = TestDb::sqlite().await;
    let prometheus::store::Pool::Sqlite(p) = db.historical.pool() else {
        panic!("TestDb::sqlite opened another backend");
    };
    let options: Vec<String> = sqlx::query_scalar("PRAGMA compile_options")
        .fetch_all(p)
        .await
        .unwrap();
    assert!(
        options.iter().any(|o| o == "DEFAULT_MEMSTATUS=0"),
        "compile options: {options:?}"
    );
    db.cleanup().await;
}

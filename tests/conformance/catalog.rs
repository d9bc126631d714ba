//! The Parquet catalog on both backends: every dataset's SQL runs, prices round-trip bit
//! for bit into the panel reader, a second export writes nothing, and the reader refuses a
//! catalog older than the data.

use crate::harness::{TestDb, clock, conformance, date, markets};
use prometheus::domain::{InstrumentId, MarketId};
use prometheus::files::catalog::{self, DATASETS, prices::CatalogReader};
use prometheus::ingest::{ImportRequest, PriceFormat, RawFile, import_prices};
use prometheus::store::{IngestLog, PriceStore, Stores};

async fn import_wide(db: &TestDb, name: &str, text: &str) {
    let file = RawFile::read(&db.file(name, text)).unwrap();
    let req = ImportRequest {
        file: &file,
        market: &MarketId::from("US_EQ"),
        symbol: None,
    };
    import_prices(
        &db.historical,
        &db.archive(),
        req,
        PriceFormat::Wide,
        &markets(),
        &clock(),
    )
    .await
    .unwrap();
}

async fn prices_round_trip_through_the_catalog(db: &TestDb) {
    import_wide(
        db,
        "wide.csv",
        "Date,AAA,BBB\n2023-12-28,10.125,20\n2023-12-29,10.3333333333333333,\n2024-01-02,0.1,21.5\n2024-01-03,1e-7,22\n",
    )
    .await;
    let stores = Stores {
        historical: db.historical.clone(),
        runtime: db.runtime.clone(),
        archive: db.archive(),
    };
    let dir = db.dir.path().join("catalog");
    let all: Vec<_> = DATASETS.iter().collect();
    let first = catalog::export(&stores, &dir, &all).await.unwrap();
    assert_eq!(first.len(), DATASETS.len(), "every dataset's SQL runs");
    let prices = first.iter().find(|s| s.name == "prices").unwrap();
    assert_eq!((prices.rows, prices.written), (7, 2), "{prices:?}");
    assert!(
        dir.join("prices/market=US_EQ/year=2023/part-0.parquet")
            .is_file()
    );
    let again = catalog::export(&stores, &dir, &all).await.unwrap();
    assert!(
        again.iter().all(|s| s.written == 0 && s.removed == 0),
        "{again:?}"
    );

    let ids = [
        InstrumentId::from("US_EQ:AAA"),
        InstrumentId::from("US_EQ:BBB"),
    ];
    let (from, to) = (date("2023-12-29"), date("2024-01-02"));
    let reader = CatalogReader::open(&dir).unwrap();
    let fp = db.historical.data_fingerprint("US_EQ").await.unwrap();
    reader.check_current("US_EQ", &fp).unwrap();
    let from_catalog = reader.prices_many("US_EQ", &ids, from, to).unwrap();
    let from_db = db.historical.prices_many(&ids, from, to).await.unwrap();
    let bits =
        |m: &std::collections::BTreeMap<InstrumentId, Vec<prometheus::store::SessionPrice>>| {
            m.iter()
                .map(|(id, rows)| {
                    let r: Vec<_> = rows
                        .iter()
                        .map(|r| {
                            (
                                r.date,
                                r.close.to_bits(),
                                r.volume.map(f64::to_bits),
                                r.open.map(f64::to_bits),
                            )
                        })
                        .collect();
                    (id.clone(), r)
                })
                .collect::<Vec<_>>()
        };
    assert_eq!(bits(&from_catalog), bits(&from_db));
    assert_eq!(from_catalog[&ids[0]].len(), 2);

    // New data: the catalog is refused until exported again; then one partition changes.
    import_wide(db, "more.csv", "Date,AAA\n2024-01-04,1.5\n").await;
    let fp = db.historical.data_fingerprint("US_EQ").await.unwrap();
    let e = reader.check_current("US_EQ", &fp).unwrap_err();
    assert!(e.to_string().contains("pv2 export"), "{e}");
    let third = catalog::export(&stores, &dir, &[catalog::dataset("prices").unwrap()])
        .await
        .unwrap();
    assert_eq!(
        (third[0].written, third[0].unchanged, third[0].rows),
        (1, 1, 8)
    );
    CatalogReader::open(&dir)
        .unwrap()
        .check_current("US_EQ", &fp)
        .unwrap();
}

conformance!(prices_round_trip_through_the_catalog);

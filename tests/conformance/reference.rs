//! Markets, issuers, instruments.

use crate::harness::{TestDb, conformance, markets};
use prometheus::domain::{Instrument, InstrumentId, InstrumentStatus, Issuer, IssuerId, MarketId};
use prometheus::store::ReferenceStore;

pub fn issuer(id: &str, sector: Option<&str>) -> Issuer {
    Issuer {
        issuer_id: IssuerId::from(id),
        name: format!("{id} Corp"),
        sector: sector.map(Into::into),
        industry: None,
        country: Some("US".into()),
    }
}

pub fn instrument(market: &str, sym: &str) -> Instrument {
    Instrument {
        instrument_id: InstrumentId::of(&MarketId::from(market), sym),
        issuer_id: IssuerId::from(sym),
        market_id: MarketId::from(market),
        symbol: sym.into(),
        asset_class: "equity".into(),
        currency: "USD".into(),
        status: InstrumentStatus::Active,
    }
}

async fn upserts_replace_by_natural_key(db: &TestDb) {
    let h = &db.historical;
    h.upsert_markets(&markets().to_markets()).await.unwrap();
    h.upsert_markets(&markets().to_markets()).await.unwrap();
    assert_eq!(h.markets().await.unwrap().len(), 2);
    h.upsert_issuers(&[issuer("AAA", Some("Tech")), issuer("BBB", None)])
        .await
        .unwrap();
    let mut renamed = issuer("AAA", Some("Energy"));
    renamed.name = "Triple A".into();
    h.upsert_issuers(&[renamed]).await.unwrap();
    let issuers = h.issuers().await.unwrap();
    assert_eq!(issuers.len(), 2);
    assert_eq!(
        (issuers[0].name.as_str(), issuers[0].sector.as_deref()),
        ("Triple A", Some("Energy"))
    );
    assert_eq!(issuers[1].sector, None);

    h.upsert_instruments(&[
        instrument("US_EQ", "AAA"),
        instrument("EU_EQ", "AAA"),
        instrument("US_EQ", "BBB"),
    ])
    .await
    .unwrap();
    let mut delisted = instrument("US_EQ", "BBB");
    delisted.status = InstrumentStatus::Delisted;
    h.upsert_instruments(&[delisted]).await.unwrap();
    let us = h.instruments(Some(&MarketId::from("US_EQ"))).await.unwrap();
    assert_eq!(
        us.iter()
            .map(|i| i.instrument_id.as_str())
            .collect::<Vec<_>>(),
        ["US_EQ:AAA", "US_EQ:BBB"]
    );
    assert_eq!(us[1].status, InstrumentStatus::Delisted);
    assert_eq!(h.instruments(None).await.unwrap().len(), 3);
}

async fn instruments_need_their_issuer_and_market(db: &TestDb) {
    let h = &db.historical;
    h.upsert_markets(&markets().to_markets()).await.unwrap();
    let err = h
        .upsert_instruments(&[instrument("US_EQ", "NOPE")])
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("foreign key"),
        "{err}"
    );
    h.upsert_issuers(&[issuer("NOPE", None)]).await.unwrap();
    assert!(
        h.upsert_instruments(&[instrument("XX", "NOPE")])
            .await
            .is_err(),
        "unknown market"
    );
    assert!(
        h.instruments(None).await.unwrap().is_empty(),
        "failed writes leave nothing behind"
    );
}

conformance!(
    upserts_replace_by_natural_key,
    instruments_need_their_issuer_and_market
);

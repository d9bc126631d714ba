//! Markets, issuers and instruments.

use super::HistoricalDb;
use super::bulk::{BulkRow, BulkWriter, CellSink, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::read::read_row;
use super::tx::BeginWrite;
use crate::domain::{
    Instrument, InstrumentId, InstrumentStatus, Issuer, IssuerId, Market, MarketId,
};
use async_trait::async_trait;

/// Reference data: who trades where.
#[async_trait]
pub trait ReferenceStore {
    /// Inserts or updates markets by `market_id`.
    async fn upsert_markets(&self, markets: &[Market]) -> Result<(), StoreError>;
    /// Inserts or updates issuers by `issuer_id`.
    async fn upsert_issuers(&self, issuers: &[Issuer]) -> Result<(), StoreError>;
    /// Inserts or updates instruments by `instrument_id`; their issuers and markets must exist.
    async fn upsert_instruments(&self, instruments: &[Instrument]) -> Result<(), StoreError>;
    /// All markets, by id.
    async fn markets(&self) -> Result<Vec<Market>, StoreError>;
    /// All issuers, by id.
    async fn issuers(&self) -> Result<Vec<Issuer>, StoreError>;
    /// Instruments (of one market, or all), by id.
    async fn instruments(&self, market: Option<&MarketId>) -> Result<Vec<Instrument>, StoreError>;
}

const MARKETS: TableSpec = TableSpec {
    name: "markets",
    columns: &["market_id", "name", "timezone", "calendar"],
    key: &["market_id"],
};
const ISSUERS: TableSpec = TableSpec {
    name: "issuers",
    columns: &["issuer_id", "name", "sector", "industry", "country"],
    key: &["issuer_id"],
};
const INSTRUMENTS: TableSpec = TableSpec {
    name: "instruments",
    columns: &[
        "instrument_id",
        "issuer_id",
        "market_id",
        "symbol",
        "asset_class",
        "currency",
        "status",
    ],
    key: &["instrument_id"],
};

impl BulkRow for Market {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(self.market_id.as_str());
        s.text(&self.name);
        s.text(&self.timezone);
        s.text(&self.calendar);
    }
}

impl BulkRow for Issuer {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(self.issuer_id.as_str());
        s.text(&self.name);
        s.opt_text(self.sector.as_deref());
        s.opt_text(self.industry.as_deref());
        s.opt_text(self.country.as_deref());
    }
}

impl BulkRow for Instrument {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(self.instrument_id.as_str());
        s.text(self.issuer_id.as_str());
        s.text(self.market_id.as_str());
        s.text(&self.symbol);
        s.text(&self.asset_class);
        s.text(&self.currency);
        s.text(self.status.as_str());
    }
}

read_row! {
struct MarketRow {
    market_id: String,
    name: String,
    timezone: String,
    calendar: String,
}
}

read_row! {
struct IssuerDbRow {
    issuer_id: String,
    name: String,
    sector: Option<String>,
    industry: Option<String>,
    country: Option<String>,
}
}

read_row! {
struct InstrumentRow {
    instrument_id: String,
    issuer_id: String,
    market_id: String,
    symbol: String,
    asset_class: String,
    currency: String,
    status: String,
}
}

impl InstrumentRow {
    fn into_domain(self) -> Result<Instrument, StoreError> {
        let status = InstrumentStatus::parse(&self.status).ok_or_else(|| StoreError::Corrupt {
            what: "instruments.status",
            detail: format!("`{}` for {}", self.status, self.instrument_id),
        })?;
        Ok(Instrument {
            instrument_id: InstrumentId::new(self.instrument_id),
            issuer_id: IssuerId::new(self.issuer_id),
            market_id: MarketId::new(self.market_id),
            symbol: self.symbol,
            asset_class: self.asset_class,
            currency: self.currency,
            status,
        })
    }
}

#[async_trait]
impl ReferenceStore for HistoricalDb {
    async fn upsert_markets(&self, markets: &[Market]) -> Result<(), StoreError> {
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin"))?;
            tx.write_rows(&MARKETS, markets, WriteMode::Upsert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit markets"))
        })
    }

    async fn upsert_issuers(&self, issuers: &[Issuer]) -> Result<(), StoreError> {
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin"))?;
            tx.write_rows(&ISSUERS, issuers, WriteMode::Upsert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit issuers"))
        })
    }

    async fn upsert_instruments(&self, instruments: &[Instrument]) -> Result<(), StoreError> {
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin"))?;
            tx.write_rows(&INSTRUMENTS, instruments, WriteMode::Upsert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit instruments"))
        })
    }

    async fn markets(&self) -> Result<Vec<Market>, StoreError> {
        const SQL: &str =
            "SELECT market_id, name, timezone, calendar FROM markets ORDER BY market_id";
        let rows: Vec<MarketRow> = self
            .reads()
            .query_as(SQL)
            .fetch_all()
            .await
            .map_err(StoreError::query("read markets"))?;
        Ok(rows
            .into_iter()
            .map(|r| Market {
                market_id: MarketId::new(r.market_id),
                name: r.name,
                timezone: r.timezone,
                calendar: r.calendar,
            })
            .collect())
    }

    async fn issuers(&self) -> Result<Vec<Issuer>, StoreError> {
        const SQL: &str =
            "SELECT issuer_id, name, sector, industry, country FROM issuers ORDER BY issuer_id";
        let rows: Vec<IssuerDbRow> = self
            .reads()
            .query_as(SQL)
            .fetch_all()
            .await
            .map_err(StoreError::query("read issuers"))?;
        Ok(rows
            .into_iter()
            .map(|r| Issuer {
                issuer_id: IssuerId::new(r.issuer_id),
                name: r.name,
                sector: r.sector,
                industry: r.industry,
                country: r.country,
            })
            .collect())
    }

    async fn instruments(&self, market: Option<&MarketId>) -> Result<Vec<Instrument>, StoreError> {
        const SQL: &str = "SELECT instrument_id, issuer_id, market_id, symbol, asset_class, currency, status \
             FROM instruments WHERE ($1 IS NULL OR market_id = $1) ORDER BY instrument_id";
        let market = market.map(|m| m.as_str().to_owned());
        let rows: Vec<InstrumentRow> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .fetch_all()
            .await
            .map_err(StoreError::query("read instruments"))?;
        rows.into_iter().map(InstrumentRow::into_domain).collect()
    }
}

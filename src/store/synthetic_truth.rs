//! The synthetic generator's hidden regime path, stored so engines can be scored against
//! the truth. Never an input to any engine.

use super::HistoricalDb;
use super::bulk::{BulkRow, BulkWriter, CellSink, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::tx::BeginWrite;
use crate::domain::MarketId;
use async_trait::async_trait;
use chrono::NaiveDate;

/// Ground truth of a synthetic market.
#[async_trait]
pub trait SyntheticTruthStore {
    /// Stores the regime label of each date (upsert: other dates are kept).
    async fn write_regime_path(
        &self,
        market: &MarketId,
        seed: u64,
        path: &[(NaiveDate, String)],
    ) -> Result<(), StoreError>;

    /// The stored labels with `from <= trade_date <= to`.
    async fn regime_path(
        &self,
        market: &MarketId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String)>, StoreError>;
}

const REGIMES: TableSpec = TableSpec {
    name: "synthetic_regimes",
    columns: &["market_id", "trade_date", "regime", "seed"],
    key: &["market_id", "trade_date"],
};

struct RegimeRow<'a>(&'a str, NaiveDate, &'a str, i64);

impl BulkRow for RegimeRow<'_> {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(self.0);
        s.date(self.1);
        s.text(self.2);
        s.int(self.3);
    }
}

#[async_trait]
impl SyntheticTruthStore for HistoricalDb {
    async fn write_regime_path(
        &self,
        market: &MarketId,
        seed: u64,
        path: &[(NaiveDate, String)],
    ) -> Result<(), StoreError> {
        // Seeds are stored as their two's-complement bit pattern (BIGINT has no u64).
        let seed = i64::from_ne_bytes(seed.to_ne_bytes());
        let rows: Vec<RegimeRow<'_>> = path
            .iter()
            .map(|(d, r)| RegimeRow(market.as_str(), *d, r.as_str(), seed))
            .collect();
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin regime path"))?;
            tx.write_rows(&REGIMES, &rows, WriteMode::Upsert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit regime path"))
        })
    }

    async fn regime_path(
        &self,
        market: &MarketId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String)>, StoreError> {
        const SQL: &str = "SELECT trade_date, regime FROM synthetic_regimes \
             WHERE market_id = $1 AND trade_date >= $2 AND trade_date <= $3 ORDER BY trade_date";
        self.reads()
            .query_as(SQL)
            .bind(market.as_str())
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read regime path"))
    }
}

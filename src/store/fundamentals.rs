//! Fundamentals in the historical database, read as they were known on a date: only
//! filings dated on or before `as_of` count, and of those the latest period of each metric
//! in its latest filing (a restatement filed later replaces the figure from its filing
//! date on, never before).

use super::HistoricalDb;
use super::error::StoreError;
use super::pool::on_pool;
use super::tx::BeginWrite;
use crate::domain::{FundamentalValue, IssuerId};
use async_trait::async_trait;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Fundamentals storage.
#[async_trait]
pub trait FundamentalsStore {
    /// Upserts figures by (issuer, metric, period end, filing date). One transaction.
    async fn write_fundamentals(
        &self,
        batch_id: &str,
        values: &[FundamentalValue],
    ) -> Result<(), StoreError>;

    /// For every metric of `issuer`, the figure known on `as_of`: among filings dated on or
    /// before `as_of`, the latest period, in its latest filing. By metric.
    async fn fundamentals_as_of(
        &self,
        issuer: &IssuerId,
        as_of: NaiveDate,
    ) -> Result<Vec<FundamentalValue>, StoreError>;
    /// [`FundamentalsStore::fundamentals_as_of`] of every issuer at once (issuers without
    /// a figure are absent): one query where a profile run would make one per issuer.
    async fn all_fundamentals_as_of(
        &self,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<IssuerId, Vec<FundamentalValue>>, StoreError>;
}

/// Keeps the last row of each metric of rows ordered by metric, period and filing: the
/// figure known last.
fn latest_per_metric(out: &mut Vec<FundamentalValue>, v: FundamentalValue) {
    match out.last_mut() {
        Some(last) if last.metric == v.metric => *last = v,
        _ => out.push(v),
    }
}

#[async_trait]
impl FundamentalsStore for HistoricalDb {
    async fn write_fundamentals(
        &self,
        batch_id: &str,
        values: &[FundamentalValue],
    ) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO financial_statements \
             (issuer_id, metric, period_end, filed_date, value, batch_id) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (issuer_id, metric, period_end, filed_date) \
             DO UPDATE SET value = excluded.value, batch_id = excluded.batch_id";
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("write fundamentals"))?;
            for v in values {
                sqlx::query(SQL)
                    .bind(v.issuer_id.as_str())
                    .bind(&v.metric)
                    .bind(v.period_end)
                    .bind(v.filed)
                    .bind(v.value)
                    .bind(batch_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query("write fundamentals"))?;
            }
            tx.commit().await.map_err(StoreError::query("write fundamentals"))?;
        });
        Ok(())
    }

    async fn fundamentals_as_of(
        &self,
        issuer: &IssuerId,
        as_of: NaiveDate,
    ) -> Result<Vec<FundamentalValue>, StoreError> {
        const SQL: &str = "SELECT metric, period_end, filed_date, value FROM financial_statements \
             WHERE issuer_id = $1 AND filed_date <= $2 ORDER BY metric, period_end, filed_date";
        let rows: Vec<(String, NaiveDate, NaiveDate, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(issuer.as_str())
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read fundamentals"))?;
        // Ordered by metric, period, filing: the last row of each metric is the one known.
        let mut out: Vec<FundamentalValue> = Vec::new();
        for (metric, period_end, filed, value) in rows {
            let v = FundamentalValue {
                issuer_id: issuer.clone(),
                metric,
                period_end,
                filed,
                value,
            };
            latest_per_metric(&mut out, v);
        }
        Ok(out)
    }

    async fn all_fundamentals_as_of(
        &self,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<IssuerId, Vec<FundamentalValue>>, StoreError> {
        const SQL: &str = "SELECT issuer_id, metric, period_end, filed_date, value FROM financial_statements \
             WHERE filed_date <= $1 ORDER BY issuer_id, metric, period_end, filed_date";
        let rows: Vec<(String, String, NaiveDate, NaiveDate, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read fundamentals"))?;
        let mut out: BTreeMap<IssuerId, Vec<FundamentalValue>> = BTreeMap::new();
        for (issuer, metric, period_end, filed, value) in rows {
            let issuer_id = IssuerId::new(&issuer);
            let list = out.entry(issuer_id.clone()).or_default();
            latest_per_metric(
                list,
                FundamentalValue {
                    issuer_id,
                    metric,
                    period_end,
                    filed,
                    value,
                },
            );
        }
        Ok(out)
    }
}

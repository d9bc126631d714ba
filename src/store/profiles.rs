//! Issuer profiles in the runtime database: one JSON snapshot per issuer, date and
//! profiles config, with its risk flags.

use super::RuntimeDb;
use super::bulk::{BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::writer::BeginBatch;
use crate::domain::{ConfigId, RunId};
use async_trait::async_trait;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// One stored profile.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileRecord {
    /// The issuer.
    pub issuer_id: String,
    /// The date it describes.
    pub as_of_date: NaiveDate,
    /// The market whose run wrote it.
    pub market_id: String,
    /// The snapshot (facts, price features, fundamentals, news features).
    pub body: serde_json::Value,
    /// Risk flags in [0,1], by name; a flag that could not be computed is absent.
    pub risk_flags: BTreeMap<String, f64>,
    /// The run that wrote it.
    pub run_id: RunId,
    /// The profiles config.
    pub config_id: ConfigId,
}

/// Profile storage.
#[async_trait]
pub trait ProfileStore {
    /// Upserts profiles (one transaction).
    async fn write_profiles(&self, rows: &[ProfileRecord]) -> Result<(), StoreError>;
    /// The profiles of `market` on `as_of` written under `config_id`, by issuer.
    async fn profiles(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<ProfileRecord>, StoreError>;
}

/// Profiles are upserted: a re-run of the same date and config replaces its rows.
const PROFILES: TableSpec = TableSpec {
    name: "profiles",
    columns: &[
        "issuer_id",
        "as_of_date",
        "config_id",
        "market_id",
        "body",
        "risk_flags",
        "run_id",
    ],
    key: &["as_of_date", "config_id", "issuer_id"],
};

#[async_trait]
impl ProfileStore for RuntimeDb {
    async fn write_profiles(&self, rows: &[ProfileRecord]) -> Result<(), StoreError> {
        let encoded: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                Ok((
                    serde_json::to_string(&r.body)?,
                    serde_json::to_string(&r.risk_flags)?,
                ))
            })
            .collect::<Result<_, serde_json::Error>>()
            .map_err(|e| StoreError::Rejected(format!("profile does not serialise: {e}")))?;
        let cells: Vec<_> = rows
            .iter()
            .zip(&encoded)
            .map(|(r, (body, flags))| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.text(&r.issuer_id);
                    k.date(r.as_of_date);
                    k.text(r.config_id.as_str());
                    k.text(&r.market_id);
                    k.text(body);
                    k.text(flags);
                    k.text(r.run_id.as_str());
                })
            })
            .collect();
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("write profiles"))?;
            tx.write_rows(&PROFILES, &cells, WriteMode::Upsert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query("write profiles"))?;
        });
        Ok(())
    }

    async fn profiles(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<ProfileRecord>, StoreError> {
        const SQL: &str = "SELECT issuer_id, body, risk_flags, run_id FROM profiles \
             WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3 ORDER BY issuer_id";
        let rows: Vec<(String, String, String, String)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .bind(config_id.as_str())
            .fetch_all()
            .await
            .map_err(StoreError::query("read profiles"))?;
        rows.into_iter()
            .map(|(issuer_id, body, flags, run_id)| {
                let corrupt = |e: serde_json::Error| StoreError::Corrupt {
                    what: "profile",
                    detail: format!("{issuer_id} {as_of}: {e}"),
                };
                Ok(ProfileRecord {
                    body: serde_json::from_str(&body).map_err(corrupt)?,
                    risk_flags: serde_json::from_str(&flags).map_err(corrupt)?,
                    issuer_id: issuer_id.clone(),
                    as_of_date: as_of,
                    market_id: market.to_owned(),
                    run_id: RunId::new(run_id),
                    config_id: config_id.clone(),
                })
            })
            .collect()
    }
}

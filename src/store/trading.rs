//! The kill switch's record in the runtime database: every change of the trading mode, in
//! order, with who set it and why. The latest row is the mode in force, so setting it and
//! auditing it are one insert, and a restarted daemon reads back exactly what was set.

use super::RuntimeDb;
use super::error::StoreError;
use super::pool::on_pool;
use super::tx::BeginWrite;
use crate::domain::TradingMode;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One change of the trading mode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TradingModeChange {
    /// Monotonic id.
    pub change_id: i64,
    /// When it was set.
    pub at: DateTime<Utc>,
    /// The mode set.
    pub mode: TradingMode,
    /// The mode it replaced.
    pub previous: TradingMode,
    /// Who set it (`cli:USER@HOST`, `http …`, a breaker's name).
    pub actor: String,
    /// Why.
    pub reason: String,
}

/// Trading-mode storage.
#[async_trait]
pub trait TradingStore {
    /// The mode in force and the change that set it (`None`: never set, so ACTIVE).
    async fn trading_mode(&self) -> Result<(TradingMode, Option<TradingModeChange>), StoreError>;
    /// Sets the mode (audited with `actor` and `reason`) and returns the change; setting the
    /// mode in force is recorded too (an operator's repeated halt is worth its audit row).
    async fn set_trading_mode(
        &self,
        mode: TradingMode,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<TradingModeChange, StoreError>;
    /// The latest `last` changes, newest first.
    async fn trading_mode_changes(&self, last: u32) -> Result<Vec<TradingModeChange>, StoreError>;
    /// The mode in force at `at`: the latest change recorded at or before it (ACTIVE when
    /// none). What every order checks at the instant it is sent or filled, so a replay of
    /// history on a simulated clock is not stopped by a switch thrown today.
    async fn trading_mode_at(&self, at: DateTime<Utc>) -> Result<TradingMode, StoreError>;
}

type Row = (i64, DateTime<Utc>, String, String, String, String);

const COLUMNS: &str = "change_id, at, mode, previous, actor, reason";

fn to_change(
    (change_id, at, mode, previous, actor, reason): Row,
) -> Result<TradingModeChange, StoreError> {
    let parse = |text: &str, what: &'static str| {
        TradingMode::parse(text).ok_or_else(|| StoreError::Corrupt {
            what,
            detail: format!("unknown trading mode `{text}`"),
        })
    };
    Ok(TradingModeChange {
        change_id,
        at,
        mode: parse(&mode, "trading_mode_changes.mode")?,
        previous: parse(&previous, "trading_mode_changes.previous")?,
        actor,
        reason,
    })
}

#[async_trait]
impl TradingStore for RuntimeDb {
    async fn trading_mode(&self) -> Result<(TradingMode, Option<TradingModeChange>), StoreError> {
        let latest = self.trading_mode_changes(1).await?.into_iter().next();
        Ok((
            latest.as_ref().map_or(TradingMode::Active, |c| c.mode),
            latest,
        ))
    }

    async fn set_trading_mode(
        &self,
        mode: TradingMode,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<TradingModeChange, StoreError> {
        const LATEST: &str =
            "SELECT mode FROM trading_mode_changes ORDER BY change_id DESC LIMIT 1";
        let insert = format!(
            "INSERT INTO trading_mode_changes (at, mode, previous, actor, reason) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        );
        let row: Row = on_pool!(&self.pool, p => {
            // One write transaction: the previous mode read is the one replaced.
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin trading mode"))?;
            let previous: Option<String> = sqlx::query_scalar(LATEST)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query("read trading mode"))?;
            let previous = previous.unwrap_or_else(|| TradingMode::Active.as_str().to_owned());
            let row: Row = sqlx::query_as(sqlx::AssertSqlSafe(insert))
                .bind(at)
                .bind(mode.as_str())
                .bind(&previous)
                .bind(actor)
                .bind(reason)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::query("set trading mode"))?;
            tx.commit().await.map_err(StoreError::query("commit trading mode"))?;
            row
        });
        to_change(row)
    }

    async fn trading_mode_at(&self, at: DateTime<Utc>) -> Result<TradingMode, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM trading_mode_changes WHERE at <= $1 ORDER BY change_id DESC LIMIT 1"
        );
        let row: Option<Row> = self
            .reads()
            .query_as(sql)
            .bind(at)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read trading mode"))?;
        Ok(row
            .map(to_change)
            .transpose()?
            .map_or(TradingMode::Active, |c| c.mode))
    }

    async fn trading_mode_changes(&self, last: u32) -> Result<Vec<TradingModeChange>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM trading_mode_changes ORDER BY change_id DESC LIMIT $1");
        let rows: Vec<Row> = self
            .reads()
            .query_as(sql)
            .bind(i64::from(last))
            .fetch_all()
            .await
            .map_err(StoreError::query("read trading mode changes"))?;
        rows.into_iter().map(to_change).collect()
    }
}

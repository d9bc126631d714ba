//! Backtests in the runtime database: the run (strategy as run, engine configs, metrics),
//! its daily equity curve and its fills. Starting a backtest replaces every row of the
//! same `backtest_id`, so running it again never mixes two runs.

use super::RuntimeDb;
use super::error::StoreError;
use super::pool::on_pool;
use super::tx::BeginWrite;
use crate::backtest::broker::{DayRecord, Fill};
use async_trait::async_trait;
use chrono::NaiveDate;

/// A backtest's header.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktestRun {
    /// Content id of (strategy, range, engine configs).
    pub backtest_id: String,
    /// The strategy's name.
    pub strategy: String,
    /// The market.
    pub market_id: String,
    /// First session.
    pub from: NaiveDate,
    /// Last session.
    pub to: NaiveDate,
    /// The run that produced it.
    pub run_id: String,
    /// Content id of the strategy file as run.
    pub config_id: String,
    /// The strategy as canonical JSON.
    pub strategy_body: String,
    /// `{engine: config_id}` of the engines it ran, as JSON.
    pub engine_configs: String,
    /// `RUNNING`, `SUCCEEDED` or `FAILED`.
    pub state: String,
    /// Rebalance dates.
    pub rebalances: usize,
    /// Rebalance dates whose engines failed (no new target; holdings kept).
    pub failed_rebalances: usize,
    /// The metrics report as JSON, once finished.
    pub metrics: Option<String>,
}

/// A stored session of the equity curve.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredDay {
    /// The broker's record.
    pub day: DayRecord,
    /// The benchmark's return that session.
    pub benchmark_return: Option<f64>,
    /// The regime in force.
    pub regime: Option<String>,
}

/// Backtest storage.
#[async_trait]
pub trait BacktestStore {
    /// Deletes every row of the backtest and writes its header.
    async fn start_backtest(&self, run: &BacktestRun) -> Result<(), StoreError>;
    /// Writes the equity curve and fills and the final header, in one transaction.
    async fn finish_backtest(
        &self,
        run: &BacktestRun,
        days: &[StoredDay],
        fills: &[Fill],
    ) -> Result<(), StoreError>;
    /// A backtest's header.
    async fn backtest_run(&self, backtest_id: &str) -> Result<Option<BacktestRun>, StoreError>;
    /// The headers of the latest `last` backtests (by last session, then id), newest first.
    async fn backtest_runs(&self, last: u32) -> Result<Vec<BacktestRun>, StoreError>;
    /// Its equity curve, in date order.
    async fn backtest_days(&self, backtest_id: &str) -> Result<Vec<StoredDay>, StoreError>;
    /// Its fills, in date and instrument order.
    async fn backtest_fills(&self, backtest_id: &str) -> Result<Vec<Fill>, StoreError>;
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

const RUN_COLUMNS: &str = "backtest_id, strategy, market_id, from_date, to_date, run_id, config_id, strategy_body, \
     engine_configs, state, rebalances, failed_rebalances, metrics";

/// A `backtest_runs` row as read, in `RUN_COLUMNS` order.
type RunRow = (
    String,
    String,
    String,
    NaiveDate,
    NaiveDate,
    String,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<String>,
);

fn to_run(r: RunRow) -> BacktestRun {
    BacktestRun {
        backtest_id: r.0,
        strategy: r.1,
        market_id: r.2,
        from: r.3,
        to: r.4,
        run_id: r.5,
        config_id: r.6,
        strategy_body: r.7,
        engine_configs: r.8,
        state: r.9,
        rebalances: usize::try_from(r.10).unwrap_or(0),
        failed_rebalances: usize::try_from(r.11).unwrap_or(0),
        metrics: r.12,
    }
}

const UPSERT_RUN: &str = "INSERT INTO backtest_runs (backtest_id, strategy, market_id, from_date, to_date, run_id, config_id, \
     strategy_body, engine_configs, state, rebalances, failed_rebalances, metrics) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) ON CONFLICT (backtest_id) DO UPDATE SET \
     strategy = excluded.strategy, market_id = excluded.market_id, from_date = excluded.from_date, to_date = excluded.to_date, \
     run_id = excluded.run_id, config_id = excluded.config_id, strategy_body = excluded.strategy_body, \
     engine_configs = excluded.engine_configs, state = excluded.state, rebalances = excluded.rebalances, \
     failed_rebalances = excluded.failed_rebalances, metrics = excluded.metrics";

#[async_trait]
impl BacktestStore for RuntimeDb {
    async fn start_backtest(&self, r: &BacktestRun) -> Result<(), StoreError> {
        // A backtest without days or fills yet: the same replacement as its final write.
        self.finish_backtest(r, &[], &[]).await
    }

    async fn finish_backtest(
        &self,
        r: &BacktestRun,
        days: &[StoredDay],
        fills: &[Fill],
    ) -> Result<(), StoreError> {
        let what = "write backtest";
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            for table in ["backtest_daily", "backtest_trades"] {
                sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE backtest_id = $1")))
                    .bind(&r.backtest_id)
                    .execute(&mut *tx).await.map_err(StoreError::query(what))?;
            }
            for d in days {
                let x = &d.day;
                sqlx::query("INSERT INTO backtest_daily (backtest_id, trade_date, run_id, config_id, equity, cash, daily_return, \
                     benchmark_return, gross_exposure, traded_notional, costs, regime) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                    .bind(&r.backtest_id).bind(x.date).bind(&r.run_id).bind(&r.config_id)
                    .bind(x.equity).bind(x.cash).bind(x.daily_return).bind(d.benchmark_return)
                    .bind(x.gross_exposure).bind(x.traded_notional).bind(x.costs).bind(&d.regime)
                    .execute(&mut *tx).await.map_err(StoreError::query(what))?;
            }
            for f in fills {
                sqlx::query("INSERT INTO backtest_trades (backtest_id, trade_date, instrument_id, run_id, config_id, order_date, shares, \
                     price, notional, commission, slippage, target_weight, requested_shares) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
                    .bind(&r.backtest_id).bind(f.date).bind(&f.instrument_id).bind(&r.run_id).bind(&r.config_id)
                    .bind(f.order_date).bind(f.shares).bind(f.price).bind(f.notional).bind(f.commission)
                    .bind(f.slippage).bind(f.target_weight).bind(f.requested_shares)
                    .execute(&mut *tx).await.map_err(StoreError::query(what))?;
            }
            sqlx::query(UPSERT_RUN)
                .bind(&r.backtest_id).bind(&r.strategy).bind(&r.market_id).bind(r.from).bind(r.to)
                .bind(&r.run_id).bind(&r.config_id).bind(&r.strategy_body).bind(&r.engine_configs)
                .bind(&r.state).bind(to_i64(r.rebalances)).bind(to_i64(r.failed_rebalances)).bind(&r.metrics)
                .execute(&mut *tx).await.map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }

    async fn backtest_run(&self, backtest_id: &str) -> Result<Option<BacktestRun>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM backtest_runs WHERE backtest_id = $1");
        let row: Option<RunRow> = self
            .reads()
            .query_as(sql)
            .bind(backtest_id)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read backtest run"))?;
        Ok(row.map(to_run))
    }

    async fn backtest_runs(&self, last: u32) -> Result<Vec<BacktestRun>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM backtest_runs ORDER BY to_date DESC, backtest_id DESC LIMIT $1"
        );
        let rows: Vec<RunRow> = self
            .reads()
            .query_as(sql)
            .bind(i64::from(last))
            .fetch_all()
            .await
            .map_err(StoreError::query("list backtest runs"))?;
        Ok(rows.into_iter().map(to_run).collect())
    }

    async fn backtest_days(&self, backtest_id: &str) -> Result<Vec<StoredDay>, StoreError> {
        type Row = (
            NaiveDate,
            f64,
            f64,
            f64,
            Option<f64>,
            f64,
            f64,
            f64,
            Option<String>,
        );
        const SQL: &str = "SELECT trade_date, equity, cash, daily_return, benchmark_return, gross_exposure, traded_notional, \
             costs, regime FROM backtest_daily WHERE backtest_id = $1 ORDER BY trade_date";
        let rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(backtest_id)
            .fetch_all()
            .await
            .map_err(StoreError::query("read backtest days"))?;
        Ok(rows
            .into_iter()
            .map(|r| StoredDay {
                day: DayRecord {
                    date: r.0,
                    equity: r.1,
                    cash: r.2,
                    daily_return: r.3,
                    gross_exposure: r.5,
                    traded_notional: r.6,
                    costs: r.7,
                },
                benchmark_return: r.4,
                regime: r.8,
            })
            .collect())
    }

    async fn backtest_fills(&self, backtest_id: &str) -> Result<Vec<Fill>, StoreError> {
        type Row = (
            NaiveDate,
            String,
            NaiveDate,
            f64,
            f64,
            f64,
            f64,
            f64,
            f64,
            f64,
        );
        const SQL: &str = "SELECT trade_date, instrument_id, order_date, shares, price, notional, commission, slippage, \
             target_weight, requested_shares FROM backtest_trades WHERE backtest_id = $1 ORDER BY trade_date, instrument_id";
        let rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(backtest_id)
            .fetch_all()
            .await
            .map_err(StoreError::query("read backtest fills"))?;
        Ok(rows
            .into_iter()
            .map(|r| Fill {
                date: r.0,
                instrument_id: r.1,
                order_date: r.2,
                shares: r.3,
                price: r.4,
                notional: r.5,
                commission: r.6,
                slippage: r.7,
                target_weight: r.8,
                requested_shares: r.9,
            })
            .collect())
    }
}

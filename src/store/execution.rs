//! The execution ledger in the runtime database: orders, fills, account days, positions,
//! P&L attribution and risk actions (tables of migration `0012_execution`).
//!
//! Every write is idempotent: orders and fills insert by their ids and never overwrite
//! (a plan or a fill made twice is stored once), a session's account, positions and P&L
//! are replaced together, and a session's risk actions upsert on their natural key.

use super::RuntimeDb;
use super::bulk::{
    BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode, statement_sizes,
};
use super::error::StoreError;
use super::pool::{Pool, on_pool};
use super::statement::Statement;
use super::tx::BeginWrite;
use super::writer::BeginBatch;
use crate::domain::{OrderPurpose, OrderState};
use crate::execution::ledger::{
    AccountDay, AccountKey, FillRecord, OrderRecord, PnlRow, PositionRow, Provenance, RiskAction,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::BTreeMap;

/// A change of an order's state.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderUpdate {
    /// The order.
    pub order_id: String,
    /// Its new state.
    pub state: OrderState,
    /// Shares filled so far.
    pub filled_quantity: f64,
    /// Why (blocked, cancelled, expired).
    pub reason: Option<String>,
}

/// Ledger storage.
#[async_trait]
pub trait ExecutionStore {
    /// Stores orders that do not exist yet (by id); existing ones are left as they are.
    async fn insert_orders(
        &self,
        orders: &[OrderRecord],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Books new orders (the kill switch's closing orders at a fill), fills (new ids only)
    /// and order state changes in one transaction: a settlement is all there or not at all.
    async fn settle(
        &self,
        new_orders: &[OrderRecord],
        fills: &[FillRecord],
        updates: &[OrderUpdate],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Stores a session's account, positions and P&L attribution, replacing what that
    /// session had.
    async fn write_account_day(
        &self,
        day: &AccountDay,
        positions: &[PositionRow],
        pnl: &[PnlRow],
    ) -> Result<(), StoreError>;
    /// Forgets the account's sessions from `from` on (their account rows, positions and
    /// P&L; never orders or fills): fills booked late for those sessions (a broker
    /// statement) are marked again by the next execution job, which replays from the
    /// last session kept.
    async fn forget_account_days_from(
        &self,
        key: &AccountKey,
        from: NaiveDate,
    ) -> Result<u64, StoreError>;
    /// Records risk actions (a session's same check, name and action replaced).
    async fn record_risk_actions(&self, actions: &[RiskAction]) -> Result<(), StoreError>;

    /// The account's sessions dated in `[from, to]`.
    async fn account_days(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<AccountDay>, StoreError>;
    /// The account's latest session dated before `before`.
    async fn account_day_before(
        &self,
        key: &AccountKey,
        before: NaiveDate,
    ) -> Result<Option<AccountDay>, StoreError>;
    /// The positions at the close of `as_of`.
    async fn positions(
        &self,
        key: &AccountKey,
        as_of: NaiveDate,
    ) -> Result<Vec<PositionRow>, StoreError>;
    /// Positions dated in `[from, to]`, by date then instrument.
    async fn positions_between(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, PositionRow)>, StoreError>;
    /// P&L rows dated in `[from, to]`, by date then instrument.
    async fn pnl_between(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, PnlRow)>, StoreError>;
    /// Orders planned in `[from, to]`, by date then place in the plan.
    async fn orders(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<OrderRecord>, StoreError>;
    /// Orders planned in `[from, to]` that are in `state`, by date then place in the plan
    /// (what [`ExecutionStore::orders`] returns, filtered by the database: a backfill's
    /// execution job looks for the few orders still out among a month of filled ones).
    async fn orders_in_state(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
        state: OrderState,
    ) -> Result<Vec<OrderRecord>, StoreError>;
    /// The instruments of the orders planned in `[from, to]`, sorted, each once.
    async fn ordered_instruments(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<String>, StoreError>;
    /// Fills dated in `[from, to]`, in booking order.
    async fn fills(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FillRecord>, StoreError>;
    /// Risk actions dated in `[from, to]`.
    async fn risk_actions(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<RiskAction>, StoreError>;
    /// Every account with a ledger.
    async fn accounts(&self) -> Result<Vec<AccountKey>, StoreError>;
    /// The accounts with a session marked in `market`: those whose equity can be measured
    /// (reads the account days only, not every order and fill, so it stays cheap on a
    /// ledger of decades).
    async fn marked_accounts(&self, market: &str) -> Result<Vec<AccountKey>, StoreError>;
}

type OrderRow = (
    String,
    String,
    String,
    NaiveDate,
    i64,
    String,
    f64,
    f64,
    f64,
    String,
    String,
    f64,
    String,
    Option<String>,
    String,
    String,
);
/// `exec_orders` as bulk writes see it (new orders; the stored ones are kept).
const EXEC_ORDERS: TableSpec = TableSpec {
    name: "exec_orders",
    columns: &[
        "order_id",
        "account_id",
        "market_id",
        "order_date",
        "seq",
        "instrument_id",
        "quantity",
        "reference_price",
        "target_weight",
        "purpose",
        "state",
        "filled_quantity",
        "broker",
        "reason",
        "run_id",
        "config_id",
        "updated_at",
    ],
    key: &["order_id"],
};

/// `exec_fills` as bulk writes see it.
const EXEC_FILLS: TableSpec = TableSpec {
    name: "exec_fills",
    columns: &[
        "fill_id",
        "order_id",
        "account_id",
        "market_id",
        "trade_date",
        "seq",
        "instrument_id",
        "quantity",
        "price",
        "commission",
        "slippage",
        "source",
        "run_id",
        "config_id",
    ],
    key: &["fill_id"],
};

/// `exec_positions` as bulk writes see it.
const EXEC_POSITIONS: TableSpec = TableSpec {
    name: "exec_positions",
    columns: &[
        "account_id",
        "market_id",
        "as_of_date",
        "instrument_id",
        "quantity",
        "close",
        "value",
        "run_id",
        "config_id",
    ],
    key: &["account_id", "market_id", "as_of_date", "instrument_id"],
};

/// `exec_pnl` as bulk writes see it.
const EXEC_PNL: TableSpec = TableSpec {
    name: "exec_pnl",
    columns: &[
        "account_id",
        "market_id",
        "as_of_date",
        "instrument_id",
        "sector",
        "pnl",
        "costs",
        "run_id",
        "config_id",
    ],
    key: &["account_id", "market_id", "as_of_date", "instrument_id"],
};

/// One statement changing the state of `rows` orders: each row binds order id, state,
/// filled quantity, reason and the time of the change. SQLite names a `VALUES` list's
/// columns `column1…`; PostgreSQL takes them from the alias.
fn update_orders_sql(rows: usize, sqlite: bool) -> String {
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let n = r * 5;
            if sqlite {
                "(?,?,?,?,?)".to_owned()
            } else {
                format!(
                    "(${}, ${}, ${}, ${}, ${})",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 5
                )
            }
        })
        .collect();
    if sqlite {
        format!(
            "UPDATE exec_orders SET state = u.column2, filled_quantity = u.column3, \
             reason = u.column4, updated_at = u.column5 FROM (VALUES {}) AS u \
             WHERE exec_orders.order_id = u.column1",
            values.join(",")
        )
    } else {
        format!(
            "UPDATE exec_orders SET state = u.state, filled_quantity = u.filled, \
             reason = u.reason, updated_at = u.at FROM (VALUES {}) \
             AS u (order_id, state, filled, reason, at) WHERE exec_orders.order_id = u.order_id",
            values.join(",")
        )
    }
}

const ORDER_COLUMNS: &str = "order_id, account_id, market_id, order_date, seq, instrument_id, quantity, \
     reference_price, target_weight, purpose, state, filled_quantity, broker, reason, run_id, config_id";

fn to_order(r: OrderRow) -> Result<OrderRecord, StoreError> {
    let corrupt = |what: &'static str, text: &str| StoreError::Corrupt {
        what,
        detail: format!("unknown value `{text}`"),
    };
    Ok(OrderRecord {
        order_id: r.0,
        key: AccountKey {
            account_id: r.1,
            market_id: r.2,
        },
        order_date: r.3,
        seq: r.4,
        instrument_id: r.5,
        quantity: r.6,
        reference_price: r.7,
        target_weight: r.8,
        purpose: OrderPurpose::parse(&r.9).ok_or_else(|| corrupt("exec_orders.purpose", &r.9))?,
        state: OrderState::parse(&r.10).ok_or_else(|| corrupt("exec_orders.state", &r.10))?,
        filled_quantity: r.11,
        broker: r.12,
        reason: r.13,
        provenance: Provenance {
            run_id: r.14,
            config_id: r.15,
        },
    })
}

type FillRow = (
    String,
    Option<String>,
    String,
    String,
    NaiveDate,
    i64,
    String,
    f64,
    f64,
    f64,
    f64,
    String,
    String,
    String,
);
const FILL_COLUMNS: &str = "fill_id, order_id, account_id, market_id, trade_date, seq, instrument_id, \
     quantity, price, commission, slippage, source, run_id, config_id";

fn to_fill(r: FillRow) -> FillRecord {
    FillRecord {
        fill_id: r.0,
        order_id: r.1,
        key: AccountKey {
            account_id: r.2,
            market_id: r.3,
        },
        trade_date: r.4,
        seq: r.5,
        instrument_id: r.6,
        quantity: r.7,
        price: r.8,
        commission: r.9,
        slippage: r.10,
        source: r.11,
        provenance: Provenance {
            run_id: r.12,
            config_id: r.13,
        },
    }
}

type DayRow = (
    String,
    String,
    NaiveDate,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    String,
    String,
);
const DAY_COLUMNS: &str = "account_id, market_id, as_of_date, cash, equity, daily_return, peak_equity, \
     gross_exposure, traded_notional, costs, pnl, run_id, config_id";

fn to_day(r: DayRow) -> AccountDay {
    AccountDay {
        key: AccountKey {
            account_id: r.0,
            market_id: r.1,
        },
        as_of: r.2,
        cash: r.3,
        equity: r.4,
        daily_return: r.5,
        peak_equity: r.6,
        gross_exposure: r.7,
        traded_notional: r.8,
        costs: r.9,
        pnl: r.10,
        provenance: Provenance {
            run_id: r.11,
            config_id: r.12,
        },
    }
}

type ActionRow = (
    String,
    String,
    NaiveDate,
    String,
    String,
    String,
    DateTime<Utc>,
    Option<f64>,
    Option<f64>,
    String,
    String,
    String,
);

impl RuntimeDb {
    /// Orders planned in `[from, to]`, all or those in `state`, by date then place in the
    /// plan: what [`ExecutionStore::orders`] and [`ExecutionStore::orders_in_state`] read.
    async fn read_orders(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
        state: Option<OrderState>,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        let in_state = if state.is_some() {
            " AND state = $5"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {ORDER_COLUMNS} FROM exec_orders WHERE account_id = $1 AND market_id = $2 \
             AND order_date >= $3 AND order_date <= $4{in_state} ORDER BY order_date, seq, order_id"
        );
        let state = state.map(OrderState::as_str);
        let q = self
            .reads()
            .query_as::<OrderRow>(sql)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(from)
            .bind(to);
        let q = match state {
            Some(s) => q.bind(s),
            None => q,
        };
        let rows = q
            .fetch_all()
            .await
            .map_err(StoreError::query("read orders"))?;
        rows.into_iter().map(to_order).collect()
    }
}

#[async_trait]
impl ExecutionStore for RuntimeDb {
    async fn insert_orders(
        &self,
        orders: &[OrderRecord],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.settle(orders, &[], &[], at).await
    }

    async fn settle(
        &self,
        new_orders: &[OrderRecord],
        fills: &[FillRecord],
        updates: &[OrderUpdate],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if new_orders.is_empty() && fills.is_empty() && updates.is_empty() {
            return Ok(());
        }
        let orders: Vec<_> = new_orders
            .iter()
            .map(|o| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.text(&o.order_id);
                    k.text(&o.key.account_id);
                    k.text(&o.key.market_id);
                    k.date(o.order_date);
                    k.int(o.seq);
                    k.text(&o.instrument_id);
                    k.real(Some(o.quantity));
                    k.real(Some(o.reference_price));
                    k.real(Some(o.target_weight));
                    k.text(o.purpose.as_str());
                    k.text(o.state.as_str());
                    k.real(Some(o.filled_quantity));
                    k.text(&o.broker);
                    k.opt_text(o.reason.as_deref());
                    k.text(&o.provenance.run_id);
                    k.text(&o.provenance.config_id);
                    k.timestamp(Some(at));
                })
            })
            .collect();
        let fill_rows: Vec<_> = fills
            .iter()
            .map(|f| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.text(&f.fill_id);
                    k.opt_text(f.order_id.as_deref());
                    k.text(&f.key.account_id);
                    k.text(&f.key.market_id);
                    k.date(f.trade_date);
                    k.int(f.seq);
                    k.text(&f.instrument_id);
                    k.real(Some(f.quantity));
                    k.real(Some(f.price));
                    k.real(Some(f.commission));
                    k.real(Some(f.slippage));
                    k.text(&f.source);
                    k.text(&f.provenance.run_id);
                    k.text(&f.provenance.config_id);
                })
            })
            .collect();
        // Each update sets the whole new state, so of several for one order the last is
        // the one that stands: one row per order lets them go as one statement.
        let mut last: BTreeMap<&str, &OrderUpdate> = BTreeMap::new();
        for u in updates {
            last.insert(&u.order_id, u);
        }
        let changes: Vec<&OrderUpdate> = last.into_values().collect();
        let sqlite = matches!(self.pool, Pool::Sqlite(_));
        let tuning = BulkTuning::default();
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("begin settlement"))?;
            tx.write_rows(&EXEC_ORDERS, &orders, WriteMode::InsertNew, &tuning).await?;
            tx.write_rows(&EXEC_FILLS, &fill_rows, WriteMode::InsertNew, &tuning).await?;
            let mut at_row = 0;
            for size in statement_sizes(changes.len()) {
                let mut q = Statement::new(update_orders_sql(size, sqlite));
                for u in &changes[at_row..at_row + size] {
                    q = q
                        .bind(u.order_id.clone())
                        .bind(u.state.as_str())
                        .bind(u.filled_quantity)
                        .bind(u.reason.clone())
                        .bind(at);
                }
                at_row += size;
                tx.run(q).await.map_err(StoreError::query("update orders"))?;
            }
            tx.commit().await.map_err(StoreError::query("commit settlement"))?;
        });
        Ok(())
    }

    async fn write_account_day(
        &self,
        day: &AccountDay,
        positions: &[PositionRow],
        pnl: &[PnlRow],
    ) -> Result<(), StoreError> {
        let upsert = format!(
            "INSERT INTO exec_account_days ({DAY_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (account_id, market_id, as_of_date) DO UPDATE SET cash = excluded.cash, \
             equity = excluded.equity, daily_return = excluded.daily_return, \
             peak_equity = excluded.peak_equity, gross_exposure = excluded.gross_exposure, \
             traded_notional = excluded.traded_notional, costs = excluded.costs, \
             pnl = excluded.pnl, run_id = excluded.run_id, config_id = excluded.config_id"
        );
        const CLEAR_POSITIONS: &str = "DELETE FROM exec_positions WHERE account_id = $1 AND market_id = $2 AND as_of_date = $3";
        const CLEAR_PNL: &str =
            "DELETE FROM exec_pnl WHERE account_id = $1 AND market_id = $2 AND as_of_date = $3";
        let (k, d, prov) = (&day.key, day.as_of, &day.provenance);
        let position_rows: Vec<_> = positions
            .iter()
            .map(|r| {
                CellsRow(move |c: &mut dyn CellSink| {
                    c.text(&k.account_id);
                    c.text(&k.market_id);
                    c.date(d);
                    c.text(&r.instrument_id);
                    c.real(Some(r.quantity));
                    c.real(Some(r.close));
                    c.real(Some(r.value));
                    c.text(&prov.run_id);
                    c.text(&prov.config_id);
                })
            })
            .collect();
        let pnl_rows: Vec<_> = pnl
            .iter()
            .map(|r| {
                CellsRow(move |c: &mut dyn CellSink| {
                    c.text(&k.account_id);
                    c.text(&k.market_id);
                    c.date(d);
                    c.text(&r.instrument_id);
                    c.text(&r.sector);
                    c.real(Some(r.pnl));
                    c.real(Some(r.costs));
                    c.text(&prov.run_id);
                    c.text(&prov.config_id);
                })
            })
            .collect();
        let tuning = BulkTuning::default();
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("begin account day"))?;
            tx.run(Statement::new(upsert.clone())
                .bind(&k.account_id)
                .bind(&k.market_id)
                .bind(d)
                .bind(day.cash)
                .bind(day.equity)
                .bind(day.daily_return)
                .bind(day.peak_equity)
                .bind(day.gross_exposure)
                .bind(day.traded_notional)
                .bind(day.costs)
                .bind(day.pnl)
                .bind(&prov.run_id)
                .bind(&prov.config_id))
                .await
                .map_err(StoreError::query("write account day"))?;
            for sql in [CLEAR_POSITIONS, CLEAR_PNL] {
                tx.run(Statement::new(sql)
                    .bind(&k.account_id)
                    .bind(&k.market_id)
                    .bind(d))
                    .await
                    .map_err(StoreError::query("clear account day"))?;
            }
            tx.write_rows(&EXEC_POSITIONS, &position_rows, WriteMode::Insert, &tuning).await?;
            tx.write_rows(&EXEC_PNL, &pnl_rows, WriteMode::Insert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit account day"))?;
        });
        Ok(())
    }

    async fn forget_account_days_from(
        &self,
        key: &AccountKey,
        from: NaiveDate,
    ) -> Result<u64, StoreError> {
        let mut forgotten = 0;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin forgetting account days"))?;
            for table in ["exec_account_days", "exec_positions", "exec_pnl"] {
                let sql = format!(
                    "DELETE FROM {table} WHERE account_id = $1 AND market_id = $2 AND as_of_date >= $3"
                );
                let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(&key.account_id)
                    .bind(&key.market_id)
                    .bind(from)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query("forget account days"))?;
                if table == "exec_account_days" {
                    forgotten = done.rows_affected();
                }
            }
            tx.commit().await.map_err(StoreError::query("commit forgetting account days"))?;
        });
        Ok(forgotten)
    }

    async fn record_risk_actions(&self, actions: &[RiskAction]) -> Result<(), StoreError> {
        if actions.is_empty() {
            return Ok(());
        }
        const SQL: &str = "INSERT INTO risk_actions (account_id, market_id, as_of_date, check_id, \
             instrument_id, action, at, value, limit_value, reason, run_id, config_id) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (account_id, market_id, as_of_date, check_id, instrument_id, action) DO UPDATE \
             SET at = excluded.at, value = excluded.value, limit_value = excluded.limit_value, \
             reason = excluded.reason, run_id = excluded.run_id, config_id = excluded.config_id";
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("begin risk actions"))?;
            for a in actions {
                tx.run(Statement::new(SQL)
                    .bind(&a.key.account_id)
                    .bind(&a.key.market_id)
                    .bind(a.as_of)
                    .bind(&a.check)
                    .bind(a.instrument_id.as_deref().unwrap_or_default())
                    .bind(&a.action)
                    .bind(a.at)
                    .bind(a.value.filter(|v| v.is_finite()))
                    .bind(a.limit.filter(|v| v.is_finite()))
                    .bind(&a.reason)
                    .bind(&a.provenance.run_id)
                    .bind(&a.provenance.config_id))
                    .await
                    .map_err(StoreError::query("record risk action"))?;
            }
            tx.commit().await.map_err(StoreError::query("commit risk actions"))?;
        });
        Ok(())
    }

    async fn account_days(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<AccountDay>, StoreError> {
        let sql = format!(
            "SELECT {DAY_COLUMNS} FROM exec_account_days WHERE account_id = $1 AND market_id = $2 \
             AND as_of_date >= $3 AND as_of_date <= $4 ORDER BY as_of_date"
        );
        let rows: Vec<DayRow> = self
            .reads()
            .query_as(sql)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read account days"))?;
        Ok(rows.into_iter().map(to_day).collect())
    }

    async fn account_day_before(
        &self,
        key: &AccountKey,
        before: NaiveDate,
    ) -> Result<Option<AccountDay>, StoreError> {
        let sql = format!(
            "SELECT {DAY_COLUMNS} FROM exec_account_days WHERE account_id = $1 AND market_id = $2 \
             AND as_of_date < $3 ORDER BY as_of_date DESC LIMIT 1"
        );
        let row: Option<DayRow> = self
            .reads()
            .query_as(sql)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(before)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read account day"))?;
        Ok(row.map(to_day))
    }

    async fn positions(
        &self,
        key: &AccountKey,
        as_of: NaiveDate,
    ) -> Result<Vec<PositionRow>, StoreError> {
        Ok(self
            .positions_between(key, as_of, as_of)
            .await?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    }

    async fn positions_between(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, PositionRow)>, StoreError> {
        const SQL: &str = "SELECT as_of_date, instrument_id, quantity, close, value FROM exec_positions \
             WHERE account_id = $1 AND market_id = $2 AND as_of_date >= $3 AND as_of_date <= $4 \
             ORDER BY as_of_date, instrument_id";
        let rows: Vec<(NaiveDate, String, f64, f64, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read positions"))?;
        Ok(rows
            .into_iter()
            .map(|(d, instrument_id, quantity, close, value)| {
                (
                    d,
                    PositionRow {
                        instrument_id,
                        quantity,
                        close,
                        value,
                    },
                )
            })
            .collect())
    }

    async fn pnl_between(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, PnlRow)>, StoreError> {
        const SQL: &str = "SELECT as_of_date, instrument_id, sector, pnl, costs FROM exec_pnl \
             WHERE account_id = $1 AND market_id = $2 AND as_of_date >= $3 AND as_of_date <= $4 \
             ORDER BY as_of_date, instrument_id";
        let rows: Vec<(NaiveDate, String, String, f64, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read pnl"))?;
        Ok(rows
            .into_iter()
            .map(|(d, instrument_id, sector, pnl, costs)| {
                (
                    d,
                    PnlRow {
                        instrument_id,
                        sector,
                        pnl,
                        costs,
                    },
                )
            })
            .collect())
    }

    async fn orders(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        self.read_orders(key, from, to, None).await
    }

    async fn orders_in_state(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
        state: OrderState,
    ) -> Result<Vec<OrderRecord>, StoreError> {
        self.read_orders(key, from, to, Some(state)).await
    }

    async fn ordered_instruments(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT DISTINCT instrument_id FROM exec_orders WHERE account_id = $1 \
             AND market_id = $2 AND order_date >= $3 AND order_date <= $4 ORDER BY instrument_id";
        Ok(self
            .reads()
            .query_scalar(SQL)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read ordered instruments"))?)
    }

    async fn fills(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FillRecord>, StoreError> {
        let sql = format!(
            "SELECT {FILL_COLUMNS} FROM exec_fills WHERE account_id = $1 AND market_id = $2 \
             AND trade_date >= $3 AND trade_date <= $4 ORDER BY trade_date, seq, fill_id"
        );
        let rows: Vec<FillRow> = self
            .reads()
            .query_as(sql)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read fills"))?;
        Ok(rows.into_iter().map(to_fill).collect())
    }

    async fn risk_actions(
        &self,
        key: &AccountKey,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<RiskAction>, StoreError> {
        const SQL: &str = "SELECT account_id, market_id, as_of_date, check_id, instrument_id, action, at, \
             value, limit_value, reason, run_id, config_id FROM risk_actions WHERE account_id = $1 \
             AND market_id = $2 AND as_of_date >= $3 AND as_of_date <= $4 \
             ORDER BY as_of_date, check_id, instrument_id, action";
        let rows: Vec<ActionRow> = self
            .reads()
            .query_as(SQL)
            .bind(&key.account_id)
            .bind(&key.market_id)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read risk actions"))?;
        Ok(rows
            .into_iter()
            .map(|r| RiskAction {
                key: AccountKey {
                    account_id: r.0,
                    market_id: r.1,
                },
                as_of: r.2,
                check: r.3,
                instrument_id: Some(r.4).filter(|s| !s.is_empty()),
                action: r.5,
                at: r.6,
                value: r.7,
                limit: r.8,
                reason: r.9,
                provenance: Provenance {
                    run_id: r.10,
                    config_id: r.11,
                },
            })
            .collect())
    }

    async fn accounts(&self) -> Result<Vec<AccountKey>, StoreError> {
        const SQL: &str = "SELECT account_id, market_id FROM exec_account_days \
             UNION SELECT account_id, market_id FROM exec_orders \
             UNION SELECT account_id, market_id FROM exec_fills ORDER BY 1, 2";
        let rows: Vec<(String, String)> = self
            .reads()
            .query_as(SQL)
            .fetch_all()
            .await
            .map_err(StoreError::query("read accounts"))?;
        Ok(rows
            .into_iter()
            .map(|(account_id, market_id)| AccountKey {
                account_id,
                market_id,
            })
            .collect())
    }

    async fn marked_accounts(&self, market: &str) -> Result<Vec<AccountKey>, StoreError> {
        const SQL: &str = "SELECT DISTINCT account_id FROM exec_account_days WHERE market_id = $1 \
             ORDER BY 1";
        let rows: Vec<(String,)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .fetch_all()
            .await
            .map_err(StoreError::query("read marked accounts"))?;
        Ok(rows
            .into_iter()
            .map(|(account_id,)| AccountKey {
                account_id,
                market_id: market.to_owned(),
            })
            .collect())
    }
}

//! The execution actor's job: after the portfolio writes the day's target, bring the account
//! up to date and trade toward it.
//!
//! One attempt for (market, session D), for the account `execution.toml` names:
//! 1. **Reconcile** the ledger as stored before D (the book is the replay of its fills, every
//!    fill belongs to an order, every order's filled quantity is its fills'). A mismatch
//!    HALTS trading (persisted, audited), raises an alert and fails the job.
//! 2. **Catch up** every session after the last one stored, through D — the same loop as
//!    the backtest broker's: fill the orders due at the session's open (the paper broker,
//!    by the backtest's rules; the kill switch in force at the open decides what may fill,
//!    and FLATTEN closes every position there), then observe the closes.
//! 3. On D, **plan** orders from the target (or, at FLATTEN, close everything), apply the
//!    kill switch, run the **pre-trade checks** (a blocked plan is stored BLOCKED with its
//!    `risk_actions`, never sent in part), store the plan, then **send** each order — the
//!    switch read again immediately before each one.
//! 4. **Mark** each session at its close: cash, equity, positions and the P&L by name.
//!
//! Every step is stored before the next starts and each is idempotent (order ids are a hash
//! of account, market, session, instrument and purpose), so a crash anywhere — between
//! planning and sending included — is repaired by the retry without sending anything twice.

use crate::spine::edge::NoOutput;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};
use prometheus::backtest::broker::{Book, BrokerConfig, Execution, FillAt, Order, Quote};
use prometheus::calendar::ExchangeCalendar;
use prometheus::config::VersionedConfig;
use prometheus::domain::{OrderPurpose, OrderState, TargetPortfolio, TradingMode};
use prometheus::engines::portfolio::PortfolioConfig;
use prometheus::engines::universe::UNKNOWN_SECTOR;
use prometheus::execution::adapter::{BrokerAdapter, OutboxBroker, PaperBroker};
use prometheus::execution::checks::{AccountState, Line};
use prometheus::execution::config::{ExecutionConfig, ExecutionMode};
use prometheus::execution::ledger::{
    AccountDay, AccountKey, FillRecord, OrderRecord, PositionRow, Provenance, ReconcileInput,
    RiskAction, attribution, order_id, reconcile,
};
use prometheus::store::{
    ConfigStore, DecisionStore, ExecutionStore, OrderUpdate, ReferenceStore, SessionPrice,
    TradingStore,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The first date ledger reads start from (before any market data this system holds).
pub const LEDGER_START: NaiveDate = match NaiveDate::from_ymd_opt(1900, 1, 1) {
    Some(d) => d,
    None => NaiveDate::MIN,
};

/// The alert kind of a ledger that does not reconcile.
pub const RECONCILIATION_ALERT: &str = "reconciliation";
/// The alert kind of a plan the pre-trade checks blocked.
pub const BLOCKED_ALERT: &str = "pre_trade_block";

/// Execution: the paper broker or the live outbox, the ledger, the checks, the kill switch.
#[derive(Default)]
pub struct ExecutionJob;

impl ExecutionJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "execution";
}

/// Everything one attempt works with.
struct Account<'a> {
    ctx: &'a JobContext,
    config: &'a ExecutionConfig,
    key: AccountKey,
    provenance: Provenance,
    calendar: Arc<ExchangeCalendar>,
    adapter: Arc<dyn BrokerAdapter>,
}

/// The book being brought forward, with what marking and checks need besides it.
struct Ledger {
    book: Book,
    column: BTreeMap<String, usize>,
    /// Each column's last priced session.
    priced_on: Vec<Option<NaiveDate>>,
    previous_equity: f64,
    peak: f64,
}

impl Ledger {
    fn position(&self, id: &str) -> f64 {
        self.column.get(id).map_or(0.0, |&i| self.book.positions[i])
    }

    fn col(&self, id: &str) -> Result<usize, JobError> {
        self.column.get(id).copied().ok_or_else(|| {
            JobError::permanent(format!(
                "{id} is in the ledger but not in the book being rebuilt"
            ))
        })
    }
}

#[async_trait]
impl Job for ExecutionJob {
    type Config = ExecutionConfig;
    type Input = TargetPortfolio;
    type Output = NoOutput;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<ExecutionConfig>,
    ) -> Result<JobOutput<NoOutput>, JobError> {
        let config = &cfg.config;
        let calendar = ctx
            .calendars
            .get(ctx.run.market.as_str())
            .map_err(JobError::permanent)?;
        let adapter: Arc<dyn BrokerAdapter> = match config.mode {
            ExecutionMode::Paper => Arc::new(PaperBroker::new(config.broker.clone())),
            ExecutionMode::Live => Arc::new(OutboxBroker::new(&config.outbox_dir)),
        };
        let account = Account {
            ctx,
            config,
            key: AccountKey {
                account_id: config.account_id.clone(),
                market_id: ctx.run.market.to_string(),
            },
            provenance: Provenance {
                run_id: ctx.run.run_id.to_string(),
                config_id: cfg.config_id.to_string(),
            },
            calendar,
            adapter,
        };
        account.run().await
    }

    fn receive(&self, _input: TargetPortfolio) {
        // A claim check: the target is read from the store under the run record's config.
    }

    fn reset(&self) {}
}

impl Account<'_> {
    fn now(&self) -> DateTime<Utc> {
        self.ctx.clock.now()
    }

    fn subject(&self) -> String {
        format!("{}/{}", self.key.account_id, self.key.market_id)
    }

    fn action(
        &self,
        as_of: NaiveDate,
        check: &str,
        instrument: Option<String>,
        action: &str,
        reason: String,
        value_limit: (Option<f64>, Option<f64>),
    ) -> RiskAction {
        RiskAction {
            at: self.now(),
            key: self.key.clone(),
            as_of,
            check: check.to_owned(),
            instrument_id: instrument,
            value: value_limit.0,
            limit: value_limit.1,
            action: action.to_owned(),
            reason,
            provenance: self.provenance.clone(),
        }
    }

    async fn run(&self) -> Result<JobOutput<NoOutput>, JobError> {
        let as_of = self.ctx.run.as_of;
        let rt = &self.ctx.stores.runtime;
        let previous = rt.account_day_before(&self.key, as_of).await?;
        self.reconcile_before(as_of, previous.as_ref()).await?;
        let mut sessions: Vec<NaiveDate> = match &previous {
            Some(p) => self
                .calendar
                .sessions(p.as_of + Days::new(1), as_of)
                .iter()
                .map(|s| s.date)
                .collect(),
            None => Vec::new(),
        };
        if sessions.last() != Some(&as_of) {
            sessions.push(as_of);
        }
        let target = self.target(as_of).await?;
        let mut ledger = self
            .open_ledger(previous.as_ref(), &sessions, target.as_deref())
            .await?;
        let (_, rows) = self
            .ctx
            .panels
            .rows(
                &self.ctx.stores.historical,
                &self.ctx.run.market,
                sessions[0] - Days::new(14),
                as_of,
            )
            .await?;
        let prices = PriceIndex::new(&rows, &ledger.book.instruments);
        for (i, id) in ledger.book.instruments.iter().enumerate() {
            ledger.priced_on[i] = prices.last_date_before(id, sessions[0]);
        }
        let sectors = self.sectors().await?;
        let mut summary = Vec::new();
        let mut written = 0u64;
        for &session in &sessions {
            let held: BTreeMap<String, (f64, f64)> = ledger
                .book
                .instruments
                .iter()
                .enumerate()
                .filter(|(i, _)| ledger.book.positions[*i] != 0.0)
                .map(|(i, id)| {
                    (
                        id.clone(),
                        (ledger.book.positions[i], ledger.book.last_close[i]),
                    )
                })
                .collect();
            written += self.settle(session, &mut ledger, &prices).await?;
            ledger.book.observe_closes(|i| prices.close(i, session));
            for (i, id) in ledger.book.instruments.iter().enumerate() {
                if prices.quote(id, session).is_some_and(|q| q.close > 0.0) {
                    ledger.priced_on[i] = Some(session);
                }
            }
            if session == as_of {
                let (rows, line) = self
                    .trade(as_of, &mut ledger, target.as_deref(), &prices, &sectors)
                    .await?;
                written += rows;
                summary.push(line);
            }
            written += self.mark(session, &mut ledger, &held, &sectors).await?;
        }
        let equity = ledger.book.mark();
        Ok(JobOutput {
            summary: format!(
                "{} {}: equity {equity:.2} after {} session(s); {}",
                self.config.mode.as_str(),
                self.subject(),
                sessions.len(),
                summary.join("; ")
            ),
            rows: written,
            emit: None,
        })
    }

    /// Step 1: the ledger stored before `as_of` must reconcile, or trading stops.
    async fn reconcile_before(
        &self,
        as_of: NaiveDate,
        previous: Option<&AccountDay>,
    ) -> Result<(), JobError> {
        let mismatch = session_mismatches(
            &self.ctx.stores.runtime,
            &self.key,
            self.config.initial_capital,
            previous,
            as_of,
        )
        .await?;
        if mismatch.is_empty() {
            self.ctx
                .resolve_alert(RECONCILIATION_ALERT, &self.subject());
            return Ok(());
        }
        let reason = format!(
            "the ledger of {} does not reconcile: {}",
            self.subject(),
            mismatch.join("; ")
        );
        Err(self.stop_trading(as_of, reason).await)
    }

    /// Halts trading (unless already halted), records why and raises the alert.
    async fn stop_trading(&self, as_of: NaiveDate, reason: String) -> JobError {
        let halted = halt_on_mismatch(
            &self.ctx.stores.runtime,
            &self.key,
            as_of,
            &reason,
            &self.provenance,
            self.now(),
        )
        .await;
        self.ctx.alert(
            RECONCILIATION_ALERT,
            &self.subject(),
            format!("{reason}; trading is HALTED: fix the ledger, then `pv2 resume`"),
        );
        match halted {
            Ok(()) => JobError::permanent(format!("{reason}; trading is HALTED")),
            Err(e) => JobError::from(e).context("halting trading after a reconciliation mismatch"),
        }
    }

    /// The target the run's portfolio job wrote for `as_of`, under the config the run record
    /// says it used (`None`: the portfolio is not part of the run or wrote none).
    async fn target(&self, as_of: NaiveDate) -> Result<Option<Vec<(String, f64)>>, JobError> {
        let Some(config_id) = self.ctx.upstream_config("portfolio").await? else {
            return Ok(None);
        };
        let rt = &self.ctx.stores.runtime;
        let Some(stored) = rt.config(&config_id).await? else {
            return Ok(None);
        };
        let portfolio: PortfolioConfig = serde_json::from_str(&stored.body).map_err(|e| {
            JobError::permanent(format!(
                "the portfolio config {config_id} does not parse: {e}"
            ))
        })?;
        let targets = rt
            .targets(
                &portfolio.portfolio_id,
                self.ctx.run.market.as_str(),
                &config_id,
                as_of,
                as_of,
            )
            .await?;
        Ok(targets.into_iter().next().map(|t| t.weights))
    }

    /// The book at the close of the last stored session (or the starting cash), over every
    /// instrument held, targeted or with an open order.
    async fn open_ledger(
        &self,
        previous: Option<&AccountDay>,
        sessions: &[NaiveDate],
        target: Option<&[(String, f64)]>,
    ) -> Result<Ledger, JobError> {
        let rt = &self.ctx.stores.runtime;
        let positions = match previous {
            Some(p) => rt.positions(&self.key, p.as_of).await?,
            None => Vec::new(),
        };
        let last = sessions[sessions.len() - 1];
        let since = previous.map_or(sessions[0], |p| p.as_of) - Days::new(40);
        let ordered = rt.ordered_instruments(&self.key, since, last).await?;
        let fills = rt.fills(&self.key, sessions[0], last).await?;
        let mut names: Vec<String> = positions
            .iter()
            .map(|p| p.instrument_id.clone())
            .chain(ordered)
            .chain(fills.iter().map(|f| f.instrument_id.clone()))
            .chain(target.unwrap_or_default().iter().map(|(id, _)| id.clone()))
            .collect();
        names.sort();
        names.dedup();
        let cash = previous.map_or(self.config.initial_capital, |p| p.cash);
        let mut book = Book::new(names, cash);
        let column: BTreeMap<String, usize> = book
            .instruments
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        for p in &positions {
            if let Some(&i) = column.get(&p.instrument_id) {
                book.positions[i] = p.quantity;
                book.last_close[i] = p.close;
            }
        }
        let n = book.instruments.len();
        let equity = previous.map_or(self.config.initial_capital, |p| p.equity);
        Ok(Ledger {
            book,
            column,
            priced_on: vec![None; n],
            previous_equity: equity,
            peak: previous.map_or(equity, |p| p.peak_equity),
        })
    }

    /// Sectors by instrument id.
    async fn sectors(&self) -> Result<BTreeMap<String, String>, JobError> {
        let hist = &self.ctx.stores.historical;
        let issuers: BTreeMap<String, String> = hist
            .issuers()
            .await?
            .into_iter()
            .filter_map(|i| Some((i.issuer_id.as_str().to_owned(), i.sector?)))
            .collect();
        Ok(hist
            .instruments(Some(&self.ctx.run.market))
            .await?
            .into_iter()
            .map(|i| {
                let sector = issuers
                    .get(i.issuer_id.as_str())
                    .cloned()
                    .unwrap_or_else(|| UNKNOWN_SECTOR.to_owned());
                (i.instrument_id.as_str().to_owned(), sector)
            })
            .collect())
    }

    /// Step 2: books the fills stored for `session` (a retry), then — paper only — fills
    /// the orders due at its open. Returns the rows written.
    async fn settle(
        &self,
        session: NaiveDate,
        ledger: &mut Ledger,
        prices: &PriceIndex,
    ) -> Result<u64, JobError> {
        let rt = &self.ctx.stores.runtime;
        let stored = rt.fills(&self.key, session, session).await?;
        for f in &stored {
            let i = ledger.col(&f.instrument_id)?;
            ledger.book.apply(i, f.quantity, f.price, f.commission);
        }
        let Some(rules) = self.adapter.fill_rules() else {
            return Ok(0);
        };
        let since = session - Days::new(40);
        let due: Vec<OrderRecord> = rt
            .orders_in_state(&self.key, since, session - Days::new(1), OrderState::Sent)
            .await?;
        let Some(open) = self.calendar.session(session).map(|s| s.open) else {
            return Ok(0);
        };
        let order_date = due
            .iter()
            .map(|o| o.order_date)
            .max()
            .or_else(|| self.calendar.previous_session(session, 1).map(|s| s.date));
        let mode = rt.trading_mode_at(open).await?;
        if due.is_empty() && mode != TradingMode::Flatten {
            return Ok(0);
        }
        let mut updates = Vec::new();
        let mut actions = Vec::new();
        let mut fillable = Vec::new();
        for o in due {
            match mode.refusal(ledger.position(&o.instrument_id), o.quantity) {
                None => fillable.push(o),
                Some(why) => {
                    actions.push(self.action(
                        session,
                        "kill_switch",
                        Some(o.instrument_id.clone()),
                        "cancelled",
                        format!("order {} not filled at the open: {why}", o.order_id),
                        (None, None),
                    ));
                    updates.push(OrderUpdate {
                        order_id: o.order_id,
                        state: OrderState::Cancelled,
                        filled_quantity: 0.0,
                        reason: Some(why),
                    });
                }
            }
        }
        // FLATTEN at the open: every position without a closing order gets one, filled now.
        let mut new_orders = Vec::new();
        if mode == TradingMode::Flatten
            && let Some(order_date) = order_date
        {
            for (i, id) in ledger.book.instruments.iter().enumerate() {
                let held = ledger.book.positions[i];
                if held == 0.0 || fillable.iter().any(|o| &o.instrument_id == id) {
                    continue;
                }
                let o = self.order(
                    order_date,
                    id,
                    -held,
                    ledger.book.last_close[i],
                    0.0,
                    OrderPurpose::Flatten,
                    OrderState::Sent,
                    new_orders.len() as i64,
                );
                new_orders.push(o.clone());
                fillable.push(o);
            }
        }
        let executions = self.execute(rules, &fillable, ledger, prices, session, false)?;
        let (fills, mut filled) =
            self.fills_of(session, &executions, &fillable, &ledger.book, stored.len());
        updates.extend(fillable.iter().map(|o| {
            let done = filled.remove(&o.order_id).unwrap_or(0.0);
            settled(o, done)
        }));
        rt.record_risk_actions(&actions).await?;
        rt.settle(&new_orders, &fills, &updates, self.now()).await?;
        Ok((new_orders.len() + fills.len() + updates.len() + actions.len()) as u64)
    }

    /// An order record of this account.
    #[allow(clippy::too_many_arguments)]
    fn order(
        &self,
        date: NaiveDate,
        instrument: &str,
        quantity: f64,
        price: f64,
        target_weight: f64,
        purpose: OrderPurpose,
        state: OrderState,
        seq: i64,
    ) -> OrderRecord {
        OrderRecord {
            order_id: order_id(&self.key, date, instrument, purpose),
            key: self.key.clone(),
            order_date: date,
            seq,
            instrument_id: instrument.to_owned(),
            quantity,
            reference_price: price,
            target_weight,
            purpose,
            state,
            filled_quantity: 0.0,
            broker: self.adapter.name().to_owned(),
            reason: None,
            provenance: self.provenance.clone(),
        }
    }

    /// Fills `orders` in `session` by the broker's rules (at the close when `at_close`).
    fn execute(
        &self,
        rules: &BrokerConfig,
        orders: &[OrderRecord],
        ledger: &mut Ledger,
        prices: &PriceIndex,
        session: NaiveDate,
        at_close: bool,
    ) -> Result<Vec<Execution>, JobError> {
        let book_orders = orders
            .iter()
            .map(|o| {
                Ok(Order {
                    instrument: ledger.col(&o.instrument_id)?,
                    shares: o.quantity,
                    target_weight: o.target_weight,
                })
            })
            .collect::<Result<Vec<Order>, JobError>>()?;
        Ok(rules.execute(
            book_orders,
            |i| prices.quote_at(i, session),
            at_close,
            &mut ledger.book,
        ))
    }

    /// The fill records of `executions` (numbered after `already` stored fills of the
    /// session) and each order's filled shares. A settlement holds one order per instrument.
    fn fills_of(
        &self,
        session: NaiveDate,
        executions: &[Execution],
        orders: &[OrderRecord],
        book: &Book,
        already: usize,
    ) -> (Vec<FillRecord>, BTreeMap<String, f64>) {
        let by_instrument: BTreeMap<&str, &OrderRecord> = orders
            .iter()
            .map(|o| (o.instrument_id.as_str(), o))
            .collect();
        let mut filled = BTreeMap::new();
        let mut fills = Vec::with_capacity(executions.len());
        for (k, e) in executions.iter().enumerate() {
            let id = book.instruments[e.order.instrument].as_str();
            let Some(o) = by_instrument.get(id) else {
                continue;
            };
            filled.insert(o.order_id.clone(), e.shares);
            fills.push(FillRecord {
                fill_id: format!("fill-{}", o.order_id.trim_start_matches("ord-")),
                order_id: Some(o.order_id.clone()),
                key: self.key.clone(),
                trade_date: session,
                seq: (already + k) as i64,
                instrument_id: o.instrument_id.clone(),
                quantity: e.shares,
                price: e.price,
                commission: e.commission,
                slippage: e.slippage,
                source: self.adapter.name().to_owned(),
                provenance: self.provenance.clone(),
            });
        }
        (fills, filled)
    }

    /// Step 3 on the run's session: plan, apply the kill switch, check, store, send (and,
    /// for a paper broker filling at the close, fill). Returns rows written and a summary.
    async fn trade(
        &self,
        as_of: NaiveDate,
        ledger: &mut Ledger,
        target: Option<&[(String, f64)]>,
        prices: &PriceIndex,
        sectors: &BTreeMap<String, String>,
    ) -> Result<(u64, String), JobError> {
        let rt = &self.ctx.stores.runtime;
        let mut rows = 0u64;
        let mut note = String::new();
        if rt.orders(&self.key, as_of, as_of).await?.is_empty() {
            let (written, planned) = self.plan(as_of, ledger, target, sectors).await?;
            rows += written;
            note = planned;
        }
        // Send what is planned, reading the switch immediately before each order and
        // recording each order as sent before the next goes. A paper broker's send changes
        // nothing outside this ledger, so there the session's orders go as one: the switch
        // read once, one write (a backfill sent ~11 orders a session, each with its own
        // read, hand-off and commit).
        let planned: Vec<OrderRecord> = rt
            .orders(&self.key, as_of, as_of)
            .await?
            .into_iter()
            .filter(|o| o.state == OrderState::Planned)
            .collect();
        let paper = self.adapter.fill_rules().is_some();
        let once = if paper {
            Some(rt.trading_mode_at(self.now()).await?)
        } else {
            None
        };
        let (mut sent, mut refused) = (0usize, 0usize);
        let (mut actions, mut updates) = (Vec::new(), Vec::new());
        for o in planned {
            let mode = match once {
                Some(mode) => mode,
                None => rt.trading_mode_at(self.now()).await?,
            };
            let update = match mode.refusal(ledger.position(&o.instrument_id), o.quantity) {
                Some(why) => {
                    refused += 1;
                    actions.push(self.action(
                        as_of,
                        "kill_switch",
                        Some(o.instrument_id.clone()),
                        "cancelled",
                        format!("order {} not sent: {why}", o.order_id),
                        (None, None),
                    ));
                    OrderUpdate {
                        order_id: o.order_id.clone(),
                        state: OrderState::Cancelled,
                        filled_quantity: 0.0,
                        reason: Some(why),
                    }
                }
                None => {
                    if paper {
                        self.adapter.send(&o).map_err(JobError::transient)?;
                    } else {
                        let adapter = Arc::clone(&self.adapter);
                        let ticket = o.clone();
                        self.ctx
                            .compute("send an order", move || adapter.send(&ticket))
                            .await?
                            .map_err(JobError::transient)?;
                    }
                    sent += 1;
                    OrderUpdate {
                        order_id: o.order_id.clone(),
                        state: OrderState::Sent,
                        filled_quantity: 0.0,
                        reason: None,
                    }
                }
            };
            updates.push(update);
            rows += 1;
            if !paper {
                rt.record_risk_actions(&std::mem::take(&mut actions))
                    .await?;
                rt.settle(&[], &[], &std::mem::take(&mut updates), self.now())
                    .await?;
            }
        }
        rt.record_risk_actions(&actions).await?;
        rt.settle(&[], &[], &updates, self.now()).await?;
        if sent + refused > 0 {
            note = format!("{note}; {sent} sent, {refused} refused by the kill switch");
        }
        if let Some(rules) = self.adapter.fill_rules()
            && rules.fill == FillAt::Close
        {
            rows += self.fill_at_close(as_of, rules, ledger, prices).await?;
        }
        Ok((rows, note))
    }

    /// The plan of `as_of`: orders toward the target (or closing everything at FLATTEN),
    /// the kill switch, the pre-trade checks; stored with its risk actions.
    async fn plan(
        &self,
        as_of: NaiveDate,
        ledger: &Ledger,
        target: Option<&[(String, f64)]>,
        sectors: &BTreeMap<String, String>,
    ) -> Result<(u64, String), JobError> {
        let rt = &self.ctx.stores.runtime;
        // Live: no new plan while the last one's fills are not in.
        if self.adapter.fill_rules().is_none() {
            let waiting: Vec<OrderRecord> = rt
                .orders_in_state(
                    &self.key,
                    as_of - Days::new(40),
                    as_of - Days::new(1),
                    OrderState::Sent,
                )
                .await?;
            if let Some(first) = waiting.first() {
                let why = format!(
                    "{} order(s) of {} await their fills: import the broker statement (`pv2 import fills FILE`) before a new plan",
                    waiting.len(),
                    first.order_date
                );
                rt.record_risk_actions(&[self.action(
                    as_of,
                    "awaiting_fills",
                    None,
                    "blocked",
                    why.clone(),
                    (None, None),
                )])
                .await?;
                return Ok((1, format!("no plan: {why}")));
            }
        }
        let book = &ledger.book;
        let mode = rt.trading_mode_at(self.now()).await?;
        let (purpose, mut planned): (OrderPurpose, Vec<Order>) = if mode == TradingMode::Flatten {
            let closing = (0..book.instruments.len())
                .filter(|&i| book.positions[i] != 0.0 && book.last_close[i].is_finite())
                .map(|i| Order {
                    instrument: i,
                    shares: -book.positions[i],
                    target_weight: 0.0,
                })
                .collect();
            (OrderPurpose::Flatten, closing)
        } else if let Some(target) = target {
            let mut weights = vec![0.0; book.instruments.len()];
            for (id, w) in target {
                if let Some(&i) = ledger.column.get(id) {
                    weights[i] = *w;
                }
            }
            (
                OrderPurpose::Target,
                self.config.broker.orders(&weights, book),
            )
        } else {
            return Ok((0, "no target today: positions held".to_owned()));
        };
        // Sells first, then buys, by instrument: the order they are sent in.
        planned.sort_by(|a, b| {
            (a.shares > 0.0)
                .cmp(&(b.shares > 0.0))
                .then(a.instrument.cmp(&b.instrument))
        });
        let mut records: Vec<OrderRecord> = planned
            .iter()
            .enumerate()
            .map(|(k, o)| {
                self.order(
                    as_of,
                    &book.instruments[o.instrument],
                    o.shares,
                    book.last_close[o.instrument],
                    o.target_weight,
                    purpose,
                    OrderState::Planned,
                    k as i64,
                )
            })
            .collect();
        let mut actions = Vec::new();
        let mut note = format!("{} order(s) planned ({})", records.len(), purpose.as_str());
        match mode {
            TradingMode::Halted if !records.is_empty() => {
                let why = "trading is HALTED: no order is sent until `pv2 resume`".to_owned();
                for r in &mut records {
                    r.state = OrderState::Cancelled;
                    r.reason = Some(why.clone());
                }
                actions.push(self.action(
                    as_of,
                    "kill_switch",
                    None,
                    "cancelled",
                    format!("{} planned order(s) not sent: {why}", records.len()),
                    (None, None),
                ));
                note = format!("HALTED: {} planned order(s) cancelled", records.len());
            }
            TradingMode::ReduceOnly => {
                for r in &mut records {
                    if let Some(why) = mode.refusal(ledger.position(&r.instrument_id), r.quantity) {
                        actions.push(self.action(
                            as_of,
                            "kill_switch",
                            Some(r.instrument_id.clone()),
                            "cancelled",
                            why.clone(),
                            (None, None),
                        ));
                        r.state = OrderState::Cancelled;
                        r.reason = Some(why);
                    }
                }
            }
            _ => {}
        }
        // The pre-trade checks see the plan as it would be sent; closing orders at FLATTEN
        // only reduce risk and are never blocked by them.
        if purpose == OrderPurpose::Target {
            let blocks = self.check(as_of, ledger, &records, sectors);
            if blocks.is_empty() {
                self.ctx.resolve_alert(BLOCKED_ALERT, &self.subject());
            } else {
                let checks: Vec<&str> = blocks.iter().map(|b| b.check.as_str()).collect();
                let why = format!("blocked by pre-trade checks ({})", checks.join(", "));
                for r in records
                    .iter_mut()
                    .filter(|r| r.state == OrderState::Planned)
                {
                    r.state = OrderState::Blocked;
                    r.reason = Some(why.clone());
                }
                self.ctx.alert(
                    BLOCKED_ALERT,
                    &self.subject(),
                    format!(
                        "the plan of {as_of} for {} was blocked, nothing sent: {}",
                        self.subject(),
                        blocks
                            .iter()
                            .map(|b| b.reason.as_str())
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                );
                note = format!("{note}, {why}: nothing sent");
                actions.extend(blocks);
            }
        }
        rt.record_risk_actions(&actions).await?;
        rt.insert_orders(&records, self.now()).await?;
        Ok(((records.len() + actions.len()) as u64, note))
    }

    /// The pre-trade checks of the planned orders in `records`, as risk actions.
    fn check(
        &self,
        as_of: NaiveDate,
        ledger: &Ledger,
        records: &[OrderRecord],
        sectors: &BTreeMap<String, String>,
    ) -> Vec<RiskAction> {
        let book = &ledger.book;
        let orders: BTreeMap<&str, f64> = records
            .iter()
            .filter(|r| r.state == OrderState::Planned)
            .map(|r| (r.instrument_id.as_str(), r.quantity))
            .collect();
        let lines: Vec<Line> = book
            .instruments
            .iter()
            .enumerate()
            .map(|(i, id)| Line {
                instrument: id.clone(),
                sector: sectors
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| UNKNOWN_SECTOR.to_owned()),
                held: book.positions[i],
                order: orders.get(id.as_str()).copied().unwrap_or(0.0),
                price: book.last_close[i],
                price_age: ledger.priced_on[i].map(|d| self.sessions_between(d, as_of)),
            })
            .collect();
        let equity = book.mark();
        let account = AccountState {
            equity,
            previous_equity: ledger.previous_equity,
            peak_equity: ledger.peak.max(equity),
        };
        self.config
            .limits
            .check(&lines, &account)
            .into_iter()
            .map(|b| {
                self.action(
                    as_of,
                    b.check,
                    b.instrument,
                    "blocked",
                    b.reason,
                    (Some(b.value), Some(b.limit)),
                )
            })
            .collect()
    }

    /// Sessions from `from` to `to` (0 when the same session).
    fn sessions_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        u32::try_from(self.calendar.sessions(from, to).len().saturating_sub(1)).unwrap_or(u32::MAX)
    }

    /// A paper broker filling at the close fills the session's sent orders now.
    async fn fill_at_close(
        &self,
        as_of: NaiveDate,
        rules: &BrokerConfig,
        ledger: &mut Ledger,
        prices: &PriceIndex,
    ) -> Result<u64, JobError> {
        let rt = &self.ctx.stores.runtime;
        let sent: Vec<OrderRecord> = rt
            .orders(&self.key, as_of, as_of)
            .await?
            .into_iter()
            .filter(|o| o.state == OrderState::Sent)
            .collect();
        if sent.is_empty() {
            return Ok(0);
        }
        let already = rt.fills(&self.key, as_of, as_of).await?.len();
        let executions = self.execute(rules, &sent, ledger, prices, as_of, true)?;
        let (fills, mut filled) = self.fills_of(as_of, &executions, &sent, &ledger.book, already);
        let updates: Vec<OrderUpdate> = sent
            .iter()
            .map(|o| settled(o, filled.remove(&o.order_id).unwrap_or(0.0)))
            .collect();
        rt.settle(&[], &fills, &updates, self.now()).await?;
        Ok((fills.len() + updates.len()) as u64)
    }

    /// Step 4: the account at `session`'s close, its positions and the P&L by name.
    async fn mark(
        &self,
        session: NaiveDate,
        ledger: &mut Ledger,
        held: &BTreeMap<String, (f64, f64)>,
        sectors: &BTreeMap<String, String>,
    ) -> Result<u64, JobError> {
        let rt = &self.ctx.stores.runtime;
        let fills = rt.fills(&self.key, session, session).await?;
        let book = &ledger.book;
        let equity = book.mark();
        let gross = book.gross();
        let peak = ledger.peak.max(equity);
        let closes: BTreeMap<String, f64> = book
            .instruments
            .iter()
            .zip(&book.last_close)
            .filter(|(_, c)| c.is_finite())
            .map(|(id, c)| (id.clone(), *c))
            .collect();
        let positions: Vec<PositionRow> = (0..book.instruments.len())
            .filter(|&i| book.positions[i] != 0.0)
            .map(|i| PositionRow {
                instrument_id: book.instruments[i].clone(),
                quantity: book.positions[i],
                close: book.last_close[i],
                value: book.positions[i] * book.last_close[i],
            })
            .collect();
        let pnl = attribution(held, &fills, &closes, sectors);
        let day = AccountDay {
            key: self.key.clone(),
            as_of: session,
            cash: book.cash,
            equity,
            daily_return: equity / ledger.previous_equity - 1.0,
            peak_equity: peak,
            gross_exposure: if equity > 0.0 { gross / equity } else { 0.0 },
            traded_notional: fills.iter().map(|f| f.quantity.abs() * f.price).sum(),
            costs: fills.iter().map(|f| f.commission + f.slippage).sum(),
            pnl: equity - ledger.previous_equity,
            provenance: self.provenance.clone(),
        };
        rt.write_account_day(&day, &positions, &pnl).await?;
        ledger.previous_equity = equity;
        ledger.peak = peak;
        Ok((1 + positions.len() + pnl.len()) as u64)
    }
}

/// Stops trading because the ledger of `key` does not reconcile: the kill switch goes to
/// HALTED (unless it is already; audited as `reconciliation` with `reason`) and a
/// `risk_actions` row records it for `as_of`.
///
/// # Errors
/// Store failures.
pub async fn halt_on_mismatch(
    rt: &prometheus::store::RuntimeDb,
    key: &AccountKey,
    as_of: NaiveDate,
    reason: &str,
    provenance: &Provenance,
    now: DateTime<Utc>,
) -> Result<(), prometheus::store::StoreError> {
    if rt.trading_mode_at(now).await? != TradingMode::Halted {
        rt.set_trading_mode(TradingMode::Halted, "reconciliation", reason, now)
            .await?;
    }
    rt.record_risk_actions(&[RiskAction {
        at: now,
        key: key.clone(),
        as_of,
        check: "reconciliation".to_owned(),
        instrument_id: None,
        value: None,
        limit: None,
        action: "halted".to_owned(),
        reason: reason.to_owned(),
        provenance: provenance.clone(),
    }])
    .await
}

/// Every way the whole stored ledger of `key` disagrees with itself (its latest session's
/// book, every settled order, every fill): what the daemon checks at start and
/// `pv2 import fills` after booking a statement.
///
/// # Errors
/// Store failures.
pub async fn account_mismatches(
    rt: &prometheus::store::RuntimeDb,
    key: &AccountKey,
    initial_capital: f64,
) -> Result<Vec<String>, prometheus::store::StoreError> {
    let end = NaiveDate::from_ymd_opt(2200, 12, 31).unwrap_or(NaiveDate::MAX);
    let latest = rt.account_day_before(key, end).await?;
    ledger_mismatches(rt, key, initial_capital, latest.as_ref(), end).await
}

/// Every way the ledger of `key` stored before `as_of` disagrees with itself (see
/// [`reconcile`]): the latest stored session's book against the replay of the fills up to
/// it, every order settled by then against its fills, and any fill of no order up to
/// `as_of`. `previous` is the latest session stored before `as_of`. Reads the account's
/// whole history; the per-session job uses [`session_mismatches`].
///
/// # Errors
/// Store failures.
pub async fn ledger_mismatches(
    rt: &prometheus::store::RuntimeDb,
    key: &AccountKey,
    initial_capital: f64,
    previous: Option<&AccountDay>,
    as_of: NaiveDate,
) -> Result<Vec<String>, prometheus::store::StoreError> {
    let fills = rt.fills(key, LEDGER_START, as_of).await?;
    let orders = rt.orders(key, LEDGER_START, as_of).await?;
    let positions = match previous {
        Some(p) => rt.positions(key, p.as_of).await?,
        None => Vec::new(),
    };
    let known: BTreeSet<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    Ok(mismatches(&LedgerWindow {
        initial_capital,
        start: None,
        previous,
        positions: &positions,
        fills: &fills,
        orders: &orders,
        known: &known,
    }))
}

/// What the per-session job checks before trading: the book stored for `previous` against
/// the book stored for the session before it plus the fills between them, and the orders
/// of those sessions against their fills. Earlier sessions were checked by earlier runs,
/// so a backfill reads a few sessions' rows per date rather than the whole history (which
/// made it quadratic). Falls back to [`ledger_mismatches`] when there is no earlier book, or
/// when a fill names an order the window does not hold (a statement imported out of turn).
/// The whole ledger is still checked at daemon start and after `pv2 import fills`.
///
/// # Errors
/// Store failures.
pub async fn session_mismatches(
    rt: &prometheus::store::RuntimeDb,
    key: &AccountKey,
    initial_capital: f64,
    previous: Option<&AccountDay>,
    as_of: NaiveDate,
) -> Result<Vec<String>, prometheus::store::StoreError> {
    let full = || ledger_mismatches(rt, key, initial_capital, previous, as_of);
    let Some(last) = previous else {
        return full().await;
    };
    let Some(base) = rt.account_day_before(key, last.as_of).await? else {
        return full().await;
    };
    // Orders fill in the sessions after their own, so the fills from `base` on name orders
    // planned from the session before it on.
    let orders_from = rt
        .account_day_before(key, base.as_of)
        .await?
        .map_or(LEDGER_START, |d| d.as_of);
    let fills = rt.fills(key, base.as_of, as_of).await?;
    let orders = rt.orders(key, orders_from, as_of).await?;
    let known: BTreeSet<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    if fills
        .iter()
        .any(|f| f.order_id.as_ref().is_some_and(|o| !known.contains(o)))
    {
        return full().await;
    }
    // Every fill of an order planned from `base` on is in `fills`; older orders were
    // checked when their sessions were.
    let orders: Vec<OrderRecord> = orders
        .into_iter()
        .filter(|o| o.order_date >= base.as_of)
        .collect();
    let opening = rt.positions(key, base.as_of).await?;
    let positions = rt.positions(key, last.as_of).await?;
    Ok(mismatches(&LedgerWindow {
        initial_capital,
        start: Some((base.as_of, base.cash, opening.as_slice())),
        previous,
        positions: &positions,
        fills: &fills,
        orders: &orders,
        known: &known,
    }))
}

/// The stored rows one reconciliation reads.
struct LedgerWindow<'a> {
    initial_capital: f64,
    /// A book already checked that the replay starts from (`None`: the starting cash).
    start: Option<(NaiveDate, f64, &'a [PositionRow])>,
    /// The latest session stored before the run's date, and its positions.
    previous: Option<&'a AccountDay>,
    positions: &'a [PositionRow],
    fills: &'a [FillRecord],
    orders: &'a [OrderRecord],
    /// Every order id the fills may name.
    known: &'a BTreeSet<String>,
}

/// The first ten mismatches of `w`: orders still filling after the stored book (a retry
/// after a crash) are checked once their session is stored.
fn mismatches(w: &LedgerWindow<'_>) -> Vec<String> {
    let through = w.previous.map(|p| p.as_of);
    let late: BTreeSet<&str> = w
        .fills
        .iter()
        .filter(|f| through.is_none_or(|t| f.trade_date > t))
        .filter_map(|f| f.order_id.as_deref())
        .collect();
    let settled: Vec<OrderRecord> = w
        .orders
        .iter()
        .filter(|o| !late.contains(o.order_id.as_str()))
        .filter(|o| {
            through.is_some_and(|t| o.order_date < t || (o.order_date == t && !o.state.is_open()))
        })
        .cloned()
        .collect();
    let fills: Vec<FillRecord> = w
        .fills
        .iter()
        .filter(|f| through.is_some_and(|t| f.trade_date <= t) || f.order_id.is_none())
        .cloned()
        .collect();
    let mut out = reconcile(&ReconcileInput {
        initial_capital: w.initial_capital,
        start: w.start,
        book: w.previous.map(|p| (p.as_of, p.cash, w.positions)),
        fills: &fills,
        orders: &settled,
        known_orders: w.known,
    });
    out.truncate(10);
    out
}

/// The update of an order that had its session: filled, in part, or expired.
fn settled(o: &OrderRecord, done: f64) -> OrderUpdate {
    let (state, reason) = if done == 0.0 {
        (
            OrderState::Expired,
            Some("no fill in its session (no price, or cut to nothing by the participation cap); never carried".to_owned()),
        )
    } else if (done - o.quantity).abs() <= 1e-9 * o.quantity.abs().max(1.0) {
        (OrderState::Filled, None)
    } else {
        (
            OrderState::Partial,
            Some(format!(
                "{done} of {} filled; the rest expired with its session",
                o.quantity
            )),
        )
    };
    OrderUpdate {
        order_id: o.order_id.clone(),
        state,
        filled_quantity: done,
        reason,
    }
}

/// The prices of the book's instruments by session, from the spine's panel rows.
struct PriceIndex {
    rows: BTreeMap<String, BTreeMap<NaiveDate, Quote>>,
    columns: Vec<String>,
}

impl PriceIndex {
    fn new(rows: &BTreeMap<String, Vec<SessionPrice>>, columns: &[String]) -> Self {
        let rows = columns
            .iter()
            .map(|id| {
                let by_date = rows
                    .get(id)
                    .map(|r| {
                        r.iter()
                            .map(|p| {
                                (
                                    p.date,
                                    Quote {
                                        open: p.open.unwrap_or(f64::NAN),
                                        close: p.close,
                                        volume: p.volume.unwrap_or(f64::NAN),
                                    },
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                (id.clone(), by_date)
            })
            .collect();
        Self {
            rows,
            columns: columns.to_vec(),
        }
    }

    fn quote(&self, id: &str, date: NaiveDate) -> Option<Quote> {
        self.rows.get(id)?.get(&date).copied()
    }

    fn quote_at(&self, column: usize, date: NaiveDate) -> Quote {
        self.quote(&self.columns[column], date).unwrap_or(Quote {
            open: f64::NAN,
            close: f64::NAN,
            volume: f64::NAN,
        })
    }

    fn close(&self, column: usize, date: NaiveDate) -> f64 {
        self.quote_at(column, date).close
    }

    fn last_date_before(&self, id: &str, date: NaiveDate) -> Option<NaiveDate> {
        self.rows
            .get(id)?
            .range(..date)
            .next_back()
            .map(|(d, _)| *d)
    }
}

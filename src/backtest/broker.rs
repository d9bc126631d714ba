//! The simulated broker: turns target weights into fills and a daily equity curve.
//!
//! On each decision date the targets become orders: for every name held or targeted, the
//! shares that bring it to `weight × equity / close`. Orders fill once — at the next
//! session's open (or at that session's close when the data has no opens) or at the
//! decision day's close, by config — and whatever does not fill then (no price that day,
//! the participation cap) is dropped, never carried to a later day: no double fills. Sells
//! go first; buys are scaled down together if they would spend more cash than there is.
//! Fill prices carry slippage against the trade, and a commission is charged on each fill's
//! value; both in basis points. Cash and positions are marked at each session's close (the
//! last known close for a name that did not trade).
//!
//! The arithmetic is deliberately plain so that a test can recompute the equity curve from
//! the stored fills and prices: `cash −= shares × price + commission` per fill and
//! `equity = cash + Σ shares × close`.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::config::Issues;

/// When orders fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillAt {
    /// The next session's open (its close when the data has no open).
    NextOpen,
    /// The decision session's close.
    Close,
}

/// The broker's settings (`[broker]` of a strategy).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// When orders fill.
    pub fill: FillAt,
    /// Price impact against each trade, in basis points of the price.
    pub slippage_bp: f64,
    /// Commission in basis points of each fill's value.
    pub commission_bp: f64,
    /// Largest share of the fill day's volume one order may take (when the volume is
    /// known); the rest of the order is dropped.
    pub participation: Option<f64>,
    /// Orders worth less than this (in currency) are not sent.
    pub min_trade_value: f64,
    /// Shares trade in whole multiples of this (1: whole shares); 0 trades fractions.
    /// Quantities are rounded toward zero, so a lot never buys more than the cash or the
    /// participation cap allows.
    pub lot_size: f64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            fill: FillAt::NextOpen,
            slippage_bp: 5.0,
            commission_bp: 1.0,
            participation: Some(0.1),
            min_trade_value: 100.0,
            lot_size: 0.0,
        }
    }
}

impl BrokerConfig {
    /// What trading one unit of portfolio weight costs: slippage plus commission, as a
    /// fraction (the portfolio engine's default turnover cost).
    pub fn cost_per_unit_traded(&self) -> f64 {
        (self.slippage_bp + self.commission_bp) / 1e4
    }

    /// Checks every field.
    pub fn validate(&self, issues: &mut Issues) {
        for (key, v) in [
            ("broker.slippage_bp", self.slippage_bp),
            ("broker.commission_bp", self.commission_bp),
        ] {
            issues.check(!(v.is_finite() && (0.0..=1000.0).contains(&v)), key, || {
                format!("{v} is out of range; use 0..=1000 bp")
            });
        }
        if let Some(p) = self.participation {
            issues.check(!(p > 0.0 && p <= 1.0), "broker.participation", || {
                format!("{p} is out of range; use (0, 1]")
            });
        }
        issues.check(
            !(self.min_trade_value.is_finite() && self.min_trade_value >= 0.0),
            "broker.min_trade_value",
            || format!("{} must be ≥ 0", self.min_trade_value),
        );
        issues.check(
            !(self.lot_size.is_finite() && self.lot_size >= 0.0),
            "broker.lot_size",
            || {
                format!(
                    "{} must be ≥ 0 (0 trades fractions of a share)",
                    self.lot_size
                )
            },
        );
    }
}

/// Prices of the traded names over the backtest, `dates × instruments`, NaN where absent.
/// Opens are adjusted like the closes (`open × adj_close / close`).
#[derive(Clone, Debug, PartialEq)]
pub struct PriceBook {
    /// Sessions.
    pub dates: Vec<NaiveDate>,
    /// Instrument ids (columns).
    pub instruments: Vec<String>,
    /// Adjusted opens.
    pub open: Vec<f64>,
    /// Adjusted closes.
    pub close: Vec<f64>,
    /// Volumes.
    pub volume: Vec<f64>,
}

impl PriceBook {
    fn at(&self, v: &[f64], day: usize, i: usize) -> f64 {
        v[day * self.instruments.len() + i]
    }
}

/// One fill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Fill {
    /// The session it filled in.
    pub date: NaiveDate,
    /// The decision it came from.
    pub order_date: NaiveDate,
    /// The instrument.
    pub instrument_id: String,
    /// Shares bought (negative: sold).
    pub shares: f64,
    /// The fill price, slippage included.
    pub price: f64,
    /// `|shares| × price`.
    pub notional: f64,
    /// Commission paid.
    pub commission: f64,
    /// Slippage paid (`|shares| × |price − reference price|`).
    pub slippage: f64,
    /// The target weight behind the order.
    pub target_weight: f64,
    /// The shares the order asked for.
    pub requested_shares: f64,
}

/// One session of the equity curve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DayRecord {
    /// The session.
    pub date: NaiveDate,
    /// Cash plus positions at the close.
    pub equity: f64,
    /// Cash at the close.
    pub cash: f64,
    /// `equity / previous equity − 1` (the first day against the starting capital).
    pub daily_return: f64,
    /// `Σ|position value| / equity`.
    pub gross_exposure: f64,
    /// Value traded that session.
    pub traded_notional: f64,
    /// Commission and slippage paid that session.
    pub costs: f64,
}

/// A simulation's output.
#[derive(Clone, Debug, PartialEq)]
pub struct Simulation {
    /// One record per session.
    pub days: Vec<DayRecord>,
    /// Every fill.
    pub fills: Vec<Fill>,
}

/// What a broker holds: cash, shares per instrument and each instrument's last known close.
/// The backtest keeps one over its price book's columns; the daemon's paper broker rebuilds
/// one each session from the ledger, so both size and fill orders with the same arithmetic.
#[derive(Clone, Debug, PartialEq)]
pub struct Book {
    /// The instruments (columns), in the order every sum over them runs.
    pub instruments: Vec<String>,
    /// Cash.
    pub cash: f64,
    /// Shares held per instrument (negative: short).
    pub positions: Vec<f64>,
    /// The last known close per instrument (NaN: none yet).
    pub last_close: Vec<f64>,
}

impl Book {
    /// All cash: `cash` and no position in any of `instruments`.
    pub fn new(instruments: Vec<String>, cash: f64) -> Self {
        let n = instruments.len();
        Self {
            instruments,
            cash,
            positions: vec![0.0; n],
            last_close: vec![f64::NAN; n],
        }
    }

    /// Records the session's closes (`close(i)`, NaN or ≤ 0 where none) as the last known.
    pub fn observe_closes(&mut self, close: impl Fn(usize) -> f64) {
        for (i, last) in self.last_close.iter_mut().enumerate() {
            let c = close(i);
            if c.is_finite() && c > 0.0 {
                *last = c;
            }
        }
    }

    /// Cash plus every position at its last known close.
    pub fn mark(&self) -> f64 {
        self.cash
            + self
                .positions
                .iter()
                .zip(&self.last_close)
                .filter(|(p, _)| **p != 0.0)
                .map(|(p, c)| p * c)
                .sum::<f64>()
    }

    /// `Σ |position × last close|`.
    pub fn gross(&self) -> f64 {
        self.positions
            .iter()
            .zip(&self.last_close)
            .filter(|(p, _)| **p != 0.0)
            .map(|(p, c)| (p * c).abs())
            .sum()
    }

    /// Books one execution: `cash −= shares × price + commission`, shares added.
    pub fn apply(&mut self, instrument: usize, shares: f64, price: f64, commission: f64) {
        self.cash -= shares * price + commission;
        self.positions[instrument] += shares;
    }
}

/// An order for one instrument of a [`Book`].
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    /// The book column.
    pub instrument: usize,
    /// Shares to buy (negative: sell).
    pub shares: f64,
    /// The target weight behind it.
    pub target_weight: f64,
}

/// One instrument's prices in the session an order fills (NaN where absent).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quote {
    /// Adjusted open.
    pub open: f64,
    /// Adjusted close.
    pub close: f64,
    /// Volume.
    pub volume: f64,
}

/// An order as it filled, before it is dated.
#[derive(Clone, Debug, PartialEq)]
pub struct Execution {
    /// The order.
    pub order: Order,
    /// Shares filled (negative: sold).
    pub shares: f64,
    /// The fill price, slippage included.
    pub price: f64,
    /// `|shares| × price`.
    pub notional: f64,
    /// Commission paid.
    pub commission: f64,
    /// Slippage paid.
    pub slippage: f64,
}

impl BrokerConfig {
    /// Runs the broker over `book` with `targets` by decision date.
    pub fn simulate(
        &self,
        prices: &PriceBook,
        targets: &BTreeMap<NaiveDate, Vec<(String, f64)>>,
        capital: f64,
    ) -> Simulation {
        let n = prices.instruments.len();
        let column: BTreeMap<&str, usize> = prices
            .instruments
            .iter()
            .enumerate()
            .map(|(i, s)| (s.as_str(), i))
            .collect();
        let mut book = Book::new(prices.instruments.clone(), capital);
        let mut pending: Option<(NaiveDate, Vec<Order>)> = None;
        let mut days = Vec::with_capacity(prices.dates.len());
        let mut fills = Vec::new();
        let mut previous_equity = capital;
        for (k, &date) in prices.dates.iter().enumerate() {
            let quote = |i: usize| Quote {
                open: prices.at(&prices.open, k, i),
                close: prices.at(&prices.close, k, i),
                volume: prices.at(&prices.volume, k, i),
            };
            let mut traded = 0.0;
            let mut costs = 0.0;
            let mut book_fills = |done: Vec<Execution>, order_date: NaiveDate| {
                for e in done {
                    traded += e.notional;
                    costs += e.commission + e.slippage;
                    fills.push(Fill {
                        date,
                        order_date,
                        instrument_id: prices.instruments[e.order.instrument].clone(),
                        shares: e.shares,
                        price: e.price,
                        notional: e.notional,
                        commission: e.commission,
                        slippage: e.slippage,
                        target_weight: e.order.target_weight,
                        requested_shares: e.order.shares,
                    });
                }
            };
            if let Some((order_date, orders)) = pending.take() {
                book_fills(self.execute(orders, quote, false, &mut book), order_date);
            }
            book.observe_closes(|i| prices.at(&prices.close, k, i));
            if let Some(target) = targets.get(&date) {
                let mut weights = vec![0.0; n];
                for (id, w) in target {
                    if let Some(&i) = column.get(id.as_str()) {
                        weights[i] = *w;
                    }
                }
                let orders = self.orders(&weights, &book);
                match self.fill {
                    FillAt::Close => {
                        book_fills(self.execute(orders, quote, true, &mut book), date);
                    }
                    FillAt::NextOpen => pending = Some((date, orders)),
                }
            }
            let equity = book.mark();
            let gross = book.gross();
            days.push(DayRecord {
                date,
                equity,
                cash: book.cash,
                daily_return: equity / previous_equity - 1.0,
                gross_exposure: if equity > 0.0 { gross / equity } else { 0.0 },
                traded_notional: traded,
                costs,
            });
            previous_equity = equity;
        }
        Simulation { days, fills }
    }

    /// `shares` rounded toward zero to whole lots (unchanged when `lot_size` is 0).
    pub fn round_to_lot(&self, shares: f64) -> f64 {
        if self.lot_size > 0.0 {
            (shares / self.lot_size).trunc() * self.lot_size
        } else {
            shares
        }
    }

    /// The orders that bring every instrument of `book` to its weight in `weights` (one per
    /// column) of the book's marked equity, sized at the last known closes, in whole lots;
    /// orders worth less than `min_trade_value` are not sent.
    pub fn orders(&self, weights: &[f64], book: &Book) -> Vec<Order> {
        let equity = book.mark();
        (0..book.positions.len())
            .filter_map(|i| {
                let price = book.last_close[i];
                if !(price.is_finite() && price > 0.0) {
                    return None;
                }
                let shares = self.round_to_lot(weights[i] * equity / price - book.positions[i]);
                (shares != 0.0 && (shares * price).abs() >= self.min_trade_value.max(1e-9))
                    .then_some(Order {
                        instrument: i,
                        shares,
                        target_weight: weights[i],
                    })
            })
            .collect()
    }

    /// Fills `orders` at `quote(column)` — the close when `at_close`, else the open or,
    /// without one, the close — and books them in `book`. Orders without a price, or cut to
    /// nothing by the participation cap, do not fill; sells go first, then buys scaled
    /// together to the cash there is. Returns the executions in the order they were booked.
    pub fn execute(
        &self,
        orders: Vec<Order>,
        quote: impl Fn(usize) -> Quote,
        at_close: bool,
        book: &mut Book,
    ) -> Vec<Execution> {
        let slip = self.slippage_bp / 1e4;
        let fee = self.commission_bp / 1e4;
        // (order, reference price, fillable shares)
        let mut ready: Vec<(Order, f64, f64)> = orders
            .into_iter()
            .filter_map(|o| {
                let q = quote(o.instrument);
                let reference = if !at_close && q.open.is_finite() && q.open > 0.0 {
                    q.open
                } else {
                    q.close
                };
                if !(reference.is_finite() && reference > 0.0) {
                    return None;
                }
                let cap = match self.participation {
                    Some(p) if q.volume.is_finite() => p * q.volume,
                    _ => f64::INFINITY,
                };
                let shares = self.round_to_lot(o.shares.clamp(-cap, cap));
                (shares != 0.0).then_some((o, reference, shares))
            })
            .collect();
        // Sells first, then buys scaled to the cash there is.
        ready.sort_by(|a, b| {
            (a.2 > 0.0)
                .cmp(&(b.2 > 0.0))
                .then(a.0.instrument.cmp(&b.0.instrument))
        });
        let buy_cost: f64 = ready
            .iter()
            .filter(|r| r.2 > 0.0)
            .map(|(_, p, s)| s * p * (1.0 + slip) * (1.0 + fee))
            .sum();
        let sell_proceeds: f64 = ready
            .iter()
            .filter(|r| r.2 < 0.0)
            .map(|(_, p, s)| -s * p * (1.0 - slip) * (1.0 - fee))
            .sum();
        let available = (book.cash + sell_proceeds).max(0.0);
        let scale = if buy_cost > available {
            available / buy_cost
        } else {
            1.0
        };
        let mut out = Vec::with_capacity(ready.len());
        for (order, reference, shares) in ready {
            let shares = if shares > 0.0 {
                self.round_to_lot(shares * scale)
            } else {
                shares
            };
            if shares == 0.0 {
                continue;
            }
            let price = reference * (1.0 + slip * shares.signum());
            let notional = shares.abs() * price;
            let commission = notional * fee;
            let slippage = shares.abs() * (price - reference).abs();
            book.apply(order.instrument, shares, price, commission);
            out.push(Execution {
                order,
                shares,
                price,
                notional,
                commission,
                slippage,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, day).unwrap()
    }

    /// Two names over four sessions; B has no volume data and no price on day 3.
    fn book() -> PriceBook {
        let nan = f64::NAN;
        PriceBook {
            dates: vec![d(2), d(3), d(4), d(5)],
            instruments: vec!["A".into(), "B".into()],
            open: vec![10.0, 20.0, 10.5, 21.0, 11.0, nan, 11.5, 22.0],
            close: vec![10.0, 20.0, 11.0, 21.0, 11.0, nan, 12.0, 22.0],
            volume: vec![1e6, nan, 1e6, nan, 1e6, nan, 300.0, nan],
        }
    }

    #[test]
    fn orders_fill_once_at_the_next_open_with_costs() {
        let cfg = BrokerConfig {
            participation: None,
            ..BrokerConfig::default()
        };
        let mut targets = BTreeMap::new();
        targets.insert(d(2), vec![("A".to_owned(), 0.5), ("B".to_owned(), 0.5)]);
        let sim = cfg.simulate(&book(), &targets, 1_000.0);
        assert_eq!(sim.fills.len(), 2, "one fill per name, on day 2 only");
        let a = &sim.fills[0];
        assert_eq!((a.date, a.order_date), (d(3), d(2)));
        // Sized at the decision close: 500 / 10 = 50 shares, filled at 10.5 + 5 bp.
        assert!((a.requested_shares - 50.0).abs() < 1e-12);
        assert!((a.price - 10.5 * 1.0005).abs() < 1e-12);
        assert!((a.commission - a.notional * 1e-4).abs() < 1e-12);
        // Day 1 holds cash only.
        assert_eq!(sim.days[0].equity, 1_000.0);
        // Every day's equity is cash plus positions at the last known close.
        let spent: f64 = sim
            .fills
            .iter()
            .map(|f| f.shares * f.price + f.commission)
            .sum();
        let cash = 1_000.0 - spent;
        assert!(cash > -1e-9, "buys are scaled to the cash: {cash}");
        let pos: Vec<f64> = sim.fills.iter().map(|f| f.shares).collect();
        assert!((sim.days[1].equity - (cash + pos[0] * 11.0 + pos[1] * 21.0)).abs() < 1e-9);
        // B has no price on day 3: marked at its last close.
        assert!((sim.days[2].equity - (cash + pos[0] * 11.0 + pos[1] * 21.0)).abs() < 1e-9);
        assert!((sim.days[3].equity - (cash + pos[0] * 12.0 + pos[1] * 22.0)).abs() < 1e-9);
    }

    #[test]
    fn unfillable_orders_are_dropped_not_carried() {
        let cfg = BrokerConfig {
            participation: Some(0.1),
            min_trade_value: 0.0,
            ..BrokerConfig::default()
        };
        let mut targets = BTreeMap::new();
        // Decided on day 3, B has no price on day 4: its order is dropped; A fills.
        targets.insert(d(3), vec![("A".to_owned(), 0.5), ("B".to_owned(), 0.5)]);
        // Decided on day 4: A's volume on day 5 is 300, so at most 30 shares fill.
        targets.insert(d(4), vec![("A".to_owned(), 1.0)]);
        let sim = cfg.simulate(&book(), &targets, 10_000.0);
        let on = |day| sim.fills.iter().filter(|f| f.date == d(day)).count();
        assert_eq!(on(4), 1, "only A fills on day 4");
        assert_eq!(sim.fills[0].instrument_id, "A");
        let last = sim.fills.iter().find(|f| f.date == d(5)).unwrap();
        assert!(
            (last.shares - 30.0).abs() < 1e-12,
            "participation cap: {}",
            last.shares
        );
        assert!(last.requested_shares > 30.0);
        assert_eq!(sim.fills.len(), 2, "nothing filled twice or late");
    }

    #[test]
    fn close_fills_trade_on_the_decision_day() {
        let cfg = BrokerConfig {
            fill: FillAt::Close,
            slippage_bp: 0.0,
            commission_bp: 0.0,
            participation: None,
            min_trade_value: 0.0,
            lot_size: 0.0,
        };
        let mut targets = BTreeMap::new();
        targets.insert(d(2), vec![("A".to_owned(), 1.0)]);
        let sim = cfg.simulate(&book(), &targets, 1_000.0);
        assert_eq!(sim.fills[0].date, d(2));
        assert!((sim.fills[0].shares - 100.0).abs() < 1e-12);
        assert!((sim.days[1].equity - 1_100.0).abs() < 1e-9);
        assert!((sim.days[1].daily_return - 0.1).abs() < 1e-12);
    }
}

//! The ledger's records — orders, fills, each session's account and positions, the P&L
//! attribution and the risk actions — and the two computations over them that need no
//! database: the attribution of a session's P&L to names, and reconciliation (replaying
//! every fill from the starting cash must give back the stored book).

use crate::config::content_hash;
use crate::domain::{OrderPurpose, OrderState};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Which account a record belongs to: the account and the market it trades.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct AccountKey {
    /// The account (`execution.toml` `account_id`).
    pub account_id: String,
    /// The market.
    pub market_id: String,
}

/// Who wrote a record and under which config (every output row carries both).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// The run.
    pub run_id: String,
    /// The execution config.
    pub config_id: String,
}

/// An order's id: the same account, market, session, instrument and purpose always give
/// the same id, so planning twice (a retry, a restart) can never make a second order.
pub fn order_id(
    key: &AccountKey,
    date: NaiveDate,
    instrument: &str,
    purpose: OrderPurpose,
) -> String {
    let text = format!(
        "{}|{}|{date}|{instrument}|{}",
        key.account_id,
        key.market_id,
        purpose.as_str()
    );
    format!("ord-{}", content_hash(&text))
}

/// One order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OrderRecord {
    /// Its idempotent id ([`order_id`]).
    pub order_id: String,
    /// Account and market.
    pub key: AccountKey,
    /// The session it was planned on.
    pub order_date: NaiveDate,
    /// Its place in the plan (sells first): the order the broker sees them in.
    pub seq: i64,
    /// The instrument.
    pub instrument_id: String,
    /// Shares (buy > 0, sell < 0).
    pub quantity: f64,
    /// The close it was sized at.
    pub reference_price: f64,
    /// The target weight behind it.
    pub target_weight: f64,
    /// Why it exists.
    pub purpose: OrderPurpose,
    /// Where it is.
    pub state: OrderState,
    /// Shares filled so far.
    pub filled_quantity: f64,
    /// The adapter it went to (`paper`, `outbox`).
    pub broker: String,
    /// Why it was blocked, cancelled or expired.
    pub reason: Option<String>,
    /// Run and config.
    pub provenance: Provenance,
}

/// One fill.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FillRecord {
    /// Unique id (the paper broker's is its order's; an imported one names its batch and
    /// line).
    pub fill_id: String,
    /// The order it filled (`None`: a fill the system did not plan — a reconciliation
    /// mismatch).
    pub order_id: Option<String>,
    /// Account and market.
    pub key: AccountKey,
    /// The session it filled in.
    pub trade_date: NaiveDate,
    /// Its place among the session's fills: the order they are booked in.
    pub seq: i64,
    /// The instrument.
    pub instrument_id: String,
    /// Shares (bought > 0, sold < 0).
    pub quantity: f64,
    /// The price, slippage included.
    pub price: f64,
    /// Commission or fees paid.
    pub commission: f64,
    /// Slippage against the reference price (0 when unknown).
    pub slippage: f64,
    /// `paper`, or `import:<batch>`.
    pub source: String,
    /// Run and config (an import's: its batch and `import`).
    pub provenance: Provenance,
}

/// The account at one session's close.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AccountDay {
    /// Account and market.
    pub key: AccountKey,
    /// The session.
    pub as_of: NaiveDate,
    /// Cash.
    pub cash: f64,
    /// Cash plus positions at their last known closes.
    pub equity: f64,
    /// `equity / previous equity − 1` (the first session against the starting cash).
    pub daily_return: f64,
    /// The highest equity so far.
    pub peak_equity: f64,
    /// `Σ |position value| / equity`.
    pub gross_exposure: f64,
    /// Value traded in the session.
    pub traded_notional: f64,
    /// Commission and slippage paid in the session.
    pub costs: f64,
    /// `equity − previous equity`.
    pub pnl: f64,
    /// Run and config.
    pub provenance: Provenance,
}

/// One position at a session's close.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PositionRow {
    /// The instrument.
    pub instrument_id: String,
    /// Shares.
    pub quantity: f64,
    /// The close it is marked at.
    pub close: f64,
    /// `quantity × close`.
    pub value: f64,
}

/// One name's share of a session's P&L.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PnlRow {
    /// The instrument.
    pub instrument_id: String,
    /// Its sector.
    pub sector: String,
    /// P&L: the position held into the session marked from the previous close, plus each
    /// fill marked from its price to the close, less commission.
    pub pnl: f64,
    /// Commission and slippage paid on it.
    pub costs: f64,
}

/// One pre-trade block, kill-switch refusal or reconciliation stop (`risk_actions`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RiskAction {
    /// When (the daemon's clock).
    pub at: DateTime<Utc>,
    /// Account and market.
    pub key: AccountKey,
    /// The session.
    pub as_of: NaiveDate,
    /// The check, or `kill_switch` / `reconciliation`.
    pub check: String,
    /// The instrument, when per name.
    pub instrument_id: Option<String>,
    /// The value that broke the limit.
    pub value: Option<f64>,
    /// The limit.
    pub limit: Option<f64>,
    /// `blocked` (a plan), `cancelled` (an order), `halted` (trading stopped).
    pub action: String,
    /// One line for people.
    pub reason: String,
    /// Run and config.
    pub provenance: Provenance,
}

/// The P&L of one session by name: `held × (close − previous close)` for what was held into
/// the session, plus `shares × (close − price) − commission` for each fill. The rows sum to
/// the change in equity (up to rounding).
pub fn attribution(
    held: &BTreeMap<String, (f64, f64)>,
    fills: &[FillRecord],
    closes: &BTreeMap<String, f64>,
    sectors: &BTreeMap<String, String>,
) -> Vec<PnlRow> {
    let mut by_name: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (id, (shares, previous)) in held {
        if *shares == 0.0 {
            continue;
        }
        let close = closes.get(id).copied().unwrap_or(*previous);
        by_name.entry(id).or_default().0 += shares * (close - previous);
    }
    for f in fills {
        let close = closes.get(&f.instrument_id).copied().unwrap_or(f.price);
        let e = by_name.entry(&f.instrument_id).or_default();
        e.0 += f.quantity * (close - f.price) - f.commission;
        e.1 += f.commission + f.slippage;
    }
    by_name
        .into_iter()
        .map(|(id, (pnl, costs))| PnlRow {
            instrument_id: id.to_owned(),
            sector: sectors
                .get(id)
                .cloned()
                .unwrap_or_else(|| crate::engines::universe::UNKNOWN_SECTOR.to_owned()),
            pnl,
            costs,
        })
        .collect()
}

/// Cash and shares after booking `fills` (in the order given) on `cash`.
pub fn replay(cash: f64, fills: &[FillRecord]) -> (f64, BTreeMap<String, f64>) {
    replay_onto(cash, BTreeMap::new(), fills)
}

/// [`replay`] from a book already holding `shares`.
fn replay_onto(
    mut cash: f64,
    mut shares: BTreeMap<String, f64>,
    fills: &[FillRecord],
) -> (f64, BTreeMap<String, f64>) {
    for f in fills {
        cash -= f.quantity * f.price + f.commission;
        *shares.entry(f.instrument_id.clone()).or_default() += f.quantity;
    }
    (cash, shares)
}

/// What reconciliation compares: the stored book of the latest session, every fill up to
/// it, and every order with what it says was filled.
pub struct ReconcileInput<'a> {
    /// Starting cash.
    pub initial_capital: f64,
    /// A stored book already checked, that the fills after its date replay from (`None`:
    /// the starting cash and no positions). Lets the per-session check read only the fills
    /// of the last sessions instead of the account's whole history.
    pub start: Option<(NaiveDate, f64, &'a [PositionRow])>,
    /// The latest stored session, its cash and positions (`None`: nothing stored yet).
    pub book: Option<(NaiveDate, f64, &'a [PositionRow])>,
    /// Every fill, in booking order (`trade_date`, `seq`); with `start`, at least every
    /// fill after its date.
    pub fills: &'a [FillRecord],
    /// The orders whose filled quantity must equal their fills in `fills`.
    pub orders: &'a [OrderRecord],
    /// The id of every order that exists (settled or not): a fill naming any other is a
    /// mismatch.
    pub known_orders: &'a BTreeSet<String>,
}

/// Every way the ledger disagrees with itself, one line each; empty when it reconciles.
/// Fills the system did not plan, orders whose filled quantity is not the sum of their
/// fills, and a stored book that is not the replay of the fills are all mismatches: each
/// means the positions the daemon would trade from are not the positions the account holds.
pub fn reconcile(input: &ReconcileInput<'_>) -> Vec<String> {
    let mut out = Vec::new();
    let tolerance = |scale: f64| 1e-6 * scale.abs().max(1.0);
    for f in input.fills.iter().filter(|f| f.order_id.is_none()) {
        out.push(format!(
            "fill {} ({} {} of {} on {}) matches no order the system sent",
            f.fill_id,
            if f.quantity > 0.0 { "bought" } else { "sold" },
            f.quantity.abs(),
            f.instrument_id,
            f.trade_date
        ));
    }
    let mut filled: BTreeMap<&str, f64> = BTreeMap::new();
    for f in input.fills {
        if let Some(o) = &f.order_id {
            *filled.entry(o.as_str()).or_default() += f.quantity;
        }
    }
    for o in input.orders {
        let sum = filled.remove(o.order_id.as_str()).unwrap_or(0.0);
        if (sum - o.filled_quantity).abs() > tolerance(o.quantity) {
            out.push(format!(
                "order {} ({} {}) records {} filled but its fills sum to {sum}",
                o.order_id, o.instrument_id, o.quantity, o.filled_quantity
            ));
        }
        if o.filled_quantity * o.quantity < 0.0
            || o.filled_quantity.abs() > o.quantity.abs() + tolerance(o.quantity)
        {
            out.push(format!(
                "order {} ({} {}) filled {}: more than ordered, or the wrong way",
                o.order_id, o.instrument_id, o.quantity, o.filled_quantity
            ));
        }
    }
    for (order, sum) in filled {
        if !input.known_orders.contains(order) {
            out.push(format!(
                "fills of {sum} shares name order {order}, which does not exist"
            ));
        }
    }
    if let Some((date, cash, positions)) = input.book {
        let (from, opening_cash, opening) = match input.start {
            Some((from, cash, held)) => (
                Some(from),
                cash,
                held.iter()
                    .map(|p| (p.instrument_id.clone(), p.quantity))
                    .collect(),
            ),
            None => (None, input.initial_capital, BTreeMap::new()),
        };
        let through: Vec<FillRecord> = input
            .fills
            .iter()
            .filter(|f| f.trade_date <= date && from.is_none_or(|from| f.trade_date > from))
            .cloned()
            .collect();
        let (replayed_cash, mut shares) = replay_onto(opening_cash, opening, &through);
        if (replayed_cash - cash).abs() > tolerance(input.initial_capital) {
            out.push(format!(
                "cash on {date} is {cash} but the fills give {replayed_cash}"
            ));
        }
        for p in positions {
            let expected = shares.remove(&p.instrument_id).unwrap_or(0.0);
            if (expected - p.quantity).abs() > tolerance(expected) {
                out.push(format!(
                    "{} on {date}: the ledger holds {} but the fills give {expected}",
                    p.instrument_id, p.quantity
                ));
            }
        }
        for (id, expected) in shares {
            if expected.abs() > tolerance(expected) {
                out.push(format!(
                    "{id} on {date}: the ledger holds nothing but the fills give {expected}"
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> AccountKey {
        AccountKey {
            account_id: "paper".into(),
            market_id: "US_EQ".into(),
        }
    }

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, day).unwrap()
    }

    fn prov() -> Provenance {
        Provenance {
            run_id: "r".into(),
            config_id: "c".into(),
        }
    }

    fn fill(order: Option<&str>, date: NaiveDate, id: &str, q: f64, price: f64) -> FillRecord {
        FillRecord {
            fill_id: format!("f-{id}-{date}"),
            order_id: order.map(str::to_owned),
            key: key(),
            trade_date: date,
            seq: 0,
            instrument_id: id.into(),
            quantity: q,
            price,
            commission: 1.0,
            slippage: 0.5,
            source: "paper".into(),
            provenance: prov(),
        }
    }

    fn order(id: &str, instrument: &str, q: f64, filled: f64) -> OrderRecord {
        OrderRecord {
            order_id: id.into(),
            key: key(),
            order_date: d(2),
            seq: 0,
            instrument_id: instrument.into(),
            quantity: q,
            reference_price: 10.0,
            target_weight: 0.5,
            purpose: OrderPurpose::Target,
            state: OrderState::Filled,
            filled_quantity: filled,
            broker: "paper".into(),
            reason: None,
            provenance: prov(),
        }
    }

    #[test]
    fn order_ids_are_stable_and_distinct() {
        let a = order_id(&key(), d(2), "US_EQ:A", OrderPurpose::Target);
        assert_eq!(a, order_id(&key(), d(2), "US_EQ:A", OrderPurpose::Target));
        assert_ne!(a, order_id(&key(), d(3), "US_EQ:A", OrderPurpose::Target));
        assert_ne!(a, order_id(&key(), d(2), "US_EQ:B", OrderPurpose::Target));
        assert_ne!(a, order_id(&key(), d(2), "US_EQ:A", OrderPurpose::Flatten));
    }

    #[test]
    fn attribution_sums_to_the_change_in_equity() {
        // Held 10 A from 10 → 11; bought 5 B at 20.1 (commission 1), closing at 21.
        let held = BTreeMap::from([("A".to_owned(), (10.0, 10.0))]);
        let fills = vec![fill(Some("o"), d(3), "B", 5.0, 20.1)];
        let closes = BTreeMap::from([("A".to_owned(), 11.0), ("B".to_owned(), 21.0)]);
        let sectors = BTreeMap::from([("A".to_owned(), "Tech".to_owned())]);
        let rows = attribution(&held, &fills, &closes, &sectors);
        assert_eq!(rows.len(), 2);
        assert!((rows[0].pnl - 10.0).abs() < 1e-12);
        assert_eq!(rows[0].sector, "Tech");
        assert!((rows[1].pnl - (5.0 * 0.9 - 1.0)).abs() < 1e-12);
        assert_eq!(rows[1].sector, "unknown");
        // Equity before: cash C + 100; after: C − 5 × 20.1 − 1 + 110 + 105.
        let change = (-5.0 * 20.1 - 1.0 + 110.0 + 105.0) - 100.0;
        let sum: f64 = rows.iter().map(|r| r.pnl).sum();
        assert!((sum - change).abs() < 1e-9);
    }

    #[test]
    fn a_ledger_reconciles_and_every_kind_of_mismatch_is_named() {
        let fills = vec![
            fill(Some("o1"), d(3), "A", 10.0, 10.0),
            fill(Some("o2"), d(4), "A", -4.0, 11.0),
        ];
        let orders = vec![order("o1", "A", 10.0, 10.0), order("o2", "A", -4.0, -4.0)];
        let (cash, _) = replay(1_000.0, &fills);
        let positions = vec![PositionRow {
            instrument_id: "A".into(),
            quantity: 6.0,
            close: 11.0,
            value: 66.0,
        }];
        let known: BTreeSet<String> = ["o1".to_owned(), "o2".to_owned()].into();
        let input = ReconcileInput {
            initial_capital: 1_000.0,
            start: None,
            book: Some((d(4), cash, &positions)),
            fills: &fills,
            orders: &orders,
            known_orders: &known,
        };
        assert_eq!(reconcile(&input), Vec::<String>::new());

        // A position that is not the fills' sum.
        let wrong = vec![PositionRow {
            quantity: 7.0,
            ..positions[0].clone()
        }];
        let m = reconcile(&ReconcileInput {
            book: Some((d(4), cash, &wrong)),
            ..input
        });
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(
            m[0].contains("the ledger holds 7 but the fills give 6"),
            "{m:?}"
        );

        // A fill nobody planned, and an order whose fills do not add up.
        let mut more = fills.clone();
        more.push(fill(None, d(4), "B", 3.0, 5.0));
        let short = vec![order("o1", "A", 10.0, 8.0), orders[1].clone()];
        let m = reconcile(&ReconcileInput {
            initial_capital: 1_000.0,
            start: None,
            book: None,
            fills: &more,
            orders: &short,
            known_orders: &known,
        });
        assert_eq!(m.len(), 2, "{m:?}");
        assert!(m[0].contains("matches no order"), "{m:?}");
        assert!(
            m[1].contains("records 8 filled but its fills sum to 10"),
            "{m:?}"
        );
        // A fill naming an order nobody stored.
        let orphan = vec![fill(Some("o9"), d(3), "A", 1.0, 10.0)];
        let m = reconcile(&ReconcileInput {
            initial_capital: 1_000.0,
            start: None,
            book: None,
            fills: &orphan,
            orders: &[],
            known_orders: &known,
        });
        assert!(
            m[0].contains("name order o9, which does not exist"),
            "{m:?}"
        );

        // Cash that is not the replay.
        let m = reconcile(&ReconcileInput {
            book: Some((d(4), cash + 5.0, &positions)),
            ..input
        });
        assert!(m[0].starts_with("cash on 2024-01-04"), "{m:?}");
    }

    #[test]
    fn a_book_checked_from_an_earlier_book_replays_only_the_later_fills() {
        let fills = vec![
            fill(Some("o1"), d(3), "A", 10.0, 10.0),
            fill(Some("o2"), d(4), "A", -4.0, 11.0),
            fill(Some("o3"), d(5), "B", 2.0, 20.0),
        ];
        let (cash3, _) = replay(1_000.0, &fills[..1]);
        let (cash5, _) = replay(1_000.0, &fills);
        let row = |id: &str, quantity: f64| PositionRow {
            instrument_id: id.into(),
            quantity,
            close: 1.0,
            value: quantity,
        };
        let on3 = vec![row("A", 10.0)];
        let on5 = vec![row("A", 6.0), row("B", 2.0)];
        let known: BTreeSet<String> = ["o1", "o2", "o3"].map(str::to_owned).into();
        let input = ReconcileInput {
            initial_capital: 1_000.0,
            start: Some((d(3), cash3, &on3)),
            book: Some((d(5), cash5, &on5)),
            // The fill of the start's own session is given (its order is checked) but not
            // replayed again.
            fills: &fills,
            orders: &[],
            known_orders: &known,
        };
        assert_eq!(reconcile(&input), Vec::<String>::new());
        // The same book from a start that is off by 3 shares of A is a mismatch.
        let off = vec![row("A", 13.0)];
        let m = reconcile(&ReconcileInput {
            start: Some((d(3), cash3, &off)),
            ..input
        });
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].contains("holds 6 but the fills give 9"), "{m:?}");
    }
}

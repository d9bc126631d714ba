//! Broker statements: the fills of orders executed outside the daemon, as a CSV file
//! (`date,symbol,side,quantity,price,fees`; a header row, columns in any order, other
//! columns ignored). Good rows are kept and bad rows rejected with the line and the reason,
//! like every other import.

use super::ledger::{AccountKey, FillRecord, OrderRecord, Provenance};
use crate::domain::OrderState;
use crate::ingest::parse_date;
use crate::ingest::{Reject, RejectReason, ResolvedFill};
use crate::store::OrderUpdate;
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// One fill of a statement.
#[derive(Clone, Debug, PartialEq)]
pub struct StatementFill {
    /// 1-based line in the file.
    pub line_no: u64,
    /// The session it filled in.
    pub date: NaiveDate,
    /// The symbol as written (bare, or `MARKET:SYMBOL`).
    pub symbol: String,
    /// Shares: bought > 0, sold < 0.
    pub quantity: f64,
    /// The fill price.
    pub price: f64,
    /// Fees and commission.
    pub fees: f64,
    /// The raw line.
    pub raw: String,
}

/// A parsed statement.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Statement {
    /// Rows that parsed.
    pub fills: Vec<StatementFill>,
    /// Rows that did not, with why.
    pub rejects: Vec<Reject>,
}

const REQUIRED: [&str; 5] = ["date", "symbol", "side", "quantity", "price"];

/// Parses a statement.
///
/// # Errors
/// A file that is not CSV with a header naming `date`, `symbol`, `side`, `quantity` and
/// `price` (`fees` optional): no row can be read, so none is.
pub fn parse(text: &str) -> Result<Statement, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("the header row does not parse as CSV: {e}"))?
        .iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    let column = |name: &str| header.iter().position(|h| h == name);
    let missing: Vec<&str> = REQUIRED
        .iter()
        .copied()
        .filter(|c| column(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the header has no {} column(s); a statement needs date,symbol,side,quantity,price[,fees]",
            missing.join(", ")
        ));
    }
    let at = |name: &str| column(name).unwrap_or(usize::MAX);
    let (date_at, symbol_at, side_at, qty_at, price_at) = (
        at("date"),
        at("symbol"),
        at("side"),
        at("quantity"),
        at("price"),
    );
    let fees_at = column("fees");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Statement::default();
    for record in reader.records() {
        let (line_no, raw) = match &record {
            Ok(r) => {
                let n = r.position().map_or(0, csv::Position::line);
                (n, lines.get(n as usize - 1).copied().unwrap_or_default())
            }
            Err(e) => {
                let n = e.position().map_or(0, csv::Position::line);
                out.rejects.push(Reject::row(
                    n,
                    RejectReason::WrongColumnCount,
                    e.to_string(),
                    "",
                ));
                continue;
            }
        };
        let Ok(r) = record else { continue };
        if r.len() != header.len() {
            out.rejects.push(Reject::row(
                line_no,
                RejectReason::WrongColumnCount,
                format!("{} fields; the header has {}", r.len(), header.len()),
                raw,
            ));
            continue;
        }
        match row(
            &r,
            line_no,
            raw,
            [date_at, symbol_at, side_at, qty_at, price_at],
            fees_at,
        ) {
            Ok(f) => out.fills.push(f),
            Err(reject) => out.rejects.push(reject),
        }
    }
    Ok(out)
}

fn row(
    r: &csv::StringRecord,
    line_no: u64,
    raw: &str,
    [date_at, symbol_at, side_at, qty_at, price_at]: [usize; 5],
    fees_at: Option<usize>,
) -> Result<StatementFill, Reject> {
    let cell = |i: usize, name: &str| {
        r.get(i).filter(|v| !v.is_empty()).ok_or_else(|| {
            Reject::cell(
                line_no,
                name,
                RejectReason::MissingField,
                format!("`{name}` is empty"),
                raw,
            )
        })
    };
    let number = |i: usize, name: &str| -> Result<f64, Reject> {
        let text = cell(i, name)?;
        let v: f64 = text.parse().map_err(|_| {
            Reject::cell(
                line_no,
                name,
                RejectReason::UnparseableNumber,
                format!("`{text}` is not a number"),
                raw,
            )
        })?;
        if v.is_finite() {
            Ok(v)
        } else {
            Err(Reject::cell(
                line_no,
                name,
                RejectReason::NonFiniteValue,
                format!("`{text}` is not finite"),
                raw,
            ))
        }
    };
    let date = parse_date(cell(date_at, "date")?)
        .map_err(|e| Reject::cell(line_no, "date", RejectReason::UnparseableDate, e, raw))?;
    let symbol = cell(symbol_at, "symbol")?.to_owned();
    let side = cell(side_at, "side")?;
    let sign = match side.to_ascii_uppercase().as_str() {
        "BUY" | "B" | "BOT" => 1.0,
        "SELL" | "S" | "SLD" => -1.0,
        _ => {
            return Err(Reject::cell(
                line_no,
                "side",
                RejectReason::InvalidSide,
                format!("`{side}` is not BUY or SELL"),
                raw,
            ));
        }
    };
    let quantity = number(qty_at, "quantity")?;
    if quantity <= 0.0 {
        return Err(Reject::cell(
            line_no,
            "quantity",
            RejectReason::NonPositiveQuantity,
            format!("{quantity}: quantities are positive; the side gives the direction"),
            raw,
        ));
    }
    let price = number(price_at, "price")?;
    if price <= 0.0 {
        return Err(Reject::cell(
            line_no,
            "price",
            RejectReason::NonPositivePrice,
            format!("{price} is not a price"),
            raw,
        ));
    }
    let fees = match fees_at.and_then(|i| r.get(i)).filter(|v| !v.is_empty()) {
        None => 0.0,
        Some(_) => number(fees_at.unwrap_or_default(), "fees")?,
    };
    if fees < 0.0 {
        return Err(Reject::cell(
            line_no,
            "fees",
            RejectReason::NegativeFees,
            format!("{fees}: fees are paid, never received"),
            raw,
        ));
    }
    Ok(StatementFill {
        line_no,
        date,
        symbol,
        quantity: sign * quantity,
        price,
        fees,
        raw: raw.to_owned(),
    })
}

/// A statement booked against the ledger: its new fills and what they do to the orders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Booking {
    /// New fills (rows already booked by an earlier import of the same file are skipped).
    pub fills: Vec<FillRecord>,
    /// Order state changes.
    pub updates: Vec<OrderUpdate>,
    /// Fills that match no order the system sent (reconciliation reports them).
    pub unmatched: usize,
    /// The earliest session a new fill is dated.
    pub first_date: Option<NaiveDate>,
}

/// Matches a statement's fills to the account's orders: each row goes to the earliest sent
/// order of the same instrument and side, planned on or before the row's date, with shares
/// left. Orders planned before the statement's last date are closed by it (filled, in part,
/// or expired: live orders are day orders); later ones stay open until filled. A row no
/// order matches is booked without one — the account holds it whether planned or not — and
/// reconciliation then stops trading.
pub fn book(
    rows: &[ResolvedFill],
    orders: &[OrderRecord],
    key: &AccountKey,
    batch_id: &str,
    booked: &BTreeSet<String>,
    fills_per_day: &BTreeMap<NaiveDate, i64>,
) -> Booking {
    let mut open: Vec<(&OrderRecord, f64)> = orders
        .iter()
        .filter(|o| o.state == OrderState::Sent)
        .map(|o| (o, o.filled_quantity))
        .collect();
    open.sort_by(|a, b| {
        (a.0.order_date, a.0.seq, &a.0.order_id).cmp(&(b.0.order_date, b.0.seq, &b.0.order_id))
    });
    let mut out = Booking::default();
    let mut seq = fills_per_day.clone();
    let mut touched: BTreeSet<usize> = BTreeSet::new();
    let through = rows.iter().map(|r| r.fill.date).max();
    for r in rows {
        let fill_id = format!("fill-{batch_id}-{}", r.fill.line_no);
        if booked.contains(&fill_id) {
            continue;
        }
        let f = &r.fill;
        let id = r.instrument_id.as_str();
        let matched = open.iter_mut().enumerate().find(|(_, (o, filled))| {
            o.instrument_id == id
                && o.order_date <= f.date
                && o.quantity * f.quantity > 0.0
                && filled.abs() < o.quantity.abs()
        });
        let order_id = match matched {
            Some((k, (o, filled))) => {
                *filled += f.quantity;
                touched.insert(k);
                Some(o.order_id.clone())
            }
            None => {
                out.unmatched += 1;
                None
            }
        };
        let n = seq.entry(f.date).or_default();
        out.fills.push(FillRecord {
            fill_id,
            order_id,
            key: key.clone(),
            trade_date: f.date,
            seq: *n,
            instrument_id: id.to_owned(),
            quantity: f.quantity,
            price: f.price,
            commission: f.fees,
            slippage: 0.0,
            source: format!("import:{batch_id}"),
            provenance: Provenance {
                run_id: format!("import:{batch_id}"),
                config_id: "import".to_owned(),
            },
        });
        *n += 1;
        out.first_date = Some(out.first_date.map_or(f.date, |d| d.min(f.date)));
    }
    let Some(through) = through else {
        return out;
    };
    for (k, (o, filled)) in open.iter().enumerate() {
        let complete = filled.abs() >= o.quantity.abs() * (1.0 - 1e-9);
        let closes = o.order_date < through;
        let (state, reason) = if complete {
            (OrderState::Filled, None)
        } else if !closes {
            if !touched.contains(&k) {
                continue;
            }
            (OrderState::Sent, None)
        } else if *filled == 0.0 {
            (
                OrderState::Expired,
                Some(format!("not in the broker statement through {through}")),
            )
        } else {
            (
                OrderState::Partial,
                Some(format!(
                    "{filled} of {} filled by the statement through {through}",
                    o.quantity
                )),
            )
        };
        out.updates.push(OrderUpdate {
            order_id: o.order_id.clone(),
            state,
            filled_quantity: *filled,
            reason,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_rows_are_kept_and_each_bad_row_is_rejected_with_its_reason() {
        let text = "Date,Symbol,Side,Quantity,Price,Fees,Account\n\
                    2024-01-03,AAA,BUY,100,10.5,1.2,X1\n\
                    1/4/2024,US_EQ:BBB,sell,40,20,,X1\n\
                    2024-01-05,AAA,HOLD,1,1,0,X1\n\
                    2024-01-05,AAA,BUY,-3,1,0,X1\n\
                    2024-01-05,AAA,BUY,3,0,0,X1\n\
                    2024-01-05,AAA,BUY,3,1,-1,X1\n\
                    2024-13-05,AAA,BUY,3,1,0,X1\n\
                    2024-01-05,AAA,BUY,three,1,0,X1\n\
                    2024-01-05,AAA,BUY\n";
        let s = parse(text).unwrap();
        assert_eq!(s.fills.len(), 2);
        assert_eq!(s.fills[0].quantity, 100.0);
        assert_eq!(s.fills[0].fees, 1.2);
        assert_eq!(s.fills[1].symbol, "US_EQ:BBB");
        assert_eq!(s.fills[1].quantity, -40.0);
        assert_eq!(s.fills[1].fees, 0.0);
        assert_eq!(s.fills[1].line_no, 3);
        let reasons: Vec<(u64, &str)> = s
            .rejects
            .iter()
            .map(|r| (r.line_no, r.reason.code()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (4, "invalid_side"),
                (5, "non_positive_quantity"),
                (6, "non_positive_price"),
                (7, "negative_fees"),
                (8, "unparseable_date"),
                (9, "unparseable_number"),
                (10, "wrong_column_count"),
            ]
        );
        assert!(s.rejects[0].raw.contains("HOLD"));
    }

    #[test]
    fn a_header_without_the_required_columns_is_refused() {
        let e = parse("date,symbol,qty,price\n2024-01-03,A,1,2\n").unwrap_err();
        assert!(e.contains("side, quantity"), "{e}");
    }
}

#[cfg(test)]
mod booking_tests {
    use super::*;
    use crate::domain::{InstrumentId, OrderPurpose};

    fn key() -> AccountKey {
        AccountKey {
            account_id: "live".into(),
            market_id: "US_EQ".into(),
        }
    }

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, day).unwrap()
    }

    fn order(id: &str, instrument: &str, day: u32, q: f64) -> OrderRecord {
        OrderRecord {
            order_id: id.into(),
            key: key(),
            order_date: d(day),
            seq: 0,
            instrument_id: instrument.into(),
            quantity: q,
            reference_price: 10.0,
            target_weight: 0.1,
            purpose: OrderPurpose::Target,
            state: OrderState::Sent,
            filled_quantity: 0.0,
            broker: "outbox".into(),
            reason: None,
            provenance: Provenance {
                run_id: "r".into(),
                config_id: "c".into(),
            },
        }
    }

    fn row(line: u64, day: u32, instrument: &str, q: f64) -> ResolvedFill {
        ResolvedFill {
            fill: StatementFill {
                line_no: line,
                date: d(day),
                symbol: instrument.into(),
                quantity: q,
                price: 10.0,
                fees: 1.0,
                raw: String::new(),
            },
            instrument_id: InstrumentId::new(instrument),
        }
    }

    #[test]
    fn rows_fill_the_earliest_matching_order_and_the_rest_is_unplanned() {
        let orders = vec![
            order("o1", "US_EQ:A", 2, 100.0),
            order("o2", "US_EQ:B", 2, -50.0),
            order("o3", "US_EQ:C", 2, 10.0),
            order("o4", "US_EQ:A", 4, 20.0),
        ];
        let rows = vec![
            row(2, 3, "US_EQ:A", 60.0),
            row(3, 3, "US_EQ:A", 40.0),
            row(4, 3, "US_EQ:B", -20.0),
            row(5, 3, "US_EQ:D", 5.0),
            row(6, 4, "US_EQ:A", 5.0),
        ];
        let b = book(
            &rows,
            &orders,
            &key(),
            "b1",
            &BTreeSet::new(),
            &BTreeMap::new(),
        );
        let ids: Vec<Option<&str>> = b.fills.iter().map(|f| f.order_id.as_deref()).collect();
        assert_eq!(
            ids,
            vec![Some("o1"), Some("o1"), Some("o2"), None, Some("o4")]
        );
        assert_eq!(b.unmatched, 1);
        assert_eq!(b.first_date, Some(d(3)));
        assert_eq!(b.fills[1].seq, 1);
        let states: Vec<(&str, OrderState, f64)> = b
            .updates
            .iter()
            .map(|u| (u.order_id.as_str(), u.state, u.filled_quantity))
            .collect();
        assert_eq!(
            states,
            vec![
                ("o1", OrderState::Filled, 100.0),
                ("o2", OrderState::Partial, -20.0),
                ("o3", OrderState::Expired, 0.0),
                ("o4", OrderState::Sent, 5.0),
            ]
        );
        // The same file again books nothing new.
        let booked: BTreeSet<String> = b.fills.iter().map(|f| f.fill_id.clone()).collect();
        let again = book(&rows, &orders, &key(), "b1", &booked, &BTreeMap::new());
        assert!(again.fills.is_empty());
    }
}

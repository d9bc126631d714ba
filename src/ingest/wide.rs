//! Wide adjusted-close matrices: `Date,SYM1,SYM2,…`, one row per date, one column per
//! symbol. An empty cell (or `null`, `NA`) means "no price that day" and is not an error.
//! These files carry no volume: the bars they yield have `volume: None` — unknown, not zero.

use super::dates::parse_date;
use super::raw_lines::csv_records;
use super::reject::{Reject, RejectReason};
use crate::domain::{DailyBar, InstrumentId, InstrumentSeries, MarketId};
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet};

/// What a wide file yields.
#[derive(Debug)]
pub struct ParsedWide {
    /// The symbols of the header, in column order.
    pub symbols: Vec<String>,
    /// One series per symbol with at least one accepted value.
    pub series: Vec<InstrumentSeries>,
    /// Rejected rows (bad or duplicate dates) and cells (bad values).
    pub rejects: Vec<Reject>,
}

/// True when `s` can be part of an instrument id: non-empty, no `:`, no whitespace or
/// control characters, at most 32 characters.
pub fn is_valid_symbol(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 32
        && !s
            .chars()
            .any(|c| c == ':' || c.is_whitespace() || c.is_control())
}

fn is_missing(cell: &str) -> bool {
    cell.is_empty()
        || ["null", "na", "n/a"]
            .iter()
            .any(|m| cell.eq_ignore_ascii_case(m))
}

/// Parses and validates a wide file for instruments of `market`.
///
/// # Errors
/// A one-line reason when the header is missing, does not start with `Date`, or names an
/// invalid or repeated symbol.
pub fn parse(text: &str, market: &MarketId) -> Result<ParsedWide, String> {
    let (header, records) = csv_records(text);
    let header = header.ok_or_else(|| "the file is empty (expected a header row)".to_owned())?;
    if !header
        .first()
        .is_some_and(|h| h.eq_ignore_ascii_case("date"))
        || header.len() < 2
    {
        return Err("expected a header `Date,SYM1,SYM2,…`".to_owned());
    }
    let symbols: Vec<String> = header[1..].to_vec();
    let mut seen = BTreeSet::new();
    for s in &symbols {
        if !is_valid_symbol(s) {
            return Err(format!(
                "column `{s}` is not a valid symbol (no `:` or spaces, at most 32 characters)"
            ));
        }
        if !seen.insert(s.as_str()) {
            return Err(format!("symbol `{s}` appears in two columns"));
        }
    }
    let mut rejects = Vec::new();
    let mut dates: BTreeMap<NaiveDate, u64> = BTreeMap::new();
    let mut bars: Vec<Vec<DailyBar>> = vec![Vec::new(); symbols.len()];
    for rec in &records {
        if rec.fields.len() != header.len() {
            rejects.push(Reject::row(
                rec.line_no,
                RejectReason::WrongColumnCount,
                format!("{} fields, header has {}", rec.fields.len(), header.len()),
                rec.raw,
            ));
            continue;
        }
        let date = match parse_date(&rec.fields[0]) {
            Ok(d) => d,
            Err(e) => {
                rejects.push(Reject::cell(
                    rec.line_no,
                    "Date",
                    RejectReason::UnparseableDate,
                    e,
                    rec.raw,
                ));
                continue;
            }
        };
        if let Some(first) = dates.get(&date) {
            rejects.push(Reject::cell(
                rec.line_no,
                "Date",
                RejectReason::DuplicateDate,
                format!("{date} already given on line {first}"),
                rec.raw,
            ));
            continue;
        }
        dates.insert(date, rec.line_no);
        for (i, cell) in rec.fields[1..].iter().enumerate() {
            if is_missing(cell) {
                continue;
            }
            let sym = &symbols[i];
            let reject =
                |reason, detail: String| Reject::cell(rec.line_no, sym, reason, detail, rec.raw);
            match cell.parse::<f64>() {
                Err(_) => rejects.push(reject(
                    RejectReason::UnparseableNumber,
                    format!("{sym} `{cell}` is not a number"),
                )),
                Ok(v) if !v.is_finite() => rejects.push(reject(
                    RejectReason::NonFiniteValue,
                    format!("{sym} is {cell}"),
                )),
                Ok(v) if v <= 0.0 => rejects.push(reject(
                    RejectReason::NonPositivePrice,
                    format!("{sym} is {v}"),
                )),
                Ok(v) => bars[i].push(DailyBar {
                    trade_date: date,
                    open: None,
                    high: None,
                    low: None,
                    close: None,
                    adj_close: v,
                    volume: None,
                }),
            }
        }
    }
    let series = symbols
        .iter()
        .zip(bars)
        .filter(|(_, b)| !b.is_empty())
        .map(|(sym, mut b)| {
            b.sort_by_key(|x| x.trade_date);
            InstrumentSeries {
                instrument_id: InstrumentId::of(market, sym),
                bars: b,
            }
        })
        .collect();
    Ok(ParsedWide {
        symbols,
        series,
        rejects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> MarketId {
        MarketId::from("US_EQ")
    }

    #[test]
    fn cells_are_validated_one_by_one_and_volume_is_unknown() {
        let text = "Date,AAA,BBB\n2024-01-02,10,20\n2024-01-03,,x\n2024-01-04,-1,21\n1/5/2024,11,inf\nbad,1,2\n2024-01-02,9,9\n";
        let p = parse(text, &m()).unwrap();
        let reasons: Vec<(u64, &str, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line_no, r.column.as_str(), r.reason.code()))
            .collect();
        assert_eq!(
            reasons,
            [
                (3, "BBB", "unparseable_number"),
                (4, "AAA", "non_positive_price"),
                (5, "BBB", "non_finite_value"),
                (6, "Date", "unparseable_date"),
                (7, "Date", "duplicate_date"),
            ]
        );
        assert_eq!(p.series.len(), 2);
        assert_eq!(p.series[0].instrument_id.as_str(), "US_EQ:AAA");
        assert_eq!(p.series[0].bars.len(), 2, "2024-01-02 and 2024-01-05");
        assert_eq!(p.series[1].bars.len(), 2, "2024-01-02 and 2024-01-04");
        assert!(
            p.series
                .iter()
                .flat_map(|s| &s.bars)
                .all(|b| b.volume.is_none() && b.close.is_none())
        );
    }

    #[test]
    fn bad_headers_are_file_errors() {
        assert!(parse("Day,AAA\n", &m()).is_err());
        assert!(
            parse("Date,AAA,AAA\n", &m())
                .unwrap_err()
                .contains("two columns")
        );
        assert!(
            parse("Date,A:B\n", &m())
                .unwrap_err()
                .contains("not a valid symbol")
        );
        assert!(parse("", &m()).is_err());
    }
}

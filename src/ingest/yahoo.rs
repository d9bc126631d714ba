//! Yahoo-style OHLCV files, one symbol per file:
//! `Date,Open,High,Low,Close,Adj Close,Volume` (ISO or `M/D/YYYY` dates; `Adj Close` may be
//! absent, in which case the close is taken as adjusted).

use super::dates::parse_date;
use super::raw_lines::{RawRecord, csv_records};
use super::reject::{Reject, RejectReason};
use crate::domain::{DailyBar, InstrumentId, InstrumentSeries};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// What a Yahoo file yields: the accepted bars (sorted, unique dates) and the rejects.
#[derive(Debug)]
pub struct ParsedYahoo {
    /// Accepted bars.
    pub series: InstrumentSeries,
    /// Rejected lines.
    pub rejects: Vec<Reject>,
}

/// Column positions found in the header.
struct Columns {
    date: usize,
    open: usize,
    high: usize,
    low: usize,
    close: usize,
    adj_close: Option<usize>,
    volume: usize,
    count: usize,
}

fn normalise(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn columns(header: &[String]) -> Result<Columns, String> {
    let names: Vec<String> = header.iter().map(|h| normalise(h)).collect();
    let find = |n: &str| names.iter().position(|h| h == n);
    let required = ["Date", "Open", "High", "Low", "Close", "Volume"];
    let found: Vec<Option<usize>> = required
        .iter()
        .map(|n| find(&n.to_ascii_lowercase()))
        .collect();
    let missing: Vec<&str> = required
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(n, _)| *n)
        .collect();
    match found[..] {
        [
            Some(date),
            Some(open),
            Some(high),
            Some(low),
            Some(close),
            Some(volume),
        ] => Ok(Columns {
            date,
            open,
            high,
            low,
            close,
            adj_close: find("adjclose"),
            volume,
            count: header.len(),
        }),
        _ => Err(format!(
            "missing column(s) {}; expected Date,Open,High,Low,Close,Adj Close,Volume",
            missing.join(", ")
        )),
    }
}

/// Parses a number field; `Err` carries the reject.
fn number(rec: &RawRecord<'_>, idx: usize, name: &str) -> Result<f64, Reject> {
    let text = rec.fields.get(idx).map_or("", String::as_str);
    if text.is_empty() || text.eq_ignore_ascii_case("null") {
        return Err(Reject::cell(
            rec.line_no,
            name,
            RejectReason::MissingField,
            format!("{name} is empty"),
            rec.raw,
        ));
    }
    let v: f64 = text.parse().map_err(|_| {
        Reject::cell(
            rec.line_no,
            name,
            RejectReason::UnparseableNumber,
            format!("{name} `{text}` is not a number"),
            rec.raw,
        )
    })?;
    if !v.is_finite() {
        return Err(Reject::cell(
            rec.line_no,
            name,
            RejectReason::NonFiniteValue,
            format!("{name} is {text}"),
            rec.raw,
        ));
    }
    Ok(v)
}

/// Validates one data line into a bar.
fn bar(rec: &RawRecord<'_>, c: &Columns) -> Result<DailyBar, Reject> {
    if rec.fields.len() != c.count {
        return Err(Reject::row(
            rec.line_no,
            RejectReason::WrongColumnCount,
            format!("{} fields, header has {}", rec.fields.len(), c.count),
            rec.raw,
        ));
    }
    let date_text = &rec.fields[c.date];
    let trade_date = parse_date(date_text).map_err(|e| {
        Reject::cell(
            rec.line_no,
            "Date",
            RejectReason::UnparseableDate,
            e,
            rec.raw,
        )
    })?;
    let open = number(rec, c.open, "Open")?;
    let high = number(rec, c.high, "High")?;
    let low = number(rec, c.low, "Low")?;
    let close = number(rec, c.close, "Close")?;
    let adj_close = match c.adj_close {
        Some(i) => number(rec, i, "Adj Close")?,
        None => close,
    };
    let volume = number(rec, c.volume, "Volume")?;
    for (name, v) in [
        ("Open", open),
        ("High", high),
        ("Low", low),
        ("Close", close),
        ("Adj Close", adj_close),
    ] {
        if v <= 0.0 {
            return Err(Reject::cell(
                rec.line_no,
                name,
                RejectReason::NonPositivePrice,
                format!("{name} is {v}"),
                rec.raw,
            ));
        }
    }
    if high < low {
        return Err(Reject::row(
            rec.line_no,
            RejectReason::HighBelowLow,
            format!("high {high} < low {low}"),
            rec.raw,
        ));
    }
    if !(low..=high).contains(&close) {
        return Err(Reject::cell(
            rec.line_no,
            "Close",
            RejectReason::CloseOutsideRange,
            format!("close {close} outside [low {low}, high {high}]"),
            rec.raw,
        ));
    }
    if !(low..=high).contains(&open) {
        return Err(Reject::cell(
            rec.line_no,
            "Open",
            RejectReason::OpenOutsideRange,
            format!("open {open} outside [low {low}, high {high}]"),
            rec.raw,
        ));
    }
    if volume < 0.0 {
        return Err(Reject::cell(
            rec.line_no,
            "Volume",
            RejectReason::NegativeVolume,
            format!("volume is {volume}"),
            rec.raw,
        ));
    }
    Ok(DailyBar {
        trade_date,
        open: Some(open),
        high: Some(high),
        low: Some(low),
        close: Some(close),
        adj_close,
        volume: Some(volume),
    })
}

/// Parses and validates a Yahoo-style file for `instrument`.
///
/// # Errors
/// A one-line reason when the header is missing or lacks required columns.
pub fn parse(text: &str, instrument: &InstrumentId) -> Result<ParsedYahoo, String> {
    let (header, records) = csv_records(text);
    let header = header.ok_or_else(|| "the file is empty (expected a header row)".to_owned())?;
    let cols = columns(&header)?;
    let mut rejects = Vec::new();
    let mut by_date: BTreeMap<NaiveDate, (u64, DailyBar)> = BTreeMap::new();
    for rec in &records {
        match bar(rec, &cols) {
            Ok(b) => {
                if let Some((first_line, _)) = by_date.get(&b.trade_date) {
                    rejects.push(Reject::cell(
                        rec.line_no,
                        "Date",
                        RejectReason::DuplicateDate,
                        format!("{} already given on line {first_line}", b.trade_date),
                        rec.raw,
                    ));
                } else {
                    by_date.insert(b.trade_date, (rec.line_no, b));
                }
            }
            Err(r) => rejects.push(r),
        }
    }
    Ok(ParsedYahoo {
        series: InstrumentSeries {
            instrument_id: instrument.clone(),
            bars: by_date.into_values().map(|(_, b)| b).collect(),
        },
        rejects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Date,Open,High,Low,Close,Adj Close,Volume\n";

    fn parse_rows(rows: &str) -> ParsedYahoo {
        parse(&format!("{HEADER}{rows}"), &InstrumentId::from("US_EQ:T")).unwrap()
    }

    fn only_reject(rows: &str) -> Reject {
        let p = parse_rows(rows);
        assert_eq!(p.rejects.len(), 1, "{:?}", p.rejects);
        p.rejects.into_iter().next().unwrap()
    }

    const GOOD1: &str = "2024-01-02,10,11,9,10.5,10.4,1000\n";
    const GOOD2: &str = "1/4/2024,10,11,9,10.5,10.4,1000\n";

    #[test]
    fn every_rule_rejects_its_row_and_keeps_the_neighbours() {
        let cases = [
            (
                "2024-01-03,10,11,9,10.5,10.4\n",
                RejectReason::WrongColumnCount,
                "",
            ),
            (
                "2024-13-03,10,11,9,10.5,10.4,1\n",
                RejectReason::UnparseableDate,
                "Date",
            ),
            (
                "2024-01-03,ten,11,9,10.5,10.4,1\n",
                RejectReason::UnparseableNumber,
                "Open",
            ),
            (
                "2024-01-03,null,null,null,null,null,null\n",
                RejectReason::MissingField,
                "Open",
            ),
            (
                "2024-01-03,10,inf,9,10.5,10.4,1\n",
                RejectReason::NonFiniteValue,
                "High",
            ),
            (
                "2024-01-03,10,11,9,10.5,NaN,1\n",
                RejectReason::NonFiniteValue,
                "Adj Close",
            ),
            (
                "2024-01-03,10,11,-9,10.5,10.4,1\n",
                RejectReason::NonPositivePrice,
                "Low",
            ),
            (
                "2024-01-03,10,11,9,10.5,0,1\n",
                RejectReason::NonPositivePrice,
                "Adj Close",
            ),
            (
                "2024-01-03,10,9,11,10.5,10.4,1\n",
                RejectReason::HighBelowLow,
                "",
            ),
            (
                "2024-01-03,10,11,9,11.5,10.4,1\n",
                RejectReason::CloseOutsideRange,
                "Close",
            ),
            (
                "2024-01-03,8,11,9,10.5,10.4,1\n",
                RejectReason::OpenOutsideRange,
                "Open",
            ),
            (
                "2024-01-03,10,11,9,10.5,10.4,-5\n",
                RejectReason::NegativeVolume,
                "Volume",
            ),
            (
                "01/02/2024,10,11,9,10.5,10.4,5\n",
                RejectReason::DuplicateDate,
                "Date",
            ),
        ];
        for (row, reason, column) in cases {
            let p = parse_rows(&format!("{GOOD1}{row}{GOOD2}"));
            assert_eq!(p.rejects.len(), 1, "{row}: {:?}", p.rejects);
            let r = &p.rejects[0];
            assert_eq!(
                (r.reason, r.column.as_str(), r.line_no),
                (reason, column, 3),
                "{row}"
            );
            assert_eq!(r.raw, row.trim_end());
            assert_eq!(p.series.bars.len(), 2, "{row}: neighbours kept");
        }
    }

    #[test]
    fn duplicate_keeps_the_first_occurrence() {
        let r = only_reject("2024-01-02,10,11,9,10.5,10.4,1000\n2024-01-02,20,21,19,20.5,20.4,5\n");
        assert!(r.detail.contains("line 2"), "{}", r.detail);
        let p = parse_rows("2024-01-02,10,11,9,10.5,10.4,1000\n2024-01-02,20,21,19,20.5,20.4,5\n");
        assert_eq!(p.series.bars[0].adj_close, 10.4);
    }

    #[test]
    fn bars_come_out_sorted_with_volume_known() {
        let p = parse_rows(&format!("{GOOD2}{GOOD1}"));
        assert!(p.rejects.is_empty());
        let dates: Vec<String> = p
            .series
            .bars
            .iter()
            .map(|b| b.trade_date.to_string())
            .collect();
        assert_eq!(dates, ["2024-01-02", "2024-01-04"]);
        assert_eq!(p.series.bars[0].volume, Some(1000.0));
    }

    #[test]
    fn adj_close_defaults_to_close_and_header_is_checked() {
        let p = parse(
            "Date,Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10.5,7\n",
            &InstrumentId::from("X:Y"),
        )
        .unwrap();
        assert_eq!(p.series.bars[0].adj_close, 10.5);
        let err = parse("Date,Open,Close\n", &InstrumentId::from("X:Y")).unwrap_err();
        assert!(err.contains("High") && err.contains("Volume"), "{err}");
    }
}

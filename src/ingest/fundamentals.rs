//! Fundamentals files: `symbol,period_end,filed,metric,value`, one reported figure per
//! row. The symbol is `SYM` or `MARKET:SYM` of a registered instrument (its issuer gets
//! the figure); dates are `YYYY-MM-DD` or `M/D/YYYY`; a row filed before its period ends is
//! rejected (it would put the future into the past).

use super::dates::parse_date;
use super::news::SymbolResolver;
use super::raw_lines::{CheckedCsv, csv_with_columns};
use super::reject::{Reject, RejectReason};
use crate::domain::FundamentalValue;
use std::collections::BTreeMap;

/// What a fundamentals file yields.
#[derive(Debug)]
pub struct ParsedFundamentals {
    /// Accepted figures.
    pub values: Vec<FundamentalValue>,
    /// Rejected rows.
    pub rejects: Vec<Reject>,
}

const REQUIRED: [&str; 5] = ["symbol", "period_end", "filed", "metric", "value"];

/// Parses and validates a fundamentals file.
///
/// # Errors
/// A one-line reason when the header lacks a required column.
pub fn parse(text: &str, resolver: &SymbolResolver<'_>) -> Result<ParsedFundamentals, String> {
    let CheckedCsv {
        header,
        records,
        index: idx,
    } = csv_with_columns(text, &REQUIRED)?;
    let mut out = ParsedFundamentals {
        values: Vec::new(),
        rejects: Vec::new(),
    };
    let mut seen: BTreeMap<(String, String, chrono::NaiveDate, chrono::NaiveDate), u64> =
        BTreeMap::new();
    for rec in &records {
        if rec.fields.len() != header.len() {
            out.rejects.push(Reject::row(
                rec.line_no,
                RejectReason::WrongColumnCount,
                format!("{} fields, header has {}", rec.fields.len(), header.len()),
                rec.raw,
            ));
            continue;
        }
        let field = |n: &str| rec.fields[idx[n]].trim();
        let reject = |col: &str, reason, detail: String| {
            Reject::cell(rec.line_no, col, reason, detail, rec.raw)
        };
        if let Some(empty) = REQUIRED.iter().find(|n| field(n).is_empty()) {
            out.rejects.push(reject(
                empty,
                RejectReason::MissingField,
                format!("{empty} is empty"),
            ));
            continue;
        }
        let instrument = match resolver.resolve(field("symbol")) {
            Ok(i) => i,
            Err((reason, detail)) => {
                out.rejects.push(reject("symbol", reason, detail));
                continue;
            }
        };
        let (period_end, filed) =
            match (parse_date(field("period_end")), parse_date(field("filed"))) {
                (Ok(p), Ok(f)) => (p, f),
                (Err(e), _) => {
                    out.rejects
                        .push(reject("period_end", RejectReason::UnparseableDate, e));
                    continue;
                }
                (_, Err(e)) => {
                    out.rejects
                        .push(reject("filed", RejectReason::UnparseableDate, e));
                    continue;
                }
            };
        if filed < period_end {
            out.rejects.push(reject(
                "filed",
                RejectReason::FiledBeforePeriodEnd,
                format!("filed {filed} before the period ends {period_end}"),
            ));
            continue;
        }
        let value = match field("value").parse::<f64>() {
            Ok(v) if v.is_finite() => v,
            Ok(v) => {
                out.rejects.push(reject(
                    "value",
                    RejectReason::NonFiniteValue,
                    format!("{v}"),
                ));
                continue;
            }
            Err(_) => {
                out.rejects.push(reject(
                    "value",
                    RejectReason::UnparseableNumber,
                    format!("`{}` is not a number", field("value")),
                ));
                continue;
            }
        };
        let metric = field("metric").to_ascii_lowercase();
        let key = (
            instrument.issuer_id.as_str().to_owned(),
            metric.clone(),
            period_end,
            filed,
        );
        if let Some(first) = seen.get(&key) {
            out.rejects.push(reject(
                "metric",
                RejectReason::DuplicateKey,
                format!("{metric} for {period_end} filed {filed} already given on line {first}"),
            ));
            continue;
        }
        seen.insert(key, rec.line_no);
        out.values.push(FundamentalValue {
            issuer_id: instrument.issuer_id.clone(),
            metric,
            period_end,
            filed,
            value,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Instrument, InstrumentId, InstrumentStatus, IssuerId, MarketId};

    fn instruments() -> Vec<Instrument> {
        ["AAA", "BBB"]
            .iter()
            .map(|s| Instrument {
                instrument_id: InstrumentId::of(&MarketId::new("US_EQ"), s),
                issuer_id: IssuerId::new(*s),
                market_id: MarketId::new("US_EQ"),
                symbol: (*s).into(),
                asset_class: "equity".into(),
                currency: "USD".into(),
                status: InstrumentStatus::Active,
            })
            .collect()
    }

    #[test]
    fn good_rows_are_kept_and_bad_rows_say_why() {
        let text = "symbol,period_end,filed,metric,value\n\
                    AAA,2024-03-31,2024-05-02,Revenue,120.5\n\
                    US_EQ:BBB,3/31/2024,5/10/2024,net_income,-3\n\
                    ZZZ,2024-03-31,2024-05-02,revenue,1\n\
                    AAA,2024-03-31,2024-03-30,revenue,1\n\
                    AAA,2024-13-31,2024-05-02,revenue,1\n\
                    AAA,2024-03-31,2024-05-02,revenue,abc\n\
                    AAA,2024-03-31,2024-05-02,revenue,7\n\
                    AAA,2024-03-31,2024-05-02,revenue\n\
                    BBB,2024-03-31,2024-05-02,,1\n";
        let inst = instruments();
        let p = parse(text, &SymbolResolver::new(&inst)).unwrap();
        assert_eq!(p.values.len(), 2);
        assert_eq!(p.values[0].metric, "revenue");
        assert_eq!(p.values[1].issuer_id.as_str(), "BBB");
        assert_eq!(
            p.values[1].filed,
            chrono::NaiveDate::from_ymd_opt(2024, 5, 10).unwrap()
        );
        let reasons: Vec<(u64, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line_no, r.reason.code()))
            .collect();
        assert_eq!(
            reasons,
            [
                (4, "unknown_symbol"),
                (5, "filed_before_period_end"),
                (6, "unparseable_date"),
                (7, "unparseable_number"),
                (8, "duplicate_key"),
                (9, "wrong_column_count"),
                (10, "missing_field"),
            ]
        );
        assert!(
            parse("symbol,value\n", &SymbolResolver::new(&inst))
                .unwrap_err()
                .contains("period_end")
        );
    }
}

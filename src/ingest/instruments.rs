//! Instrument lists: `symbol,name,sector,industry,country,market` with optional
//! `asset_class` (equity, etf, fund, index; default equity — an index is never held) and
//! `currency` columns. Each row registers an issuer (id = symbol) and an
//! instrument `MARKET:SYMBOL`.

use super::raw_lines::{CheckedCsv, csv_with_columns};
use super::reject::{Reject, RejectReason};
use super::wide::is_valid_symbol;
use crate::config::MarketsConfig;
use crate::domain::{
    ASSET_CLASSES, Instrument, InstrumentId, InstrumentStatus, Issuer, IssuerId, MarketId,
};
use std::collections::BTreeMap;

/// What an instruments file yields.
#[derive(Debug)]
pub struct ParsedInstruments {
    /// Issuers, one per accepted row.
    pub issuers: Vec<Issuer>,
    /// Instruments, one per accepted row.
    pub instruments: Vec<Instrument>,
    /// Rejected rows.
    pub rejects: Vec<Reject>,
}

const REQUIRED: [&str; 6] = ["symbol", "name", "sector", "industry", "country", "market"];

/// Parses and validates an instruments file against the configured markets.
///
/// # Errors
/// A one-line reason when the header lacks a required column.
pub fn parse(text: &str, markets: &MarketsConfig) -> Result<ParsedInstruments, String> {
    let CheckedCsv {
        header,
        records,
        index: idx,
    } = csv_with_columns(text, &REQUIRED)?;
    let col = |n: &str| header.iter().position(|h| h == n);
    let (asset_col, ccy_col) = (col("asset_class"), col("currency"));
    let mut out = ParsedInstruments {
        issuers: Vec::new(),
        instruments: Vec::new(),
        rejects: Vec::new(),
    };
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
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
        let optional = |n: &str| Some(field(n).to_owned()).filter(|s| !s.is_empty());
        let (symbol, name, market) = (field("symbol"), field("name"), field("market"));
        let reject = |col: &str, reason, detail: String| {
            Reject::cell(rec.line_no, col, reason, detail, rec.raw)
        };
        if symbol.is_empty() || name.is_empty() || market.is_empty() {
            let col = [("symbol", symbol), ("name", name), ("market", market)]
                .iter()
                .find(|(_, v)| v.is_empty())
                .map_or("symbol", |(c, _)| *c);
            out.rejects.push(reject(
                col,
                RejectReason::MissingField,
                format!("{col} is empty"),
            ));
            continue;
        }
        if !is_valid_symbol(symbol) {
            out.rejects.push(reject(
                "symbol",
                RejectReason::InvalidSymbol,
                format!("`{symbol}` has `:` or spaces, or is too long"),
            ));
            continue;
        }
        let Some(mcfg) = markets.markets.iter().find(|m| m.id == market) else {
            let known: Vec<&str> = markets.markets.iter().map(|m| m.id.as_str()).collect();
            out.rejects.push(reject(
                "market",
                RejectReason::UnknownMarket,
                format!("`{market}` is not one of {}", known.join(", ")),
            ));
            continue;
        };
        let asset_class = asset_col
            .map(|i| rec.fields[i].trim().to_ascii_lowercase())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "equity".to_owned());
        if !ASSET_CLASSES.contains(&asset_class.as_str()) {
            out.rejects.push(reject(
                "asset_class",
                RejectReason::UnknownAssetClass,
                format!("`{asset_class}` is not one of {}", ASSET_CLASSES.join(", ")),
            ));
            continue;
        }
        let market_id = MarketId::new(market);
        let instrument_id = InstrumentId::of(&market_id, symbol);
        if let Some(first) = seen.get(instrument_id.as_str()) {
            out.rejects.push(reject(
                "symbol",
                RejectReason::DuplicateKey,
                format!("{instrument_id} already given on line {first}"),
            ));
            continue;
        }
        seen.insert(instrument_id.as_str().to_owned(), rec.line_no);
        let issuer_id = IssuerId::new(symbol);
        out.issuers.push(Issuer {
            issuer_id: issuer_id.clone(),
            name: name.to_owned(),
            sector: optional("sector"),
            industry: optional("industry"),
            country: optional("country"),
        });
        let pick = |c: Option<usize>, default: &str| {
            c.map(|i| rec.fields[i].trim())
                .filter(|s| !s.is_empty())
                .unwrap_or(default)
                .to_owned()
        };
        out.instruments.push(Instrument {
            instrument_id,
            issuer_id,
            market_id,
            symbol: symbol.to_owned(),
            asset_class,
            currency: pick(ccy_col, &mcfg.currency),
            status: InstrumentStatus::Active,
        });
    }
    // The same issuer listed on two markets is one issuer: keep its first description.
    let mut unique = BTreeMap::new();
    for i in out.issuers.drain(..) {
        unique.entry(i.issuer_id.clone()).or_insert(i);
    }
    out.issuers = unique.into_values().collect();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MarketConfig;

    fn markets() -> MarketsConfig {
        MarketsConfig {
            markets: vec![MarketConfig {
                id: "US_EQ".into(),
                name: "NYSE".into(),
                timezone: "America/New_York".into(),
                calendar: "nyse".into(),
                currency: "USD".into(),
                pre_open_minutes: 60,
                post_close_minutes: 60,
                holidays_added: vec![],
                holidays_removed: vec![],
                closures: vec![],
                early_closes: vec![],
            }],
        }
    }

    #[test]
    fn rows_are_validated_and_defaults_applied() {
        let text = "symbol,name,sector,industry,country,market\n\
                    AAPL,\"Apple, Inc.\",Technology,Hardware,US,US_EQ\n\
                    ,Nameless,,,,US_EQ\n\
                    BAD SYM,X,,,,US_EQ\n\
                    SONY,Sony,Tech,,JP,JP_EQ\n\
                    AAPL,Apple again,,,,US_EQ\n\
                    MSFT,Microsoft,Technology,Software,US,US_EQ\n";
        let p = parse(text, &markets()).unwrap();
        let codes: Vec<(u64, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line_no, r.reason.code()))
            .collect();
        assert_eq!(
            codes,
            [
                (3, "missing_field"),
                (4, "invalid_symbol"),
                (5, "unknown_market"),
                (6, "duplicate_key")
            ]
        );
        assert_eq!(p.instruments.len(), 2);
        assert_eq!(p.instruments[0].instrument_id.as_str(), "US_EQ:AAPL");
        assert_eq!(p.instruments[0].currency, "USD");
        assert_eq!(p.issuers[0].name, "Apple, Inc.");
        assert_eq!(p.issuers[0].sector.as_deref(), Some("Technology"));
    }

    #[test]
    fn missing_columns_are_a_file_error() {
        let err = parse("symbol,name\nA,B\n", &markets()).unwrap_err();
        assert!(err.contains("sector") && err.contains("market"), "{err}");
    }
}

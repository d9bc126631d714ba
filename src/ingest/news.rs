//! News as JSON lines, one article per line:
//! `{"id": "...", "published_at": "2024-03-01T14:30:00Z", "source": "...", "headline": "...",
//! "body": "...", "symbols": ["AAPL", "US_EQ:MSFT"]}`. Symbols are resolved to registered
//! instruments (bare symbols must be unique across markets, otherwise qualify them); an
//! article naming an unknown symbol is rejected whole and kept in the rejects, so importing
//! the instrument and then the file again brings it in.

use super::dates::parse_timestamp;
use super::reject::{Reject, RejectReason};
use crate::domain::{Instrument, InstrumentId, NewsArticle, NewsLink};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// What a news file yields.
#[derive(Debug)]
pub struct ParsedNews {
    /// Accepted articles.
    pub articles: Vec<NewsArticle>,
    /// Their links to issuers.
    pub links: Vec<NewsLink>,
    /// Rejected lines.
    pub rejects: Vec<Reject>,
}

#[derive(Deserialize)]
struct Line {
    id: String,
    published_at: String,
    source: String,
    headline: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    symbols: Vec<String>,
}

/// Resolves the symbols a feed uses to registered instruments.
pub struct SymbolResolver<'a> {
    by_id: BTreeMap<&'a str, &'a Instrument>,
    by_symbol: BTreeMap<&'a str, Vec<&'a Instrument>>,
}

impl<'a> SymbolResolver<'a> {
    /// An index over `instruments`.
    pub fn new(instruments: &'a [Instrument]) -> Self {
        let mut by_symbol: BTreeMap<&str, Vec<&Instrument>> = BTreeMap::new();
        for i in instruments {
            by_symbol.entry(i.symbol.as_str()).or_default().push(i);
        }
        Self {
            by_id: instruments
                .iter()
                .map(|i| (i.instrument_id.as_str(), i))
                .collect(),
            by_symbol,
        }
    }

    /// The instrument named by `MARKET:SYMBOL` or a bare symbol listed on one market only.
    ///
    /// # Errors
    /// The reason code and a message when the symbol is unknown or ambiguous.
    pub fn resolve(&self, s: &str) -> Result<&'a Instrument, (RejectReason, String)> {
        if s.contains(':') {
            return self.by_id.get(s).copied().ok_or((
                RejectReason::UnknownSymbol,
                format!("`{s}` is not a registered instrument"),
            ));
        }
        match self.by_symbol.get(s).map(Vec::as_slice) {
            Some([one]) => Ok(one),
            Some(many) if !many.is_empty() => {
                let ids: Vec<&str> = many.iter().map(|i| i.instrument_id.as_str()).collect();
                Err((
                    RejectReason::AmbiguousSymbol,
                    format!("`{s}` is listed as {}; qualify it", ids.join(", ")),
                ))
            }
            _ => Err((
                RejectReason::UnknownSymbol,
                format!("`{s}` is not a registered instrument (import instruments first)"),
            )),
        }
    }
}

fn article(
    line_no: u64,
    raw: &str,
    resolver: &SymbolResolver<'_>,
) -> Result<(NewsArticle, Vec<NewsLink>), Reject> {
    let l: Line = serde_json::from_str(raw)
        .map_err(|e| Reject::row(line_no, RejectReason::BadJson, e.to_string(), raw))?;
    for (col, v) in [
        ("id", &l.id),
        ("source", &l.source),
        ("headline", &l.headline),
    ] {
        if v.trim().is_empty() {
            return Err(Reject::cell(
                line_no,
                col,
                RejectReason::MissingField,
                format!("{col} is empty"),
                raw,
            ));
        }
    }
    let published_at = parse_timestamp(&l.published_at).map_err(|e| {
        Reject::cell(
            line_no,
            "published_at",
            RejectReason::UnparseableTimestamp,
            e,
            raw,
        )
    })?;
    let mut links = BTreeMap::new();
    for s in &l.symbols {
        let inst = resolver
            .resolve(s.trim())
            .map_err(|(reason, detail)| Reject::cell(line_no, "symbols", reason, detail, raw))?;
        links
            .entry(inst.issuer_id.clone())
            .or_insert_with(|| inst.instrument_id.clone());
    }
    let links = links
        .into_iter()
        .map(|(issuer_id, instrument_id): (_, InstrumentId)| NewsLink {
            article_id: l.id.clone(),
            issuer_id,
            instrument_id,
        })
        .collect();
    Ok((
        NewsArticle {
            article_id: l.id,
            published_at,
            source: l.source,
            headline: l.headline,
            body: l.body,
        },
        links,
    ))
}

/// Parses and validates a JSON-lines news file.
pub fn parse(text: &str, resolver: &SymbolResolver<'_>) -> ParsedNews {
    let mut out = ParsedNews {
        articles: Vec::new(),
        links: Vec::new(),
        rejects: Vec::new(),
    };
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i as u64 + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        match article(line_no, raw, resolver) {
            Ok((a, links)) => {
                if !seen.insert(a.article_id.clone()) {
                    let first = first_line.get(&a.article_id).copied().unwrap_or(0);
                    out.rejects.push(Reject::cell(
                        line_no,
                        "id",
                        RejectReason::DuplicateKey,
                        format!("article `{}` already given on line {first}", a.article_id),
                        raw,
                    ));
                    continue;
                }
                first_line.insert(a.article_id.clone(), line_no);
                out.articles.push(a);
                out.links.extend(links);
            }
            Err(r) => out.rejects.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InstrumentStatus, IssuerId, MarketId};

    fn inst(market: &str, sym: &str) -> Instrument {
        Instrument {
            instrument_id: InstrumentId::of(&MarketId::from(market), sym),
            issuer_id: IssuerId::from(sym),
            market_id: MarketId::from(market),
            symbol: sym.into(),
            asset_class: "equity".into(),
            currency: "USD".into(),
            status: InstrumentStatus::Active,
        }
    }

    #[test]
    fn articles_are_validated_and_symbols_resolved() {
        let instruments = vec![
            inst("US_EQ", "AAA"),
            inst("US_EQ", "DUP"),
            inst("EU_EQ", "DUP"),
        ];
        let r = SymbolResolver::new(&instruments);
        let text = r#"{"id":"n1","published_at":"2024-03-01T14:30:00Z","source":"wire","headline":"AAA beats","symbols":["AAA"]}
not json
{"id":"n2","published_at":"2024-03-01 14:30","source":"wire","headline":"x","symbols":[]}
{"id":"n3","published_at":"2024-03-01T14:30:00Z","source":"wire","headline":"x","symbols":["ZZZ"]}
{"id":"n4","published_at":"2024-03-01T14:30:00Z","source":"wire","headline":"x","symbols":["DUP"]}
{"id":"n5","published_at":"2024-03-01T15:30:00+01:00","source":"wire","headline":"ok","symbols":["EU_EQ:DUP","AAA"]}
{"id":"n1","published_at":"2024-03-01T14:30:00Z","source":"wire","headline":"again","symbols":[]}
{"id":"n6","published_at":"2024-03-01T14:30:00Z","source":"","headline":"x"}
"#;
        let p = parse(text, &r);
        let codes: Vec<(u64, &str)> = p
            .rejects
            .iter()
            .map(|r| (r.line_no, r.reason.code()))
            .collect();
        assert_eq!(
            codes,
            [
                (2, "bad_json"),
                (3, "unparseable_timestamp"),
                (4, "unknown_symbol"),
                (5, "ambiguous_symbol"),
                (7, "duplicate_key"),
                (8, "missing_field")
            ]
        );
        assert_eq!(p.articles.len(), 2);
        assert_eq!(
            p.articles[1].published_at.to_rfc3339(),
            "2024-03-01T14:30:00+00:00"
        );
        let links: Vec<(&str, &str)> = p
            .links
            .iter()
            .map(|l| (l.article_id.as_str(), l.instrument_id.as_str()))
            .collect();
        assert_eq!(
            links,
            [
                ("n1", "US_EQ:AAA"),
                ("n5", "US_EQ:AAA"),
                ("n5", "EU_EQ:DUP")
            ]
        );
    }
}

//! Rejected input rows and the reasons for rejecting them.

use std::collections::BTreeMap;
use std::fmt;

/// Why a row (or a cell of a wide file) was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RejectReason {
    /// The row has a different number of fields than the header.
    WrongColumnCount,
    /// A required field is empty or missing.
    MissingField,
    /// The date is neither `YYYY-MM-DD` nor `M/D/YYYY` (or is not a real date).
    UnparseableDate,
    /// A timestamp is not RFC 3339 with an offset.
    UnparseableTimestamp,
    /// A number does not parse.
    UnparseableNumber,
    /// A value is NaN or infinite.
    NonFiniteValue,
    /// A price is zero or negative.
    NonPositivePrice,
    /// The high is below the low.
    HighBelowLow,
    /// The close is outside `[low, high]`.
    CloseOutsideRange,
    /// The open is outside `[low, high]`.
    OpenOutsideRange,
    /// The volume is negative.
    NegativeVolume,
    /// The date appeared on an earlier line of the same file.
    DuplicateDate,
    /// The symbol is not a registered instrument.
    UnknownSymbol,
    /// The symbol exists on several markets; qualify it as `MARKET:SYMBOL`.
    AmbiguousSymbol,
    /// The symbol contains characters ids cannot hold (`:`, whitespace…).
    InvalidSymbol,
    /// The same symbol (and market) or article id appears twice in the file.
    DuplicateKey,
    /// The market is not configured.
    UnknownMarket,
    /// The asset class is not one of `equity`, `etf`, `fund`, `index`.
    UnknownAssetClass,
    /// The line is not valid JSON for the format.
    BadJson,
    /// A statement filed before the end of the period it reports.
    FiledBeforePeriodEnd,
    /// A fill's side is neither `BUY` nor `SELL`.
    InvalidSide,
    /// A fill's quantity is zero or negative (the side gives the direction).
    NonPositiveQuantity,
    /// Fees are negative.
    NegativeFees,
}

impl RejectReason {
    /// The stable code stored in `ingest_rejects.reason`.
    pub fn code(self) -> &'static str {
        match self {
            Self::WrongColumnCount => "wrong_column_count",
            Self::MissingField => "missing_field",
            Self::UnparseableDate => "unparseable_date",
            Self::UnparseableTimestamp => "unparseable_timestamp",
            Self::UnparseableNumber => "unparseable_number",
            Self::NonFiniteValue => "non_finite_value",
            Self::NonPositivePrice => "non_positive_price",
            Self::HighBelowLow => "high_below_low",
            Self::CloseOutsideRange => "close_outside_range",
            Self::OpenOutsideRange => "open_outside_range",
            Self::NegativeVolume => "negative_volume",
            Self::DuplicateDate => "duplicate_date",
            Self::UnknownSymbol => "unknown_symbol",
            Self::AmbiguousSymbol => "ambiguous_symbol",
            Self::InvalidSymbol => "invalid_symbol",
            Self::DuplicateKey => "duplicate_key",
            Self::UnknownMarket => "unknown_market",
            Self::UnknownAssetClass => "unknown_asset_class",
            Self::BadJson => "bad_json",
            Self::FiledBeforePeriodEnd => "filed_before_period_end",
            Self::InvalidSide => "invalid_side",
            Self::NonPositiveQuantity => "non_positive_quantity",
            Self::NegativeFees => "negative_fees",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One rejected row or cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line in the file.
    pub line_no: u64,
    /// The column (wide files: the symbol) at fault; empty for the whole row.
    pub column: String,
    /// Why.
    pub reason: RejectReason,
    /// Explanation with the offending values.
    pub detail: String,
    /// The raw line.
    pub raw: String,
}

impl Reject {
    /// A reject of a whole line.
    pub fn row(line_no: u64, reason: RejectReason, detail: impl Into<String>, raw: &str) -> Self {
        Self {
            line_no,
            column: String::new(),
            reason,
            detail: detail.into(),
            raw: raw.to_owned(),
        }
    }

    /// A reject of one column of a line.
    pub fn cell(
        line_no: u64,
        column: &str,
        reason: RejectReason,
        detail: impl Into<String>,
        raw: &str,
    ) -> Self {
        Self {
            line_no,
            column: column.to_owned(),
            reason,
            detail: detail.into(),
            raw: raw.to_owned(),
        }
    }
}

/// Counts of rejects by reason, for the summary a user reads after an import.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RejectSummary(pub BTreeMap<&'static str, u64>);

impl RejectSummary {
    /// Tallies `rejects`.
    pub fn of(rejects: &[Reject]) -> Self {
        let mut m = BTreeMap::new();
        for r in rejects {
            *m.entry(r.reason.code()).or_insert(0) += 1;
        }
        Self(m)
    }

    /// The most frequent reason (ties: alphabetical), if any.
    pub fn top(&self) -> Option<&'static str> {
        self.0
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, _)| *k)
    }
}

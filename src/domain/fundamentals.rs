//! Reported fundamentals, keyed by when they became public (the filing date), not by the
//! period they describe: a figure for the quarter ending in March that was filed in May
//! is unknown to any decision dated in April.

use super::IssuerId;
use chrono::NaiveDate;

/// One reported figure.
#[derive(Clone, Debug, PartialEq)]
pub struct FundamentalValue {
    /// The issuer.
    pub issuer_id: IssuerId,
    /// What (`revenue`, `net_income`, `total_assets`, `total_liabilities`, …).
    pub metric: String,
    /// Last day of the reported period.
    pub period_end: NaiveDate,
    /// The day it was filed (public from this day on). A restatement is a later filing of
    /// the same period.
    pub filed: NaiveDate,
    /// The value.
    pub value: f64,
}

//! The global FX market: sessions dated Monday–Friday, each from 17:00 New York time on the
//! previous calendar day to 17:00 on its own date (so Monday's opens Sunday 17:00), closed on
//! 25 December and 1 January.

use super::dates::ymd;
use chrono::NaiveDate;

/// The dates with no FX session in `year`.
pub(super) fn holidays(year: i32) -> Vec<NaiveDate> {
    vec![ymd(year, 1, 1), ymd(year, 12, 25)]
}

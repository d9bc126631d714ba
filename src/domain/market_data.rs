//! Daily market data and the series derived from it.

use super::InstrumentId;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// One trading day of one instrument.
///
/// Only `adj_close` is always known. Wide adjusted-close imports carry no open, high, low,
/// raw close or volume: those are `None`, and downstream code must treat a missing volume as
/// *unknown*, never as zero.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DailyBar {
    /// The market's trading date.
    pub trade_date: NaiveDate,
    /// Opening price.
    pub open: Option<f64>,
    /// Highest price of the day.
    pub high: Option<f64>,
    /// Lowest price of the day.
    pub low: Option<f64>,
    /// Raw closing price.
    pub close: Option<f64>,
    /// Closing price adjusted for splits and dividends; returns are computed from it.
    pub adj_close: f64,
    /// Shares traded, when known.
    pub volume: Option<f64>,
}

/// The bars of one instrument in ascending date order, without duplicate dates.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstrumentSeries {
    /// Whose bars these are.
    pub instrument_id: InstrumentId,
    /// Bars sorted by `trade_date`, unique dates.
    pub bars: Vec<DailyBar>,
}

/// A simple return over `horizon_days` trading days ending on `trade_date`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReturnValue {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// Last day of the horizon.
    pub trade_date: NaiveDate,
    /// Horizon in the instrument's own trading days.
    pub horizon_days: u32,
    /// `adj_close[t] / adj_close[t - horizon] - 1`.
    pub value: f64,
}

/// Annualised realised volatility over a window ending on `trade_date`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolatilityValue {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// Last day of the window.
    pub trade_date: NaiveDate,
    /// Window length in daily returns.
    pub window_days: u32,
    /// Sample standard deviation of daily simple returns × √(annualisation days).
    pub value: f64,
}

/// One day of a factor return series (market or sector, equal-weighted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FactorValue {
    /// `MKT:<market>` or `SEC:<market>:<sector>`.
    pub factor_id: String,
    /// The trading date.
    pub trade_date: NaiveDate,
    /// Equal-weighted mean one-day return of the members.
    pub value: f64,
    /// How many instruments contributed.
    pub members: u32,
}

/// The earliest date any store query needs as an open lower bound (both backends and the
/// ISO text ordering of SQLite handle it).
pub fn date_floor() -> NaiveDate {
    NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The latest date usable as an open upper bound, for maintenance jobs that are not
/// point-in-time (decision reads always pass a real `as_of`).
pub fn date_ceiling() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

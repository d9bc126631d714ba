//! Exchange calendars and market states.
//!
//! Holiday rules live in code, one module per rule set ([`nyse`], [`lse`], [`tse`], [`fx`]):
//! weekend observance, Easter-based holidays, n-th weekday rules, and the years rules
//! changed. One-off closures, moved holidays and extra early closes are data in
//! `config/markets.toml` ([`CalendarSpec`]). A built [`ExchangeCalendar`] holds every session
//! of its years with open, close and break instants in UTC (DST-exact), answers session
//! queries by binary search, and gives the market state at any instant and the ordered
//! state transitions between two instants.
//!
//! Correct for 1990–2035: sessions are compared with Python's `exchange_calendars` on every
//! day of that range (`tests/calendars.rs`).

pub(crate) mod dates;
mod exchange;
mod fx;
mod lse;
mod nyse;
mod spec;
mod state;
pub mod tse;

pub use dates::easter_sunday;
pub use exchange::{CalendarError, ExchangeCalendar, Session};
pub use spec::{CalendarSpec, EarlyClose, RuleSet};
pub use state::{MarketState, StateAt, Transition};

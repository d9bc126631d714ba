//! A seeded, deterministic synthetic market.
//!
//! A hidden Markov regime path (calm / stressed / crisis, each persistent) drives a market
//! factor and sector factors with regime-dependent drift and volatility; each instrument adds
//! its own beta, fat-tailed (Student-t) idiosyncratic noise and occasional negative jumps,
//! all amplified by a latent *fragility* in stressed regimes. Volumes rise with shocks and
//! stress; news articles arrive more often after large moves and carry their tone.
//!
//! The generator returns the truth next to the data — the regime of every session and each
//! instrument's latent traits — so engines can be scored against it.
//!
//! Parameters follow the linfa pattern: [`SyntheticMarketParams`] → `check()` →
//! [`ValidParams`] → [`generate`]. The seed is a parameter; the same parameters and sessions
//! give bit-identical output, and instrument `i`'s history depends only on the seed and `i`
//! (its own random stream), not on how many instruments are generated.

mod generate;
mod names;
mod news;
mod params;

pub use generate::{HiddenRegime, InstrumentTraits, SyntheticMarket, generate};
pub use params::{RegimeDynamics, SyntheticMarketParams, SyntheticParamsError, ValidParams};

use chrono::{Datelike, NaiveDate, Weekday};

/// Monday–Friday dates in `[from, to]`: the session list used when no exchange calendar is
/// wanted (benchmarks, unit tests).
pub fn weekdays(from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    from.iter_days()
        .take_while(|d| *d <= to)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .collect()
}

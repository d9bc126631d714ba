//! Derived daily series: simple returns over several horizons, annualised realised
//! volatility over several windows, and equal-weighted market and sector factors.
//!
//! [`compute`] holds the pure arithmetic; [`derive_incremental`] runs it for exactly the
//! instruments and dates whose prices changed since the last run (as marked by the price
//! store) and replaces the stored values from those dates on.

mod compute;
mod config;
mod job;

pub use compute::{FactorMembership, factor_values, returns_from, volatility_from};
pub use config::DerivedConfig;
pub use job::{DeriveSummary, derive_incremental};

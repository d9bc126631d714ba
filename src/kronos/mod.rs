//! Kronos's pure core: how decisions turned out, what that says about each config, which
//! candidate configs to try, and whether a tried candidate may be promoted.
//!
//! - [`outcomes`] — realised returns, volatility, drawdowns, forecast skill and class tails
//!   over a decision's horizon, from the prices of that horizon only (point-in-time).
//! - [`analytics`] — outcomes summarised per engine × config × market × regime × period, and
//!   each config labelled `dominated`, `robust` or `niche`.
//! - [`proposals`] — bounded sweeps over the keys each engine declares tunable, user
//!   proposals and negative controls.
//! - [`gates`] — the checks a candidate must pass against the active config.
//! - [`shadow`] — a shadowed candidate's outcomes against the active config's on the same
//!   sessions.
//! - [`stats`] — the probabilistic and deflated Sharpe ratios and the probability of
//!   backtest overfitting.
//!
//! The actor (`prometheus-actors`, `kronos/`) stores decisions and outcomes, runs the
//! experiments through the backtest machinery and promotes approved configs.

pub mod analytics;
pub mod config;
pub mod experiment;
pub mod gates;
pub mod outcomes;
pub mod proposals;
pub mod shadow;
pub mod stats;

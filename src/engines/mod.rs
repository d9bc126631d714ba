//! The engines' core models: plain functions of point-in-time inputs and a config, no
//! actors, no clock, randomness only from seeds in the config.
//!
//! - [`assessment`] — alpha families, point-in-time ridge weights, scores and labels.
//! - [`calibration`] — what the market did in the month after each regime label.
//! - [`covariance`] — the Ledoit–Wolf shrunk covariance (scikit-learn's formulas).
//! - [`fragility`] — fragility scores, classes and short templates from scenario losses.
//! - [`gmm`] — full-covariance Gaussian mixtures by EM (scikit-learn's algorithm).
//! - [`portfolio`] — target weights (clarabel QP, HRP, risk parity, equal weight), risk
//!   reports and the hard limits that fail closed.
//! - [`regime`] — market regimes from a Gaussian mixture, filtered forward only.
//! - [`scenarios`] — seeded synthetic return paths (historical windows, block and
//!   regime-conditioned bootstraps, stressed tails, crisis replays).
//! - [`stability`] — stability components, soft-target scores, classes and forecasts.
//! - [`universe`] — hard filters with reasons, CORE/SATELLITE tiers under sector limits.

pub mod assessment;
pub mod calibration;
pub mod covariance;
pub mod fragility;
pub mod gmm;
pub mod portfolio;
pub mod regime;
pub mod scenarios;
pub mod stability;
pub mod universe;

use crate::config::EngineConfig;
use crate::config::tunable::HardLimit;

/// The hard limits of the engine named `engine` (none for an engine without any): what no
/// activation may loosen without a person's approval, whatever asks for it.
pub fn hard_limits(engine: &str) -> &'static [HardLimit] {
    match engine {
        portfolio::PortfolioConfig::ENGINE => portfolio::PortfolioConfig::HARD_LIMITS,
        universe::UniverseConfig::ENGINE => universe::UniverseConfig::HARD_LIMITS,
        crate::execution::config::ExecutionConfig::ENGINE => {
            crate::execution::config::ExecutionConfig::HARD_LIMITS
        }
        _ => &[],
    }
}

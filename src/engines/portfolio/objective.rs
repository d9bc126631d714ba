//! The optimiser's objective in one unit and one horizon.
//!
//! Expected return, variance and trading cost are all measured over the rebalance period
//! (`rebalance_days` sessions) as fractions of the portfolio: return `h·μ_d`, variance
//! `h·Σ_d`, and a cost per unit of turnover `Σ|w − w₀|` that comes, by default, from the
//! broker's slippage and commission (what trading actually costs). Mean-variance minimises
//! `−h·μ_dᵀw + (λ/2)·h·wᵀΣ_d w + c·Σ|w − w₀|`; minimum variance drops the first term. With
//! the cost at 0 minimum variance is the textbook `min wᵀΣw`, whatever λ and h.
//!
//! Before, the cost (0.005) was compared with *annualised* variance and return while it is
//! paid once per rebalance: at a daily rebalance it outweighed a day's variance (~1e-4)
//! fifty times, and decided the weights instead of risk.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::backtest::broker::BrokerConfig;
use crate::engines::covariance::ShrunkCovariance;

/// The cost of trading one unit of portfolio weight (buy or sell).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TurnoverCost {
    /// The broker's slippage plus commission (`"broker"`; the shipped broker's 6 bp unless a
    /// backtest's strategy names another broker).
    Broker,
    /// A fraction per unit traded, e.g. `0.001` (10 bp).
    PerUnit(f64),
}

impl TurnoverCost {
    /// The cost per unit of turnover.
    pub fn resolve(self) -> f64 {
        match self {
            Self::Broker => BrokerConfig::default().cost_per_unit_traded(),
            Self::PerUnit(c) => c,
        }
    }
}

impl fmt::Display for TurnoverCost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Broker => f.write_str("broker"),
            Self::PerUnit(c) => write!(f, "{c}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CostText {
    Number(f64),
    Text(String),
}

impl Serialize for TurnoverCost {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Broker => CostText::Text("broker".into()),
            Self::PerUnit(c) => CostText::Number(*c),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for TurnoverCost {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match CostText::deserialize(d)? {
            CostText::Number(c) => Ok(Self::PerUnit(c)),
            CostText::Text(t) if t == "broker" => Ok(Self::Broker),
            CostText::Text(t) => Err(serde::de::Error::custom(format!(
                "`{t}` is not a cost; use \"broker\" or a fraction per unit traded (0.0006)"
            ))),
        }
    }
}

/// The quadratic and linear terms of the objective over the horizon, from the daily
/// covariance and annualised expected returns (`None`: minimum variance).
pub fn terms(
    daily: &ShrunkCovariance,
    annual_expected: Option<&[f64]>,
    risk_aversion: f64,
    horizon_days: f64,
) -> (Vec<f64>, Vec<f64>) {
    let q: Vec<f64> = daily
        .matrix
        .iter()
        .map(|v| v * risk_aversion * horizon_days)
        .collect();
    let c = match annual_expected {
        Some(mu) => mu
            .iter()
            .map(|m| -m * horizon_days / super::risk::ANNUAL_DAYS)
            .collect(),
        None => vec![0.0; daily.assets],
    };
    (q, c)
}

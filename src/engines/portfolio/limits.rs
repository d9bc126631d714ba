//! Hard limits: invariants every target portfolio must satisfy before it may be written.
//!
//! The check is independent of how the weights were built (optimiser, heuristic,
//! projection): it re-derives every quantity from the final weights and lists each breach.
//! A target with any breach is never written — the job fails with the list (fail closed).
//! Nothing here is ever relaxed to let a target through.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::engines::portfolio::risk::RiskReport;
use crate::engines::universe::UNKNOWN_SECTOR;

/// Slack for floating-point noise in equality and cap checks.
pub const TOLERANCE: f64 = 1e-9;

/// Risk limits beyond the construction constraints (`[limits]` in the portfolio config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RiskLimits {
    /// Largest annualised ex-ante volatility.
    pub max_ex_ante_vol: Option<f64>,
    /// Largest one-day historical 99% expected shortfall.
    pub max_historical_es_99: Option<f64>,
    /// Largest 99% expected shortfall over the scenario horizon.
    pub max_scenario_es_99: Option<f64>,
    /// Largest weight in SHORT_CANDIDATE or CRISIS names.
    pub max_fragile_weight: Option<f64>,
    /// Smallest share of the gross weight the scenario set must cover when a scenario limit
    /// is set (a name without scenarios hides its risk).
    pub min_scenario_coverage: f64,
}

impl Default for RiskLimits {
    fn default() -> Self {
        Self {
            max_ex_ante_vol: Some(0.60),
            max_historical_es_99: None,
            max_scenario_es_99: None,
            max_fragile_weight: Some(0.25),
            min_scenario_coverage: 0.95,
        }
    }
}

/// The structural limits of a target, from the portfolio config.
#[derive(Clone, Debug, PartialEq)]
pub struct Structure<'a> {
    /// Required `Σw` (fully invested).
    pub budget: f64,
    /// No negative weights.
    pub long_only: bool,
    /// Largest |weight|.
    pub max_weight: f64,
    /// Largest `Σ|w|`.
    pub gross: f64,
    /// Largest |net weight| per sector.
    pub sector_caps: &'a BTreeMap<String, f64>,
    /// Cap of sectors not listed.
    pub default_sector_cap: f64,
    /// Largest turnover over the names still eligible (when a previous target exists),
    /// forced exits included.
    pub turnover_limit: Option<f64>,
    /// Whether a previous target exists.
    pub has_previous: bool,
}

/// Every breach of `weights` (named) against the structure and the risk limits.
pub fn breaches(
    weights: &[(String, f64)],
    eligible: &dyn Fn(&str) -> bool,
    s: &Structure<'_>,
    limits: &RiskLimits,
    report: &RiskReport,
) -> Vec<String> {
    let mut out = Vec::new();
    for (id, w) in weights {
        if !w.is_finite() {
            out.push(format!("{id}: weight {w} is not a number"));
        }
        if *w != 0.0 && !eligible(id) {
            out.push(format!(
                "{id}: weight {w:.6} for a name outside the universe"
            ));
        }
        if w.abs() > s.max_weight + TOLERANCE {
            out.push(format!(
                "{id}: weight {w:.6} above the per-name cap {}",
                s.max_weight
            ));
        }
        if s.long_only && *w < -TOLERANCE {
            out.push(format!(
                "{id}: short weight {w:.6} in a long-only portfolio"
            ));
        }
    }
    let net: f64 = weights.iter().map(|(_, w)| w).sum();
    if (net - s.budget).abs() > TOLERANCE {
        out.push(format!(
            "weights sum to {net:.12}, not the budget {}",
            s.budget
        ));
    }
    let gross: f64 = weights.iter().map(|(_, w)| w.abs()).sum();
    if gross > s.gross + TOLERANCE {
        out.push(format!("gross {gross:.6} above the limit {}", s.gross));
    }
    for (sector, w) in report.sectors.iter().filter(|(s, _)| *s != UNKNOWN_SECTOR) {
        let cap = s
            .sector_caps
            .get(sector)
            .copied()
            .unwrap_or(s.default_sector_cap);
        if w.abs() > cap + TOLERANCE {
            out.push(format!(
                "sector {sector}: weight {w:.6} above its cap {cap}"
            ));
        }
    }
    if let (Some(limit), true) = (s.turnover_limit, s.has_previous)
        && report.turnover > limit + TOLERANCE
    {
        out.push(format!(
            "turnover {:.6} above the limit {limit}",
            report.turnover
        ));
    }
    let mut above = |what: &str, value: Option<f64>, limit: Option<f64>| {
        if let Some(limit) = limit {
            match value {
                Some(v) if v <= limit + TOLERANCE => {}
                Some(v) => out.push(format!("{what} {v:.6} above the limit {limit}")),
                None => out.push(format!("{what} unknown (a limit of {limit} is set)")),
            }
        }
    };
    above(
        "ex-ante volatility",
        Some(report.ex_ante_vol),
        limits.max_ex_ante_vol,
    );
    above(
        "historical 99% ES",
        report.historical.map(|h| h.p99.es),
        limits.max_historical_es_99,
    );
    above(
        "scenario 99% ES",
        report.scenario.as_ref().map(|s| s.tails.p99.es),
        limits.max_scenario_es_99,
    );
    above(
        "weight in fragile names",
        Some(report.fragile_weight),
        limits.max_fragile_weight,
    );
    if limits.max_scenario_es_99.is_some()
        && let Some(sc) = &report.scenario
        && sc.coverage < limits.min_scenario_coverage
    {
        out.push(format!(
            "the scenario set covers {:.4} of the gross weight, below {}",
            sc.coverage, limits.min_scenario_coverage
        ));
    }
    out
}

//! The risk report of a target portfolio: what it is expected to do and how badly it could
//! go, from three angles — the covariance (ex-ante volatility), the last year replayed
//! (historical VaR/ES) and the synthetic scenario set (scenario VaR/ES over its horizon) —
//! plus where the weight sits (sectors, fragility).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::engines::covariance::ShrunkCovariance;

/// Trading days per year, for annualising.
pub const ANNUAL_DAYS: f64 = 252.0;

/// Value at risk and expected shortfall of a sample of returns at one confidence level,
/// as positive loss fractions.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TailRisk {
    /// The loss exceeded in `1 − level` of the sample (the `k`-th worst, `k = ⌈(1 − level)·n⌉`).
    pub var: f64,
    /// The mean loss of the `k` worst outcomes.
    pub es: f64,
}

/// VaR and ES of `returns` at `level` (e.g. 0.99); `None` for an empty sample.
pub fn tail_risk(returns: &[f64], level: f64) -> Option<TailRisk> {
    if returns.is_empty() {
        return None;
    }
    let mut sorted = returns.to_vec();
    sorted.sort_by(f64::total_cmp);
    // `1 − 0.95` is 0.050000000000000044: without the nudge 5% of 100 would be 6.
    let k = (((1.0 - level) * sorted.len() as f64 - 1e-9).ceil() as usize).clamp(1, sorted.len());
    let worst = &sorted[..k];
    Some(TailRisk {
        var: -worst[k - 1],
        es: -worst.iter().sum::<f64>() / k as f64,
    })
}

/// The tail at 95% and 99%.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tails {
    /// 95%.
    pub p95: TailRisk,
    /// 99%.
    pub p99: TailRisk,
}

impl Tails {
    /// Both levels of `returns`; `None` for an empty sample.
    pub fn of(returns: &[f64]) -> Option<Self> {
        Some(Self {
            p95: tail_risk(returns, 0.95)?,
            p99: tail_risk(returns, 0.99)?,
        })
    }
}

/// The scenario side of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRisk {
    /// The set.
    pub set_id: String,
    /// Days per path.
    pub horizon: usize,
    /// Paths.
    pub paths: usize,
    /// Share of the gross weight in names the set covers.
    pub coverage: f64,
    /// VaR/ES of the portfolio's cumulative return across the paths.
    pub tails: Tails,
}

/// A target portfolio's risk report (`portfolio_risk_reports`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RiskReport {
    /// Annualised `√(252 · wᵀΣw)`.
    pub ex_ante_vol: f64,
    /// One-day VaR/ES of today's weights over the covariance window.
    pub historical: Option<Tails>,
    /// Days in that window.
    pub historical_days: usize,
    /// Over the synthetic scenario set.
    pub scenario: Option<ScenarioRisk>,
    /// `Σw`.
    pub net: f64,
    /// `Σ|w|`.
    pub gross: f64,
    /// Names with a weight.
    pub names: usize,
    /// `1 / Σw²`.
    pub effective_names: f64,
    /// Largest |weight|.
    pub max_weight: f64,
    /// Net weight per sector.
    pub sectors: BTreeMap<String, f64>,
    /// `Σ w · fragility score` over the names with a score.
    pub fragility_exposure: f64,
    /// Weight in names classed SHORT_CANDIDATE or CRISIS.
    pub fragile_weight: f64,
    /// `Σ|w − w₀|` over the names still eligible.
    pub turnover: f64,
    /// Weight sold because its names left the universe.
    pub forced_exits: f64,
    /// The per-name cap in force (resolved against the day's N names); 0 for a defensive
    /// target.
    #[serde(default)]
    pub max_weight_cap: f64,
    /// Names held at that cap: when it is most of them, the cap, not risk, set the weights.
    #[serde(default)]
    pub names_at_cap: usize,
    /// Weight held in cash: the budget the constraints could not place, or all of it on a
    /// defensive day.
    #[serde(default)]
    pub cash: f64,
    /// Why the target is defensive (`on_empty_universe`), when it is.
    #[serde(default)]
    pub defensive: Option<String>,
    /// What a reader must know to read the weights (a binding cap, unplaced budget…).
    #[serde(default)]
    pub notes: Vec<String>,
}

impl RiskReport {
    /// Whether a cap bound most of the names held (the weights say more about the cap than
    /// about risk).
    pub fn cap_bound_most(&self) -> bool {
        self.names > 0 && 2 * self.names_at_cap > self.names
    }

    /// The report of an all-cash target: nothing at risk. The scenario block is kept (all
    /// zero, over the same set) so that a cash day reads as measured, not as missing.
    pub fn all_cash(
        reason: String,
        previous_gross: f64,
        historical_days: usize,
        scenarios: Option<&ScenarioView<'_>>,
    ) -> Self {
        let zero = Tails {
            p95: TailRisk { var: 0.0, es: 0.0 },
            p99: TailRisk { var: 0.0, es: 0.0 },
        };
        Self {
            ex_ante_vol: 0.0,
            historical: Some(zero),
            historical_days,
            scenario: scenarios.map(|v| ScenarioRisk {
                set_id: v.set_id.to_owned(),
                horizon: v.horizon,
                paths: v.path_returns.len().checked_div(v.width).unwrap_or(0),
                coverage: 1.0,
                tails: zero,
            }),
            net: 0.0,
            gross: 0.0,
            names: 0,
            effective_names: 0.0,
            max_weight: 0.0,
            sectors: BTreeMap::new(),
            fragility_exposure: 0.0,
            fragile_weight: 0.0,
            turnover: 0.0,
            forced_exits: previous_gross,
            max_weight_cap: 0.0,
            names_at_cap: 0,
            cash: 1.0,
            notes: vec![reason.clone()],
            defensive: Some(reason),
        }
    }
}

/// What the report needs besides the weights.
pub struct RiskInputs<'a> {
    /// The covariance the weights were built with (daily).
    pub cov: &'a ShrunkCovariance,
    /// The window's daily returns, `days × names` row-major.
    pub returns: &'a [f64],
    /// Days in it.
    pub days: usize,
    /// Each name's sector.
    pub sectors: &'a [String],
    /// Each name's fragility score, when known.
    pub fragility: &'a [Option<f64>],
    /// Each name's fragility class is SHORT_CANDIDATE or CRISIS.
    pub fragile: &'a [bool],
    /// The previous weights of the same names.
    pub previous: &'a [f64],
    /// Previous weight of names no longer eligible.
    pub forced_exits: f64,
}

/// Scenario paths as the portfolio engine sees them.
pub struct ScenarioView<'a> {
    /// The set.
    pub set_id: &'a str,
    /// Days per path.
    pub horizon: usize,
    /// Per portfolio name, its column in `path_returns` (None: not in the set).
    pub columns: Vec<Option<usize>>,
    /// Columns per path.
    pub width: usize,
    /// `paths × width` cumulative returns.
    pub path_returns: &'a [f64],
}

impl ScenarioView<'_> {
    /// The portfolio's return on each path and the share of gross weight covered.
    pub fn portfolio_returns(&self, w: &[f64]) -> (Vec<f64>, f64) {
        let paths = self.path_returns.len().checked_div(self.width).unwrap_or(0);
        let returns = (0..paths)
            .map(|p| {
                let row = &self.path_returns[p * self.width..(p + 1) * self.width];
                w.iter()
                    .zip(&self.columns)
                    .filter_map(|(wi, c)| c.map(|c| wi * row[c]))
                    .sum()
            })
            .collect();
        let gross: f64 = w.iter().map(|v| v.abs()).sum();
        let covered: f64 = w
            .iter()
            .zip(&self.columns)
            .filter(|(_, c)| c.is_some())
            .map(|(v, _)| v.abs())
            .sum();
        let coverage = if gross > 0.0 { covered / gross } else { 1.0 };
        (returns, coverage)
    }
}

/// The report of weights `w` (aligned with the inputs' names).
pub fn report(w: &[f64], inp: &RiskInputs<'_>, scenarios: Option<&ScenarioView<'_>>) -> RiskReport {
    let n = w.len();
    let daily: Vec<f64> = (0..inp.days)
        .map(|t| {
            inp.returns[t * n..(t + 1) * n]
                .iter()
                .zip(w)
                .map(|(r, wi)| r * wi)
                .sum()
        })
        .collect();
    let mut sectors = BTreeMap::new();
    for (s, wi) in inp.sectors.iter().zip(w) {
        if *wi != 0.0 {
            *sectors.entry(s.clone()).or_insert(0.0) += wi;
        }
    }
    let squares: f64 = w.iter().map(|v| v * v).sum();
    let scenario = scenarios.and_then(|v| {
        let (returns, coverage) = v.portfolio_returns(w);
        Some(ScenarioRisk {
            set_id: v.set_id.to_owned(),
            horizon: v.horizon,
            paths: returns.len(),
            coverage,
            tails: Tails::of(&returns)?,
        })
    });
    RiskReport {
        ex_ante_vol: (inp.cov.quadratic_form(w).max(0.0) * ANNUAL_DAYS).sqrt(),
        historical: Tails::of(&daily),
        historical_days: inp.days,
        scenario,
        net: w.iter().sum(),
        gross: w.iter().map(|v| v.abs()).sum(),
        names: w.iter().filter(|v| **v != 0.0).count(),
        effective_names: if squares > 0.0 { 1.0 / squares } else { 0.0 },
        max_weight: w.iter().map(|v| v.abs()).fold(0.0, f64::max),
        sectors,
        fragility_exposure: w
            .iter()
            .zip(inp.fragility)
            .filter_map(|(wi, f)| f.map(|f| wi * f))
            .sum(),
        fragile_weight: w
            .iter()
            .zip(inp.fragile)
            .filter(|(_, f)| **f)
            .map(|(wi, _)| wi.abs())
            .sum(),
        turnover: w.iter().zip(inp.previous).map(|(a, b)| (a - b).abs()).sum(),
        forced_exits: inp.forced_exits,
        max_weight_cap: 0.0,
        names_at_cap: 0,
        cash: 0.0,
        defensive: None,
        notes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_risk_counts_the_worst_outcomes() {
        // 100 outcomes −0.50, −0.49, …, 0.49: 5% tail = 5 worst.
        let r: Vec<f64> = (0..100).map(|i| (i as f64 - 50.0) / 100.0).collect();
        let t = tail_risk(&r, 0.95).unwrap();
        assert!((t.var - 0.46).abs() < 1e-12);
        assert!((t.es - 0.48).abs() < 1e-12);
        let t = tail_risk(&r, 0.99).unwrap();
        assert_eq!((t.var, t.es), (0.5, 0.5));
        assert_eq!(tail_risk(&[], 0.95), None);
    }

    #[test]
    fn scenario_returns_weigh_the_covered_names() {
        let paths = [0.1, -0.2, 0.0, -0.4, 0.3, 0.0];
        let v = ScenarioView {
            set_id: "s",
            horizon: 21,
            columns: vec![Some(1), None, Some(0)],
            width: 3,
            path_returns: &paths,
        };
        let (r, coverage) = v.portfolio_returns(&[0.5, 0.25, 0.25]);
        assert!((r[0] - (0.5 * -0.2 + 0.25 * 0.1)).abs() < 1e-15);
        assert!((r[1] - (0.5 * 0.3 + 0.25 * -0.4)).abs() < 1e-15);
        assert!((coverage - 0.75).abs() < 1e-15);
    }
}

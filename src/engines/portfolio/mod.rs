//! The portfolio & risk engine's core: from the day's universe, a covariance and expected
//! returns to target weights and their risk report, under hard limits that fail closed.
//!
//! - [`qp`] — the constrained quadratic programme (clarabel) behind mean-variance and
//!   minimum variance, and the projection that makes a heuristic portfolio feasible.
//! - [`hrp`], [`risk_parity`] — allocations that do not invert the covariance.
//! - [`risk`] — ex-ante volatility, historical and scenario VaR/ES, exposures.
//! - [`limits`] — the invariants checked on every target before it may be written.
//!
//! The covariance is always Ledoit–Wolf ([`crate::engines::covariance`]) over the last
//! `lookback_days` sessions. Heuristic methods (HRP, risk parity, equal weight) know no
//! caps: when their weights break a cap, a sector cap or the turnover limit they are
//! projected onto the constraint set (the closest feasible weights in the L2 sense), never
//! renormalised past a cap.

pub mod caps;
pub mod hrp;
pub mod limits;
pub mod objective;
pub mod qp;
pub mod risk;
pub mod risk_parity;

use crate::config::tunable::{HardLimit, Step, Tighter, Tunable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use thiserror::Error;

use crate::config::{EngineConfig, Issues};
use crate::engines::covariance::{CovarianceError, ShrunkCovariance, ledoit_wolf};
use crate::engines::universe::UNKNOWN_SECTOR;
pub use caps::WeightCap;
use limits::{RiskLimits, Structure, TOLERANCE, breaches};
pub use objective::TurnoverCost;
use qp::{Constraints, QpError};
use risk::{RiskInputs, RiskReport, ScenarioView};

/// How weights are built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `max μᵀw − (λ/2) wᵀΣw − κ·turnover` under every constraint (clarabel).
    MeanVariance,
    /// `min wᵀΣw` under every constraint (clarabel).
    MinVariance,
    /// Equal risk contributions.
    RiskParity,
    /// Hierarchical risk parity.
    Hrp,
    /// `1/n`.
    EqualWeight,
}

impl Method {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MeanVariance => "mean_variance",
            Self::MinVariance => "min_variance",
            Self::RiskParity => "risk_parity",
            Self::Hrp => "hrp",
            Self::EqualWeight => "equal_weight",
        }
    }
}

/// Configuration of the portfolio & risk engine (`config/engines/portfolio.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioConfig {
    /// The portfolio's id in `target_portfolios`.
    pub portfolio_id: String,
    /// The universe it invests in (`universe_members.universe_id`).
    pub universe_id: String,
    /// The scores it reads expected returns from (`instrument_scores.strategy_id`).
    pub strategy_id: String,
    /// Construction method.
    pub method: Method,
    /// Sessions of returns in the covariance.
    pub lookback_days: usize,
    /// Fewer common sessions than this: no target (fail closed).
    pub min_days: usize,
    /// No short positions.
    pub long_only: bool,
    /// Net exposure `Σw` (fully invested: 1).
    pub budget: f64,
    /// Largest `Σ|w|` (long/short).
    pub gross: f64,
    /// Largest |weight| of one name: a fraction, `"k/N"` or `"max(f, k/N)"` (N: the
    /// day's eligible names).
    pub max_weight: WeightCap,
    /// Largest |net weight| of a sector not listed in `sector_caps` (names of an unknown
    /// sector are not capped together).
    pub sector_cap: f64,
    /// Caps of named sectors.
    pub sector_caps: BTreeMap<String, f64>,
    /// λ: the price of variance in the objective (dimensionless: the same at any horizon).
    pub risk_aversion: f64,
    /// Sessions between rebalances: the horizon over which return, variance and trading
    /// cost are compared (1 for the daily daemon; a backtest sets its rebalance period).
    pub rebalance_days: u32,
    /// Largest `Σ|w − w₀|` over names still in the universe, beyond re-investing the
    /// weight of names that left it and selling fragile names down to their limit (none:
    /// unlimited).
    pub turnover_limit: Option<f64>,
    /// The cost of one unit of turnover in the objective (mean-variance and minimum
    /// variance): `"broker"` (slippage + commission) or a fraction.
    pub turnover_cost: TurnoverCost,
    /// A day without an eligible name: hold cash, keep the previous target, or fail.
    pub on_empty_universe: OnEmptyUniverse,
    /// Risk limits checked on every target.
    pub limits: RiskLimits,
}

/// What a day with no eligible name gets (`on_empty_universe`). Every session has an
/// explicit target: a crash in which every name is a BREAKER is when a target matters most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnEmptyUniverse {
    /// An all-cash target, with the reason stored.
    Cash,
    /// The previous target again (cash when there is none), with the reason stored.
    Hold,
    /// No target: the job fails (permanently) with the reason.
    Fail,
}

impl OnEmptyUniverse {
    /// The config name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cash => "cash",
            Self::Hold => "hold",
            Self::Fail => "fail",
        }
    }
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        Self {
            portfolio_id: "core_long_eq".into(),
            universe_id: "core_long_eq".into(),
            strategy_id: "core_long_eq".into(),
            method: Method::MeanVariance,
            lookback_days: 252,
            min_days: 60,
            long_only: true,
            budget: 1.0,
            gross: 1.0,
            max_weight: WeightCap::AtLeast {
                fixed: 0.05,
                per_name: 3.0,
            },
            sector_cap: 0.35,
            sector_caps: BTreeMap::new(),
            risk_aversion: 4.0,
            rebalance_days: 1,
            turnover_limit: Some(0.5),
            turnover_cost: TurnoverCost::Broker,
            on_empty_universe: OnEmptyUniverse::Cash,
            limits: RiskLimits::default(),
        }
    }
}

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

impl EngineConfig for PortfolioConfig {
    const ENGINE: &'static str = "portfolio";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::number("risk_aversion", 0.5, 32.0, Step::Relative(1.0)),
        Tunable::number("lookback_days", 126.0, 756.0, Step::Integer(63)),
        Tunable::number("sector_cap", 0.15, 0.5, Step::Absolute(0.05)),
        Tunable::number("turnover_limit", 0.1, 2.0, Step::Relative(1.0)),
    ];
    const HARD_LIMITS: &'static [HardLimit] = &[
        HardLimit {
            key: "limits.max_ex_ante_vol",
            tighter: Tighter::Lower,
        },
        HardLimit {
            key: "limits.max_historical_es_99",
            tighter: Tighter::Lower,
        },
        HardLimit {
            key: "limits.max_scenario_es_99",
            tighter: Tighter::Lower,
        },
        HardLimit {
            key: "limits.max_fragile_weight",
            tighter: Tighter::Lower,
        },
        HardLimit {
            key: "limits.min_scenario_coverage",
            tighter: Tighter::Higher,
        },
        HardLimit {
            key: "long_only",
            tighter: Tighter::True { default_true: true },
        },
        HardLimit {
            key: "gross",
            tighter: Tighter::Lower,
        },
    ];

    fn validate(&self, issues: &mut Issues) {
        for (key, id) in [
            ("portfolio_id", &self.portfolio_id),
            ("universe_id", &self.universe_id),
            ("strategy_id", &self.strategy_id),
        ] {
            issues.check(id.trim().is_empty(), key, || "must not be empty".into());
        }
        issues.check(self.lookback_days < 20, "lookback_days", || {
            format!("{} is too short; use at least 20", self.lookback_days)
        });
        issues.check(
            self.min_days < 2 || self.min_days > self.lookback_days,
            "min_days",
            || {
                format!(
                    "{} must be in 2..=lookback_days ({})",
                    self.min_days, self.lookback_days
                )
            },
        );
        issues.check(!self.budget.is_finite(), "budget", || {
            "must be a number".into()
        });
        issues.check(self.long_only && !positive(self.budget), "budget", || {
            format!("{} must be positive for a long-only portfolio", self.budget)
        });
        issues.check(
            !positive(self.gross) || self.gross + TOLERANCE < self.budget.abs(),
            "gross",
            || {
                format!(
                    "{} must be positive and at least |budget| ({})",
                    self.gross, self.budget
                )
            },
        );
        if let Some(p) = self.max_weight.problem() {
            issues.push("max_weight", p);
        }
        issues.check(
            !(1..=252).contains(&self.rebalance_days),
            "rebalance_days",
            || format!("{} is out of range; use 1..=252", self.rebalance_days),
        );
        issues.check(!positive(self.sector_cap), "sector_cap", || {
            format!("{} must be positive", self.sector_cap)
        });
        for (s, cap) in &self.sector_caps {
            issues.check(!positive(*cap), &format!("sector_caps.{s}"), || {
                format!("{cap} must be positive")
            });
        }
        issues.check(!positive(self.risk_aversion), "risk_aversion", || {
            format!("{} must be positive", self.risk_aversion)
        });
        if let Some(t) = self.turnover_limit {
            issues.check(
                !(t.is_finite() && t > 0.0 && t <= 2.0 * self.gross),
                "turnover_limit",
                || format!("{t} is out of range; use (0, 2·gross]"),
            );
        }
        if let TurnoverCost::PerUnit(c) = self.turnover_cost {
            issues.check(!(c.is_finite() && c >= 0.0), "turnover_cost", || {
                format!("{c} must be ≥ 0")
            });
        }
        let l = &self.limits;
        for (key, v) in [
            ("limits.max_ex_ante_vol", l.max_ex_ante_vol),
            ("limits.max_historical_es_99", l.max_historical_es_99),
            ("limits.max_scenario_es_99", l.max_scenario_es_99),
            ("limits.max_fragile_weight", l.max_fragile_weight),
        ] {
            if let Some(v) = v {
                issues.check(!positive(v), key, || format!("{v} must be positive"));
            }
        }
        issues.check(
            !(0.0..=1.0).contains(&l.min_scenario_coverage),
            "limits.min_scenario_coverage",
            || format!("{} is out of range; use 0..=1", l.min_scenario_coverage),
        );
    }
}

/// Why no target was produced. Every variant blocks the target (fail closed).
#[derive(Debug, Error)]
pub enum PortfolioError {
    /// The universe is empty.
    #[error("the universe has no eligible names; no target")]
    NoNames,
    /// Too little common history.
    #[error("only {days} sessions of returns (at least {min} needed); no target")]
    ShortHistory {
        /// Sessions available.
        days: usize,
        /// Sessions required.
        min: usize,
    },
    /// The covariance could not be estimated.
    #[error("covariance: {0}")]
    Covariance(#[from] CovarianceError),
    /// The optimiser failed or the constraints cannot hold.
    #[error("{0}")]
    Optimiser(#[from] QpError),
    /// The target breaks hard limits.
    #[error("the target breaks {} hard limit(s), so it is not written: {}", .0.len(), .0.join("; "))]
    LimitBreach(Vec<String>),
}

/// One eligible name.
#[derive(Clone, Debug, PartialEq)]
pub struct PortfolioName {
    /// Instrument id.
    pub id: String,
    /// Sector ([`UNKNOWN_SECTOR`] when not known).
    pub sector: String,
    /// Expected annual return, when the assessment gave one.
    pub expected_return: Option<f64>,
    /// Fragility score in [0,1], when known.
    pub fragility: Option<f64>,
    /// Classed SHORT_CANDIDATE or CRISIS.
    pub fragile: bool,
    /// Its weight in the previous target (0 when not held).
    pub previous: f64,
}

/// Everything a target is built from.
pub struct PortfolioInputs<'a> {
    /// The eligible names.
    pub names: &'a [PortfolioName],
    /// Their daily returns over the window, `days × names` row-major (missing: 0).
    pub returns: &'a [f64],
    /// Sessions in the window.
    pub days: usize,
    /// Whether a previous target exists (turnover applies).
    pub has_previous: bool,
    /// Previous weight of names that left the universe (sold in full).
    pub forced_exits: f64,
    /// The day's scenario set, when it reached the engine.
    pub scenarios: Option<ScenarioView<'a>>,
}

/// A target portfolio that passed every hard limit.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// `(instrument, weight)`, nonzero weights only, in the inputs' order.
    pub weights: Vec<(String, f64)>,
    /// Its risk report.
    pub report: RiskReport,
    /// The Ledoit–Wolf shrinkage used.
    pub shrinkage: f64,
    /// Whether heuristic weights had to be projected onto the constraints.
    pub projected: bool,
}

impl PortfolioConfig {
    /// The turnover allowed over the names still eligible: the limit plus the weight that
    /// names leaving the universe free up (it must be re-invested, whatever the limit).
    fn turnover_allowed(
        &self,
        names: &[PortfolioName],
        has_previous: bool,
        forced_exits: f64,
    ) -> Option<f64> {
        // Selling down fragile names to their limit is forced too: a risk limit comes
        // before a preference for low turnover.
        let fragile_excess = self.limits.max_fragile_weight.map_or(0.0, |cap| {
            let held: f64 = names
                .iter()
                .filter(|n| n.fragile)
                .map(|n| n.previous.abs())
                .sum();
            (held - cap).max(0.0)
        });
        // Cash the budget must put to work (after an all-cash day, or budget the caps
        // could not place before) is bought whatever the limit, like re-invested exits.
        let held: f64 = names.iter().map(|n| n.previous).sum();
        let to_invest = (self.budget - held - forced_exits).max(0.0);
        self.turnover_limit
            .filter(|_| has_previous)
            .map(|l| (l + forced_exits + to_invest + 2.0 * fragile_excess).min(2.0 * self.gross))
    }

    fn constraints(
        &self,
        names: &[PortfolioName],
        has_previous: bool,
        forced_exits: f64,
        cap: f64,
    ) -> Constraints {
        let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, n) in names.iter().enumerate() {
            if n.sector != UNKNOWN_SECTOR {
                groups.entry(n.sector.as_str()).or_default().push(i);
            }
        }
        Constraints {
            budget: self.budget,
            long_only: self.long_only,
            max_weight: cap,
            gross: self.gross,
            sectors: groups
                .into_iter()
                .map(|(s, m)| {
                    (
                        m,
                        self.sector_caps.get(s).copied().unwrap_or(self.sector_cap),
                    )
                })
                .collect(),
            // The fragile-weight limit is built in, so that a target respects it by
            // construction; the hard-limit check still guards it.
            extra_groups: self
                .limits
                .max_fragile_weight
                .map(|cap| {
                    (
                        names
                            .iter()
                            .enumerate()
                            .filter(|(_, n)| n.fragile)
                            .map(|(i, _)| i)
                            .collect::<Vec<_>>(),
                        cap,
                    )
                })
                .filter(|(g, _)| !g.is_empty())
                .into_iter()
                .collect(),
            previous: has_previous.then(|| names.iter().map(|n| n.previous).collect()),
            turnover_limit: self.turnover_allowed(names, has_previous, forced_exits),
            turnover_penalty: if has_previous {
                self.turnover_cost.resolve()
            } else {
                0.0
            },
        }
    }

    /// Builds the target from `inp` and checks it against every hard limit.
    ///
    /// # Errors
    /// [`PortfolioError`]: no names, too little history, a covariance or optimiser failure,
    /// or hard-limit breaches (each listed).
    pub fn construct(&self, inp: &PortfolioInputs<'_>) -> Result<Target, PortfolioError> {
        let n = inp.names.len();
        if n == 0 {
            return Err(PortfolioError::NoNames);
        }
        if inp.days < self.min_days {
            return Err(PortfolioError::ShortHistory {
                days: inp.days,
                min: self.min_days,
            });
        }
        let cov = ledoit_wolf(inp.returns, inp.days, n)?;
        let cap = self.max_weight.resolve(n);
        let mut cons = self.constraints(inp.names, inp.has_previous, inp.forced_exits, cap);
        let mut notes = Vec::new();
        // A long-only budget the constraints cannot place is partly held in cash (said in
        // the report) instead of failing every day; no limit is loosened for it.
        let (weights, projected) = match self.weights(&cov, inp.names, &cons) {
            Err(QpError::Infeasible(why)) if cons.long_only => {
                let room = match forced_weights(n, &cons) {
                    Some(_) => cons.max_weight * n as f64,
                    None => qp::max_placeable(n, &cons)?,
                };
                if room >= cons.budget - 1e-9 || room <= 1e-9 {
                    return Err(QpError::Infeasible(why).into());
                }
                notes.push(format!(
                    "the constraints place at most {room:.4} of the budget {} over {n} names (name cap {cap:.4}, sector and group caps, turnover); {:.4} is held in cash",
                    cons.budget,
                    cons.budget - room
                ));
                cons.budget = room;
                match forced_weights(n, &cons) {
                    Some(w) => (w, false),
                    None => {
                        // Keep a sliver of slack so the feasible set has an interior.
                        cons.budget = room * (1.0 - 1e-7);
                        self.weights(&cov, inp.names, &cons)?
                    }
                }
            }
            other => other?,
        };
        let previous: Vec<f64> = inp.names.iter().map(|x| x.previous).collect();
        let mut report = risk_of(&weights, &cov, inp, &previous, inp.forced_exits);
        report.max_weight_cap = cap;
        report.names_at_cap = weights.iter().filter(|w| w.abs() >= cap - AT_CAP).count();
        report.cash = cash_of(report.net, self.long_only);
        if report.cap_bound_most() {
            notes.push(format!(
                "{} of {} names sit at the per-name cap {cap:.4}: the cap, not risk, set their weights",
                report.names_at_cap, report.names
            ));
        }
        report.notes = notes;
        let named: Vec<(String, f64)> = inp
            .names
            .iter()
            .zip(&weights)
            .filter(|(_, w)| **w != 0.0)
            .map(|(x, w)| (x.id.clone(), *w))
            .collect();
        let eligible: std::collections::BTreeSet<&str> =
            inp.names.iter().map(|x| x.id.as_str()).collect();
        let structure = Structure {
            budget: cons.budget,
            long_only: self.long_only,
            max_weight: cap,
            gross: if self.long_only {
                cons.budget
            } else {
                self.gross
            },
            sector_caps: &self.sector_caps,
            default_sector_cap: self.sector_cap,
            turnover_limit: self.turnover_allowed(inp.names, inp.has_previous, inp.forced_exits),
            has_previous: inp.has_previous,
        };
        let found = breaches(
            &named,
            &|id| eligible.contains(id),
            &structure,
            &self.limits,
            &report,
        );
        if !found.is_empty() {
            return Err(PortfolioError::LimitBreach(found));
        }
        Ok(Target {
            weights: named,
            report,
            shrinkage: cov.shrinkage,
            projected,
        })
    }

    /// The risk report of given weights (aligned with `inp.names`): what a held target is
    /// measured with on a day the universe is empty (`on_empty_universe = "hold"`).
    ///
    /// # Errors
    /// No names, too little history, or a covariance failure.
    pub fn measure(
        &self,
        weights: &[f64],
        inp: &PortfolioInputs<'_>,
    ) -> Result<RiskReport, PortfolioError> {
        let n = inp.names.len();
        if n == 0 {
            return Err(PortfolioError::NoNames);
        }
        if inp.days < 2 {
            return Err(PortfolioError::ShortHistory {
                days: inp.days,
                min: 2,
            });
        }
        let cov = ledoit_wolf(inp.returns, inp.days, n)?;
        let mut report = risk_of(weights, &cov, inp, weights, 0.0);
        report.cash = cash_of(report.net, self.long_only);
        Ok(report)
    }

    /// The method's weights, feasible under `cons`; whether a projection was needed.
    fn weights(
        &self,
        cov: &ShrunkCovariance,
        names: &[PortfolioName],
        cons: &Constraints,
    ) -> Result<(Vec<f64>, bool), QpError> {
        let n = names.len();
        let horizon = f64::from(self.rebalance_days);
        let raw = match self.method {
            Method::MeanVariance => {
                let mu: Vec<f64> = names
                    .iter()
                    .map(|x| x.expected_return.unwrap_or(0.0))
                    .collect();
                let (q, c) = objective::terms(cov, Some(&mu), self.risk_aversion, horizon);
                return Ok((qp::solve(&q, &c, cons)?.weights, false));
            }
            Method::MinVariance => {
                let (q, c) = objective::terms(cov, None, self.risk_aversion, horizon);
                return Ok((qp::solve(&q, &c, cons)?.weights, false));
            }
            Method::RiskParity => risk_parity::risk_parity_weights(cov, 1e-10).0,
            Method::Hrp => hrp::hrp_weights(cov),
            Method::EqualWeight => vec![1.0 / n as f64; n],
        };
        let raw: Vec<f64> = raw.iter().map(|w| w * cons.budget).collect();
        if feasible(&raw, cons) {
            return Ok((raw, false));
        }
        Ok((project(&raw, cons)?, true))
    }
}

/// The risk report of `weights` over the inputs' names, window and scenarios, with turnover
/// measured from `previous`.
fn risk_of(
    weights: &[f64],
    cov: &ShrunkCovariance,
    inp: &PortfolioInputs<'_>,
    previous: &[f64],
    forced_exits: f64,
) -> RiskReport {
    let sectors: Vec<String> = inp.names.iter().map(|x| x.sector.clone()).collect();
    let fragility: Vec<Option<f64>> = inp.names.iter().map(|x| x.fragility).collect();
    let fragile: Vec<bool> = inp.names.iter().map(|x| x.fragile).collect();
    risk::report(
        weights,
        &RiskInputs {
            cov,
            returns: inp.returns,
            days: inp.days,
            sectors: &sectors,
            fragility: &fragility,
            fragile: &fragile,
            previous,
            forced_exits,
        },
        inp.scenarios.as_ref(),
    )
}

/// The weight in cash of a portfolio whose weights sum to `net` (floating-point dust is
/// not cash).
fn cash_of(net: f64, long_only: bool) -> f64 {
    let cash = 1.0 - net;
    if long_only && cash > 1e-9 { cash } else { 0.0 }
}

/// How close to the cap a weight counts as "at the cap".
const AT_CAP: f64 = 1e-6;

/// When the name caps alone hold no more than the budget and nothing else caps a group,
/// every name sits at its cap: the one feasible point, written down instead of asking an
/// interior-point solver for a set without interior.
fn forced_weights(n: usize, cons: &Constraints) -> Option<Vec<f64>> {
    let all_at_cap = cons.max_weight * n as f64;
    let groups_hold = cons
        .sectors
        .iter()
        .chain(&cons.extra_groups)
        .all(|(m, cap)| cons.max_weight * m.len() as f64 <= cap + 1e-12);
    let turnover_free = cons.turnover_limit.is_none() || cons.previous.is_none();
    (all_at_cap <= cons.budget + 1e-12 && groups_hold && turnover_free)
        .then(|| vec![cons.max_weight; n])
}

/// Whether `w` satisfies every constraint of `cons` (to [`TOLERANCE`]).
pub fn feasible(w: &[f64], cons: &Constraints) -> bool {
    let lo = if cons.long_only {
        0.0
    } else {
        -cons.max_weight
    };
    let in_bounds = w
        .iter()
        .all(|v| *v >= lo - TOLERANCE && *v <= cons.max_weight + TOLERANCE);
    let budget = (w.iter().sum::<f64>() - cons.budget).abs() <= TOLERANCE;
    let gross = cons.long_only || w.iter().map(|v| v.abs()).sum::<f64>() <= cons.gross + TOLERANCE;
    let sectors = cons
        .sectors
        .iter()
        .chain(&cons.extra_groups)
        .all(|(m, cap)| m.iter().map(|&i| w[i]).sum::<f64>().abs() <= cap + TOLERANCE);
    let turnover = match (&cons.previous, cons.turnover_limit) {
        (Some(prev), Some(limit)) => {
            w.iter().zip(prev).map(|(a, b)| (a - b).abs()).sum::<f64>() <= limit + TOLERANCE
        }
        _ => true,
    };
    in_bounds && budget && gross && sectors && turnover
}

/// The feasible weights closest to `target`: `min ½‖w − target‖²` under `cons` (the
/// turnover penalty is dropped: a projection does not trade off costs).
///
/// # Errors
/// When the constraints cannot hold.
pub fn project(target: &[f64], cons: &Constraints) -> Result<Vec<f64>, QpError> {
    let n = target.len();
    let mut identity = vec![0.0; n * n];
    for i in 0..n {
        identity[i * n + i] = 1.0;
    }
    let c: Vec<f64> = target.iter().map(|v| -v).collect();
    let cons = Constraints {
        turnover_penalty: 0.0,
        ..cons.clone()
    };
    Ok(qp::solve(&identity, &c, &cons)?.weights)
}

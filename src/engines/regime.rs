//! The regime engine: what kind of market are we in, using only what was known that day.
//!
//! Market features (21-day return, realised volatility over 21 and 63 days, drawdown from the
//! 252-day peak, trend, and — when the market has several instruments — cross-sectional
//! dispersion and average pairwise correlation) are computed from the market factor `MKT:m`
//! and its second moment `XS2:m`. A Gaussian mixture ([`crate::engines::gmm`]) is fitted on the expanding
//! window of standardised features up to a refit anchor, with the number of states chosen by
//! BIC over several seeded restarts. A forward filter (the mixture's densities with a
//! transition matrix counted from the fit window's state sequence, self-transitions included)
//! gives each day's probabilities from that day and earlier only.
//!
//! The mixture answers one question — is the market stressed? — and the day's observable
//! features answer which kind, so the four labels mean the same thing whether BIC chose 2, 3
//! or 4 states (with three states fitted on thirty years, the mixture alone named two labels):
//!
//! - a mixture state is **stressed** when its volatility is at least `risk_off_vol_ratio`
//!   times the fit window's median; a day's stressed probability is its filtered mass on
//!   stressed states;
//! - a stressed day is **CRISIS** when its 21-day volatility is at least `crisis_vol_ratio`
//!   times the fit window's median 21-day volatility *and* the market stands more than
//!   `crisis_drawdown` median (annual) volatilities below its 252-day peak — the worst
//!   episodes, not every sell-off — and **RISK_OFF** otherwise;
//! - a calm day is **CARRY** when the market is above its 63-day average and its 21-day
//!   volatility is below `risk_off_vol_ratio` times the median, and **NEUTRAL** otherwise.
//!
//! (Calling a calm day of a falling market RISK_OFF as well was tried: it caught slow
//! sell-offs such as late 2018 sooner, but it also called the first weeks after every stress
//! episode RISK_OFF and cut agreement with the synthetic market's hidden regimes from ~0.88
//! to ~0.83, so it was left out.)
//!
//! Each condition is a logistic step ([`LOG_VOL_STEP`], [`DRAWDOWN_STEP`], [`TREND_STEP`])
//! rather than a hard cut, so a day near a boundary splits its probability and the
//! minimum-duration rule (which smooths the label without looking ahead) keeps it from
//! flickering. Every threshold is taken from the fit window, so a day's label depends on
//! that day and earlier only. The change risk is the label chain's own: transitions counted
//! over the fit window's labelled days (shrunk towards how long stress or calm lasted, so a
//! label the window never saw is not a coin toss), raised to the horizon.

#![allow(clippy::needless_range_loop)] // matrix code indexes rows and columns together

use crate::config::tunable::{Step, Tunable};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{EngineConfig, Issues};
use crate::encoders::numeric::Refit;
use crate::engines::gmm::{Density, Mixture, MixtureSettings, fit_mixture, log_sum_exp};

/// The four named regimes, from most to least stressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RegimeLabel {
    /// Highest volatility, deep losses.
    Crisis,
    /// Elevated volatility or falling market.
    RiskOff,
    /// Ordinary conditions.
    Neutral,
    /// Low volatility, rising market.
    Carry,
}

impl RegimeLabel {
    /// Every label, most stressed first (the order of probability vectors).
    pub const ALL: [Self; 4] = [Self::Crisis, Self::RiskOff, Self::Neutral, Self::Carry];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crisis => "CRISIS",
            Self::RiskOff => "RISK_OFF",
            Self::Neutral => "NEUTRAL",
            Self::Carry => "CARRY",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Position in [`RegimeLabel::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// CRISIS and RISK_OFF: the states in which risk is cut.
    pub fn is_stressed(self) -> bool {
        matches!(self, Self::Crisis | Self::RiskOff)
    }
}

impl std::fmt::Display for RegimeLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Configuration of the regime engine (`config/engines/regime.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegimeConfig {
    /// The market features the mixture is fitted on (those the market has; the others are
    /// still computed and reported). The default keeps the fast-moving ones: slow features
    /// (63-day volatility and correlation, drawdown, trend) make the mixture cluster by era
    /// rather than by state, which lowered agreement with the synthetic market's hidden
    /// regimes from 0.89 to 0.74–0.80.
    pub mixture_features: Vec<String>,
    /// How often the mixture is refitted on the expanding window.
    pub refit: Refit,
    /// Fewest feature days before the first fit (the warm-up).
    pub min_fit_days: usize,
    /// Fewest and most mixture states tried; BIC picks among them.
    pub min_states: usize,
    /// See `min_states`.
    pub max_states: usize,
    /// Seeded restarts per state count; the best log-likelihood wins.
    pub restarts: usize,
    /// Seed of the restarts.
    pub seed: u64,
    /// EM stops when the mean log-likelihood gains less than this.
    pub tolerance: f64,
    /// EM iteration cap.
    pub max_iterations: u64,
    /// Added to covariance diagonals (keeps them positive definite).
    pub reg_covariance: f64,
    /// A new label must lead the filtered probabilities this many days in a row…
    pub min_duration: usize,
    /// …unless its filtered probability reaches this (a clear break switches at once).
    pub switch_probability: f64,
    /// Horizon of the change-risk forecast, in trading days.
    pub change_horizon: usize,
    /// Cross-sectional features need at least this many instruments on every day.
    pub cross_section_min_members: u32,
    /// A mixture state whose volatility is at least this multiple of the fit window's median
    /// is a stressed state (its days are RISK_OFF or CRISIS); a calm day is CARRY only while
    /// its 21-day volatility stays below this multiple of the median.
    pub risk_off_vol_ratio: f64,
    /// A stressed day is CRISIS when its 21-day volatility is at least this multiple of the
    /// fit window's median 21-day volatility (and its drawdown passes `crisis_drawdown`).
    pub crisis_vol_ratio: f64,
    /// …and when the market is more than this many median annual volatilities below its
    /// 252-day peak (1.25 × a median of 16% is a 20% fall). In units of the market's own
    /// volatility, so one setting fits a quiet index and a volatile one.
    pub crisis_drawdown: f64,
}

impl Default for RegimeConfig {
    fn default() -> Self {
        Self {
            mixture_features: ["ret_21", "ln_vol_5", "ln_vol_21", "ln_dispersion_5"]
                .map(str::to_owned)
                .to_vec(),
            refit: Refit::Monthly,
            min_fit_days: 252,
            min_states: 2,
            max_states: 3,
            restarts: 3,
            seed: 7,
            tolerance: 1e-3,
            max_iterations: 200,
            reg_covariance: 1e-6,
            min_duration: 5,
            switch_probability: 0.8,
            change_horizon: 21,
            cross_section_min_members: 3,
            risk_off_vol_ratio: 1.25,
            crisis_vol_ratio: 2.2,
            crisis_drawdown: 1.25,
        }
    }
}

impl EngineConfig for RegimeConfig {
    const ENGINE: &'static str = "regime";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::choice("refit", &["weekly", "monthly", "quarterly"]),
        Tunable::number("min_duration", 1.0, 15.0, Step::Integer(2)),
        Tunable::number("switch_probability", 0.6, 0.95, Step::Absolute(0.05)),
        Tunable::number("max_states", 2.0, 4.0, Step::Integer(1)),
    ];

    fn validate(&self, issues: &mut Issues) {
        issues.check(self.mixture_features.is_empty(), "mixture_features", || {
            "must list at least one feature".into()
        });
        for name in &self.mixture_features {
            issues.check(
                !BASE_FEATURES.contains(&name.as_str()) && !CROSS_FEATURES.contains(&name.as_str()),
                "mixture_features",
                || {
                    format!(
                        "unknown feature {name:?}; use any of {:?} and {:?}",
                        BASE_FEATURES, CROSS_FEATURES
                    )
                },
            );
        }
        issues.check(
            !(63..=100_000).contains(&self.min_fit_days),
            "min_fit_days",
            || {
                format!(
                    "{} is out of range; use 63..=100000 feature days",
                    self.min_fit_days
                )
            },
        );
        issues.check(!(1..=8).contains(&self.min_states), "min_states", || {
            format!("{} is out of range; use 1..=8", self.min_states)
        });
        issues.check(
            !(self.min_states..=8).contains(&self.max_states),
            "max_states",
            || {
                format!(
                    "{} is out of range; use min_states ({})..=8",
                    self.max_states, self.min_states
                )
            },
        );
        issues.check(!(1..=50).contains(&self.restarts), "restarts", || {
            format!("{} is out of range; use 1..=50", self.restarts)
        });
        issues.check(
            !(self.tolerance.is_finite() && self.tolerance > 0.0),
            "tolerance",
            || format!("{} must be a positive number", self.tolerance),
        );
        issues.check(
            !(10..=10_000).contains(&self.max_iterations),
            "max_iterations",
            || format!("{} is out of range; use 10..=10000", self.max_iterations),
        );
        issues.check(
            !(self.reg_covariance.is_finite() && self.reg_covariance > 0.0),
            "reg_covariance",
            || format!("{} must be a positive number", self.reg_covariance),
        );
        issues.check(
            !(1..=63).contains(&self.min_duration),
            "min_duration",
            || format!("{} is out of range; use 1..=63 days", self.min_duration),
        );
        issues.check(
            !(0.5..=1.0).contains(&self.switch_probability),
            "switch_probability",
            || format!("{} is out of range; use 0.5..=1", self.switch_probability),
        );
        issues.check(
            !(1..=252).contains(&self.change_horizon),
            "change_horizon",
            || format!("{} is out of range; use 1..=252 days", self.change_horizon),
        );
        issues.check(
            self.cross_section_min_members < 2,
            "cross_section_min_members",
            || {
                format!(
                    "{} is too small; correlation needs at least 2",
                    self.cross_section_min_members
                )
            },
        );
        issues.check(
            !(self.risk_off_vol_ratio.is_finite() && self.risk_off_vol_ratio > 1.0),
            "risk_off_vol_ratio",
            || format!("{} must be a number > 1", self.risk_off_vol_ratio),
        );
        issues.check(
            !(self.crisis_vol_ratio.is_finite()
                && self.crisis_vol_ratio >= self.risk_off_vol_ratio),
            "crisis_vol_ratio",
            || {
                format!(
                    "{} must be a number ≥ risk_off_vol_ratio ({})",
                    self.crisis_vol_ratio, self.risk_off_vol_ratio
                )
            },
        );
        issues.check(
            !(self.crisis_drawdown.is_finite() && self.crisis_drawdown > 0.0),
            "crisis_drawdown",
            || {
                format!(
                    "{} must be a positive number (median annual volatilities below the peak)",
                    self.crisis_drawdown
                )
            },
        );
    }
}

/// Why the regime engine produced nothing.
#[derive(Debug, thiserror::Error)]
pub enum RegimeError {
    /// Too little history before the anchor.
    #[error("{have} feature days on or before {anchor}, the first fit needs {need}")]
    NotEnoughData {
        /// Feature days available.
        have: usize,
        /// Configured warm-up.
        need: usize,
        /// The refit anchor.
        anchor: NaiveDate,
    },
    /// Every restart of every state count failed.
    #[error("no Gaussian mixture could be fitted at {anchor}: {why}")]
    Fit {
        /// The refit anchor.
        anchor: NaiveDate,
        /// The last failure.
        why: String,
    },
    /// The date has no feature row (not a session of the market, or too early).
    #[error("no market features on {0}: not a session with 63 days of history")]
    NoFeatures(NaiveDate),
    /// A stored model failed to parse.
    #[error("stored regime model is unreadable: {0}")]
    BadModel(String),
}

/// The market's daily inputs: the equal-weighted one-day return and, when known, the mean
/// squared return of its members and their count.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MarketSeries {
    /// Sessions, ascending.
    pub dates: Vec<NaiveDate>,
    /// `MKT:m` on each session.
    pub market: Vec<f64>,
    /// `XS2:m` on each session (NaN when unknown).
    pub second_moment: Vec<f64>,
    /// Members behind `XS2:m` (0 when unknown).
    pub members: Vec<u32>,
}

impl MarketSeries {
    /// The market factor and its second moment from instruments' bars, computed exactly as
    /// the derive job computes `MKT:m` and `XS2:m` (for benchmarks and in-memory replays).
    pub fn from_bars(series: &[crate::domain::InstrumentSeries]) -> Self {
        use crate::derived::{FactorMembership, factor_values};
        let mut one_day = Vec::new();
        for s in series {
            for w in s.bars.windows(2) {
                one_day.push(crate::domain::ReturnValue {
                    instrument_id: s.instrument_id.clone(),
                    trade_date: w[1].trade_date,
                    horizon_days: 1,
                    value: w[1].adj_close / w[0].adj_close - 1.0,
                });
            }
        }
        one_day.sort_by(|a, b| {
            (a.trade_date, &a.instrument_id).cmp(&(b.trade_date, &b.instrument_id))
        });
        let membership = FactorMembership {
            of: series
                .iter()
                .map(|s| (s.instrument_id.clone(), vec!["MKT:m".to_owned()]))
                .collect(),
        };
        let mut out = Self::default();
        for v in factor_values(&one_day, &membership) {
            if v.factor_id == "MKT:m" {
                out.dates.push(v.trade_date);
                out.market.push(v.value);
            } else {
                out.second_moment.push(v.value);
                out.members.push(v.members);
            }
        }
        out
    }

    /// The prefix of sessions on or before `as_of`.
    pub fn through(&self, as_of: NaiveDate) -> Self {
        let n = self.dates.partition_point(|d| *d <= as_of);
        Self {
            dates: self.dates[..n].to_vec(),
            market: self.market[..n].to_vec(),
            second_moment: self.second_moment[..n].to_vec(),
            members: self.members[..n].to_vec(),
        }
    }
}

/// Names of the base and cross-sectional features, in matrix column order.
pub const BASE_FEATURES: [&str; 6] = [
    "ret_21",
    "ln_vol_5",
    "ln_vol_21",
    "ln_vol_63",
    "drawdown",
    "trend",
];
/// Added when every day has enough members.
pub const CROSS_FEATURES: [&str; 2] = ["ln_dispersion_5", "avg_correlation_63"];

/// Width of the logistic steps on log-volatility: a day 10% above or below a volatility
/// threshold is ~73% on its side.
pub const LOG_VOL_STEP: f64 = 0.1;
/// Width of the step on drawdown (a fraction of the peak): two points.
pub const DRAWDOWN_STEP: f64 = 0.02;
/// Width of the step on trend (the level over its 63-day average, minus one): one point.
pub const TREND_STEP: f64 = 0.01;

/// Features on a log-volatility scale; they name the states.
const VOLATILITY_FEATURES: [&str; 4] = ["ln_vol_5", "ln_vol_21", "ln_vol_63", "ln_dispersion_5"];

/// Days of history before the first feature row.
const FEATURE_LAG: usize = 63;

/// The feature matrix: one row per session from the 64th on.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketFeatures {
    /// The row dates.
    pub dates: Vec<NaiveDate>,
    /// Column names.
    pub names: Vec<&'static str>,
    /// Row-major `dates × names`.
    pub values: Vec<f64>,
}

impl MarketFeatures {
    /// The columns named in `names` that this matrix has, in that order.
    pub fn select(&self, names: &[String]) -> Self {
        let cols: Vec<usize> = names
            .iter()
            .filter_map(|n| self.names.iter().position(|m| m == n))
            .collect();
        let mut values = Vec::with_capacity(self.dates.len() * cols.len());
        for t in 0..self.dates.len() {
            let row = self.row(t);
            values.extend(cols.iter().map(|&c| row[c]));
        }
        Self {
            dates: self.dates.clone(),
            names: cols.iter().map(|&c| self.names[c]).collect(),
            values,
        }
    }

    /// The median of column `c` over the first `upto` rows (the upper one of an even count;
    /// `None` without rows): the fit window's reference level.
    pub fn column_median(&self, c: usize, upto: usize) -> Option<f64> {
        let mut v: Vec<f64> = (0..upto.min(self.dates.len()))
            .map(|t| self.row(t)[c])
            .collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    }

    /// Row `t`.
    pub fn row(&self, t: usize) -> &[f64] {
        let d = self.names.len();
        &self.values[t * d..(t + 1) * d]
    }

    /// Computes the features of every session with 63 days of history. Cross-sectional
    /// columns are included when every session has at least `min_members` members.
    pub fn compute(s: &MarketSeries, min_members: u32) -> Self {
        let n = s.dates.len();
        let cross = n > 0
            && s.members.iter().all(|m| *m >= min_members)
            && s.second_moment.iter().all(|v| v.is_finite());
        let mut names: Vec<&'static str> = BASE_FEATURES.to_vec();
        if cross {
            names.extend(CROSS_FEATURES);
        }
        let ann = 252f64.sqrt();
        // Index level, log returns and their prefix sums.
        let mut level = Vec::with_capacity(n);
        let mut acc = 1.0;
        for r in &s.market {
            acc *= 1.0 + r;
            level.push(acc);
        }
        let logr: Vec<f64> = s.market.iter().map(|r| (1.0 + r).ln()).collect();
        let prefix = |v: &[f64]| {
            let mut p = Vec::with_capacity(v.len() + 1);
            p.push(0.0);
            let mut a = 0.0;
            for x in v {
                a += x;
                p.push(a);
            }
            p
        };
        let p_log = prefix(&logr);
        let p_r = prefix(&s.market);
        let r2: Vec<f64> = s.market.iter().map(|r| r * r).collect();
        let p_r2 = prefix(&r2);
        let p_lvl = prefix(&level);
        let disp: Vec<f64> = (0..n)
            .map(|t| {
                let m = f64::from(s.members[t].max(2));
                ((s.second_moment[t] - r2[t]).max(0.0) * m / (m - 1.0)).sqrt()
            })
            .collect();
        let p_disp = prefix(&disp);
        let p_xs2 = prefix(&s.second_moment);
        let p_mem = prefix(&s.members.iter().map(|m| f64::from(*m)).collect::<Vec<_>>());
        let vol = |t: usize, w: usize| {
            let (a, b) = (t + 1 - w, t + 1);
            let wf = w as f64;
            let mean = (p_r[b] - p_r[a]) / wf;
            let var = ((p_r2[b] - p_r2[a]) - wf * mean * mean) / (wf - 1.0);
            var.max(1e-16).sqrt() * ann
        };
        let mut values = Vec::with_capacity(n.saturating_sub(FEATURE_LAG) * names.len());
        let mut dates = Vec::new();
        // Running 252-day maximum of the level (monotone deque).
        let mut window: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
        for t in 0..n {
            while window.back().is_some_and(|&j| level[j] <= level[t]) {
                window.pop_back();
            }
            window.push_back(t);
            while window.front().is_some_and(|&j| j + 252 <= t) {
                window.pop_front();
            }
            if t < FEATURE_LAG {
                continue;
            }
            let peak = window.front().map_or(level[t], |&j| level[j]);
            let ma63 = (p_lvl[t + 1] - p_lvl[t + 1 - 63]) / 63.0;
            dates.push(s.dates[t]);
            values.push(p_log[t + 1] - p_log[t + 1 - 21]);
            values.push(vol(t, 5).ln());
            values.push(vol(t, 21).ln());
            values.push(vol(t, 63).ln());
            values.push(level[t] / peak - 1.0);
            values.push(level[t] / ma63 - 1.0);
            if cross {
                let d5 = (p_disp[t + 1] - p_disp[t + 1 - 5]) / 5.0;
                values.push(d5.max(1e-12).ln());
                let (a, b) = (t + 1 - 63, t + 1);
                let s_m = (p_r2[b] - p_r2[a]) / 63.0;
                let v = (p_xs2[b] - p_xs2[a]) / 63.0;
                let m = ((p_mem[b] - p_mem[a]) / 63.0).max(2.0);
                let rho = if v > 0.0 {
                    (s_m - v / m) / (v * (m - 1.0) / m)
                } else {
                    0.0
                };
                values.push(rho.clamp(-1.0, 1.0));
            }
        }
        Self {
            dates,
            names,
            values,
        }
    }
}

/// A fitted regime model: standardisation, mixture, state names and transition counts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegimeModel {
    /// Content hash id (`regime-gmm-…`).
    pub model_id: String,
    /// The last feature date the fit saw.
    pub anchor: NaiveDate,
    /// Feature days in the fit.
    pub fit_days: usize,
    /// The mixture's features (columns).
    pub features: Vec<String>,
    /// Per-feature mean and standard deviation of the fit window.
    pub center: Vec<f64>,
    /// See `center`.
    pub scale: Vec<f64>,
    /// Mixture weights.
    pub weights: Vec<f64>,
    /// Component means (`states × features`, standardised).
    pub means: Vec<Vec<f64>>,
    /// Component covariances (`states × features × features`, standardised).
    pub covariances: Vec<Vec<Vec<f64>>>,
    /// Whether each component is a stressed state (its days are RISK_OFF or CRISIS).
    pub stressed: Vec<bool>,
    /// The fit window's median annualised 21-day volatility: the unit of the CRISIS and
    /// CARRY thresholds.
    pub median_vol: f64,
    /// Component transition counts from the fit window (`from × to`, self-transitions
    /// included).
    pub transition_counts: Vec<Vec<u64>>,
    /// Mean log-likelihood per day of the chosen mixture.
    pub log_likelihood: f64,
    /// BIC of every state count tried (`(states, bic)`).
    pub bic: Vec<(usize, f64)>,
}

/// The first `upto` rows standardised by their own per-column mean and sample standard
/// deviation (1 for a constant column): `(row-major data, center, scale)`, what the mixture
/// is fitted on.
pub fn standardised(f: &MarketFeatures, upto: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let d = f.names.len();
    let mut center = vec![0.0; d];
    let mut scale = vec![0.0; d];
    for j in 0..d {
        let mean = (0..upto).map(|t| f.row(t)[j]).sum::<f64>() / upto as f64;
        let var =
            (0..upto).map(|t| (f.row(t)[j] - mean).powi(2)).sum::<f64>() / (upto as f64 - 1.0);
        center[j] = mean;
        scale[j] = if var > 1e-24 { var.sqrt() } else { 1.0 };
    }
    let mut data = Vec::with_capacity(upto * d);
    for t in 0..upto {
        for (j, x) in f.row(t).iter().enumerate() {
            data.push((x - center[j]) / scale[j]);
        }
    }
    (data, center, scale)
}

/// The keys that only decode a fitted model or choose when to refit it: two configs that
/// differ in nothing else fit the same mixture at the same anchor date, so they share their
/// stored fits (a Kronos search over these keys does not refit 120 mixtures per candidate).
const DECODING_KEYS: [&str; 6] = [
    "refit",
    "min_duration",
    "switch_probability",
    "change_horizon",
    "crisis_vol_ratio",
    "crisis_drawdown",
];

/// The layout of [`RegimeModel`], hashed into [`RegimeConfig::fit_id`]: a stored fit of an
/// older layout is never read as this one.
const MODEL_LAYOUT: u32 = 2;

impl RegimeConfig {
    /// The id the fitted models of this config are stored under: `regime-fit-` and a hash
    /// of every key but the decoding ones ([`DECODING_KEYS`]) — the fit at an anchor depends
    /// on the data up to it and on these keys only.
    pub fn fit_id(&self) -> crate::domain::ConfigId {
        let mut body = serde_json::to_value(self).unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(m) = &mut body {
            for k in DECODING_KEYS {
                m.remove(k);
            }
            m.insert("model_layout".into(), MODEL_LAYOUT.into());
        }
        let text = crate::config::canonical_json(&body).unwrap_or_default();
        crate::domain::ConfigId::new(format!("regime-fit-{}", crate::config::content_hash(&text)))
    }

    /// Fits the model on the features dated on or before `anchor`.
    ///
    /// # Errors
    /// [`RegimeError::NotEnoughData`] before the warm-up; [`RegimeError::Fit`] when no
    /// mixture converges.
    pub fn fit(&self, all: &MarketFeatures, anchor: NaiveDate) -> Result<RegimeModel, RegimeError> {
        let f = &all.select(&self.mixture_features);
        let upto = f.dates.partition_point(|d| *d <= anchor);
        if upto < self.min_fit_days {
            return Err(RegimeError::NotEnoughData {
                have: upto,
                need: self.min_fit_days,
                anchor,
            });
        }
        let d = f.names.len();
        let (data, center, scale) = standardised(f, upto);
        let mut bic = Vec::new();
        let mut best: Option<(f64, Mixture)> = None;
        let mut last_err = String::new();
        for states in self.min_states..=self.max_states {
            let settings = MixtureSettings {
                states,
                restarts: self.restarts,
                seed: self.seed,
                tolerance: self.tolerance,
                max_iterations: self.max_iterations,
                reg_covariance: self.reg_covariance,
            };
            match fit_mixture(&data, d, &settings) {
                Ok(m) => {
                    let b = -2.0 * m.log_likelihood * upto as f64
                        + m.parameters() as f64 * (upto as f64).ln();
                    bic.push((states, b));
                    if best.as_ref().is_none_or(|(bb, _)| b < *bb) {
                        best = Some((b, m));
                    }
                }
                Err(e) => last_err = format!("{states} states: {e}"),
            }
        }
        let Some((_, mix)) = best else {
            return Err(RegimeError::Fit {
                anchor,
                why: last_err,
            });
        };
        let stressed = self.stressed_states(&mix, &center, &scale, f, upto);
        let median_vol = all
            .column_median(LabelColumns::of(all)?.ln_vol_21, upto)
            .map_or(f64::NAN, f64::exp);
        let dens = mix.densities().ok_or_else(|| RegimeError::Fit {
            anchor,
            why: "covariance not positive definite".into(),
        })?;
        // Hard state sequence of the fit window, counted with self-transitions.
        let k = mix.weights.len();
        let mut counts = vec![vec![0u64; k]; k];
        let mut z = vec![0.0; d];
        let mut prev: Option<usize> = None;
        for t in 0..upto {
            let x = &data[t * d..(t + 1) * d];
            let s = argmax(
                &dens
                    .iter()
                    .map(|c| c.weighted_log_pdf(x, &mut z))
                    .collect::<Vec<_>>(),
            );
            if let Some(p) = prev {
                counts[p][s] += 1;
            }
            prev = Some(s);
        }
        let mut model = RegimeModel {
            model_id: String::new(),
            anchor,
            fit_days: upto,
            features: f.names.iter().map(|s| (*s).to_owned()).collect(),
            center,
            scale,
            weights: mix.weights,
            means: mix.means,
            covariances: mix.covariances,
            stressed,
            median_vol,
            transition_counts: counts,
            log_likelihood: mix.log_likelihood,
            bic,
        };
        model.model_id = model.content_id();
        Ok(model)
    }

    /// Which components are stressed states: those whose stress ratio — the geometric mean,
    /// over the volatility features the mixture saw (market volatility, cross-sectional
    /// dispersion), of the component's level over the fit window's median — is at least
    /// `risk_off_vol_ratio`. Without a volatility feature no state is stressed.
    fn stressed_states(
        &self,
        mix: &Mixture,
        center: &[f64],
        scale: &[f64],
        f: &MarketFeatures,
        fit_days: usize,
    ) -> Vec<bool> {
        let col = |name: &str| f.names.iter().position(|n| *n == name);
        let k = mix.weights.len();
        let raw = |i: usize, c: usize| mix.means[i][c] * scale[c] + center[c];
        let vol_cols: Vec<usize> = VOLATILITY_FEATURES.iter().filter_map(|n| col(n)).collect();
        if vol_cols.is_empty() {
            return vec![false; k];
        }
        let medians: Vec<f64> = vol_cols
            .iter()
            .map(|&c| f.column_median(c, fit_days).unwrap_or(0.0))
            .collect();
        (0..k)
            .map(|i| {
                let excess: f64 = vol_cols
                    .iter()
                    .zip(&medians)
                    .map(|(&c, m)| raw(i, c) - m)
                    .sum();
                (excess / vol_cols.len() as f64).exp() >= self.risk_off_vol_ratio
            })
            .collect()
    }
}

/// The columns of the full feature matrix the labels read.
struct LabelColumns {
    ln_vol_21: usize,
    drawdown: usize,
    trend: usize,
}

impl LabelColumns {
    fn of(f: &MarketFeatures) -> Result<Self, RegimeError> {
        let col = |name: &str| {
            f.names
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| RegimeError::BadModel(format!("the market features have no {name}")))
        };
        Ok(Self {
            ln_vol_21: col("ln_vol_21")?,
            drawdown: col("drawdown")?,
            trend: col("trend")?,
        })
    }
}

/// The most probable label of the more probable side: stressed (CRISIS, RISK_OFF) against
/// calm (NEUTRAL, CARRY), then within it — so a day the mixture calls stressed is never
/// labelled calm because its stressed mass is split between two labels.
fn raw_label(probs: &[f64; 4]) -> RegimeLabel {
    use RegimeLabel::{Carry, Crisis, Neutral, RiskOff};
    let stressed = side_mass(probs, Crisis);
    let calm = side_mass(probs, Carry);
    let pick = |a: RegimeLabel, b: RegimeLabel| {
        if probs[a.index()] >= probs[b.index()] {
            a
        } else {
            b
        }
    };
    if stressed > calm {
        pick(Crisis, RiskOff)
    } else {
        pick(Carry, Neutral)
    }
}

/// The probability of `label`'s side (stressed or calm).
fn side_mass(probs: &[f64; 4], label: RegimeLabel) -> f64 {
    RegimeLabel::ALL
        .into_iter()
        .filter(|l| l.is_stressed() == label.is_stressed())
        .map(|l| probs[l.index()])
        .sum()
}

fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The day's label probabilities ([`RegimeLabel::ALL`] order) from its stressed
/// probability and its features (the module's definitions).
fn label_probabilities(
    stressed: f64,
    row: &[f64],
    cols: &LabelColumns,
    median_vol: f64,
    cfg: &RegimeConfig,
) -> [f64; 4] {
    let ln_vol = row[cols.ln_vol_21];
    let ln_median = median_vol.ln();
    let crisis = logistic((ln_vol - ln_median - cfg.crisis_vol_ratio.ln()) / LOG_VOL_STEP)
        * logistic((-row[cols.drawdown] - cfg.crisis_drawdown * median_vol) / DRAWDOWN_STEP);
    let carry = logistic(row[cols.trend] / TREND_STEP)
        * logistic((ln_median + cfg.risk_off_vol_ratio.ln() - ln_vol) / LOG_VOL_STEP);
    [
        stressed * crisis,
        stressed * (1.0 - crisis),
        (1.0 - stressed) * (1.0 - carry),
        (1.0 - stressed) * carry,
    ]
}

fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, x) in v.iter().enumerate() {
        if *x > v[best] {
            best = i;
        }
    }
    best
}

/// The expected duration reported for a state that never ended in its fit window: a
/// finite number, so that every stored day round-trips through JSON.
pub const MAX_EXPECTED_DURATION: f64 = 1.0e6;

/// The regime engine's view of one day.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegimeDay {
    /// The session.
    pub date: NaiveDate,
    /// The model used (fitted at the date's anchor).
    pub model_id: String,
    /// Filtered probability of each label, in [`RegimeLabel::ALL`] order.
    pub probabilities: [f64; 4],
    /// The most probable label that day.
    pub raw_label: RegimeLabel,
    /// The label after minimum-duration smoothing.
    pub label: RegimeLabel,
    /// Sessions the smoothed label has held, this day included.
    pub days_in_regime: u32,
    /// Probability the smoothed label differs `change_horizon` days ahead.
    pub change_risk: f64,
    /// Expected remaining sessions in the label from its persistence (at most
    /// [`MAX_EXPECTED_DURATION`]: a state that never ended in the fit window).
    pub expected_duration: f64,
    /// Every known market feature of the day (not only those the mixture uses).
    pub features: std::collections::BTreeMap<String, f64>,
}

impl RegimeModel {
    /// `regime-gmm-<16 hex>` over the model's JSON without its id.
    fn content_id(&self) -> String {
        let body = serde_json::to_string(&Self {
            model_id: String::new(),
            ..self.clone()
        })
        .unwrap_or_default();
        let h = Sha256::digest(body.as_bytes());
        let hex: String = h[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("regime-gmm-{hex}")
    }

    /// Row-normalised component transition matrix (counts plus one for every cell).
    pub fn transition(&self) -> Vec<Vec<f64>> {
        self.transition_counts
            .iter()
            .map(|row| {
                let total: f64 = row.iter().map(|c| *c as f64 + 1.0).sum();
                row.iter().map(|c| (*c as f64 + 1.0) / total).collect()
            })
            .collect()
    }

    /// Runs the forward filter over every feature row from the first to `through`, and
    /// returns the days dated on or after `from` (nothing after `through` is read).
    ///
    /// # Errors
    /// [`RegimeError::BadModel`] when the features or covariances do not fit the model.
    pub fn filter(
        &self,
        f: &MarketFeatures,
        from: NaiveDate,
        through: NaiveDate,
        cfg: &RegimeConfig,
    ) -> Result<Vec<RegimeDay>, RegimeError> {
        Ok(self.decode(f, from, through, cfg)?.days)
    }

    /// [`RegimeModel::filter`], with the label transitions of the fit window's labelled
    /// days that the change risk is computed from.
    ///
    /// # Errors
    /// See [`RegimeModel::filter`].
    pub fn decode(
        &self,
        f: &MarketFeatures,
        from: NaiveDate,
        through: NaiveDate,
        cfg: &RegimeConfig,
    ) -> Result<Decoded, RegimeError> {
        let all = f;
        let cols = LabelColumns::of(all)?;
        let f = &all.select(&self.features);
        if f.names.len() != self.features.len()
            || f.names.iter().zip(&self.features).any(|(a, b)| a != b)
        {
            return Err(RegimeError::BadModel(format!(
                "model {} has features {:?}, the market has {:?}",
                self.model_id, self.features, f.names
            )));
        }
        let k = self.weights.len();
        let d = self.features.len();
        let dens: Vec<Density> = (0..k)
            .map(|i| Density::new(1.0, &self.means[i], &self.covariances[i]))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                RegimeError::BadModel(format!("{}: covariance not positive", self.model_id))
            })?;
        let a = self.transition();
        let upto = f.dates.partition_point(|x| *x <= through);
        let fit_rows = f.dates.partition_point(|x| *x <= self.anchor).min(upto);
        // Pass 1: each row's label probabilities, raw and smoothed label.
        let mut rows: Vec<([f64; 4], RegimeLabel, RegimeLabel, u32)> = Vec::with_capacity(upto);
        let mut alpha: Vec<f64> = self.weights.clone();
        let mut z = vec![0.0; d];
        let mut x = vec![0.0; d];
        let mut lp = vec![0.0; k];
        let mut label: Option<RegimeLabel> = None;
        let mut held = 0u32;
        let mut challenger: Option<(RegimeLabel, usize)> = None;
        for t in 0..upto {
            for (j, v) in f.row(t).iter().enumerate() {
                x[j] = (v - self.center[j]) / self.scale[j];
            }
            // Predict with the transition matrix (the first day uses the weights), then
            // update with the day's densities.
            let prior: Vec<f64> = if t == 0 {
                alpha.clone()
            } else {
                (0..k)
                    .map(|j| (0..k).map(|i| alpha[i] * a[i][j]).sum())
                    .collect()
            };
            for i in 0..k {
                lp[i] = prior[i].max(1e-300).ln() + dens[i].weighted_log_pdf(&x, &mut z);
            }
            let norm = log_sum_exp(&lp);
            for i in 0..k {
                alpha[i] = (lp[i] - norm).exp();
            }
            let stressed: f64 = (0..k).filter(|i| self.stressed[*i]).map(|i| alpha[i]).sum();
            let probs =
                label_probabilities(stressed.min(1.0), all.row(t), &cols, self.median_vol, cfg);
            let raw = raw_label(&probs);
            match label {
                None => {
                    label = Some(raw);
                    held = 1;
                }
                Some(cur) if cur == raw => {
                    challenger = None;
                    held += 1;
                }
                Some(cur) => {
                    let run = match challenger {
                        Some((c, n)) if c == raw => n + 1,
                        _ => 1,
                    };
                    // Crossing between stressed and calm is as sure as the side's mass;
                    // within a side, as the label's own probability.
                    let sure = if raw.is_stressed() == cur.is_stressed() {
                        probs[raw.index()]
                    } else {
                        side_mass(&probs, raw)
                    };
                    if run >= cfg.min_duration || sure >= cfg.switch_probability {
                        label = Some(raw);
                        held = run as u32;
                        challenger = None;
                    } else {
                        challenger = Some((raw, run));
                        held += 1;
                    }
                }
            }
            rows.push((probs, raw, label.unwrap_or(raw), held));
        }
        // The label chain of the fit window (smoothed labels, consecutive days).
        let mut counts = [[0u64; 4]; 4];
        for w in rows[..fit_rows].windows(2) {
            counts[w[0].2.index()][w[1].2.index()] += 1;
        }
        let chain = label_chain(&counts);
        let ahead = mat_pow(&chain, cfg.change_horizon);
        let mut days = Vec::new();
        for (t, (probs, raw, cur, held)) in rows.into_iter().enumerate() {
            if f.dates[t] < from {
                continue;
            }
            let same: f64 = (0..4).map(|l| probs[l] * ahead[l][cur.index()]).sum();
            let stay = chain[cur.index()][cur.index()];
            days.push(RegimeDay {
                date: f.dates[t],
                model_id: self.model_id.clone(),
                probabilities: probs,
                raw_label: raw,
                label: cur,
                days_in_regime: held,
                change_risk: (1.0 - same).clamp(0.0, 1.0),
                expected_duration: if stay < 1.0 {
                    (1.0 / (1.0 - stay)).min(MAX_EXPECTED_DURATION)
                } else {
                    MAX_EXPECTED_DURATION
                },
                // Unknown features (NaN: no cross-section that day) are left out.
                features: all
                    .names
                    .iter()
                    .zip(all.row(t))
                    .filter(|(_, v)| v.is_finite())
                    .map(|(n, v)| ((*n).to_owned(), *v))
                    .collect(),
            });
        }
        Ok(Decoded {
            days,
            label_transitions: counts,
        })
    }
}

/// Pseudo-days of the label chain's prior, per label.
const CHAIN_PRIOR_DAYS: f64 = 4.0;

/// The label transition matrix from the fit window's counts, each row shrunk towards its
/// side's persistence: a label's prior stays with the probability that stress (or calm) in
/// general persisted in the window, and spreads the rest over the other labels. A label the
/// window never saw — the first CRISIS of a history — so lasts as stress has lasted, instead
/// of being given a coin toss among four labels (a change risk of ~1 on its first day).
fn label_chain(counts: &[[u64; 4]; 4]) -> Vec<Vec<f64>> {
    let side_stay = |stressed: bool| {
        let (mut stay, mut all) = (0u64, 0u64);
        for from in RegimeLabel::ALL
            .into_iter()
            .filter(|l| l.is_stressed() == stressed)
        {
            for to in RegimeLabel::ALL {
                all += counts[from.index()][to.index()];
                if to.is_stressed() == stressed {
                    stay += counts[from.index()][to.index()];
                }
            }
        }
        if all == 0 {
            0.5
        } else {
            stay as f64 / all as f64
        }
    };
    RegimeLabel::ALL
        .into_iter()
        .map(|from| {
            let stay = side_stay(from.is_stressed());
            let row = &counts[from.index()];
            let total = row.iter().sum::<u64>() as f64 + CHAIN_PRIOR_DAYS;
            RegimeLabel::ALL
                .into_iter()
                .map(|to| {
                    let prior = if to == from {
                        CHAIN_PRIOR_DAYS * stay
                    } else {
                        CHAIN_PRIOR_DAYS * (1.0 - stay) / 3.0
                    };
                    (row[to.index()] as f64 + prior) / total
                })
                .collect()
        })
        .collect()
}

/// What [`RegimeModel::decode`] returns.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// The days asked for.
    pub days: Vec<RegimeDay>,
    /// Transitions between the smoothed labels of consecutive fit-window days
    /// (`from × to`, [`RegimeLabel::ALL`] order): the chain behind the change risk.
    pub label_transitions: [[u64; 4]; 4],
}

fn mat_pow(a: &[Vec<f64>], n: usize) -> Vec<Vec<f64>> {
    let k = a.len();
    let mut out: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for _ in 0..n {
        out = (0..k)
            .map(|i| {
                (0..k)
                    .map(|j| (0..k).map(|m| out[i][m] * a[m][j]).sum())
                    .collect()
            })
            .collect();
    }
    out
}

/// Every day's regime over a whole series, each day from the model of its own refit anchor
/// — exactly what the daily engine reports day by day, computed in one pass per anchor.
/// Days before the first possible fit are left out.
///
/// # Errors
/// A fit that fails for a reason other than the warm-up.
pub fn regime_history(
    cfg: &RegimeConfig,
    s: &MarketSeries,
) -> Result<(Vec<RegimeDay>, Vec<RegimeModel>), RegimeError> {
    let f = MarketFeatures::compute(s, cfg.cross_section_min_members);
    let mut days = Vec::new();
    let mut models = Vec::new();
    let mut t = 0;
    while t < f.dates.len() {
        let anchor = cfg.refit.anchor(f.dates[t]);
        // The segment of days sharing this anchor.
        let end = t + f.dates[t..].partition_point(|d| cfg.refit.anchor(*d) == anchor);
        match cfg.fit(&f, anchor) {
            Ok(model) => {
                days.extend(model.filter(&f, f.dates[t], f.dates[end - 1], cfg)?);
                models.push(model);
            }
            Err(RegimeError::NotEnoughData { .. }) => {}
            Err(e) => return Err(e),
        }
        t = end;
    }
    Ok((days, models))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_that_differ_only_in_decoding_share_their_fits() {
        let base = RegimeConfig::default();
        let decoded = RegimeConfig {
            min_duration: base.min_duration + 2,
            switch_probability: 0.9,
            change_horizon: base.change_horizon + 5,
            refit: Refit::Weekly,
            ..base.clone()
        };
        assert_eq!(base.fit_id(), decoded.fit_id());
        assert_ne!(base.config_id(), decoded.config_id());
        let other = RegimeConfig {
            max_states: base.max_states + 1,
            ..base.clone()
        };
        assert_ne!(base.fit_id(), other.fit_id());
        assert!(base.fit_id().as_str().starts_with("regime-fit-"));
    }
    use crate::domain::MarketId;
    use crate::synthetic_market::{HiddenRegime, SyntheticMarketParams, generate};

    pub(crate) fn series_of(m: &crate::synthetic_market::SyntheticMarket) -> MarketSeries {
        MarketSeries::from_bars(&m.series)
    }

    fn market(years: usize, n: usize, seed: u64) -> crate::synthetic_market::SyntheticMarket {
        let p = SyntheticMarketParams::new(n, seed, MarketId::from("SYN"))
            .check()
            .unwrap();
        let start = NaiveDate::from_ymd_opt(2000, 1, 3).unwrap();
        let sessions: Vec<NaiveDate> =
            crate::synthetic_market::weekdays(start, start + chrono::Days::new(years as u64 * 366))
                .into_iter()
                .take(years * 252)
                .collect();
        generate(&p, &sessions)
    }

    fn agreement(days: &[RegimeDay], truth: &[(NaiveDate, HiddenRegime)], from: NaiveDate) -> f64 {
        let truth: std::collections::BTreeMap<_, _> = truth.iter().copied().collect();
        let scored: Vec<bool> = days
            .iter()
            .filter(|d| d.date >= from)
            .map(|d| d.label.is_stressed() == (truth[&d.date] != HiddenRegime::Calm))
            .collect();
        scored.iter().filter(|x| **x).count() as f64 / scored.len() as f64
    }

    #[test]
    fn filtered_labels_agree_with_the_hidden_regimes() {
        // Many instruments, and one index (the market factor alone, no cross-section).
        for (seed, index_only) in [(12, false), (11, false), (11, true), (13, true)] {
            let m = market(8, 40, seed);
            let mut s = series_of(&m);
            if index_only {
                s.second_moment.iter_mut().for_each(|v| *v = f64::NAN);
                s.members.iter_mut().for_each(|v| *v = 1);
            }
            let cfg = RegimeConfig::default();
            let (days, models) = regime_history(&cfg, &s).unwrap();
            let warm = s.dates[252 + FEATURE_LAG];
            let a = agreement(&days, &m.regime_path, warm);
            eprintln!("seed {seed}, index only {index_only}: agreement {a:.3}");
            assert!(
                a >= 0.85,
                "seed {seed}, index only {index_only}: agreement {a:.3}"
            );
            assert!(models.iter().all(|m| m.stressed.contains(&true)));
        }
    }

    #[test]
    fn a_day_depends_only_on_data_up_to_it() {
        let m = market(3, 12, 21);
        let s = series_of(&m);
        let cfg = RegimeConfig::default();
        let (full, _) = regime_history(&cfg, &s).unwrap();
        let cut = full[full.len() / 2].date;
        // Remove everything after the cut, or replace it with a crash.
        let (short, _) = regime_history(&cfg, &s.through(cut)).unwrap();
        let mut crashed = s.clone();
        for t in s.dates.partition_point(|d| *d <= cut)..s.dates.len() {
            crashed.market[t] = -0.2;
            crashed.second_moment[t] = 0.09;
        }
        let (altered, _) = regime_history(&cfg, &crashed).unwrap();
        let upto = |v: &[RegimeDay]| {
            v.iter()
                .filter(|d| d.date <= cut)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(upto(&full), short);
        assert_eq!(upto(&full), upto(&altered));
        assert_ne!(
            full, altered,
            "the crash after the cut does change later days"
        );
    }

    #[test]
    fn model_counts_persistence_and_probabilities_are_distributions() {
        let m = market(3, 12, 22);
        let s = series_of(&m);
        let cfg = RegimeConfig::default();
        let f = MarketFeatures::compute(&s, cfg.cross_section_min_members);
        let anchor = *f.dates.last().unwrap();
        let model = cfg.fit(&f, anchor).unwrap();
        // Deterministic, content-addressed.
        assert_eq!(model, cfg.fit(&f, anchor).unwrap());
        assert!(model.model_id.starts_with("regime-gmm-"));
        let total: u64 = model.transition_counts.iter().flatten().sum();
        assert_eq!(
            total as usize,
            model.fit_days - 1,
            "every consecutive pair counted"
        );
        let stays: u64 = (0..model.weights.len())
            .map(|i| model.transition_counts[i][i])
            .sum();
        assert!(
            stays * 10 > total * 8,
            "states persist: {stays} of {total} pairs stay"
        );
        for row in model.transition() {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        assert_eq!(model.bic.len(), cfg.max_states - cfg.min_states + 1);
        let decoded = model.decode(&f, f.dates[0], anchor, &cfg).unwrap();
        assert_eq!(
            decoded.label_transitions.iter().flatten().sum::<u64>(),
            total,
            "the label chain counts the same consecutive pairs"
        );
        let days = decoded.days;
        for d in &days {
            assert!((d.probabilities.iter().sum::<f64>() - 1.0).abs() < 1e-9);
            assert!((0.0..=1.0).contains(&d.change_risk));
            assert!(d.expected_duration >= 1.0);
            assert!(d.days_in_regime >= 1);
        }
        let json = serde_json::to_string(&model).unwrap();
        assert_eq!(serde_json::from_str::<RegimeModel>(&json).unwrap(), model);
    }

    #[test]
    fn an_unseen_label_persists_as_its_side_has() {
        // Calm days mostly stay calm; stress seen only as RISK_OFF, which lasted.
        let mut counts = [[0u64; 4]; 4];
        counts[RegimeLabel::Carry.index()][RegimeLabel::Carry.index()] = 900;
        counts[RegimeLabel::Carry.index()][RegimeLabel::RiskOff.index()] = 10;
        counts[RegimeLabel::RiskOff.index()][RegimeLabel::RiskOff.index()] = 90;
        counts[RegimeLabel::RiskOff.index()][RegimeLabel::Carry.index()] = 10;
        let chain = label_chain(&counts);
        for row in &chain {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let crisis = RegimeLabel::Crisis.index();
        // CRISIS, never seen: stays as stress stayed (0.9), not 1 in 4.
        assert!((chain[crisis][crisis] - 0.9).abs() < 1e-12);
        // A well-observed row hardly moves from its counts.
        let carry = RegimeLabel::Carry.index();
        assert!((chain[carry][carry] - 900.0 / 910.0).abs() < 0.005);
    }

    #[test]
    fn too_little_history_and_bad_configs_say_why() {
        let m = market(1, 5, 23);
        let s = series_of(&m);
        let cfg = RegimeConfig {
            min_fit_days: 400,
            ..RegimeConfig::default()
        };
        let f = MarketFeatures::compute(&s, 3);
        let e = cfg.fit(&f, *f.dates.last().unwrap()).unwrap_err();
        assert!(
            matches!(e, RegimeError::NotEnoughData { need: 400, .. }),
            "{e}"
        );
        let bad = RegimeConfig {
            mixture_features: vec!["vibes".into()],
            min_states: 3,
            max_states: 2,
            crisis_vol_ratio: 1.1,
            crisis_drawdown: -1.0,
            ..RegimeConfig::default()
        };
        let mut issues = Issues::new();
        bad.validate(&mut issues);
        let text = format!("{issues:?}");
        for key in [
            "mixture_features",
            "max_states",
            "crisis_vol_ratio",
            "crisis_drawdown",
        ] {
            assert!(text.contains(key), "{key} reported: {text}");
        }
    }
}

//! Fragility alpha: which weak names would lose most in the scenarios we can imagine, and
//! how to short them.
//!
//! Each instrument's expected shortfall across the current synthetic scenario set (the mean
//! of its worst path returns) is mapped to [0,1] and blended with its soft-target score into
//! a fragility score; the class follows fixed cut-offs, and SHORT_CANDIDATE and CRISIS names
//! get a short template sized so that the scenario ES spends a fixed risk budget.

use crate::config::tunable::{Step, Tunable};
use serde::{Deserialize, Serialize};

use crate::config::{EngineConfig, Issues};
use crate::engines::stability::StabilityRow;
use crate::profiles::Ramp;

/// Fragility classes, from none to acute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FragilityClass {
    /// Nothing to do.
    None,
    /// Watch it.
    Watchlist,
    /// A short candidate.
    ShortCandidate,
    /// Acute: breaking now.
    Crisis,
}

impl FragilityClass {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Watchlist => "WATCHLIST",
            Self::ShortCandidate => "SHORT_CANDIDATE",
            Self::Crisis => "CRISIS",
        }
    }
}

/// Configuration of the fragility engine (`config/engines/fragility.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FragilityConfig {
    /// Tail share of scenario paths averaged into the expected shortfall.
    pub es_level: f64,
    /// Expected shortfall (a loss fraction over the horizon) → [0,1].
    pub es_ramp: Ramp,
    /// Weight of the soft-target score (the rest is the scenario ES).
    pub soft_target_weight: f64,
    /// WATCHLIST from this score.
    pub watchlist: f64,
    /// SHORT_CANDIDATE from this score.
    pub short_candidate: f64,
    /// CRISIS from this score.
    pub crisis: f64,
    /// Portfolio loss (fraction of NAV) one short may cost at its scenario ES.
    pub risk_budget: f64,
    /// Largest short weight suggested.
    pub max_weight: f64,
}

impl Default for FragilityConfig {
    fn default() -> Self {
        Self {
            es_level: 0.05,
            es_ramp: Ramp {
                from: 0.05,
                to: 0.35,
            },
            soft_target_weight: 0.5,
            watchlist: 0.35,
            short_candidate: 0.55,
            crisis: 0.75,
            risk_budget: 0.005,
            max_weight: 0.02,
        }
    }
}

impl EngineConfig for FragilityConfig {
    const ENGINE: &'static str = "fragility";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::number("soft_target_weight", 0.2, 0.8, Step::Absolute(0.1)),
        Tunable::number("short_candidate", 0.45, 0.65, Step::Absolute(0.05)),
    ];

    fn validate(&self, issues: &mut Issues) {
        issues.check(
            !(self.es_level > 0.0 && self.es_level <= 0.5),
            "es_level",
            || format!("{} is out of range; use (0, 0.5]", self.es_level),
        );
        issues.check(
            !(self.es_ramp.from.is_finite()
                && self.es_ramp.to.is_finite()
                && self.es_ramp.from != self.es_ramp.to),
            "es_ramp",
            || "needs two different numbers".into(),
        );
        issues.check(
            !(0.0..=1.0).contains(&self.soft_target_weight),
            "soft_target_weight",
            || format!("{} is out of range; use 0..=1", self.soft_target_weight),
        );
        issues.check(
            !(0.0 < self.watchlist
                && self.watchlist < self.short_candidate
                && self.short_candidate < self.crisis
                && self.crisis <= 1.0),
            "watchlist",
            || {
                format!(
                    "watchlist {} < short_candidate {} < crisis {} ≤ 1 must increase",
                    self.watchlist, self.short_candidate, self.crisis
                )
            },
        );
        issues.check(
            !(self.risk_budget > 0.0 && self.risk_budget <= 0.1),
            "risk_budget",
            || format!("{} is out of range; use (0, 0.1]", self.risk_budget),
        );
        issues.check(
            !(self.max_weight > 0.0 && self.max_weight <= 0.2),
            "max_weight",
            || format!("{} is out of range; use (0, 0.2]", self.max_weight),
        );
    }
}

/// A suggested short.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShortTemplate {
    /// Fraction of NAV to short (a hint; the portfolio engine decides).
    pub weight_hint: f64,
    /// Days the thesis is expected to play out (the scenario horizon).
    pub horizon_days: usize,
    /// Cover if the name rises this much (its scenario ES, a symmetric stop).
    pub stop_loss: f64,
}

/// One instrument's fragility.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FragilityRow {
    /// The instrument.
    pub instrument_id: String,
    /// Expected shortfall across the scenario set (loss fraction, positive = loss).
    pub expected_shortfall: f64,
    /// Soft-target score it was blended with (0–100).
    pub soft_target_score: f64,
    /// In [0,1].
    pub fragility_score: f64,
    /// The class.
    pub class: FragilityClass,
    /// Present for SHORT_CANDIDATE and CRISIS.
    pub short: Option<ShortTemplate>,
}

impl FragilityConfig {
    /// The class of a score; a score equal to a cut-off belongs to the higher class.
    pub fn class(&self, score: f64) -> FragilityClass {
        if score >= self.crisis {
            FragilityClass::Crisis
        } else if score >= self.short_candidate {
            FragilityClass::ShortCandidate
        } else if score >= self.watchlist {
            FragilityClass::Watchlist
        } else {
            FragilityClass::None
        }
    }

    /// The expected shortfall of each column of `path_returns` (`paths × n`, row-major).
    pub fn expected_shortfalls(&self, path_returns: &[f64], n: usize) -> Vec<f64> {
        let paths = path_returns.len() / n.max(1);
        let tail = ((paths as f64 * self.es_level).ceil() as usize).clamp(1, paths.max(1));
        let mut col = Vec::with_capacity(paths);
        (0..n)
            .map(|i| {
                col.clear();
                col.extend((0..paths).map(|p| path_returns[p * n + i]));
                if col.is_empty() {
                    return f64::NAN;
                }
                col.select_nth_unstable_by(tail - 1, f64::total_cmp);
                -col[..tail].iter().sum::<f64>() / tail as f64
            })
            .collect()
    }

    /// One instrument's fragility from its stability row and scenario ES.
    pub fn assess(
        &self,
        s: &StabilityRow,
        expected_shortfall: f64,
        horizon: usize,
    ) -> FragilityRow {
        let es = self.es_ramp.apply(expected_shortfall).unwrap_or(0.0);
        let w = self.soft_target_weight;
        let score = (w * s.soft_target_score / 100.0 + (1.0 - w) * es).clamp(0.0, 1.0);
        let class = self.class(score);
        let short = (class >= FragilityClass::ShortCandidate).then(|| {
            let loss = expected_shortfall.max(1e-6);
            ShortTemplate {
                weight_hint: (self.risk_budget / loss).min(self.max_weight) * score,
                horizon_days: horizon,
                stop_loss: loss,
            }
        });
        FragilityRow {
            instrument_id: s.instrument_id.clone(),
            expected_shortfall,
            soft_target_score: s.soft_target_score,
            fragility_score: score,
            class,
            short,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::stability::{Components, SoftTargetClass};

    fn row(soft: f64) -> StabilityRow {
        StabilityRow {
            instrument_id: "X".into(),
            components: Components { values: [None; 6] },
            stability_score: 1.0 - soft / 100.0,
            soft_target_score: soft,
            class: SoftTargetClass::Stable,
            forecast_score: soft,
            forecast_class: SoftTargetClass::Stable,
        }
    }

    #[test]
    fn every_class_is_reachable_with_the_default_config() {
        let cfg = FragilityConfig::default();
        let mut seen = std::collections::BTreeSet::new();
        for soft in [0.0, 30.0, 60.0, 90.0, 100.0] {
            for es in [0.0, 0.1, 0.2, 0.3, 0.5] {
                let f = cfg.assess(&row(soft), es, 21);
                assert!((0.0..=1.0).contains(&f.fragility_score));
                assert_eq!(f.short.is_some(), f.class >= FragilityClass::ShortCandidate);
                if let Some(s) = &f.short {
                    assert!(s.weight_hint > 0.0 && s.weight_hint <= cfg.max_weight);
                }
                seen.insert(f.class);
            }
        }
        assert_eq!(seen.len(), 4, "{seen:?}");
        // Cut-offs are exact.
        assert_eq!(cfg.class(0.35), FragilityClass::Watchlist);
        assert_eq!(cfg.class(0.349_999), FragilityClass::None);
        assert_eq!(cfg.class(0.55), FragilityClass::ShortCandidate);
        assert_eq!(cfg.class(0.75), FragilityClass::Crisis);
    }

    #[test]
    fn expected_shortfall_averages_the_worst_paths() {
        let cfg = FragilityConfig {
            es_level: 0.2,
            ..FragilityConfig::default()
        };
        // 10 paths × 2 instruments: the first loses k% on path k, the second never moves.
        let paths: Vec<f64> = (0..10).flat_map(|k| [-(k as f64) / 100.0, 0.0]).collect();
        let es = cfg.expected_shortfalls(&paths, 2);
        assert!((es[0] - 0.085).abs() < 1e-12, "{es:?}");
        assert_eq!(es[1], 0.0);
    }
}

//! Kronos's own configuration (`config/engines/kronos.toml`): which DAG's jobs are the
//! decisions it logs, the horizons it measures them over, and how much evidence a slice
//! needs before it counts in a config's label.

use crate::config::{EngineConfig, Issues};
use crate::kronos::gates::GateConfig;
use serde::{Deserialize, Serialize};

/// The configuration of the Kronos actor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KronosConfig {
    /// The DAG whose successful engine jobs are logged as decisions (the daily engine
    /// chain; backtests and drills are experiments, not decisions).
    pub decision_dag: String,
    /// Sessions after a decision at which its outcome is measured (portfolio, regime,
    /// classes, universe). Forecasts are judged at their own horizon.
    pub horizons: Vec<u32>,
    /// Outcomes a slice needs to count in a config's label.
    pub min_outcomes: usize,
    /// Earlier horizon ends a day's run also measures when their outcomes are missing (days
    /// the daemon was down); the values are the same whenever they are computed.
    pub catch_up_sessions: u32,
    /// Candidates one weekly sweep proposes per engine, at most.
    pub max_sweep_candidates: usize,
    /// Propose the negative controls with every weekly search.
    pub negative_controls: bool,
    /// Sessions a candidate put in shadow runs beside the active config (unless the
    /// person starting it says otherwise).
    pub shadow_sessions: u32,
    /// How candidates are tried.
    pub experiments: ExperimentSettings,
    /// What a candidate must pass.
    pub gates: GateConfig,
    /// Whether candidates that passed may be promoted without a person.
    pub promotion: PromotionPolicy,
}

/// Auto-promotion (`[promotion]`): off by default, so every promotion is a person's
/// `approve`. When on, the daemon promotes, per engine and search, the passed sweep
/// candidate with the best in-sample Sharpe ratio. Only sweeps qualify: they move one
/// declared tunable key by one step inside its bounds and loosen no hard limit (both are
/// gates), so a policy can never take a config anywhere a person has not bounded.
/// Proposals from people are always left for a person; nothing is promoted while frozen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromotionPolicy {
    /// Promote passed sweep candidates without waiting for `approve`.
    pub auto: bool,
    /// The engines the policy may reconfigure (empty: every engine).
    pub engines: Vec<String>,
}

impl PromotionPolicy {
    /// Whether the policy may promote a sweep candidate of `engine`.
    pub fn covers(&self, engine: &str) -> bool {
        self.auto && (self.engines.is_empty() || self.engines.iter().any(|e| e == engine))
    }
}

/// The engines Kronos can propose configs for: the decision engines a strategy runs, in
/// the order of the daily chain.
pub const DECISION_ENGINES: [&str; 7] = [
    "regime",
    "stability",
    "scenarios",
    "fragility",
    "assessment",
    "universe",
    "portfolio",
];

/// How experiments run (`[experiments]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExperimentSettings {
    /// The strategy (under `config/strategies/`) whose engines, rebalancing and broker an
    /// experiment backtests.
    pub strategy: String,
    /// Months of the walk-forward period the search is judged on.
    pub in_sample_months: u32,
    /// Months after it that the search never sees (the holdout), ending on the search's
    /// date.
    pub holdout_months: u32,
    /// Seconds a worker's claim on an experiment lasts unless renewed (a dead worker's
    /// experiment is taken over after this).
    pub lease_secs: u64,
    /// Claims of one experiment before it is failed for good.
    pub max_attempts: u32,
    /// Whether the daemon runs experiments itself, in quiet windows (every market closed,
    /// no priority-1 job due within `lease_secs`).
    pub daemon_worker: bool,
    /// Seconds between the daemon worker's looks at the queue and the calendars.
    pub poll_secs: u64,
}

impl Default for ExperimentSettings {
    fn default() -> Self {
        Self {
            strategy: "core_long_eq".into(),
            in_sample_months: 96,
            holdout_months: 24,
            lease_secs: 600,
            max_attempts: 3,
            daemon_worker: true,
            poll_secs: 60,
        }
    }
}

impl Default for KronosConfig {
    fn default() -> Self {
        Self {
            decision_dag: "engines".into(),
            horizons: vec![1, 5, 21],
            min_outcomes: 20,
            catch_up_sessions: 10,
            max_sweep_candidates: 12,
            negative_controls: true,
            shadow_sessions: 10,
            experiments: ExperimentSettings::default(),
            gates: GateConfig::default(),
            promotion: PromotionPolicy::default(),
        }
    }
}

impl EngineConfig for KronosConfig {
    const ENGINE: &'static str = "kronos";

    fn validate(&self, issues: &mut Issues) {
        issues.check(self.decision_dag.trim().is_empty(), "decision_dag", || {
            "must name a DAG of dags.toml".into()
        });
        issues.check(
            self.horizons.is_empty() || self.horizons.iter().any(|h| *h == 0 || *h > 252),
            "horizons",
            || {
                format!(
                    "{:?} must be 1 to 252 sessions each, at least one",
                    self.horizons
                )
            },
        );
        let mut sorted = self.horizons.clone();
        sorted.sort_unstable();
        sorted.dedup();
        issues.check(sorted != self.horizons, "horizons", || {
            "must be ascending without repeats".into()
        });
        issues.check(self.min_outcomes == 0, "min_outcomes", || {
            "must be at least 1".into()
        });
        issues.check(self.catch_up_sessions > 252, "catch_up_sessions", || {
            format!("{} is more than a year of sessions", self.catch_up_sessions)
        });
        issues.check(
            self.max_sweep_candidates == 0 || self.max_sweep_candidates > 200,
            "max_sweep_candidates",
            || format!("{} must be 1 to 200", self.max_sweep_candidates),
        );
        issues.check(
            self.shadow_sessions == 0 || self.shadow_sessions > 252,
            "shadow_sessions",
            || format!("{} must be 1 to 252", self.shadow_sessions),
        );
        let e = &self.experiments;
        issues.check(e.strategy.trim().is_empty(), "experiments.strategy", || {
            "must name a strategy of config/strategies/".into()
        });
        issues.check(
            e.in_sample_months == 0 || e.in_sample_months > 600,
            "experiments.in_sample_months",
            || format!("{} must be 1 to 600", e.in_sample_months),
        );
        issues.check(
            e.holdout_months == 0 || e.holdout_months > 240,
            "experiments.holdout_months",
            || format!("{} must be 1 to 240", e.holdout_months),
        );
        issues.check(
            !(10..=86_400).contains(&e.lease_secs),
            "experiments.lease_secs",
            || format!("{} must be 10 to 86400", e.lease_secs),
        );
        issues.check(
            e.max_attempts == 0 || e.max_attempts > 10,
            "experiments.max_attempts",
            || format!("{} must be 1 to 10", e.max_attempts),
        );
        issues.check(
            !(1..=3_600).contains(&e.poll_secs),
            "experiments.poll_secs",
            || format!("{} must be 1 to 3600", e.poll_secs),
        );
        self.gates.validate("gates.", issues);
        for e in &self.promotion.engines {
            issues.check(
                !DECISION_ENGINES.contains(&e.as_str()),
                "promotion.engines",
                || {
                    format!(
                        "unknown engine `{e}`; Kronos configures {}",
                        DECISION_ENGINES.join(", ")
                    )
                },
            );
        }
    }
}

impl KronosConfig {
    /// The longest horizon (how far back a day's outcomes reach).
    pub fn longest_horizon(&self) -> u32 {
        self.horizons.iter().copied().max().unwrap_or(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_fields_are_each_named() {
        let mut issues = Issues::new();
        KronosConfig::default().validate(&mut issues);
        assert!(issues.is_empty());
        let mut issues = Issues::new();
        KronosConfig {
            decision_dag: " ".into(),
            horizons: vec![21, 5, 0],
            min_outcomes: 0,
            catch_up_sessions: 1_000,
            max_sweep_candidates: 0,
            negative_controls: true,
            shadow_sessions: 0,
            experiments: ExperimentSettings {
                lease_secs: 1,
                ..ExperimentSettings::default()
            },
            gates: GateConfig {
                max_pbo: 2.0,
                ..GateConfig::default()
            },
            promotion: PromotionPolicy {
                auto: true,
                engines: vec!["portfolio".into(), "ingest".into()],
            },
        }
        .validate(&mut issues);
        let keys: Vec<String> = issues.into_pairs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            vec![
                "decision_dag",
                "horizons",
                "horizons",
                "min_outcomes",
                "catch_up_sessions",
                "max_sweep_candidates",
                "shadow_sessions",
                "experiments.lease_secs",
                "gates.max_pbo",
                "promotion.engines"
            ]
        );
    }

    #[test]
    fn the_promotion_policy_is_off_by_default_and_covers_only_its_engines() {
        assert!(!KronosConfig::default().promotion.covers("portfolio"));
        let all = PromotionPolicy {
            auto: true,
            engines: vec![],
        };
        assert!(all.covers("regime") && all.covers("portfolio"));
        let one = PromotionPolicy {
            auto: true,
            engines: vec!["portfolio".into()],
        };
        assert!(one.covers("portfolio") && !one.covers("regime"));
    }
}

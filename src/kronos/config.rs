//! Kronos's own configuration (`config/engines/kronos.toml`): which DAG's jobs are the
//! decisions it logs, the horizons it measures them over, and how much evidence a slice
//! needs before it counts in a config's label.

use crate::config::{EngineConfig, Issues};
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
                "max_sweep_candidates"
            ]
        );
    }
}

//! A strategy: which engines run on which dates, with which configs, traded through which
//! broker, measured against which benchmark (`config/strategies/<name>.toml`).

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::backtest::broker::BrokerConfig;
use crate::config::Issues;

/// The decision engines a strategy can run on a rebalance date, in dataflow order.
pub const STRATEGY_JOBS: [&str; 7] = [
    "regime",
    "stability",
    "scenarios",
    "fragility",
    "assessment",
    "universe",
    "portfolio",
];

/// How often targets are rebuilt.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rebalance {
    /// Every session.
    Daily,
    /// The last session of each ISO week.
    Weekly,
    /// The last session of each month.
    Monthly,
    /// The last session of each quarter.
    Quarterly,
}

impl Rebalance {
    /// Sessions between rebalances, about: the horizon of the portfolio's objective.
    pub fn sessions(self) -> u32 {
        match self {
            Self::Daily => 1,
            Self::Weekly => 5,
            Self::Monthly => 21,
            Self::Quarterly => 63,
        }
    }

    fn period(self, d: NaiveDate) -> (i32, u32) {
        match self {
            Self::Daily => (d.year(), d.ordinal()),
            Self::Weekly => (d.iso_week().year(), d.iso_week().week()),
            Self::Monthly => (d.year(), d.month()),
            Self::Quarterly => (d.year(), (d.month() - 1) / 3),
        }
    }

    /// The rebalance dates among `sessions` (ascending): the first session (the initial
    /// portfolio), then the last session of every period.
    pub fn dates(self, sessions: &[NaiveDate]) -> Vec<NaiveDate> {
        if self == Self::Daily {
            return sessions.to_vec();
        }
        let mut out: Vec<NaiveDate> = sessions.first().copied().into_iter().collect();
        for w in sessions.windows(2) {
            if self.period(w[0]) != self.period(w[1]) && out.last() != Some(&w[0]) {
                out.push(w[0]);
            }
        }
        out
    }
}

/// A strategy file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyConfig {
    /// Its name (the file stem by convention).
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// The market it trades.
    pub market: String,
    /// The engines run on each rebalance date, a subset of [`STRATEGY_JOBS`] ending with
    /// `portfolio`; upstream engines left out are read from the store when present.
    pub jobs: Vec<String>,
    /// Rebalance frequency.
    pub rebalance: Rebalance,
    /// An instrument id (`US_EQ:SPX`), a symbol of the strategy's market (`SPX`, e.g. an imported
    /// index) or a factor id (e.g. `MKT:US_EQ`, the equal-weighted market).
    pub benchmark: String,
    /// Starting cash.
    #[serde(default = "default_capital")]
    pub initial_capital: f64,
    /// The simulated broker.
    #[serde(default)]
    pub broker: BrokerConfig,
    /// Per-engine TOML tables merged over the engine's active config for this strategy.
    #[serde(default)]
    pub engines: BTreeMap<String, toml::Table>,
}

fn default_capital() -> f64 {
    1_000_000.0
}

impl StrategyConfig {
    /// Checks every field and records each violation in `issues`.
    pub fn validate(&self, issues: &mut Issues) {
        issues.check(
            self.name.trim().is_empty()
                || !self
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "name",
            || {
                format!(
                    "{:?} must be non-empty letters, digits, `_` or `-`",
                    self.name
                )
            },
        );
        issues.check(self.market.trim().is_empty(), "market", || {
            "must name a market".into()
        });
        issues.check(
            self.jobs.last().map(String::as_str) != Some("portfolio"),
            "jobs",
            || "must end with `portfolio`".into(),
        );
        let mut last = None;
        for j in &self.jobs {
            match STRATEGY_JOBS.iter().position(|k| k == j) {
                None => issues.push(
                    "jobs",
                    format!("unknown job `{j}`; use {}", STRATEGY_JOBS.join(", ")),
                ),
                Some(i) => {
                    if last.is_some_and(|l| l >= i) {
                        issues.push(
                            "jobs",
                            format!(
                                "`{j}` is out of dataflow order ({})",
                                STRATEGY_JOBS.join(" → ")
                            ),
                        );
                    }
                    last = Some(i);
                }
            }
        }
        for engine in self.engines.keys() {
            issues.check(
                !STRATEGY_JOBS.contains(&engine.as_str()),
                &format!("engines.{engine}"),
                || format!("not a decision engine; use {}", STRATEGY_JOBS.join(", ")),
            );
        }
        issues.check(self.benchmark.trim().is_empty(), "benchmark", || {
            "must name an instrument or a factor".into()
        });
        issues.check(
            !(self.initial_capital.is_finite() && self.initial_capital > 0.0),
            "initial_capital",
            || format!("{} must be positive", self.initial_capital),
        );
        self.broker.validate(issues);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn monthly_rebalances_on_month_ends_after_the_first_session() {
        let sessions = [
            "2024-01-30",
            "2024-01-31",
            "2024-02-01",
            "2024-02-29",
            "2024-03-01",
            "2024-03-04",
        ]
        .map(d);
        assert_eq!(
            Rebalance::Monthly.dates(&sessions),
            vec![d("2024-01-30"), d("2024-01-31"), d("2024-02-29")]
        );
        assert_eq!(Rebalance::Daily.dates(&sessions).len(), 6);
        assert_eq!(Rebalance::Quarterly.dates(&sessions), vec![d("2024-01-30")]);
    }

    #[test]
    fn a_strategy_reports_every_bad_field() {
        let s: StrategyConfig = toml::from_str(
            r#"
            name = "bad name"
            market = "US_EQ"
            jobs = ["universe", "assessment", "trading"]
            rebalance = "monthly"
            benchmark = ""
            initial_capital = -1.0
            [broker]
            slippage_bp = -2.0
            [engines.kronos]
            x = 1
            "#,
        )
        .unwrap();
        let mut issues = Issues::new();
        s.validate(&mut issues);
        let keys: Vec<String> = issues.into_pairs().into_iter().map(|(k, _)| k).collect();
        for k in [
            "name",
            "jobs",
            "engines.kronos",
            "benchmark",
            "initial_capital",
            "broker.slippage_bp",
        ] {
            assert!(keys.iter().any(|x| x == k), "{k} missing from {keys:?}");
        }
    }
}

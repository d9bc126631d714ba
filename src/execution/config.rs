//! The execution actor's configuration (`config/engines/execution.toml`): which account it
//! keeps, how orders reach a broker, the fill and cost rules, and the pre-trade limits.

use super::checks::PreTradeLimits;
use crate::backtest::broker::BrokerConfig;
use crate::config::tunable::{HardLimit, Tighter};
use crate::config::{EngineConfig, Issues};
use serde::{Deserialize, Serialize};

/// How orders reach a market.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionMode {
    /// The paper broker: orders fill from ingested prices by the backtest broker's rules.
    Paper,
    /// A real broker through an adapter; fills come back as broker statements
    /// (`pv2 import fills`).
    Live,
}

impl ExecutionMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paper => "paper",
            Self::Live => "live",
        }
    }
}

/// Execution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ExecutionConfig {
    /// Paper or live.
    pub mode: ExecutionMode,
    /// The account the ledger keeps (one per market: the key is the account and market).
    pub account_id: String,
    /// Cash the account starts with on its first session.
    pub initial_capital: f64,
    /// Live mode: the directory the outbox adapter writes order tickets to (one CSV per
    /// order, named by its id, for an order-management system or a person to execute).
    pub outbox_dir: String,
    /// Fill and cost rules, shared with the backtest broker.
    pub broker: BrokerConfig,
    /// Pre-trade limits.
    pub limits: PreTradeLimits,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self {
            mode: ExecutionMode::Paper,
            account_id: "paper".into(),
            initial_capital: 1_000_000.0,
            outbox_dir: "outbox".into(),
            broker: BrokerConfig::default(),
            limits: PreTradeLimits::default(),
        }
    }
}

const fn lower(key: &'static str) -> HardLimit {
    HardLimit {
        key,
        tighter: Tighter::Lower,
    }
}

impl EngineConfig for ExecutionConfig {
    const ENGINE: &'static str = "execution";
    const HARD_LIMITS: &'static [HardLimit] = &[
        lower(PreTradeLimits::KEYS[0]),
        lower(PreTradeLimits::KEYS[1]),
        lower(PreTradeLimits::KEYS[2]),
        lower(PreTradeLimits::KEYS[3]),
        lower(PreTradeLimits::KEYS[4]),
        lower(PreTradeLimits::KEYS[5]),
        lower(PreTradeLimits::KEYS[6]),
        lower(PreTradeLimits::KEYS[7]),
        lower(PreTradeLimits::KEYS[8]),
    ];

    fn validate(&self, issues: &mut Issues) {
        issues.check(
            self.account_id.trim().is_empty() || self.account_id.contains(char::is_whitespace),
            "account_id",
            || "must be a non-empty name without spaces".into(),
        );
        issues.check(
            !(self.initial_capital.is_finite() && self.initial_capital > 0.0),
            "initial_capital",
            || format!("{} must be > 0", self.initial_capital),
        );
        issues.check(
            self.mode == ExecutionMode::Live && self.outbox_dir.trim().is_empty(),
            "outbox_dir",
            || "live mode needs a directory for its order tickets".into(),
        );
        self.broker.validate(issues);
        self.limits.validate(issues);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tunable::loosened;

    #[test]
    fn every_limit_is_a_hard_limit() {
        let keys: Vec<&str> = ExecutionConfig::HARD_LIMITS.iter().map(|l| l.key).collect();
        assert_eq!(keys, PreTradeLimits::KEYS);
        let active = serde_json::to_value(ExecutionConfig::default()).unwrap();
        for key in PreTradeLimits::KEYS {
            let mut looser = active.clone();
            let field = key.trim_start_matches("limits.");
            looser["limits"][field] = serde_json::Value::Null;
            if active["limits"][field].is_null() {
                looser["limits"][field] = serde_json::json!(1e12);
                let mut tight = active.clone();
                tight["limits"][field] = serde_json::json!(1e6);
                assert_eq!(
                    loosened(ExecutionConfig::HARD_LIMITS, &tight, &looser).len(),
                    1,
                    "{key}"
                );
            } else {
                assert_eq!(
                    loosened(ExecutionConfig::HARD_LIMITS, &active, &looser).len(),
                    1,
                    "{key}: removing it loosens"
                );
            }
        }
    }

    #[test]
    fn the_default_validates_and_bad_fields_are_each_named() {
        let mut issues = Issues::new();
        ExecutionConfig::default().validate(&mut issues);
        assert!(issues.is_empty());
        let bad = ExecutionConfig {
            account_id: "my account".into(),
            initial_capital: 0.0,
            mode: ExecutionMode::Live,
            outbox_dir: String::new(),
            ..ExecutionConfig::default()
        };
        let mut issues = Issues::new();
        bad.validate(&mut issues);
        let keys: Vec<String> = issues.into_pairs().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec!["account_id", "initial_capital", "outbox_dir"]);
    }
}

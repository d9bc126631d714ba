//! Configuration of the derived-data job (`config/engines/derived.toml`).

use crate::config::{EngineConfig, Issues};
use serde::{Deserialize, Serialize};

/// Which returns and volatilities to derive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DerivedConfig {
    /// Return horizons in trading days; must include 1 (factors are built from it).
    pub return_horizons: Vec<u32>,
    /// Realised-volatility windows in daily returns.
    pub vol_windows: Vec<u32>,
    /// Trading days per year used to annualise volatility.
    pub annualisation_days: u32,
    /// Instruments per database transaction.
    pub batch_instruments: usize,
}

impl Default for DerivedConfig {
    fn default() -> Self {
        Self {
            return_horizons: vec![1, 5, 21],
            vol_windows: vec![21, 63],
            annualisation_days: 252,
            batch_instruments: 250,
        }
    }
}

impl DerivedConfig {
    /// Rows of price history needed before the first recomputed date.
    pub fn lookback_rows(&self) -> u32 {
        self.return_horizons
            .iter()
            .chain(&self.vol_windows)
            .copied()
            .max()
            .unwrap_or(1)
    }
}

fn check_days(issues: &mut Issues, key: &str, values: &[u32], min: u32) {
    if values.is_empty() {
        issues.push(key, "must list at least one value");
    }
    for v in values {
        issues.check(!(min..=2520).contains(v), key, || {
            format!("{v} is out of range; use {min}..=2520 trading days")
        });
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    issues.check(sorted.len() != values.len(), key, || {
        "has repeated values".into()
    });
}

impl EngineConfig for DerivedConfig {
    const ENGINE: &'static str = "derived";

    fn validate(&self, issues: &mut Issues) {
        check_days(issues, "return_horizons", &self.return_horizons, 1);
        issues.check(
            !self.return_horizons.contains(&1),
            "return_horizons",
            || "must include 1: market and sector factors are built from one-day returns".into(),
        );
        check_days(issues, "vol_windows", &self.vol_windows, 2);
        issues.check(
            !(1..=366).contains(&self.annualisation_days),
            "annualisation_days",
            || format!("{} is out of range; use 1..=366", self.annualisation_days),
        );
        issues.check(
            !(1..=100_000).contains(&self.batch_instruments),
            "batch_instruments",
            || format!("{} is out of range; use 1..=100000", self.batch_instruments),
        );
    }
}

//! Issuer profiles: a point-in-time snapshot of what is known about an issuer on a date —
//! structured facts, price features of its primary instrument, news activity — and risk
//! flags in [0,1] derived from them, for the engines and for people reading a decision.
//!
//! Every flag is a linear ramp between two configured thresholds (0 at or below the
//! first, 1 at or beyond the second), so a flag says "how far into the risky zone", is
//! monotone in its input and is always inside [0,1]. A flag whose input is unknown (a short
//! history, no volume) is left out, never guessed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::{EngineConfig, Issues};
use crate::domain::FundamentalValue;
use crate::features::WindowSpec;

/// A flag's ramp: 0 at `from`, 1 at `to` (`to < from` ramps downwards).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ramp {
    /// Input at which the flag starts rising.
    pub from: f64,
    /// Input at which the flag is fully raised.
    pub to: f64,
}

impl Ramp {
    /// The flag of `x`, in [0,1]; `None` for a non-finite input.
    pub fn apply(&self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return None;
        }
        Some(((x - self.from) / (self.to - self.from)).clamp(0.0, 1.0))
    }
}

/// Configuration of the profiles service (`config/engines/profiles.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfilesConfig {
    /// Return horizons of the price features.
    pub return_horizons: Vec<usize>,
    /// Volatility window.
    pub vol_window: usize,
    /// Drawdown, trend, volume, beta window.
    pub long_window: usize,
    /// Sessions of recent news counted.
    pub news_recent_sessions: usize,
    /// Sessions of news the recent count is compared with.
    pub news_baseline_sessions: usize,
    /// Annualised volatility → `high_volatility`.
    pub high_volatility: Ramp,
    /// Maximum drawdown (a positive fraction) → `deep_drawdown`.
    pub deep_drawdown: Ramp,
    /// Loss over the longest return horizon (a positive fraction) → `negative_momentum`.
    pub negative_momentum: Ramp,
    /// Beta to the market → `high_beta`.
    pub high_beta: Ramp,
    /// Recent news intensity as a multiple of the baseline rate → `news_spike`.
    pub news_spike: Ramp,
    /// Median daily traded value (close × volume) → `illiquid` (ramps downwards).
    pub illiquid: Ramp,
    /// Total liabilities / total assets, as last filed → `high_leverage`.
    pub high_leverage: Ramp,
    /// Net income / revenue, as last filed → `loss_making` (ramps downwards).
    pub loss_making: Ramp,
}

impl Default for ProfilesConfig {
    fn default() -> Self {
        Self {
            return_horizons: vec![5, 21, 63],
            vol_window: 21,
            long_window: 63,
            news_recent_sessions: 5,
            news_baseline_sessions: 63,
            high_volatility: Ramp {
                from: 0.25,
                to: 0.60,
            },
            deep_drawdown: Ramp {
                from: 0.10,
                to: 0.40,
            },
            negative_momentum: Ramp {
                from: 0.05,
                to: 0.30,
            },
            high_beta: Ramp { from: 1.2, to: 2.0 },
            news_spike: Ramp { from: 1.5, to: 4.0 },
            illiquid: Ramp {
                from: 5.0e6,
                to: 2.0e5,
            },
            high_leverage: Ramp { from: 0.6, to: 0.9 },
            loss_making: Ramp {
                from: 0.0,
                to: -0.2,
            },
        }
    }
}

impl EngineConfig for ProfilesConfig {
    const ENGINE: &'static str = "profiles";

    fn validate(&self, issues: &mut Issues) {
        issues.check(self.return_horizons.is_empty(), "return_horizons", || {
            "must list at least one horizon".into()
        });
        for h in &self.return_horizons {
            issues.check(!(1..=1260).contains(h), "return_horizons", || {
                format!("{h} is out of range; use 1..=1260")
            });
        }
        issues.check(!(2..=1260).contains(&self.vol_window), "vol_window", || {
            format!("{} is out of range; use 2..=1260", self.vol_window)
        });
        issues.check(
            !(10..=1260).contains(&self.long_window),
            "long_window",
            || format!("{} is out of range; use 10..=1260", self.long_window),
        );
        issues.check(
            !(1..=260).contains(&self.news_recent_sessions),
            "news_recent_sessions",
            || format!("{} is out of range; use 1..=260", self.news_recent_sessions),
        );
        issues.check(
            self.news_baseline_sessions <= self.news_recent_sessions
                || self.news_baseline_sessions > 1260,
            "news_baseline_sessions",
            || {
                format!(
                    "{} must exceed news_recent_sessions and be at most 1260",
                    self.news_baseline_sessions
                )
            },
        );
        for (key, r) in self.ramps() {
            issues.check(
                !(r.from.is_finite() && r.to.is_finite()) || r.from == r.to,
                key,
                || format!("from {} and to {} must be finite and differ", r.from, r.to),
            );
        }
    }
}

impl ProfilesConfig {
    /// The price features it computes.
    pub fn spec(&self) -> WindowSpec {
        WindowSpec {
            return_horizons: self.return_horizons.clone(),
            vol_window: self.vol_window,
            long_window: self.long_window,
        }
    }

    fn ramps(&self) -> [(&'static str, Ramp); 8] {
        [
            ("high_volatility", self.high_volatility),
            ("deep_drawdown", self.deep_drawdown),
            ("negative_momentum", self.negative_momentum),
            ("high_beta", self.high_beta),
            ("news_spike", self.news_spike),
            ("illiquid", self.illiquid),
            ("high_leverage", self.high_leverage),
            ("loss_making", self.loss_making),
        ]
    }
}

/// Every flag a profile can carry, in the order of [`flag_vector`].
pub const FLAGS: [&str; 8] = [
    "high_volatility",
    "deep_drawdown",
    "negative_momentum",
    "high_beta",
    "news_spike",
    "illiquid",
    "high_leverage",
    "loss_making",
];

/// What the profile of one issuer is built from.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileInputs {
    /// Name, sector, industry, country, instruments… (copied into the body as is).
    pub facts: serde_json::Value,
    /// Price features of the primary instrument, by [`WindowSpec::names`] order.
    pub price_features: Vec<Option<f64>>,
    /// Median close × volume over the volatility window, when volume is known.
    pub median_traded_value: Option<f64>,
    /// Articles in the last `news_recent_sessions` session windows.
    pub news_recent: u32,
    /// Articles in the last `news_baseline_sessions` session windows (incl. the recent).
    pub news_baseline: u32,
    /// Fundamentals known on the date: the latest period of each metric among filings
    /// dated on or before it.
    pub fundamentals: Vec<FundamentalValue>,
}

/// A built profile.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The snapshot.
    pub body: serde_json::Value,
    /// Flags in [0,1] by name.
    pub flags: BTreeMap<String, f64>,
}

/// Builds the profile of one issuer.
pub fn build(config: &ProfilesConfig, inputs: &ProfileInputs) -> Profile {
    let spec = config.spec();
    let names = spec.names();
    let feature = |name: &str| {
        names
            .iter()
            .position(|n| n == name)
            .and_then(|i| inputs.price_features.get(i).copied().flatten())
    };
    let longest = config.return_horizons.iter().max().copied().unwrap_or(1);
    let recent_rate = f64::from(inputs.news_recent) / config.news_recent_sessions as f64;
    let baseline_rate = f64::from(inputs.news_baseline) / config.news_baseline_sessions as f64;
    // Intensity relative to the baseline; one article over a quiet baseline is not a spike
    // of infinite size: the baseline rate is floored at one article per baseline window.
    let intensity = recent_rate / baseline_rate.max(1.0 / config.news_baseline_sessions as f64);
    let reported = |metric: &str| {
        inputs
            .fundamentals
            .iter()
            .find(|f| f.metric == metric)
            .map(|f| f.value)
    };
    let ratio = |num: &str, den: &str| match (reported(num), reported(den)) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    };
    let inputs_of_flags = [
        (
            "high_volatility",
            feature(&format!("vol_{}", config.vol_window)),
        ),
        (
            "deep_drawdown",
            feature(&format!("max_drawdown_{}", config.long_window)).map(f64::abs),
        ),
        (
            "negative_momentum",
            feature(&format!("ret_{longest}")).map(|r| -r),
        ),
        (
            "high_beta",
            feature(&format!("beta_{}", config.long_window)),
        ),
        ("news_spike", Some(intensity)),
        ("illiquid", inputs.median_traded_value),
        ("high_leverage", ratio("total_liabilities", "total_assets")),
        ("loss_making", ratio("net_income", "revenue")),
    ];
    let ramps: BTreeMap<&str, Ramp> = config.ramps().into_iter().collect();
    let flags: BTreeMap<String, f64> = inputs_of_flags
        .iter()
        .filter_map(|(name, x)| {
            let r = ramps.get(name)?;
            x.and_then(|x| r.apply(x)).map(|f| ((*name).to_owned(), f))
        })
        .collect();
    let price: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .zip(&inputs.price_features)
        .map(|(n, v)| {
            (
                n.clone(),
                v.map_or(serde_json::Value::Null, serde_json::Value::from),
            )
        })
        .collect();
    let body = serde_json::json!({
        "facts": inputs.facts,
        "price": price,
        "liquidity": {"median_traded_value": inputs.median_traded_value},
        "news": {
            "recent_sessions": config.news_recent_sessions,
            "recent_articles": inputs.news_recent,
            "baseline_sessions": config.news_baseline_sessions,
            "baseline_articles": inputs.news_baseline,
            "intensity": intensity,
        },
        "fundamentals": inputs
            .fundamentals
            .iter()
            .map(|f| {
                (
                    f.metric.clone(),
                    serde_json::json!({"value": f.value, "period_end": f.period_end, "filed": f.filed}),
                )
            })
            .collect::<serde_json::Map<_, _>>(),
        "risk_flags": flags,
    });
    Profile { body, flags }
}

/// The flags as a fixed-order vector (absent flags are 0): the profile branch of the joint
/// encoder.
pub fn flag_vector(flags: &BTreeMap<String, f64>) -> Vec<f32> {
    FLAGS
        .iter()
        .map(|f| flags.get(*f).copied().unwrap_or(0.0) as f32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fundamental(metric: &str, value: f64) -> FundamentalValue {
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        FundamentalValue {
            issuer_id: crate::domain::IssuerId::new("ACME"),
            metric: metric.into(),
            period_end: d("2024-03-31"),
            filed: d("2024-05-02"),
            value,
        }
    }

    fn inputs(features: Vec<Option<f64>>) -> ProfileInputs {
        ProfileInputs {
            facts: serde_json::json!({"name": "Acme"}),
            price_features: features,
            median_traded_value: Some(1.0e6),
            news_recent: 4,
            news_baseline: 10,
            fundamentals: vec![
                fundamental("total_assets", 100.0),
                fundamental("total_liabilities", 75.0),
                fundamental("revenue", 50.0),
                fundamental("net_income", -2.5),
            ],
        }
    }

    #[test]
    fn ramps_are_monotone_and_clamped() {
        let up = Ramp { from: 1.0, to: 3.0 };
        assert_eq!(up.apply(0.0), Some(0.0));
        assert_eq!(up.apply(2.0), Some(0.5));
        assert_eq!(up.apply(9.0), Some(1.0));
        let down = Ramp {
            from: 10.0,
            to: 0.0,
        };
        assert_eq!(down.apply(2.5), Some(0.75));
        assert_eq!(up.apply(f64::NAN), None);
    }

    #[test]
    fn flags_stay_in_range_for_extreme_inputs() {
        let c = ProfilesConfig::default();
        let n = c.spec().names().len();
        for x in [-1e12, -3.0, -0.5, 0.0, 0.3, 7.0, 1e12] {
            let mut i = inputs(vec![Some(x); n]);
            i.median_traded_value = Some(x.abs());
            i.news_recent = (x.abs().min(1e6)) as u32;
            let p = build(&c, &i);
            assert_eq!(p.flags.len(), FLAGS.len(), "every flag computable");
            for (name, f) in &p.flags {
                assert!((0.0..=1.0).contains(f), "{name} = {f} for input {x}");
            }
        }
    }

    #[test]
    fn unknown_inputs_leave_their_flags_out() {
        let c = ProfilesConfig::default();
        let n = c.spec().names().len();
        let mut i = inputs(vec![None; n]);
        i.median_traded_value = None;
        i.fundamentals.clear();
        let p = build(&c, &i);
        assert_eq!(p.flags.keys().collect::<Vec<_>>(), vec!["news_spike"]);
        assert_eq!(flag_vector(&p.flags).len(), FLAGS.len());
    }

    #[test]
    fn flags_follow_their_inputs() {
        let c = ProfilesConfig::default();
        let names = c.spec().names();
        let mut f = vec![Some(0.0); names.len()];
        let at = |n: &str| names.iter().position(|x| x == n).unwrap();
        f[at("vol_21")] = Some(0.425); // half-way up 0.25..0.60
        f[at("max_drawdown_63")] = Some(-0.5);
        f[at("ret_63")] = Some(0.2);
        let p = build(&c, &inputs(f));
        assert!((p.flags["high_volatility"] - 0.5).abs() < 1e-12);
        assert_eq!(p.flags["deep_drawdown"], 1.0);
        assert_eq!(p.flags["negative_momentum"], 0.0);
        // 4 articles in 5 sessions vs 10 in 63: intensity ≈ 5.04 → fully raised.
        assert_eq!(p.flags["news_spike"], 1.0);
        // 1e6 traded: between 5e6 (0) and 2e5 (1).
        assert!((p.flags["illiquid"] - 4.0 / 4.8).abs() < 1e-12);
        assert_eq!(p.body["facts"]["name"], "Acme");
        assert_eq!(p.body["news"]["recent_articles"], 4);
        // Liabilities 75% of assets: half-way up 0.6..0.9; a −5% margin: a quarter of 0..−20%.
        assert!((p.flags["high_leverage"] - 0.5).abs() < 1e-12);
        assert!((p.flags["loss_making"] - 0.25).abs() < 1e-12);
        assert_eq!(p.body["fundamentals"]["revenue"]["filed"], "2024-05-02");
    }

    #[test]
    fn config_reports_every_bad_field() {
        let c = ProfilesConfig {
            news_recent_sessions: 0,
            news_baseline_sessions: 0,
            high_beta: Ramp { from: 1.0, to: 1.0 },
            ..ProfilesConfig::default()
        };
        let mut issues = Issues::default();
        c.validate(&mut issues);
        let text = format!("{issues:?}");
        for key in [
            "news_recent_sessions",
            "news_baseline_sessions",
            "high_beta",
        ] {
            assert!(text.contains(key), "{text}");
        }
    }
}

//! What the outcomes say about each config: summaries per engine × config × market ×
//! regime × period, and a label per config of an engine and market.
//!
//! Labels compare the configs of one engine in one market by the engine's primary metric
//! (higher is better) slice by slice — regimes for the decision engines, years for the
//! regime engine, whose labels are the slices of the others:
//! - `dominated`: another config is at least as good in every slice both were measured in
//!   and better in at least one;
//! - `robust`: not dominated and good (primary metric above zero) in every slice;
//! - `niche`: not dominated, good in some slices only;
//! - `failing`: not dominated, good in no slice;
//! - `unrated`: fewer than the minimum outcomes in every slice.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One stored outcome value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomeRecord {
    /// The engine whose decision it measures.
    pub engine: String,
    /// The config the decision was made under.
    pub config_id: String,
    /// The market.
    pub market_id: String,
    /// The decision's date.
    pub as_of: NaiveDate,
    /// The regime label in force on that date (the active regime config's), if known.
    pub regime: Option<String>,
    /// What is measured: `portfolio`, `forecast`, a class name, a regime label…
    pub subject: String,
    /// Sessions after the decision.
    pub horizon_days: u32,
    /// The metric's name.
    pub metric: String,
    /// Its value.
    pub value: f64,
}

/// The stressed regime labels (the regime engine's calibration compares them with the rest).
pub const STRESSED: [&str; 2] = ["RISK_OFF", "CRISIS"];

/// Mean, spread and count of one metric in one slice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SliceStats {
    /// Engine.
    pub engine: String,
    /// Config.
    pub config_id: String,
    /// Market.
    pub market_id: String,
    /// Regime in force (`ALL` across regimes, `UNKNOWN` when none was stored).
    pub regime: String,
    /// Calendar year of the decisions (`ALL` across years).
    pub period: String,
    /// Subject.
    pub subject: String,
    /// Horizon in sessions.
    pub horizon_days: u32,
    /// Metric.
    pub metric: String,
    /// Outcomes summarised.
    pub n: usize,
    /// Their mean.
    pub mean: f64,
    /// Their standard deviation (0 for one).
    pub sd: f64,
    /// The mean's t-statistic against the metric's null ([`null_of`]), with a Newey–West
    /// standard error over `horizon − 1` lags: daily decisions with a 21-session horizon
    /// overlap, and a plain `sd / √n` would overstate the evidence about twentyfold.
    pub t_stat: f64,
}

type Key = (String, String, String, String, String, String, u32, String);

/// The value a metric takes without skill: 0.5 for hit rates, 0 for everything else.
pub fn null_of(metric: &str) -> f64 {
    if metric == "hit_rate" { 0.5 } else { 0.0 }
}

/// The Newey–West (Bartlett kernel) variance of the mean of `v`, in time order, with
/// `lags` autocovariances.
pub(crate) fn newey_west_var_of_mean(v: &[f64], mean: f64, lags: usize) -> f64 {
    let n = v.len();
    let gamma = |k: usize| -> f64 {
        (k..n)
            .map(|t| (v[t] - mean) * (v[t - k] - mean))
            .sum::<f64>()
            / n as f64
    };
    let lags = lags.min(n.saturating_sub(1));
    let mut s = gamma(0);
    for k in 1..=lags {
        s += 2.0 * (1.0 - k as f64 / (lags as f64 + 1.0)) * gamma(k);
    }
    s.max(0.0) / n as f64
}

fn stats(key: Key, v: &[f64]) -> SliceStats {
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let sd = if n > 1 {
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n as f64 - 1.0)).sqrt()
    } else {
        0.0
    };
    let (engine, config_id, market_id, regime, period, subject, horizon_days, metric) = key;
    let var = newey_west_var_of_mean(v, mean, horizon_days.saturating_sub(1) as usize);
    // Values equal to rounding carry no evidence either way.
    let t_stat = if n > 1 && var.sqrt() > 1e-12 * mean.abs().max(1e-12) {
        (mean - null_of(&metric)) / var.sqrt()
    } else {
        0.0
    };
    SliceStats {
        engine,
        config_id,
        market_id,
        regime,
        period,
        subject,
        horizon_days,
        metric,
        n,
        mean,
        sd,
        t_stat,
    }
}

/// Every slice of `records`: by regime and year, by regime across years, by year across
/// regimes and overall, in key order (values in date order within each).
pub fn summarise(records: &[OutcomeRecord]) -> Vec<SliceStats> {
    let mut groups: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    let mut ordered: Vec<&OutcomeRecord> = records.iter().collect();
    ordered.sort_by_key(|r| r.as_of);
    for r in ordered {
        if !r.value.is_finite() {
            continue;
        }
        let regime = r.regime.clone().unwrap_or_else(|| "UNKNOWN".into());
        let year = r.as_of.year().to_string();
        for (g, p) in [
            (regime.clone(), year.clone()),
            (regime, "ALL".into()),
            ("ALL".into(), year),
            ("ALL".into(), "ALL".into()),
        ] {
            groups
                .entry((
                    r.engine.clone(),
                    r.config_id.clone(),
                    r.market_id.clone(),
                    g,
                    p,
                    r.subject.clone(),
                    r.horizon_days,
                    r.metric.clone(),
                ))
                .or_default()
                .push(r.value);
        }
    }
    groups.into_iter().map(|(k, v)| stats(k, &v)).collect()
}

/// The metric each engine is judged by, at the horizon labels use: (subject, metric),
/// higher is better. The regime engine's subject is the label it gave (see
/// [`label_configs`]).
pub fn primary_metric(engine: &str) -> Option<(&'static str, &'static str)> {
    Some(match engine {
        "portfolio" => ("portfolio", "active_return"),
        "assessment" => ("forecast", "rank_ic"),
        "universe" => ("included_vs_excluded", "return_spread"),
        "stability" => ("fragile_vs_stable", "es_spread"),
        "fragility" => ("flagged_vs_none", "es_spread"),
        "regime" => ("label", "realised_vol"),
        _ => return None,
    })
}

/// A config's label among the configs of its engine and market.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigLabel {
    /// Engine.
    pub engine: String,
    /// Market.
    pub market_id: String,
    /// Config.
    pub config_id: String,
    /// `dominated`, `robust`, `niche`, `failing` or `unrated`.
    pub label: String,
    /// The primary metric per slice with enough outcomes.
    pub slices: BTreeMap<String, f64>,
    /// The config that dominates it, when dominated.
    pub dominated_by: Option<String>,
}

/// (engine, market, config, slice).
type SliceKey = (String, String, String, String);

/// The primary score of each (engine, market, config) per slice with at least `min_n`
/// outcomes at `horizon`.
fn slice_scores(
    records: &[OutcomeRecord],
    min_n: usize,
    horizon: u32,
) -> BTreeMap<(String, String, String), BTreeMap<String, f64>> {
    // (engine, market, config, slice) → values; for the regime engine, values split by
    // stressed/calm label.
    let mut plain: BTreeMap<SliceKey, Vec<f64>> = BTreeMap::new();
    let mut calib: BTreeMap<SliceKey, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in records {
        let Some((subject, metric)) = primary_metric(&r.engine) else {
            continue;
        };
        // Forecasts are measured at their own horizon only.
        let other_horizon = r.horizon_days != horizon && r.engine != "assessment";
        if other_horizon || r.metric != metric || !r.value.is_finite() {
            continue;
        }
        if r.engine == "regime" {
            // The regime engine's subject is the label it gave; its slices are years.
            let e = calib
                .entry((
                    r.engine.clone(),
                    r.market_id.clone(),
                    r.config_id.clone(),
                    r.as_of.year().to_string(),
                ))
                .or_default();
            if STRESSED.contains(&r.subject.as_str()) {
                e.0.push(r.value);
            } else {
                e.1.push(r.value);
            }
            continue;
        }
        if r.subject != subject {
            continue;
        }
        plain
            .entry((
                r.engine.clone(),
                r.market_id.clone(),
                r.config_id.clone(),
                r.regime.clone().unwrap_or_else(|| "UNKNOWN".into()),
            ))
            .or_default()
            .push(r.value);
    }
    let mut out: BTreeMap<(String, String, String), BTreeMap<String, f64>> = BTreeMap::new();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    for ((e, m, c, s), v) in plain {
        let entry = out.entry((e, m, c)).or_default();
        if v.len() >= min_n {
            entry.insert(s, mean(&v));
        }
    }
    for ((e, m, c, s), (stressed, calm)) in calib {
        let entry = out.entry((e, m, c)).or_default();
        // A year with both kinds of label: how much more volatile the next month was after
        // a stressed label than after a calm one.
        if stressed.len() + calm.len() >= min_n && !stressed.is_empty() && !calm.is_empty() {
            entry.insert(s, mean(&stressed) - mean(&calm));
        }
    }
    out
}

/// Labels every config found in `records` among the configs of its engine and market by
/// the primary metric at `horizon` sessions; slices need `min_n` outcomes to count.
pub fn label_configs(records: &[OutcomeRecord], min_n: usize, horizon: u32) -> Vec<ConfigLabel> {
    let scores = slice_scores(records, min_n, horizon);
    let mut out = Vec::new();
    for ((engine, market, config), slices) in &scores {
        let peers = scores
            .iter()
            .filter(|((e, m, c), _)| e == engine && m == market && c != config);
        let dominated_by = peers
            .filter_map(|((_, _, c), other)| {
                let shared: Vec<&String> =
                    slices.keys().filter(|s| other.contains_key(*s)).collect();
                let at_least = shared.iter().all(|s| other[*s] >= slices[*s]);
                let better = shared.iter().any(|s| other[*s] > slices[*s]);
                (!shared.is_empty() && at_least && better).then(|| c.clone())
            })
            .next();
        let good = slices.values().filter(|v| **v > 0.0).count();
        let label = if slices.is_empty() {
            "unrated"
        } else if dominated_by.is_some() {
            "dominated"
        } else if good == slices.len() {
            "robust"
        } else if good > 0 {
            "niche"
        } else {
            "failing"
        };
        out.push(ConfigLabel {
            engine: engine.clone(),
            market_id: market.clone(),
            config_id: config.clone(),
            label: label.into(),
            slices: slices.clone(),
            dominated_by,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(config: &str, regime: &str, day: u32, value: f64) -> OutcomeRecord {
        OutcomeRecord {
            engine: "assessment".into(),
            config_id: config.into(),
            market_id: "US_EQ".into(),
            as_of: NaiveDate::from_ymd_opt(2020, 1, day).unwrap(),
            regime: Some(regime.into()),
            subject: "forecast".into(),
            horizon_days: 21,
            metric: "rank_ic".into(),
            value,
        }
    }

    #[test]
    fn slices_summarise_by_regime_and_year() {
        let rs = vec![
            rec("a", "CARRY", 1, 0.1),
            rec("a", "CARRY", 2, 0.3),
            rec("a", "RISK_OFF", 3, -0.2),
        ];
        let s = summarise(&rs);
        let carry = s
            .iter()
            .find(|x| x.regime == "CARRY" && x.period == "ALL")
            .unwrap();
        assert_eq!(carry.n, 2);
        assert!((carry.mean - 0.2).abs() < 1e-12);
        assert!(carry.t_stat > 0.0);
        // Overlapping horizons: positively autocorrelated values earn a smaller t.
        let smooth: Vec<f64> = (0..60)
            .map(|i| 0.01 + 0.02 * ((i / 10) % 2) as f64)
            .collect();
        let m = smooth.iter().sum::<f64>() / 60.0;
        let iid = newey_west_var_of_mean(&smooth, m, 0);
        let hac = newey_west_var_of_mean(&smooth, m, 8);
        assert!(hac > 2.0 * iid, "{hac} vs {iid}");
        assert_eq!(null_of("hit_rate"), 0.5);
        let all = s
            .iter()
            .find(|x| x.regime == "ALL" && x.period == "ALL")
            .unwrap();
        assert_eq!(all.n, 3);
    }

    #[test]
    fn configs_are_labelled_against_their_peers() {
        let mut rs = Vec::new();
        for d in 1..=5 {
            rs.push(rec("good_everywhere", "CARRY", d, 0.10));
            rs.push(rec("good_everywhere", "RISK_OFF", d, 0.05));
            rs.push(rec("worse", "CARRY", d, 0.02));
            rs.push(rec("worse", "RISK_OFF", d, 0.01));
            rs.push(rec("calm_only", "CARRY", d, 0.20));
            rs.push(rec("calm_only", "RISK_OFF", d, -0.10));
            rs.push(rec("wrong_way", "CARRY", d, -0.20));
            rs.push(rec("wrong_way", "RISK_OFF", d, -0.30));
        }
        rs.push(rec("too_few", "CARRY", 1, 0.5));
        let labels: BTreeMap<String, ConfigLabel> = label_configs(&rs, 3, 21)
            .into_iter()
            .map(|l| (l.config_id.clone(), l))
            .collect();
        assert_eq!(labels["good_everywhere"].label, "robust");
        assert_eq!(labels["worse"].label, "dominated");
        assert_eq!(
            labels["worse"].dominated_by.as_deref(),
            Some("good_everywhere")
        );
        assert_eq!(labels["calm_only"].label, "niche");
        assert_eq!(labels["wrong_way"].label, "dominated");
        let alone: Vec<OutcomeRecord> = rs
            .iter()
            .filter(|r| r.config_id == "wrong_way")
            .cloned()
            .collect();
        assert_eq!(label_configs(&alone, 3, 21)[0].label, "failing");
        assert_eq!(labels["too_few"].label, "unrated");
    }

    #[test]
    fn the_regime_engine_is_judged_by_its_calibration() {
        let mk = |label: &str, day: u32, vol: f64| OutcomeRecord {
            engine: "regime".into(),
            config_id: "r".into(),
            market_id: "US_EQ".into(),
            as_of: NaiveDate::from_ymd_opt(2021, 3, day).unwrap(),
            regime: Some(label.into()),
            subject: label.into(),
            horizon_days: 21,
            metric: "realised_vol".into(),
            value: vol,
        };
        let rs = vec![
            mk("RISK_OFF", 1, 0.4),
            mk("CARRY", 2, 0.1),
            mk("CARRY", 3, 0.12),
        ];
        let l = label_configs(&rs, 3, 21);
        assert_eq!(l[0].label, "robust");
        assert!((l[0].slices["2021"] - 0.29).abs() < 1e-12);
    }
}

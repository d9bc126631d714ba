//! Shadow comparison: what a candidate running in shadow would have done, against what the
//! active config did, on the same sessions.
//!
//! Both configs' decisions of a session are measured by the same outcome code from the
//! same prices, so each metric pairs up by (date, subject, horizon). The comparison is
//! the mean of the paired differences with its Newey–West t-statistic (the horizons
//! overlap, as in the analytics); the engine's primary metric comes first.

use super::analytics::{OutcomeRecord, newey_west_var_of_mean, primary_metric};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One metric of the shadow against the active config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairedMetric {
    /// What is measured (`portfolio`, `forecast`, a class…).
    pub subject: String,
    /// Sessions after the decision.
    pub horizon_days: u32,
    /// The metric.
    pub metric: String,
    /// Sessions both configs have a value for.
    pub n: usize,
    /// The shadow's mean over them.
    pub shadow_mean: f64,
    /// The active config's mean over them.
    pub active_mean: f64,
    /// Mean of shadow − active.
    pub diff_mean: f64,
    /// Newey–West t-statistic of that mean (0 with fewer than two pairs or no spread).
    pub t_stat: f64,
    /// Whether this is the engine's primary metric (what its configs are labelled by).
    pub primary: bool,
}

/// Pairs the outcomes of `shadow` and `active` (configs of `engine`) by session, subject,
/// horizon and metric; the primary metric first, then by name and horizon.
pub fn compare(
    records: &[OutcomeRecord],
    engine: &str,
    shadow: &str,
    active: &str,
) -> Vec<PairedMetric> {
    type Pair = (Option<f64>, Option<f64>);
    let mut by_metric: BTreeMap<(String, u32, String), BTreeMap<NaiveDate, Pair>> = BTreeMap::new();
    for r in records.iter().filter(|r| r.engine == engine) {
        let side = if r.config_id == shadow {
            0
        } else if r.config_id == active {
            1
        } else {
            continue;
        };
        let day = by_metric
            .entry((r.subject.clone(), r.horizon_days, r.metric.clone()))
            .or_default()
            .entry(r.as_of)
            .or_default();
        if side == 0 {
            day.0 = Some(r.value);
        } else {
            day.1 = Some(r.value);
        }
    }
    let primary = primary_metric(engine);
    let mut out: Vec<PairedMetric> = by_metric
        .into_iter()
        .filter_map(|((subject, horizon_days, metric), days)| {
            let pairs: Vec<(f64, f64)> = days
                .into_values()
                .filter_map(|(s, a)| Some((s?, a?)))
                .collect();
            if pairs.is_empty() {
                return None;
            }
            let n = pairs.len();
            let mean = |f: fn(&(f64, f64)) -> f64| pairs.iter().map(f).sum::<f64>() / n as f64;
            let diffs: Vec<f64> = pairs.iter().map(|(s, a)| s - a).collect();
            let diff_mean = diffs.iter().sum::<f64>() / n as f64;
            let var =
                newey_west_var_of_mean(&diffs, diff_mean, horizon_days.saturating_sub(1) as usize);
            let t_stat = if n > 1 && var.sqrt() > 1e-15 {
                diff_mean / var.sqrt()
            } else {
                0.0
            };
            let is_primary = primary.is_some_and(|(s, m)| {
                m == metric && (s == subject || (engine == "regime" && s == "label"))
            });
            Some(PairedMetric {
                subject,
                horizon_days,
                metric,
                n,
                shadow_mean: mean(|p| p.0),
                active_mean: mean(|p| p.1),
                diff_mean,
                t_stat,
                primary: is_primary,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.primary
            .cmp(&a.primary)
            .then_with(|| a.subject.cmp(&b.subject))
            .then_with(|| a.metric.cmp(&b.metric))
            .then_with(|| a.horizon_days.cmp(&b.horizon_days))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(config: &str, day: u32, metric: &str, value: f64) -> OutcomeRecord {
        OutcomeRecord {
            engine: "portfolio".into(),
            config_id: config.into(),
            market_id: "US_EQ".into(),
            as_of: NaiveDate::from_ymd_opt(2024, 1, day).unwrap(),
            regime: None,
            subject: "portfolio".into(),
            horizon_days: 1,
            metric: metric.into(),
            value,
        }
    }

    #[test]
    fn metrics_pair_by_session_and_the_primary_comes_first() {
        let mut records = Vec::new();
        for d in 1..=10 {
            let x = f64::from(d) * 0.001;
            records.push(rec(
                "shadow",
                d,
                "active_return",
                x + 0.002 + 0.0005 * f64::from(d % 2),
            ));
            records.push(rec("active", d, "active_return", x));
            records.push(rec("shadow", d, "vol", 0.1));
            records.push(rec("active", d, "vol", 0.12));
        }
        // A session only the shadow has does not pair; another config is ignored.
        records.push(rec("shadow", 11, "active_return", 9.0));
        records.push(rec("other", 3, "active_return", 9.0));
        let c = compare(&records, "portfolio", "shadow", "active");
        assert_eq!(c.len(), 2);
        assert!(c[0].primary && c[0].metric == "active_return");
        assert_eq!(c[0].n, 10);
        assert!(
            (c[0].diff_mean - 0.00225).abs() < 1e-12,
            "{}",
            c[0].diff_mean
        );
        assert!(
            c[0].t_stat > 10.0,
            "a steady edge is significant: {}",
            c[0].t_stat
        );
        assert!((c[1].diff_mean + 0.02).abs() < 1e-12);
        assert_eq!(c[1].t_stat, 0.0, "no spread, no evidence");
        assert!(compare(&records, "regime", "shadow", "active").is_empty());
    }
}

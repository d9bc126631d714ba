//! An experiment: one config (the active one, or a candidate) run walk-forward through the
//! backtest machinery over an in-sample period and a holdout the search never saw, and the
//! evaluation the gates judge — metrics per period, by regime, over the crisis-replay
//! windows, and the in-sample daily returns.
//!
//! The backtest is walk-forward by construction: every rebalance date's engines read only
//! what was known then, and the assessment fits its weights on forecasts whose horizon had
//! ended. The split into periods happens on the resulting daily returns.

use crate::backtest::metrics::{DayPoint, metrics};
use crate::config::tunable::get_path;
use crate::kronos::gates::{Evaluation, PeriodMetrics, RegimeSlice};
use crate::kronos::proposals::Change;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What an experiment runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentSpec {
    /// The market.
    pub market: String,
    /// The strategy (a name under `config/strategies/`) whose engines and broker it uses.
    pub strategy: String,
    /// The engine whose config differs from the active one (`None`: the baseline).
    pub engine: Option<String>,
    /// Per engine, the JSON merged over its active config (the candidate's changes; `null`
    /// removes an optional key).
    pub overlay: BTreeMap<String, Value>,
    /// The active config ids the experiment was set up against, by engine: a run that finds
    /// another active config refuses (the comparison would be with the wrong baseline).
    pub base_configs: BTreeMap<String, String>,
    /// First and last day of the period the search is judged on.
    pub in_sample: (NaiveDate, NaiveDate),
    /// First and last day of the holdout.
    pub holdout: (NaiveDate, NaiveDate),
    /// The "reads the future" negative control's look-ahead (nothing else sets it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_ahead: Option<LookAhead>,
}

/// One engine shown prices `sessions` sessions ahead under today's dates: what a config
/// that reads the future would see. Only the negative control of that name sets it; the
/// `point_in_time` gate must catch it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LookAhead {
    /// The engine whose price reads look ahead.
    pub engine: String,
    /// How many sessions ahead.
    pub sessions: u32,
}

/// The JSON to merge over the active config to obtain a candidate: each changed key's
/// top-level object path down to (not into) an array, with the candidate's value there
/// (`null` where the candidate lacks it).
pub fn overlay_of(changes: &[Change], candidate: &Value) -> Value {
    let mut out = Value::Object(serde_json::Map::new());
    for c in changes {
        // The longest prefix that runs through objects only.
        let mut prefix: Vec<&str> = Vec::new();
        for part in c.key.split('.') {
            let path = if prefix.is_empty() {
                part.to_owned()
            } else {
                format!("{}.{part}", prefix.join("."))
            };
            prefix.push(part);
            if get_path(candidate, &path).is_some_and(Value::is_array)
                || part.parse::<usize>().is_ok()
            {
                break;
            }
        }
        if prefix.last().is_some_and(|p| p.parse::<usize>().is_ok()) {
            prefix.pop();
        }
        let path = prefix.join(".");
        let value = get_path(candidate, &path).cloned().unwrap_or(Value::Null);
        crate::config::tunable::set_path(&mut out, &path, Some(value));
    }
    out
}

/// One session of an experiment's backtest.
#[derive(Clone, Debug, PartialEq)]
pub struct Session {
    /// The date.
    pub date: NaiveDate,
    /// What the metrics need.
    pub point: DayPoint,
    /// The regime in force.
    pub regime: Option<String>,
}

/// Sessions of the crisis-replay windows.
pub const CRISIS_WINDOW: usize = 21;
/// How many windows.
pub const CRISIS_WINDOWS: usize = 3;

/// The worst non-overlapping `CRISIS_WINDOW`-session windows of the benchmark (start
/// indices, worst first), at most `CRISIS_WINDOWS`; the same for every config judged on
/// the same sessions.
pub fn crisis_windows(sessions: &[Session]) -> Vec<usize> {
    let n = sessions.len();
    if n < CRISIS_WINDOW {
        return Vec::new();
    }
    let mut windows: Vec<(f64, usize)> = (0..=n - CRISIS_WINDOW)
        .map(|s| {
            let growth: f64 = sessions[s..s + CRISIS_WINDOW]
                .iter()
                .map(|x| 1.0 + x.point.benchmark.unwrap_or(0.0))
                .product();
            (growth - 1.0, s)
        })
        .collect();
    windows.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let mut chosen: Vec<usize> = Vec::new();
    for (_, s) in windows {
        if chosen.len() == CRISIS_WINDOWS {
            break;
        }
        if chosen
            .iter()
            .all(|c| s + CRISIS_WINDOW <= *c || *c + CRISIS_WINDOW <= s)
        {
            chosen.push(s);
        }
    }
    chosen
}

fn period(points: &[DayPoint]) -> PeriodMetrics {
    let m = metrics(points);
    PeriodMetrics {
        days: m.days,
        sharpe: m.sharpe,
        max_drawdown: m.max_drawdown,
        turnover: m.turnover,
        cost_drag: m.cost_drag,
        total_return: m.total_return,
    }
}

/// The evaluation of a config from its backtest's sessions (in date order); its
/// `future_reads` is the caller's to set, from the backtest's read audit.
pub fn evaluate(spec: &ExperimentSpec, sessions: &[Session]) -> Evaluation {
    let inside = |(a, b): (NaiveDate, NaiveDate)| -> Vec<DayPoint> {
        sessions
            .iter()
            .filter(|s| s.date >= a && s.date <= b)
            .map(|s| s.point.clone())
            .collect()
    };
    let in_sample = inside(spec.in_sample);
    let holdout = inside(spec.holdout);
    let mut by_regime: BTreeMap<String, Vec<DayPoint>> = BTreeMap::new();
    for s in sessions {
        by_regime
            .entry(s.regime.clone().unwrap_or_else(|| "UNKNOWN".into()))
            .or_default()
            .push(s.point.clone());
    }
    let crisis_returns = crisis_windows(sessions)
        .into_iter()
        .map(|start| {
            sessions[start..start + CRISIS_WINDOW]
                .iter()
                .map(|s| 1.0 + s.point.ret)
                .product::<f64>()
                - 1.0
        })
        .collect();
    Evaluation {
        in_sample_returns: in_sample.iter().map(|p| p.ret).collect(),
        in_sample: period(&in_sample),
        holdout: period(&holdout),
        regimes: by_regime
            .into_iter()
            .map(|(regime, pts)| RegimeSlice {
                regime,
                days: pts.len(),
                sharpe: metrics(&pts).sharpe,
            })
            .collect(),
        crisis_returns,
        future_reads: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(key: &str) -> Change {
        Change {
            key: key.into(),
            from: None,
            to: None,
        }
    }

    #[test]
    fn an_overlay_carries_whole_arrays_nested_keys_and_nulls() {
        let candidate = json!({
            "prior": [0.01, 0.02, 0.05],
            "limits": {"max_ex_ante_vol": null, "min_scenario_coverage": 0.95},
            "risk_aversion": 8.0,
        });
        let overlay = overlay_of(
            &[
                change("prior.2"),
                change("limits.max_ex_ante_vol"),
                change("risk_aversion"),
            ],
            &candidate,
        );
        assert_eq!(
            overlay,
            json!({
                "prior": [0.01, 0.02, 0.05],
                "limits": {"max_ex_ante_vol": null},
                "risk_aversion": 8.0,
            })
        );
        // A key the candidate lacks is unset explicitly.
        assert_eq!(
            overlay_of(&[change("turnover_limit")], &json!({})),
            json!({"turnover_limit": null})
        );
    }

    fn sessions(benchmark: &[f64], ret: f64) -> Vec<Session> {
        let d0 = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        benchmark
            .iter()
            .enumerate()
            .map(|(i, b)| Session {
                date: d0 + chrono::Days::new(i as u64),
                point: DayPoint {
                    ret,
                    benchmark: Some(*b),
                    equity: 1.0,
                    traded: 0.0,
                    costs: 0.0,
                },
                regime: Some(if i < 100 { "CARRY" } else { "RISK_OFF" }.into()),
            })
            .collect()
    }

    #[test]
    fn crisis_windows_are_the_worst_non_overlapping_benchmark_months() {
        let mut b = vec![0.001; 200];
        for x in &mut b[30..40] {
            *x = -0.02;
        }
        for x in &mut b[150..155] {
            *x = -0.03;
        }
        let w = crisis_windows(&sessions(&b, 0.0));
        assert_eq!(w.len(), 3);
        // The two crashes first (each window covering its crash), then the next worst,
        // none overlapping.
        assert!(
            (20..=30).contains(&w[0]) || (134..=150).contains(&w[0]),
            "{w:?}"
        );
        for (i, a) in w.iter().enumerate() {
            for c in &w[i + 1..] {
                assert!(a + CRISIS_WINDOW <= *c || c + CRISIS_WINDOW <= *a, "{w:?}");
            }
        }
        assert!(crisis_windows(&sessions(&b[..10], 0.0)).is_empty());
    }

    #[test]
    fn an_evaluation_splits_periods_and_regimes() {
        let s = sessions(&[0.0; 200], 0.001);
        let d = |i: u64| NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i);
        let spec = ExperimentSpec {
            look_ahead: None,
            market: "US_EQ".into(),
            strategy: "core_long_eq".into(),
            engine: None,
            overlay: BTreeMap::new(),
            base_configs: BTreeMap::new(),
            in_sample: (d(0), d(149)),
            holdout: (d(150), d(199)),
        };
        let e = evaluate(&spec, &s);
        assert_eq!((e.in_sample.days, e.holdout.days), (150, 50));
        assert_eq!(e.in_sample_returns.len(), 150);
        assert_eq!(
            e.regimes
                .iter()
                .map(|r| (r.regime.as_str(), r.days))
                .collect::<Vec<_>>(),
            vec![("CARRY", 100), ("RISK_OFF", 100)]
        );
        assert_eq!(e.crisis_returns.len(), 3);
        assert!((e.crisis_returns[0] - (1.001f64.powi(21) - 1.0)).abs() < 1e-12);
    }
}

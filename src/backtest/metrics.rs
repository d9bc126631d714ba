//! Performance metrics of an equity curve, overall and by regime.
//!
//! Returns are daily and simple; annualisation uses 252 sessions; the risk-free rate is 0.
//! Tracking error and information ratio compare each day's return with the benchmark's.
//! Every figure comes with what qualifies it: gross of costs beside net, the probabilistic
//! Sharpe ratio, and (in reports) block-bootstrap intervals ([`super::inference`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::inference::{Intervals, bootstrap_intervals, newey_west_lags, newey_west_t};
use crate::kronos::stats::{ReturnMoments, probabilistic_sharpe};

use crate::engines::portfolio::risk::{ANNUAL_DAYS, RiskReport};

/// Metrics of one sample of days.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Sessions.
    pub days: usize,
    /// Compound return over the sample.
    pub total_return: f64,
    /// Compound annual growth rate.
    pub cagr: f64,
    /// Annualised volatility.
    pub volatility: f64,
    /// Annualised mean return over volatility.
    pub sharpe: f64,
    /// Annualised mean return over downside deviation.
    pub sortino: f64,
    /// Largest peak-to-trough fall of the compounded returns (positive).
    pub max_drawdown: f64,
    /// CAGR over max drawdown.
    pub calmar: f64,
    /// Share of sessions with a positive return.
    pub hit_rate: f64,
    /// Annualised one-way turnover: value traded / 2 / mean equity per year.
    pub turnover: f64,
    /// Commission and slippage as a share of mean equity, per year.
    pub cost_drag: f64,
    /// Annualised standard deviation of the return over the benchmark's.
    pub tracking_error: Option<f64>,
    /// Annualised mean active return over tracking error.
    pub information_ratio: Option<f64>,
    /// The benchmark's compound return over the same days.
    pub benchmark_return: Option<f64>,
    /// Compound return before commission and slippage: set beside `total_return`, what
    /// trading cost.
    #[serde(default)]
    pub gross_return: f64,
    /// Compound annual growth rate before costs.
    #[serde(default)]
    pub gross_cagr: f64,
    /// Probabilistic Sharpe ratio: the probability that the true Sharpe ratio is above
    /// zero given this sample's length, skewness and kurtosis (Bailey & López de Prado).
    #[serde(default)]
    pub psr: Option<f64>,
    /// 95% block-bootstrap intervals of the headline metrics (reports only; `None` for
    /// fewer than two months of sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Intervals>,
}

/// One session's inputs to the metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct DayPoint {
    /// The portfolio's return.
    pub ret: f64,
    /// The benchmark's return, when known.
    pub benchmark: Option<f64>,
    /// Equity at the close.
    pub equity: f64,
    /// Value traded.
    pub traded: f64,
    /// Costs paid.
    pub costs: f64,
}

/// The day's return before its costs: the costs were paid out of the equity the day began
/// with (`equity / (1 + ret)`).
fn gross(p: &DayPoint) -> f64 {
    if p.equity > 0.0 && p.ret > -1.0 {
        p.ret + p.costs * (1.0 + p.ret) / p.equity
    } else {
        p.ret
    }
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    if x.is_empty() {
        return (0.0, 0.0);
    }
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = if x.len() > 1 {
        x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

/// Compound annual growth of `growth` (final over initial equity) over `years`.
fn annual_growth(growth: f64, years: f64) -> f64 {
    if growth <= 0.0 {
        -1.0
    } else if years > 0.0 {
        growth.powf(1.0 / years) - 1.0
    } else {
        0.0
    }
}

/// The headline statistics of a daily return path: what [`metrics`] reports and what the
/// bootstrap ([`super::inference`]) recomputes on every resample.
pub(super) struct PathStats {
    /// Final over initial equity.
    pub(super) growth: f64,
    /// Mean daily return.
    pub(super) mean: f64,
    /// Compound annual growth rate.
    pub(super) cagr: f64,
    /// Annualised mean over standard deviation.
    pub(super) sharpe: f64,
    /// Annualised standard deviation.
    pub(super) volatility: f64,
    /// Largest peak-to-trough fall (positive).
    pub(super) max_drawdown: f64,
}

/// The [`PathStats`] of `r` (in order).
pub(super) fn path_stats(r: &[f64]) -> PathStats {
    let (mean, sd) = mean_sd(r);
    let mut peak = 1.0f64;
    let mut level = 1.0f64;
    let mut max_drawdown = 0.0f64;
    for x in r {
        level *= 1.0 + x;
        peak = peak.max(level);
        max_drawdown = max_drawdown.max(1.0 - level / peak);
    }
    PathStats {
        growth: level,
        mean,
        cagr: annual_growth(level, r.len() as f64 / ANNUAL_DAYS),
        sharpe: ratio(mean * ANNUAL_DAYS.sqrt(), sd),
        volatility: sd * ANNUAL_DAYS.sqrt(),
        max_drawdown,
    }
}

/// The metrics of `points` (in date order; a sample need not be contiguous).
pub fn metrics(points: &[DayPoint]) -> Metrics {
    let r: Vec<f64> = points.iter().map(|p| p.ret).collect();
    let n = r.len();
    let years = n as f64 / ANNUAL_DAYS;
    let path = path_stats(&r);
    let (growth, mean, cagr, max_dd) = (path.growth, path.mean, path.cagr, path.max_drawdown);
    let downside = if n > 0 {
        (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / n as f64).sqrt()
    } else {
        0.0
    };
    let gross_growth: f64 = points.iter().map(|p| 1.0 + gross(p)).product();
    let mean_equity = points.iter().map(|p| p.equity).sum::<f64>() / n.max(1) as f64;
    let traded: f64 = points.iter().map(|p| p.traded).sum();
    let costs: f64 = points.iter().map(|p| p.costs).sum();
    let active: Vec<f64> = points
        .iter()
        .filter_map(|p| p.benchmark.map(|b| p.ret - b))
        .collect();
    let (tracking_error, information_ratio, benchmark_return) = if active.len() > 1 {
        let (am, asd) = mean_sd(&active);
        let te = asd * ANNUAL_DAYS.sqrt();
        let bench: f64 = points
            .iter()
            .filter_map(|p| p.benchmark)
            .map(|b| 1.0 + b)
            .product();
        (
            Some(te),
            Some(ratio(am * ANNUAL_DAYS, te)),
            Some(bench - 1.0),
        )
    } else {
        (None, None, None)
    };
    Metrics {
        days: n,
        total_return: growth - 1.0,
        cagr,
        volatility: path.volatility,
        sharpe: path.sharpe,
        sortino: ratio(mean * ANNUAL_DAYS.sqrt(), downside),
        max_drawdown: max_dd,
        calmar: ratio(cagr, max_dd),
        hit_rate: ratio(r.iter().filter(|x| **x > 0.0).count() as f64, n as f64),
        turnover: ratio(traded / 2.0 / mean_equity.max(f64::MIN_POSITIVE), years),
        cost_drag: ratio(costs / mean_equity.max(f64::MIN_POSITIVE), years),
        tracking_error,
        information_ratio,
        benchmark_return,
        gross_return: gross_growth - 1.0,
        gross_cagr: annual_growth(gross_growth, years),
        psr: ReturnMoments::of(&r)
            .map(|m| probabilistic_sharpe(&m, 0.0))
            .filter(|p| p.is_finite()),
        intervals: None,
    }
}

/// [`metrics`] with their bootstrap intervals.
fn metrics_with_intervals(points: &[DayPoint]) -> Metrics {
    let returns: Vec<f64> = points.iter().map(|p| p.ret).collect();
    Metrics {
        intervals: bootstrap_intervals(&returns),
        ..metrics(points)
    }
}

/// Metrics overall and for each regime label (the label in force each day).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Every session.
    pub overall: Metrics,
    /// Sessions by regime label (`UNKNOWN` before the first regime).
    pub by_regime: BTreeMap<String, Metrics>,
    /// Mean IC of the assessment's forecasts evaluated in the range, when it ran.
    pub ic: Option<f64>,
    /// Mean rank IC of the same.
    pub rank_ic: Option<f64>,
    /// Assessment runs whose forecasts were evaluated (the samples of the means above).
    #[serde(default)]
    pub ic_samples: usize,
    /// Newey–West t-statistic of the mean IC (lags by [`newey_west_lags`]): reported, not
    /// assumed positive.
    #[serde(default)]
    pub ic_t: Option<f64>,
    /// Newey–West t-statistic of the mean rank IC.
    #[serde(default)]
    pub rank_ic_t: Option<f64>,
    /// What the targets were like: how often caps decided them, how often a day was
    /// defensive.
    #[serde(default)]
    pub targets: TargetStats,
}

/// Counts over a backtest's targets, from their risk reports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetStats {
    /// Rebalances with a stored target.
    pub rebalances: usize,
    /// Rebalances where the per-name cap bound most of the names held.
    pub cap_bound: usize,
    /// Rebalances with a defensive target (no eligible name: cash or hold).
    pub defensive: usize,
    /// Rebalances that held part of the budget in cash because the caps could not place it.
    pub partly_cash: usize,
}

impl TargetStats {
    /// The counts over `reports`.
    pub fn of<'a>(reports: impl IntoIterator<Item = &'a RiskReport>) -> Self {
        let mut s = Self::default();
        for r in reports {
            s.rebalances += 1;
            s.cap_bound += usize::from(r.cap_bound_most());
            s.defensive += usize::from(r.defensive.is_some());
            s.partly_cash += usize::from(r.defensive.is_none() && r.cash > 1e-9);
        }
        s
    }
}

/// The report of `points` with each day's regime label: metrics with their intervals
/// overall and per label (a label's days need not be consecutive; its bootstrap resamples
/// them in order), and the assessment's skill `ics` (IC, rank IC per evaluated run) with
/// t-statistics.
pub fn report(points: &[DayPoint], regimes: &[Option<String>], ics: &[(f64, f64)]) -> Report {
    let mut groups: BTreeMap<String, Vec<DayPoint>> = BTreeMap::new();
    for (p, r) in points.iter().zip(regimes) {
        groups
            .entry(r.clone().unwrap_or_else(|| "UNKNOWN".to_owned()))
            .or_default()
            .push(p.clone());
    }
    let mean = |f: fn(&(f64, f64)) -> f64| {
        (!ics.is_empty()).then(|| ics.iter().map(f).sum::<f64>() / ics.len() as f64)
    };
    let t_stat = |f: fn(&(f64, f64)) -> f64| {
        let x: Vec<f64> = ics.iter().map(f).collect();
        newey_west_t(&x, newey_west_lags(x.len()))
    };
    Report {
        overall: metrics_with_intervals(points),
        by_regime: groups
            .into_iter()
            .map(|(k, v)| (k, metrics_with_intervals(&v)))
            .collect(),
        ic: mean(|x| x.0),
        rank_ic: mean(|x| x.1),
        ic_samples: ics.len(),
        ic_t: t_stat(|x| x.0),
        rank_ic_t: t_stat(|x| x.1),
        targets: TargetStats::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(ret: f64, benchmark: f64) -> DayPoint {
        DayPoint {
            ret,
            benchmark: Some(benchmark),
            equity: 100.0,
            traded: 10.0,
            costs: 0.01,
        }
    }

    #[test]
    fn metrics_match_hand_computation() {
        let pts: Vec<DayPoint> = [0.01, -0.02, 0.03, -0.01]
            .iter()
            .map(|r| point(*r, 0.0))
            .collect();
        let m = metrics(&pts);
        let growth = 1.01 * 0.98 * 1.03 * 0.99;
        assert!((m.total_return - (growth - 1.0)).abs() < 1e-15);
        // Peak 1.01, trough 1.01·0.98 → drawdown 2%.
        assert!((m.max_drawdown - 0.02).abs() < 1e-12);
        assert_eq!(m.hit_rate, 0.5);
        let mean: f64 = 0.0025;
        let sd = ((0.0075f64.powi(2) + 0.0225f64.powi(2) + 0.0275f64.powi(2) + 0.0125f64.powi(2))
            / 3.0)
            .sqrt();
        assert!((m.sharpe - mean / sd * 252f64.sqrt()).abs() < 1e-12);
        let downside = ((0.02f64.powi(2) + 0.01f64.powi(2)) / 4.0).sqrt();
        assert!((m.sortino - mean / downside * 252f64.sqrt()).abs() < 1e-12);
        // Turnover: 40 traded / 2 / 100 over 4/252 years.
        assert!((m.turnover - 0.2 / (4.0 / 252.0)).abs() < 1e-9);
        assert!((m.tracking_error.unwrap() - m.volatility).abs() < 1e-12);
        assert_eq!(m.benchmark_return, Some(0.0));
        // Gross of costs: each day paid 0.01 out of the equity it began with.
        let gross: f64 = [0.01f64, -0.02, 0.03, -0.01]
            .iter()
            .map(|r| 1.0 + r + 0.01 * (1.0 + r) / 100.0)
            .product();
        assert!((m.gross_return - (gross - 1.0)).abs() < 1e-15);
        assert!(m.gross_return > m.total_return);
        // PSR of a mean-positive sample is above one half; no intervals outside reports.
        assert!(m.psr.unwrap() > 0.5 && m.psr.unwrap() < 1.0);
        assert!(m.intervals.is_none());
    }

    #[test]
    fn report_splits_by_regime() {
        let pts: Vec<DayPoint> = [0.01, -0.05, 0.02].iter().map(|r| point(*r, 0.0)).collect();
        let regimes = [None, Some("CRISIS".to_owned()), Some("CARRY".to_owned())];
        let r = report(&pts, &regimes, &[(0.1, 0.2), (0.3, 0.0)]);
        assert_eq!(r.by_regime["CRISIS"].days, 1);
        assert!((r.by_regime["CRISIS"].total_return + 0.05).abs() < 1e-15);
        assert_eq!(r.by_regime["UNKNOWN"].days, 1);
        assert!((r.ic.unwrap() - 0.2).abs() < 1e-15);
        assert!((r.rank_ic.unwrap() - 0.1).abs() < 1e-15);
        assert_eq!(r.ic_samples, 2);
        // Too short for intervals.
        assert!(r.overall.intervals.is_none());
    }

    #[test]
    fn reports_carry_intervals_and_ic_t_statistics() {
        let pts: Vec<DayPoint> = (0..300)
            .map(|t| point(0.001 + 0.01 * ((t * 7 % 11) as f64 - 5.0) / 5.0, 0.0))
            .collect();
        let regimes: Vec<Option<String>> = (0..300)
            .map(|t| Some(if t < 200 { "CARRY" } else { "RISK_OFF" }.to_owned()))
            .collect();
        let ics: Vec<(f64, f64)> = (0..24)
            .map(|i| {
                (
                    0.05 + 0.02 * f64::from(i % 3),
                    0.04 + 0.03 * f64::from(i % 4),
                )
            })
            .collect();
        let r = report(&pts, &regimes, &ics);
        let i = r.overall.intervals.as_ref().unwrap();
        assert!(i.sharpe.low < r.overall.sharpe && r.overall.sharpe < i.sharpe.high);
        assert_eq!(r.by_regime["RISK_OFF"].days, 100);
        assert!(r.by_regime["RISK_OFF"].intervals.is_some());
        assert_eq!(r.ic_samples, 24);
        let x: Vec<f64> = ics.iter().map(|v| v.1).collect();
        assert_eq!(r.rank_ic_t, newey_west_t(&x, newey_west_lags(24)));
        assert!(r.rank_ic_t.unwrap() > 2.0);
        // Older stored reports (without the new fields) still read.
        let mut v = serde_json::to_value(&r).unwrap();
        for k in ["ic_samples", "ic_t", "rank_ic_t"] {
            v.as_object_mut().unwrap().remove(k);
        }
        for k in ["gross_return", "gross_cagr", "psr", "intervals"] {
            v["overall"].as_object_mut().unwrap().remove(k);
        }
        let old: Report = serde_json::from_value(v).unwrap();
        assert_eq!(old.overall.days, 300);
    }
}

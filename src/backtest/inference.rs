//! How sure a backtest's numbers are: block-bootstrap confidence intervals for the headline
//! metrics and Newey–West t-statistics for means of autocorrelated series.
//!
//! Why a *block* bootstrap: daily returns cluster (volatility today predicts volatility
//! tomorrow), so resampling single days would understate how much a Sharpe ratio or a
//! drawdown could have differed. Resampling runs of [`BOOTSTRAP_BLOCK`] consecutive sessions
//! (circularly, so every day is equally likely to be drawn) keeps a month of that
//! dependence. Why Newey–West: the skill of forecasts over overlapping horizons is
//! autocorrelated, and an ordinary t-statistic of its mean would overstate significance.
//! The resamples come from a fixed seed, so a report is reproducible to the byte.

use super::metrics::path_stats;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Resamples per interval.
pub const BOOTSTRAP_RESAMPLES: usize = 1000;
/// Sessions per resampled block (about a month).
pub const BOOTSTRAP_BLOCK: usize = 21;
/// The resampler's seed: fixed, so the same returns always give the same intervals.
pub const BOOTSTRAP_SEED: u64 = 0x5eed_b007;
/// Two-sided coverage of the intervals.
pub const CONFIDENCE: f64 = 0.95;

/// A two-sided confidence interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// [`CONFIDENCE`] intervals of the headline metrics from a circular block bootstrap.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// Annualised Sharpe ratio.
    pub sharpe: Interval,
    /// Compound annual growth rate.
    pub cagr: Interval,
    /// Annualised volatility.
    pub volatility: Interval,
    /// Largest peak-to-trough fall.
    pub max_drawdown: Interval,
    /// Resamples drawn.
    pub resamples: usize,
    /// Sessions per block.
    pub block: usize,
}

/// The `q` quantile of sorted `v` (linear between neighbours).
fn quantile(v: &[f64], q: f64) -> f64 {
    let pos = q * (v.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos.fract());
    let next = v[(i + 1).min(v.len() - 1)];
    v[i] + frac * (next - v[i])
}

fn interval(mut v: Vec<f64>) -> Interval {
    v.sort_by(f64::total_cmp);
    let tail = (1.0 - CONFIDENCE) / 2.0;
    Interval {
        low: quantile(&v, tail),
        high: quantile(&v, 1.0 - tail),
    }
}

/// Intervals for the metrics of `returns` (daily, in order); `None` with fewer than two
/// blocks of sessions, where a block bootstrap says nothing.
pub fn bootstrap_intervals(returns: &[f64]) -> Option<Intervals> {
    let n = returns.len();
    if n < 2 * BOOTSTRAP_BLOCK {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(BOOTSTRAP_SEED);
    let mut path = Vec::with_capacity(n);
    let mut stats = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
    for _ in 0..BOOTSTRAP_RESAMPLES {
        path.clear();
        while path.len() < n {
            let start = rng.random_range(0..n);
            let take = BOOTSTRAP_BLOCK.min(n - path.len());
            path.extend((start..start + take).map(|i| returns[i % n]));
        }
        stats.push(path_stats(&path));
    }
    Some(Intervals {
        sharpe: interval(stats.iter().map(|s| s.sharpe).collect()),
        cagr: interval(stats.iter().map(|s| s.cagr).collect()),
        volatility: interval(stats.iter().map(|s| s.volatility).collect()),
        max_drawdown: interval(stats.iter().map(|s| s.max_drawdown).collect()),
        resamples: BOOTSTRAP_RESAMPLES,
        block: BOOTSTRAP_BLOCK,
    })
}

/// The usual automatic lag count of a Newey–West estimator for `n` observations:
/// ⌊4 (n/100)^(2/9)⌋.
pub fn newey_west_lags(n: usize) -> usize {
    (4.0 * (n as f64 / 100.0).powf(2.0 / 9.0)).floor() as usize
}

/// The t-statistic of the mean of `x` with a Newey–West (Bartlett-kernel) variance over
/// `lags` autocovariances; `None` with fewer than 3 observations or no variation.
pub fn newey_west_t(x: &[f64], lags: usize) -> Option<f64> {
    let n = x.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mean = x.iter().sum::<f64>() / nf;
    let e: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let gamma = |l: usize| (l..n).map(|t| e[t] * e[t - l]).sum::<f64>() / nf;
    let lags = lags.min(n - 1);
    let mut s = gamma(0);
    for l in 1..=lags {
        s += 2.0 * (1.0 - l as f64 / (lags as f64 + 1.0)) * gamma(l);
    }
    (s > 0.0).then(|| mean / (s / nf).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    #[test]
    fn intervals_cover_the_estimate_and_are_reproducible() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let normal = Normal::new(0.0005, 0.01).unwrap();
        let r: Vec<f64> = (0..2520).map(|_| normal.sample(&mut rng)).collect();
        let point = path_stats(&r);
        let i = bootstrap_intervals(&r).unwrap();
        assert_eq!(Some(i.clone()), bootstrap_intervals(&r), "seeded");
        for (name, iv, x) in [
            ("sharpe", i.sharpe, point.sharpe),
            ("cagr", i.cagr, point.cagr),
            ("volatility", i.volatility, point.volatility),
            ("max_drawdown", i.max_drawdown, point.max_drawdown),
        ] {
            assert!(iv.low < x && x < iv.high, "{name}: {x} outside {iv:?}");
        }
        // Ten years of a 0.8-Sharpe strategy: the Sharpe ratio's standard error is about
        // sqrt((1 + 0.8²/2) / 10) ≈ 0.36, so the 95% interval is about 1.4 wide.
        let width = i.sharpe.high - i.sharpe.low;
        assert!((0.9..1.7).contains(&width), "Sharpe interval width {width}");
        assert!(bootstrap_intervals(&r[..30]).is_none());
    }

    #[test]
    fn newey_west_matches_the_plain_t_without_lags_and_shrinks_with_autocorrelation() {
        let x = [0.1, -0.05, 0.2, 0.05, 0.0, 0.15, -0.1, 0.12];
        let n = x.len() as f64;
        let mean = x.iter().sum::<f64>() / n;
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        let t0 = newey_west_t(&x, 0).unwrap();
        assert!((t0 - mean / (var / n).sqrt()).abs() < 1e-12);
        // Overlapping sums of a white-noise series are positively autocorrelated: the HAC
        // t-statistic is smaller than the naive one.
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let normal = Normal::new(0.02, 1.0).unwrap();
        let w: Vec<f64> = (0..600).map(|_| normal.sample(&mut rng)).collect();
        let overlapping: Vec<f64> = w.windows(21).map(|s| s.iter().sum()).collect();
        let naive = newey_west_t(&overlapping, 0).unwrap();
        let hac = newey_west_t(&overlapping, 20).unwrap();
        assert!(hac.abs() < naive.abs() / 2.0, "naive {naive}, HAC {hac}");
        assert_eq!(newey_west_lags(100), 4);
        assert!(newey_west_t(&[1.0, 1.0, 1.0], 1).is_none());
    }
}

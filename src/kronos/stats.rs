//! The statistics Kronos judges candidates with: the probabilistic and deflated Sharpe
//! ratios (Bailey & López de Prado, 2012 and 2014) and the probability of backtest
//! overfitting by combinatorially symmetric cross-validation (Bailey, Borwein, López de
//! Prado & Zhu, 2017).
//!
//! Why these: a sweep that tries many configs will find one whose in-sample Sharpe looks
//! good by luck alone. The deflated Sharpe ratio asks whether the winner beats the best
//! Sharpe that `N` skill-less trials would be expected to reach; PBO asks how often the
//! in-sample winner ranks below the median out of sample. Sharpe ratios here are per
//! period (not annualised), as both papers define them.

use serde::{Deserialize, Serialize};

/// The Euler–Mascheroni constant (the expected maximum of Gaussians uses it).
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// The standard normal cumulative distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// The standard normal quantile function (inverse CDF) for `p` in (0, 1): Acklam's rational
/// approximation polished by one Halley step on [`normal_cdf`] (full double precision).
/// Returns ±infinity at 0 and 1, NaN outside.
pub fn normal_quantile(p: f64) -> f64 {
    if !(0.0..=1.0).contains(&p) || p.is_nan() {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const LOW: f64 = 0.024_25;
    let x = if p < LOW {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p <= 1.0 - LOW {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    // One Halley step: e = Φ(x) − p, u = e·√(2π)·exp(x²/2).
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// The moments of a return series the Sharpe statistics need.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReturnMoments {
    /// Observations.
    pub n: usize,
    /// Per-period Sharpe ratio: mean over standard deviation (sample, n − 1).
    pub sharpe: f64,
    /// Skewness (population, third standardised moment).
    pub skew: f64,
    /// Kurtosis (population, fourth standardised moment; 3 for a Gaussian).
    pub kurtosis: f64,
}

impl ReturnMoments {
    /// The moments of `returns`; `None` with fewer than 3 observations or no variation.
    pub fn of(returns: &[f64]) -> Option<Self> {
        let n = returns.len();
        if n < 3 {
            return None;
        }
        let nf = n as f64;
        let mean = returns.iter().sum::<f64>() / nf;
        let m2 = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / nf;
        if m2 <= 0.0 || !m2.is_finite() {
            return None;
        }
        let m3 = returns.iter().map(|r| (r - mean).powi(3)).sum::<f64>() / nf;
        let m4 = returns.iter().map(|r| (r - mean).powi(4)).sum::<f64>() / nf;
        let sd = (m2 * nf / (nf - 1.0)).sqrt();
        Some(Self {
            n,
            sharpe: mean / sd,
            skew: m3 / m2.powf(1.5),
            kurtosis: m4 / (m2 * m2),
        })
    }
}

/// The probabilistic Sharpe ratio: the probability that the true per-period Sharpe ratio
/// exceeds `benchmark_sharpe`, given the observed one, the sample length and the returns'
/// skewness and kurtosis (non-normal returns widen the estimate's error).
pub fn probabilistic_sharpe(m: &ReturnMoments, benchmark_sharpe: f64) -> f64 {
    let sr = m.sharpe;
    let var = 1.0 - m.skew * sr + (m.kurtosis - 1.0) / 4.0 * sr * sr;
    if m.n < 2 || var <= 0.0 || !var.is_finite() {
        return f64::NAN;
    }
    normal_cdf((sr - benchmark_sharpe) * ((m.n - 1) as f64).sqrt() / var.sqrt())
}

/// The Sharpe ratio the best of `trials` independent skill-less strategies is expected to
/// reach, when the trials' Sharpe ratios vary with `sharpe_variance` (their sample
/// variance): `√V · ((1−γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)))`. Zero for one trial.
pub fn expected_max_sharpe(trials: usize, sharpe_variance: f64) -> f64 {
    if trials < 2 || sharpe_variance.is_nan() || sharpe_variance <= 0.0 {
        return 0.0;
    }
    let n = trials as f64;
    sharpe_variance.sqrt()
        * ((1.0 - EULER_GAMMA) * normal_quantile(1.0 - 1.0 / n)
            + EULER_GAMMA * normal_quantile(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// The deflated Sharpe ratio: the probabilistic Sharpe ratio of the selected candidate
/// against [`expected_max_sharpe`] of all `trials` tried (the selection's luck removed).
pub fn deflated_sharpe(m: &ReturnMoments, trials: usize, sharpe_variance: f64) -> f64 {
    probabilistic_sharpe(m, expected_max_sharpe(trials, sharpe_variance))
}

/// The result of combinatorially symmetric cross-validation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pbo {
    /// Probability of backtest overfitting: the share of splits in which the in-sample best
    /// config ranks at or below the median out of sample.
    pub pbo: f64,
    /// Splits evaluated (C(S, S/2)).
    pub splits: usize,
    /// The logit of each split's out-of-sample relative rank of the in-sample winner.
    pub logits: Vec<f64>,
}

/// Errors of the cross-validation's inputs.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PboError {
    /// The matrix has fewer than 2 configs.
    #[error("PBO needs at least 2 configs, got {0}")]
    TooFewConfigs(usize),
    /// `blocks` is odd or under 2.
    #[error("PBO needs an even number of blocks ≥ 2, got {0}")]
    BadBlocks(usize),
    /// Fewer rows than blocks.
    #[error("PBO needs at least as many periods ({periods}) as blocks ({blocks})")]
    TooFewPeriods {
        /// Rows.
        periods: usize,
        /// Blocks asked for.
        blocks: usize,
    },
    /// The rows do not all have one value per config.
    #[error("row {row} has {got} values, expected {expected}")]
    Ragged {
        /// Row index.
        row: usize,
        /// Values found.
        got: usize,
        /// Values expected.
        expected: usize,
    },
}

/// Per-period Sharpe ratio of the rows `rows` of column `c` (0 without variation).
fn block_sharpe(returns: &[Vec<f64>], rows: &[usize], c: usize) -> f64 {
    let n = rows.len() as f64;
    if rows.len() < 2 {
        return 0.0;
    }
    let mean = rows.iter().map(|&t| returns[t][c]).sum::<f64>() / n;
    let var = rows
        .iter()
        .map(|&t| (returns[t][c] - mean).powi(2))
        .sum::<f64>()
        / (n - 1.0);
    if var > 0.0 { mean / var.sqrt() } else { 0.0 }
}

/// Every way to choose `k` of `0..n`, in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut cur: Vec<usize> = (0..k).collect();
    if k > n {
        return out;
    }
    loop {
        out.push(cur.clone());
        let Some(i) = (0..k).rev().find(|&i| cur[i] != i + n - k) else {
            return out;
        };
        cur[i] += 1;
        for j in i + 1..k {
            cur[j] = cur[j - 1] + 1;
        }
    }
}

/// The probability of backtest overfitting of the configs whose per-period returns are the
/// columns of `returns` (rows: periods, in time order), by CSCV over `blocks` contiguous
/// blocks of rows: for each half of the blocks taken as the training set, the config with
/// the best training Sharpe is ranked among all configs on the other half. Configs tied
/// with the winner out of sample share the middle of their ranks, and a split whose winner
/// lands exactly on the median counts half (configs that all behave alike carry no
/// evidence either way: 0.5).
///
/// # Errors
/// Fewer than 2 configs, an odd or zero block count, fewer periods than blocks, ragged rows.
pub fn probability_of_overfitting(returns: &[Vec<f64>], blocks: usize) -> Result<Pbo, PboError> {
    let configs = returns.first().map_or(0, Vec::len);
    if configs < 2 {
        return Err(PboError::TooFewConfigs(configs));
    }
    if blocks < 2 || blocks % 2 == 1 {
        return Err(PboError::BadBlocks(blocks));
    }
    if returns.len() < blocks {
        return Err(PboError::TooFewPeriods {
            periods: returns.len(),
            blocks,
        });
    }
    if let Some((row, r)) = returns.iter().enumerate().find(|(_, r)| r.len() != configs) {
        return Err(PboError::Ragged {
            row,
            got: r.len(),
            expected: configs,
        });
    }
    let t = returns.len();
    let bounds: Vec<(usize, usize)> = (0..blocks)
        .map(|b| (b * t / blocks, (b + 1) * t / blocks))
        .collect();
    let mut logits = Vec::new();
    for train in combinations(blocks, blocks / 2) {
        let rows_of = |pick: &dyn Fn(usize) -> bool| -> Vec<usize> {
            (0..blocks)
                .filter(|b| pick(*b))
                .flat_map(|b| bounds[b].0..bounds[b].1)
                .collect()
        };
        let is_rows = rows_of(&|b| train.contains(&b));
        let oos_rows = rows_of(&|b| !train.contains(&b));
        let is: Vec<f64> = (0..configs)
            .map(|c| block_sharpe(returns, &is_rows, c))
            .collect();
        // The first config with the best training Sharpe (deterministic on ties).
        let best = (0..configs).fold(0, |b, c| if is[c] > is[b] { c } else { b });
        let oos: Vec<f64> = (0..configs)
            .map(|c| block_sharpe(returns, &oos_rows, c))
            .collect();
        // Rank 1 = worst … N = best; ties share the middle of their ranks.
        let below = oos.iter().filter(|&&v| v < oos[best]).count();
        let tied = oos.iter().filter(|&&v| v == oos[best]).count();
        let rank = below as f64 + (tied as f64 + 1.0) / 2.0;
        let omega = rank / (configs as f64 + 1.0);
        logits.push((omega / (1.0 - omega)).ln());
    }
    let overfit: f64 = logits
        .iter()
        .map(|l| {
            if l.abs() < 1e-12 {
                0.5
            } else if *l < 0.0 {
                1.0
            } else {
                0.0
            }
        })
        .sum();
    Ok(Pbo {
        pbo: overfit / logits.len() as f64,
        splits: logits.len(),
        logits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn the_normal_distribution_matches_its_tables() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((normal_cdf(1.959_963_984_540_054) - 0.975).abs() < 1e-15);
        assert!((normal_cdf(-3.0) - 0.001_349_898_031_630_094_6).abs() < 1e-17);
        for p in [1e-12, 1e-6, 0.01, 0.024, 0.3, 0.5, 0.9, 0.99, 1.0 - 1e-9] {
            let x = normal_quantile(p);
            assert!((normal_cdf(x) - p).abs() <= 1e-14 * p.max(1e-3), "p = {p}");
        }
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!(normal_quantile(1.5).is_nan());
    }

    #[test]
    fn the_expected_maximum_sharpe_matches_the_paper() {
        // Bailey & López de Prado (2014), the worked example: N = 100 trials whose
        // annualised Sharpe ratios vary with variance 1/2, on daily data over 1,250 days,
        // SR = 2.5 annualised, skew −3, kurtosis 10 → deflated Sharpe ratio ≈ 0.9004.
        let v = 0.5 / 250.0;
        let sr0 = expected_max_sharpe(100, v);
        assert!((sr0 - 0.1132).abs() < 5e-4, "{sr0}");
        let m = ReturnMoments {
            n: 1_250,
            sharpe: 2.5 / 250f64.sqrt(),
            skew: -3.0,
            kurtosis: 10.0,
        };
        let dsr = deflated_sharpe(&m, 100, v);
        assert!((dsr - 0.9004).abs() < 2e-3, "{dsr}");
        assert_eq!(expected_max_sharpe(1, v), 0.0);
    }

    #[test]
    fn the_probabilistic_sharpe_grows_with_evidence() {
        let m = |n| ReturnMoments {
            n,
            sharpe: 0.05,
            skew: 0.0,
            kurtosis: 3.0,
        };
        assert!((probabilistic_sharpe(&m(100), 0.05) - 0.5).abs() < 1e-12);
        assert!(probabilistic_sharpe(&m(2_000), 0.0) > probabilistic_sharpe(&m(100), 0.0));
        let g = ReturnMoments::of(&[0.01, -0.02, 0.03, 0.0, 0.01]).unwrap();
        assert_eq!(g.n, 5);
        assert!(ReturnMoments::of(&[0.01, 0.01, 0.01]).is_none());
    }

    fn noise(t: usize, n: usize, seed: u64) -> Vec<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..t)
            .map(|_| {
                (0..n)
                    .map(|_| {
                        let z: f64 = StandardNormal.sample(&mut rng);
                        0.01 * z
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn pure_noise_overfits_about_half_the_time_and_real_skill_does_not() {
        let r = noise(1_000, 20, 11);
        let p = probability_of_overfitting(&r, 10).unwrap();
        assert_eq!(p.splits, 252);
        // Noise has no skill to find: the in-sample winner is as likely to lose out of sample
        // as to win, or likelier (the halves share one fixed sample).
        assert!(p.pbo > 0.3, "{}", p.pbo);
        // One config with a real edge: the in-sample winner is it, and it wins out of
        // sample too.
        let mut skilled = noise(1_000, 20, 12);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for row in &mut skilled {
            row[7] += 0.004 + 0.0001 * rng.random::<f64>();
        }
        let p = probability_of_overfitting(&skilled, 10).unwrap();
        assert!(p.pbo < 0.05, "{}", p.pbo);
    }

    #[test]
    fn pbo_refuses_bad_inputs() {
        let r = noise(10, 3, 1);
        assert_eq!(
            probability_of_overfitting(&r, 3),
            Err(PboError::BadBlocks(3))
        );
        assert_eq!(
            probability_of_overfitting(&noise(10, 1, 1), 2),
            Err(PboError::TooFewConfigs(1))
        );
        assert!(matches!(
            probability_of_overfitting(&r, 12),
            Err(PboError::TooFewPeriods { .. })
        ));
        let mut ragged = r.clone();
        ragged[4].pop();
        assert!(matches!(
            probability_of_overfitting(&ragged, 2),
            Err(PboError::Ragged { row: 4, .. })
        ));
        assert_eq!(combinations(4, 2).len(), 6);
        // Configs that all behave alike: no evidence either way.
        let same: Vec<Vec<f64>> = noise(100, 1, 5)
            .into_iter()
            .map(|r| vec![r[0]; 4])
            .collect();
        assert_eq!(probability_of_overfitting(&same, 4).unwrap().pbo, 0.5);
    }
}

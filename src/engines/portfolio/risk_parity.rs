//! Equal risk contribution (risk parity): every name contributes the same share of the
//! portfolio's variance, `w_i (Σw)_i = wᵀΣw / n`.
//!
//! Solved by cyclical coordinate descent on the convex programme
//! `min ½ wᵀΣw − (1/n) Σ ln w_i` (Griveau-Billion, Richard & Roncalli, 2013), whose
//! solution, rescaled to sum to one, is the ERC portfolio; each coordinate step is the
//! positive root of a quadratic, so every iterate stays positive.

use crate::engines::covariance::ShrunkCovariance;

/// Largest number of sweeps; ERC converges in a few dozen on real covariances.
const MAX_SWEEPS: usize = 10_000;

/// The risk-parity weights (positive, summing to 1) and whether the sweeps converged to
/// `tol` in the largest relative change of a weight.
pub fn risk_parity_weights(cov: &ShrunkCovariance, tol: f64) -> (Vec<f64>, bool) {
    let n = cov.assets;
    if n == 0 {
        return (Vec::new(), true);
    }
    let budget = 1.0 / n as f64;
    // Start from inverse volatility.
    let mut w: Vec<f64> = (0..n)
        .map(|i| 1.0 / cov.get(i, i).max(f64::MIN_POSITIVE).sqrt())
        .collect();
    let s: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= s);
    // Σw kept up to date incrementally.
    let mut sw = cov.times(&w);
    let mut converged = false;
    for _ in 0..MAX_SWEEPS {
        let mut largest: f64 = 0.0;
        for i in 0..n {
            let sii = cov.get(i, i).max(f64::MIN_POSITIVE);
            let b = sw[i] - sii * w[i];
            let new = (-b + (b * b + 4.0 * sii * budget).sqrt()) / (2.0 * sii);
            let delta = new - w[i];
            if delta != 0.0 {
                for (k, v) in sw.iter_mut().enumerate() {
                    *v += cov.get(k, i) * delta;
                }
                largest = largest.max((delta / new).abs());
                w[i] = new;
            }
        }
        if largest < tol {
            converged = true;
            break;
        }
    }
    let s: f64 = w.iter().sum();
    (w.iter().map(|v| v / s).collect(), converged)
}

/// Each name's share of the portfolio variance, `w_i (Σw)_i / wᵀΣw`.
pub fn risk_contributions(cov: &ShrunkCovariance, w: &[f64]) -> Vec<f64> {
    let sw = cov.times(w);
    let total: f64 = w.iter().zip(&sw).map(|(a, b)| a * b).sum();
    w.iter().zip(&sw).map(|(a, b)| a * b / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_contributes_the_same_risk() {
        let n = 5;
        let mut m = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                let (vi, vj) = (0.02 * (1 + i) as f64, 0.02 * (1 + j) as f64);
                m[i * n + j] = if i == j {
                    vi
                } else {
                    (0.1 * (i + j) as f64 - 0.2) * (vi * vj).sqrt()
                };
            }
        }
        let c = ShrunkCovariance {
            assets: n,
            matrix: m,
            shrinkage: 0.0,
            target: 0.0,
        };
        let (w, converged) = risk_parity_weights(&c, 1e-12);
        assert!(converged);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        for rc in risk_contributions(&c, &w) {
            assert!((rc - 0.2).abs() < 1e-9, "{rc}");
        }
    }
}

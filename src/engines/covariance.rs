//! Covariance estimates for the portfolio engine: the Ledoit–Wolf shrunk covariance.
//!
//! With a year of daily returns and hundreds of names the sample covariance is singular
//! or nearly so, and an optimiser fed with it piles into the estimation error. Ledoit and
//! Wolf (2004) shrink it towards a scaled identity by the amount that minimises the
//! expected Frobenius loss, estimated from the data alone. The formulas are exactly
//! scikit-learn's `LedoitWolf` (centred data, `1/T` normalisation), so a covariance can be
//! checked against it to 1e-10 (`scripts/ledoit-wolf-fixture`, `tests/ledoit_wolf.rs`).

use ndarray::{Array2, ArrayView2, Axis};
use thiserror::Error;

/// Why a covariance cannot be estimated.
#[derive(Debug, Error, PartialEq)]
pub enum CovarianceError {
    /// The panel's length is not days × assets.
    #[error("a return panel of {days} days x {assets} assets needs {expected} values, got {got}")]
    Shape {
        /// Days.
        days: usize,
        /// Assets.
        assets: usize,
        /// days × assets.
        expected: usize,
        /// Values passed.
        got: usize,
    },
    /// Fewer than two days or no asset.
    #[error("a covariance needs at least 2 days and 1 asset, got {days} days x {assets} assets")]
    TooSmall {
        /// Days.
        days: usize,
        /// Assets.
        assets: usize,
    },
    /// A return is NaN or infinite.
    #[error("return of asset {asset} on day {day} is not finite ({value})")]
    NotFinite {
        /// Row.
        day: usize,
        /// Column.
        asset: usize,
        /// The value.
        value: f64,
    },
}

/// A covariance matrix shrunk towards `target · I`.
#[derive(Clone, Debug, PartialEq)]
pub struct ShrunkCovariance {
    /// Assets (rows and columns).
    pub assets: usize,
    /// The covariance, row-major `assets × assets`, symmetric.
    pub matrix: Vec<f64>,
    /// The shrinkage intensity in [0, 1] (0 = the sample covariance).
    pub shrinkage: f64,
    /// The identity's scale: the mean sample variance.
    pub target: f64,
}

impl ShrunkCovariance {
    /// Entry (i, j).
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.matrix[i * self.assets + j]
    }

    /// `wᵀ Σ w`.
    pub fn quadratic_form(&self, w: &[f64]) -> f64 {
        let n = self.assets;
        let mut total = 0.0;
        for i in 0..n {
            let row = &self.matrix[i * n..(i + 1) * n];
            total += w[i] * row.iter().zip(w).map(|(a, b)| a * b).sum::<f64>();
        }
        total
    }

    /// `Σ w`.
    pub fn times(&self, w: &[f64]) -> Vec<f64> {
        let n = self.assets;
        (0..n)
            .map(|i| {
                self.matrix[i * n..(i + 1) * n]
                    .iter()
                    .zip(w)
                    .map(|(a, b)| a * b)
                    .sum()
            })
            .collect()
    }

    /// The sub-matrix of the assets at `keep` (in that order).
    pub fn select(&self, keep: &[usize]) -> Self {
        let mut matrix = Vec::with_capacity(keep.len() * keep.len());
        for &i in keep {
            for &j in keep {
                matrix.push(self.get(i, j));
            }
        }
        Self {
            assets: keep.len(),
            matrix,
            shrinkage: self.shrinkage,
            target: self.target,
        }
    }
}

fn check(returns: &[f64], days: usize, assets: usize) -> Result<(), CovarianceError> {
    if returns.len() != days * assets {
        return Err(CovarianceError::Shape {
            days,
            assets,
            expected: days * assets,
            got: returns.len(),
        });
    }
    if days < 2 || assets == 0 {
        return Err(CovarianceError::TooSmall { days, assets });
    }
    if let Some(k) = returns.iter().position(|v| !v.is_finite()) {
        return Err(CovarianceError::NotFinite {
            day: k / assets,
            asset: k % assets,
            value: returns[k],
        });
    }
    Ok(())
}

/// The returns with each column's mean removed.
fn centred(returns: &[f64], days: usize, assets: usize) -> Array2<f64> {
    let view = ArrayView2::from_shape((days, assets), returns)
        .unwrap_or_else(|_| unreachable!("shape checked by `check`"));
    let mean = view.mean_axis(Axis(0)).unwrap_or_default();
    &view - &mean
}

/// The Ledoit–Wolf covariance of a `days × assets` row-major panel of returns.
///
/// # Errors
/// A panel whose length is not `days × assets`, fewer than 2 days, no asset, or a value
/// that is not finite.
pub fn ledoit_wolf(
    returns: &[f64],
    days: usize,
    assets: usize,
) -> Result<ShrunkCovariance, CovarianceError> {
    check(returns, days, assets)?;
    let x = centred(returns, days, assets);
    let t = days as f64;
    let p = assets as f64;
    let mut sample = x.t().dot(&x);
    sample /= t;
    let trace: f64 = sample.diag().sum();
    let target = trace / p;
    // A single asset has nothing to shrink (scikit-learn returns its variance).
    let shrinkage = if assets == 1 {
        0.0
    } else {
        // Σ over all entries of (X²)ᵀX² = Σ_t (Σ_i x_ti²)².
        let beta_sum: f64 = x
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|v| v * v).sum::<f64>().powi(2))
            .sum();
        let delta_sum: f64 = sample.iter().map(|v| v * v).sum();
        let beta = (beta_sum / t - delta_sum) / (p * t);
        let delta = (delta_sum - 2.0 * target * trace + p * target * target) / p;
        let beta = beta.min(delta);
        if beta == 0.0 { 0.0 } else { beta / delta }
    };
    let mut matrix = sample;
    matrix *= 1.0 - shrinkage;
    for i in 0..assets {
        matrix[[i, i]] += shrinkage * target;
    }
    Ok(ShrunkCovariance {
        assets,
        matrix: matrix.into_raw_vec_and_offset().0,
        shrinkage,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_assets_shrink_towards_their_common_variance() {
        // Two perfectly correlated assets: the sample covariance is singular; the shrunk
        // one is not.
        let r: Vec<f64> = (0..50)
            .flat_map(|t| {
                let v = ((t * 7919) % 23) as f64 / 100.0 - 0.11;
                [v, v]
            })
            .collect();
        let c = ledoit_wolf(&r, 50, 2).unwrap();
        assert!(c.shrinkage > 0.0 && c.shrinkage <= 1.0);
        let det = c.get(0, 0) * c.get(1, 1) - c.get(0, 1) * c.get(1, 0);
        assert!(det > 0.0, "shrinkage makes the matrix invertible");
        assert_eq!(c.get(0, 1), c.get(1, 0));
        let w = [0.5, 0.5];
        let direct = 0.25 * (c.get(0, 0) + 2.0 * c.get(0, 1) + c.get(1, 1));
        assert!((c.quadratic_form(&w) - direct).abs() < 1e-15);
    }

    #[test]
    fn bad_panels_are_refused_with_the_reason() {
        assert!(matches!(
            ledoit_wolf(&[0.0; 5], 2, 3),
            Err(CovarianceError::Shape { expected: 6, .. })
        ));
        assert!(matches!(
            ledoit_wolf(&[0.0; 3], 1, 3),
            Err(CovarianceError::TooSmall { .. })
        ));
        let err = ledoit_wolf(&[0.0, 1.0, f64::NAN, 0.0], 2, 2).unwrap_err();
        assert!(matches!(
            err,
            CovarianceError::NotFinite {
                day: 1,
                asset: 0,
                ..
            }
        ));
        assert!(err.to_string().contains("asset 0 on day 1"));
    }
}

//! A full-covariance Gaussian mixture fitted by expectation–maximisation: the model under
//! the regime engine.
//!
//! The algorithm is scikit-learn's `GaussianMixture(covariance_type="full",
//! init_params="kmeans")`: each restart initialises hard responsibilities from a seeded
//! k-means, then alternates E and M steps until the mean log-likelihood gains less than
//! `tolerance`; `reg_covariance` is added to every covariance diagonal; the restart with the
//! best log-likelihood wins. It is written on flat slices because the regime engine refits
//! on decades of days every month: linfa-clustering's mixture took ~96 ms per fit on 30
//! years of features (its k-means initialisation alone runs ten times) and its `n_runs`
//! continues from the previous run instead of re-initialising.

#![allow(clippy::needless_range_loop)] // matrix code indexes rows and columns together

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Settings of one mixture fit (the ones scikit-learn's `GaussianMixture` also takes).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MixtureSettings {
    /// Components (`n_components`).
    pub states: usize,
    /// Restarts (`n_init`).
    pub restarts: usize,
    /// Seed of the restarts.
    pub seed: u64,
    /// Convergence tolerance on the mean log-likelihood (`tol`).
    pub tolerance: f64,
    /// Iteration cap (`max_iter`).
    pub max_iterations: u64,
    /// Covariance regularisation (`reg_covar`).
    pub reg_covariance: f64,
}

/// A fitted mixture.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixture {
    /// Weights, summing to 1.
    pub weights: Vec<f64>,
    /// Means (`states × dims`).
    pub means: Vec<Vec<f64>>,
    /// Covariances (`states × dims × dims`).
    pub covariances: Vec<Vec<Vec<f64>>>,
    /// Mean log-likelihood per row of the data it was fitted on.
    pub log_likelihood: f64,
    /// EM iterations of the winning restart.
    pub iterations: u64,
}

impl Mixture {
    /// Each component's density, or `None` when a covariance is not positive definite.
    pub fn densities(&self) -> Option<Vec<Density>> {
        (0..self.weights.len())
            .map(|k| Density::new(self.weights[k], &self.means[k], &self.covariances[k]))
            .collect()
    }

    /// Free parameters of a full-covariance mixture (for BIC).
    pub fn parameters(&self) -> usize {
        let k = self.weights.len();
        let d = self.means.first().map_or(0, Vec::len);
        k * d + k * d * (d + 1) / 2 + k - 1
    }
}

/// One component's weighted density, factorised for repeated evaluation.
#[derive(Clone, Debug)]
pub struct Density {
    log_weight: f64,
    mean: Vec<f64>,
    /// Lower Cholesky factor of the covariance, row-major.
    chol: Vec<f64>,
    /// Reciprocals of its diagonal.
    inv_diag: Vec<f64>,
    log_norm: f64,
}

impl Density {
    /// `None` when `cov` is not positive definite.
    pub fn new(weight: f64, mean: &[f64], cov: &[Vec<f64>]) -> Option<Self> {
        let d = mean.len();
        let mut l = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..=i {
                let mut s = cov[i][j];
                for k in 0..j {
                    s -= l[i * d + k] * l[j * d + k];
                }
                if i == j {
                    if s <= 0.0 || !s.is_finite() {
                        return None;
                    }
                    l[i * d + i] = s.sqrt();
                } else {
                    l[i * d + j] = s / l[j * d + j];
                }
            }
        }
        let log_det: f64 = (0..d).map(|i| l[i * d + i].ln()).sum::<f64>() * 2.0;
        Some(Self {
            log_weight: weight.max(1e-300).ln(),
            mean: mean.to_vec(),
            inv_diag: (0..d).map(|i| 1.0 / l[i * d + i]).collect(),
            chol: l,
            log_norm: -0.5 * (d as f64 * (2.0 * std::f64::consts::PI).ln() + log_det),
        })
    }

    /// `ln(weight · N(x; mean, cov))`; `z` is scratch of length `dims`.
    pub fn weighted_log_pdf(&self, x: &[f64], z: &mut [f64]) -> f64 {
        let d = self.mean.len();
        let mut q = 0.0;
        for i in 0..d {
            let mut s = x[i] - self.mean[i];
            for k in 0..i {
                s -= self.chol[i * d + k] * z[k];
            }
            z[i] = s * self.inv_diag[i];
            q += z[i] * z[i];
        }
        self.log_weight + self.log_norm - 0.5 * q
    }
}

/// `ln Σ exp(v)` without overflow.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Mean log-likelihood of row-major `data` under `dens`.
pub fn mean_log_likelihood(dens: &[Density], data: &[f64], dims: usize) -> f64 {
    let rows = data.len() / dims;
    let mut z = vec![0.0; dims];
    let mut lp = vec![0.0; dens.len()];
    let mut total = 0.0;
    for x in data.chunks_exact(dims) {
        for (k, d) in dens.iter().enumerate() {
            lp[k] = d.weighted_log_pdf(x, &mut z);
        }
        total += log_sum_exp(&lp);
    }
    total / rows as f64
}

/// Fits a mixture on row-major `data` (`rows × dims`): one seeded k-means initialisation
/// per restart (restarts run in parallel), the best log-likelihood kept.
///
/// # Errors
/// The last restart's failure when none succeeded (fewer rows than states, an emptied
/// component, a covariance that is not positive definite, no convergence).
pub fn fit_mixture(data: &[f64], dims: usize, s: &MixtureSettings) -> Result<Mixture, String> {
    if dims == 0 || !data.len().is_multiple_of(dims) {
        return Err(format!(
            "{} values are not rows of {dims} features",
            data.len()
        ));
    }
    let rows = data.len() / dims;
    if rows < s.states.max(2) {
        return Err(format!("{rows} rows cannot hold {} states", s.states));
    }
    // Restarts run on scoped threads; each has its own seeded stream, and the winner is
    // picked in restart order, so the result does not depend on scheduling.
    let results: Vec<Result<Mixture, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..s.restarts)
            .map(|r| {
                scope.spawn(move || {
                    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
                    rng.set_stream(r as u64);
                    let labels = kmeans_labels(data, dims, s.states, &mut rng);
                    em(data, dims, s, &labels)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a restart panicked".to_owned()))
            })
            .collect()
    });
    let mut best: Option<Mixture> = None;
    let mut last_err = String::from("no restart ran");
    for r in results {
        match r {
            Ok(m) => {
                if best
                    .as_ref()
                    .is_none_or(|b| m.log_likelihood > b.log_likelihood)
                {
                    best = Some(m);
                }
            }
            Err(e) => last_err = e,
        }
    }
    best.ok_or(last_err)
}

/// Hard labels from k-means++ seeding and Lloyd iterations.
fn kmeans_labels(data: &[f64], dims: usize, k: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let rows = data.len() / dims;
    let row = |t: usize| &data[t * dims..(t + 1) * dims];
    let dist2 = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let mut centers: Vec<Vec<f64>> = vec![row(rng.random_range(0..rows)).to_vec()];
    let mut nearest: Vec<f64> = (0..rows).map(|t| dist2(row(t), &centers[0])).collect();
    while centers.len() < k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let mut u = rng.random::<f64>() * total;
            let mut chosen = rows - 1;
            for (t, d) in nearest.iter().enumerate() {
                if u < *d {
                    chosen = t;
                    break;
                }
                u -= d;
            }
            chosen
        } else {
            rng.random_range(0..rows)
        };
        centers.push(row(pick).to_vec());
        let c = centers.len() - 1;
        for (t, n) in nearest.iter_mut().enumerate() {
            *n = n.min(dist2(row(t), &centers[c]));
        }
    }
    let mut labels = vec![0usize; rows];
    for _ in 0..50 {
        let mut changed = false;
        for (t, l) in labels.iter_mut().enumerate() {
            let x = row(t);
            let mut best = 0;
            let mut bd = f64::INFINITY;
            for (c, center) in centers.iter().enumerate() {
                let d = dist2(x, center);
                if d < bd {
                    bd = d;
                    best = c;
                }
            }
            if *l != best {
                *l = best;
                changed = true;
            }
        }
        let mut sums = vec![vec![0.0; dims]; k];
        let mut counts = vec![0usize; k];
        for (t, &l) in labels.iter().enumerate() {
            counts[l] += 1;
            for (s, x) in sums[l].iter_mut().zip(row(t)) {
                *s += x;
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                centers[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
            }
        }
        if !changed {
            break;
        }
    }
    labels
}

/// EM from hard initial labels.
fn em(data: &[f64], dims: usize, s: &MixtureSettings, labels: &[usize]) -> Result<Mixture, String> {
    let rows = data.len() / dims;
    let k = s.states;
    let mut resp = vec![0.0; rows * k];
    for (t, &l) in labels.iter().enumerate() {
        resp[t * k + l] = 1.0;
    }
    let mut mix = m_step(data, dims, k, &resp, s.reg_covariance)?;
    let mut lower = f64::NEG_INFINITY;
    let mut z = vec![0.0; dims];
    let mut lp = vec![0.0; k];
    for iteration in 1..=s.max_iterations {
        let dens = mix
            .densities()
            .ok_or("a covariance is not positive definite; raise reg_covariance")?;
        let mut total = 0.0;
        for (x, r) in data.chunks_exact(dims).zip(resp.chunks_exact_mut(k)) {
            let mut top = f64::NEG_INFINITY;
            for (c, d) in dens.iter().enumerate() {
                lp[c] = d.weighted_log_pdf(x, &mut z);
                top = top.max(lp[c]);
            }
            // One exponential per component gives both the normaliser and the
            // responsibilities.
            let mut sum = 0.0;
            for (rc, l) in r.iter_mut().zip(&lp) {
                *rc = (l - top).exp();
                sum += *rc;
            }
            total += top + sum.ln();
            r.iter_mut().for_each(|rc| *rc /= sum);
        }
        let ll = total / rows as f64;
        if !ll.is_finite() {
            return Err("the log-likelihood is not finite".into());
        }
        mix = m_step(data, dims, k, &resp, s.reg_covariance)?;
        if (ll - lower).abs() < s.tolerance {
            let dens = mix
                .densities()
                .ok_or("a covariance is not positive definite; raise reg_covariance")?;
            mix.log_likelihood = mean_log_likelihood(&dens, data, dims);
            mix.iterations = iteration;
            return Ok(mix);
        }
        lower = ll;
    }
    Err(format!(
        "EM did not converge in {} iterations",
        s.max_iterations
    ))
}

fn m_step(data: &[f64], dims: usize, k: usize, resp: &[f64], reg: f64) -> Result<Mixture, String> {
    let rows = data.len() / dims;
    let mut nk = vec![0.0; k];
    let mut means = vec![vec![0.0; dims]; k];
    for (t, x) in data.chunks_exact(dims).enumerate() {
        for c in 0..k {
            let r = resp[t * k + c];
            nk[c] += r;
            for (m, v) in means[c].iter_mut().zip(x) {
                *m += r * v;
            }
        }
    }
    for c in 0..k {
        if nk[c] < 10.0 * f64::EPSILON {
            return Err(format!("component {c} lost every row; try fewer states"));
        }
        means[c].iter_mut().for_each(|m| *m /= nk[c]);
    }
    let mut covs = vec![vec![vec![0.0; dims]; dims]; k];
    let mut diff = vec![0.0; dims];
    for (t, x) in data.chunks_exact(dims).enumerate() {
        for c in 0..k {
            let r = resp[t * k + c];
            if r == 0.0 {
                continue;
            }
            for (d, (v, m)) in diff.iter_mut().zip(x.iter().zip(&means[c])) {
                *d = v - m;
            }
            let cov = &mut covs[c];
            for a in 0..dims {
                let ra = r * diff[a];
                for b in 0..=a {
                    cov[a][b] += ra * diff[b];
                }
            }
        }
    }
    for c in 0..k {
        for a in 0..dims {
            for b in 0..=a {
                let v = covs[c][a][b] / nk[c] + if a == b { reg } else { 0.0 };
                covs[c][a][b] = v;
                covs[c][b][a] = v;
            }
        }
    }
    Ok(Mixture {
        weights: nk.iter().map(|n| n / rows as f64).collect(),
        means,
        covariances: covs,
        log_likelihood: f64::NAN,
        iterations: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::{Distribution, Normal};

    fn two_blobs(n: usize) -> Vec<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let unit = Normal::new(0.0, 1.0).unwrap();
        let mut out = Vec::new();
        for t in 0..n {
            let (mx, my, s) = if t % 3 == 0 {
                (4.0, -2.0, 0.5)
            } else {
                (0.0, 0.0, 1.0)
            };
            out.push(mx + s * unit.sample(&mut rng));
            out.push(my + s * unit.sample(&mut rng));
        }
        out
    }

    #[test]
    fn recovers_two_blobs_and_is_deterministic() {
        let data = two_blobs(3000);
        let s = MixtureSettings {
            states: 2,
            restarts: 3,
            seed: 1,
            tolerance: 1e-6,
            max_iterations: 500,
            reg_covariance: 1e-6,
        };
        let m = fit_mixture(&data, 2, &s).unwrap();
        assert_eq!(m, fit_mixture(&data, 2, &s).unwrap());
        let small = if m.weights[0] < m.weights[1] { 0 } else { 1 };
        assert!(
            (m.weights[small] - 1.0 / 3.0).abs() < 0.02,
            "{:?}",
            m.weights
        );
        assert!((m.means[small][0] - 4.0).abs() < 0.1 && (m.means[small][1] + 2.0).abs() < 0.1);
        assert!((m.covariances[small][0][0] - 0.25).abs() < 0.03);
        assert!((m.weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        // The reported likelihood is the data's under the returned parameters.
        let ll = mean_log_likelihood(&m.densities().unwrap(), &data, 2);
        assert_eq!(ll, m.log_likelihood);
        // A one-state fit is worse.
        let one = fit_mixture(&data, 2, &MixtureSettings { states: 1, ..s }).unwrap();
        assert!(one.log_likelihood < m.log_likelihood);
    }

    #[test]
    fn impossible_fits_say_why() {
        let s = MixtureSettings {
            states: 4,
            restarts: 1,
            seed: 1,
            tolerance: 1e-3,
            max_iterations: 100,
            reg_covariance: 1e-6,
        };
        assert!(
            fit_mixture(&[1.0, 2.0], 2, &s)
                .unwrap_err()
                .contains("cannot hold")
        );
        assert!(
            fit_mixture(&[1.0, 2.0, 3.0], 2, &s)
                .unwrap_err()
                .contains("rows of 2")
        );
    }
}

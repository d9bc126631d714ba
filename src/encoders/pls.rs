//! The joint encoder's optional learned projection: partial least squares (linfa-pls)
//! from a joint space onto the few directions that covary most with the instruments'
//! forward returns.
//!
//! Point-in-time by construction: a projection used on a date is fitted at that date's
//! monthly anchor, on sample dates whose forward return horizon had ended by the anchor,
//! so no target it learned from was unknown on the anchor. Like the numeric PCA it is plain
//! data ([`PlsProjection`]), identified by its content hash, stored and reloaded bit-exact.

use chrono::NaiveDate;
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_pls::PlsRegression;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EncoderError;
use crate::config::Issues;

/// Where and how to learn the projection (`[pls]` in the joint encoder's config).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlsConfig {
    /// Per-instrument spaces to project; each gets a `<space>:pls` space beside it.
    pub spaces: Vec<String>,
    /// Output dimension.
    pub components: usize,
    /// Forward return horizon of the targets, in trading days.
    pub horizon: usize,
    /// Sample dates pooled into a fit (every `fit_stride`-th eligible date).
    pub fit_dates: usize,
    /// Trading days between sample dates.
    pub fit_stride: usize,
    /// Fewer pooled rows than this and no projection is fitted (nothing is written).
    pub min_fit_rows: usize,
}

impl Default for PlsConfig {
    fn default() -> Self {
        Self {
            spaces: vec!["assessment".into()],
            components: 4,
            horizon: 21,
            fit_dates: 12,
            fit_stride: 5,
            min_fit_rows: 200,
        }
    }
}

impl PlsConfig {
    /// Checks every field (keys under `pls.`), given the per-instrument spaces configured.
    pub fn validate(&self, spaces: &[&str], issues: &mut Issues) {
        for s in &self.spaces {
            issues.check(!spaces.contains(&s.as_str()), "pls.spaces", || {
                format!(
                    "`{s}` is not a configured per-instrument space ({})",
                    spaces.join(", ")
                )
            });
        }
        issues.check(
            !(1..=64).contains(&self.components),
            "pls.components",
            || format!("{} is out of range; use 1..=64", self.components),
        );
        issues.check(!(1..=252).contains(&self.horizon), "pls.horizon", || {
            format!("{} is out of range; use 1..=252", self.horizon)
        });
        issues.check(
            !(1..=120).contains(&self.fit_dates),
            "pls.fit_dates",
            || format!("{} is out of range; use 1..=120", self.fit_dates),
        );
        issues.check(
            !(1..=63).contains(&self.fit_stride),
            "pls.fit_stride",
            || format!("{} is out of range; use 1..=63", self.fit_stride),
        );
        issues.check(
            self.min_fit_rows < 4 * self.components,
            "pls.min_fit_rows",
            || {
                format!(
                    "{} is too small; use at least {} (four rows per component)",
                    self.min_fit_rows,
                    4 * self.components
                )
            },
        );
    }

    /// The sample dates of a fit at `anchor` among the trading `dates` (ascending): dates
    /// `t` whose `horizon`-th following trading date is on or before the anchor, newest
    /// first, every `fit_stride`-th, at most `fit_dates`. Pairs `(t, t + horizon)`.
    pub fn sample_dates(
        &self,
        dates: &[NaiveDate],
        anchor: NaiveDate,
    ) -> Vec<(NaiveDate, NaiveDate)> {
        let upto = dates.partition_point(|d| *d <= anchor);
        (self.horizon..upto)
            .rev()
            .step_by(self.fit_stride.max(1))
            .take(self.fit_dates)
            .map(|end| (dates[end - self.horizon], dates[end]))
            .collect()
    }
}

/// A fitted projection: standardise with `mean`/`scale`, then multiply by `rotations`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlsProjection {
    /// Column means of the fitted rows.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 for a constant column).
    pub scale: Vec<f64>,
    /// `rotations[j][k]`: weight of input `j` in component `k`.
    pub rotations: Vec<Vec<f64>>,
    /// The anchor it was fitted at.
    pub fitted_as_of: NaiveDate,
    /// Rows it was fitted on.
    pub samples: usize,
}

impl PlsProjection {
    /// `pls-<16 hex>` of the content.
    pub fn model_id(&self) -> String {
        let digest = Sha256::digest(self.to_json().as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("pls-{hex}")
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`EncoderError::Model`] when the JSON is not a projection.
    pub fn from_json(json: &str) -> Result<Self, EncoderError> {
        serde_json::from_str(json).map_err(|e| EncoderError::Model {
            path: "encoder_models".into(),
            reason: e.to_string(),
        })
    }

    /// Projects one row (of the fitted width; a different width gives an empty vector).
    pub fn project(&self, row: &[f32]) -> Vec<f32> {
        if row.len() != self.mean.len() {
            return Vec::new();
        }
        let k = self.rotations.first().map_or(0, Vec::len);
        let mut out = vec![0.0f64; k];
        for (j, x) in row.iter().enumerate() {
            let z = (f64::from(*x) - self.mean[j]) / self.scale[j];
            if z != 0.0 {
                out.iter_mut()
                    .zip(&self.rotations[j])
                    .for_each(|(o, w)| *o += z * w);
            }
        }
        out.iter().map(|v| *v as f32).collect()
    }
}

/// Fits a PLS regression of `targets` on `rows` with `components` components.
///
/// # Errors
/// [`EncoderError::NotEnoughData`] below `min_rows` rows; [`EncoderError::Fit`] when the
/// rows are ragged or the algorithm fails.
pub fn fit_pls(
    rows: &[Vec<f32>],
    targets: &[f64],
    components: usize,
    min_rows: usize,
    fitted_as_of: NaiveDate,
) -> Result<PlsProjection, EncoderError> {
    if rows.len() < min_rows || rows.len() != targets.len() {
        return Err(EncoderError::NotEnoughData(format!(
            "{} rows with a known forward return (need {min_rows})",
            rows.len().min(targets.len())
        )));
    }
    let width = rows[0].len();
    if rows.iter().any(|r| r.len() != width) || components > width {
        return Err(EncoderError::Fit(format!(
            "rows must share one width ≥ {components} components"
        )));
    }
    let n = rows.len() as f64;
    let mut mean = vec![0.0f64; width];
    for r in rows {
        mean.iter_mut()
            .zip(r)
            .for_each(|(m, x)| *m += f64::from(*x) / n);
    }
    let mut scale = vec![0.0f64; width];
    for r in rows {
        scale
            .iter_mut()
            .zip(r.iter().zip(&mean))
            .for_each(|(s, (x, m))| *s += (f64::from(*x) - m).powi(2) / n);
    }
    for s in &mut scale {
        *s = if *s > 1e-20 { s.sqrt() } else { 1.0 };
    }
    let flat: Vec<f64> = rows
        .iter()
        .flat_map(|r| {
            r.iter()
                .enumerate()
                .map(|(j, x)| (f64::from(*x) - mean[j]) / scale[j])
                .collect::<Vec<_>>()
        })
        .collect();
    let x = Array2::from_shape_vec((rows.len(), width), flat)
        .map_err(|e| EncoderError::Fit(e.to_string()))?;
    let y_mean = targets.iter().sum::<f64>() / n;
    let y = Array2::from_shape_vec(
        (targets.len(), 1),
        targets.iter().map(|t| t - y_mean).collect(),
    )
    .map_err(|e| EncoderError::Fit(e.to_string()))?;
    let pls = PlsRegression::params(components)
        .scale(false)
        .fit(&DatasetBase::new(x, y))
        .map_err(|e| EncoderError::Fit(e.to_string()))?;
    let rotations: &Array2<f64> = pls.rotations().0;
    Ok(PlsProjection {
        mean,
        scale,
        rotations: rotations.rows().into_iter().map(|r| r.to_vec()).collect(),
        fitted_as_of,
        samples: rows.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn day(i: usize) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::Days::new(i as u64)
    }

    #[test]
    fn sample_dates_end_their_horizon_by_the_anchor() {
        let dates: Vec<NaiveDate> = (0..40).map(day).collect();
        let c = PlsConfig {
            horizon: 5,
            fit_dates: 3,
            fit_stride: 2,
            ..PlsConfig::default()
        };
        let s = c.sample_dates(&dates, day(30));
        assert_eq!(
            s,
            vec![(day(25), day(30)), (day(23), day(28)), (day(21), day(26))]
        );
        assert!(s.iter().all(|(_, end)| *end <= day(30)));
        assert!(c.sample_dates(&dates[..4], day(30)).is_empty());
    }

    #[test]
    fn the_first_component_finds_the_predictive_direction() {
        // y depends on column 3 only; the other columns are larger noise.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let rows: Vec<Vec<f32>> = (0..400)
            .map(|_| {
                (0..6)
                    .map(|j| rng.random_range(-1.0..1.0) * if j == 3 { 1.0 } else { 5.0 })
                    .collect()
            })
            .collect();
        let y: Vec<f64> = rows
            .iter()
            .map(|r| 0.5 * f64::from(r[3]) + rng.random_range(-0.05..0.05))
            .collect();
        let p = fit_pls(&rows, &y, 2, 100, day(0)).unwrap();
        let first: Vec<f64> = p.rotations.iter().map(|r| r[0].abs()).collect();
        let best = first
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0;
        assert_eq!(best, 3, "{first:?}");
        // Deterministic, round-trips, projects to `components` values.
        let again = fit_pls(&rows, &y, 2, 100, day(0)).unwrap();
        assert_eq!(p.model_id(), again.model_id());
        let back = PlsProjection::from_json(&p.to_json()).unwrap();
        assert_eq!(back.project(&rows[0]), p.project(&rows[0]));
        assert_eq!(p.project(&rows[0]).len(), 2);
        assert!(p.project(&rows[0][..3]).is_empty());
    }

    #[test]
    fn too_few_rows_and_bad_configs_are_reported() {
        let rows = vec![vec![1.0f32, 2.0]; 10];
        let err = fit_pls(&rows, &[0.0; 10], 1, 50, day(0)).unwrap_err();
        assert!(err.to_string().contains("need 50"), "{err}");
        let c = PlsConfig {
            spaces: vec!["nope".into()],
            components: 100,
            min_fit_rows: 3,
            ..PlsConfig::default()
        };
        let mut issues = Issues::default();
        c.validate(&["assessment"], &mut issues);
        let text = format!("{issues:?}");
        for key in ["pls.spaces", "pls.components", "pls.min_fit_rows"] {
            assert!(text.contains(key), "{text}");
        }
    }
}

//! Cross-sectional standardisation: on one date, each feature is turned into a z-score
//! across the instruments that have it, so that features of different units (returns,
//! volatilities, betas) weigh alike in the encoders, and a market-wide move (every
//! instrument's volatility up) does not look like an instrument's own trait.

/// Standardises the columns of `rows` (one row per instrument, one column per feature):
/// `z = (x − mean) / sd` over the instruments that have a value (population sd), clipped to
/// `±clip` so a single outlier cannot dominate. A missing value becomes 0 — the cross-
/// sectional mean — and a column with fewer than two values or no spread is all 0. A row
/// shorter than the widest is missing the rest; non-finite values count as missing.
pub fn standardise(rows: &[Vec<Option<f64>>], clip: f64) -> Vec<Vec<f64>> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    let value =
        |r: &Vec<Option<f64>>, col: usize| r.get(col).copied().flatten().filter(|v| v.is_finite());
    // Mean and sd of each column over the instruments that have it; None = leave at 0.
    let stats: Vec<Option<(f64, f64)>> = (0..width)
        .map(|col| {
            let values: Vec<f64> = rows.iter().filter_map(|r| value(r, col)).collect();
            if values.len() < 2 {
                return None;
            }
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
            (sd > f64::EPSILON * mean.abs().max(1.0)).then_some((mean, sd))
        })
        .collect();
    rows.iter()
        .map(|r| {
            stats
                .iter()
                .enumerate()
                .map(|(col, s)| match (s, value(r, col)) {
                    (Some((mean, sd)), Some(v)) => ((v - mean) / sd).clamp(-clip, clip),
                    _ => 0.0,
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_become_z_scores_with_missing_values_at_the_mean() {
        let rows = vec![
            vec![Some(1.0), Some(10.0), None],
            vec![Some(2.0), None, Some(5.0)],
            vec![Some(3.0), Some(30.0), Some(5.0)],
            vec![Some(4.0), Some(20.0), Some(5.0)],
        ];
        let z = standardise(&rows, 10.0);
        // Column 0: mean 2.5, population sd √1.25.
        let sd = 1.25f64.sqrt();
        for (i, x) in [1.0, 2.0, 3.0, 4.0].iter().enumerate() {
            assert!((z[i][0] - (x - 2.5) / sd).abs() < 1e-12);
        }
        // Column 1: the missing value sits at 0; the others have mean 0 and unit variance.
        assert_eq!(z[1][1], 0.0);
        let present = [z[0][1], z[2][1], z[3][1]];
        assert!(present.iter().sum::<f64>().abs() < 1e-12);
        assert!((present.iter().map(|v| v * v).sum::<f64>() / 3.0 - 1.0).abs() < 1e-12);
        // Column 2: no spread → all 0.
        assert!(z.iter().all(|r| r[2] == 0.0));
    }

    #[test]
    fn outliers_are_clipped_and_non_finite_values_are_missing() {
        let mut rows: Vec<Vec<Option<f64>>> =
            (0..99).map(|i| vec![Some(f64::from(i % 3))]).collect();
        rows.push(vec![Some(1e6)]);
        rows.push(vec![Some(f64::NAN)]);
        let z = standardise(&rows, 3.0);
        assert_eq!(z[99][0], 3.0);
        assert_eq!(z[100][0], 0.0);
        assert!(z.iter().all(|r| r[0].abs() <= 3.0));
        assert!(standardise(&[], 3.0).is_empty());
    }
}

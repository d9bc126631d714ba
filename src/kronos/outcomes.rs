//! How a decision turned out: the pure computations behind `decision_outcomes`.
//!
//! Every function here takes the decision and the prices of the sessions from its date to
//! the end of its horizon — nothing later — so an outcome, once its horizon has passed, is
//! fixed: data changed after the horizon's last session cannot move it. Prices are
//! adjusted closes; a session a name did not trade carries its last close (the holder could
//! not have sold it either).

use serde::{Deserialize, Serialize};

/// Sessions per year, for annualised volatility.
const ANNUAL_DAYS: f64 = 252.0;

/// Closes of one instrument over a decision's horizon: index 0 is the decision date's close,
/// index `h` the close `h` sessions later; `NaN` where it did not trade.
pub type ClosePath = [f64];

/// What a held position, a market or a class of names did over a horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathOutcome {
    /// Compound return from the decision's close to the horizon's last close.
    pub ret: f64,
    /// Annualised standard deviation of the daily returns (`None` under 2 returns).
    pub vol: Option<f64>,
    /// Largest fall from a running peak, including the starting level (positive).
    pub drawdown: f64,
}

/// The outcome of a value path starting at 1 (`levels[0]`).
pub fn path_outcome(levels: &[f64]) -> Option<PathOutcome> {
    if levels.len() < 2 || levels.iter().any(|v| !v.is_finite() || *v <= 0.0) {
        return None;
    }
    let rets: Vec<f64> = levels.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
    let vol = (rets.len() >= 2).then(|| {
        let n = rets.len() as f64;
        let m = rets.iter().sum::<f64>() / n;
        (rets.iter().map(|r| (r - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() * ANNUAL_DAYS.sqrt()
    });
    let mut peak = levels[0];
    let mut dd = 0.0f64;
    for v in levels {
        peak = peak.max(*v);
        dd = dd.max(1.0 - v / peak);
    }
    Some(PathOutcome {
        ret: levels[levels.len() - 1] / levels[0] - 1.0,
        vol,
        drawdown: dd,
    })
}

/// `path` with gaps filled by the last close; `None` when the first close is missing.
fn carried(path: &ClosePath) -> Option<Vec<f64>> {
    let first = *path.first()?;
    if !(first.is_finite() && first > 0.0) {
        return None;
    }
    let mut last = first;
    Some(
        path.iter()
            .map(|p| {
                if p.is_finite() && *p > 0.0 {
                    last = *p;
                }
                last
            })
            .collect(),
    )
}

/// The return of `path` over its whole length (gaps carried), when its first close exists.
pub fn horizon_return(path: &ClosePath) -> Option<f64> {
    let c = carried(path)?;
    Some(c[c.len() - 1] / c[0] - 1.0)
}

/// A target held without trading from the decision's close: the weights drift with
/// prices and the unallocated part is cash at zero return.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldOutcome {
    /// The portfolio's path outcome.
    pub portfolio: PathOutcome,
    /// Weight of names without a close on the decision date (held as cash here).
    pub unpriced_weight: f64,
}

/// The outcome of holding `weights` (aligned with `paths`) over the paths' sessions.
/// `None` when the paths are shorter than 2 sessions or of unequal length.
pub fn held_portfolio(weights: &[f64], paths: &[&ClosePath]) -> Option<HeldOutcome> {
    let len = paths.first().map_or(0, |p| p.len());
    if len < 2 || weights.len() != paths.len() || paths.iter().any(|p| p.len() != len) {
        return None;
    }
    let invested: f64 = weights.iter().sum();
    let mut levels = vec![1.0 - invested; len];
    let mut unpriced = 0.0;
    for (w, p) in weights.iter().zip(paths) {
        match carried(p) {
            Some(c) => {
                for (l, v) in levels.iter_mut().zip(&c) {
                    *l += w * v / c[0];
                }
            }
            None => {
                unpriced += w;
                for l in &mut levels {
                    *l += w;
                }
            }
        }
    }
    Some(HeldOutcome {
        portfolio: path_outcome(&levels)?,
        unpriced_weight: unpriced,
    })
}

/// Ranks (1 = smallest) with ties sharing their average rank.
fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    let mut out = vec![0.0; x.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for k in &idx[i..=j] {
            out[*k] = avg;
        }
        i = j + 1;
    }
    out
}

/// Pearson correlation; `None` under 3 pairs or without variation on either side.
pub fn correlation(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 3 || y.len() != n {
        return None;
    }
    let (mx, my) = (
        x.iter().sum::<f64>() / n as f64,
        y.iter().sum::<f64>() / n as f64,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx).powi(2);
        syy += (b - my).powi(2);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

/// The skill of one cross-section of forecasts against the returns that followed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForecastSkill {
    /// Names with both a forecast and a realised return.
    pub names: usize,
    /// Pearson correlation of forecast and realised return.
    pub ic: f64,
    /// Spearman (rank) correlation.
    pub rank_ic: f64,
    /// Share of names on the right side of the cross-sectional median: a forecast above
    /// the forecasts' median that realised above the realised median, or both below.
    pub hit_rate: f64,
}

fn median(x: &[f64]) -> f64 {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The skill of `forecasts` against `realised` (pairs with a non-finite side are skipped).
/// `None` under 3 usable pairs or without variation.
pub fn forecast_skill(forecasts: &[f64], realised: &[Option<f64>]) -> Option<ForecastSkill> {
    let (f, r): (Vec<f64>, Vec<f64>) = forecasts
        .iter()
        .zip(realised)
        .filter_map(|(f, r)| Some((*f, (*r)?)))
        .filter(|(f, r)| f.is_finite() && r.is_finite())
        .unzip();
    let ic = correlation(&f, &r)?;
    let rank_ic = correlation(&ranks(&f), &ranks(&r))?;
    let (mf, mr) = (median(&f), median(&r));
    let hits = f
        .iter()
        .zip(&r)
        .filter(|(a, b)| (**a > mf && **b > mr) || (**a < mf && **b < mr))
        .count();
    Some(ForecastSkill {
        names: f.len(),
        ic,
        rank_ic,
        hit_rate: hits as f64 / f.len() as f64,
    })
}

/// What the names of one class (a stability or fragility class, the included or excluded
/// part of a universe) did over the horizon.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassOutcome {
    /// Members with a close on the decision date.
    pub names: usize,
    /// Mean horizon return of the members.
    pub mean_return: f64,
    /// Mean of the members' largest drawdowns over the horizon.
    pub mean_drawdown: f64,
    /// Expected shortfall at 95%: the mean of the worst 5% of the members' horizon returns
    /// (at least one member), as a loss (positive when they lost).
    pub expected_shortfall_95: f64,
}

/// The outcome of a class whose members' horizon paths are `paths`. `None` when no member
/// has a close on the decision date.
pub fn class_outcome(paths: &[&ClosePath]) -> Option<ClassOutcome> {
    let mut rets = Vec::new();
    let mut dds = Vec::new();
    for p in paths {
        let Some(c) = carried(p) else { continue };
        let Some(o) = path_outcome(&c) else { continue };
        rets.push(o.ret);
        dds.push(o.drawdown);
    }
    if rets.is_empty() {
        return None;
    }
    let n = rets.len();
    let mut sorted = rets.clone();
    sorted.sort_by(f64::total_cmp);
    let tail = ((n as f64) * 0.05).ceil().max(1.0) as usize;
    Some(ClassOutcome {
        names: n,
        mean_return: rets.iter().sum::<f64>() / n as f64,
        mean_drawdown: dds.iter().sum::<f64>() / n as f64,
        expected_shortfall_95: -sorted[..tail].iter().sum::<f64>() / tail as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_portfolio_drifts_with_its_prices_and_keeps_cash_flat() {
        // Half in A (+10% then −10%), a quarter in B (flat), a quarter cash.
        let a = [100.0, 110.0, 99.0];
        let b = [50.0, 50.0, 50.0];
        let o = held_portfolio(&[0.5, 0.25], &[&a, &b]).unwrap();
        let levels = [1.0, 0.5 * 1.1 + 0.5, 0.5 * 0.99 + 0.5];
        assert!((o.portfolio.ret - (levels[2] - 1.0)).abs() < 1e-15);
        assert!((o.portfolio.drawdown - (1.0 - levels[2] / levels[1])).abs() < 1e-15);
        assert_eq!(o.unpriced_weight, 0.0);
        // A name without a close on the decision date is counted and held as cash.
        let c = [f64::NAN, 10.0, 12.0];
        let o = held_portfolio(&[0.5, 0.5], &[&a, &c]).unwrap();
        assert_eq!(o.unpriced_weight, 0.5);
        assert!((o.portfolio.ret - (0.5 * 0.99 + 0.5 - 1.0)).abs() < 1e-15);
        assert!(held_portfolio(&[1.0], &[&a[..1]]).is_none());
    }

    #[test]
    fn gaps_carry_the_last_close() {
        assert_eq!(
            horizon_return(&[10.0, f64::NAN, 12.0]),
            Some(0.19999999999999996)
        );
        assert_eq!(
            horizon_return(&[10.0, 11.0, f64::NAN]),
            Some(0.10000000000000009)
        );
        assert_eq!(horizon_return(&[f64::NAN, 11.0]), None);
    }

    #[test]
    fn skill_is_perfect_for_a_perfect_forecast_and_reversed_for_its_opposite() {
        let f = [0.01, 0.02, 0.03, 0.04, 0.05];
        let r: Vec<Option<f64>> = [0.0, 0.1, 0.15, 0.3, 0.31].map(Some).to_vec();
        let s = forecast_skill(&f, &r).unwrap();
        assert!((s.rank_ic - 1.0).abs() < 1e-12 && s.ic > 0.9);
        assert_eq!(s.hit_rate, 0.8); // the median name is on neither side
        let neg: Vec<f64> = f.iter().map(|x| -x).collect();
        let s = forecast_skill(&neg, &r).unwrap();
        assert!((s.rank_ic + 1.0).abs() < 1e-12);
        assert_eq!(s.hit_rate, 0.0);
        // Names without a realised return are left out.
        let mut r2 = r.clone();
        r2[0] = None;
        assert_eq!(forecast_skill(&f, &r2).unwrap().names, 4);
        assert!(forecast_skill(&f[..2], &r[..2]).is_none());
        assert_eq!(ranks(&[3.0, 1.0, 3.0]), vec![2.5, 1.0, 2.5]);
    }

    #[test]
    fn a_class_reports_its_tail() {
        let paths: Vec<Vec<f64>> = (0..40)
            .map(|i| vec![100.0, 100.0 - i as f64, 100.0 - i as f64 / 2.0])
            .collect();
        let refs: Vec<&ClosePath> = paths.iter().map(Vec::as_slice).collect();
        let o = class_outcome(&refs).unwrap();
        assert_eq!(o.names, 40);
        // Worst 5% of 40 = 2 names: −19.5% and −19%.
        assert!((o.expected_shortfall_95 - 0.1925).abs() < 1e-12);
        assert!(
            (o.mean_drawdown - (0..40).map(|i| i as f64 / 100.0).sum::<f64>() / 40.0).abs() < 1e-12
        );
        assert!(class_outcome(&[&[f64::NAN, 1.0][..]]).is_none());
        let v = path_outcome(&[1.0, 1.01, 0.99, 1.02]).unwrap();
        assert!(v.vol.unwrap() > 0.0);
        assert!(path_outcome(&[1.0, 1.01]).unwrap().vol.is_none());
    }
}

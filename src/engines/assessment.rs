//! The assessment engine's core: what each name is expected to return over the horizon,
//! as a score in [−1, 1] with a confidence and a label.
//!
//! Five alpha families, each a cross-sectional z-score winsorised at ±`winsor`:
//! - **momentum** (12-1): the return from `momentum_days` to `skip_days` sessions ago;
//! - **reversal**: minus the return of the last `reversal_days` sessions;
//! - **low volatility**: minus the realised volatility of the last `volatility_days`;
//! - **quality**: one minus the mean of the profiles' fundamental-weakness flags;
//! - **fragility penalty**: minus the fragility score.
//!
//! They are combined by weights fitted point-in-time: a ridge regression, shrunk towards
//! `prior` (the weights used when there is no history), of each past date's
//! cross-sectionally standardised forward return on the z-scores that were stored on that
//! date — only dates whose horizon has ended by `as_of` enter. The prediction (in units of
//! a cross-sectional standard deviation) times the typical cross-sectional dispersion of
//! horizon returns is the expected return; `tanh` of its cross-sectional z-score over two
//! is the score.

use crate::config::tunable::{Step, Tunable};
use serde::{Deserialize, Serialize};

use crate::config::{EngineConfig, Issues};

/// The alpha families, in storage order.
pub const FAMILIES: [&str; 5] = ["momentum", "reversal", "low_vol", "quality", "fragility"];

/// Five family values (z-scores); `None` where a family is unknown for the name.
pub type Families = [Option<f64>; 5];

/// Labels from the score, strongest buy first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScoreLabel {
    /// Score ≥ `strong`.
    StrongBuy,
    /// Score ≥ `mild`.
    Buy,
    /// In between.
    Hold,
    /// Score ≤ −`mild`.
    Sell,
    /// Score ≤ −`strong`.
    StrongSell,
}

impl ScoreLabel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StrongBuy => "STRONG_BUY",
            Self::Buy => "BUY",
            Self::Hold => "HOLD",
            Self::Sell => "SELL",
            Self::StrongSell => "STRONG_SELL",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::StrongBuy,
            Self::Buy,
            Self::Hold,
            Self::Sell,
            Self::StrongSell,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// Configuration of the assessment engine (`config/engines/assessment.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AssessmentConfig {
    /// The strategy its scores belong to (`instrument_scores.strategy_id`).
    pub strategy_id: String,
    /// Forecast horizon in sessions.
    pub horizon_days: usize,
    /// Momentum look-back in sessions (12 months).
    pub momentum_days: usize,
    /// Most recent sessions momentum skips (1 month).
    pub skip_days: usize,
    /// Reversal window in sessions.
    pub reversal_days: usize,
    /// Volatility window in sessions.
    pub volatility_days: usize,
    /// Fewer sessions of history: the name is not scored.
    pub min_history_days: usize,
    /// |z| cap of a family value.
    pub winsor: f64,
    /// Family weights without history (in IC units: correlation of a family with the
    /// standardised forward return).
    pub prior: [f64; 5],
    /// Ridge penalty per training sample towards `prior`.
    pub ridge: f64,
    /// Sessions of past scores the fit draws on.
    pub training_days: usize,
    /// Fewer training samples: the prior weights alone.
    pub min_training_samples: usize,
    /// Score cut-off of BUY (and −SELL).
    pub mild: f64,
    /// Score cut-off of STRONG_BUY (and −STRONG_SELL).
    pub strong: f64,
}

impl Default for AssessmentConfig {
    fn default() -> Self {
        Self {
            strategy_id: "core_long_eq".into(),
            horizon_days: 21,
            momentum_days: 252,
            skip_days: 21,
            reversal_days: 21,
            volatility_days: 63,
            min_history_days: 64,
            winsor: 3.0,
            prior: [0.03, 0.01, 0.02, 0.01, 0.02],
            ridge: 1.0,
            training_days: 504,
            min_training_samples: 200,
            mild: 0.2,
            strong: 0.6,
        }
    }
}

impl EngineConfig for AssessmentConfig {
    const ENGINE: &'static str = "assessment";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::number("ridge", 0.01, 100.0, Step::Relative(2.0)),
        Tunable::number("training_days", 252.0, 1260.0, Step::Integer(126)),
        Tunable::number("momentum_days", 126.0, 378.0, Step::Integer(63)),
        Tunable::number("prior.0", 0.0, 0.1, Step::Absolute(0.01)),
        Tunable::number("prior.1", 0.0, 0.1, Step::Absolute(0.01)),
        Tunable::number("prior.2", 0.0, 0.1, Step::Absolute(0.01)),
        Tunable::number("prior.3", 0.0, 0.1, Step::Absolute(0.01)),
        Tunable::number("prior.4", 0.0, 0.1, Step::Absolute(0.01)),
    ];

    fn validate(&self, issues: &mut Issues) {
        issues.check(self.strategy_id.trim().is_empty(), "strategy_id", || {
            "must not be empty".into()
        });
        issues.check(
            !(1..=252).contains(&self.horizon_days),
            "horizon_days",
            || format!("{} is out of range; use 1..=252", self.horizon_days),
        );
        issues.check(
            self.skip_days + 2 > self.momentum_days,
            "momentum_days",
            || {
                format!(
                    "{} must exceed skip_days ({}) by at least 2",
                    self.momentum_days, self.skip_days
                )
            },
        );
        for (key, v) in [
            ("reversal_days", self.reversal_days),
            ("volatility_days", self.volatility_days),
        ] {
            issues.check(v < 2, key, || format!("{v} is too short; use at least 2"));
        }
        issues.check(
            self.min_history_days <= self.volatility_days.max(self.reversal_days),
            "min_history_days",
            || {
                format!(
                    "{} must exceed the volatility and reversal windows",
                    self.min_history_days
                )
            },
        );
        issues.check(
            !(self.winsor.is_finite() && self.winsor >= 1.0),
            "winsor",
            || format!("{} must be at least 1", self.winsor),
        );
        for (k, p) in self.prior.iter().enumerate() {
            issues.check(
                !p.is_finite() || p.abs() > 1.0,
                &format!("prior[{k}]"),
                || format!("{p} is out of range; use −1..=1 ({})", FAMILIES[k]),
            );
        }
        issues.check(
            !(self.ridge.is_finite() && self.ridge > 0.0),
            "ridge",
            || format!("{} must be positive", self.ridge),
        );
        issues.check(
            self.training_days <= self.horizon_days,
            "training_days",
            || format!("{} must exceed horizon_days", self.training_days),
        );
        issues.check(
            !(0.0 < self.mild && self.mild < self.strong && self.strong < 1.0),
            "mild",
            || {
                format!(
                    "0 < mild ({}) < strong ({}) < 1 must hold",
                    self.mild, self.strong
                )
            },
        );
    }
}

/// One name's raw inputs on the date.
#[derive(Clone, Debug, PartialEq)]
pub struct NameInputs {
    /// Instrument id.
    pub id: String,
    /// Adjusted closes, oldest first, ending on the date.
    pub closes: Vec<f64>,
    /// Mean of the profile's weakness flags in [0,1], when known.
    pub weakness: Option<f64>,
    /// Fragility score in [0,1], when known.
    pub fragility: Option<f64>,
}

/// A stored past score, as training data.
#[derive(Clone, Debug, PartialEq)]
pub struct PastScore {
    /// Its date's index in the panel of closes.
    pub date_index: usize,
    /// The name's row in the panel.
    pub name_index: usize,
    /// The family z-scores stored that day.
    pub families: Families,
    /// The prediction stored that day.
    pub prediction: f64,
}

/// The fitted combination.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FittedWeights {
    /// One weight per family.
    pub weights: [f64; 5],
    /// Training samples (name-dates).
    pub samples: usize,
    /// Training dates.
    pub dates: usize,
    /// Typical cross-sectional standard deviation of horizon returns (converts a
    /// prediction into a return); `None` without history.
    pub dispersion: Option<f64>,
}

/// One name's assessment.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoreRow {
    /// Instrument id.
    pub instrument_id: String,
    /// Family z-scores.
    pub families: Families,
    /// Σ weight × z (missing families count 0), in standardised-return units.
    pub prediction: f64,
    /// Expected return over the horizon.
    pub expected_return: f64,
    /// In [−1, 1].
    pub score: f64,
    /// In [0, 1].
    pub confidence: f64,
    /// From the score.
    pub label: ScoreLabel,
}

/// The information coefficient of one past forecast date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ForecastSkill {
    /// Pearson correlation of predictions and realised horizon returns.
    pub ic: f64,
    /// Spearman (rank) correlation.
    pub rank_ic: f64,
    /// Names in it.
    pub names: usize,
}

/// Mean and population standard deviation.
fn moments(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Winsorised cross-sectional z-scores of the known values.
pub fn zscores(values: &[Option<f64>], winsor: f64) -> Vec<Option<f64>> {
    let known: Vec<f64> = values.iter().flatten().copied().collect();
    if known.len() < 2 {
        return vec![None; values.len()];
    }
    let (mean, sd) = moments(&known);
    values
        .iter()
        .map(|v| {
            v.map(|v| {
                if sd > 0.0 {
                    ((v - mean) / sd).clamp(-winsor, winsor)
                } else {
                    0.0
                }
            })
        })
        .collect()
}

/// Pearson correlation; `None` with fewer than 3 points or no variance.
pub fn correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    if a.len() < 3 || a.len() != b.len() {
        return None;
    }
    let (ma, sa) = moments(a);
    let (mb, sb) = moments(b);
    if sa == 0.0 || sb == 0.0 {
        return None;
    }
    let cov = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - ma) * (y - mb))
        .sum::<f64>()
        / a.len() as f64;
    Some(cov / (sa * sb))
}

/// Ranks 1..n with ties averaged.
pub fn ranks(x: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut out = vec![0.0; x.len()];
    let mut k = 0;
    while k < idx.len() {
        let mut end = k;
        while end + 1 < idx.len() && x[idx[end + 1]] == x[idx[k]] {
            end += 1;
        }
        let rank = (k + end) as f64 / 2.0 + 1.0;
        for &i in &idx[k..=end] {
            out[i] = rank;
        }
        k = end + 1;
    }
    out
}

/// IC and rank IC of `predictions` against `realised`.
pub fn skill(predictions: &[f64], realised: &[f64]) -> Option<ForecastSkill> {
    Some(ForecastSkill {
        ic: correlation(predictions, realised)?,
        rank_ic: correlation(&ranks(predictions), &ranks(realised))?,
        names: predictions.len(),
    })
}

/// Solves the symmetric positive definite system `a x = b` (5×5) by Cholesky.
fn solve_spd(mut a: [[f64; 5]; 5], b: [f64; 5]) -> Option<[f64; 5]> {
    for j in 0..5 {
        let d = a[j][j] - a[j][..j].iter().map(|v| v * v).sum::<f64>();
        if d <= 0.0 {
            return None;
        }
        a[j][j] = d.sqrt();
        for i in j + 1..5 {
            let s = a[i][j] - (0..j).map(|k| a[i][k] * a[j][k]).sum::<f64>();
            a[i][j] = s / a[j][j];
        }
    }
    let mut y = [0.0; 5];
    for i in 0..5 {
        let s: f64 = (0..i).map(|k| a[i][k] * y[k]).sum();
        y[i] = (b[i] - s) / a[i][i];
    }
    let mut x = [0.0; 5];
    for i in (0..5).rev() {
        let s: f64 = (i + 1..5).map(|k| a[k][i] * x[k]).sum();
        x[i] = (y[i] - s) / a[i][i];
    }
    Some(x)
}

impl AssessmentConfig {
    /// Today's family z-scores for `names` (closes ending on the date).
    pub fn families(&self, names: &[NameInputs]) -> Vec<Families> {
        let raw: Vec<[Option<f64>; 5]> = names
            .iter()
            .map(|x| {
                let c = &x.closes;
                let n = c.len();
                let back = |k: usize| (n > k).then(|| c[n - 1 - k]);
                let ret = |from: usize, to: usize| match (back(from), back(to)) {
                    (Some(a), Some(b)) if a > 0.0 => Some(b / a - 1.0),
                    _ => None,
                };
                let vol = (n > self.volatility_days).then(|| {
                    let r: Vec<f64> = c[n - 1 - self.volatility_days..]
                        .windows(2)
                        .map(|w| (w[1] / w[0]).ln())
                        .collect();
                    moments(&r).1
                });
                [
                    ret(self.momentum_days, self.skip_days),
                    ret(self.reversal_days, 0).map(|r| -r),
                    vol.map(|v| -v),
                    x.weakness.map(|w| 1.0 - w),
                    x.fragility.map(|f| -f),
                ]
            })
            .collect();
        let mut out = vec![[None; 5]; names.len()];
        for k in 0..5 {
            let column: Vec<Option<f64>> = raw.iter().map(|r| r[k]).collect();
            for (row, z) in out.iter_mut().zip(zscores(&column, self.winsor)) {
                row[k] = z;
            }
        }
        out
    }

    /// Fits the family weights on past scores whose horizon ended by the last date of
    /// `closes` (`closes[name][date]`, NaN where a name has no price).
    pub fn fit(&self, closes: &[Vec<f64>], past: &[PastScore]) -> FittedWeights {
        let last = closes.first().map_or(0, Vec::len).saturating_sub(1);
        let prior = FittedWeights {
            weights: self.prior,
            samples: 0,
            dates: 0,
            dispersion: None,
        };
        let mut by_date: std::collections::BTreeMap<usize, Vec<(&PastScore, f64)>> =
            std::collections::BTreeMap::new();
        for p in past {
            let end = p.date_index + self.horizon_days;
            if end > last || last - p.date_index > self.training_days {
                continue;
            }
            let row = &closes[p.name_index];
            let (a, b) = (row[p.date_index], row[end]);
            if a.is_finite() && b.is_finite() && a > 0.0 {
                by_date
                    .entry(p.date_index)
                    .or_default()
                    .push((p, b / a - 1.0));
            }
        }
        let mut xtx = [[0.0; 5]; 5];
        let mut xty = [0.0; 5];
        let mut samples = 0;
        let mut dates = 0;
        let mut dispersion = 0.0;
        for rows in by_date.values() {
            let r: Vec<f64> = rows.iter().map(|(_, r)| *r).collect();
            if r.len() < 3 {
                continue;
            }
            let (mean, sd) = moments(&r);
            if sd == 0.0 {
                continue;
            }
            dates += 1;
            dispersion += sd;
            for (p, ret) in rows {
                let y = (ret - mean) / sd;
                let x: Vec<f64> = p.families.iter().map(|f| f.unwrap_or(0.0)).collect();
                for i in 0..5 {
                    xty[i] += x[i] * y;
                    for j in 0..5 {
                        xtx[i][j] += x[i] * x[j];
                    }
                }
                samples += 1;
            }
        }
        if samples < self.min_training_samples || dates == 0 {
            return prior;
        }
        let penalty = self.ridge * samples as f64;
        for i in 0..5 {
            xtx[i][i] += penalty;
            xty[i] += penalty * self.prior[i];
        }
        match solve_spd(xtx, xty) {
            Some(weights) if weights.iter().all(|w| w.is_finite()) => FittedWeights {
                weights,
                samples,
                dates,
                dispersion: Some(dispersion / dates as f64),
            },
            _ => prior,
        }
    }

    /// Scores every name from today's families, the fitted weights and the recent skill
    /// of the model (its rank ICs, for the confidence).
    pub fn score(
        &self,
        ids: &[String],
        families: &[Families],
        fit: &FittedWeights,
        recent_rank_ics: &[f64],
    ) -> Vec<ScoreRow> {
        let predictions: Vec<f64> = families
            .iter()
            .map(|f| {
                f.iter()
                    .zip(&fit.weights)
                    .map(|(z, w)| z.unwrap_or(0.0) * w)
                    .sum()
            })
            .collect();
        let (mean, sd) = if predictions.is_empty() {
            (0.0, 0.0)
        } else {
            moments(&predictions)
        };
        // Without history, a cross-sectional standard deviation of a 21-day return of
        // ~8% scaled to the horizon.
        let dispersion = fit
            .dispersion
            .unwrap_or(0.08 * (self.horizon_days as f64 / 21.0).sqrt());
        let strength = model_strength(recent_rank_ics);
        ids.iter()
            .zip(families)
            .zip(&predictions)
            .map(|((id, f), p)| {
                let z = if sd > 0.0 { (p - mean) / sd } else { 0.0 };
                let score = (z / 2.0).tanh();
                let coverage = f.iter().filter(|v| v.is_some()).count() as f64 / 5.0;
                ScoreRow {
                    instrument_id: id.clone(),
                    families: *f,
                    prediction: *p,
                    expected_return: p * dispersion,
                    score,
                    confidence: coverage * strength,
                    label: self.label(score),
                }
            })
            .collect()
    }

    /// The label of a score.
    pub fn label(&self, score: f64) -> ScoreLabel {
        if score >= self.strong {
            ScoreLabel::StrongBuy
        } else if score >= self.mild {
            ScoreLabel::Buy
        } else if score <= -self.strong {
            ScoreLabel::StrongSell
        } else if score <= -self.mild {
            ScoreLabel::Sell
        } else {
            ScoreLabel::Hold
        }
    }
}

/// How much the recent record supports the model, in [0.05, 1]: the t-statistic of the
/// mean rank IC over three; a quarter without a record of at least three forecasts.
pub fn model_strength(rank_ics: &[f64]) -> f64 {
    if rank_ics.len() < 3 {
        return 0.25;
    }
    let (mean, sd) = moments(rank_ics);
    let t = if sd > 0.0 {
        mean / sd * (rank_ics.len() as f64).sqrt()
    } else if mean > 0.0 {
        3.0
    } else {
        0.0
    };
    (t / 3.0).clamp(0.05, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties_and_correlations_are_exact() {
        assert_eq!(ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
        let s = skill(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 100.0]).unwrap();
        assert!((s.rank_ic - 1.0).abs() < 1e-12);
        assert!(s.ic > 0.8 && s.ic < 1.0);
        assert_eq!(skill(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
    }

    #[test]
    fn labels_follow_the_cut_offs_exactly() {
        let c = AssessmentConfig::default();
        assert_eq!(c.label(0.6), ScoreLabel::StrongBuy);
        assert_eq!(c.label(0.5999), ScoreLabel::Buy);
        assert_eq!(c.label(0.2), ScoreLabel::Buy);
        assert_eq!(c.label(0.1999), ScoreLabel::Hold);
        assert_eq!(c.label(-0.2), ScoreLabel::Sell);
        assert_eq!(c.label(-0.6), ScoreLabel::StrongSell);
        for l in [
            ScoreLabel::StrongBuy,
            ScoreLabel::Hold,
            ScoreLabel::StrongSell,
        ] {
            assert_eq!(ScoreLabel::parse(l.as_str()), Some(l));
        }
    }

    #[test]
    fn families_have_the_documented_signs() {
        let c = AssessmentConfig::default();
        // A steady riser, a steady faller and a choppy flat name.
        let rise: Vec<f64> = (0..300).map(|t| 100.0 * 1.001f64.powi(t)).collect();
        let fall: Vec<f64> = (0..300).map(|t| 100.0 * 0.999f64.powi(t)).collect();
        let chop: Vec<f64> = (0..300)
            .map(|t| if t % 2 == 0 { 100.0 } else { 104.0 })
            .collect();
        let names: Vec<NameInputs> = [rise, fall, chop]
            .into_iter()
            .enumerate()
            .map(|(i, closes)| NameInputs {
                id: format!("N{i}"),
                closes,
                weakness: Some(i as f64 / 2.0),
                fragility: if i == 2 {
                    None
                } else {
                    Some(0.1 + 0.5 * i as f64)
                },
            })
            .collect();
        let f = c.families(&names);
        assert!(f[0][0] > f[1][0], "momentum favours the riser");
        assert!(f[0][1] < f[1][1], "reversal favours the recent loser");
        assert!(
            f[2][2] < f[0][2],
            "low volatility penalises the choppy name"
        );
        assert!(f[0][3] > f[2][3], "quality favours the low-weakness name");
        assert!(f[0][4] > f[1][4] && f[2][4].is_none(), "fragility penalty");
    }

    #[test]
    #[allow(clippy::needless_range_loop)]
    fn the_fit_recovers_a_planted_signal_and_ignores_unfinished_horizons() {
        let c = AssessmentConfig {
            min_training_samples: 50,
            ridge: 0.01,
            ..AssessmentConfig::default()
        };
        // 40 names, 200 dates; each name's 21-day forward return is 2% × its momentum z.
        let (names, days) = (40, 200);
        let z = |i: usize, d: usize| (((i * 7 + d * 3) % 13) as f64 - 6.0) / 3.0;
        let mut closes = vec![vec![100.0; days]; names];
        let mut past = Vec::new();
        for d in (0..days).step_by(21) {
            for i in 0..names {
                if d + 21 < days {
                    let grow = 1.0 + 0.02 * z(i, d);
                    for t in d + 1..=d + 21 {
                        closes[i][t] = closes[i][d] * grow.powf((t - d) as f64 / 21.0);
                    }
                }
                past.push(PastScore {
                    date_index: d,
                    name_index: i,
                    families: [Some(z(i, d)), Some(0.0), None, None, None],
                    prediction: 0.0,
                });
            }
        }
        let fit = c.fit(&closes, &past);
        assert!(
            fit.weights[0] > 0.5,
            "far above the prior: {:?}",
            fit.weights
        );
        assert!(fit.weights[1].abs() < 0.05);
        // Dates whose horizon has not ended by the last date never enter.
        assert_eq!(
            fit.dates,
            (0..days).step_by(21).filter(|d| d + 21 < days).count()
        );
        let scores = c.score(
            &["A".into(), "B".into()],
            &[
                [Some(1.0), None, None, None, None],
                [Some(-1.0), None, None, None, None],
            ],
            &fit,
            &[],
        );
        assert!(scores[0].score > 0.0 && scores[1].score < 0.0);
        assert!(scores[0].expected_return > 0.0);
        assert!((scores[0].confidence - 0.2 * 0.25).abs() < 1e-12);
    }

    #[test]
    fn too_little_history_keeps_the_prior() {
        let c = AssessmentConfig::default();
        let fit = c.fit(&[vec![100.0; 10]], &[]);
        assert_eq!(fit.weights, c.prior);
        assert_eq!(fit.dispersion, None);
    }
}

//! Regime calibration: what the market actually did in the month after each label.
//!
//! A label is only useful if it says something about what comes next. For every labelled
//! session this looks at the market's next [`HORIZON`] sessions — its realised volatility,
//! its compound return and the deepest fall from a running peak along the way — and
//! summarises them per label. It reads the future on purpose: it is an evaluation of past
//! labels (`pv2 show regime --calibration`), never an input to a decision.

use crate::engines::regime::RegimeLabel;
use chrono::NaiveDate;
use serde::Serialize;

/// Sessions looked ahead from each labelled day (about a month).
pub const HORIZON: usize = 21;

/// The month after the labelled days of one label.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LabelCalibration {
    /// The label.
    pub label: RegimeLabel,
    /// Labelled sessions.
    pub days: usize,
    /// Their share of all labelled sessions.
    pub share: f64,
    /// Sessions with a full horizon of market data after them (the others are not scored).
    pub scored: usize,
    /// Mean annualised volatility of the market's daily returns over the next month.
    pub mean_vol: f64,
    /// Mean compound market return over the next month.
    pub mean_return: f64,
    /// Median of the same.
    pub median_return: f64,
    /// Share of scored days whose next month lost money.
    pub loss_share: f64,
    /// Mean of the deepest peak-to-trough fall within the next month (positive).
    pub mean_drawdown: f64,
    /// The deepest such fall after any day of the label.
    pub worst_drawdown: f64,
}

/// What happened over the `HORIZON` sessions after one day.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Outcome {
    vol: f64,
    ret: f64,
    drawdown: f64,
}

/// The market's path over the sessions after index `t` of `returns` (`None` without a full
/// horizon after it).
fn outcome(returns: &[f64], t: usize) -> Option<Outcome> {
    let window = returns.get(t + 1..t + 1 + HORIZON)?;
    let n = window.len() as f64;
    let mean = window.iter().sum::<f64>() / n;
    let var = window.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let (mut level, mut peak, mut drawdown) = (1.0f64, 1.0f64, 0.0f64);
    for r in window {
        level *= 1.0 + r;
        peak = peak.max(level);
        drawdown = drawdown.max(1.0 - level / peak);
    }
    Some(Outcome {
        vol: var.sqrt() * 252f64.sqrt(),
        ret: level - 1.0,
        drawdown,
    })
}

/// The calibration of `labels` (session, label; any order) against the market's daily
/// returns `returns` on `dates` (ascending). Labelled days that are not market sessions
/// are counted but not scored. Labels with no day are left out.
pub fn calibrate(
    labels: &[(NaiveDate, RegimeLabel)],
    dates: &[NaiveDate],
    returns: &[f64],
) -> Vec<LabelCalibration> {
    let total = labels.len();
    RegimeLabel::ALL
        .into_iter()
        .filter_map(|label| {
            let days: Vec<NaiveDate> = labels
                .iter()
                .filter(|(_, l)| *l == label)
                .map(|(d, _)| *d)
                .collect();
            if days.is_empty() {
                return None;
            }
            let outcomes: Vec<Outcome> = days
                .iter()
                .filter_map(|d| dates.binary_search(d).ok())
                .filter_map(|t| outcome(returns, t))
                .collect();
            let scored = outcomes.len();
            let mean = |f: fn(&Outcome) -> f64| {
                if scored == 0 {
                    f64::NAN
                } else {
                    outcomes.iter().map(f).sum::<f64>() / scored as f64
                }
            };
            let mut rets: Vec<f64> = outcomes.iter().map(|o| o.ret).collect();
            rets.sort_by(f64::total_cmp);
            let median_return = match scored {
                0 => f64::NAN,
                n if n % 2 == 1 => rets[n / 2],
                n => (rets[n / 2 - 1] + rets[n / 2]) / 2.0,
            };
            Some(LabelCalibration {
                label,
                days: days.len(),
                share: days.len() as f64 / total as f64,
                scored,
                mean_vol: mean(|o| o.vol),
                mean_return: mean(|o| o.ret),
                median_return,
                loss_share: mean(|o| f64::from(u8::from(o.ret < 0.0))),
                mean_drawdown: mean(|o| o.drawdown),
                worst_drawdown: outcomes.iter().map(|o| o.drawdown).fold(f64::NAN, f64::max),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(i: u64) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i)
    }

    #[test]
    fn each_label_is_scored_by_the_month_after_it() {
        // 60 sessions: flat at +0.1% a day, except a fall of 2% a day on sessions 30..=34.
        let dates: Vec<NaiveDate> = (0..60).map(day).collect();
        let returns: Vec<f64> = (0..60)
            .map(|t| if (30..35).contains(&t) { -0.02 } else { 0.001 })
            .collect();
        let labels = vec![
            (day(0), RegimeLabel::Carry),
            (day(20), RegimeLabel::RiskOff),
            (day(50), RegimeLabel::RiskOff),
        ];
        let c = calibrate(&labels, &dates, &returns);
        assert_eq!(c.len(), 2, "labels with no day are left out");
        let carry = &c[1];
        assert_eq!(
            (carry.label, carry.days, carry.scored),
            (RegimeLabel::Carry, 1, 1)
        );
        assert!((carry.mean_return - (1.001f64.powi(21) - 1.0)).abs() < 1e-12);
        assert!(carry.mean_vol < 1e-9 && carry.mean_drawdown == 0.0);
        let off = &c[0];
        // Day 50 has only 9 sessions after it: counted, not scored.
        assert_eq!((off.days, off.scored), (2, 1));
        assert!((off.share - 2.0 / 3.0).abs() < 1e-12);
        // Sessions 21..=41: 9 up, 5 down 2%, 7 up.
        let expected = 1.001f64.powi(16) * 0.98f64.powi(5) - 1.0;
        assert!((off.mean_return - expected).abs() < 1e-12);
        assert!((off.worst_drawdown - (1.0 - 0.98f64.powi(5))).abs() < 1e-12);
        assert_eq!(off.loss_share, 1.0);
        assert!(off.mean_vol > 0.1);
    }
}

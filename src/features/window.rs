//! Engineered features of one instrument's trailing window of daily data, as of one date:
//! the inputs of the numeric window encoder. Only rows dated on or before `as_of` are
//! looked at, whatever the caller passes.
//!
//! Every feature is `None` when the window lacks the data it needs (too short a history,
//! unknown volume, too few days shared with the market), never a made-up number.

use chrono::NaiveDate;

/// Which windows to compute over (trading days, i.e. rows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Return horizons: `ret_h = close(t) / close(t−h) − 1`.
    pub return_horizons: Vec<usize>,
    /// Realised and downside volatility window.
    pub vol_window: usize,
    /// Drawdown, trend, volume z-score, beta and correlation window.
    pub long_window: usize,
}

impl Default for WindowSpec {
    /// A week, a month and a quarter of returns; one month of volatility; a quarter for the
    /// rest.
    fn default() -> Self {
        Self {
            return_horizons: vec![5, 21, 63],
            vol_window: 21,
            long_window: 63,
        }
    }
}

/// One day of an instrument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayRow {
    /// Trading date.
    pub date: NaiveDate,
    /// Adjusted close.
    pub close: f64,
    /// Volume, when known.
    pub volume: Option<f64>,
}

/// An instrument's rows in a panel: a window onto rows that may be shared with the cache
/// they came from.
///
/// A backtest's jobs each slice a panel of hundreds of names over years out of the
/// in-memory price cache; copying every row into each job's panel was a tenth of the
/// actors' thread in its profile. A window shares the cache's rows (one reference count per
/// name) and reads as a plain slice: `rows.iter()`, `rows.len()`, `&rows[a..b]`.
#[derive(Clone, Default)]
pub struct SharedRows {
    all: std::sync::Arc<[DayRow]>,
    range: std::ops::Range<usize>,
}

impl SharedRows {
    /// The rows `all[range]`, without copying them.
    ///
    /// # Panics
    /// When `range` is not within `all` (a caller's bug, never data).
    pub fn window(all: std::sync::Arc<[DayRow]>, range: std::ops::Range<usize>) -> Self {
        assert!(
            range.start <= range.end && range.end <= all.len(),
            "row window {range:?} outside {} rows",
            all.len()
        );
        Self { all, range }
    }
}

impl std::ops::Deref for SharedRows {
    type Target = [DayRow];

    fn deref(&self) -> &[DayRow] {
        &self.all[self.range.clone()]
    }
}

impl<'a> IntoIterator for &'a SharedRows {
    type Item = &'a DayRow;
    type IntoIter = std::slice::Iter<'a, DayRow>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl From<Vec<DayRow>> for SharedRows {
    fn from(rows: Vec<DayRow>) -> Self {
        let range = 0..rows.len();
        Self {
            all: rows.into(),
            range,
        }
    }
}

impl FromIterator<DayRow> for SharedRows {
    fn from_iter<I: IntoIterator<Item = DayRow>>(rows: I) -> Self {
        rows.into_iter().collect::<Vec<_>>().into()
    }
}

impl PartialEq for SharedRows {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for SharedRows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The features of one instrument on one date, named by [`WindowSpec::names`].
#[derive(Clone, Debug, PartialEq)]
pub struct WindowFeatures {
    /// Values in the order of the names.
    pub values: Vec<Option<f64>>,
}

const ANNUAL: f64 = 252.0;

impl WindowSpec {
    /// Feature names, in output order.
    pub fn names(&self) -> Vec<String> {
        let (v, l) = (self.vol_window, self.long_window);
        let mut names: Vec<String> = self
            .return_horizons
            .iter()
            .map(|h| format!("ret_{h}"))
            .collect();
        names.extend([
            format!("vol_{v}"),
            format!("downside_vol_{v}"),
            format!("max_drawdown_{l}"),
            format!("trend_{l}"),
            format!("volume_z_{l}"),
            format!("beta_{l}"),
            format!("corr_{l}"),
        ]);
        names
    }

    /// Rows of history a feature vector needs at most.
    pub fn lookback(&self) -> usize {
        self.return_horizons
            .iter()
            .copied()
            .chain([self.vol_window, self.long_window])
            .max()
            .unwrap_or(1)
            + 1
    }

    /// The features of `rows` (ascending by date, one instrument) as of `as_of`, with the
    /// market's one-day returns `market` (ascending by date) for beta and correlation.
    pub fn compute(
        &self,
        rows: &[DayRow],
        market: &[(NaiveDate, f64)],
        as_of: NaiveDate,
    ) -> WindowFeatures {
        let rows = &rows[..rows.partition_point(|r| r.date <= as_of)];
        let market = &market[..market.partition_point(|m| m.0 <= as_of)];
        let closes: Vec<f64> = rows.iter().map(|r| r.close).collect();
        let n = closes.len();
        let mut values: Vec<Option<f64>> = self
            .return_horizons
            .iter()
            .map(|&h| (n > h).then(|| closes[n - 1] / closes[n - 1 - h] - 1.0))
            .collect();
        let rets = |w: usize| -> Option<Vec<f64>> {
            (n > w).then(|| {
                (n - w..n)
                    .map(|i| closes[i] / closes[i - 1] - 1.0)
                    .collect()
            })
        };
        let short = rets(self.vol_window);
        values.push(
            short
                .as_deref()
                .and_then(sample_sd)
                .map(|s| s * ANNUAL.sqrt()),
        );
        values.push(short.as_deref().map(|r| {
            (r.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / r.len() as f64).sqrt()
                * ANNUAL.sqrt()
        }));
        let l = self.long_window;
        let window = (n >= l && l >= 2).then(|| &closes[n - l..]);
        values.push(window.map(max_drawdown));
        values.push(window.and_then(log_trend).map(|slope| slope * ANNUAL));
        values.push(
            (n >= l && l >= 2)
                .then(|| volume_z(&rows[n - l..]))
                .flatten(),
        );
        let (beta, corr) = rets(l)
            .map(|r| beta_corr(&rows[n - l..], &r, market))
            .unwrap_or((None, None));
        values.push(beta);
        values.push(corr);
        WindowFeatures { values }
    }
}

/// Sample standard deviation (n − 1), `None` below two values.
fn sample_sd(x: &[f64]) -> Option<f64> {
    if x.len() < 2 {
        return None;
    }
    let m = x.iter().sum::<f64>() / x.len() as f64;
    Some((x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64).sqrt())
}

/// The largest fall from a running peak, as a fraction in [0, 1).
fn max_drawdown(closes: &[f64]) -> f64 {
    let mut peak = f64::MIN;
    let mut worst = 0.0f64;
    for &c in closes {
        peak = peak.max(c);
        worst = worst.max(1.0 - c / peak);
    }
    worst
}

/// Least-squares slope of ln(close) per row.
fn log_trend(closes: &[f64]) -> Option<f64> {
    let n = closes.len() as f64;
    let ys: Vec<f64> = closes.iter().map(|c| c.ln()).collect();
    let mx = (n - 1.0) / 2.0;
    let my = ys.iter().sum::<f64>() / n;
    let sxx: f64 = (0..closes.len()).map(|i| (i as f64 - mx).powi(2)).sum();
    let sxy: f64 = ys
        .iter()
        .enumerate()
        .map(|(i, y)| (i as f64 - mx) * (y - my))
        .sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// Today's log volume against the window's earlier days, in standard deviations; `None`
/// when any volume in the window is unknown or not positive, or the earlier days do not vary.
fn volume_z(rows: &[DayRow]) -> Option<f64> {
    let logs: Option<Vec<f64>> = rows
        .iter()
        .map(|r| r.volume.filter(|v| *v > 0.0).map(f64::ln))
        .collect();
    let logs = logs?;
    let (today, before) = logs.split_last()?;
    let sd = sample_sd(before)?;
    let mean = before.iter().sum::<f64>() / before.len() as f64;
    (sd > 0.0).then(|| (today - mean) / sd)
}

/// Beta and correlation of the instrument's one-day returns (`rets[i]` ends on
/// `rows[i].date`) against the market's on the dates both have; `None` below 10 shared days
/// or without market variation.
fn beta_corr(
    rows: &[DayRow],
    rets: &[f64],
    market: &[(NaiveDate, f64)],
) -> (Option<f64>, Option<f64>) {
    let pairs: Vec<(f64, f64)> = rows
        .iter()
        .zip(rets)
        .filter_map(|(r, x)| {
            market
                .binary_search_by_key(&r.date, |m| m.0)
                .ok()
                .map(|i| (*x, market[i].1))
        })
        .collect();
    if pairs.len() < 10 {
        return (None, None);
    }
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0).sum::<f64>() / n,
        pairs.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in &pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx).powi(2);
        syy += (y - my).powi(2);
    }
    let beta = (syy > 0.0).then(|| sxy / syy);
    let corr = (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt());
    (beta, corr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(i: usize) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap() + chrono::TimeDelta::days(i as i64)
    }

    fn rows(n: usize, volume: bool) -> Vec<DayRow> {
        (0..n)
            .map(|i| DayRow {
                date: day(i),
                close: 100.0 * (1.0 + 0.2 * (i as f64 * 0.7).sin()) + i as f64 * 0.3,
                volume: volume.then(|| 1000.0 + 50.0 * ((i * 7 % 11) as f64)),
            })
            .collect()
    }

    fn spec() -> WindowSpec {
        WindowSpec {
            return_horizons: vec![1, 5],
            vol_window: 10,
            long_window: 20,
        }
    }

    fn get(f: &WindowFeatures, spec: &WindowSpec, name: &str) -> Option<f64> {
        let i = spec.names().iter().position(|n| n == name).unwrap();
        f.values[i]
    }

    #[test]
    fn features_equal_direct_computations() {
        let s = spec();
        let r = rows(40, true);
        let market: Vec<(NaiveDate, f64)> = (1..40)
            .map(|i| (day(i), 0.01 * ((i as f64) * 1.3).cos()))
            .collect();
        let f = s.compute(&r, &market, day(39));
        assert_eq!(f.values.len(), s.names().len());
        let c: Vec<f64> = r.iter().map(|x| x.close).collect();
        let close = |i: usize| c[i];
        assert_eq!(get(&f, &s, "ret_5"), Some(close(39) / close(34) - 1.0));
        // Volatility: the 10 last one-day returns, sample sd, annualised.
        let rets: Vec<f64> = (30..40).map(|i| close(i) / close(i - 1) - 1.0).collect();
        let m = rets.iter().sum::<f64>() / 10.0;
        let sd = (rets.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 9.0).sqrt();
        assert!((get(&f, &s, "vol_10").unwrap() - sd * 252f64.sqrt()).abs() < 1e-12);
        let down = (rets.iter().map(|x| x.min(0.0).powi(2)).sum::<f64>() / 10.0).sqrt();
        assert!((get(&f, &s, "downside_vol_10").unwrap() - down * 252f64.sqrt()).abs() < 1e-12);
        // Drawdown over the last 20 closes, by brute force over every (peak, later) pair.
        let mut dd = 0.0f64;
        for i in 20..40 {
            for j in i..40 {
                dd = dd.max(1.0 - close(j) / close(i));
            }
        }
        assert!((get(&f, &s, "max_drawdown_20").unwrap() - dd).abs() < 1e-12);
        // Beta and correlation over the shared dates (all 20), textbook formulas.
        let x: Vec<f64> = (20..40).map(|i| close(i) / close(i - 1) - 1.0).collect();
        let y: Vec<f64> = (20..40).map(|i| market[i - 1].1).collect();
        let (mx, my) = (x.iter().sum::<f64>() / 20.0, y.iter().sum::<f64>() / 20.0);
        let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
        let vx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
        let vy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
        assert!((get(&f, &s, "beta_20").unwrap() - cov / vy).abs() < 1e-12);
        assert!((get(&f, &s, "corr_20").unwrap() - cov / (vx * vy).sqrt()).abs() < 1e-12);
        // Volume z-score: today's log volume against the 19 days before it.
        let lv: Vec<f64> = (20..40).map(|i| r[i].volume.unwrap().ln()).collect();
        let mb = lv[..19].iter().sum::<f64>() / 19.0;
        let sb = (lv[..19].iter().map(|v| (v - mb).powi(2)).sum::<f64>() / 18.0).sqrt();
        assert!((get(&f, &s, "volume_z_20").unwrap() - (lv[19] - mb) / sb).abs() < 1e-12);
        assert!(get(&f, &s, "trend_20").is_some());
    }

    #[test]
    fn trend_of_an_exponential_path_is_its_growth_rate() {
        let s = spec();
        let r: Vec<DayRow> = (0..30)
            .map(|i| DayRow {
                date: day(i),
                close: 50.0 * (0.001 * i as f64).exp(),
                volume: None,
            })
            .collect();
        let f = s.compute(&r, &[], day(29));
        assert!((get(&f, &s, "trend_20").unwrap() - 0.001 * 252.0).abs() < 1e-9);
        assert_eq!(get(&f, &s, "max_drawdown_20"), Some(0.0));
        // No volume and no market: unknown, not zero.
        assert_eq!(get(&f, &s, "volume_z_20"), None);
        assert_eq!(get(&f, &s, "beta_20"), None);
    }

    #[test]
    fn rows_after_as_of_are_ignored_and_short_histories_give_none() {
        let s = spec();
        let mut r = rows(40, true);
        let base = s.compute(&r, &[], day(30));
        for row in r.iter_mut().skip(31) {
            row.close *= 3.0;
            row.volume = None;
        }
        assert_eq!(
            s.compute(&r, &[], day(30)),
            base,
            "the future cannot move a feature"
        );
        let short = s.compute(&rows(4, true), &[], day(3));
        assert_eq!(get(&short, &s, "ret_1").map(|_| ()), Some(()));
        assert_eq!(get(&short, &s, "ret_5"), None);
        assert_eq!(get(&short, &s, "vol_10"), None);
        assert_eq!(get(&short, &s, "max_drawdown_20"), None);
    }
}

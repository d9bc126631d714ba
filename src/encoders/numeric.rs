//! The numeric window encoder: engineered window features of every instrument on a date
//! ([`crate::features::window`]), standardised across the instruments of that date, then
//! projected by a PCA to a fixed dimension.
//!
//! The PCA is fitted point-in-time: the model used on a date is the one fitted at that
//! date's refit anchor (the last calendar day of the previous week, month or quarter),
//! from the pooled cross-sections of sample dates on or before the anchor. The anchor is a
//! function of the date alone, so a backfill, a daily run and a re-run all use the same
//! model, and no model ever saw data from the date it embeds. Fitted models are plain data
//! ([`PcaModel`]) identified by the hash of their content, stored, and reloaded bit-exact.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate};
use linfa::DatasetBase;
use linfa::traits::Fit;
use linfa_reduction::Pca;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EncoderError;
use crate::config::{EngineConfig, Issues};
use crate::features::{DayRow, SharedRows, WindowSpec, standardise};

/// How often the PCA is refitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Refit {
    /// Anchor: the Sunday before the date's ISO week.
    Weekly,
    /// Anchor: the last day of the previous month.
    Monthly,
    /// Anchor: the last day of the previous quarter.
    Quarterly,
}

impl Refit {
    /// The anchor of `as_of`: the last calendar day before the period `as_of` falls in.
    pub fn anchor(self, as_of: NaiveDate) -> NaiveDate {
        let start = match self {
            Self::Weekly => as_of - Days::new(u64::from(as_of.weekday().num_days_from_monday())),
            Self::Monthly => as_of.with_day(1).unwrap_or(as_of),
            Self::Quarterly => {
                let month = (as_of.month0() / 3) * 3 + 1;
                NaiveDate::from_ymd_opt(as_of.year(), month, 1).unwrap_or(as_of)
            }
        };
        start.pred_opt().unwrap_or(start)
    }
}

/// Configuration of the numeric encoder (`config/engines/numeric_encoder.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumericEncoderConfig {
    /// Return horizons of the window features, in trading days.
    pub return_horizons: Vec<usize>,
    /// Realised and downside volatility window.
    pub vol_window: usize,
    /// Drawdown, trend, volume z-score, beta and correlation window.
    pub long_window: usize,
    /// Cross-sectional z-scores are clipped to ±clip.
    pub clip: f64,
    /// Output dimension (PCA components); at most the number of features.
    pub dim: usize,
    /// How often the PCA is refitted.
    pub refit: Refit,
    /// Cross-sections pooled into one fit (the latest dates on or before the anchor).
    pub fit_dates: usize,
    /// Trading days between pooled cross-sections.
    pub fit_stride: usize,
    /// Fewer pooled rows than this and no model is fitted (the date is not embedded).
    pub min_fit_rows: usize,
}

impl Default for NumericEncoderConfig {
    fn default() -> Self {
        Self {
            return_horizons: vec![5, 21, 63, 126],
            vol_window: 21,
            long_window: 63,
            clip: 5.0,
            dim: 8,
            refit: Refit::Monthly,
            fit_dates: 12,
            fit_stride: 5,
            min_fit_rows: 100,
        }
    }
}

impl EngineConfig for NumericEncoderConfig {
    const ENGINE: &'static str = "numeric_encoder";

    fn validate(&self, issues: &mut Issues) {
        issues.check(self.return_horizons.is_empty(), "return_horizons", || {
            "must list at least one horizon".into()
        });
        for h in &self.return_horizons {
            issues.check(!(1..=1260).contains(h), "return_horizons", || {
                format!("{h} is out of range; use 1..=1260 trading days")
            });
        }
        issues.check(!(2..=1260).contains(&self.vol_window), "vol_window", || {
            format!("{} is out of range; use 2..=1260", self.vol_window)
        });
        issues.check(
            !(10..=1260).contains(&self.long_window),
            "long_window",
            || {
                format!(
                    "{} is out of range; use 10..=1260 (beta needs 10 days)",
                    self.long_window
                )
            },
        );
        issues.check(!(self.clip.is_finite() && self.clip > 0.0), "clip", || {
            format!("{} must be a positive number", self.clip)
        });
        let features = self.spec().names().len();
        issues.check(!(1..=features).contains(&self.dim), "dim", || {
            format!(
                "{} is out of range; use 1..={features} (the number of window features)",
                self.dim
            )
        });
        issues.check(!(1..=260).contains(&self.fit_dates), "fit_dates", || {
            format!("{} is out of range; use 1..=260", self.fit_dates)
        });
        issues.check(!(1..=63).contains(&self.fit_stride), "fit_stride", || {
            format!("{} is out of range; use 1..=63", self.fit_stride)
        });
        issues.check(self.min_fit_rows < 2 * features, "min_fit_rows", || {
            format!(
                "{} is too small; use at least {} (twice the number of features)",
                self.min_fit_rows,
                2 * features
            )
        });
    }
}

impl NumericEncoderConfig {
    /// The window features it computes.
    pub fn spec(&self) -> WindowSpec {
        WindowSpec {
            return_horizons: self.return_horizons.clone(),
            vol_window: self.vol_window,
            long_window: self.long_window,
        }
    }

    /// Calendar days of history to read before a date so that both its features and the
    /// fit at its anchor have their full windows (trading days × 7/5, plus the anchor gap
    /// and a margin for holidays).
    pub fn history_days(&self) -> u64 {
        let rows = self.spec().lookback() + self.fit_dates * self.fit_stride;
        (rows as u64 * 7).div_ceil(5) + 92 + 15
    }
}

/// Daily rows of many instruments and the market's one-day returns, ascending by date: what
/// the encoder reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Panel {
    /// Rows per instrument id (shared with the cache they were sliced from).
    pub instruments: BTreeMap<String, SharedRows>,
    /// The market factor (one-day returns).
    pub market: Vec<(NaiveDate, f64)>,
}

impl Panel {
    /// The panel of in-memory series (a generated market, benchmarks, replays): adjusted
    /// closes and volumes, with the market factor as the mean one-day return of the
    /// instruments that have one that day.
    pub fn from_series(series: &[crate::domain::InstrumentSeries]) -> Self {
        let mut sums: BTreeMap<NaiveDate, (f64, u32)> = BTreeMap::new();
        let instruments = series
            .iter()
            .map(|s| {
                for w in s.bars.windows(2) {
                    let e = sums.entry(w[1].trade_date).or_default();
                    e.0 += w[1].adj_close / w[0].adj_close - 1.0;
                    e.1 += 1;
                }
                let rows = s
                    .bars
                    .iter()
                    .map(|b| DayRow {
                        date: b.trade_date,
                        close: b.adj_close,
                        volume: b.volume,
                    })
                    .collect();
                (s.instrument_id.as_str().to_owned(), rows)
            })
            .collect();
        let market = sums
            .into_iter()
            .map(|(d, (sum, k))| (d, sum / f64::from(k)))
            .collect();
        Self {
            instruments,
            market,
        }
    }

    /// Every date some instrument has, ascending.
    ///
    /// Every job calls this on a panel of hundreds of names over years; most names trade
    /// on the same calendar, so each one's dates are merged into the union only when they
    /// are not already the union's (a comparison of two slices) — linear, where sorting the
    /// pooled dates (380,000 for 500 names × three years) was among the heaviest work on
    /// the actors' thread in a backtest's profile.
    pub fn dates(&self) -> Vec<NaiveDate> {
        let mut union: Vec<NaiveDate> = Vec::new();
        let mut own: Vec<NaiveDate> = Vec::new();
        for rows in self.instruments.values() {
            own.clear();
            own.extend(rows.iter().map(|r| r.date));
            if own.is_empty() || own == union {
                continue;
            }
            if !own.is_sorted() {
                own.sort_unstable();
            }
            own.dedup();
            union = merge_sorted(&union, &own);
        }
        union
    }

    /// `rows`' closes on each of `dates` (ascending), NaN on a date the rows lack: the
    /// dense, date-aligned series the cross-sectional jobs compute returns from.
    pub fn closes_on(rows: &[DayRow], dates: &[NaiveDate]) -> Vec<f64> {
        let mut c = vec![f64::NAN; dates.len()];
        for (r, t) in rows.iter().zip(Self::date_positions(rows, dates)) {
            if let Some(t) = t {
                c[t] = r.close;
            }
        }
        c
    }

    /// The index in `dates` (ascending, as [`Self::dates`] returns) of each of `rows`'
    /// dates, `None` for a row dated outside them: a two-pointer walk over both sorted
    /// lists, for the jobs that align every instrument's rows on the panel's dates.
    pub fn date_positions(rows: &[DayRow], dates: &[NaiveDate]) -> Vec<Option<usize>> {
        let mut t = 0;
        rows.iter()
            .map(|r| {
                while t < dates.len() && dates[t] < r.date {
                    t += 1;
                }
                (t < dates.len() && dates[t] == r.date).then_some(t)
            })
            .collect()
    }

    /// Instruments that trade on `as_of` with a full window of history, and their
    /// standardised features, in id order.
    pub fn cross_section(
        &self,
        spec: &WindowSpec,
        clip: f64,
        as_of: NaiveDate,
    ) -> (Vec<String>, Vec<Vec<f64>>) {
        let need = spec.lookback();
        let mut ids = Vec::new();
        let mut raw = Vec::new();
        for (id, rows) in &self.instruments {
            let upto = &rows[..rows.partition_point(|r| r.date <= as_of)];
            if upto.len() < need || upto.last().map(|r| r.date) != Some(as_of) {
                continue;
            }
            ids.push(id.clone());
            raw.push(
                spec.compute(&upto[upto.len() - need..], &self.market, as_of)
                    .values,
            );
        }
        (ids, standardise(&raw, clip))
    }
}

/// A fitted PCA: plain numbers, serialisable, applied without linfa.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PcaModel {
    /// Input features, in order.
    pub feature_names: Vec<String>,
    /// Mean of the fitted (standardised) rows.
    pub mean: Vec<f64>,
    /// Components (rows), each with its largest-magnitude loading positive.
    pub components: Vec<Vec<f64>>,
    /// Share of the variance each component explains.
    pub explained_variance_ratio: Vec<f64>,
    /// The last date of data it saw (the refit anchor).
    pub fitted_as_of: NaiveDate,
    /// Pooled rows it was fitted on.
    pub samples: usize,
}

impl PcaModel {
    /// `numeric-pca-<16 hex>`: the hash of the model's JSON, so the id changes whenever the
    /// projection does.
    pub fn model_id(&self) -> String {
        let json = self.to_json();
        let digest = Sha256::digest(json.as_bytes());
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("numeric-pca-{hex}")
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        // Plain structs of numbers and strings always serialise.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`EncoderError::Model`] when the JSON is not a model.
    pub fn from_json(json: &str) -> Result<Self, EncoderError> {
        serde_json::from_str(json).map_err(|e| EncoderError::Model {
            path: "encoder_models".into(),
            reason: e.to_string(),
        })
    }

    /// The projection of one standardised row.
    pub fn project(&self, row: &[f64]) -> Vec<f32> {
        self.components
            .iter()
            .map(|c| {
                c.iter()
                    .zip(row.iter().zip(&self.mean))
                    .map(|(w, (x, m))| w * (x - m))
                    .sum::<f64>() as f32
            })
            .collect()
    }
}

/// The sample dates of a fit at `anchor`: every `stride`-th date of `dates` on or before
/// the anchor, newest first, at most `count`.
pub fn fit_dates(
    dates: &[NaiveDate],
    anchor: NaiveDate,
    count: usize,
    stride: usize,
) -> Vec<NaiveDate> {
    let upto = &dates[..dates.partition_point(|d| *d <= anchor)];
    upto.iter()
        .rev()
        .step_by(stride.max(1))
        .take(count)
        .copied()
        .collect()
}

/// Fits the PCA at `anchor` from `panel` (only data on or before the anchor is used).
///
/// # Errors
/// [`EncoderError::NotEnoughData`] below `min_fit_rows` pooled rows;
/// [`EncoderError::Fit`] when the decomposition fails.
pub fn fit_at(
    config: &NumericEncoderConfig,
    panel: &Panel,
    anchor: NaiveDate,
) -> Result<PcaModel, EncoderError> {
    let spec = config.spec();
    let names = spec.names();
    let mut pooled: Vec<Vec<f64>> = Vec::new();
    for date in fit_dates(&panel.dates(), anchor, config.fit_dates, config.fit_stride) {
        pooled.extend(panel.cross_section(&spec, config.clip, date).1);
    }
    if pooled.len() < config.min_fit_rows {
        return Err(EncoderError::NotEnoughData(format!(
            "{} rows with a full {}-day window on or before {anchor} (need {})",
            pooled.len(),
            spec.lookback(),
            config.min_fit_rows
        )));
    }
    fit_rows(&pooled, names, config.dim, anchor)
}

/// Fits a PCA of `dim` components to standardised `rows` (linfa-reduction), with signs made
/// canonical so the same data always gives the same model.
///
/// # Errors
/// [`EncoderError::Fit`] when the decomposition fails.
pub fn fit_rows(
    rows: &[Vec<f64>],
    feature_names: Vec<String>,
    dim: usize,
    fitted_as_of: NaiveDate,
) -> Result<PcaModel, EncoderError> {
    let width = feature_names.len();
    let flat: Vec<f64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    let records = Array2::from_shape_vec((rows.len(), width), flat)
        .map_err(|e| EncoderError::Fit(format!("ragged feature rows: {e}")))?;
    let dataset = DatasetBase::from(records);
    let pca = Pca::params(dim)
        .fit(&dataset)
        .map_err(|e| EncoderError::Fit(e.to_string()))?;
    let mut components: Vec<Vec<f64>> = pca
        .components()
        .rows()
        .into_iter()
        .map(|r| r.to_vec())
        .collect();
    for c in &mut components {
        let lead = c
            .iter()
            .copied()
            .fold(0.0f64, |a, x| if x.abs() > a.abs() { x } else { a });
        if lead < 0.0 {
            c.iter_mut().for_each(|x| *x = -*x);
        }
    }
    Ok(PcaModel {
        feature_names,
        mean: pca.mean().to_vec(),
        components,
        explained_variance_ratio: pca.explained_variance_ratio().to_vec(),
        fitted_as_of,
        samples: rows.len(),
    })
}

/// The embeddings of every instrument of `panel` on `as_of` under `model`, in id order.
pub fn encode_date(
    config: &NumericEncoderConfig,
    panel: &Panel,
    model: &PcaModel,
    as_of: NaiveDate,
) -> Vec<(String, Vec<f32>)> {
    let (ids, rows) = panel.cross_section(&config.spec(), config.clip, as_of);
    ids.into_iter()
        .zip(rows.iter().map(|r| model.project(r)))
        .collect()
}

/// The sorted, duplicate-free union of two sorted, duplicate-free date lists.
fn merge_sorted(a: &[NaiveDate], b: &[NaiveDate]) -> Vec<NaiveDate> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn date(i: usize) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + Days::new(i as u64)
    }

    #[test]
    fn dates_are_the_sorted_union_and_positions_index_into_it() {
        let row = |d: usize| DayRow {
            date: date(d),
            close: 1.0,
            volume: None,
        };
        let mut p = Panel::default();
        // Two names on one calendar, one with gaps and an extra day, one listed late.
        p.instruments
            .insert("A".into(), [0, 1, 2, 4, 5].map(row).to_vec().into());
        p.instruments
            .insert("B".into(), [0, 1, 2, 4, 5].map(row).to_vec().into());
        p.instruments
            .insert("C".into(), [1, 3, 6].map(row).to_vec().into());
        p.instruments
            .insert("D".into(), [5, 6, 7].map(row).to_vec().into());
        p.instruments.insert("E".into(), Vec::new().into());
        let mut pooled: Vec<NaiveDate> = p
            .instruments
            .values()
            .flat_map(|r| r.iter().map(|r| r.date))
            .collect();
        pooled.sort_unstable();
        pooled.dedup();
        let dates = p.dates();
        assert_eq!(dates, pooled);
        assert_eq!(dates, (0..8).map(date).collect::<Vec<_>>());
        let c = &p.instruments["C"];
        assert_eq!(
            Panel::date_positions(c, &dates),
            vec![Some(1), Some(3), Some(6)]
        );
        // A row outside the dates has no position; the walk goes on after it.
        let partial = [date(1), date(4), date(7)];
        assert_eq!(
            Panel::date_positions(&p.instruments["A"], &partial),
            vec![None, Some(0), None, Some(1), None]
        );
        assert!(Panel::default().dates().is_empty());
    }

    /// `n` instruments over `days` days of random walks with factor exposure and volume.
    fn panel(n: usize, days: usize, seed: u64) -> Panel {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let market: Vec<(NaiveDate, f64)> = (0..days)
            .map(|d| (date(d), rng.random_range(-0.02..0.02)))
            .collect();
        let instruments = (0..n)
            .map(|i| {
                let beta = rng.random_range(0.2..1.8);
                let mut close = 100.0;
                let rows = (0..days)
                    .map(|d| {
                        close *= 1.0 + beta * market[d].1 + rng.random_range(-0.03..0.03);
                        DayRow {
                            date: date(d),
                            close,
                            volume: (i % 3 != 0).then(|| rng.random_range(1e5..1e6)),
                        }
                    })
                    .collect();
                (format!("I{i:04}"), rows)
            })
            .collect();
        Panel {
            instruments,
            market,
        }
    }

    #[test]
    fn anchors_are_the_day_before_the_period() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 15).unwrap(); // a Wednesday
        assert_eq!(
            Refit::Monthly.anchor(d),
            NaiveDate::from_ymd_opt(2024, 4, 30).unwrap()
        );
        assert_eq!(
            Refit::Quarterly.anchor(d),
            NaiveDate::from_ymd_opt(2024, 3, 31).unwrap()
        );
        assert_eq!(
            Refit::Weekly.anchor(d),
            NaiveDate::from_ymd_opt(2024, 5, 12).unwrap()
        );
        let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
        assert_eq!(
            Refit::Quarterly.anchor(first),
            NaiveDate::from_ymd_opt(2023, 12, 31).unwrap()
        );
    }

    #[test]
    fn fit_dates_step_back_from_the_anchor() {
        let dates: Vec<NaiveDate> = (0..30).map(date).collect();
        let got = fit_dates(&dates, date(20), 3, 5);
        assert_eq!(got, vec![date(20), date(15), date(10)]);
    }

    #[test]
    fn the_future_does_not_change_an_embedding() {
        let config = NumericEncoderConfig::default();
        let p = panel(120, 400, 7);
        let as_of = date(330);
        let anchor = config.refit.anchor(as_of);
        let model = fit_at(&config, &p, anchor).unwrap();
        assert!(model.fitted_as_of < as_of);
        let vectors = encode_date(&config, &p, &model, as_of);
        assert_eq!(vectors.len(), 120);
        assert!(vectors.iter().all(|(_, v)| v.len() == config.dim));

        // Perturb every price and market return after as_of (and add new instruments).
        let mut future = p.clone();
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        for rows in future.instruments.values_mut() {
            let mut changed = rows.to_vec();
            for r in changed.iter_mut().filter(|r| r.date > as_of) {
                r.close *= rng.random_range(0.2..5.0);
                r.volume = None;
            }
            *rows = changed.into();
        }
        for m in future.market.iter_mut().filter(|m| m.0 > as_of) {
            m.1 = 0.5;
        }
        let refit = fit_at(&config, &future, anchor).unwrap();
        assert_eq!(refit, model, "the model only sees data up to its anchor");
        assert_eq!(encode_date(&config, &future, &refit, as_of), vectors);
    }

    #[test]
    fn fits_are_deterministic_and_round_trip() {
        let config = NumericEncoderConfig::default();
        let p = panel(80, 360, 3);
        let a = fit_at(&config, &p, date(300)).unwrap();
        let b = fit_at(&config, &p, date(300)).unwrap();
        assert_eq!(a.model_id(), b.model_id());
        let back = PcaModel::from_json(&a.to_json()).unwrap();
        assert_eq!(back, a);
        assert_eq!(
            encode_date(&config, &p, &back, date(350)),
            encode_date(&config, &p, &a, date(350))
        );
        // Components are orthonormal and explain a decreasing share of variance.
        for (i, c) in a.components.iter().enumerate() {
            let norm: f64 = c.iter().map(|x| x * x).sum();
            assert!((norm - 1.0).abs() < 1e-6, "component {i} norm {norm}");
            for d in &a.components[..i] {
                let dot: f64 = c.iter().zip(d).map(|(x, y)| x * y).sum();
                assert!(dot.abs() < 1e-6);
            }
        }
        let r = &a.explained_variance_ratio;
        assert!(r.windows(2).all(|w| w[0] >= w[1] - 1e-12), "{r:?}");
    }

    #[test]
    fn projection_equals_the_direct_computation() {
        let config = NumericEncoderConfig::default();
        let p = panel(60, 300, 11);
        let model = fit_at(&config, &p, date(250)).unwrap();
        let (ids, rows) = p.cross_section(&config.spec(), config.clip, date(290));
        let got = encode_date(&config, &p, &model, date(290));
        for ((id, row), (gid, v)) in ids.iter().zip(&rows).zip(&got) {
            assert_eq!(id, gid);
            for (k, c) in model.components.iter().enumerate() {
                let direct: f64 = (0..row.len())
                    .map(|j| c[j] * (row[j] - model.mean[j]))
                    .sum();
                assert!((f64::from(v[k]) - direct).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn too_little_history_is_a_clear_error_and_bad_configs_are_reported() {
        let config = NumericEncoderConfig::default();
        let p = panel(5, 200, 1);
        let err = fit_at(&config, &p, date(150)).unwrap_err().to_string();
        assert!(err.contains("need 100"), "{err}");
        let bad = NumericEncoderConfig {
            dim: 50,
            clip: -1.0,
            min_fit_rows: 1,
            ..NumericEncoderConfig::default()
        };
        let mut issues = Issues::default();
        bad.validate(&mut issues);
        let text = format!("{issues:?}");
        for key in ["dim", "clip", "min_fit_rows"] {
            assert!(text.contains(key), "{text}");
        }
    }
}

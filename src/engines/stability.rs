//! The stability & soft-target engine: how fragile is each name today, and is it getting
//! worse?
//!
//! Six components, each in [0,1] with 1 = weak, computed from what was known on the date:
//! liquidity (median traded value, only when volume is known), volatility, drawdown from the
//! one-year peak, complacency/trend (a falling trend, or a long rally with compressed
//! volatility), contagion (correlation with the market on the market's worst days) and
//! fundamental weakness (the profile's leverage and loss flags). Their weighted mean gives
//! `stability_score` (1 = stable); `soft_target_score` (0–100) blends instability with the
//! single worst component, so one acute weakness is not averaged away. The class cut-offs are
//! tightened in stressed regimes; the forecast extrapolates the score's month-on-month change
//! against the cut-offs expected under the regime's change risk.

use crate::config::tunable::{Step, Tunable};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::config::{EngineConfig, Issues};
use crate::engines::regime::RegimeLabel;
use crate::features::DayRow;
use crate::profiles::Ramp;

/// Soft-target classes, from least to most targetable.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SoftTargetClass {
    /// No material weakness.
    Stable,
    /// Worth watching.
    Watch,
    /// Clearly weak.
    Fragile,
    /// Weak enough to be targeted by others.
    Targetable,
    /// Likely to break.
    Breaker,
}

impl SoftTargetClass {
    /// Every class, in order.
    pub const ALL: [Self; 5] = [
        Self::Stable,
        Self::Watch,
        Self::Fragile,
        Self::Targetable,
        Self::Breaker,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "STABLE",
            Self::Watch => "WATCH",
            Self::Fragile => "FRAGILE",
            Self::Targetable => "TARGETABLE",
            Self::Breaker => "BREAKER",
        }
    }
}

/// Component names, in the order of [`Components::values`].
pub const COMPONENTS: [&str; 6] = [
    "liquidity",
    "volatility",
    "drawdown",
    "complacency_trend",
    "contagion",
    "fundamental",
];

/// Weights of the components in the stability score.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComponentWeights {
    /// Liquidity.
    pub liquidity: f64,
    /// Volatility.
    pub volatility: f64,
    /// Drawdown.
    pub drawdown: f64,
    /// Complacency / trend.
    pub complacency_trend: f64,
    /// Contagion.
    pub contagion: f64,
    /// Fundamental weakness.
    pub fundamental: f64,
}

impl Default for ComponentWeights {
    fn default() -> Self {
        Self {
            liquidity: 1.0,
            volatility: 1.0,
            drawdown: 1.0,
            complacency_trend: 0.75,
            contagion: 1.0,
            fundamental: 0.75,
        }
    }
}

impl ComponentWeights {
    fn values(&self) -> [f64; 6] {
        [
            self.liquidity,
            self.volatility,
            self.drawdown,
            self.complacency_trend,
            self.contagion,
            self.fundamental,
        ]
    }
}

/// Soft-target cut-offs (scores at which each class starts) and their regime multipliers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClassCutoffs {
    /// WATCH from this score.
    pub watch: f64,
    /// FRAGILE from this score.
    pub fragile: f64,
    /// TARGETABLE from this score.
    pub targetable: f64,
    /// BREAKER from this score.
    pub breaker: f64,
    /// Multiplier of every cut-off in RISK_OFF (below 1 tightens).
    pub risk_off_multiplier: f64,
    /// Multiplier of every cut-off in CRISIS.
    pub crisis_multiplier: f64,
}

impl Default for ClassCutoffs {
    fn default() -> Self {
        Self {
            watch: 25.0,
            fragile: 45.0,
            targetable: 65.0,
            breaker: 80.0,
            risk_off_multiplier: 0.9,
            crisis_multiplier: 0.8,
        }
    }
}

impl ClassCutoffs {
    /// The multiplier in a regime.
    pub fn multiplier(&self, regime: Option<RegimeLabel>) -> f64 {
        match regime {
            Some(RegimeLabel::Crisis) => self.crisis_multiplier,
            Some(RegimeLabel::RiskOff) => self.risk_off_multiplier,
            _ => 1.0,
        }
    }

    /// The class of `score` with every cut-off scaled by `multiplier`: a score equal to a
    /// cut-off belongs to the higher class.
    pub fn class(&self, score: f64, multiplier: f64) -> SoftTargetClass {
        let cuts = [self.watch, self.fragile, self.targetable, self.breaker];
        let above = cuts.iter().filter(|c| score >= *c * multiplier).count();
        SoftTargetClass::ALL[above]
    }
}

/// Configuration of the stability engine (`config/engines/stability.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StabilityConfig {
    /// Volatility window (trading days).
    pub vol_window: usize,
    /// Drawdown, contagion and complacency window.
    pub long_window: usize,
    /// Traded-value window of the liquidity component.
    pub liquidity_window: usize,
    /// log10 of the median daily traded value: liquidity component 0 at `from`, 1 at `to`.
    pub liquidity: Ramp,
    /// Annualised volatility ramp.
    pub volatility: Ramp,
    /// Drawdown (fraction below the window's peak) ramp.
    pub drawdown: Ramp,
    /// Falling-trend ramp on the negated half-year return.
    pub trend: Ramp,
    /// Complacency: one-year return ramp…
    pub rally: Ramp,
    /// …times the short/long volatility ratio ramp (compressed volatility → 1).
    pub compression: Ramp,
    /// Correlation with the market on its worst days.
    pub contagion: Ramp,
    /// The market's worst days: returns at or below this quantile of the window.
    pub stress_quantile: f64,
    /// Component weights.
    pub weights: ComponentWeights,
    /// Share of instability (vs the worst component) in the soft-target score.
    pub blend: f64,
    /// Class cut-offs.
    pub cutoffs: ClassCutoffs,
    /// Forecast horizon (trading days); the score's change over the last horizon is
    /// extrapolated, damped by `momentum`.
    pub forecast_horizon: usize,
    /// See `forecast_horizon`.
    pub momentum: f64,
}

impl Default for StabilityConfig {
    fn default() -> Self {
        Self {
            vol_window: 63,
            long_window: 252,
            liquidity_window: 63,
            liquidity: Ramp { from: 7.0, to: 5.0 },
            volatility: Ramp {
                from: 0.20,
                to: 0.80,
            },
            drawdown: Ramp {
                from: 0.05,
                to: 0.50,
            },
            trend: Ramp { from: 0.0, to: 0.4 },
            rally: Ramp { from: 0.5, to: 1.5 },
            compression: Ramp { from: 0.8, to: 0.4 },
            contagion: Ramp { from: 0.2, to: 0.9 },
            stress_quantile: 0.1,
            weights: ComponentWeights::default(),
            blend: 0.7,
            cutoffs: ClassCutoffs::default(),
            forecast_horizon: 21,
            momentum: 0.5,
        }
    }
}

impl EngineConfig for StabilityConfig {
    const ENGINE: &'static str = "stability";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::number("blend", 0.3, 0.9, Step::Absolute(0.1)),
        Tunable::number("vol_window", 21.0, 126.0, Step::Integer(21)),
        Tunable::number("cutoffs.fragile", 35.0, 55.0, Step::Absolute(5.0)),
        Tunable::number("cutoffs.breaker", 70.0, 90.0, Step::Absolute(5.0)),
    ];

    fn validate(&self, issues: &mut Issues) {
        for (key, v, lo) in [
            ("vol_window", self.vol_window, 5),
            ("long_window", self.long_window, 21),
            ("liquidity_window", self.liquidity_window, 5),
            ("forecast_horizon", self.forecast_horizon, 1),
        ] {
            issues.check(!(lo..=1260).contains(&v), key, || {
                format!("{v} is out of range; use {lo}..=1260 trading days")
            });
        }
        for (key, r) in [
            ("liquidity", self.liquidity),
            ("volatility", self.volatility),
            ("drawdown", self.drawdown),
            ("trend", self.trend),
            ("rally", self.rally),
            ("compression", self.compression),
            ("contagion", self.contagion),
        ] {
            issues.check(
                !(r.from.is_finite() && r.to.is_finite() && r.from != r.to),
                key,
                || {
                    format!(
                        "ramp from {} to {} needs two different numbers",
                        r.from, r.to
                    )
                },
            );
        }
        issues.check(
            !(self.stress_quantile > 0.0 && self.stress_quantile <= 0.5),
            "stress_quantile",
            || format!("{} is out of range; use (0, 0.5]", self.stress_quantile),
        );
        let w = self.weights.values();
        issues.check(
            w.iter().any(|x| !(x.is_finite() && *x >= 0.0)) || w.iter().sum::<f64>() <= 0.0,
            "weights",
            || format!("{w:?} must be non-negative with a positive sum"),
        );
        issues.check(!(0.0..=1.0).contains(&self.blend), "blend", || {
            format!("{} is out of range; use 0..=1", self.blend)
        });
        let c = &self.cutoffs;
        issues.check(
            !(0.0 < c.watch
                && c.watch < c.fragile
                && c.fragile < c.targetable
                && c.targetable < c.breaker
                && c.breaker <= 100.0),
            "cutoffs",
            || {
                format!(
                    "watch {} < fragile {} < targetable {} < breaker {} ≤ 100 must increase",
                    c.watch, c.fragile, c.targetable, c.breaker
                )
            },
        );
        for (key, m) in [
            ("cutoffs.risk_off_multiplier", c.risk_off_multiplier),
            ("cutoffs.crisis_multiplier", c.crisis_multiplier),
        ] {
            issues.check(!(m > 0.0 && m <= 1.5), key, || {
                format!("{m} is out of range; use (0, 1.5]")
            });
        }
        issues.check(!(0.0..=2.0).contains(&self.momentum), "momentum", || {
            format!("{} is out of range; use 0..=2", self.momentum)
        });
    }
}

/// The components of one instrument on one date (`None` when the input is unknown).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Components {
    /// In [`COMPONENTS`] order.
    pub values: [Option<f64>; 6],
}

/// One instrument's report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StabilityRow {
    /// The instrument.
    pub instrument_id: String,
    /// Its components.
    pub components: Components,
    /// 1 = stable, 0 = every component at its worst.
    pub stability_score: f64,
    /// 0–100, 100 = most targetable.
    pub soft_target_score: f64,
    /// The class under the current regime's cut-offs.
    pub class: SoftTargetClass,
    /// The score expected `forecast_horizon` days ahead.
    pub forecast_score: f64,
    /// Its class under the cut-offs expected then.
    pub forecast_class: SoftTargetClass,
}

/// What the engine knows about the regime on the date.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RegimeContext {
    /// The smoothed label.
    pub label: RegimeLabel,
    /// Filtered probabilities in [`RegimeLabel::ALL`] order.
    pub probabilities: [f64; 4],
    /// Probability the label differs at the horizon.
    pub change_risk: f64,
}

/// The `q` quantile of `values` (the order statistic nearest `q`), reordering them. A
/// selection, not a sort: the engine takes two quantiles per instrument and date, and the
/// value is the one a full sort would give.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    let i = (((values.len() as f64 - 1.0) * q).round() as usize).min(values.len() - 1);
    *values.select_nth_unstable_by(i, f64::total_cmp).1
}

/// The pairs (the instrument's one-day return, the market's return) over `rows[start..]`
/// on the dates both have. `market` is ascending by date, one value per date, so the two
/// series are walked side by side (the dates of a window are a few hundred; a hash lookup
/// per date was most of the engine's time).
fn paired_returns(rows: &[DayRow], start: usize, market: &[(NaiveDate, f64)]) -> Vec<(f64, f64)> {
    let mut pairs = Vec::with_capacity(rows.len() - start);
    let Some(first) = rows.get(start) else {
        return pairs;
    };
    let mut j = market.partition_point(|m| m.0 < first.date);
    for i in start.max(1)..rows.len() {
        let date = rows[i].date;
        while market.get(j).is_some_and(|m| m.0 < date) {
            j += 1;
        }
        match market.get(j) {
            Some(m) if m.0 == date => pairs.push((rows[i].close / rows[i - 1].close - 1.0, m.1)),
            Some(_) => {}
            None => break,
        }
    }
    pairs
}

impl StabilityConfig {
    /// Rows of history the engine needs (for the score and its value a horizon ago).
    pub fn lookback(&self) -> usize {
        self.long_window
            .max(self.vol_window)
            .max(self.liquidity_window)
            + self.forecast_horizon
            + 2
    }

    /// The components from `rows` (one instrument, ascending, nothing after the date) and
    /// the market's one-day returns (ascending by date, one per date); `fundamental` is the
    /// profile's weakness when known.
    pub fn components(
        &self,
        rows: &[DayRow],
        market: &[(NaiveDate, f64)],
        fundamental: Option<f64>,
    ) -> Components {
        let n = rows.len();
        let ret = |i: usize| rows[i].close / rows[i - 1].close - 1.0;
        let sd = |x: &[f64]| {
            let m = x.iter().sum::<f64>() / x.len() as f64;
            (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() as f64 - 1.0)).sqrt()
        };
        let ann = 252f64.sqrt();
        let window_rets = |w: usize| (n > w).then(|| (n - w..n).map(ret).collect::<Vec<f64>>());
        // Liquidity: median traded value over the window, when every day has a volume.
        let liquidity = (n >= self.liquidity_window)
            .then(|| {
                let mut v: Vec<f64> = rows[n - self.liquidity_window..]
                    .iter()
                    .map(|r| r.volume.map(|x| x * r.close))
                    .collect::<Option<_>>()?;
                let med = quantile(&mut v, 0.5);
                self.liquidity.apply(med.max(1.0).log10())
            })
            .flatten();
        let volatility =
            window_rets(self.vol_window).and_then(|r| self.volatility.apply(sd(&r) * ann));
        let long = self.long_window.min(n.saturating_sub(1));
        let drawdown = (long >= 21)
            .then(|| {
                let w = &rows[n - 1 - long..];
                let peak = w.iter().map(|r| r.close).fold(f64::MIN, f64::max);
                self.drawdown.apply(1.0 - rows[n - 1].close / peak)
            })
            .flatten();
        let half = long / 2;
        let complacency_trend = (long >= 42)
            .then(|| {
                let r_half = rows[n - 1].close / rows[n - 1 - half].close - 1.0;
                let r_long = rows[n - 1].close / rows[n - 1 - long].close - 1.0;
                let falling = self.trend.apply(-r_half)?;
                let short_vol = sd(&window_rets(21)?);
                let long_vol = sd(&window_rets(long)?);
                let compressed = self.compression.apply(short_vol / long_vol.max(1e-12))?;
                let complacent = self.rally.apply(r_long)? * compressed;
                Some(falling.max(complacent))
            })
            .flatten();
        let contagion = (long >= 42)
            .then(|| {
                let pairs = paired_returns(rows, n - long, market);
                let mut m: Vec<f64> = pairs.iter().map(|p| p.1).collect();
                let cut = quantile(&mut m, self.stress_quantile);
                let bad: Vec<(f64, f64)> = pairs.into_iter().filter(|p| p.1 <= cut).collect();
                if bad.len() < 10 {
                    return None;
                }
                let k = bad.len() as f64;
                let (mx, my) = (
                    bad.iter().map(|p| p.0).sum::<f64>() / k,
                    bad.iter().map(|p| p.1).sum::<f64>() / k,
                );
                let sxy: f64 = bad.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
                let sxx: f64 = bad.iter().map(|p| (p.0 - mx).powi(2)).sum();
                let syy: f64 = bad.iter().map(|p| (p.1 - my).powi(2)).sum();
                if sxx <= 0.0 || syy <= 0.0 {
                    return None;
                }
                self.contagion.apply(sxy / (sxx * syy).sqrt())
            })
            .flatten();
        Components {
            values: [
                liquidity,
                volatility,
                drawdown,
                complacency_trend,
                contagion,
                fundamental.map(|f| f.clamp(0.0, 1.0)),
            ],
        }
    }

    /// `(stability_score, soft_target_score)` of the components; `None` when none is known.
    pub fn scores(&self, c: &Components) -> Option<(f64, f64)> {
        let w = self.weights.values();
        let (mut num, mut den, mut worst) = (0.0, 0.0, 0.0f64);
        for (v, w) in c.values.iter().zip(w) {
            if let Some(v) = v {
                num += w * v;
                den += w;
                if w > 0.0 {
                    worst = worst.max(*v);
                }
            }
        }
        if den <= 0.0 {
            return None;
        }
        let instability = num / den;
        let soft = 100.0 * (self.blend * instability + (1.0 - self.blend) * worst);
        Some((1.0 - instability, soft.clamp(0.0, 100.0)))
    }

    /// One instrument's report; `None` when no component can be computed.
    pub fn assess(
        &self,
        instrument_id: &str,
        rows: &[DayRow],
        market: &[(NaiveDate, f64)],
        fundamental: Option<f64>,
        regime: Option<&RegimeContext>,
    ) -> Option<StabilityRow> {
        let components = self.components(rows, market, fundamental);
        let (stability_score, soft_target_score) = self.scores(&components)?;
        let label = regime.map(|r| r.label);
        let class = self
            .cutoffs
            .class(soft_target_score, self.cutoffs.multiplier(label));
        // The same score a horizon ago, from the rows known then.
        let h = self.forecast_horizon;
        let before = (rows.len() > h)
            .then(|| {
                let c = self.components(&rows[..rows.len() - h], market, fundamental);
                self.scores(&c).map(|s| s.1)
            })
            .flatten()
            .unwrap_or(soft_target_score);
        let forecast_score =
            (soft_target_score + self.momentum * (soft_target_score - before)).clamp(0.0, 100.0);
        // Cut-offs expected at the horizon: the current regime's if it holds, else the most
        // probable other regime's, weighted by the change risk.
        let expected_multiplier = match regime {
            Some(r) => {
                let other = RegimeLabel::ALL
                    .into_iter()
                    .filter(|l| *l != r.label)
                    .max_by(|a, b| {
                        r.probabilities[a.index()]
                            .total_cmp(&r.probabilities[b.index()])
                            .then(b.cmp(a))
                    })
                    .unwrap_or(r.label);
                (1.0 - r.change_risk) * self.cutoffs.multiplier(Some(r.label))
                    + r.change_risk * self.cutoffs.multiplier(Some(other))
            }
            None => 1.0,
        };
        Some(StabilityRow {
            instrument_id: instrument_id.to_owned(),
            components,
            stability_score,
            soft_target_score,
            class,
            forecast_score,
            forecast_class: self.cutoffs.class(forecast_score, expected_multiplier),
        })
    }
}

/// Every instrument's report on one date: `panel` maps instrument ids to their rows (each
/// ascending, nothing after the date), `market` holds the market's one-day returns,
/// `fundamentals` the profiles' weakness by instrument. Instruments whose components are all
/// unknown are left out; the output is sorted by instrument id.
pub fn assess_market<R: std::ops::Deref<Target = [DayRow]>>(
    cfg: &StabilityConfig,
    panel: &std::collections::BTreeMap<String, R>,
    market: &[(NaiveDate, f64)],
    fundamentals: &std::collections::BTreeMap<String, f64>,
    regime: Option<&RegimeContext>,
) -> Vec<StabilityRow> {
    let keep = cfg.lookback();
    panel
        .iter()
        .filter_map(|(id, rows)| {
            let rows = &rows[rows.len().saturating_sub(keep)..];
            cfg.assess(id, rows, market, fundamentals.get(id).copied(), regime)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(closes: &[f64], volume: Option<f64>) -> Vec<DayRow> {
        let start = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        closes
            .iter()
            .enumerate()
            .map(|(i, c)| DayRow {
                date: start + chrono::Days::new(i as u64),
                close: *c,
                volume,
            })
            .collect()
    }

    fn market_of(r: &[DayRow], f: impl Fn(usize) -> f64) -> Vec<(NaiveDate, f64)> {
        r.iter().enumerate().map(|(i, x)| (x.date, f(i))).collect()
    }

    #[test]
    fn paired_returns_match_a_lookup_by_date() {
        let r = rows(
            &(0..40)
                .map(|i| 100.0 + f64::from(i % 7))
                .collect::<Vec<_>>(),
            None,
        );
        // The market misses some of the instrument's dates and has dates it lacks.
        let mut market: Vec<(NaiveDate, f64)> = (0..60)
            .filter(|i| i % 5 != 3)
            .map(|i| {
                (
                    r[0].date + chrono::Days::new(i),
                    f64::from(i as u32) / 1000.0,
                )
            })
            .collect();
        market.insert(0, (r[0].date - chrono::Days::new(3), 9.0));
        let by_date: std::collections::HashMap<NaiveDate, f64> = market.iter().copied().collect();
        for start in [1, 2, 17, 39] {
            let expected: Vec<(f64, f64)> = (start..r.len())
                .filter_map(|i| {
                    let m = by_date.get(&r[i].date)?;
                    Some((r[i].close / r[i - 1].close - 1.0, *m))
                })
                .collect();
            assert_eq!(
                paired_returns(&r, start, &market),
                expected,
                "start {start}"
            );
        }
        assert!(paired_returns(&r, 5, &[]).is_empty());
        let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(quantile(&mut v, 0.5), 3.0);
        assert_eq!(quantile(&mut v, 0.0), 1.0);
        assert_eq!(quantile(&mut v, 0.9), 5.0);
    }

    #[test]
    fn cutoffs_are_exact_and_tighten_in_stress() {
        let c = ClassCutoffs::default();
        assert_eq!(c.class(24.999_999, 1.0), SoftTargetClass::Stable);
        assert_eq!(c.class(25.0, 1.0), SoftTargetClass::Watch);
        assert_eq!(c.class(45.0, 1.0), SoftTargetClass::Fragile);
        assert_eq!(c.class(64.9, 1.0), SoftTargetClass::Fragile);
        assert_eq!(c.class(65.0, 1.0), SoftTargetClass::Targetable);
        assert_eq!(c.class(80.0, 1.0), SoftTargetClass::Breaker);
        assert_eq!(c.class(100.0, 1.0), SoftTargetClass::Breaker);
        assert_eq!(c.class(0.0, 1.0), SoftTargetClass::Stable);
        // In a crisis every cut-off is 0.8 times as high: 36 is FRAGILE (cut 36), not WATCH.
        let crisis = c.multiplier(Some(RegimeLabel::Crisis));
        assert_eq!(c.class(35.999, crisis), SoftTargetClass::Watch);
        assert_eq!(c.class(36.0, crisis), SoftTargetClass::Fragile);
        assert_eq!(c.multiplier(Some(RegimeLabel::Carry)), 1.0);
    }

    #[test]
    fn calm_names_are_stable_and_crashing_names_are_not() {
        let cfg = StabilityConfig::default();
        let n = 320;
        let calm: Vec<f64> = (0..n)
            .map(|i| 100.0 * (1.0 + 0.0002 * i as f64 + 0.003 * ((i % 2) as f64)))
            .collect();
        let crash: Vec<f64> = (0..n)
            .map(|i| {
                if i < 250 {
                    100.0 + ((i % 5) as f64)
                } else {
                    100.0 * 0.97f64.powi(i - 250) * (1.0 + 0.05 * ((i % 2) as f64))
                }
            })
            .collect();
        let (rc, rx) = (rows(&calm, Some(1e6)), rows(&crash, Some(1e3)));
        let mk = market_of(&rx, |i| if i % 7 == 0 { -0.03 } else { 0.001 });
        let a = cfg.assess("calm", &rc, &mk, Some(0.0), None).unwrap();
        let b = cfg.assess("crash", &rx, &mk, Some(1.0), None).unwrap();
        for r in [&a, &b] {
            assert!((0.0..=1.0).contains(&r.stability_score));
            assert!((0.0..=100.0).contains(&r.soft_target_score));
            assert!(
                r.components
                    .values
                    .iter()
                    .flatten()
                    .all(|v| (0.0..=1.0).contains(v))
            );
        }
        assert_eq!(a.class, SoftTargetClass::Stable, "{a:?}");
        assert!(b.class >= SoftTargetClass::Targetable, "{b:?}");
        assert!(
            b.forecast_score >= b.soft_target_score,
            "a worsening score is extrapolated"
        );
        // Without volume the liquidity component is unknown, not guessed.
        let nv = cfg
            .assess("nv", &rows(&calm, None), &mk, None, None)
            .unwrap();
        assert_eq!(nv.components.values[0], None);
        assert_eq!(nv.components.values[5], None);
    }

    #[test]
    fn a_stressed_regime_raises_the_class_of_the_same_score() {
        let cfg = StabilityConfig::default();
        let n = 300;
        let px: Vec<f64> = (0..n)
            .map(|i| 100.0 * (1.0 - 0.0012 * i as f64) * (1.0 + 0.02 * ((i % 3) as f64)))
            .collect();
        let r = rows(&px, None);
        let mk = market_of(&r, |i| if i % 9 == 0 { -0.02 } else { 0.0005 });
        let calm = RegimeContext {
            label: RegimeLabel::Carry,
            probabilities: [0.0, 0.0, 0.0, 1.0],
            change_risk: 0.0,
        };
        let crisis = RegimeContext {
            label: RegimeLabel::Crisis,
            probabilities: [1.0, 0.0, 0.0, 0.0],
            change_risk: 0.0,
        };
        let a = cfg.assess("x", &r, &mk, None, Some(&calm)).unwrap();
        let b = cfg.assess("x", &r, &mk, None, Some(&crisis)).unwrap();
        assert_eq!(a.soft_target_score, b.soft_target_score);
        assert!(b.class >= a.class);
        let mut issues = Issues::new();
        StabilityConfig {
            blend: 2.0,
            cutoffs: ClassCutoffs {
                watch: 50.0,
                ..ClassCutoffs::default()
            },
            ..StabilityConfig::default()
        }
        .validate(&mut issues);
        let text = format!("{issues:?}");
        assert!(text.contains("blend") && text.contains("cutoffs"), "{text}");
    }

    #[test]
    fn fragile_names_fall_harder_on_stressed_days_of_the_synthetic_market() {
        use crate::domain::MarketId;
        use crate::engines::regime::{MarketSeries, RegimeConfig, regime_history};
        use crate::synthetic_market::{SyntheticMarketParams, generate, weekdays};
        let start = NaiveDate::from_ymd_opt(2000, 1, 3).unwrap();
        let sessions = weekdays(start, NaiveDate::from_ymd_opt(2007, 12, 31).unwrap());
        let p = SyntheticMarketParams::new(150, 31, MarketId::from("SYN"))
            .check()
            .unwrap();
        let m = generate(&p, &sessions);
        let (days, _) = regime_history(
            &RegimeConfig::default(),
            &MarketSeries::from_bars(&m.series),
        )
        .unwrap();
        let crate::encoders::numeric::Panel {
            instruments: panel,
            market,
        } = crate::encoders::numeric::Panel::from_series(&m.series);
        let cfg = StabilityConfig::default();
        // Next-month maximum drawdown of each class, on stressed days (CRISIS or RISK_OFF, the
        // engine's own label: under CRISIS's strict cut-offs almost every name is FRAGILE),
        // sampled every 5 sessions.
        let (mut fragile, mut stable) = (Vec::new(), Vec::new());
        for d in days.iter().filter(|d| d.label.is_stressed()).step_by(5) {
            let ctx = RegimeContext {
                label: d.label,
                probabilities: d.probabilities,
                change_risk: d.change_risk,
            };
            let known: std::collections::BTreeMap<String, Vec<DayRow>> = panel
                .iter()
                .map(|(id, r)| {
                    (
                        id.clone(),
                        r[..r.partition_point(|x| x.date <= d.date)].to_vec(),
                    )
                })
                .collect();
            let upto = &market[..market.partition_point(|x| x.0 <= d.date)];
            for row in assess_market(&cfg, &known, upto, &Default::default(), Some(&ctx)) {
                let all = &panel[&row.instrument_id];
                let t = all.partition_point(|x| x.date <= d.date);
                let next = &all[t.saturating_sub(1)..(t + 21).min(all.len())];
                let mut peak = f64::MIN;
                let mut dd = 0.0f64;
                for x in next {
                    peak = peak.max(x.close);
                    dd = dd.max(1.0 - x.close / peak);
                }
                if row.class >= SoftTargetClass::Fragile {
                    fragile.push(dd);
                } else if row.class == SoftTargetClass::Stable {
                    stable.push(dd);
                }
            }
        }
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        assert!(
            fragile.len() > 50 && stable.len() > 50,
            "{} fragile, {} stable",
            fragile.len(),
            stable.len()
        );
        let (f, s) = (mean(&fragile), mean(&stable));
        eprintln!(
            "next-month drawdown on stressed days: FRAGILE+ {f:.4} ({} obs), STABLE {s:.4} ({} obs)",
            fragile.len(),
            stable.len()
        );
        assert!(f > s * 1.2, "FRAGILE+ {f:.4} vs STABLE {s:.4}");
    }
}

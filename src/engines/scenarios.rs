//! Synthetic scenarios: seeded paths of daily returns for every instrument of a market,
//! drawn from its own history up to `as_of`, for stress tests, expected shortfall and the
//! fragility engine.
//!
//! Generators (all point-in-time: only days on or before `as_of` are ever drawn):
//! - [`ScenarioKind::HistoricalWindows`] — consecutive `horizon`-day windows of history,
//!   starting days drawn uniformly;
//! - [`ScenarioKind::BlockBootstrap`] — paths glued from blocks of `block` consecutive days
//!   (keeps short-range dependence and the cross-section of each day);
//! - [`ScenarioKind::RegimeBootstrap`] — the same, drawing only blocks whose days all carry
//!   one regime label;
//! - [`ScenarioKind::StressedTails`] — block bootstrap from the worst market days (the lowest
//!   `tail_quantile` of the market return), each return scaled by `tail_scale`;
//! - [`ScenarioKind::CrisisReplay`] — a named historical window replayed as is (one path).
//!
//! Every draw comes from a ChaCha8 stream seeded by the config's seed, the generator and the
//! date, so the same inputs give the same paths on every machine, and a different `as_of`
//! gives independent draws.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Daily returns of a market's instruments, dates ascending: the history scenarios draw from.
#[derive(Clone, Debug, PartialEq)]
pub struct ReturnPanel {
    /// Trading dates, ascending.
    pub dates: Vec<NaiveDate>,
    /// Instrument ids, the columns.
    pub instruments: Vec<String>,
    /// `returns[t * instruments.len() + i]`: one-day return of instrument `i` on `dates[t]`;
    /// a missing return is 0 (no move) — callers fill before building the panel.
    pub returns: Vec<f64>,
}

impl ReturnPanel {
    /// The row of date index `t`.
    fn row(&self, t: usize) -> &[f64] {
        let n = self.instruments.len();
        &self.returns[t * n..(t + 1) * n]
    }

    /// Equal-weighted market return of date index `t`.
    fn market(&self, t: usize) -> f64 {
        let r = self.row(t);
        if r.is_empty() {
            0.0
        } else {
            r.iter().sum::<f64>() / r.len() as f64
        }
    }
}

/// Which generator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ScenarioKind {
    /// Whole historical windows.
    HistoricalWindows,
    /// Blocks of consecutive days.
    BlockBootstrap,
    /// Blocks whose days all carry `regime`.
    RegimeBootstrap {
        /// The regime label (`CRISIS`, `RISK_OFF`, …).
        regime: String,
    },
    /// Blocks from the worst market days, scaled.
    StressedTails,
    /// One named window replayed.
    CrisisReplay {
        /// Its name (`gfc_2008`, …).
        name: String,
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
}

impl ScenarioKind {
    /// The generator's stored tag (`block_bootstrap`, `regime_bootstrap:CRISIS`, …).
    pub fn tag(&self) -> String {
        match self {
            Self::HistoricalWindows => "historical_windows".into(),
            Self::BlockBootstrap => "block_bootstrap".into(),
            Self::RegimeBootstrap { regime } => format!("regime_bootstrap:{regime}"),
            Self::StressedTails => "stressed_tails".into(),
            Self::CrisisReplay { name, .. } => format!("crisis_replay:{name}"),
        }
    }
}

/// Sizes and parameters of a scenario set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioParams {
    /// Seed of every draw.
    pub seed: u64,
    /// Paths per set (crisis replays have one).
    pub paths: usize,
    /// Days per path.
    pub horizon: usize,
    /// Days per bootstrap block.
    pub block: usize,
    /// Share of the worst market days stressed tails draw from.
    pub tail_quantile: f64,
    /// Factor on stressed-tail returns.
    pub tail_scale: f64,
}

impl Default for ScenarioParams {
    fn default() -> Self {
        Self {
            seed: 42,
            paths: 1000,
            horizon: 21,
            block: 5,
            tail_quantile: 0.05,
            tail_scale: 1.5,
        }
    }
}

/// Why a set cannot be generated.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScenarioError {
    /// Parameters out of range (every problem, `; `-separated).
    #[error("invalid scenario parameters: {0}")]
    InvalidParams(String),
    /// The history up to `as_of` has nothing to draw from for this generator.
    #[error("no history to draw {kind} from on or before {as_of}: {why}")]
    NoHistory {
        /// The generator.
        kind: String,
        /// The date.
        as_of: NaiveDate,
        /// What was missing.
        why: String,
    },
}

/// A generated set: `paths × horizon × instruments` returns.
#[derive(Clone, Debug, PartialEq)]
pub struct ScenarioSet {
    /// Content id: generator, date, parameters and the history's digest.
    pub set_id: String,
    /// The generator.
    pub kind: ScenarioKind,
    /// The date it was generated for.
    pub as_of: NaiveDate,
    /// Paths.
    pub paths: usize,
    /// Days per path.
    pub horizon: usize,
    /// Instrument ids (the last axis).
    pub instruments: Vec<String>,
    /// The (scaled) returns of each distinct history day the paths draw from,
    /// `source[k * n + i]`: paths reuse days, so a set of 1,000 paths × 21 days over 5,000
    /// names holds a few hundred rows instead of 21,000.
    pub source: Vec<f32>,
    /// Each path day's row in `source` (`paths × horizon`, path-major).
    pub rows: Vec<u32>,
    /// The history date each path day was drawn from (`paths × horizon`).
    pub source_dates: Vec<NaiveDate>,
    /// The mean path (`horizon × instruments`), stored as path 0.
    pub baseline: Vec<f32>,
}

/// Fills `out`, rows of `width` values, with `fill(row index, row)`, each value costing
/// about `work` steps; the rows are split across the machine's cores when that adds up to
/// millions of steps (a 5,000-name set). Each row is computed the same way whatever the
/// split, so the result does not depend on the cores.
fn fill_rows(out: &mut [f64], width: usize, work: usize, fill: impl Fn(usize, &mut [f64]) + Sync) {
    if width == 0 {
        return;
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
    let rows = out.len() / width;
    if threads < 2 || rows < 2 || out.len().saturating_mul(work) < 1 << 22 {
        for (i, row) in out.chunks_mut(width).enumerate() {
            fill(i, row);
        }
        return;
    }
    let per = rows.div_ceil(threads);
    std::thread::scope(|scope| {
        for (c, part) in out.chunks_mut(per * width).enumerate() {
            let fill = &fill;
            scope.spawn(move || {
                for (j, row) in part.chunks_mut(width).enumerate() {
                    fill(c * per + j, row);
                }
            });
        }
    });
}

impl ScenarioSet {
    /// The returns of path `p`, day `d`.
    pub fn day(&self, p: usize, d: usize) -> &[f32] {
        let n = self.instruments.len();
        let at = self.rows[p * self.horizon + d] as usize * n;
        &self.source[at..at + n]
    }

    /// Path `p`'s returns, day-major (`horizon × instruments`): what is stored per path.
    pub fn path_values(&self, p: usize) -> Vec<f32> {
        (0..self.horizon)
            .flat_map(|d| self.day(p, d).iter().copied())
            .collect()
    }

    /// Each instrument's cumulative return over each path (`paths × instruments`).
    pub fn path_returns(&self) -> Vec<f64> {
        let n = self.instruments.len();
        let mut out = vec![1.0f64; self.paths * n];
        fill_rows(&mut out, n, self.horizon, |p, row| {
            for d in 0..self.horizon {
                for (o, r) in row.iter_mut().zip(self.day(p, d)) {
                    *o *= 1.0 + f64::from(*r);
                }
            }
            row.iter_mut().for_each(|v| *v -= 1.0);
        });
        out
    }

    /// The mean over paths of each day's returns (`horizon × instruments`).
    fn mean_path(&self) -> Vec<f32> {
        let n = self.instruments.len();
        let mut acc = vec![0.0f64; self.horizon * n];
        fill_rows(&mut acc, n, self.paths, |d, row| {
            for p in 0..self.paths {
                for (a, r) in row.iter_mut().zip(self.day(p, d)) {
                    *a += f64::from(*r);
                }
            }
        });
        let paths = self.paths.max(1) as f64;
        acc.iter().map(|a| (a / paths) as f32).collect()
    }
}

impl ScenarioParams {
    /// Checks every parameter.
    ///
    /// # Errors
    /// [`ScenarioError::InvalidParams`] naming every bad one.
    pub fn check(&self) -> Result<(), ScenarioError> {
        let mut bad = Vec::new();
        if !(1..=100_000).contains(&self.paths) {
            bad.push(format!(
                "paths {} is out of range; use 1..=100000",
                self.paths
            ));
        }
        if !(1..=252).contains(&self.horizon) {
            bad.push(format!(
                "horizon {} is out of range; use 1..=252",
                self.horizon
            ));
        }
        if !(1..=63).contains(&self.block) {
            bad.push(format!("block {} is out of range; use 1..=63", self.block));
        }
        if !(self.tail_quantile > 0.0 && self.tail_quantile <= 0.5) {
            bad.push(format!(
                "tail_quantile {} is out of range; use (0, 0.5]",
                self.tail_quantile
            ));
        }
        if !(self.tail_scale.is_finite() && (1.0..=5.0).contains(&self.tail_scale)) {
            bad.push(format!(
                "tail_scale {} is out of range; use 1..=5",
                self.tail_scale
            ));
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(ScenarioError::InvalidParams(bad.join("; ")))
        }
    }

    /// Generates the `kind` set for `as_of` from `history` (only its days on or before
    /// `as_of`); `regimes` labels history days for the regime bootstrap (ascending by date).
    ///
    /// # Errors
    /// Invalid parameters; no history (or no day of the regime, no window of the replay) to
    /// draw from.
    pub fn generate(
        &self,
        kind: &ScenarioKind,
        history: &ReturnPanel,
        regimes: &[(NaiveDate, String)],
        as_of: NaiveDate,
    ) -> Result<ScenarioSet, ScenarioError> {
        self.check()?;
        let upto = history.dates.partition_point(|d| *d <= as_of);
        let none = |why: String| ScenarioError::NoHistory {
            kind: kind.tag(),
            as_of,
            why,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(self.stream_seed(kind, as_of));
        // Start indices of the blocks a path may use (each block is `len` consecutive days).
        let draw_blocks = |starts: &[usize], len: usize, rng: &mut ChaCha8Rng| -> Vec<usize> {
            let mut days = Vec::with_capacity(self.horizon);
            while days.len() < self.horizon {
                let s = starts[rng.random_range(0..starts.len())];
                days.extend((s..s + len).take(self.horizon - days.len()));
            }
            days
        };
        let (paths, mut days_of_paths, scale): (usize, Vec<usize>, f64) = match kind {
            ScenarioKind::HistoricalWindows => {
                if upto < self.horizon {
                    return Err(none(format!("{upto} days, need {}", self.horizon)));
                }
                let starts: Vec<usize> = (0..=upto - self.horizon).collect();
                let days = (0..self.paths)
                    .flat_map(|_| {
                        let s = starts[rng.random_range(0..starts.len())];
                        s..s + self.horizon
                    })
                    .collect();
                (self.paths, days, 1.0)
            }
            ScenarioKind::BlockBootstrap => {
                if upto < self.block {
                    return Err(none(format!("{upto} days, need {}", self.block)));
                }
                let starts: Vec<usize> = (0..=upto - self.block).collect();
                let days = (0..self.paths)
                    .flat_map(|_| draw_blocks(&starts, self.block, &mut rng))
                    .collect();
                (self.paths, days, 1.0)
            }
            ScenarioKind::RegimeBootstrap { regime } => {
                let label = |t: usize| {
                    regimes
                        .binary_search_by_key(&history.dates[t], |r| r.0)
                        .ok()
                        .map(|i| regimes[i].1.as_str())
                };
                let in_regime: Vec<bool> = (0..upto).map(|t| label(t) == Some(regime)).collect();
                // Blocks entirely inside the regime; shorter runs give shorter blocks.
                let len = self.block;
                let starts: Vec<usize> = (0..upto.saturating_sub(len - 1))
                    .filter(|&s| in_regime[s..s + len].iter().all(|x| *x))
                    .collect();
                let (starts, len) = if starts.is_empty() {
                    ((0..upto).filter(|&t| in_regime[t]).collect::<Vec<_>>(), 1)
                } else {
                    (starts, len)
                };
                if starts.is_empty() {
                    return Err(none(format!("no day labelled {regime}")));
                }
                let days = (0..self.paths)
                    .flat_map(|_| draw_blocks(&starts, len, &mut rng))
                    .collect();
                (self.paths, days, 1.0)
            }
            ScenarioKind::StressedTails => {
                if upto == 0 {
                    return Err(none("no days".into()));
                }
                let mut by_market: Vec<usize> = (0..upto).collect();
                by_market.sort_by(|a, b| {
                    history
                        .market(*a)
                        .total_cmp(&history.market(*b))
                        .then(a.cmp(b))
                });
                let worst = ((upto as f64 * self.tail_quantile).ceil() as usize).clamp(1, upto);
                let mut tail: Vec<usize> = by_market[..worst].to_vec();
                tail.sort_unstable();
                let days = (0..self.paths)
                    .flat_map(|_| draw_blocks(&tail, 1, &mut rng))
                    .collect();
                (self.paths, days, self.tail_scale)
            }
            ScenarioKind::CrisisReplay { name, from, to } => {
                if *to > as_of {
                    return Err(none(format!("{name} ends {to}, after the date")));
                }
                let a = history.dates.partition_point(|d| d < from);
                let b = history.dates.partition_point(|d| d <= to);
                if b <= a {
                    return Err(none(format!("no history between {from} and {to}")));
                }
                let days: Vec<usize> = (a..b).collect();
                let horizon = days.len();
                return Ok(self.assemble(kind, (history, regimes), as_of, 1, horizon, &days, 1.0));
            }
        };
        days_of_paths.truncate(paths * self.horizon);
        Ok(self.assemble(
            kind,
            (history, regimes),
            as_of,
            paths,
            self.horizon,
            &days_of_paths,
            scale,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        kind: &ScenarioKind,
        (history, regimes): (&ReturnPanel, &[(NaiveDate, String)]),
        as_of: NaiveDate,
        paths: usize,
        horizon: usize,
        days: &[usize],
        scale: f64,
    ) -> ScenarioSet {
        // Each distinct history day once, ascending; path days point at their row.
        let mut distinct: Vec<usize> = days.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        let mut source = Vec::with_capacity(distinct.len() * history.instruments.len());
        for &t in &distinct {
            source.extend(history.row(t).iter().map(|r| (r * scale) as f32));
        }
        let rows = days
            .iter()
            .map(|t| distinct.partition_point(|x| x < t) as u32)
            .collect();
        let upto = history.dates.partition_point(|d| *d <= as_of);
        let mut set = ScenarioSet {
            set_id: self.set_id(kind, as_of, history, upto, regimes),
            kind: kind.clone(),
            as_of,
            paths,
            horizon,
            instruments: history.instruments.clone(),
            source,
            rows,
            source_dates: days.iter().map(|&t| history.dates[t]).collect(),
            baseline: Vec::new(),
        };
        set.baseline = set.mean_path();
        set
    }

    /// The seed of one generator's stream for one date.
    fn stream_seed(&self, kind: &ScenarioKind, as_of: NaiveDate) -> u64 {
        let digest = Sha256::digest(format!("{}|{}|{as_of}", self.seed, kind.tag()).as_bytes());
        u64::from_le_bytes([
            digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
        ])
    }

    /// `scn-<16 hex>` over the generator, date, parameters and everything drawn from: the
    /// history, and for the regime bootstrap the regime labels. Two sets with one id are
    /// the same paths, so a set rebuilt from the store is checked against its stored id.
    fn set_id(
        &self,
        kind: &ScenarioKind,
        as_of: NaiveDate,
        history: &ReturnPanel,
        upto: usize,
        regimes: &[(NaiveDate, String)],
    ) -> String {
        let mut h = Sha256::new();
        h.update(format!("{}|{as_of}|{:?}|", kind.tag(), self).as_bytes());
        for i in &history.instruments {
            h.update(i.as_bytes());
            h.update([0x1f]);
        }
        for t in 0..upto {
            h.update(history.dates[t].to_string().as_bytes());
            for r in history.row(t) {
                h.update(r.to_le_bytes());
            }
        }
        if matches!(kind, ScenarioKind::RegimeBootstrap { .. }) {
            for (d, label) in regimes.iter().filter(|(d, _)| *d <= as_of) {
                h.update(format!("{d}={label};").as_bytes());
            }
        }
        let hex: String = h.finalize()[..8]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("scn-{hex}")
    }
}

/// Configuration of the scenario engine (`config/engines/scenarios.toml`): which set it
/// generates each day, from how much history, and how many paths it stores in full.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScenarioEngineConfig {
    /// The generator, e.g. `{ kind = "block_bootstrap" }` or
    /// `{ kind = "regime_bootstrap", regime = "CRISIS" }`.
    pub set: ScenarioKind,
    /// Seed, paths, horizon, block length, tail settings.
    pub params: ScenarioParams,
    /// Calendar days of history drawn from.
    pub history_days: u64,
    /// Scenario paths stored in full in `scenario_paths` (the baseline always is); the
    /// fragility engine uses every path through the `ScenarioSet` message.
    pub stored_paths: usize,
}

impl Default for ScenarioEngineConfig {
    fn default() -> Self {
        Self {
            set: ScenarioKind::BlockBootstrap,
            params: ScenarioParams::default(),
            history_days: 1100,
            stored_paths: 20,
        }
    }
}

impl crate::config::EngineConfig for ScenarioEngineConfig {
    const ENGINE: &'static str = "scenarios";

    fn validate(&self, issues: &mut crate::config::Issues) {
        if let Err(ScenarioError::InvalidParams(why)) = self.params.check() {
            issues.check(true, "params", || why.clone());
        }
        issues.check(
            !(30..=40_000).contains(&self.history_days),
            "history_days",
            || {
                format!(
                    "{} is out of range; use 30..=40000 calendar days",
                    self.history_days
                )
            },
        );
        issues.check(self.stored_paths > 10_000, "stored_paths", || {
            format!("{} is out of range; use 0..=10000", self.stored_paths)
        });
        if let ScenarioKind::RegimeBootstrap { regime } = &self.set {
            issues.check(
                crate::engines::regime::RegimeLabel::parse(regime).is_none(),
                "set.regime",
                || format!("{regime:?} is not a regime; use CRISIS, RISK_OFF, NEUTRAL or CARRY"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;

    fn day(i: usize) -> NaiveDate {
        NaiveDate::from_ymd_opt(2020, 1, 1).unwrap() + chrono::Days::new(i as u64)
    }

    fn history(days: usize, n: usize) -> ReturnPanel {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        ReturnPanel {
            dates: (0..days).map(day).collect(),
            instruments: (0..n).map(|i| format!("I{i}")).collect(),
            returns: (0..days * n)
                .map(|_| rng.random_range(-0.03..0.03))
                .collect(),
        }
    }

    fn params() -> ScenarioParams {
        ScenarioParams {
            paths: 50,
            horizon: 10,
            block: 3,
            ..ScenarioParams::default()
        }
    }

    fn kinds() -> Vec<ScenarioKind> {
        vec![
            ScenarioKind::HistoricalWindows,
            ScenarioKind::BlockBootstrap,
            ScenarioKind::RegimeBootstrap {
                regime: "CRISIS".into(),
            },
            ScenarioKind::StressedTails,
            ScenarioKind::CrisisReplay {
                name: "x".into(),
                from: day(20),
                to: day(34),
            },
        ]
    }

    fn labels(days: usize) -> Vec<(NaiveDate, String)> {
        (0..days)
            .map(|t| {
                (
                    day(t),
                    if (40..60).contains(&t) {
                        "CRISIS"
                    } else {
                        "CALM"
                    }
                    .to_owned(),
                )
            })
            .collect()
    }

    #[test]
    fn shapes_and_same_seed_same_paths() {
        let h = history(200, 7);
        for kind in kinds() {
            let a = params()
                .generate(&kind, &h, &labels(200), day(150))
                .unwrap();
            let b = params()
                .generate(&kind, &h, &labels(200), day(150))
                .unwrap();
            assert_eq!(a, b, "{kind:?}");
            let (paths, horizon) = match kind {
                ScenarioKind::CrisisReplay { .. } => (1, 15),
                _ => (50, 10),
            };
            assert_eq!((a.paths, a.horizon), (paths, horizon), "{kind:?}");
            assert_eq!(a.rows.len(), paths * horizon);
            assert_eq!(a.path_values(paths - 1).len(), horizon * 7);
            assert_eq!(a.source_dates.len(), paths * horizon);
            assert_eq!(a.path_returns().len(), paths * 7);
            let other = ScenarioParams {
                seed: 7,
                ..params()
            };
            if !matches!(kind, ScenarioKind::CrisisReplay { .. }) {
                assert_ne!(
                    other
                        .generate(&kind, &h, &labels(200), day(150))
                        .unwrap()
                        .path_values(0),
                    a.path_values(0)
                );
            }
        }
    }

    #[test]
    fn nothing_after_as_of_is_drawn_or_changes_a_set() {
        let h = history(200, 5);
        let mut future = h.clone();
        for v in &mut future.returns[151 * 5..] {
            *v = 0.5;
        }
        for kind in kinds() {
            let a = params()
                .generate(&kind, &h, &labels(200), day(150))
                .unwrap();
            assert!(a.source_dates.iter().all(|d| *d <= day(150)), "{kind:?}");
            let b = params()
                .generate(&kind, &future, &labels(200), day(150))
                .unwrap();
            assert_eq!(a, b, "{kind:?}");
        }
    }

    #[test]
    fn each_generator_draws_what_it_says() {
        let h = history(200, 4);
        let p = params();
        // Windows are consecutive history days.
        let w = p
            .generate(&ScenarioKind::HistoricalWindows, &h, &[], day(150))
            .unwrap();
        for path in w.source_dates.chunks(10) {
            assert!(path.windows(2).all(|d| d[1] == d[0].succ_opt().unwrap()));
        }
        // Regime blocks only from CRISIS days.
        let r = p
            .generate(
                &ScenarioKind::RegimeBootstrap {
                    regime: "CRISIS".into(),
                },
                &h,
                &labels(200),
                day(150),
            )
            .unwrap();
        assert!(
            r.source_dates
                .iter()
                .all(|d| (day(40)..day(60)).contains(d))
        );
        // Stressed tails: only the worst 5% market days (8 of 151), scaled by 1.5.
        let s = p
            .generate(&ScenarioKind::StressedTails, &h, &[], day(150))
            .unwrap();
        let mut market: Vec<(f64, usize)> = (0..151).map(|t| (h.market(t), t)).collect();
        market.sort_by(|a, b| a.0.total_cmp(&b.0));
        let worst: Vec<NaiveDate> = market[..8].iter().map(|(_, t)| day(*t)).collect();
        assert!(s.source_dates.iter().all(|d| worst.contains(d)));
        let t = (s.source_dates[0] - day(0)).num_days() as usize;
        assert!((f64::from(s.day(0, 0)[0]) - 1.5 * h.row(t)[0]).abs() < 1e-6);
        // A replay is the window itself, once.
        let c = p
            .generate(
                &ScenarioKind::CrisisReplay {
                    name: "x".into(),
                    from: day(20),
                    to: day(34),
                },
                &h,
                &[],
                day(150),
            )
            .unwrap();
        assert_eq!(c.source_dates, (20..=34).map(day).collect::<Vec<_>>());
        assert_eq!(f64::from(c.day(0, 3)[2]), f64::from(h.row(23)[2] as f32));
    }

    #[test]
    fn large_sets_split_across_cores_give_the_serial_sums() {
        // 100 paths × 21 days × 2,000 names: both sums run on several threads.
        let h = history(120, 2000);
        let p = ScenarioParams {
            paths: 100,
            horizon: 21,
            ..params()
        };
        let set = p
            .generate(&ScenarioKind::BlockBootstrap, &h, &[], day(110))
            .unwrap();
        let n = 2000;
        let mut returns = vec![0.0f64; 100 * n];
        let mut mean = vec![0.0f64; 21 * n];
        for path in 0..100 {
            for i in 0..n {
                let mut g = 1.0f64;
                for d in 0..21 {
                    let r = f64::from(set.day(path, d)[i]);
                    g *= 1.0 + r;
                    mean[d * n + i] += r;
                }
                returns[path * n + i] = g - 1.0;
            }
        }
        assert_eq!(set.path_returns(), returns);
        let mean: Vec<f32> = mean.iter().map(|m| (m / 100.0) as f32).collect();
        assert_eq!(set.baseline, mean);
    }

    #[test]
    fn impossible_sets_say_why() {
        let h = history(30, 3);
        let p = params();
        let e = p
            .generate(
                &ScenarioKind::RegimeBootstrap {
                    regime: "CARRY".into(),
                },
                &h,
                &labels(30),
                day(25),
            )
            .unwrap_err();
        assert!(e.to_string().contains("no day labelled CARRY"), "{e}");
        let e = p
            .generate(
                &ScenarioKind::CrisisReplay {
                    name: "late".into(),
                    from: day(20),
                    to: day(28),
                },
                &h,
                &[],
                day(25),
            )
            .unwrap_err();
        assert!(e.to_string().contains("after the date"), "{e}");
        let e = ScenarioParams {
            paths: 0,
            tail_scale: 9.0,
            ..p.clone()
        }
        .check()
        .unwrap_err();
        assert!(
            e.to_string().contains("paths 0") && e.to_string().contains("tail_scale 9"),
            "{e}"
        );
        assert!(
            p.generate(&ScenarioKind::HistoricalWindows, &h, &[], day(5))
                .is_err()
        );
    }
}

//! The universe engine's core: which names the portfolio may hold today, and why the
//! others may not.
//!
//! Hard filters first, each with its reason (history, staleness, minimum price, liquidity
//! when volume is known, the BREAKER class, a soft-target limit, exclusion lists). The
//! names that pass are ranked by their assessment score (names without a score after all
//! scored ones, then by id) and take CORE places, then SATELLITE places, while no sector
//! holds more than `max_sector_share` of the places; the rest are EXCLUDED with the reason.

use crate::config::tunable::{HardLimit, Step, Tighter, Tunable};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::config::{EngineConfig, Issues};
use crate::engines::stability::SoftTargetClass;

/// The sector of a name whose issuer has none on record. Such names are not grouped: no
/// sector limit or cap applies to them together (each is still capped on its own).
pub const UNKNOWN_SECTOR: &str = "unknown";

/// A member's tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Tier {
    /// The best-ranked names.
    Core,
    /// The next ones.
    Satellite,
    /// Not investable today.
    Excluded,
}

impl Tier {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Core => "CORE",
            Self::Satellite => "SATELLITE",
            Self::Excluded => "EXCLUDED",
        }
    }
}

/// Configuration of the universe engine (`config/engines/universe.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UniverseConfig {
    /// The universe's id in `universe_members`.
    pub universe_id: String,
    /// The scores that rank it (`instrument_scores.strategy_id`).
    pub strategy_id: String,
    /// Fewer sessions of prices: excluded.
    pub min_history_days: usize,
    /// A last close below this: excluded.
    pub min_price: f64,
    /// Median daily traded value (close × volume) below this over `liquidity_days`:
    /// excluded (only when every one of those days has a volume).
    pub min_traded_value: f64,
    /// Window of the liquidity filter.
    pub liquidity_days: usize,
    /// Exclude names classed BREAKER by the stability engine.
    pub exclude_breakers: bool,
    /// Exclude names whose soft-target score exceeds this.
    pub max_soft_target: Option<f64>,
    /// Instrument ids or symbols never admitted.
    pub exclusions: Vec<String>,
    /// CORE places.
    pub core_size: usize,
    /// SATELLITE places after them.
    pub satellite_size: usize,
    /// Largest share of the places one sector may take (names of an unknown sector are
    /// not limited together).
    pub max_sector_share: f64,
}

impl Default for UniverseConfig {
    fn default() -> Self {
        Self {
            universe_id: "core_long_eq".into(),
            strategy_id: "core_long_eq".into(),
            min_history_days: 252,
            min_price: 1.0,
            min_traded_value: 1.0e6,
            liquidity_days: 63,
            exclude_breakers: true,
            max_soft_target: Some(80.0),
            exclusions: Vec::new(),
            core_size: 40,
            satellite_size: 20,
            max_sector_share: 0.35,
        }
    }
}

impl EngineConfig for UniverseConfig {
    const ENGINE: &'static str = "universe";
    const TUNABLE: &'static [Tunable] = &[
        Tunable::number("core_size", 10.0, 200.0, Step::Integer(10)),
        Tunable::number("max_soft_target", 50.0, 95.0, Step::Absolute(5.0)),
        Tunable::number("max_sector_share", 0.2, 0.5, Step::Absolute(0.05)),
        Tunable::number(
            "min_traded_value",
            250_000.0,
            10_000_000.0,
            Step::Relative(1.0),
        ),
    ];
    const HARD_LIMITS: &'static [HardLimit] = &[
        HardLimit {
            key: "exclude_breakers",
            tighter: Tighter::True { default_true: true },
        },
        HardLimit {
            key: "min_price",
            tighter: Tighter::Higher,
        },
    ];

    fn validate(&self, issues: &mut Issues) {
        for (key, id) in [
            ("universe_id", &self.universe_id),
            ("strategy_id", &self.strategy_id),
        ] {
            issues.check(id.trim().is_empty(), key, || "must not be empty".into());
        }
        issues.check(self.min_history_days < 2, "min_history_days", || {
            format!("{} is too short; use at least 2", self.min_history_days)
        });
        issues.check(
            !(self.min_price.is_finite() && self.min_price >= 0.0),
            "min_price",
            || format!("{} must be ≥ 0", self.min_price),
        );
        issues.check(
            !(self.min_traded_value.is_finite() && self.min_traded_value >= 0.0),
            "min_traded_value",
            || format!("{} must be ≥ 0", self.min_traded_value),
        );
        issues.check(self.liquidity_days == 0, "liquidity_days", || {
            "must be at least 1".into()
        });
        if let Some(m) = self.max_soft_target {
            issues.check(!(0.0..=100.0).contains(&m), "max_soft_target", || {
                format!("{m} is out of range; use 0..=100")
            });
        }
        issues.check(self.core_size == 0, "core_size", || {
            "must be at least 1".into()
        });
        issues.check(
            !(self.max_sector_share > 0.0 && self.max_sector_share <= 1.0),
            "max_sector_share",
            || format!("{} is out of range; use (0, 1]", self.max_sector_share),
        );
    }
}

/// One candidate's facts on the date.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Instrument id.
    pub id: String,
    /// Ticker.
    pub symbol: String,
    /// `equity`, `etf`, `index`…: an index is a benchmark, never a holding.
    pub asset_class: String,
    /// Sector (`unknown` when not known).
    pub sector: String,
    /// Sessions with a price up to the date.
    pub history_days: usize,
    /// Whether it has a price on the date itself.
    pub priced_today: bool,
    /// Last close.
    pub last_close: f64,
    /// Median traded value over the liquidity window; `None` when a volume is missing.
    pub median_traded_value: Option<f64>,
    /// Stability class and soft-target score on the date, when assessed.
    pub soft_target: Option<(SoftTargetClass, f64)>,
    /// Assessment score, when scored.
    pub score: Option<f64>,
}

/// One decision.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// Instrument id.
    pub id: String,
    /// Tier.
    pub tier: Tier,
    /// Assessment score, when scored.
    pub score: Option<f64>,
    /// Its sector.
    pub sector: String,
    /// Why it is excluded (empty for members).
    pub reasons: Vec<String>,
}

impl Member {
    /// Whether the portfolio may hold it.
    pub fn included(&self) -> bool {
        self.tier != Tier::Excluded
    }
}

impl UniverseConfig {
    /// The hard filters a candidate fails, each as a reason.
    pub fn filter_reasons(&self, c: &Candidate) -> Vec<String> {
        let mut out = Vec::new();
        if self.exclusions.iter().any(|e| e == &c.id || e == &c.symbol) {
            out.push("on the exclusion list".to_owned());
        }
        if !crate::domain::is_investable(&c.asset_class) {
            out.push(format!(
                "asset class {}: not investable (a benchmark)",
                c.asset_class
            ));
        }
        if !c.priced_today {
            out.push("no price on the date (stale)".to_owned());
        }
        if c.history_days < self.min_history_days {
            out.push(format!(
                "history: {} sessions < {}",
                c.history_days, self.min_history_days
            ));
        }
        if c.last_close.is_nan() || c.last_close < self.min_price {
            out.push(format!(
                "price {:.4} < minimum {}",
                c.last_close, self.min_price
            ));
        }
        if let Some(v) = c.median_traded_value
            && v < self.min_traded_value
        {
            out.push(format!(
                "liquidity: median traded value {v:.0} < {}",
                self.min_traded_value
            ));
        }
        if let Some((class, score)) = c.soft_target {
            if self.exclude_breakers && class == SoftTargetClass::Breaker {
                out.push("stability class BREAKER".to_owned());
            }
            if let Some(m) = self.max_soft_target
                && score > m
            {
                out.push(format!("soft-target score {score:.1} > {m}"));
            }
        }
        out
    }

    /// Every candidate's tier and reasons, in the candidates' order.
    pub fn select(&self, candidates: &[Candidate]) -> Vec<Member> {
        let mut members: Vec<Member> = candidates
            .iter()
            .map(|c| {
                let reasons = self.filter_reasons(c);
                Member {
                    id: c.id.clone(),
                    tier: Tier::Excluded,
                    score: c.score,
                    sector: c.sector.clone(),
                    reasons,
                }
            })
            .collect();
        let mut ranked: Vec<usize> = (0..members.len())
            .filter(|&i| members[i].reasons.is_empty())
            .collect();
        ranked.sort_by(|&a, &b| {
            let (sa, sb) = (members[a].score, members[b].score);
            match (sa, sb) {
                (Some(x), Some(y)) => y.total_cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            }
            .then_with(|| members[a].id.cmp(&members[b].id))
        });
        let places = self.core_size + self.satellite_size;
        let sector_limit = ((self.max_sector_share * places as f64).floor() as usize).max(1);
        let mut per_sector: BTreeMap<String, usize> = BTreeMap::new();
        let mut taken = 0;
        for (rank, &i) in ranked.iter().enumerate() {
            let m = &mut members[i];
            if taken >= places {
                m.reasons
                    .push(format!("rank {} beyond the {places} places", rank + 1));
                continue;
            }
            let held = per_sector.entry(m.sector.clone()).or_insert(0);
            if m.sector != UNKNOWN_SECTOR && *held >= sector_limit {
                m.reasons.push(format!(
                    "sector {} already holds {sector_limit} places",
                    m.sector
                ));
                continue;
            }
            *held += 1;
            m.tier = if taken < self.core_size {
                Tier::Core
            } else {
                Tier::Satellite
            };
            taken += 1;
        }
        members
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(i: usize, sector: &str, score: Option<f64>) -> Candidate {
        Candidate {
            id: format!("US_EQ:N{i:02}"),
            symbol: format!("N{i:02}"),
            asset_class: "equity".into(),
            sector: sector.to_owned(),
            history_days: 400,
            priced_today: true,
            last_close: 20.0,
            median_traded_value: Some(5e6),
            soft_target: Some((SoftTargetClass::Stable, 10.0)),
            score,
        }
    }

    #[test]
    fn every_hard_filter_gives_its_reason() {
        let cfg = UniverseConfig {
            exclusions: vec!["N01".into()],
            ..UniverseConfig::default()
        };
        let mut c = candidate(1, "Tech", Some(0.5));
        c.history_days = 100;
        c.priced_today = false;
        c.last_close = 0.5;
        c.median_traded_value = Some(1e4);
        c.soft_target = Some((SoftTargetClass::Breaker, 92.0));
        c.asset_class = "index".into();
        let reasons = cfg.filter_reasons(&c);
        assert_eq!(reasons.len(), 8, "{reasons:?}");
        assert!(reasons.iter().any(|r| r.contains("asset class index")));
        assert!(reasons[0].contains("exclusion list"));
        assert!(reasons.iter().any(|r| r.contains("BREAKER")));
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("soft-target score 92.0 > 80"))
        );
        // Without volume there is no liquidity filter; without a stability row no class one.
        c = candidate(2, "Tech", None);
        c.median_traded_value = None;
        c.soft_target = None;
        assert!(cfg.filter_reasons(&c).is_empty());
    }

    #[test]
    fn tiers_follow_the_score_within_sector_limits() {
        let cfg = UniverseConfig {
            core_size: 2,
            satellite_size: 2,
            max_sector_share: 0.5,
            ..UniverseConfig::default()
        };
        let cands = vec![
            candidate(0, "Tech", Some(0.9)),
            candidate(1, "Tech", Some(0.8)),
            candidate(2, "Tech", Some(0.7)),
            candidate(3, "Energy", Some(0.1)),
            candidate(4, "Energy", None),
            candidate(5, "Health", Some(-0.5)),
        ];
        let m = cfg.select(&cands);
        let tiers: Vec<Tier> = m.iter().map(|x| x.tier).collect();
        assert_eq!(
            tiers,
            vec![
                Tier::Core,
                Tier::Core,
                Tier::Excluded,
                Tier::Satellite,
                Tier::Excluded,
                Tier::Satellite
            ]
        );
        assert!(m[2].reasons[0].contains("sector Tech already holds 2 places"));
        assert!(m[4].reasons[0].contains("rank 6 beyond the 4 places"));
        assert!(
            m.iter()
                .filter(|x| x.included())
                .all(|x| x.reasons.is_empty())
        );
    }
}

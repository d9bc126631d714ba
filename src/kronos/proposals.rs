//! Candidate configs: bounded sweeps around the active config over the keys the engine
//! declares tunable, configs users propose, and negative controls — configs that are bad on
//! purpose and must fail the gates, so a gate that has stopped discriminating is noticed.
//!
//! Every candidate carries its full body (the active config with its changes applied) and
//! the list of changes, so a person reviewing it sees exactly what would move.

use crate::config::tunable::{HardLimit, Tunable, get_path, loosened, set_path};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One changed key of a candidate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Dotted path into the config body.
    pub key: String,
    /// The active value (`None`: absent).
    pub from: Option<Value>,
    /// The candidate's value (`None`: removed).
    pub to: Option<Value>,
}

/// A negative control: a config that is wrong in a known way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Control {
    /// The assessment's family weights pinned to the negated prior: scores that rank the
    /// names backwards.
    InvertedSignal,
    /// The portfolio's name, sector and turnover caps and its risk limits removed.
    CapsRemoved,
    /// The universe's liquidity and price filters switched off.
    LiquidityBlind,
    /// The assessment's config unchanged, but its price reads shown the prices of
    /// [`LOOK_AHEAD_SESSIONS`] sessions later under today's dates (set on its experiment,
    /// never by a config): a config that reads the future. The `point_in_time` gate must
    /// catch it.
    ReadsFuture,
}

/// How far ahead the "reads the future" control looks.
pub const LOOK_AHEAD_SESSIONS: u32 = 5;

impl Control {
    /// Every control.
    pub const ALL: [Control; 4] = [
        Control::InvertedSignal,
        Control::CapsRemoved,
        Control::LiquidityBlind,
        Control::ReadsFuture,
    ];

    /// The engine whose config it changes.
    pub fn engine(self) -> &'static str {
        match self {
            Self::InvertedSignal => "assessment",
            Self::CapsRemoved => "portfolio",
            Self::LiquidityBlind => "universe",
            Self::ReadsFuture => "assessment",
        }
    }

    /// Its name in tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::InvertedSignal => "inverted_signal",
            Self::CapsRemoved => "caps_removed",
            Self::LiquidityBlind => "liquidity_blind",
            Self::ReadsFuture => "reads_future",
        }
    }

    /// The changes it makes to the engine's active body.
    fn changes(self, active: &Value) -> Vec<(String, Option<Value>)> {
        match self {
            Self::InvertedSignal => {
                let prior: Vec<Value> = get_path(active, "prior")
                    .and_then(Value::as_array)
                    .map(|p| {
                        p.iter()
                            .map(|v| Value::from(-v.as_f64().unwrap_or(0.0)))
                            .collect()
                    })
                    .unwrap_or_default();
                vec![
                    ("prior".into(), Some(Value::Array(prior))),
                    // A ridge this strong pins the fitted weights to the (negated) prior.
                    ("ridge".into(), Some(Value::from(1e9))),
                ]
            }
            // An explicit `null` unsets an option; a missing key would take its default.
            Self::CapsRemoved => vec![
                ("max_weight".into(), Some(Value::from(1.0))),
                ("sector_cap".into(), Some(Value::from(1.0))),
                ("turnover_limit".into(), Some(Value::Null)),
                ("limits.max_ex_ante_vol".into(), Some(Value::Null)),
                ("limits.max_fragile_weight".into(), Some(Value::Null)),
                ("limits.max_historical_es_99".into(), Some(Value::Null)),
                ("limits.max_scenario_es_99".into(), Some(Value::Null)),
            ],
            Self::LiquidityBlind => vec![
                ("min_traded_value".into(), Some(Value::from(0.0))),
                ("min_price".into(), Some(Value::from(0.0))),
            ],
            Self::ReadsFuture => Vec::new(),
        }
    }

    /// The look-ahead its experiment runs with (only [`Control::ReadsFuture`] has one).
    pub fn look_ahead(self) -> Option<crate::kronos::experiment::LookAhead> {
        (self == Self::ReadsFuture).then(|| crate::kronos::experiment::LookAhead {
            engine: self.engine().to_owned(),
            sessions: LOOK_AHEAD_SESSIONS,
        })
    }
}

/// Where a candidate came from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A one-key step around the active config.
    Sweep,
    /// Proposed by a person (`pv2 kronos propose`), with who.
    User {
        /// Who proposed it.
        by: String,
    },
    /// A negative control.
    Control {
        /// Which.
        control: Control,
    },
}

impl Origin {
    /// A short name for tables: `sweep`, `user`, `control:<name>`.
    pub fn label(&self) -> String {
        match self {
            Self::Sweep => "sweep".into(),
            Self::User { .. } => "user".into(),
            Self::Control { control } => format!("control:{}", control.name()),
        }
    }
}

/// A candidate config of one engine.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The engine it configures.
    pub engine: String,
    /// The full config body (JSON object).
    pub body: Value,
    /// What differs from the active config.
    pub changes: Vec<Change>,
    /// Where it came from.
    pub origin: Origin,
}

/// The keys whose values differ between `a` and `b` (objects and equal-length arrays
/// compared element by element, anything else as a whole).
pub fn diff(a: &Value, b: &Value) -> Vec<Change> {
    fn walk(prefix: &str, a: Option<&Value>, b: Option<&Value>, out: &mut Vec<Change>) {
        match (a, b) {
            (Some(Value::Object(x)), Some(Value::Object(y))) => {
                let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
                keys.sort();
                keys.dedup();
                for k in keys {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&path, x.get(k), y.get(k), out);
                }
            }
            (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
                for (i, (u, v)) in x.iter().zip(y).enumerate() {
                    walk(&format!("{prefix}.{i}"), Some(u), Some(v), out);
                }
            }
            (a, b) if a != b => {
                // A null and an absent key mean the same (an unset option).
                let norm = |v: Option<&Value>| v.filter(|v| !v.is_null()).cloned();
                let (from, to) = (norm(a), norm(b));
                if from != to {
                    out.push(Change {
                        key: prefix.to_owned(),
                        from,
                        to,
                    });
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk("", Some(a), Some(b), &mut out);
    out
}

/// One-key steps around `active` over `tunable`: for each key, the neighbours inside its
/// bounds, in declaration order, at most `max` candidates. Keys the body lacks are skipped.
pub fn sweep(engine: &str, active: &Value, tunable: &[Tunable], max: usize) -> Vec<Candidate> {
    let mut out = Vec::new();
    for t in tunable {
        let Some(current) = get_path(active, t.key) else {
            continue;
        };
        for v in t.neighbours(current) {
            if out.len() >= max {
                return out;
            }
            let mut body = active.clone();
            if set_path(&mut body, t.key, Some(v)) {
                out.push(Candidate {
                    engine: engine.to_owned(),
                    changes: diff(active, &body),
                    body,
                    origin: Origin::Sweep,
                });
            }
        }
    }
    out
}

/// The negative control `control` built on its engine's active body.
pub fn control(control: Control, active: &Value) -> Candidate {
    let mut body = active.clone();
    for (key, value) in control.changes(active) {
        set_path(&mut body, &key, value);
    }
    Candidate {
        engine: control.engine().to_owned(),
        changes: diff(active, &body),
        body,
        origin: Origin::Control { control },
    }
}

/// Why `candidate` may not be run as an ordinary proposal: keys outside the engine's
/// declared tunable bounds (only for sweeps: a person may move any key) and hard limits it
/// loosens (for everyone). Negative controls skip this check — they exist to be refused by
/// the gates.
pub fn admissibility(
    candidate: &Candidate,
    active: &Value,
    tunable: &[Tunable],
    limits: &[HardLimit],
) -> Vec<String> {
    let mut why = loosened(limits, active, &candidate.body);
    if candidate.origin == Origin::Sweep {
        for c in &candidate.changes {
            match tunable.iter().find(|t| t.key == c.key) {
                None => why.push(format!("{} is not a tunable key", c.key)),
                Some(t) if !c.to.as_ref().is_some_and(|v| t.admits(v)) => why.push(format!(
                    "{} = {} is outside its bounds [{}, {}]",
                    c.key,
                    c.to.as_ref()
                        .map_or_else(|| "absent".into(), Value::to_string),
                    t.min,
                    t.max
                )),
                Some(_) => {}
            }
        }
    }
    why
}

/// The keys of `candidate` that fall outside the declared bounds or are not tunable: the
/// gate's view of how far a candidate strays (controls included).
pub fn out_of_bounds(candidate: &Candidate, tunable: &[Tunable]) -> Vec<String> {
    candidate
        .changes
        .iter()
        .filter(|c| {
            !tunable
                .iter()
                .any(|t| t.key == c.key && c.to.as_ref().is_some_and(|v| t.admits(v)))
        })
        .map(|c| c.key.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EngineConfig;
    use crate::engines::assessment::AssessmentConfig;
    use crate::engines::portfolio::PortfolioConfig;
    use crate::engines::universe::UniverseConfig;

    fn body<C: EngineConfig>() -> Value {
        serde_json::from_str(&C::default().canonical_body()).unwrap()
    }

    /// Parses a candidate's body back into the engine's config (validation included).
    fn valid<C: EngineConfig>(c: &Candidate) -> bool {
        let cfg: C = serde_json::from_value(c.body.clone()).unwrap();
        let mut issues = crate::config::Issues::new();
        cfg.validate(&mut issues);
        issues.is_empty()
    }

    #[test]
    fn a_sweep_moves_one_declared_key_at_a_time_inside_its_bounds() {
        let active = body::<PortfolioConfig>();
        let cands = sweep("portfolio", &active, PortfolioConfig::TUNABLE, 100);
        assert!(cands.len() >= 6, "{}", cands.len());
        for c in &cands {
            assert_eq!(c.changes.len(), 1, "{:?}", c.changes);
            assert!(valid::<PortfolioConfig>(c), "{:?}", c.changes);
            assert!(
                admissibility(
                    c,
                    &active,
                    PortfolioConfig::TUNABLE,
                    PortfolioConfig::HARD_LIMITS
                )
                .is_empty()
            );
        }
        assert_eq!(
            sweep("portfolio", &active, PortfolioConfig::TUNABLE, 3).len(),
            3
        );
        let a = sweep(
            "assessment",
            &body::<AssessmentConfig>(),
            AssessmentConfig::TUNABLE,
            100,
        );
        let keys: Vec<&str> = a.iter().map(|c| c.changes[0].key.as_str()).collect();
        assert!(keys.contains(&"prior.2"), "{keys:?}");
        assert!(a.iter().all(valid::<AssessmentConfig>));
    }

    #[test]
    fn every_negative_control_is_a_valid_config_that_changes_something_or_looks_ahead() {
        for ctl in Control::ALL {
            let (active, ok) = match ctl.engine() {
                "assessment" => {
                    let a = body::<AssessmentConfig>();
                    let c = control(ctl, &a);
                    (a, valid::<AssessmentConfig>(&c))
                }
                "portfolio" => {
                    let a = body::<PortfolioConfig>();
                    let c = control(ctl, &a);
                    (a, valid::<PortfolioConfig>(&c))
                }
                _ => {
                    let a = body::<UniverseConfig>();
                    let c = control(ctl, &a);
                    (a, valid::<UniverseConfig>(&c))
                }
            };
            let c = control(ctl, &active);
            assert!(ok, "{} is not a valid config", ctl.name());
            // The look-ahead control changes no key: what it changes is what its
            // experiment's engine is shown.
            assert_ne!(
                c.changes.is_empty(),
                ctl.look_ahead().is_none(),
                "{}",
                ctl.name()
            );
            assert_eq!(c.origin.label(), format!("control:{}", ctl.name()));
        }
        let p = body::<PortfolioConfig>();
        let caps = control(Control::CapsRemoved, &p);
        // The limits are really gone once the body is read as a config (not defaulted back).
        let cfg: PortfolioConfig = serde_json::from_value(caps.body.clone()).unwrap();
        assert_eq!(cfg.limits.max_ex_ante_vol, None);
        assert_eq!(cfg.turnover_limit, None);
        let why = admissibility(
            &caps,
            &p,
            PortfolioConfig::TUNABLE,
            PortfolioConfig::HARD_LIMITS,
        );
        assert!(why.iter().any(|w| w.contains("max_ex_ante_vol")), "{why:?}");
        assert!(out_of_bounds(&caps, PortfolioConfig::TUNABLE).contains(&"max_weight".to_owned()));
        let ahead = Control::ReadsFuture.look_ahead().unwrap();
        assert_eq!(
            (ahead.engine.as_str(), ahead.sessions),
            ("assessment", LOOK_AHEAD_SESSIONS)
        );
    }

    #[test]
    fn a_diff_lists_nested_changes_and_ignores_nulls() {
        let a = serde_json::json!({"x": 1, "l": {"v": 0.6, "n": null}, "p": [1, 2], "q": [1]});
        let b = serde_json::json!({"x": 1, "l": {"v": 0.5}, "p": [1, 3], "new": true, "q": []});
        let d = diff(&a, &b);
        let keys: Vec<&str> = d.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(keys, vec!["l.v", "new", "p.1", "q"]);
        assert_eq!(d[1].from, None);
    }

    #[test]
    fn a_sweep_candidate_outside_the_bounds_is_refused() {
        let active = body::<PortfolioConfig>();
        let mut c = sweep("portfolio", &active, PortfolioConfig::TUNABLE, 1).remove(0);
        set_path(&mut c.body, "risk_aversion", Some(Value::from(1000.0)));
        c.changes = diff(&active, &c.body);
        let why = admissibility(
            &c,
            &active,
            PortfolioConfig::TUNABLE,
            PortfolioConfig::HARD_LIMITS,
        );
        assert!(why[0].contains("outside its bounds"), "{why:?}");
    }
}

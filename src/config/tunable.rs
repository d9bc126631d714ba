//! What an engine lets a meta-optimiser change, and what it never lets it loosen.
//!
//! Each engine config declares its tunable keys with bounds and a step
//! ([`super::EngineConfig::TUNABLE`]) and its hard limits
//! ([`super::EngineConfig::HARD_LIMITS`]). Kronos sweeps only inside the declared bounds and
//! refuses any candidate that loosens a hard limit; a person changes those by hand, audited.
//! Keys are dotted paths into the config's JSON body (`limits.max_ex_ante_vol`, `prior.2`
//! for an array element).

use serde_json::Value;

/// How far one sweep step moves a tunable key.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Step {
    /// Multiply and divide by `1 + s` (scale parameters: risk aversion, ridge).
    Relative(f64),
    /// Add and subtract `s` (shares, cut-offs).
    Absolute(f64),
    /// Add and subtract `s` and keep the value an integer (windows, counts).
    Integer(i64),
    /// One of these values (neighbours in the list are one step apart).
    Choice(&'static [&'static str]),
}

/// A key a meta-optimiser may move, within `[min, max]` (ignored for choices).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tunable {
    /// Dotted path into the config body.
    pub key: &'static str,
    /// Smallest allowed value.
    pub min: f64,
    /// Largest allowed value.
    pub max: f64,
    /// One step of a sweep.
    pub step: Step,
}

impl Tunable {
    /// A numeric key.
    pub const fn number(key: &'static str, min: f64, max: f64, step: Step) -> Self {
        Self {
            key,
            min,
            max,
            step,
        }
    }

    /// A key taking one of `values`.
    pub const fn choice(key: &'static str, values: &'static [&'static str]) -> Self {
        Self {
            key,
            min: 0.0,
            max: 0.0,
            step: Step::Choice(values),
        }
    }

    /// Whether `v` is an allowed value of this key.
    pub fn admits(&self, v: &Value) -> bool {
        match self.step {
            Step::Choice(values) => v.as_str().is_some_and(|s| values.contains(&s)),
            Step::Integer(_) => v
                .as_i64()
                .is_some_and(|x| (x as f64) >= self.min && (x as f64) <= self.max),
            Step::Relative(_) | Step::Absolute(_) => v
                .as_f64()
                .is_some_and(|x| x.is_finite() && x >= self.min - 1e-12 && x <= self.max + 1e-12),
        }
    }

    /// The values one step below and above `v` that stay inside the bounds.
    pub fn neighbours(&self, v: &Value) -> Vec<Value> {
        let inside = |x: &Value| self.admits(x) && x != v;
        let out: Vec<Value> = match self.step {
            Step::Choice(values) => {
                let Some(i) = v.as_str().and_then(|s| values.iter().position(|c| *c == s)) else {
                    return Vec::new();
                };
                [i.checked_sub(1), Some(i + 1)]
                    .into_iter()
                    .flatten()
                    .filter_map(|j| values.get(j))
                    .map(|s| Value::from(*s))
                    .collect()
            }
            Step::Integer(s) => match v.as_i64() {
                Some(x) => vec![Value::from(x - s), Value::from(x + s)],
                None => Vec::new(),
            },
            Step::Relative(s) => match v.as_f64() {
                Some(x) => vec![round(x / (1.0 + s)), round(x * (1.0 + s))],
                None => Vec::new(),
            },
            Step::Absolute(s) => match v.as_f64() {
                Some(x) => vec![round(x - s), round(x + s)],
                None => Vec::new(),
            },
        };
        out.into_iter().filter(inside).collect()
    }
}

/// A float rounded to 10 significant digits (sweep values that print cleanly and hash
/// the same on every machine).
fn round(x: f64) -> Value {
    if x == 0.0 || !x.is_finite() {
        return Value::from(x);
    }
    let digits = 10 - x.abs().log10().ceil() as i32;
    let f = 10f64.powi(digits);
    Value::from((x * f).round() / f)
}

/// Which way a hard limit gets tighter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tighter {
    /// A smaller number is tighter; a missing key means no limit.
    Lower,
    /// A larger number is tighter; a missing key means no limit.
    Higher,
    /// `true` is tighter; a missing key takes `default_true`.
    True {
        /// The value when the key is absent.
        default_true: bool,
    },
}

/// A key whose loosening is a human decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HardLimit {
    /// Dotted path into the config body.
    pub key: &'static str,
    /// Which way is tighter.
    pub tighter: Tighter,
}

/// The value at a dotted `path` of `body` (`a.b.2` indexes arrays).
pub fn get_path<'a>(body: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(body, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Sets the value at a dotted `path`, creating objects on the way (`None` removes it).
/// Returns `false` when the path runs through a scalar or past an array's end.
pub fn set_path(body: &mut Value, path: &str, value: Option<Value>) -> bool {
    let parts: Vec<&str> = path.split('.').collect();
    let Some((last, init)) = parts.split_last() else {
        return false;
    };
    let mut cur = body;
    for part in init {
        cur = match cur {
            Value::Object(m) => m
                .entry((*part).to_owned())
                .or_insert_with(|| Value::Object(serde_json::Map::new())),
            Value::Array(a) => match part.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
                Some(v) => v,
                None => return false,
            },
            _ => return false,
        };
    }
    match (cur, value) {
        (Value::Object(m), Some(v)) => {
            m.insert((*last).to_owned(), v);
            true
        }
        (Value::Object(m), None) => {
            m.remove(*last);
            true
        }
        (Value::Array(a), Some(v)) => match last.parse::<usize>().ok().and_then(|i| a.get_mut(i)) {
            Some(slot) => {
                *slot = v;
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Every way `candidate` loosens one of `limits` relative to `active` (config bodies as
/// JSON), as `key: was → now` lines. Empty when none is loosened.
pub fn loosened(limits: &[HardLimit], active: &Value, candidate: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for l in limits {
        let (a, c) = (get_path(active, l.key), get_path(candidate, l.key));
        let show = |v: Option<&Value>| {
            v.filter(|v| !v.is_null())
                .map_or_else(|| "unlimited".to_owned(), Value::to_string)
        };
        let looser = match l.tighter {
            Tighter::Lower | Tighter::Higher => {
                let (a, c) = (a.and_then(Value::as_f64), c.and_then(Value::as_f64));
                match (a, c) {
                    (Some(_), None) => true,
                    (Some(a), Some(c)) => {
                        if l.tighter == Tighter::Lower {
                            c > a
                        } else {
                            c < a
                        }
                    }
                    (None, _) => false,
                }
            }
            Tighter::True { default_true } => {
                let flag = |v: Option<&Value>| v.and_then(Value::as_bool).unwrap_or(default_true);
                flag(a) && !flag(c)
            }
        };
        if looser {
            let show_flag = |v: Option<&Value>| match l.tighter {
                Tighter::True { default_true } => v
                    .and_then(Value::as_bool)
                    .unwrap_or(default_true)
                    .to_string(),
                _ => show(v),
            };
            out.push(format!(
                "{}: {} → {} loosens a hard limit",
                l.key,
                show_flag(a),
                show_flag(c)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn neighbours_stay_inside_the_bounds() {
        let t = Tunable::number("risk_aversion", 1.0, 8.0, Step::Relative(1.0));
        assert_eq!(t.neighbours(&json!(4.0)), vec![json!(2.0), json!(8.0)]);
        assert_eq!(t.neighbours(&json!(8.0)), vec![json!(4.0)]);
        let w = Tunable::number("lookback_days", 126.0, 504.0, Step::Integer(63));
        assert_eq!(w.neighbours(&json!(126)), vec![json!(189)]);
        let c = Tunable::choice("refit", &["weekly", "monthly", "quarterly"]);
        assert_eq!(c.neighbours(&json!("weekly")), vec![json!("monthly")]);
        assert!(!c.admits(&json!("daily")));
        let a = Tunable::number("sector_cap", 0.2, 0.5, Step::Absolute(0.05));
        assert_eq!(a.neighbours(&json!(0.35)), vec![json!(0.3), json!(0.4)]);
    }

    #[test]
    fn paths_read_and_write_nested_values() {
        let mut b = json!({"limits": {"max_ex_ante_vol": 0.6}, "prior": [0.1, 0.2]});
        assert_eq!(get_path(&b, "prior.1"), Some(&json!(0.2)));
        assert!(set_path(&mut b, "prior.0", Some(json!(-0.1))));
        assert!(set_path(&mut b, "limits.max_ex_ante_vol", None));
        assert!(set_path(&mut b, "new.key", Some(json!(1))));
        assert!(!set_path(&mut b, "prior.7", Some(json!(1))));
        assert_eq!(
            b,
            json!({"limits": {}, "prior": [-0.1, 0.2], "new": {"key": 1}})
        );
    }

    #[test]
    fn loosening_any_limit_is_named() {
        let limits = [
            HardLimit {
                key: "limits.max_ex_ante_vol",
                tighter: Tighter::Lower,
            },
            HardLimit {
                key: "limits.min_scenario_coverage",
                tighter: Tighter::Higher,
            },
            HardLimit {
                key: "long_only",
                tighter: Tighter::True { default_true: true },
            },
        ];
        let active = json!({"limits": {"max_ex_ante_vol": 0.6, "min_scenario_coverage": 0.95}});
        assert!(loosened(&limits, &active, &active).is_empty());
        let tighter = json!({"limits": {"max_ex_ante_vol": 0.4, "min_scenario_coverage": 0.99}});
        assert!(loosened(&limits, &active, &tighter).is_empty());
        let looser = json!({"limits": {"max_ex_ante_vol": null, "min_scenario_coverage": 0.9}, "long_only": false});
        let why = loosened(&limits, &active, &looser);
        assert_eq!(why.len(), 3, "{why:?}");
        assert!(why[0].contains("0.6 → unlimited"), "{why:?}");
        assert!(why[2].contains("true → false"), "{why:?}");
    }
}

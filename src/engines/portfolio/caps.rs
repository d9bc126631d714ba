//! Per-name caps that hold from 20 names to 5,000.
//!
//! A fixed 5% cap is a diversification rule for a 500-name universe and a straitjacket for
//! a 20-name one: 20 × 5% is exactly the budget, so every weight is forced to 1/N and the
//! optimiser decides nothing. A cap may therefore be given relative to the day's universe
//! size N, alone (`"3/N"`) or as a floor under a fixed cap (`"max(0.05, 3/N)"`: 5% for large
//! universes, loosened to 15% at 20 names).

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest |weight| of one name, possibly relative to the number of names N.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WeightCap {
    /// A fraction of the portfolio, e.g. `0.05`.
    Fixed(f64),
    /// `k/N`.
    PerName(f64),
    /// The larger of a fraction and `k/N`.
    AtLeast {
        /// The fixed cap.
        fixed: f64,
        /// The multiple of 1/N.
        per_name: f64,
    },
}

impl WeightCap {
    /// The cap in force with `n` names (never above 1).
    pub fn resolve(self, n: usize) -> f64 {
        let inv = 1.0 / n.max(1) as f64;
        match self {
            Self::Fixed(c) => c,
            Self::PerName(k) => k * inv,
            Self::AtLeast { fixed, per_name } => fixed.max(per_name * inv),
        }
        .min(1.0)
    }

    /// Problems with the numbers, for `validate()`.
    pub fn problem(self) -> Option<String> {
        let ok = |x: f64| x.is_finite() && x > 0.0;
        match self {
            Self::Fixed(c) | Self::AtLeast { fixed: c, .. } if !(ok(c) && c <= 1.0) => {
                Some(format!("{c} is out of range; use (0, 1]"))
            }
            Self::PerName(k) | Self::AtLeast { per_name: k, .. } if !(ok(k) && k >= 1.0) => Some(
                format!("{k}/N is below 1/N, so N names could never be fully invested; use k ≥ 1"),
            ),
            _ => None,
        }
    }
}

impl fmt::Display for WeightCap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(c) => write!(f, "{c}"),
            Self::PerName(k) => write!(f, "{k}/N"),
            Self::AtLeast { fixed, per_name } => write!(f, "max({fixed}, {per_name}/N)"),
        }
    }
}

fn parse_per_name(s: &str) -> Option<f64> {
    let k = s.trim().strip_suffix("/N")?.trim();
    k.parse().ok()
}

impl std::str::FromStr for WeightCap {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let t = s.trim();
        if let Ok(c) = t.parse::<f64>() {
            return Ok(Self::Fixed(c));
        }
        if let Some(k) = parse_per_name(t) {
            return Ok(Self::PerName(k));
        }
        if let Some(inner) = t.strip_prefix("max(").and_then(|r| r.strip_suffix(')'))
            && let Some((a, b)) = inner.split_once(',')
        {
            let (a, b) = (a.trim(), b.trim());
            let pair = match (a.parse::<f64>(), parse_per_name(b)) {
                (Ok(fixed), Some(per_name)) => Some((fixed, per_name)),
                _ => match (b.parse::<f64>(), parse_per_name(a)) {
                    (Ok(fixed), Some(per_name)) => Some((fixed, per_name)),
                    _ => None,
                },
            };
            if let Some((fixed, per_name)) = pair {
                return Ok(Self::AtLeast { fixed, per_name });
            }
        }
        Err(format!(
            "`{s}` is not a cap; use a fraction (0.05), a multiple of 1/N (\"3/N\") or \"max(0.05, 3/N)\""
        ))
    }
}

/// How a cap is written in TOML: a number or a string.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CapText {
    Number(f64),
    Text(String),
}

impl Serialize for WeightCap {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Fixed(c) => CapText::Number(*c),
            other => CapText::Text(other.to_string()),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for WeightCap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match CapText::deserialize(d)? {
            CapText::Number(c) => Ok(Self::Fixed(c)),
            CapText::Text(t) => t.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_parse_resolve_and_round_trip() {
        let cap: WeightCap = "max(0.05, 3/N)".parse().unwrap();
        assert_eq!(
            cap,
            WeightCap::AtLeast {
                fixed: 0.05,
                per_name: 3.0
            }
        );
        assert!((cap.resolve(20) - 0.15).abs() < 1e-15);
        assert!((cap.resolve(500) - 0.05).abs() < 1e-15);
        assert!((cap.resolve(5000) - 0.05).abs() < 1e-15);
        assert_eq!("2/N".parse::<WeightCap>().unwrap().resolve(4), 0.5);
        assert_eq!("1.5/N".parse::<WeightCap>().unwrap().resolve(1), 1.0);
        for text in ["max(0.05, 3/N)", "3/N", "0.05"] {
            let c: WeightCap = text.parse().unwrap();
            let toml_text = format!("v = {}", toml::Value::try_from(c).unwrap());
            #[derive(Deserialize)]
            struct V {
                v: WeightCap,
            }
            let back: V = toml::from_str(&toml_text).unwrap();
            assert_eq!(back.v, c, "{toml_text}");
        }
        assert!("5%".parse::<WeightCap>().is_err());
        assert!("max(3/N)".parse::<WeightCap>().is_err());
        assert!(WeightCap::PerName(0.5).problem().is_some());
        assert!(WeightCap::Fixed(1.5).problem().is_some());
        assert!(WeightCap::Fixed(0.05).problem().is_none());
    }
}

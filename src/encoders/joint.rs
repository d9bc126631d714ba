//! The joint encoder: vectors from different encoders in one space per use.
//!
//! Each branch (numeric window, news text, profile) is L2-normalised before it is combined,
//! so a raw PCA score vector cannot drown a unit text vector; the branches are then scaled
//! by their configured weights (normalised so the weights' squares sum to one) and
//! concatenated. A missing branch (no news that day) contributes zeros of its width, so
//! every vector of a space has the same layout and, when all branches are present, unit
//! norm. Cosine similarity in a joint space is then a weighted mix of the branches' cosines.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{EngineConfig, Issues};

/// The branches a joint space can draw on, in concatenation order.
pub const BRANCHES: [&str; 3] = ["numeric", "text", "profile"];

/// The joint spaces and who reads them: `regime_context` (one vector per market, for the
/// regime engine), `profile_core`, `stability` and `assessment` (one per instrument).
pub const SPACES: [&str; 4] = ["regime_context", "profile_core", "stability", "assessment"];

/// Configuration of the joint encoder (`config/engines/joint_encoder.toml`): branch weights
/// per space. A space that is not listed is not written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JointEncoderConfig {
    /// Space → branch → weight (≥ 0; at least one positive per space).
    pub spaces: BTreeMap<String, BTreeMap<String, f64>>,
    /// Calendar days of issuer news the text branch averages (weighted by articles).
    pub text_lookback_days: u32,
    /// Optional learned projection of some spaces (PLS on forward returns, fitted
    /// point-in-time); absent = none.
    pub pls: Option<super::pls::PlsConfig>,
}

impl Default for JointEncoderConfig {
    fn default() -> Self {
        let space = |w: &[(&str, f64)]| {
            w.iter()
                .map(|(b, x)| ((*b).to_owned(), *x))
                .collect::<BTreeMap<_, _>>()
        };
        Self {
            spaces: BTreeMap::from([
                (
                    "regime_context".to_owned(),
                    space(&[("numeric", 1.0), ("text", 0.5)]),
                ),
                (
                    "profile_core".to_owned(),
                    space(&[("numeric", 1.0), ("text", 0.7), ("profile", 0.7)]),
                ),
                (
                    "stability".to_owned(),
                    space(&[("numeric", 1.0), ("profile", 1.0)]),
                ),
                (
                    "assessment".to_owned(),
                    space(&[("numeric", 1.0), ("text", 0.5), ("profile", 0.5)]),
                ),
            ]),
            text_lookback_days: 30,
            pls: None,
        }
    }
}

impl EngineConfig for JointEncoderConfig {
    const ENGINE: &'static str = "joint_encoder";

    fn validate(&self, issues: &mut Issues) {
        issues.check(
            !(1..=366).contains(&self.text_lookback_days),
            "text_lookback_days",
            || format!("{} is out of range; use 1..=366", self.text_lookback_days),
        );
        if let Some(pls) = &self.pls {
            let per_instrument: Vec<&str> = self
                .spaces
                .keys()
                .map(String::as_str)
                .filter(|s| *s != "regime_context")
                .collect();
            pls.validate(&per_instrument, issues);
        }
        for (space, weights) in &self.spaces {
            let key = format!("spaces.{space}");
            issues.check(!SPACES.contains(&space.as_str()), &key, || {
                format!("unknown space; use one of {}", SPACES.join(", "))
            });
            if space == "regime_context" {
                issues.check(weights.contains_key("profile"), &key, || {
                    "regime_context is per market and has no profile branch".into()
                });
            }
            for (branch, w) in weights {
                let key = format!("{key}.{branch}");
                issues.check(!BRANCHES.contains(&branch.as_str()), &key, || {
                    format!("unknown branch; use one of {}", BRANCHES.join(", "))
                });
                issues.check(!(w.is_finite() && *w >= 0.0), &key, || {
                    format!("weight {w} must be a finite number ≥ 0")
                });
            }
            issues.check(!weights.values().any(|w| *w > 0.0), &key, || {
                "needs at least one positive weight".into()
            });
        }
    }
}

/// One branch's input to [`combine`].
#[derive(Clone, Copy, Debug)]
pub struct Branch<'a> {
    /// Its weight in the space.
    pub weight: f64,
    /// Its width (zeros of this width stand in when the vector is missing).
    pub dim: usize,
    /// Its vector, if there is one for this entity and date.
    pub vector: Option<&'a [f32]>,
}

/// The joint vector of `branches`: each L2-normalised, scaled by `weight / √Σweight²`,
/// concatenated. A missing, empty or all-zero branch, or one whose width is not `dim`,
/// contributes zeros.
pub fn combine(branches: &[Branch<'_>]) -> Vec<f32> {
    let total = branches
        .iter()
        .map(|b| b.weight * b.weight)
        .sum::<f64>()
        .sqrt();
    let mut out = Vec::with_capacity(branches.iter().map(|b| b.dim).sum());
    for b in branches {
        let scale = if total > 0.0 { b.weight / total } else { 0.0 };
        match b.vector.filter(|v| v.len() == b.dim) {
            Some(v) => {
                let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                if norm > 0.0 {
                    out.extend(v.iter().map(|x| (f64::from(*x) / norm * scale) as f32));
                } else {
                    out.extend(std::iter::repeat_n(0.0, b.dim));
                }
            }
            None => out.extend(std::iter::repeat_n(0.0, b.dim)),
        }
    }
    out
}

/// The model id of a space: changes with the weights and with the models feeding it.
pub fn model_id(space: &str, weights: &BTreeMap<String, f64>, inputs: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(space.as_bytes());
    for (b, w) in weights {
        h.update(format!("|{b}={w:e}").as_bytes());
    }
    for i in inputs {
        h.update(format!("|{i}").as_bytes());
    }
    let hex: String = h.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("joint-{space}-{hex}")
}

/// The element-wise mean of `vectors` of width `dim` (others are ignored); `None` when
/// there is none. The market-level branches of `regime_context` are means.
pub fn mean_vector<'a>(
    vectors: impl IntoIterator<Item = &'a [f32]>,
    dim: usize,
) -> Option<Vec<f32>> {
    let mut sum = vec![0.0f64; dim];
    let mut n = 0usize;
    for v in vectors.into_iter().filter(|v| v.len() == dim) {
        n += 1;
        sum.iter_mut().zip(v).for_each(|(s, x)| *s += f64::from(*x));
    }
    (n > 0).then(|| sum.iter().map(|s| (s / n as f64) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(v: &[f32]) -> f64 {
        v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt()
    }

    #[test]
    fn branches_are_normalised_then_weighted() {
        // A raw numeric vector of norm 50 and a unit text vector: after combining, each
        // branch's share of the norm is its weight's, not its scale's.
        let numeric = [30.0f32, 40.0];
        let text = [0.0f32, 1.0, 0.0];
        let v = combine(&[
            Branch {
                weight: 3.0,
                dim: 2,
                vector: Some(&numeric),
            },
            Branch {
                weight: 4.0,
                dim: 3,
                vector: Some(&text),
            },
        ]);
        assert_eq!(v.len(), 5);
        assert!((norm(&v) - 1.0).abs() < 1e-6);
        assert!((norm(&v[..2]) - 0.6).abs() < 1e-6, "numeric share = 3/5");
        assert!((norm(&v[2..]) - 0.8).abs() < 1e-6, "text share = 4/5");
        assert!((f64::from(v[0]) - 0.36).abs() < 1e-6 && (f64::from(v[1]) - 0.48).abs() < 1e-6);
        // Doubling the raw numeric vector changes nothing.
        let doubled = [60.0f32, 80.0];
        let w = combine(&[
            Branch {
                weight: 3.0,
                dim: 2,
                vector: Some(&doubled),
            },
            Branch {
                weight: 4.0,
                dim: 3,
                vector: Some(&text),
            },
        ]);
        assert_eq!(v, w);
    }

    #[test]
    fn missing_or_misshapen_branches_are_zeros_of_their_width() {
        let numeric = [1.0f32, 0.0];
        let wrong = [1.0f32];
        let v = combine(&[
            Branch {
                weight: 1.0,
                dim: 2,
                vector: Some(&numeric),
            },
            Branch {
                weight: 1.0,
                dim: 3,
                vector: None,
            },
            Branch {
                weight: 1.0,
                dim: 2,
                vector: Some(&wrong),
            },
        ]);
        assert_eq!(v.len(), 7);
        assert!(v[2..].iter().all(|x| *x == 0.0));
        assert!((f64::from(v[0]) - 1.0 / 3f64.sqrt()).abs() < 1e-6);
    }

    #[test]
    fn a_zero_weight_silences_its_branch() {
        let a = [1.0f32, 2.0];
        let v = combine(&[
            Branch {
                weight: 1.0,
                dim: 2,
                vector: Some(&a),
            },
            Branch {
                weight: 0.0,
                dim: 2,
                vector: Some(&a),
            },
        ]);
        assert!(v[2..].iter().all(|x| *x == 0.0));
        assert!((norm(&v) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn model_ids_follow_weights_and_inputs() {
        let w = JointEncoderConfig::default().spaces["assessment"].clone();
        let a = model_id("assessment", &w, &["numeric-pca-1", "hashing-v1"]);
        assert_eq!(
            a,
            model_id("assessment", &w, &["numeric-pca-1", "hashing-v1"])
        );
        assert_ne!(
            a,
            model_id("assessment", &w, &["numeric-pca-2", "hashing-v1"])
        );
        let mut w2 = w.clone();
        w2.insert("text".into(), 0.9);
        assert_ne!(
            a,
            model_id("assessment", &w2, &["numeric-pca-1", "hashing-v1"])
        );
    }

    #[test]
    fn config_rejects_unknown_spaces_branches_and_bad_weights() {
        let mut c = JointEncoderConfig::default();
        c.spaces
            .insert("nope".into(), BTreeMap::from([("numeric".into(), 1.0)]));
        c.spaces.insert(
            "stability".into(),
            BTreeMap::from([("prices".into(), -1.0)]),
        );
        c.spaces.insert(
            "regime_context".into(),
            BTreeMap::from([("profile".into(), 1.0)]),
        );
        let mut issues = Issues::default();
        c.validate(&mut issues);
        let text = format!("{issues:?}");
        for want in [
            "spaces.nope",
            "spaces.stability.prices",
            "at least one positive",
            "no profile branch",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        let mut ok = Issues::default();
        JointEncoderConfig::default().validate(&mut ok);
        assert!(format!("{ok:?}") == format!("{:?}", Issues::default()));
    }

    #[test]
    fn mean_vector_skips_wrong_widths() {
        let a = [1.0f32, 3.0];
        let b = [3.0f32, 5.0];
        let c = [9.0f32];
        assert_eq!(
            mean_vector([&a[..], &b[..], &c[..]], 2),
            Some(vec![2.0, 4.0])
        );
        assert_eq!(mean_vector(std::iter::empty(), 2), None);
    }
}

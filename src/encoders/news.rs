//! The text encoder's configuration (`config/engines/text_encoder.toml`) and the
//! issuer-day aggregate: the news about an issuer in one session's window as one vector.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{MiniLmParams, TextModel};
use crate::config::{EngineConfig, Issues};

/// What the text encoder runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TextEncoderConfig {
    /// `hashing` (default, no files) or `minilm`.
    pub model: TextModel,
    /// Where `scripts/fetch-models` put the MiniLM files (relative to the working
    /// directory).
    pub models_dir: PathBuf,
    /// ONNX Runtime threads.
    pub threads: usize,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Longest input in tokens.
    pub max_tokens: usize,
    /// Characters of an article's body appended to its headline.
    pub body_chars: usize,
}

impl Default for TextEncoderConfig {
    fn default() -> Self {
        Self {
            model: TextModel::Hashing,
            models_dir: PathBuf::from("models"),
            threads: 2,
            batch_size: 32,
            max_tokens: 256,
            body_chars: 600,
        }
    }
}

impl TextEncoderConfig {
    /// The MiniLM parameters this config names.
    pub fn minilm(&self) -> MiniLmParams {
        MiniLmParams {
            threads: self.threads,
            batch_size: self.batch_size,
            max_tokens: self.max_tokens,
            ..MiniLmParams::under(&self.models_dir)
        }
    }

    /// The text of an article as the encoder sees it: headline, then the start of the body
    /// (cut at a character boundary).
    pub fn article_text(&self, headline: &str, body: &str) -> String {
        let body: String = body.chars().take(self.body_chars).collect();
        if body.is_empty() {
            headline.to_owned()
        } else {
            format!("{headline}. {body}")
        }
    }
}

impl EngineConfig for TextEncoderConfig {
    const ENGINE: &'static str = "text_encoder";

    fn validate(&self, issues: &mut Issues) {
        issues.check(!(1..=64).contains(&self.threads), "threads", || {
            format!("{} is out of range; use 1..=64", self.threads)
        });
        issues.check(!(1..=1024).contains(&self.batch_size), "batch_size", || {
            format!("{} is out of range; use 1..=1024", self.batch_size)
        });
        issues.check(!(8..=512).contains(&self.max_tokens), "max_tokens", || {
            format!("{} is out of range; use 8..=512", self.max_tokens)
        });
        issues.check(self.body_chars > 100_000, "body_chars", || {
            format!("{} is out of range; use 0..=100000", self.body_chars)
        });
        issues.check(self.models_dir.as_os_str().is_empty(), "models_dir", || {
            "must name a directory".into()
        });
    }
}

/// The mean of each issuer's article vectors, re-normalised to unit length, with the
/// number of articles. Sums run in input order over f64, so the result is deterministic
/// for a deterministic input order.
pub fn issuer_means<'a>(
    items: impl IntoIterator<Item = (&'a str, &'a [f32])>,
) -> BTreeMap<String, (u32, Vec<f32>)> {
    let mut acc: BTreeMap<String, (u32, Vec<f64>)> = BTreeMap::new();
    for (issuer, v) in items {
        let e = acc
            .entry(issuer.to_owned())
            .or_insert_with(|| (0, vec![0.0; v.len()]));
        if e.1.len() != v.len() {
            continue;
        }
        e.0 += 1;
        e.1.iter_mut().zip(v).for_each(|(s, x)| *s += f64::from(*x));
    }
    acc.into_iter()
        .map(|(issuer, (n, sum))| {
            let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
            let v = if norm > 0.0 {
                sum.iter().map(|x| (x / norm) as f32).collect()
            } else {
                vec![0.0; sum.len()]
            };
            (issuer, (n, v))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_means_average_then_normalise() {
        let a = [1.0f32, 0.0];
        let b = [0.0f32, 1.0];
        let c = [0.6f32, 0.8];
        let m = issuer_means([("X", &a[..]), ("X", &b[..]), ("Y", &c[..])]);
        let (n, x) = &m["X"];
        assert_eq!(*n, 2);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!((x[0] - h).abs() < 1e-6 && (x[1] - h).abs() < 1e-6);
        assert_eq!(m["Y"], (1, vec![0.6, 0.8]));
    }

    #[test]
    fn article_text_cuts_the_body_at_characters() {
        let c = TextEncoderConfig {
            body_chars: 3,
            ..TextEncoderConfig::default()
        };
        assert_eq!(c.article_text("H", "ééééé"), "H. ééé");
        assert_eq!(c.article_text("H", ""), "H");
    }

    #[test]
    fn config_reports_every_bad_field() {
        let c = TextEncoderConfig {
            threads: 0,
            batch_size: 0,
            max_tokens: 1,
            ..TextEncoderConfig::default()
        };
        let mut issues = Issues::default();
        c.validate(&mut issues);
        let text = format!("{issues:?}");
        for key in ["threads", "batch_size", "max_tokens"] {
            assert!(text.contains(key), "{text}");
        }
    }
}

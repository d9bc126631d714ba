//! The default text encoder: feature hashing of word and character n-grams into a fixed
//! number of dimensions. It needs no model files, so every installation can embed news
//! offline, and it is a pure function of the text and its parameters — the same sentence
//! gives the same bytes on every machine and release (the hash is FNV-1a, fixed here, not
//! the standard library's unspecified hasher).
//!
//! Each n-gram adds ±1 to one dimension (the sign comes from another part of the hash, so
//! collisions cancel on average instead of piling up); counts are damped (1 + ln n) and the
//! vector is L2-normalised. Text without any token maps to a fixed unit vector, so every
//! output has norm 1 like the MiniLM encoder's.

use super::EncoderError;

/// What to hash: the parameters of a [`HashingEncoder`], checked by [`Self::check`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashingParams {
    /// Output dimension.
    pub dim: usize,
    /// Longest word n-gram (1 = single words, 2 = also pairs of adjacent words, …).
    pub word_ngrams: usize,
    /// Character n-gram lengths inside each word (with boundary markers), e.g. 3..=5; an
    /// empty range disables them.
    pub char_ngrams: std::ops::RangeInclusive<usize>,
}

impl Default for HashingParams {
    /// 384 dimensions (the MiniLM size, so the two are interchangeable downstream), words
    /// and word pairs, character 3- to 5-grams.
    fn default() -> Self {
        Self {
            dim: 384,
            word_ngrams: 2,
            char_ngrams: 3..=5,
        }
    }
}

impl HashingParams {
    /// Checks the parameters and returns the encoder.
    ///
    /// # Errors
    /// Every parameter out of range, in one error.
    pub fn check(self) -> Result<HashingEncoder, EncoderError> {
        let mut problems = Vec::new();
        if !(2..=65_536).contains(&self.dim) {
            problems.push(format!("dim {} is out of range; use 2..=65536", self.dim));
        }
        if !(1..=4).contains(&self.word_ngrams) {
            problems.push(format!(
                "word_ngrams {} is out of range; use 1..=4",
                self.word_ngrams
            ));
        }
        if !self.char_ngrams.is_empty()
            && (*self.char_ngrams.start() == 0 || *self.char_ngrams.end() > 8)
        {
            problems.push(format!(
                "char_ngrams {:?} is out of range; use lengths within 1..=8",
                self.char_ngrams
            ));
        }
        if problems.is_empty() {
            Ok(HashingEncoder { params: self })
        } else {
            Err(EncoderError::InvalidParams(problems.join("; ")))
        }
    }
}

/// The checked encoder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashingEncoder {
    params: HashingParams,
}

/// FNV-1a over the bytes, seeded by `kind` so word and character n-grams of the same text
/// land independently.
fn fnv1a(kind: u8, parts: &[&str]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    let mut eat = |b: u8| {
        h ^= u64::from(b);
        h = h.wrapping_mul(PRIME);
    };
    eat(kind);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            eat(0x1f); // unit separator: ("ab","c") ≠ ("a","bc")
        }
        p.bytes().for_each(&mut eat);
    }
    h
}

/// Lower-cased words: maximal runs of alphanumeric characters (any script).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

impl HashingEncoder {
    /// The parameters.
    pub fn params(&self) -> &HashingParams {
        &self.params
    }

    /// The model id stored with every vector: changes whenever the output would.
    pub fn model_id(&self) -> String {
        let p = &self.params;
        format!(
            "hashing-v1-d{}-w{}-c{}_{}",
            p.dim,
            p.word_ngrams,
            p.char_ngrams.start(),
            p.char_ngrams.end()
        )
    }

    /// The unit vector of one text.
    pub fn encode(&self, text: &str) -> Vec<f32> {
        let p = &self.params;
        let mut counts: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        let words = words(text);
        for n in 1..=p.word_ngrams {
            for gram in words.windows(n) {
                let parts: Vec<&str> = gram.iter().map(String::as_str).collect();
                *counts.entry(fnv1a(b'w', &parts)).or_default() += 1;
            }
        }
        if !p.char_ngrams.is_empty() {
            for w in &words {
                let marked: Vec<char> = std::iter::once('<')
                    .chain(w.chars())
                    .chain(std::iter::once('>'))
                    .collect();
                for n in p.char_ngrams.clone() {
                    for gram in marked.windows(n) {
                        let s: String = gram.iter().collect();
                        *counts.entry(fnv1a(b'c', &[&s])).or_default() += 1;
                    }
                }
            }
        }
        if counts.is_empty() {
            counts.insert(fnv1a(b'e', &[]), 1);
        }
        // Sum in a fixed order so the floating-point result does not depend on the map.
        let mut grams: Vec<(u64, u32)> = counts.into_iter().collect();
        grams.sort_unstable();
        let mut v = vec![0.0f64; p.dim];
        for (h, n) in grams {
            let slot = (h % p.dim as u64) as usize;
            let sign = if (h >> 63) == 1 { -1.0 } else { 1.0 };
            v[slot] += sign * (1.0 + f64::from(n).ln());
        }
        let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            // Every n-gram cancelled out: fall back to the empty-text vector.
            return self.encode("");
        }
        v.iter().map(|x| (x / norm) as f32).collect()
    }

    /// The unit vectors of several texts, in order.
    pub fn encode_batch(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        texts.iter().map(|t| self.encode(t)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc() -> HashingEncoder {
        HashingParams::default().check().unwrap()
    }

    fn cos(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    #[test]
    fn vectors_are_unit_norm_and_deterministic() {
        let e = enc();
        for t in ["Acme cuts guidance", "", "   ", "東京証券取引所", "Café!"] {
            let v = e.encode(t);
            assert_eq!(v.len(), 384);
            let n: f64 = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
            assert!((n - 1.0).abs() < 1e-6, "{t:?}: {n}");
            assert_eq!(v, e.encode(t));
        }
        // Punctuation and case do not matter; the empty texts share one vector.
        assert_eq!(
            e.encode("Acme cuts guidance"),
            e.encode("ACME, cuts guidance!")
        );
        assert_eq!(e.encode(""), e.encode("  ...  "));
    }

    #[test]
    fn similar_texts_are_closer_than_unrelated_ones() {
        let e = enc();
        let a = e.encode("Acme shares fell after the company cut its revenue guidance");
        let b = e.encode("Acme shares dropped after cutting revenue guidance");
        let c = e.encode("The football team won the championship final");
        assert!(cos(&a, &b) > 0.5, "{}", cos(&a, &b));
        assert!(cos(&a, &c) < 0.2, "{}", cos(&a, &c));
        assert!(cos(&a, &b) > cos(&a, &c) + 0.3);
    }

    #[test]
    fn the_hash_is_fixed() {
        // FNV-1a 64 of the bytes "wacme" and "c<ac", computed independently: if the hash
        // changes, every stored vector changes, and so must model_id.
        assert_eq!(fnv1a(b'w', &["acme"]), 0x8820_4d4c_e897_f3c8);
        assert_eq!(fnv1a(b'c', &["<ac"]), 0xb5e9_de92_0b33_7076);
        assert_ne!(fnv1a(b'w', &["ab", "c"]), fnv1a(b'w', &["a", "bc"]));
    }

    #[test]
    fn bad_params_are_all_reported() {
        let err = HashingParams {
            dim: 1,
            word_ngrams: 0,
            char_ngrams: 0..=9,
        }
        .check()
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("dim 1") && err.contains("word_ngrams 0") && err.contains("char_ngrams"),
            "{err}"
        );
    }
}

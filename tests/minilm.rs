//! The real MiniLM path against reference vectors computed once with Python's onnxruntime
//! and the same tokenizer (`scripts/minilm-reference`). The test command fetches the model
//! first (`scripts/fetch-models`); run by hand without it, these tests fail and say so.

use std::path::{Path, PathBuf};

use prometheus::encoders::{EncoderError, MiniLmParams, TextEncoder, TextModel};

fn models_root() -> PathBuf {
    std::env::var_os("PV2_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
}

struct Reference {
    sentence: String,
    vector: Vec<f32>,
}

fn references() -> Vec<Reference> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/minilm/reference.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            Reference {
                sentence: v["sentence"].as_str().unwrap().to_owned(),
                vector: v["vector"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect(),
            }
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

fn minilm() -> TextEncoder {
    TextEncoder::load_from(TextModel::Minilm, &models_root(), 1)
        .expect("MiniLM files are fetched by scripts/test (scripts/fetch-models)")
}

#[test]
fn minilm_matches_python_reference_for_every_sentence() {
    let refs = references();
    assert_eq!(refs.len(), 20, "fixture has 20 sentences");
    let mut enc = minilm();
    assert_eq!(enc.dim(), 384);
    let texts: Vec<&str> = refs.iter().map(|r| r.sentence.as_str()).collect();
    let vectors = enc.encode_batch(&texts).unwrap();
    for (r, v) in refs.iter().zip(&vectors) {
        assert_eq!(v.len(), 384);
        let c = cosine(&r.vector, v);
        assert!(c >= 0.9999, "cosine {c} for {:?}", r.sentence);
        let norm: f64 = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
    }
}

#[test]
fn minilm_is_deterministic_and_batch_independent() {
    let refs = references();
    let texts: Vec<&str> = refs.iter().map(|r| r.sentence.as_str()).collect();
    let mut enc = minilm();
    let all = enc.encode_batch(&texts).unwrap();
    let again = enc.encode_batch(&texts).unwrap();
    assert_eq!(all, again, "same inputs, same bytes");
    // One at a time (no padding) gives the same vectors up to float noise.
    for (t, v) in texts.iter().zip(&all).take(5) {
        let single = enc.encode_batch(&[t]).unwrap();
        assert!(cosine(&single[0], v) > 0.99999);
    }
    assert!(enc.model_id().starts_with("minilm-l6-v2-int8-"));
}

#[test]
fn missing_model_files_give_an_error_that_says_how_to_fetch_them() {
    let empty = tempfile::tempdir().unwrap();
    let err = MiniLmParams::under(empty.path()).load().unwrap_err();
    assert!(matches!(err, EncoderError::MissingModel(_)));
    let msg = err.to_string();
    assert!(msg.contains("scripts/fetch-models"), "{msg}");
    assert!(
        msg.contains("model.onnx") && msg.contains("tokenizer.json"),
        "{msg}"
    );
    let bad = MiniLmParams {
        threads: 0,
        max_tokens: 4,
        ..MiniLmParams::under(empty.path())
    };
    let msg = bad.load().unwrap_err().to_string();
    assert!(
        msg.contains("threads 0") && msg.contains("max_tokens 4"),
        "{msg}"
    );
}

//! Encoders: turn market windows and text into fixed-size vectors the engines compare.
//!
//! - [`hashing`] — the default text encoder, feature hashing of word and character
//!   n-grams; no model files, deterministic to the byte.
//! - [`minilm`] — the real text encoder, all-MiniLM-L6-v2 on ONNX Runtime.
//! - [`text`] — one type over both, chosen by configuration.
//! - [`news`] — the text encoder's configuration and issuer-day aggregates of articles.
//! - [`numeric`] — window features → cross-sectional z-scores → PCA fitted point-in-time.
//! - [`joint`] — weighted, branch-normalised joint spaces.
//! - [`pls`] — the joint spaces' optional learned projection onto forward returns.

pub mod hashing;
pub mod joint;
pub mod minilm;
pub mod news;
pub mod numeric;
pub mod pls;
pub mod text;

pub use hashing::{HashingEncoder, HashingParams};
pub use minilm::{MINILM_DIM, MiniLmEncoder, MiniLmParams};
pub use text::{TextEncoder, TextModel};

/// Why an encoder cannot be built or run.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// Parameters out of range (every problem, separated by `; `).
    #[error("invalid encoder parameters: {0}")]
    InvalidParams(String),
    /// Model files or the ONNX Runtime library are not where the configuration says.
    #[error(
        "model files missing: {0}; run scripts/fetch-models to download them into models/, \
         or set models_dir (engines/text_encoder.toml, or --models-dir) to where they are"
    )]
    MissingModel(String),
    /// A file is there but cannot be loaded.
    #[error("cannot load {path}: {reason}")]
    Model {
        /// The file.
        path: String,
        /// What the loader said.
        reason: String,
    },
    /// Too little history to fit a model.
    #[error("not enough data to fit: {0}")]
    NotEnoughData(String),
    /// A model fit failed.
    #[error("fitting failed: {0}")]
    Fit(String),
    /// Tokenising or running a model failed.
    #[error("text encoder failed: {0}")]
    Inference(String),
}

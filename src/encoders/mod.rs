//! Encoders: turn market windows and text into fixed-size vectors the engines compare.
//!
//! - [`hashing`] — the default text encoder, feature hashing of word and character
//!   n-grams; no model files, deterministic to the byte.

pub mod hashing;

pub use hashing::{HashingEncoder, HashingParams};

/// Why an encoder cannot be built or run.
#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    /// Parameters out of range (every problem, separated by `; `).
    #[error("invalid encoder parameters: {0}")]
    InvalidParams(String),
}

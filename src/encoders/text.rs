//! One text encoder type over the hashing default and MiniLM, so the actors, the CLI and
//! the aggregates do not care which one the configuration picked.

use std::path::Path;

use super::{EncoderError, HashingEncoder, HashingParams, MiniLmEncoder, MiniLmParams};

/// Which text model to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextModel {
    /// Feature hashing; no files, always available.
    Hashing,
    /// all-MiniLM-L6-v2 on ONNX Runtime (files from `scripts/fetch-models`).
    Minilm,
}

impl std::str::FromStr for TextModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "hashing" => Ok(Self::Hashing),
            "minilm" => Ok(Self::Minilm),
            other => Err(format!(
                "unknown text model {other:?}; use hashing or minilm"
            )),
        }
    }
}

/// A loaded text encoder.
#[derive(Debug)]
pub enum TextEncoder {
    /// The default.
    Hashing(HashingEncoder),
    /// The language model.
    MiniLm(Box<MiniLmEncoder>),
}

impl TextEncoder {
    /// Loads `model`: hashing with its defaults, MiniLM with `minilm` (whose files must
    /// exist).
    ///
    /// # Errors
    /// See [`MiniLmParams::load`].
    pub fn load(model: TextModel, minilm: MiniLmParams) -> Result<Self, EncoderError> {
        match model {
            TextModel::Hashing => Ok(Self::Hashing(HashingParams::default().check()?)),
            TextModel::Minilm => Ok(Self::MiniLm(Box::new(minilm.load()?))),
        }
    }

    /// Loads `model` with MiniLM files in the `scripts/fetch-models` layout under
    /// `models_root` and `threads` ONNX Runtime threads.
    ///
    /// # Errors
    /// See [`MiniLmParams::load`].
    pub fn load_from(
        model: TextModel,
        models_root: &Path,
        threads: usize,
    ) -> Result<Self, EncoderError> {
        let minilm = MiniLmParams {
            threads,
            ..MiniLmParams::under(models_root)
        };
        Self::load(model, minilm)
    }

    /// The model id stored with every vector.
    pub fn model_id(&self) -> String {
        match self {
            Self::Hashing(h) => h.model_id(),
            Self::MiniLm(m) => m.model_id().to_owned(),
        }
    }

    /// Output dimension.
    pub fn dim(&self) -> usize {
        match self {
            Self::Hashing(h) => h.params().dim,
            Self::MiniLm(_) => super::MINILM_DIM,
        }
    }

    /// Unit vectors of `texts`, in order.
    ///
    /// # Errors
    /// [`EncoderError::Inference`] from the language model.
    pub fn encode_batch(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        match self {
            Self::Hashing(h) => Ok(h.encode_batch(texts)),
            Self::MiniLm(m) => m.encode_batch(texts),
        }
    }
}

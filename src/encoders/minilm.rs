//! The real text encoder: all-MiniLM-L6-v2 (int8, 384-d) run by ONNX Runtime through `ort`,
//! with the model's own WordPiece tokenizer (`tokenizers`).
//!
//! Nothing is downloaded at run time: the ONNX Runtime shared library and the model files
//! come from `scripts/fetch-models` (PyPI wheels) and are named by [`MiniLmParams`]. The
//! library is loaded once per process (`ort`'s `load-dynamic`), so every encoder of a
//! process uses the first library it was pointed at.
//!
//! The pipeline is the sentence-transformers one: tokens truncated at `max_tokens`, a
//! batch padded to its longest text (the shipped tokenizer pads every text to 128, which
//! both wastes work and truncates long news), `token_type_ids` all zero, the last hidden
//! state mean-pooled over the attention mask, then L2-normalised. Batches are formed from
//! texts of similar token counts (all texts of a call are tokenised first, then grouped by
//! length), so little compute goes to padding; vectors come back in input order and are
//! independent of the grouping up to float rounding (the attention mask hides padding).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;
use ort::value::Tensor;
use sha2::{Digest, Sha256};
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::EncoderError;

/// Output dimension of all-MiniLM-L6-v2.
pub const MINILM_DIM: usize = 384;

/// Where the model lives and how to run it: the parameters of a [`MiniLmEncoder`], checked
/// (files present, numbers in range) and loaded by [`Self::load`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MiniLmParams {
    /// Directory with `model.onnx` and `tokenizer.json`.
    pub model_dir: PathBuf,
    /// The ONNX Runtime shared library (`libonnxruntime.so`, ≥ 1.31).
    pub runtime_library: PathBuf,
    /// Intra-op threads of the ONNX Runtime session.
    pub threads: usize,
    /// Longest input in tokens (incl. `[CLS]`/`[SEP]`); longer texts are truncated.
    pub max_tokens: usize,
    /// Texts per forward pass.
    pub batch_size: usize,
}

impl MiniLmParams {
    /// The layout `scripts/fetch-models` writes under `models_root` (default `models/`).
    pub fn under(models_root: &Path) -> Self {
        Self {
            model_dir: models_root.join("all-MiniLM-L6-v2-int8"),
            runtime_library: models_root.join("onnxruntime").join("libonnxruntime.so"),
            threads: 1,
            max_tokens: 256,
            batch_size: 32,
        }
    }

    /// Checks the parameters and the files, loads the runtime (once per process), the
    /// tokenizer and the model.
    ///
    /// # Errors
    /// [`EncoderError::InvalidParams`] for numbers out of range; [`EncoderError::MissingModel`]
    /// naming every missing file and how to fetch it; [`EncoderError::Model`] when a file
    /// is there but cannot be loaded.
    pub fn load(self) -> Result<MiniLmEncoder, EncoderError> {
        let mut problems = Vec::new();
        if !(1..=64).contains(&self.threads) {
            problems.push(format!(
                "threads {} is out of range; use 1..=64",
                self.threads
            ));
        }
        if !(8..=512).contains(&self.max_tokens) {
            problems.push(format!(
                "max_tokens {} is out of range; use 8..=512 (the model's position limit)",
                self.max_tokens
            ));
        }
        if !(1..=1024).contains(&self.batch_size) {
            problems.push(format!(
                "batch_size {} is out of range; use 1..=1024",
                self.batch_size
            ));
        }
        if !problems.is_empty() {
            return Err(EncoderError::InvalidParams(problems.join("; ")));
        }
        let model_path = self.model_dir.join("model.onnx");
        let tokenizer_path = self.model_dir.join("tokenizer.json");
        let missing: Vec<String> = [&self.runtime_library, &model_path, &tokenizer_path]
            .into_iter()
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            return Err(EncoderError::MissingModel(missing.join(", ")));
        }
        let env = load_runtime(&self.runtime_library)?;
        let mut tokenizer = Tokenizer::from_file(&tokenizer_path)
            .map_err(|e| model_error(&tokenizer_path, e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: self.max_tokens,
                ..TruncationParams::default()
            }))
            .map_err(|e| model_error(&tokenizer_path, e.to_string()))?;
        // Padding is done per length-sorted batch in `forward`.
        tokenizer.with_padding(None);
        let session = Session::builder(&env)
            .map_err(|e| model_error(&model_path, e.to_string()))?
            .with_intra_threads(self.threads)
            .map_err(|e| model_error(&model_path, e.to_string()))?
            .with_inter_threads(1)
            .map_err(|e| model_error(&model_path, e.to_string()))?
            .commit_from_file(&model_path)
            .map_err(|e| model_error(&model_path, e.to_string()))?;
        let bytes =
            std::fs::read(&model_path).map_err(|e| model_error(&model_path, e.to_string()))?;
        let digest = Sha256::digest(&bytes);
        let short: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let model_id = format!("minilm-l6-v2-int8-{short}-t{}", self.max_tokens);
        Ok(MiniLmEncoder {
            params: self,
            tokenizer,
            session,
            model_id,
        })
    }
}

fn model_error(path: &Path, reason: String) -> EncoderError {
    EncoderError::Model {
        path: path.display().to_string(),
        reason,
    }
}

/// The runtime environment of this process: ONNX Runtime can be loaded, and its
/// environment built, only once.
static RUNTIME: OnceLock<Result<Environment, String>> = OnceLock::new();

fn load_runtime(library: &Path) -> Result<Environment, EncoderError> {
    let loaded = RUNTIME.get_or_init(|| {
        ort::init_from(library)
            .map_err(|e| e.to_string())?
            .with_name("prometheus")
            .build()
            .map_err(|e| e.to_string())
    });
    match loaded {
        Ok(env) => Ok(env.clone()),
        Err(reason) => Err(model_error(library, reason.clone())),
    }
}

/// The loaded model. Running it needs `&mut self` (the session keeps scratch buffers);
/// share one per actor, not per call.
pub struct MiniLmEncoder {
    params: MiniLmParams,
    tokenizer: Tokenizer,
    session: Session,
    model_id: String,
}

impl std::fmt::Debug for MiniLmEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MiniLmEncoder")
            .field("params", &self.params)
            .field("model_id", &self.model_id)
            .finish_non_exhaustive()
    }
}

impl MiniLmEncoder {
    /// The parameters it was loaded with.
    pub fn params(&self) -> &MiniLmParams {
        &self.params
    }

    /// The model id stored with every vector: the model file's digest and the truncation,
    /// the two things that change the output.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// Unit vectors of `texts`, in order, computed `batch_size` texts per forward pass.
    ///
    /// # Errors
    /// [`EncoderError::Inference`] when tokenising or running the model fails.
    pub fn encode_batch(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EncoderError::Inference(format!("tokenising: {e}")))?;
        // Group texts of similar length; ties keep input order (deterministic batches).
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| (encodings[i].get_ids().len(), i));
        let mut out = vec![Vec::new(); encodings.len()];
        for chunk in order.chunks(self.params.batch_size) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            for (&i, v) in chunk.iter().zip(self.forward(&batch)?) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// One forward pass over `batch`, padded (id 0, mask 0) to its longest encoding.
    fn forward(&mut self, batch: &[&Encoding]) -> Result<Vec<Vec<f32>>, EncoderError> {
        let inference = |e: String| EncoderError::Inference(e);
        let rows = batch.len();
        let cols = batch.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let mut ids = vec![0i64; rows * cols];
        let mut mask = vec![0i64; rows * cols];
        for (r, e) in batch.iter().enumerate() {
            for (c, (&id, &m)) in e.get_ids().iter().zip(e.get_attention_mask()).enumerate() {
                ids[r * cols + c] = i64::from(id);
                mask[r * cols + c] = i64::from(m);
            }
        }
        let shape = [rows as i64, cols as i64];
        let tensor = |v: Vec<i64>| {
            Tensor::from_array((shape, v)).map_err(|e| inference(format!("input tensor: {e}")))
        };
        let types = vec![0i64; rows * cols];
        let outputs = self
            .session
            .run(ort::inputs![
                "input_ids" => tensor(ids)?,
                "attention_mask" => tensor(mask.clone())?,
                "token_type_ids" => tensor(types)?,
            ])
            .map_err(|e| inference(format!("running the model: {e}")))?;
        let (out_shape, hidden) = outputs["last_hidden_state"]
            .try_extract_tensor::<f32>()
            .map_err(|e| inference(format!("reading last_hidden_state: {e}")))?;
        let dim = MINILM_DIM;
        if out_shape.len() != 3
            || out_shape[0] as usize != rows
            || out_shape[1] as usize != cols
            || out_shape[2] as usize != dim
        {
            return Err(inference(format!(
                "last_hidden_state has shape {out_shape:?}, expected [{rows}, {cols}, {dim}]"
            )));
        }
        Ok((0..rows)
            .map(|r| {
                mean_pool(
                    &hidden[r * cols * dim..(r + 1) * cols * dim],
                    &mask[r * cols..(r + 1) * cols],
                    dim,
                )
            })
            .collect())
    }
}

/// Mean of the token vectors the mask keeps, L2-normalised (accumulated in f64).
fn mean_pool(hidden: &[f32], mask: &[i64], dim: usize) -> Vec<f32> {
    let mut sum = vec![0.0f64; dim];
    let mut kept = 0.0f64;
    for (token, &m) in hidden.chunks_exact(dim).zip(mask) {
        if m != 0 {
            kept += 1.0;
            sum.iter_mut()
                .zip(token)
                .for_each(|(s, &x)| *s += f64::from(x));
        }
    }
    let kept = kept.max(1e-9);
    sum.iter_mut().for_each(|s| *s /= kept);
    let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    sum.iter().map(|x| (x / norm) as f32).collect()
}

//! `pv2 embed text`: the text encoders from the command line, for checking a model and
//! for scripts that want vectors without the daemon.

use crate::cli::OutputFormat;
use crate::context::Context;
use anyhow::{Context as _, anyhow};
use prometheus::encoders::news::TextEncoderConfig;
use prometheus::encoders::{TextEncoder, TextModel};
use serde_json::json;
use std::io::BufRead as _;
use std::path::PathBuf;

/// Runs `pv2 embed text`.
///
/// # Errors
/// A missing model (with how to fetch it), unreadable standard input, an encoder failure.
pub fn text(
    ctx: &Context,
    model: TextModel,
    models_dir: Option<PathBuf>,
    threads: Option<usize>,
    format: OutputFormat,
    sentences: Vec<String>,
) -> anyhow::Result<()> {
    let cfg = ctx.source.load_engine::<TextEncoderConfig>()?.config;
    let config = TextEncoderConfig {
        model,
        models_dir: models_dir.unwrap_or(cfg.models_dir.clone()),
        threads: threads.unwrap_or(cfg.threads),
        ..cfg
    };
    let mut texts = Vec::new();
    for s in sentences {
        if s == "-" {
            for line in std::io::stdin().lock().lines() {
                texts.push(line.context("reading sentences from standard input")?);
            }
        } else {
            texts.push(s);
        }
    }
    if texts.is_empty() {
        return Err(anyhow!("no sentences to embed (standard input was empty)"));
    }
    let mut encoder = TextEncoder::load(config.model, config.minilm())?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = encoder.encode_batch(&refs)?;
    let model_id = encoder.model_id();
    match format {
        OutputFormat::Json => {
            let doc = json!({
                "model_id": model_id,
                "dim": encoder.dim(),
                "vectors": texts.iter().zip(&vectors).map(|(t, v)| json!({"text": t, "vector": v})).collect::<Vec<_>>(),
            });
            println!("{doc}");
        }
        OutputFormat::Text => {
            println!("model {model_id}, {} dimensions", encoder.dim());
            for (t, v) in texts.iter().zip(&vectors) {
                let values: Vec<String> = v.iter().map(|x| format!("{x:.6}")).collect();
                println!("{t}\n  {}", values.join(" "));
            }
        }
    }
    Ok(())
}

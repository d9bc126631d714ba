//! `pv2 bench minilm`: MiniLM sentences per second at a batch size and thread count, on
//! synthetic news texts that `scripts/bench-minilm` also feeds to Python's onnxruntime.

use crate::cli::{BenchMinilmArgs, OutputFormat};
use anyhow::{Context as _, anyhow};
use chrono::NaiveDate;
use prometheus::domain::MarketId;
use prometheus::encoders::MiniLmParams;
use prometheus::encoders::news::TextEncoderConfig;
use prometheus::synthetic_market::{SyntheticMarketParams, generate, weekdays};
use serde_json::json;
use std::time::Instant;

/// Runs `pv2 bench minilm`.
///
/// # Errors
/// A missing model, an unwritable corpus file, an encoder failure.
pub fn run(args: &BenchMinilmArgs) -> anyhow::Result<()> {
    let sessions = weekdays(
        NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default(),
        NaiveDate::from_ymd_opt(2025, 12, 31).unwrap_or_default(),
    );
    let params = SyntheticMarketParams::new(300, 7, MarketId::from("US_EQ"))
        .check()
        .map_err(|e| anyhow!("{e}"))?;
    let market = generate(&params, &sessions);
    let text_cfg = TextEncoderConfig::default();
    let texts: Vec<String> = market
        .news
        .iter()
        .take(args.sentences)
        .map(|a| {
            text_cfg
                .article_text(&a.headline, &a.body)
                .replace('\n', " ")
        })
        .collect();
    if texts.len() < args.sentences {
        return Err(anyhow!(
            "the synthetic market has only {} articles; ask for fewer --sentences",
            texts.len()
        ));
    }
    if let Some(path) = &args.corpus_out {
        std::fs::write(path, texts.join("\n") + "\n")
            .with_context(|| format!("writing the corpus to {}", path.display()))?;
    }
    let mut encoder = MiniLmParams {
        threads: args.threads,
        batch_size: args.batch_size,
        ..MiniLmParams::under(&args.models_dir)
    }
    .load()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    encoder.encode_batch(&refs[..args.batch_size.min(refs.len())])?; // warm-up
    let mut best = f64::INFINITY;
    for _ in 0..args.rounds.max(1) {
        let t = Instant::now();
        let v = encoder.encode_batch(&refs)?;
        best = best.min(t.elapsed().as_secs_f64());
        std::hint::black_box(v);
    }
    let per_sec = texts.len() as f64 / best;
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            json!({"contender": "pv2 (ort + tokenizers)", "sentences": texts.len(), "batch_size": args.batch_size,
                   "threads": args.threads, "seconds": best, "sentences_per_sec": per_sec,
                   "model_id": encoder.model_id()})
        ),
        OutputFormat::Text => println!(
            "MiniLM {}: {} texts, batch {}, {} threads: {best:.3} s, {per_sec:.1} sentences/s",
            encoder.model_id(),
            texts.len(),
            args.batch_size,
            args.threads
        ),
    }
    Ok(())
}

//! `pv2 export`: the Parquet catalog, written incrementally, with what changed and how long
//! it took.

use crate::cli::{ExportArgs, OutputFormat};
use crate::context::Context;
use anyhow::{Context as _, bail};
use prometheus::files::catalog::{self, DATASETS, Dataset};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;

/// Exports the chosen datasets (all by default) and prints a summary.
///
/// # Errors
/// An unknown dataset name, database reads, file writes.
pub async fn run(ctx: &Context, args: &ExportArgs) -> anyhow::Result<()> {
    if args.list {
        for d in DATASETS {
            let cols: Vec<String> = d
                .columns
                .iter()
                .map(|c| format!("{} {}", c.name, c.kind.name()))
                .collect();
            println!(
                "{:<20} {}\n{:<20} columns: {}",
                d.name,
                d.about,
                "",
                cols.join(", ")
            );
        }
        return Ok(());
    }
    let chosen: Vec<&'static Dataset> = if args.datasets.is_empty() {
        DATASETS.iter().collect()
    } else {
        let mut out = Vec::new();
        for name in &args.datasets {
            match catalog::dataset(name) {
                Some(d) => out.push(d),
                None => bail!(
                    "unknown dataset `{name}`; the catalog has {}",
                    DATASETS
                        .iter()
                        .map(|d| d.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        out
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(&ctx.app.catalog.dir));
    let stores = ctx.open_stores().await?;
    let began = Instant::now();
    let result = catalog::export(&stores, &dir, &chosen)
        .await
        .with_context(|| format!("exporting the catalog to {}", dir.display()));
    stores.close().await;
    let summaries = result?;
    let secs = began.elapsed().as_secs_f64();
    match args.format {
        OutputFormat::Json => {
            let datasets: Vec<_> = summaries
                .iter()
                .map(|s| {
                    json!({"dataset": s.name, "rows": s.rows, "bytes": s.bytes,
                        "written": s.written, "unchanged": s.unchanged, "removed": s.removed})
                })
                .collect();
            println!(
                "{}",
                json!({"dir": dir.display().to_string(), "seconds": secs, "datasets": datasets})
            );
        }
        OutputFormat::Text => {
            println!("catalog {} (manifest.json)", dir.display());
            for s in &summaries {
                println!(
                    "  {:<20} {:>10} rows {:>8.1} MB  partitions: {} written, {} unchanged, {} removed",
                    s.name,
                    s.rows,
                    s.bytes as f64 / 1e6,
                    s.written,
                    s.unchanged,
                    s.removed
                );
            }
            let rows: u64 = summaries.iter().map(|s| s.rows).sum();
            let bytes: u64 = summaries.iter().map(|s| s.bytes).sum();
            println!("  {rows} rows, {:.1} MB in {secs:.1}s", bytes as f64 / 1e6);
        }
    }
    Ok(())
}

//! `pv2 import prices|instruments|news|fundamentals|fills`.

use super::derive::{derive_marked, describe};
use crate::cli::{ImportCommand, OutputFormat, PriceFileFormat};
use crate::clock::SystemClock;
use crate::context::Context;
use anyhow::Context as _;
use prometheus::domain::{MarketId, RunId};
use prometheus::ingest::{
    ImportOutcome, ImportRequest, PriceFormat, RawFile, Replayed, import_fundamentals,
    import_instruments, import_news, import_prices, replay,
};
use serde_json::json;

/// Runs one import, derives what changed (when configured) and prints the summary.
///
/// # Errors
/// A one-line reason when the file is unreadable or wholly invalid, or storage fails.
pub async fn run(ctx: &Context, what: ImportCommand) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let db = &stores.historical;
    let archive = &stores.archive;
    let (outcome, output, kind) = match &what {
        ImportCommand::Prices {
            format,
            symbol,
            market,
            output,
            file,
        } => {
            let market = MarketId::new(market);
            let raw = RawFile::read(file)?;
            let req = ImportRequest {
                file: &raw,
                market: &market,
                symbol: symbol.as_deref(),
            };
            let fmt = match format {
                PriceFileFormat::Yahoo => PriceFormat::Yahoo,
                PriceFileFormat::Wide => PriceFormat::Wide,
            };
            (
                import_prices(db, archive, req, fmt, &ctx.markets, &SystemClock).await?,
                *output,
                "prices",
            )
        }
        ImportCommand::Instruments { output, file } => (
            import_instruments(
                db,
                archive,
                &RawFile::read(file)?,
                &ctx.markets,
                &SystemClock,
            )
            .await?,
            *output,
            "instruments",
        ),
        ImportCommand::News { output, file } => (
            import_news(db, archive, &RawFile::read(file)?, &SystemClock).await?,
            *output,
            "news",
        ),
        ImportCommand::Fundamentals { output, file } => (
            import_fundamentals(db, archive, &RawFile::read(file)?, &SystemClock).await?,
            *output,
            "fundamentals",
        ),
        // The ledger's import has its own summary.
        ImportCommand::Fills {
            market,
            account,
            output,
            file,
        } => {
            stores.close().await;
            return super::trading::import_fills(ctx, market, account.as_deref(), *output, file)
                .await;
        }
        ImportCommand::Replay {
            account,
            output,
            batch,
        } => {
            let replayed = replay(db, archive, batch, &ctx.markets, &SystemClock)
                .await
                .with_context(|| format!("replaying batch {batch}"))?;
            match replayed {
                Replayed::Imported { source, outcome } => (outcome, *output, summary_kind(&source)),
                Replayed::Fills {
                    market,
                    outcome,
                    fills,
                } => {
                    let result = super::trading::book_statement(
                        &stores,
                        &market,
                        account.as_deref(),
                        *output,
                        &outcome,
                        &fills,
                    )
                    .await;
                    stores.close().await;
                    return result;
                }
            }
        }
    };
    let derived = if outcome.prices.is_some() && ctx.app.ingest.derive_after_import {
        let run_id = RunId::new(format!("import-{}", outcome.batch.batch_id));
        Some(
            derive_marked(ctx, db, &run_id)
                .await
                .context("after the import (the prices are stored)")?,
        )
    } else {
        None
    };
    print_outcome(kind, &outcome, derived.as_ref().map(describe), output);
    stores.close().await;
    Ok(())
}

/// The summary's name for a batch's source (`prices:wide` → `prices`).
fn summary_kind(source: &str) -> &'static str {
    match source {
        "instruments" => "instruments",
        "news" => "news",
        "fundamentals" => "fundamentals",
        _ => "prices",
    }
}

fn print_outcome(kind: &str, o: &ImportOutcome, derived: Option<String>, output: OutputFormat) {
    let b = &o.batch;
    match output {
        OutputFormat::Json => {
            let doc = json!({
                "kind": kind,
                "file": b.file,
                "batch_id": b.batch_id,
                "ok": b.rows_ok,
                "rejected": b.rows_rejected,
                "rejected_by_reason": o.rejects.0,
                "rows": o.prices.map(|p| json!({"inserted": p.inserted, "updated": p.updated, "unchanged": p.unchanged})),
                "registered_instruments": o.registered.iter().map(|i| i.as_str()).collect::<Vec<_>>(),
                "derived": derived,
            });
            println!("{doc}");
        }
        OutputFormat::Text => {
            println!("imported {kind} from {} (batch {})", b.file, b.batch_id);
            println!("  ok {}, rejected {}", b.rows_ok, b.rows_rejected);
            if let Some(p) = o.prices {
                println!(
                    "  rows: {} new, {} updated, {} unchanged",
                    p.inserted, p.updated, p.unchanged
                );
            }
            if !o.rejects.0.is_empty() {
                let parts: Vec<String> = o
                    .rejects
                    .0
                    .iter()
                    .map(|(r, n)| format!("{r} {n}"))
                    .collect();
                println!("  rejected by reason: {}", parts.join(", "));
            }
            if !o.registered.is_empty() {
                let ids: Vec<&str> = o.registered.iter().map(|i| i.as_str()).collect();
                println!("  registered instruments: {}", ids.join(", "));
            }
            if let Some(d) = derived {
                println!("  derived: {d}");
            }
        }
    }
}

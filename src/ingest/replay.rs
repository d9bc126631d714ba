//! Re-importing a batch from the raw-file archive (`pv2 import replay BATCH`): the same
//! bytes, imported the same way into the same target, name the same batch, so the replay
//! replaces the batch's rows and rejects rather than adding to them — what an operator
//! needs after a parser fix, a lost database or a doubt about where a row came from.

use super::error::IngestError;
use super::import::{
    ImportOutcome, ImportRequest, PriceFormat, RawFile, ResolvedFill, import_fundamentals,
    import_instruments, import_news, import_prices, import_statement,
};
use crate::config::MarketsConfig;
use crate::domain::{Clock, MarketId};
use crate::files::RawArchive;
use crate::store::{HistoricalDb, IngestLog};
use std::path::PathBuf;

/// What a replay imported.
#[derive(Clone, Debug)]
pub enum Replayed {
    /// Market data (prices, instruments, news, fundamentals): already written.
    Imported {
        /// The batch's kind (`prices:yahoo`, `news`, …).
        source: String,
        /// The import's outcome.
        outcome: ImportOutcome,
    },
    /// A broker statement: the fills are returned for the ledger to book (the runtime
    /// database's part), as after `pv2 import fills`.
    Fills {
        /// The market the statement was imported into.
        market: MarketId,
        /// The import's outcome.
        outcome: ImportOutcome,
        /// The statement's good rows.
        fills: Vec<ResolvedFill>,
    },
}

/// Re-imports batch `batch_id` from the archived bytes of its file.
///
/// # Errors
/// [`IngestError::NotReplayable`] for an unknown batch, a synthetic one or one imported
/// before the archive existed; [`IngestError::Archive`] when its file is missing or no
/// longer matches its digest; otherwise what the original import could fail with.
pub async fn replay(
    db: &HistoricalDb,
    archive: &RawArchive,
    batch_id: &str,
    markets: &MarketsConfig,
    clock: &dyn Clock,
) -> Result<Replayed, IngestError> {
    let Some(batch) = db.batch(batch_id).await? else {
        return Err(IngestError::NotReplayable(format!(
            "no batch `{batch_id}` in the ingest log (every import prints its batch id)"
        )));
    };
    let Some(sha256) = batch.archive_sha256.as_deref() else {
        return Err(IngestError::NotReplayable(format!(
            "batch {batch_id} ({}, {}) has no archived file: it is synthetic or was imported \
             before the raw-file archive existed; import the file itself again",
            batch.source, batch.file
        )));
    };
    let file = RawFile {
        name: PathBuf::from(&batch.file),
        bytes: archive.get(sha256)?,
    };
    let imported = |outcome: ImportOutcome| Replayed::Imported {
        source: batch.source.clone(),
        outcome,
    };
    let market_of = |target: &str| MarketId::new(target.split(':').next().unwrap_or(target));
    Ok(match batch.source.as_str() {
        "prices:yahoo" | "prices:wide" => {
            let market = market_of(&batch.target);
            let (format, symbol) = if batch.source == "prices:yahoo" {
                let symbol = batch.target.split_once(':').map(|(_, s)| s);
                (PriceFormat::Yahoo, symbol)
            } else {
                (PriceFormat::Wide, None)
            };
            let req = ImportRequest {
                file: &file,
                market: &market,
                symbol,
            };
            imported(import_prices(db, archive, req, format, markets, clock).await?)
        }
        "instruments" => imported(import_instruments(db, archive, &file, markets, clock).await?),
        "news" => imported(import_news(db, archive, &file, clock).await?),
        "fundamentals" => imported(import_fundamentals(db, archive, &file, clock).await?),
        "fills" => {
            let market = market_of(&batch.target);
            let (outcome, fills) = import_statement(db, archive, &file, &market, clock).await?;
            Replayed::Fills {
                market,
                outcome,
                fills,
            }
        }
        other => {
            return Err(IngestError::NotReplayable(format!(
                "batch {batch_id} is of kind `{other}`, which has no importer to replay it"
            )));
        }
    })
}

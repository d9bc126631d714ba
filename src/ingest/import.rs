//! Import pipelines: read a file, validate it, write the accepted rows idempotently,
//! quarantine the rejects and record the batch.

use super::batch::batch_id;
use super::error::IngestError;
use super::news::SymbolResolver;
use super::reject::{Reject, RejectSummary};
use super::{instruments, news, wide, yahoo};
use crate::config::{MarketConfig, MarketsConfig};
use crate::domain::{
    Clock, Instrument, InstrumentId, InstrumentSeries, InstrumentStatus, Issuer, IssuerId, MarketId,
};
use crate::files::RawArchive;
use crate::store::{
    FundamentalsStore, HistoricalDb, IngestBatch, IngestLog, IngestReject, NewsStore, PriceStore,
    PriceWriteSummary, ReferenceStore,
};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The layout of a price file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriceFormat {
    /// One symbol per file, OHLCV columns.
    Yahoo,
    /// Adjusted closes, one column per symbol.
    Wide,
}

/// What to import and where.
#[derive(Clone, Copy, Debug)]
pub struct ImportRequest<'a> {
    /// The file.
    pub file: &'a RawFile,
    /// The market the prices belong to.
    pub market: &'a MarketId,
    /// The symbol (Yahoo files only: the file has no symbol column).
    pub symbol: Option<&'a str>,
}

/// The result of one import, for the summary printed to the user.
#[derive(Clone, Debug)]
pub struct ImportOutcome {
    /// The recorded batch (ok and rejected counts included).
    pub batch: IngestBatch,
    /// Rejects by reason.
    pub rejects: RejectSummary,
    /// For price files: rows inserted, updated, unchanged.
    pub prices: Option<PriceWriteSummary>,
    /// Instruments registered because a price file named them first.
    pub registered: Vec<InstrumentId>,
}

/// A raw input file: its bytes and the name it was given (a path on the command line or in
/// the inbox, or the recorded name of a batch replayed from the archive).
#[derive(Clone, Debug)]
pub struct RawFile {
    /// The name errors and the batch record use.
    pub name: PathBuf,
    /// The bytes as read.
    pub bytes: Vec<u8>,
}

impl RawFile {
    /// Reads the file at `path`.
    ///
    /// # Errors
    /// [`IngestError::Unreadable`].
    pub fn read(path: &Path) -> Result<Self, IngestError> {
        let bytes = std::fs::read(path).map_err(|source| IngestError::Unreadable {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            name: path.to_owned(),
            bytes,
        })
    }
}

/// Archives the file's bytes (before anything parses them) and returns their digest and
/// text (UTF-8, a leading byte-order mark dropped).
fn archive_and_decode(
    archive: &RawArchive,
    file: &RawFile,
) -> Result<(String, String), IngestError> {
    let archived = archive.put(&file.bytes)?;
    let text = std::str::from_utf8(&file.bytes).map_err(|e| IngestError::NotText {
        path: file.name.clone(),
        offset: e.valid_up_to(),
    })?;
    Ok((
        archived.sha256,
        text.trim_start_matches('\u{feff}').to_owned(),
    ))
}

fn bad_header(path: &Path) -> impl FnOnce(String) -> IngestError + '_ {
    move |reason| IngestError::BadHeader {
        path: path.to_owned(),
        reason,
    }
}

/// The configured market `market`, registered in the database (so rows can refer to it).
async fn require_market<'m>(
    db: &HistoricalDb,
    markets: &'m MarketsConfig,
    market: &MarketId,
) -> Result<&'m MarketConfig, IngestError> {
    let Some(found) = markets.markets.iter().find(|m| m.id == market.as_str()) else {
        return Err(IngestError::UnknownMarket {
            market: market.to_string(),
            known: markets
                .markets
                .iter()
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    db.upsert_markets(&markets.to_markets()).await?;
    Ok(found)
}

/// Records the batch and its rejects; fails when nothing was accepted.
async fn finish(
    db: &HistoricalDb,
    clock: &dyn Clock,
    started: IngestBatch,
    ok: u64,
    rejects: &[Reject],
    path: &Path,
) -> Result<(IngestBatch, RejectSummary), IngestError> {
    let batch = IngestBatch {
        rows_ok: ok,
        rows_rejected: rejects.len() as u64,
        finished_at: Some(clock.now()),
        ..started
    };
    let stored: Vec<IngestReject> = rejects
        .iter()
        .map(|r| IngestReject {
            line_no: r.line_no,
            column: r.column.clone(),
            reason: r.reason.code().to_owned(),
            detail: r.detail.clone(),
            raw: r.raw.clone(),
        })
        .collect();
    db.record_batch(&batch, &stored).await?;
    let summary = RejectSummary::of(rejects);
    if ok == 0 {
        return Err(match summary.top() {
            Some(top) => IngestError::WhollyInvalid {
                path: path.to_owned(),
                rejected: batch.rows_rejected,
                top_reason: top.to_owned(),
                batch_id: batch.batch_id.clone(),
            },
            None => IngestError::Empty {
                path: path.to_owned(),
            },
        });
    }
    Ok((batch, summary))
}

/// The batch of importing `file` (archived as `sha256`) as `source` into `target`.
fn started_batch(
    source: &str,
    target: &str,
    file: &RawFile,
    sha256: String,
    clock: &dyn Clock,
) -> IngestBatch {
    IngestBatch {
        batch_id: batch_id(source, target, &file.bytes),
        source: source.to_owned(),
        file: file.name.display().to_string(),
        target: target.to_owned(),
        archive_sha256: Some(sha256),
        rows_ok: 0,
        rows_rejected: 0,
        started_at: clock.now(),
        finished_at: None,
    }
}

/// Registers instruments a price file names that are not known yet (issuer id = symbol,
/// name = symbol, no sector; an instruments file imported later fills the details in).
async fn register_missing(
    db: &HistoricalDb,
    market: &MarketId,
    currency: &str,
    series: &[InstrumentSeries],
) -> Result<Vec<InstrumentId>, IngestError> {
    let known: BTreeSet<InstrumentId> = db
        .instruments(Some(market))
        .await?
        .into_iter()
        .map(|i| i.instrument_id)
        .collect();
    let missing: Vec<&InstrumentId> = series
        .iter()
        .map(|s| &s.instrument_id)
        .filter(|id| !known.contains(*id))
        .collect();
    if missing.is_empty() {
        return Ok(Vec::new());
    }
    let issuers: BTreeSet<IssuerId> = db
        .issuers()
        .await?
        .into_iter()
        .map(|i| i.issuer_id)
        .collect();
    let new_issuers: Vec<Issuer> = missing
        .iter()
        .map(|id| IssuerId::new(id.symbol()))
        .filter(|i| !issuers.contains(i))
        .map(|issuer_id| Issuer {
            name: issuer_id.to_string(),
            issuer_id,
            sector: None,
            industry: None,
            country: None,
        })
        .collect();
    let new_instruments: Vec<Instrument> = missing
        .iter()
        .map(|id| Instrument {
            instrument_id: (*id).clone(),
            issuer_id: IssuerId::new(id.symbol()),
            market_id: market.clone(),
            symbol: id.symbol().to_owned(),
            asset_class: "equity".into(),
            currency: currency.to_owned(),
            status: InstrumentStatus::Active,
        })
        .collect();
    db.upsert_issuers(&new_issuers).await?;
    db.upsert_instruments(&new_instruments).await?;
    Ok(missing.into_iter().cloned().collect())
}

/// Imports a price file (Yahoo or wide) into `req.market`, archiving its bytes first.
///
/// # Errors
/// Unreadable file, bad header, unknown market, a file with no accepted row, or a storage
/// failure. Rejected rows alone are not an error: they are recorded and summarised.
pub async fn import_prices(
    db: &HistoricalDb,
    archive: &RawArchive,
    req: ImportRequest<'_>,
    format: PriceFormat,
    markets: &MarketsConfig,
    clock: &dyn Clock,
) -> Result<ImportOutcome, IngestError> {
    let path = req.file.name.as_path();
    super::provenance::ensure_import_allowed(db).await?;
    let market = require_market(db, markets, req.market).await?;
    let (source, target) = match format {
        PriceFormat::Yahoo => {
            let symbol = req
                .symbol
                .filter(|s| wide::is_valid_symbol(s))
                .ok_or_else(|| {
                    IngestError::BadArgument(
                        "Yahoo files need --symbol SYM (no `:` or spaces)".into(),
                    )
                })?;
            (
                "prices:yahoo",
                InstrumentId::of(req.market, symbol).to_string(),
            )
        }
        PriceFormat::Wide => ("prices:wide", req.market.to_string()),
    };
    let (sha256, text) = archive_and_decode(archive, req.file)?;
    let (series, rejects) = match format {
        PriceFormat::Yahoo => {
            let id = InstrumentId::new(&target);
            let p = yahoo::parse(&text, &id).map_err(bad_header(path))?;
            (vec![p.series], p.rejects)
        }
        PriceFormat::Wide => {
            let p = wide::parse(&text, req.market).map_err(bad_header(path))?;
            (p.series, p.rejects)
        }
    };
    let started = started_batch(source, &target, req.file, sha256, clock);
    let series: Vec<InstrumentSeries> = series.into_iter().filter(|s| !s.bars.is_empty()).collect();
    let ok: u64 = series.iter().map(|s| s.bars.len() as u64).sum();
    let (registered, written) = if ok > 0 {
        let registered = register_missing(db, req.market, &market.currency, &series).await?;
        (
            registered,
            Some(db.write_prices(&started.batch_id, &series).await?),
        )
    } else {
        (Vec::new(), None)
    };
    let (batch, summary) = finish(db, clock, started, ok, &rejects, path).await?;
    Ok(ImportOutcome {
        batch,
        rejects: summary,
        prices: written,
        registered,
    })
}

/// Imports an instruments file, archiving its bytes first.
///
/// # Errors
/// As [`import_prices`].
pub async fn import_instruments(
    db: &HistoricalDb,
    archive: &RawArchive,
    file: &RawFile,
    markets: &MarketsConfig,
    clock: &dyn Clock,
) -> Result<ImportOutcome, IngestError> {
    super::provenance::ensure_import_allowed(db).await?;
    let (sha256, text) = archive_and_decode(archive, file)?;
    let p = instruments::parse(&text, markets).map_err(bad_header(&file.name))?;
    db.upsert_markets(&markets.to_markets()).await?;
    let started = started_batch("instruments", "", file, sha256, clock);
    let ok = p.instruments.len() as u64;
    if ok > 0 {
        db.upsert_issuers(&p.issuers).await?;
        db.upsert_instruments(&p.instruments).await?;
    }
    let (batch, summary) = finish(db, clock, started, ok, &p.rejects, &file.name).await?;
    Ok(ImportOutcome {
        batch,
        rejects: summary,
        prices: None,
        registered: Vec::new(),
    })
}

/// Imports a news JSON-lines file, archiving its bytes first.
///
/// # Errors
/// As [`import_prices`].
pub async fn import_news(
    db: &HistoricalDb,
    archive: &RawArchive,
    file: &RawFile,
    clock: &dyn Clock,
) -> Result<ImportOutcome, IngestError> {
    let (sha256, text) = archive_and_decode(archive, file)?;
    let known = db.instruments(None).await?;
    let p = news::parse(&text, &SymbolResolver::new(&known));
    let started = started_batch("news", "", file, sha256, clock);
    let ok = p.articles.len() as u64;
    if ok > 0 {
        db.write_news(&started.batch_id, &p.articles, &p.links)
            .await?;
    }
    let (batch, summary) = finish(db, clock, started, ok, &p.rejects, &file.name).await?;
    Ok(ImportOutcome {
        batch,
        rejects: summary,
        prices: None,
        registered: Vec::new(),
    })
}

/// Imports a fundamentals CSV (`symbol,period_end,filed,metric,value`), archiving its bytes
/// first.
///
/// # Errors
/// As [`import_prices`].
pub async fn import_fundamentals(
    db: &HistoricalDb,
    archive: &RawArchive,
    file: &RawFile,
    clock: &dyn Clock,
) -> Result<ImportOutcome, IngestError> {
    let (sha256, text) = archive_and_decode(archive, file)?;
    let known = db.instruments(None).await?;
    let p = super::fundamentals::parse(&text, &SymbolResolver::new(&known))
        .map_err(bad_header(&file.name))?;
    let started = started_batch("fundamentals", "", file, sha256, clock);
    let ok = p.values.len() as u64;
    if ok > 0 {
        db.write_fundamentals(&started.batch_id, &p.values).await?;
    }
    let (batch, summary) = finish(db, clock, started, ok, &p.rejects, &file.name).await?;
    Ok(ImportOutcome {
        batch,
        rejects: summary,
        prices: None,
        registered: Vec::new(),
    })
}

/// One fill of a broker statement, resolved to its instrument.
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedFill {
    /// The statement's row.
    pub fill: crate::execution::statement::StatementFill,
    /// The instrument it names.
    pub instrument_id: InstrumentId,
}

/// Reads a broker statement (`date,symbol,side,quantity,price[,fees]`) of `market`: the
/// batch and its rejects (bad rows, symbols that are not instruments of the market) are
/// recorded in the ingest log; the good rows are returned for the ledger to match and
/// book (the runtime database's part).
///
/// # Errors
/// As [`import_prices`].
pub async fn import_statement(
    db: &HistoricalDb,
    archive: &RawArchive,
    file: &RawFile,
    market: &MarketId,
    clock: &dyn Clock,
) -> Result<(ImportOutcome, Vec<ResolvedFill>), IngestError> {
    let (sha256, text) = archive_and_decode(archive, file)?;
    let known = db.instruments(Some(market)).await?;
    let resolver = news::SymbolResolver::new(&known);
    let parsed = crate::execution::statement::parse(&text).map_err(bad_header(&file.name))?;
    let mut rejects = parsed.rejects;
    let mut fills = Vec::with_capacity(parsed.fills.len());
    for f in parsed.fills {
        match resolver.resolve(&f.symbol) {
            Ok(i) => fills.push(ResolvedFill {
                instrument_id: i.instrument_id.clone(),
                fill: f,
            }),
            Err((reason, detail)) => {
                rejects.push(Reject::cell(f.line_no, "symbol", reason, detail, &f.raw));
            }
        }
    }
    rejects.sort_by_key(|r| r.line_no);
    let started = started_batch("fills", market.as_str(), file, sha256, clock);
    let (batch, summary) =
        finish(db, clock, started, fills.len() as u64, &rejects, &file.name).await?;
    Ok((
        ImportOutcome {
            batch,
            rejects: summary,
            prices: None,
            registered: Vec::new(),
        },
        fills,
    ))
}

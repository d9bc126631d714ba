//! The daily ingest job: bring in what arrived for one market and date, from the synthetic
//! feed (demo, tests, drills) or from an inbox directory of files (real data).

use super::error::IngestError;
use super::import::{
    ImportRequest, PriceFormat, RawFile, import_instruments, import_news, import_prices,
};
use crate::config::{EngineConfig, Issues, MarketsConfig};
use crate::domain::{Clock, InstrumentId, MarketId};
use crate::files::RawArchive;
use crate::ingest::batch_id;
use crate::store::{
    HistoricalDb, IngestBatch, IngestLog, NewsStore, PriceStore, PriceWriteSummary, ReferenceStore,
    SyntheticTruthStore,
};
use crate::synthetic_market::SyntheticDay;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where the daily ingest job reads from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DailySource {
    /// The seeded synthetic market, one session per run.
    Synthetic,
    /// Files dropped into `inbox_dir`.
    Inbox,
}

/// The synthetic feed's parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticSourceConfig {
    /// The market it publishes for (runs of other markets find nothing).
    pub market: String,
    /// Number of instruments.
    pub instruments: usize,
    /// Generator seed.
    pub seed: u64,
    /// First session (`YYYY-MM-DD`); sessions are weekdays from here.
    pub history_start: String,
}

impl Default for SyntheticSourceConfig {
    fn default() -> Self {
        Self {
            market: "US_EQ".into(),
            instruments: 500,
            seed: 7,
            history_start: "2016-01-01".into(),
        }
    }
}

/// Configuration of the daily ingest job (`config/engines/ingest.toml`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DailyIngestConfig {
    /// Where data comes from.
    pub source: DailySource,
    /// Inbox root: `<MARKET>/yahoo/<SYMBOL>.csv`, `<MARKET>/wide/*.csv`, `instruments/*.csv`,
    /// `news/*.jsonl`. Imported files move to a `done/` folder beside them; files that
    /// cannot be imported at all move to `failed/`.
    pub inbox_dir: String,
    /// The synthetic feed.
    pub synthetic: SyntheticSourceConfig,
}

impl Default for DailyIngestConfig {
    fn default() -> Self {
        Self {
            source: DailySource::Inbox,
            inbox_dir: "data/inbox".into(),
            synthetic: SyntheticSourceConfig::default(),
        }
    }
}

impl DailyIngestConfig {
    /// The first session of the synthetic feed.
    pub fn history_start(&self) -> Option<chrono::NaiveDate> {
        chrono::NaiveDate::parse_from_str(&self.synthetic.history_start, "%Y-%m-%d").ok()
    }
}

impl EngineConfig for DailyIngestConfig {
    const ENGINE: &'static str = "ingest";

    fn validate(&self, issues: &mut Issues) {
        issues.check(self.inbox_dir.trim().is_empty(), "inbox_dir", || {
            "must not be empty".into()
        });
        let s = &self.synthetic;
        issues.check(
            !crate::config::is_valid_market_id(&s.market),
            "synthetic.market",
            || format!("`{}` is not a market id", s.market),
        );
        issues.check(
            !(1..=100_000).contains(&s.instruments),
            "synthetic.instruments",
            || format!("{} is out of range; use 1..=100000", s.instruments),
        );
        issues.check(
            self.history_start().is_none(),
            "synthetic.history_start",
            || format!("`{}` is not a date; use YYYY-MM-DD", s.history_start),
        );
    }
}

/// What one day's ingest did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DayIngestSummary {
    /// Price rows new / changed / unchanged.
    pub prices: PriceWriteSummary,
    /// Articles stored.
    pub articles: u64,
    /// Instruments with a bar on the day (synthetic) or in imported price files (inbox).
    pub instruments: Vec<InstrumentId>,
    /// Files imported (inbox).
    pub files: usize,
    /// Rows rejected (inbox).
    pub rejected: u64,
}

/// Stores one synthetic session: reference data, the day's bars and news, the hidden
/// regime, and a batch record whose id is derived from market, date and seed (a retry
/// names the same batch).
///
/// # Errors
/// Storage failures.
pub async fn store_synthetic_day(
    db: &HistoricalDb,
    day: &SyntheticDay,
    market: &MarketId,
    seed: u64,
    clock: &dyn Clock,
) -> Result<DayIngestSummary, IngestError> {
    super::provenance::ensure_synthetic_allowed(db).await?;
    let started_at = clock.now();
    let id = batch_id(
        "synthetic-day",
        &format!("{market}/{}/{seed}/{}", day.date, day.instruments.len()),
        b"",
    );
    db.upsert_issuers(&day.issuers).await?;
    db.upsert_instruments(&day.instruments).await?;
    let prices = db.write_prices(&id, &day.bars).await?;
    db.write_news(&id, &day.news, &day.news_links).await?;
    db.write_regime_path(market, seed, &[(day.date, day.regime.as_str().to_owned())])
        .await?;
    let rows = prices.inserted + prices.updated + prices.unchanged;
    let batch = IngestBatch {
        batch_id: id,
        source: "synthetic".into(),
        file: format!("synthetic:{market}:{}", day.date),
        target: market.to_string(),
        archive_sha256: None,
        rows_ok: rows + day.news.len() as u64,
        rows_rejected: 0,
        started_at,
        finished_at: Some(clock.now()),
    };
    db.record_batch(&batch, &[]).await?;
    Ok(DayIngestSummary {
        prices,
        articles: day.news.len() as u64,
        instruments: day.bars.iter().map(|s| s.instrument_id.clone()).collect(),
        files: 0,
        rejected: 0,
    })
}

fn files_in(dir: &Path, ext: &str) -> Result<Vec<PathBuf>, IngestError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(IngestError::Unreadable {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case(ext)))
        .collect();
    files.sort();
    Ok(files)
}

/// Moves an imported file into `done/` (or `failed/`) beside it.
fn file_away(path: &Path, ok: bool) -> Result<(), IngestError> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    let target_dir = parent.join(if ok { "done" } else { "failed" });
    let io = |source| IngestError::Unreadable {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(&target_dir).map_err(io)?;
    let name = path.file_name().unwrap_or_default();
    std::fs::rename(path, target_dir.join(name)).map_err(io)
}

/// Imports everything waiting in the inbox for `market`: instrument lists first, then
/// Yahoo files (`yahoo/<SYMBOL>.csv`), wide files, then news. A file whose rows are all
/// rejected, or that cannot be parsed at all, moves to `failed/` (its rejects are recorded)
/// and does not fail the job; storage failures do.
///
/// # Errors
/// Storage failures, an unreadable inbox directory.
pub async fn import_inbox(
    db: &HistoricalDb,
    archive: &RawArchive,
    inbox: &Path,
    market: &MarketId,
    markets: &MarketsConfig,
    clock: &dyn Clock,
) -> Result<DayIngestSummary, IngestError> {
    let mut summary = DayIngestSummary::default();
    let market_dir = inbox.join(market.as_str());
    let settle = |result: Result<super::ImportOutcome, IngestError>,
                  path: &Path,
                  summary: &mut DayIngestSummary| {
        match result {
            Ok(o) => {
                summary.files += 1;
                summary.rejected += o.batch.rows_rejected;
                if let Some(p) = o.prices {
                    summary.prices.inserted += p.inserted;
                    summary.prices.updated += p.updated;
                    summary.prices.unchanged += p.unchanged;
                }
                file_away(path, true)
            }
            Err(IngestError::Store(e)) => Err(IngestError::Store(e)),
            // The archive could not keep the file (a full disk): the file stays in the
            // inbox and the job fails, to be retried, rather than import unarchived.
            Err(e @ IngestError::Archive(_)) => Err(e),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "inbox file not imported");
                file_away(path, false)
            }
        }
    };
    for path in files_in(&inbox.join("instruments"), "csv")? {
        let r = match RawFile::read(&path) {
            Ok(file) => import_instruments(db, archive, &file, markets, clock).await,
            Err(e) => Err(e),
        };
        settle(r, &path, &mut summary)?;
    }
    for path in files_in(&market_dir.join("yahoo"), "csv")? {
        let symbol = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let r = match RawFile::read(&path) {
            Ok(file) => {
                let req = ImportRequest {
                    file: &file,
                    market,
                    symbol: Some(&symbol),
                };
                import_prices(db, archive, req, PriceFormat::Yahoo, markets, clock).await
            }
            Err(e) => Err(e),
        };
        if r.is_ok() {
            summary.instruments.push(InstrumentId::of(market, &symbol));
        }
        settle(r, &path, &mut summary)?;
    }
    for path in files_in(&market_dir.join("wide"), "csv")? {
        let r = match RawFile::read(&path) {
            Ok(file) => {
                let req = ImportRequest {
                    file: &file,
                    market,
                    symbol: None,
                };
                import_prices(db, archive, req, PriceFormat::Wide, markets, clock).await
            }
            Err(e) => Err(e),
        };
        settle(r, &path, &mut summary)?;
    }
    for path in files_in(&inbox.join("news"), "jsonl")? {
        let r = match RawFile::read(&path) {
            Ok(file) => import_news(db, archive, &file, clock).await,
            Err(e) => Err(e),
        };
        if let Ok(o) = &r {
            summary.articles += o.batch.rows_ok;
        }
        settle(r, &path, &mut summary)?;
    }
    Ok(summary)
}

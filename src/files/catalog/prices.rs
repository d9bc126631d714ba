//! Reading the price panel back from the catalog: what a backtest reads instead of the
//! database when `catalog.backtest_prices = "catalog"`. The rows are exactly the database's
//! (Parquet keeps every f64 bit), turned into [`SessionPrice`]s by the same rule as the
//! database read, so a backtest from either source gives the same bytes.

use super::CatalogError;
use super::manifest::Manifest;
use crate::domain::InstrumentId;
use crate::store::SessionPrice;
use crate::store::prices::adjusted_open;
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type};
use arrow_array::{Array, RecordBatch};
use chrono::{Datelike, NaiveDate};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The `prices` columns a panel is built from.
const PANEL_COLUMNS: [&str; 6] = [
    "instrument_id",
    "trade_date",
    "open",
    "close",
    "adj_close",
    "volume",
];

/// A catalog opened for reading: its directory and manifest.
#[derive(Clone, Debug)]
pub struct CatalogReader {
    dir: PathBuf,
    manifest: Manifest,
}

impl CatalogReader {
    /// Opens the catalog at `dir`.
    ///
    /// # Errors
    /// A missing or malformed manifest.
    pub fn open(dir: &Path) -> Result<Self, CatalogError> {
        if !dir.join("manifest.json").is_file() {
            return Err(CatalogError::NotCurrent(format!(
                "no catalog at {} (no manifest.json); write one with `pv2 export`",
                dir.display()
            )));
        }
        Ok(Self {
            dir: dir.to_owned(),
            manifest: Manifest::load(dir)?,
        })
    }

    /// Checks that the market's prices were exported from the data the database holds now
    /// (`fingerprint`: [`crate::store::IngestLog::data_fingerprint`]).
    ///
    /// # Errors
    /// [`CatalogError::NotCurrent`] naming both fingerprints.
    pub fn check_current(&self, market: &str, fingerprint: &str) -> Result<(), CatalogError> {
        match self.manifest.price_fingerprints.get(market) {
            Some(f) if f == fingerprint => Ok(()),
            Some(f) => Err(CatalogError::NotCurrent(format!(
                "the catalog at {} holds {market}'s prices as of data {f}, the database is at \
                 {fingerprint}; run `pv2 export --dataset prices` again",
                self.dir.display()
            ))),
            None => Err(CatalogError::NotCurrent(format!(
                "the catalog at {} has no prices of {market}; run `pv2 export --dataset prices`",
                self.dir.display()
            ))),
        }
    }

    /// Every instrument's prices in `[from, to]` among `instruments` (those with at least
    /// one row), dates ascending: what [`crate::store::PriceStore::prices_many`] returns.
    ///
    /// # Errors
    /// Unreadable or malformed partition files.
    pub fn prices_many(
        &self,
        market: &str,
        instruments: &[InstrumentId],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<SessionPrice>>, CatalogError> {
        let wanted: BTreeSet<&str> = instruments.iter().map(InstrumentId::as_str).collect();
        // Keyed by text while reading: a row's instrument is looked up without allocating.
        let mut out: BTreeMap<String, Vec<SessionPrice>> = BTreeMap::new();
        let Some(entry) = self.manifest.datasets.get("prices") else {
            return Err(CatalogError::NotCurrent(format!(
                "the catalog at {} has no prices dataset; run `pv2 export --dataset prices`",
                self.dir.display()
            )));
        };
        let mut parts: Vec<_> = entry
            .partitions
            .iter()
            .filter(|p| p.market == market && (from.year()..=to.year()).contains(&p.year))
            .collect();
        parts.sort_by_key(|p| p.year);
        let (lo, hi) = (days(from), days(to));
        for p in parts {
            let path = self.dir.join(&p.path);
            let file = std::fs::File::open(&path).map_err(|source| CatalogError::Io {
                path: path.clone(),
                source,
            })?;
            let bad = |reason: String| CatalogError::Parquet {
                path: path.clone(),
                reason,
            };
            // Only the columns a panel needs: high, low and the batch are never decoded.
            let reader = ParquetRecordBatchReaderBuilder::try_new(file)
                .and_then(|b| {
                    let mask = ProjectionMask::columns(b.parquet_schema(), PANEL_COLUMNS);
                    b.with_projection(mask).with_batch_size(65_536).build()
                })
                .map_err(|e| bad(e.to_string()))?;
            for batch in reader {
                let batch = batch.map_err(|e| bad(e.to_string()))?;
                read_batch(&batch, &wanted, lo, hi, &mut out).map_err(bad)?;
            }
        }
        Ok(out
            .into_iter()
            .map(|(id, rows)| (InstrumentId::new(id), rows))
            .collect())
    }
}

fn days(d: NaiveDate) -> i32 {
    i32::try_from(d.signed_duration_since(NaiveDate::default()).num_days()).unwrap_or(i32::MAX)
}

fn read_batch(
    batch: &RecordBatch,
    wanted: &BTreeSet<&str>,
    lo: i32,
    hi: i32,
    out: &mut BTreeMap<String, Vec<SessionPrice>>,
) -> Result<(), String> {
    let column = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| format!("no column `{name}`"))
    };
    let ids = column("instrument_id")?
        .as_string_opt::<i32>()
        .ok_or("instrument_id is not text")?;
    let dates = column("trade_date")?
        .as_primitive_opt::<Date32Type>()
        .ok_or("trade_date is not a date")?;
    let real = |name: &str| {
        column(name)?
            .as_primitive_opt::<Float64Type>()
            .ok_or_else(|| format!("{name} is not float64"))
    };
    let (open, close, adj, volume) = (
        real("open")?,
        real("close")?,
        real("adj_close")?,
        real("volume")?,
    );
    let get = |a: &arrow_array::Float64Array, i: usize| (!a.is_null(i)).then(|| a.value(i));
    for i in 0..batch.num_rows() {
        if ids.is_null(i) || dates.is_null(i) {
            continue;
        }
        let d = dates.value(i);
        if d < lo || d > hi || !wanted.contains(ids.value(i)) {
            continue;
        }
        let Some(adj_close) = get(adj, i) else {
            continue;
        };
        let date = NaiveDate::default()
            .checked_add_signed(chrono::Duration::days(i64::from(d)))
            .ok_or("date out of range")?;
        let id = ids.value(i);
        let row = SessionPrice {
            date,
            close: adj_close,
            volume: get(volume, i),
            open: adjusted_open(get(open, i), get(close, i), adj_close),
        };
        match out.get_mut(id) {
            Some(rows) => rows.push(row),
            None => {
                out.insert(id.to_owned(), vec![row]);
            }
        }
    }
    Ok(())
}

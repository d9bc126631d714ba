//! The in-memory price panel every engine of a spine reads: each market's instruments and
//! their closes and volumes, loaded from the historical database once and extended as later
//! (or earlier) dates are asked for, then sliced point-in-time for each job.
//!
//! Reading a year of 500 names from SQLite costs a good part of a second; the engines of one DAG run
//! read it five times, a backtest hundreds of times. The cache makes those reads a slice of
//! memory. It stays correct because it is checked before every use: the ingest job tells it
//! which dates it rewrote ([`PanelCache::written`]), and a fingerprint of the ingest log and
//! the instrument list catches writes by any other process (then everything is reloaded).
//! Slices never contain a row dated after the job's `as_of`. Factor series (the regime's
//! inputs, the panel's market return) are cached the same way; the derive job reports the
//! first date it rewrote.

use chrono::{Days, NaiveDate};
use prometheus::domain::{FactorValue, Instrument, InstrumentId, MarketId};
use prometheus::encoders::numeric::Panel;
use prometheus::features::{DayRow, SharedRows};
use prometheus::files::catalog::prices::CatalogReader;
use prometheus::store::{
    DerivedStore, HistoricalDb, IngestLog, PriceStore, ReferenceStore, SessionPrice, StoreError,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Calendar days read beyond the date asked for when the cache extends forward.
///
/// A backtest asks for one more month at each rebalance; reading a year at a time turns
/// 240 small reads (each paying the query's fixed cost over every instrument) into 20. The
/// rows past a job's date stay in memory and are never handed out: slices end at the date
/// asked for. In the daemon the read simply finds nothing past today, and the ingest job's
/// [`PanelCache::written`] drops the cached range from the day it writes.
const READ_AHEAD_DAYS: u64 = 366;

/// One market's cached rows: every instrument's rows dated in `[from, to]`.
struct Entry {
    fingerprint: String,
    from: NaiveDate,
    to: NaiveDate,
    instruments: Vec<Instrument>,
    rows: BTreeMap<String, Vec<SessionPrice>>,
    /// `rows` as the engines' row type, shared by every panel sliced from them; built on
    /// the first panel after `rows` changed.
    day_rows: Option<SharedDayRows>,
    /// The earliest date panels asked for since the shared rows were last built: where the
    /// next build starts.
    asked_from: Option<NaiveDate>,
}

/// The engines' rows of every instrument from `from` to the entry's end.
struct SharedDayRows {
    from: NaiveDate,
    rows: BTreeMap<String, Arc<[DayRow]>>,
}

impl Entry {
    /// The rows from `from` on as the engines' row type, built once per change of `rows`.
    ///
    /// A build starts at the earliest date panels asked for since the last one, not at the
    /// first cached row: a backtest's cache grows a year at a time to decades, and building
    /// from the first row each year made the builds quadratic in the years (2% of a 20-year
    /// backtest's samples). A panel asking for earlier rows than the build holds gets a new
    /// build that starts there.
    fn day_rows(&mut self, from: NaiveDate) -> &BTreeMap<String, Arc<[DayRow]>> {
        if self.day_rows.as_ref().is_some_and(|d| d.from > from) {
            self.day_rows = None;
        }
        let asked = self.asked_from.map_or(from, |a| a.min(from));
        // A new build starts at `asked`; what the next one needs is tracked from here.
        self.asked_from = Some(if self.day_rows.is_none() { from } else { asked });
        let rows = &self.rows;
        &self
            .day_rows
            .get_or_insert_with(|| SharedDayRows {
                from: asked,
                rows: rows
                    .iter()
                    .map(|(id, rows)| {
                        let start = rows.partition_point(|r| r.date < asked);
                        let rows: Arc<[DayRow]> = rows[start..]
                            .iter()
                            .map(|r| DayRow {
                                date: r.date,
                                close: r.close,
                                volume: r.volume,
                            })
                            .collect();
                        (id.clone(), rows)
                    })
                    .collect(),
            })
            .rows
    }
}

/// One factor's cached values dated in `[from, to]`.
struct FactorEntry {
    fingerprint: String,
    from: NaiveDate,
    to: NaiveDate,
    values: Vec<FactorValue>,
}

/// The cache, shared by every job of a spine.
#[derive(Default)]
pub struct PanelCache {
    markets: Mutex<BTreeMap<MarketId, Entry>>,
    factors: Mutex<BTreeMap<String, FactorEntry>>,
    /// Read prices from this Parquet catalog instead of the database (a backtest with
    /// `catalog.backtest_prices = "catalog"`).
    catalog: Option<std::path::PathBuf>,
}

/// Concurrent reads a load is split into: one per core of the machines this runs on. A
/// read's cost is SQLite stepping through every row on its connection's thread, so two
/// halves on two connections take about half the time, and every job waiting on the cache
/// waits less.
const PARALLEL_READS: usize = 2;

async fn load_rows(
    db: &HistoricalDb,
    ids: &[InstrumentId],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<InstrumentId, Vec<SessionPrice>>, StoreError> {
    let part = ids.len().div_ceil(PARALLEL_READS).max(1);
    let parts =
        futures::future::try_join_all(ids.chunks(part).map(|c| db.prices_many(c, from, to)))
            .await?;
    Ok(parts.into_iter().flatten().collect())
}

/// The same rows as [`load_rows`], from the Parquet catalog at `dir` — after checking that
/// it was exported from the data the database holds now (`fingerprint`).
async fn load_rows_from_catalog(
    dir: &std::path::Path,
    market: &MarketId,
    fingerprint: &str,
    ids: Vec<InstrumentId>,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<InstrumentId, Vec<SessionPrice>>, StoreError> {
    let dir = dir.to_owned();
    let market = market.as_str().to_owned();
    let fingerprint = fingerprint.to_owned();
    let read = move || {
        let catalog = CatalogReader::open(&dir)?;
        catalog.check_current(&market, &fingerprint)?;
        catalog.prices_many(&market, &ids, from, to)
    };
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| StoreError::Rejected(format!("reading prices from the catalog: {e}")))?
        .map_err(|e| StoreError::Rejected(e.to_string()))
}

/// The last date a read for `to` covers.
fn read_ahead(to: NaiveDate) -> NaiveDate {
    to.checked_add_days(Days::new(READ_AHEAD_DAYS))
        .unwrap_or(to)
}

impl PanelCache {
    /// A cache that reads its prices from the Parquet catalog at `dir` (instruments, factors
    /// and the data fingerprint still come from the database).
    pub fn reading_catalog(dir: std::path::PathBuf) -> Self {
        Self {
            catalog: Some(dir),
            ..Self::default()
        }
    }

    /// Every instrument's rows in `[from, to]`, from the catalog or the database.
    async fn load(
        &self,
        db: &HistoricalDb,
        market: &MarketId,
        fingerprint: &str,
        instruments: &[Instrument],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<BTreeMap<String, Vec<SessionPrice>>, StoreError> {
        let ids: Vec<InstrumentId> = instruments
            .iter()
            .map(|i| i.instrument_id.clone())
            .collect();
        let rows = match &self.catalog {
            Some(dir) => load_rows_from_catalog(dir, market, fingerprint, ids, from, to).await?,
            None => load_rows(db, &ids, from, to).await?,
        };
        Ok(rows
            .into_iter()
            .map(|(id, rows)| (id.as_str().to_owned(), rows))
            .collect())
    }

    /// The market's instruments and their rows from `history_days` calendar days before
    /// `as_of` up to `as_of`, with the market factor over the same dates: what
    /// [`prometheus::features::load::load_panel`] reads, from memory.
    ///
    /// # Errors
    /// Store failures.
    pub async fn panel(
        &self,
        db: &HistoricalDb,
        market: &MarketId,
        as_of: NaiveDate,
        history_days: u64,
    ) -> Result<(Vec<Instrument>, Panel), StoreError> {
        let from = as_of
            .checked_sub_days(Days::new(history_days))
            .unwrap_or(as_of);
        // One fingerprint read serves both the prices and the market factor.
        let fingerprint = db.data_fingerprint(market.as_str()).await?;
        let (listed, instruments) = {
            let mut markets = self.markets.lock().await;
            let entry = self
                .covering(&mut markets, db, &fingerprint, market, from, as_of)
                .await?;
            let listed = entry.instruments.clone();
            // Windows onto the cached rows: nothing is copied but a reference per name.
            let instruments = entry
                .day_rows(from)
                .iter()
                .filter_map(|(id, rows)| {
                    let a = rows.partition_point(|r| r.date < from);
                    let b = rows.partition_point(|r| r.date <= as_of);
                    (b > a).then(|| (id.clone(), SharedRows::window(Arc::clone(rows), a..b)))
                })
                .collect();
            (listed, instruments)
        };
        let market_returns = self
            .factor_checked(db, &fingerprint, &format!("MKT:{market}"), from, as_of)
            .await?
            .into_iter()
            .map(|f| (f.trade_date, f.value))
            .collect();
        Ok((
            listed,
            Panel {
                instruments,
                market: market_returns,
            },
        ))
    }

    /// The market's instruments and every instrument's rows dated in `[from, to]` (those
    /// with at least one), from memory after the first read: the engines' panels and the
    /// simulated broker's prices.
    ///
    /// # Errors
    /// Store failures.
    pub async fn rows(
        &self,
        db: &HistoricalDb,
        market: &MarketId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<(Vec<Instrument>, BTreeMap<String, Vec<SessionPrice>>), StoreError> {
        let fingerprint = db.data_fingerprint(market.as_str()).await?;
        let mut markets = self.markets.lock().await;
        let entry = self
            .covering(&mut markets, db, &fingerprint, market, from, to)
            .await?;
        let rows = entry
            .rows
            .iter()
            .filter_map(|(id, rows)| {
                let a = rows.partition_point(|r| r.date < from);
                let b = rows.partition_point(|r| r.date <= to);
                (b > a).then(|| (id.clone(), rows[a..b].to_vec()))
            })
            .collect();
        Ok((entry.instruments.clone(), rows))
    }

    /// The market's entry, read or extended so that it covers `[from, to]` (and dropped
    /// first when `fingerprint` says the data changed).
    async fn covering<'m>(
        &self,
        markets: &'m mut BTreeMap<MarketId, Entry>,
        db: &HistoricalDb,
        fingerprint: &str,
        market: &MarketId,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<&'m mut Entry, StoreError> {
        if markets
            .get(market)
            .is_some_and(|e| e.fingerprint != fingerprint)
        {
            markets.remove(market);
        }
        let entry = match markets.entry(market.clone()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                let instruments = db.instruments(Some(market)).await?;
                let ahead = read_ahead(to);
                let rows = self
                    .load(db, market, fingerprint, &instruments, from, ahead)
                    .await?;
                v.insert(Entry {
                    fingerprint: fingerprint.to_owned(),
                    from,
                    to: ahead,
                    instruments,
                    rows,
                    day_rows: None,
                    asked_from: None,
                })
            }
        };
        if from < entry.from {
            let before = entry.from.pred_opt().unwrap_or(entry.from);
            let earlier = self
                .load(db, market, fingerprint, &entry.instruments, from, before)
                .await?;
            for (id, mut rows) in earlier {
                let slot = entry.rows.entry(id).or_default();
                rows.append(slot);
                *slot = rows;
            }
            entry.from = from;
            entry.day_rows = None;
        }
        if to > entry.to {
            let after = entry.to.succ_opt().unwrap_or(entry.to);
            let ahead = read_ahead(to);
            let later = self
                .load(db, market, fingerprint, &entry.instruments, after, ahead)
                .await?;
            for (id, rows) in later {
                entry.rows.entry(id).or_default().extend(rows);
            }
            entry.to = ahead;
            entry.day_rows = None;
        }
        Ok(entry)
    }

    /// A factor's values dated in `[from, to]` (the market's data fingerprint guards them
    /// like the prices).
    ///
    /// # Errors
    /// Store failures.
    pub async fn factor(
        &self,
        db: &HistoricalDb,
        market: &MarketId,
        factor_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FactorValue>, StoreError> {
        let fingerprint = db.data_fingerprint(market.as_str()).await?;
        self.factor_checked(db, &fingerprint, factor_id, from, to)
            .await
    }

    /// [`Self::factor`] against an already read fingerprint.
    async fn factor_checked(
        &self,
        db: &HistoricalDb,
        fingerprint: &str,
        factor_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<FactorValue>, StoreError> {
        let mut factors = self.factors.lock().await;
        if factors
            .get(factor_id)
            .is_some_and(|e| e.fingerprint != fingerprint)
        {
            factors.remove(factor_id);
        }
        let entry = match factors.entry(factor_id.to_owned()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => v.insert(FactorEntry {
                fingerprint: fingerprint.to_owned(),
                from,
                to,
                values: db.factor(factor_id, from, to).await?,
            }),
        };
        if from < entry.from {
            let before = entry.from.pred_opt().unwrap_or(entry.from);
            let mut earlier = db.factor(factor_id, from, before).await?;
            earlier.append(&mut entry.values);
            entry.values = earlier;
            entry.from = from;
        }
        if to > entry.to {
            let after = entry.to.succ_opt().unwrap_or(entry.to);
            entry.values.extend(db.factor(factor_id, after, to).await?);
            entry.to = to;
        }
        let a = entry.values.partition_point(|f| f.trade_date < from);
        let b = entry.values.partition_point(|f| f.trade_date <= to);
        Ok(entry.values[a..b.max(a)].to_vec())
    }

    /// The ingest or derive job rewrote the market's prices or factors dated on or after
    /// `from`: cached rows from that date on are dropped (they are read again when next
    /// asked for), and the current fingerprint, which includes the job's own batch, is
    /// accepted.
    ///
    /// # Errors
    /// Store failures.
    pub async fn written(
        &self,
        db: &HistoricalDb,
        market: &MarketId,
        from: NaiveDate,
    ) -> Result<(), StoreError> {
        let fingerprint = db.data_fingerprint(market.as_str()).await?;
        let instruments = db.instruments(Some(market)).await?;
        {
            let mut factors = self.factors.lock().await;
            factors.retain(|_, e| from > e.from);
            for e in factors.values_mut() {
                e.values
                    .truncate(e.values.partition_point(|f| f.trade_date < from));
                e.to = e.to.min(from.pred_opt().unwrap_or(from));
                e.fingerprint.clone_from(&fingerprint);
            }
        }
        let mut markets = self.markets.lock().await;
        let Some(entry) = markets.get_mut(market) else {
            return Ok(());
        };
        if from <= entry.from || instruments.len() != entry.instruments.len() {
            markets.remove(market);
            return Ok(());
        }
        for rows in entry.rows.values_mut() {
            rows.truncate(rows.partition_point(|r| r.date < from));
        }
        entry.day_rows = None;
        entry.to = entry.to.min(from.pred_opt().unwrap_or(from));
        entry.instruments = instruments;
        entry.fingerprint = fingerprint;
        Ok(())
    }
}

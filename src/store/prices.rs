//! Daily prices: idempotent bulk writes and point-in-time reads.

use super::HistoricalDb;
use super::bulk::{BulkRow, BulkWriter, CellSink, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::{Pool, on_pool, placeholders};
use super::tx::BeginWrite;
use crate::domain::{DailyBar, InstrumentId, InstrumentSeries};
use async_trait::async_trait;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// What a price write did, row by row.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PriceWriteSummary {
    /// Rows for dates that were not stored before.
    pub inserted: u64,
    /// Rows whose stored values changed (a corrected file).
    pub updated: u64,
    /// Rows identical to what was stored (a repeated import).
    pub unchanged: u64,
}

/// Daily bars.
#[async_trait]
pub trait PriceStore {
    /// Writes bars, inserting new dates and updating changed ones; identical rows are left
    /// alone. Fields a row does not carry (`None`, e.g. volume from a wide file) keep their
    /// stored value. Marks the earliest changed date of each instrument so derived series
    /// are recomputed from there. One transaction for the whole call.
    async fn write_prices(
        &self,
        batch_id: &str,
        series: &[InstrumentSeries],
    ) -> Result<PriceWriteSummary, StoreError>;

    /// Bars of `instrument` with `from <= trade_date <= as_of`, ascending.
    async fn bars(
        &self,
        instrument: &InstrumentId,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<DailyBar>, StoreError>;

    /// Bars of several instruments with `from <= trade_date <= as_of`, ascending per
    /// instrument: what the simulated broker fills and marks to market with.
    async fn bars_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<DailyBar>>, StoreError>;

    /// Adjusted closes of `instrument` with `from <= trade_date <= as_of`, ascending: the
    /// two columns return computations need, read without the rest of the bar.
    async fn adj_closes(
        &self,
        instrument: &InstrumentId,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<(NaiveDate, f64)>, StoreError>;

    /// Adjusted closes of several instruments with `from <= trade_date <= as_of`, ascending
    /// by date per instrument: one query where a loop over [`PriceStore::adj_closes`] would
    /// make one per instrument (the daily derive job reads hundreds at once).
    async fn adj_closes_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<(NaiveDate, f64)>>, StoreError>;

    /// Adjusted close, volume and adjusted open (`open × adj_close / close`) of several
    /// instruments with `from <= trade_date <= as_of`, ascending by date per instrument:
    /// what the engines' panel cache and the simulated broker keep in memory.
    async fn prices_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<SessionPrice>>, StoreError>;

    /// Adjusted closes and volumes of several instruments with `from <= trade_date <=
    /// as_of`, ascending by date per instrument: the inputs of the numeric window encoder.
    async fn closes_volumes_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<(NaiveDate, f64, Option<f64>)>>, StoreError>;

    /// The date `rows` observations before `before` (exclusive) for `instrument`, or `None`
    /// when it has fewer rows than that: where a computation needing `rows` of history
    /// ending just before `before` should start reading.
    async fn lookback_start(
        &self,
        instrument: &InstrumentId,
        before: NaiveDate,
        rows: u32,
    ) -> Result<Option<NaiveDate>, StoreError>;

    /// Number of stored price rows (all instruments, all dates).
    async fn price_row_count(&self) -> Result<u64, StoreError>;

    /// The latest session with a price for any instrument of `market`: how fresh the
    /// market's data is (the freshness watchdog and `/metrics` read it).
    async fn latest_price_date(&self, market: &str) -> Result<Option<NaiveDate>, StoreError>;
}

const PRICES: TableSpec = TableSpec {
    name: "prices_daily",
    columns: &[
        "instrument_id",
        "trade_date",
        "open",
        "high",
        "low",
        "close",
        "adj_close",
        "volume",
        "batch_id",
    ],
    key: &["instrument_id", "trade_date"],
};

const MARKS: TableSpec = TableSpec {
    name: "derive_marks",
    columns: &["instrument_id", "dirty_from"],
    key: &["instrument_id"],
};

struct PriceRow<'a> {
    instrument_id: &'a str,
    bar: DailyBar,
    batch_id: &'a str,
}

impl BulkRow for PriceRow<'_> {
    fn write(&self, s: &mut dyn CellSink) {
        let b = &self.bar;
        s.text(self.instrument_id);
        s.date(b.trade_date);
        s.real(b.open);
        s.real(b.high);
        s.real(b.low);
        s.real(b.close);
        s.real(Some(b.adj_close));
        s.real(b.volume);
        s.text(self.batch_id);
    }
}

struct MarkRow(String, NaiveDate);

impl BulkRow for MarkRow {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(&self.0);
        s.date(self.1);
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct BarRow {
    trade_date: NaiveDate,
    open: Option<f64>,
    high: Option<f64>,
    low: Option<f64>,
    close: Option<f64>,
    adj_close: f64,
    volume: Option<f64>,
}

impl From<BarRow> for DailyBar {
    fn from(r: BarRow) -> Self {
        Self {
            trade_date: r.trade_date,
            open: r.open,
            high: r.high,
            low: r.low,
            close: r.close,
            adj_close: r.adj_close,
            volume: r.volume,
        }
    }
}

const SELECT_RANGE: &str = "SELECT trade_date, open, high, low, close, adj_close, volume FROM prices_daily \
     WHERE instrument_id = $1 AND trade_date >= $2 AND trade_date <= $3 ORDER BY trade_date";

/// `incoming` with the fields it lacks taken from `stored`.
fn fill_missing(incoming: &DailyBar, stored: &DailyBar) -> DailyBar {
    DailyBar {
        trade_date: incoming.trade_date,
        open: incoming.open.or(stored.open),
        high: incoming.high.or(stored.high),
        low: incoming.low.or(stored.low),
        close: incoming.close.or(stored.close),
        adj_close: incoming.adj_close,
        volume: incoming.volume.or(stored.volume),
    }
}

/// Rows to insert and to update for one series, given what is stored for its date range.
fn diff_series<'a>(
    series: &'a InstrumentSeries,
    stored: &[DailyBar],
    batch_id: &'a str,
    fresh: &mut Vec<PriceRow<'a>>,
    changed: &mut Vec<PriceRow<'a>>,
    summary: &mut PriceWriteSummary,
) -> Option<NaiveDate> {
    let stored: BTreeMap<NaiveDate, &DailyBar> = stored.iter().map(|b| (b.trade_date, b)).collect();
    let mut dirty_from: Option<NaiveDate> = None;
    let id = series.instrument_id.as_str();
    for bar in &series.bars {
        let row = match stored.get(&bar.trade_date) {
            None => {
                summary.inserted += 1;
                fresh.push(PriceRow {
                    instrument_id: id,
                    bar: *bar,
                    batch_id,
                });
                bar.trade_date
            }
            Some(old) => {
                let merged = fill_missing(bar, old);
                if merged == **old {
                    summary.unchanged += 1;
                    continue;
                }
                summary.updated += 1;
                changed.push(PriceRow {
                    instrument_id: id,
                    bar: merged,
                    batch_id,
                });
                bar.trade_date
            }
        };
        dirty_from = Some(dirty_from.map_or(row, |d| d.min(row)));
    }
    dirty_from
}

/// Reads several instruments' price columns from SQLite packed one row per instrument by
/// the `pv2_pack_rows` aggregate (registered on every connection, see
/// `prometheus_sqlite_ext`): each row's date and its values' IEEE-754 bits, NULL as NaN.
/// The SQLite driver's cost is per row, so a year of 500 names comes back as 500 rows
/// instead of 126,000; and no number is printed or parsed, so the values are bit for bit
/// those of a row-by-row read (conformance tests check it). An instrument whose rows hold
/// something that is not a number (or a malformed date) is returned in the second list, to
/// be read row by row, which reports it. `build` makes the caller's row from a date and
/// the values of `columns` (`None` skips the row).
async fn packed_sqlite<T>(
    pool: &sqlx::SqlitePool,
    columns: &[&str],
    instruments: &[InstrumentId],
    from: NaiveDate,
    to: NaiveDate,
    build: impl Fn(NaiveDate, prometheus_sqlite_ext::PackedRow<'_>) -> Option<T>,
) -> Result<(PackedSeries<T>, Vec<InstrumentId>), StoreError> {
    let mut out = Vec::with_capacity(instruments.len());
    let mut by_rows = Vec::new();
    for chunk in instruments.chunks(2000) {
        let sql = format!(
            "SELECT instrument_id, {}(trade_date, {}) \
             FROM prices_daily WHERE trade_date >= $1 AND trade_date <= $2 AND instrument_id IN ({}) \
             GROUP BY instrument_id ORDER BY instrument_id",
            prometheus_sqlite_ext::PACK_ROWS,
            columns.join(", "),
            placeholders(3, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, Option<Vec<u8>>)>(sqlx::AssertSqlSafe(sql))
            .bind(from)
            .bind(to);
        for id in chunk {
            q = q.bind(id.as_str());
        }
        let rows = q
            .fetch_all(pool)
            .await
            .map_err(StoreError::query("read packed prices"))?;
        for (id, packed) in rows {
            let Some(packed) = packed else {
                by_rows.push(InstrumentId::new(id));
                continue;
            };
            let rows = prometheus_sqlite_ext::unpack(&packed, columns.len()).ok_or_else(|| {
                StoreError::Corrupt {
                    what: "packed prices",
                    detail: format!(
                        "{id}: {} bytes are not whole rows of {} values",
                        packed.len(),
                        columns.len()
                    ),
                }
            })?;
            let mut series = Vec::with_capacity(rows.len());
            for row in rows {
                let date = std::str::from_utf8(row.date)
                    .ok()
                    .and_then(parse_iso_date)
                    .ok_or_else(|| StoreError::Corrupt {
                        what: "packed prices",
                        detail: format!("{id}: bad date {:?}", String::from_utf8_lossy(row.date)),
                    })?;
                series.extend(build(date, row));
            }
            out.push((id, series));
        }
    }
    Ok((out, by_rows))
}

/// A `YYYY-MM-DD` date as SQLite stores it. The packed reads parse one per row — hundreds
/// of thousands a load — and chrono's format-driven parser showed in their profile; this
/// reads the fixed layout directly.
pub(crate) fn parse_iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let year = i32::try_from(num(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, num(5..7)?, num(8..10)?)
}

/// One session of an instrument as the engines and the broker use it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SessionPrice {
    /// The trading date.
    pub date: NaiveDate,
    /// Adjusted close.
    pub close: f64,
    /// Volume, when known.
    pub volume: Option<f64>,
    /// Open adjusted like the close, when the open is known.
    pub open: Option<f64>,
}

/// The adjusted open of a bar's raw open and close.
pub(crate) fn adjusted_open(open: Option<f64>, close: Option<f64>, adj_close: f64) -> Option<f64> {
    let factor = match close {
        Some(c) if c > 0.0 => adj_close / c,
        _ => 1.0,
    };
    open.map(|o| o * factor)
}

/// Instruments with their rows, as [`packed_sqlite`] returns them.
type PackedSeries<T> = Vec<(String, Vec<T>)>;

#[async_trait]
impl PriceStore for HistoricalDb {
    async fn write_prices(
        &self,
        batch_id: &str,
        series: &[InstrumentSeries],
    ) -> Result<PriceWriteSummary, StoreError> {
        let tuning = self.tuning;
        let mut summary = PriceWriteSummary::default();
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin price write"))?;
            let mut fresh = Vec::new();
            let mut changed = Vec::new();
            let mut dirty: Vec<(String, NaiveDate)> = Vec::new();
            for s in series {
                let (Some(first), Some(last)) = (s.bars.first(), s.bars.last()) else { continue };
                let stored: Vec<BarRow> = sqlx::query_as(SELECT_RANGE)
                    .bind(s.instrument_id.as_str())
                    .bind(first.trade_date)
                    .bind(last.trade_date)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(StoreError::query("read stored prices"))?;
                let stored: Vec<DailyBar> = stored.into_iter().map(DailyBar::from).collect();
                if let Some(d) = diff_series(s, &stored, batch_id, &mut fresh, &mut changed, &mut summary) {
                    dirty.push((s.instrument_id.as_str().to_owned(), d));
                }
            }
            tx.write_rows(&PRICES, &fresh, WriteMode::Insert, &tuning).await?;
            tx.write_rows(&PRICES, &changed, WriteMode::Upsert, &tuning).await?;
            if !dirty.is_empty() {
                let pending: Vec<(String, NaiveDate)> =
                    sqlx::query_as("SELECT instrument_id, dirty_from FROM derive_marks")
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(StoreError::query("read derive marks"))?;
                let mut marks: BTreeMap<String, NaiveDate> = pending.into_iter().collect();
                for (id, d) in dirty {
                    let e = marks.entry(id).or_insert(d);
                    *e = (*e).min(d);
                }
                let rows: Vec<MarkRow> = marks.into_iter().map(|(id, d)| MarkRow(id, d)).collect();
                tx.write_rows(&MARKS, &rows, WriteMode::Upsert, &tuning).await?;
            }
            tx.commit().await.map_err(StoreError::query("commit price write"))?;
        });
        Ok(summary)
    }

    async fn bars(
        &self,
        instrument: &InstrumentId,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<DailyBar>, StoreError> {
        let rows: Vec<BarRow> = on_pool!(&self.pool, p => sqlx::query_as(SELECT_RANGE)
            .bind(instrument.as_str())
            .bind(from)
            .bind(as_of)
            .fetch_all(p)
            .await
            .map_err(StoreError::query("read prices"))?);
        Ok(rows.into_iter().map(DailyBar::from).collect())
    }

    async fn adj_closes(
        &self,
        instrument: &InstrumentId,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<(NaiveDate, f64)>, StoreError> {
        const SQL: &str = "SELECT trade_date, adj_close FROM prices_daily \
             WHERE instrument_id = $1 AND trade_date >= $2 AND trade_date <= $3 ORDER BY trade_date";
        on_pool!(&self.pool, p => sqlx::query_as(SQL)
            .bind(instrument.as_str())
            .bind(from)
            .bind(as_of)
            .fetch_all(p)
            .await
            .map_err(StoreError::query("read adjusted closes")))
    }

    async fn adj_closes_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<(NaiveDate, f64)>>, StoreError> {
        Ok(self
            .closes_volumes_many(instruments, from, as_of)
            .await?
            .into_iter()
            .map(|(id, rows)| (id, rows.into_iter().map(|(d, c, _)| (d, c)).collect()))
            .collect())
    }

    async fn bars_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<DailyBar>>, StoreError> {
        type Row = (
            String,
            NaiveDate,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            f64,
            Option<f64>,
        );
        let mut out: BTreeMap<InstrumentId, Vec<DailyBar>> = BTreeMap::new();
        let mut rest = instruments.to_vec();
        if let Pool::Sqlite(p) = &self.pool {
            let columns = ["open", "high", "low", "close", "adj_close", "volume"];
            let (packed, by_rows) =
                packed_sqlite(p, &columns, instruments, from, as_of, |trade_date, v| {
                    Some(DailyBar {
                        trade_date,
                        open: v.value(0),
                        high: v.value(1),
                        low: v.value(2),
                        close: v.value(3),
                        adj_close: v.value(4)?,
                        volume: v.value(5),
                    })
                })
                .await?;
            for (id, bars) in packed {
                out.insert(InstrumentId::new(id), bars);
            }
            rest = by_rows;
        }
        for chunk in rest.chunks(2000) {
            let sql = format!(
                "SELECT instrument_id, trade_date, open, high, low, close, adj_close, volume FROM prices_daily \
                 WHERE trade_date >= $1 AND trade_date <= $2 AND instrument_id IN ({}) \
                 ORDER BY instrument_id, trade_date",
                placeholders(3, chunk.len())
            );
            let rows: Vec<Row> = on_pool!(&self.pool, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(from).bind(as_of);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(p).await.map_err(StoreError::query("read bars"))?
            });
            for (id, trade_date, open, high, low, close, adj_close, volume) in rows {
                out.entry(InstrumentId::new(id))
                    .or_default()
                    .push(DailyBar {
                        trade_date,
                        open,
                        high,
                        low,
                        close,
                        adj_close,
                        volume,
                    });
            }
        }
        Ok(out)
    }

    async fn prices_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<SessionPrice>>, StoreError> {
        type Row = (
            String,
            NaiveDate,
            f64,
            Option<f64>,
            Option<f64>,
            Option<f64>,
        );
        let mut out: BTreeMap<InstrumentId, Vec<SessionPrice>> = BTreeMap::new();
        let mut rest = instruments.to_vec();
        if let Pool::Sqlite(p) = &self.pool {
            let columns = ["adj_close", "volume", "open", "close"];
            let (packed, by_rows) =
                packed_sqlite(p, &columns, instruments, from, as_of, |date, v| {
                    let close = v.value(0)?;
                    Some(SessionPrice {
                        date,
                        close,
                        volume: v.value(1),
                        open: adjusted_open(v.value(2), v.value(3), close),
                    })
                })
                .await?;
            for (id, rows) in packed {
                out.insert(InstrumentId::new(id), rows);
            }
            rest = by_rows;
        }
        for chunk in rest.chunks(2000) {
            let sql = format!(
                "SELECT instrument_id, trade_date, adj_close, volume, open, close FROM prices_daily \
                 WHERE trade_date >= $1 AND trade_date <= $2 AND instrument_id IN ({}) \
                 ORDER BY instrument_id, trade_date",
                placeholders(3, chunk.len())
            );
            let rows: Vec<Row> = on_pool!(&self.pool, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(from).bind(as_of);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(p).await.map_err(StoreError::query("read prices"))?
            });
            for (id, date, close, volume, open, raw) in rows {
                out.entry(InstrumentId::new(id))
                    .or_default()
                    .push(SessionPrice {
                        date,
                        close,
                        volume,
                        open: adjusted_open(open, raw, close),
                    });
            }
        }
        Ok(out)
    }

    async fn closes_volumes_many(
        &self,
        instruments: &[InstrumentId],
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<BTreeMap<InstrumentId, Vec<(NaiveDate, f64, Option<f64>)>>, StoreError> {
        type Row = (String, NaiveDate, f64, Option<f64>);
        let mut out: BTreeMap<InstrumentId, Vec<(NaiveDate, f64, Option<f64>)>> = BTreeMap::new();
        let mut rest = instruments.to_vec();
        if let Pool::Sqlite(p) = &self.pool {
            let columns = ["adj_close", "volume"];
            let (packed, by_rows) = packed_sqlite(p, &columns, instruments, from, as_of, |d, v| {
                Some((d, v.value(0)?, v.value(1)))
            })
            .await?;
            for (id, rows) in packed {
                out.insert(InstrumentId::new(id), rows);
            }
            rest = by_rows;
        }
        for chunk in rest.chunks(2000) {
            let sql = format!(
                "SELECT instrument_id, trade_date, adj_close, volume FROM prices_daily \
                 WHERE trade_date >= $1 AND trade_date <= $2 AND instrument_id IN ({}) \
                 ORDER BY instrument_id, trade_date",
                placeholders(3, chunk.len())
            );
            let rows: Vec<Row> = on_pool!(&self.pool, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(from).bind(as_of);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(p)
                    .await
                    .map_err(StoreError::query("read closes and volumes"))?
            });
            for (id, date, close, volume) in rows {
                out.entry(InstrumentId::new(id))
                    .or_default()
                    .push((date, close, volume));
            }
        }
        Ok(out)
    }

    async fn lookback_start(
        &self,
        instrument: &InstrumentId,
        before: NaiveDate,
        rows: u32,
    ) -> Result<Option<NaiveDate>, StoreError> {
        const SQL: &str = "SELECT trade_date FROM prices_daily WHERE instrument_id = $1 AND trade_date < $2 \
             ORDER BY trade_date DESC LIMIT 1 OFFSET $3";
        let offset = i64::from(rows.saturating_sub(1));
        on_pool!(&self.pool, p => sqlx::query_scalar(SQL)
            .bind(instrument.as_str())
            .bind(before)
            .bind(offset)
            .fetch_optional(p)
            .await
            .map_err(StoreError::query("read lookback start")))
    }

    async fn price_row_count(&self) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(&self.pool, p => sqlx::query_scalar("SELECT COUNT(*) FROM prices_daily")
            .fetch_one(p)
            .await
            .map_err(StoreError::query("count prices"))?);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn latest_price_date(&self, market: &str) -> Result<Option<NaiveDate>, StoreError> {
        // Per instrument the primary key's last entry, then the largest: an index lookup
        // per instrument instead of a scan of every price.
        const SQL: &str = "SELECT MAX((SELECT MAX(p.trade_date) FROM prices_daily p \
             WHERE p.instrument_id = i.instrument_id)) FROM instruments i WHERE i.market_id = $1";
        on_pool!(&self.pool, p => sqlx::query_scalar::<_, Option<NaiveDate>>(SQL)
            .bind(market)
            .fetch_one(p)
            .await
            .map_err(StoreError::query("read the latest price date")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(d: u32, adj: f64, vol: Option<f64>) -> DailyBar {
        DailyBar {
            trade_date: NaiveDate::from_ymd_opt(2024, 1, d).unwrap(),
            open: vol.map(|_| adj),
            high: vol.map(|_| adj),
            low: vol.map(|_| adj),
            close: vol.map(|_| adj),
            adj_close: adj,
            volume: vol,
        }
    }

    #[test]
    fn iso_dates_parse_like_chrono_and_bad_ones_are_refused() {
        for d in ["2024-01-02", "1999-12-31", "2024-02-29", "0001-01-01"] {
            assert_eq!(
                parse_iso_date(d),
                NaiveDate::parse_from_str(d, "%Y-%m-%d").ok(),
                "{d}"
            );
        }
        for bad in [
            "2023-02-29",
            "2024-13-01",
            "2024-1-02",
            "2024/01/02",
            "20a4-01-02",
            "",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn diff_separates_new_changed_and_unchanged_rows() {
        let series = InstrumentSeries {
            instrument_id: InstrumentId::from("US_EQ:A"),
            bars: vec![bar(2, 10.0, None), bar(3, 11.0, None), bar(4, 12.0, None)],
        };
        // Day 2 stored with volume (kept: the wide row carries none), day 3 stored differently.
        let stored = vec![bar(2, 10.0, Some(100.0)), bar(3, 10.5, Some(200.0))];
        let (mut fresh, mut changed, mut s) =
            (Vec::new(), Vec::new(), PriceWriteSummary::default());
        let dirty = diff_series(&series, &stored, "b", &mut fresh, &mut changed, &mut s);
        assert_eq!(
            s,
            PriceWriteSummary {
                inserted: 1,
                updated: 1,
                unchanged: 1
            }
        );
        assert_eq!(fresh[0].bar.trade_date.to_string(), "2024-01-04");
        assert_eq!(
            changed[0].bar.volume,
            Some(200.0),
            "unknown volume must not erase a known one"
        );
        assert_eq!(changed[0].bar.adj_close, 11.0);
        assert_eq!(dirty, NaiveDate::from_ymd_opt(2024, 1, 3));
    }
}

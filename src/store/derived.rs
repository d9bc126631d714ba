//! Derived series: returns, realised volatility, factors, and the marks that say which
//! instruments need recomputing from which date.

use super::HistoricalDb;
use super::bulk::{BulkRow, BulkWriter, CellSink, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::{on_pool, placeholders};
use super::tx::BeginWrite;
use crate::domain::{
    ConfigId, FactorValue, InstrumentId, MarketId, ReturnValue, RunId, VolatilityValue,
};
use async_trait::async_trait;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Recomputed series of one instrument from `from` on; replaces everything stored from that
/// date (so a recomputation never leaves stale rows behind and never duplicates).
#[derive(Clone, Debug)]
pub struct DerivedSlice {
    /// The instrument.
    pub instrument_id: InstrumentId,
    /// First recomputed date.
    pub from: NaiveDate,
    /// Returns for dates ≥ `from`, every configured horizon.
    pub returns: Vec<ReturnValue>,
    /// Volatilities for dates ≥ `from`, every configured window.
    pub volatility: Vec<VolatilityValue>,
    /// The configured return horizons: their stored rows from `from` on are replaced (a
    /// horizon dropped from the configuration keeps the rows it had, which stop growing).
    pub horizons: Vec<u32>,
    /// The configured volatility windows, likewise.
    pub windows: Vec<u32>,
}

/// Derived series storage.
#[async_trait]
pub trait DerivedStore {
    /// Instruments whose prices changed since the last derivation, with the earliest
    /// changed date of each.
    async fn derive_marks(&self) -> Result<Vec<(InstrumentId, NaiveDate)>, StoreError>;

    /// Replaces the instruments' returns and volatilities from each slice's `from` date.
    /// One transaction.
    async fn replace_derived(
        &self,
        slices: &[DerivedSlice],
        run_id: &RunId,
        config_id: &ConfigId,
    ) -> Result<(), StoreError>;

    /// Clears marks that were fully processed: each mark is removed only if it still points
    /// at the processed date or later (an import that moved it earlier meanwhile keeps it).
    /// Called last, after returns, volatilities and factors are written, so a crash in
    /// between simply repeats the (idempotent) derivation.
    async fn clear_derive_marks(
        &self,
        processed: &[(InstrumentId, NaiveDate)],
    ) -> Result<(), StoreError>;

    /// Replaces the factor values of the given factor ids from `from` on.
    async fn replace_factors(
        &self,
        factor_ids: &[String],
        from: NaiveDate,
        values: &[FactorValue],
        run_id: &RunId,
        config_id: &ConfigId,
    ) -> Result<(), StoreError>;

    /// Returns over `horizon_days` of `instrument`, `from <= trade_date <= as_of`.
    async fn returns(
        &self,
        instrument: &InstrumentId,
        horizon_days: u32,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<ReturnValue>, StoreError>;

    /// Returns over `horizon_days` of every instrument of `market`, `from <= trade_date <=
    /// as_of`, ordered by date then instrument.
    async fn market_returns(
        &self,
        market: &MarketId,
        horizon_days: u32,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<ReturnValue>, StoreError>;

    /// Volatilities over `window_days` of `instrument`, `from <= trade_date <= as_of`.
    async fn volatility(
        &self,
        instrument: &InstrumentId,
        window_days: u32,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<VolatilityValue>, StoreError>;

    /// Values of `factor_id`, `from <= trade_date <= as_of`.
    async fn factor(
        &self,
        factor_id: &str,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<FactorValue>, StoreError>;

    /// Factor ids that have any value stored (for discovery and summaries).
    async fn factor_ids(&self) -> Result<Vec<String>, StoreError>;
}

const RETURNS: TableSpec = TableSpec {
    name: "returns_daily",
    columns: &[
        "instrument_id",
        "trade_date",
        "horizon_days",
        "value",
        "run_id",
        "config_id",
    ],
    key: &["instrument_id", "horizon_days", "trade_date"],
};
const VOLATILITY: TableSpec = TableSpec {
    name: "volatility_daily",
    columns: &[
        "instrument_id",
        "trade_date",
        "window_days",
        "value",
        "run_id",
        "config_id",
    ],
    key: &["instrument_id", "window_days", "trade_date"],
};
const FACTORS: TableSpec = TableSpec {
    name: "factors_daily",
    columns: &[
        "factor_id",
        "trade_date",
        "value",
        "members",
        "run_id",
        "config_id",
    ],
    key: &["factor_id", "trade_date"],
};

/// One statement clearing the stored rows that a group of slices replaces.
struct ClearRows<'a> {
    text: String,
    from: NaiveDate,
    ids: Vec<&'a InstrumentId>,
}

/// The deletes that clear what `slices` replace: per table, one statement for each group of
/// instruments recomputed from the same date with the same series (usually one group for a
/// whole daily run), naming the series so each lookup is a range on the primary key.
/// Statements, not rows, cost most on SQLite here: one per instrument and series was the
/// bulk of a daily derive.
fn clear_statements(slices: &[DerivedSlice]) -> Vec<ClearRows<'_>> {
    // (from, horizons, windows) → instruments.
    type Group<'s> = (NaiveDate, &'s [u32], &'s [u32]);
    let mut groups: BTreeMap<Group<'_>, Vec<&InstrumentId>> = BTreeMap::new();
    for s in slices {
        groups
            .entry((s.from, &s.horizons, &s.windows))
            .or_default()
            .push(&s.instrument_id);
    }
    let list = |n: &[u32]| n.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let mut out = Vec::new();
    for ((from, horizons, windows), ids) in groups {
        for chunk in ids.chunks(900) {
            let params = placeholders(2, chunk.len());
            for (table, column, series) in [
                ("returns_daily", "horizon_days", horizons),
                ("volatility_daily", "window_days", windows),
            ] {
                if series.is_empty() {
                    continue;
                }
                out.push(ClearRows {
                    text: format!(
                        "DELETE FROM {table} WHERE trade_date >= $1 AND {column} IN ({}) AND instrument_id IN ({params})",
                        list(series)
                    ),
                    from,
                    ids: chunk.to_vec(),
                });
            }
        }
    }
    out
}

/// A value row plus the provenance columns every output row carries.
struct Stamped<'a, T> {
    row: &'a T,
    run_id: &'a str,
    config_id: &'a str,
}

impl BulkRow for Stamped<'_, ReturnValue> {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(self.row.instrument_id.as_str());
        s.date(self.row.trade_date);
        s.int(i64::from(self.row.horizon_days));
        s.real(Some(self.row.value));
        s.text(self.run_id);
        s.text(self.config_id);
    }
}

impl BulkRow for Stamped<'_, VolatilityValue> {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(self.row.instrument_id.as_str());
        s.date(self.row.trade_date);
        s.int(i64::from(self.row.window_days));
        s.real(Some(self.row.value));
        s.text(self.run_id);
        s.text(self.config_id);
    }
}

impl BulkRow for Stamped<'_, FactorValue> {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(&self.row.factor_id);
        s.date(self.row.trade_date);
        s.real(Some(self.row.value));
        s.int(i64::from(self.row.members));
        s.text(self.run_id);
        s.text(self.config_id);
    }
}

fn stamp<'a, T>(
    rows: impl IntoIterator<Item = &'a T>,
    run: &'a RunId,
    cfg: &'a ConfigId,
) -> Vec<Stamped<'a, T>>
where
    T: 'a,
{
    rows.into_iter()
        .map(|row| Stamped {
            row,
            run_id: run.as_str(),
            config_id: cfg.as_str(),
        })
        .collect()
}

fn to_u32(v: i64, what: &'static str) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("{v} is not a day count"),
    })
}

#[async_trait]
impl DerivedStore for HistoricalDb {
    async fn derive_marks(&self) -> Result<Vec<(InstrumentId, NaiveDate)>, StoreError> {
        const SQL: &str =
            "SELECT instrument_id, dirty_from FROM derive_marks ORDER BY instrument_id";
        let rows: Vec<(String, NaiveDate)> = self
            .reads()
            .query_as(SQL)
            .fetch_all()
            .await
            .map_err(StoreError::query("read derive marks"))?;
        Ok(rows
            .into_iter()
            .map(|(id, d)| (InstrumentId::new(id), d))
            .collect())
    }

    async fn replace_derived(
        &self,
        slices: &[DerivedSlice],
        run_id: &RunId,
        config_id: &ConfigId,
    ) -> Result<(), StoreError> {
        let returns = stamp(slices.iter().flat_map(|s| &s.returns), run_id, config_id);
        let vols = stamp(slices.iter().flat_map(|s| &s.volatility), run_id, config_id);
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin derived write"))?;
            for sql in clear_statements(slices) {
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql.text)).bind(sql.from);
                for id in sql.ids {
                    q = q.bind(id.as_str());
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(StoreError::query("clear derived rows"))?;
            }
            tx.write_rows(&RETURNS, &returns, WriteMode::Insert, &tuning).await?;
            tx.write_rows(&VOLATILITY, &vols, WriteMode::Insert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit derived write"))
        })
    }

    async fn clear_derive_marks(
        &self,
        processed: &[(InstrumentId, NaiveDate)],
    ) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin clearing marks"))?;
            // One statement per processed date (usually one in all), not per instrument.
            let mut by_date: BTreeMap<NaiveDate, Vec<&InstrumentId>> = BTreeMap::new();
            for (id, from) in processed {
                by_date.entry(*from).or_default().push(id);
            }
            for (from, ids) in &by_date {
                for chunk in ids.chunks(900) {
                    let sql = format!(
                        "DELETE FROM derive_marks WHERE dirty_from >= $1 AND instrument_id IN ({})",
                        placeholders(2, chunk.len())
                    );
                    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(*from);
                    for id in chunk {
                        q = q.bind(id.as_str());
                    }
                    q.execute(&mut *tx)
                        .await
                        .map_err(StoreError::query("clear derive marks"))?;
                }
            }
            tx.commit().await.map_err(StoreError::query("commit clearing marks"))
        })
    }

    async fn replace_factors(
        &self,
        factor_ids: &[String],
        from: NaiveDate,
        values: &[FactorValue],
        run_id: &RunId,
        config_id: &ConfigId,
    ) -> Result<(), StoreError> {
        let rows = stamp(values, run_id, config_id);
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin factor write"))?;
            for id in factor_ids {
                sqlx::query("DELETE FROM factors_daily WHERE factor_id = $1 AND trade_date >= $2")
                    .bind(id.as_str())
                    .bind(from)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::query("clear factor rows"))?;
            }
            tx.write_rows(&FACTORS, &rows, WriteMode::Upsert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit factor write"))
        })
    }

    async fn returns(
        &self,
        instrument: &InstrumentId,
        horizon_days: u32,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<ReturnValue>, StoreError> {
        const SQL: &str = "SELECT trade_date, value FROM returns_daily \
             WHERE instrument_id = $1 AND horizon_days = $2 AND trade_date >= $3 AND trade_date <= $4 \
             ORDER BY trade_date";
        let rows: Vec<(NaiveDate, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(instrument.as_str())
            .bind(i64::from(horizon_days))
            .bind(from)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read returns"))?;
        Ok(rows
            .into_iter()
            .map(|(trade_date, value)| ReturnValue {
                instrument_id: instrument.clone(),
                trade_date,
                horizon_days,
                value,
            })
            .collect())
    }

    async fn market_returns(
        &self,
        market: &MarketId,
        horizon_days: u32,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<ReturnValue>, StoreError> {
        const SQL: &str = "SELECT r.instrument_id, r.trade_date, r.value FROM returns_daily r \
             JOIN instruments i ON i.instrument_id = r.instrument_id \
             WHERE i.market_id = $1 AND r.horizon_days = $2 AND r.trade_date >= $3 AND r.trade_date <= $4";
        let rows: Vec<(String, NaiveDate, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(market.as_str())
            .bind(i64::from(horizon_days))
            .bind(from)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read market returns"))?;
        // Sorted here rather than in SQL: the database can then read in key order.
        let mut out: Vec<ReturnValue> = rows
            .into_iter()
            .map(|(id, trade_date, value)| ReturnValue {
                instrument_id: InstrumentId::new(id),
                trade_date,
                horizon_days,
                value,
            })
            .collect();
        out.sort_by(|a, b| (a.trade_date, &a.instrument_id).cmp(&(b.trade_date, &b.instrument_id)));
        Ok(out)
    }

    async fn volatility(
        &self,
        instrument: &InstrumentId,
        window_days: u32,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<VolatilityValue>, StoreError> {
        const SQL: &str = "SELECT trade_date, value FROM volatility_daily \
             WHERE instrument_id = $1 AND window_days = $2 AND trade_date >= $3 AND trade_date <= $4 \
             ORDER BY trade_date";
        let rows: Vec<(NaiveDate, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(instrument.as_str())
            .bind(i64::from(window_days))
            .bind(from)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read volatility"))?;
        Ok(rows
            .into_iter()
            .map(|(trade_date, value)| VolatilityValue {
                instrument_id: instrument.clone(),
                trade_date,
                window_days,
                value,
            })
            .collect())
    }

    async fn factor(
        &self,
        factor_id: &str,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<FactorValue>, StoreError> {
        const SQL: &str = "SELECT trade_date, value, members FROM factors_daily \
             WHERE factor_id = $1 AND trade_date >= $2 AND trade_date <= $3 ORDER BY trade_date";
        let rows: Vec<(NaiveDate, f64, i64)> = self
            .reads()
            .query_as(SQL)
            .bind(factor_id)
            .bind(from)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read factor"))?;
        rows.into_iter()
            .map(|(trade_date, value, members)| {
                Ok(FactorValue {
                    factor_id: factor_id.to_owned(),
                    trade_date,
                    value,
                    members: to_u32(members, "factors_daily.members")?,
                })
            })
            .collect()
    }

    async fn factor_ids(&self) -> Result<Vec<String>, StoreError> {
        const SQL: &str = "SELECT DISTINCT factor_id FROM factors_daily ORDER BY factor_id";
        self.reads()
            .query_scalar(SQL)
            .fetch_all()
            .await
            .map_err(StoreError::query("read factor ids"))
    }
}

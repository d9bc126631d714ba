//! Writing the catalog: one streamed, ordered read per dataset, cut into market × year
//! partitions, each encoded as Parquet in memory and written only when it changed.

use super::datasets::{Database, Dataset, Kind};
use super::manifest::{DatasetEntry, Manifest, Partition};
use super::{CatalogError, write_atomically};
use crate::files::archive::sha256_hex;
use crate::store::pool::{Pool, on_pool};
use crate::store::prices::parse_iso_date;
use crate::store::{IngestLog, StoreError, Stores};
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float32Builder, Float64Builder, Int64Builder, ListBuilder,
    StringBuilder,
};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sqlx::Row;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

/// Rows gathered before they are handed to the Parquet writer as one record batch.
const BATCH_ROWS: usize = 65_536;

/// What an export did to one dataset.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DatasetSummary {
    /// The dataset.
    pub name: String,
    /// Partitions whose bytes changed (or are new), written.
    pub written: usize,
    /// Partitions whose bytes are as the manifest says, left alone.
    pub unchanged: usize,
    /// Partitions whose rows are gone, removed.
    pub removed: usize,
    /// Rows in the dataset.
    pub rows: u64,
    /// Bytes of its files.
    pub bytes: u64,
}

fn arrow_type(kind: Kind) -> DataType {
    match kind {
        Kind::Text => DataType::Utf8,
        Kind::Date => DataType::Date32,
        Kind::Int => DataType::Int64,
        Kind::Real => DataType::Float64,
        Kind::Bool => DataType::Boolean,
        Kind::Vector => DataType::List(Arc::new(Field::new_list_field(DataType::Float32, true))),
    }
}

/// The Arrow schema of a dataset's files.
pub(crate) fn schema(d: &Dataset) -> SchemaRef {
    Arc::new(Schema::new(
        d.columns
            .iter()
            .map(|c| Field::new(c.name, arrow_type(c.kind), true))
            .collect::<Vec<_>>(),
    ))
}

enum Builder {
    Text(StringBuilder),
    Date(Date32Builder),
    Int(Int64Builder),
    Real(Float64Builder),
    Bool(BooleanBuilder),
    Vector(ListBuilder<Float32Builder>),
}

impl Builder {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Text => Self::Text(StringBuilder::new()),
            Kind::Date => Self::Date(Date32Builder::new()),
            Kind::Int => Self::Int(Int64Builder::new()),
            Kind::Real => Self::Real(Float64Builder::new()),
            Kind::Bool => Self::Bool(BooleanBuilder::new()),
            Kind::Vector => Self::Vector(ListBuilder::new(Float32Builder::new())),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Self::Text(b) => Arc::new(b.finish()),
            Self::Date(b) => Arc::new(b.finish()),
            Self::Int(b) => Arc::new(b.finish()),
            Self::Real(b) => Arc::new(b.finish()),
            Self::Bool(b) => Arc::new(b.finish()),
            Self::Vector(b) => Arc::new(b.finish()),
        }
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date.
fn epoch_days(text: &str) -> Option<i32> {
    let d = parse_iso_date(text.get(..10)?)?;
    i32::try_from(
        d.signed_duration_since(chrono::NaiveDate::default())
            .num_days(),
    )
    .ok()
}

/// The partition being filled: its rows so far, encoded in record batches of
/// [`BATCH_ROWS`].
struct Open {
    market: String,
    year: i32,
    builders: Vec<Builder>,
    pending: usize,
    rows: u64,
    writer: ArrowWriter<Vec<u8>>,
}

fn parquet_error(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> CatalogError + '_ {
    move |e| CatalogError::Parquet {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}

impl Open {
    fn new(d: &Dataset, market: String, year: i32, dir: &Path) -> Result<Self, CatalogError> {
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .build();
        let writer =
            ArrowWriter::try_new(Vec::new(), schema(d), Some(props)).map_err(parquet_error(dir))?;
        Ok(Self {
            market,
            year,
            builders: d.columns.iter().map(|c| Builder::new(c.kind)).collect(),
            pending: 0,
            rows: 0,
            writer,
        })
    }

    fn flush(&mut self, d: &Dataset, dir: &Path) -> Result<(), CatalogError> {
        if self.pending == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch =
            RecordBatch::try_new(schema(d), columns).map_err(|e| CatalogError::Parquet {
                path: dir.to_owned(),
                reason: e.to_string(),
            })?;
        self.writer.write(&batch).map_err(parquet_error(dir))?;
        self.pending = 0;
        Ok(())
    }

    fn close(
        mut self,
        d: &Dataset,
        dir: &Path,
    ) -> Result<(String, i32, u64, Vec<u8>), CatalogError> {
        self.flush(d, dir)?;
        let bytes = self.writer.into_inner().map_err(parquet_error(dir))?;
        Ok((self.market, self.year, self.rows, bytes))
    }
}

/// The SQL that reads a dataset: market, date, then its columns, in partition order.
fn select(d: &Dataset) -> String {
    let cols: Vec<String> = d
        .columns
        .iter()
        .map(|c| match c.kind {
            Kind::Text | Kind::Date => format!("CAST({} AS TEXT)", c.expr),
            Kind::Int | Kind::Bool => format!("CAST({} AS BIGINT)", c.expr),
            Kind::Real => format!("CAST({} AS DOUBLE PRECISION)", c.expr),
            Kind::Vector => c.expr.to_owned(),
        })
        .collect();
    format!(
        "SELECT {market}, CAST({date} AS TEXT), {cols} FROM {from} ORDER BY {market}, {date}, {order}",
        market = d.market,
        date = d.date,
        cols = cols.join(", "),
        from = d.from,
        order = d.order,
    )
}

/// Encodes every partition of `d` from `pool`, handing each finished one to `done`.
async fn encode_partitions(
    pool: &Pool,
    d: &Dataset,
    dir: &Path,
    mut done: impl FnMut(String, i32, u64, Vec<u8>) -> Result<(), CatalogError>,
) -> Result<(), CatalogError> {
    let sql = select(d);
    let what = "read a dataset for the catalog";
    let mut open: Option<Open> = None;
    // SQLite sorts a dataset into partition order; with the pool's in-memory temp store
    // the sort of the largest tables held gigabytes (3.3 GB for 500 names × 21 years), so
    // this read's connection spills its sort to temporary files instead.
    let sqlite = matches!(pool, Pool::Sqlite(_));
    on_pool!(pool, p => {
        let mut conn = p.acquire().await.map_err(StoreError::query(what))?;
        if sqlite {
            sqlx::query("PRAGMA temp_store = FILE")
                .execute(&mut *conn)
                .await
                .map_err(StoreError::query("spill the catalog's sort to disk"))?;
        }
        let streamed = async {
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.as_str())).fetch(&mut *conn);
        while let Some(row) = rows.try_next().await.map_err(StoreError::query(what))? {
            let market: String = row.try_get(0).map_err(StoreError::query(what))?;
            let date: String = row.try_get(1).map_err(StoreError::query(what))?;
            let year: i32 = date.get(..4).and_then(|y| y.parse().ok()).ok_or_else(|| {
                CatalogError::NotCurrent(format!("{}: `{date}` is not a date", d.name))
            })?;
            if open.as_ref().is_none_or(|o| o.market != market || o.year != year) {
                if let Some(o) = open.take() {
                    let (m, y, n, bytes) = o.close(d, dir)?;
                    done(m, y, n, bytes)?;
                }
                open = Some(Open::new(d, market, year, dir)?);
            }
            let Some(o) = open.as_mut() else { continue };
            for (i, b) in o.builders.iter_mut().enumerate() {
                let at = i + 2;
                match b {
                    Builder::Text(b) => b.append_option(
                        row.try_get::<Option<String>, _>(at).map_err(StoreError::query(what))?,
                    ),
                    Builder::Date(b) => {
                        let text: Option<String> = row.try_get(at).map_err(StoreError::query(what))?;
                        b.append_option(text.as_deref().and_then(epoch_days));
                    }
                    Builder::Int(b) => b.append_option(
                        row.try_get::<Option<i64>, _>(at).map_err(StoreError::query(what))?,
                    ),
                    Builder::Real(b) => b.append_option(
                        row.try_get::<Option<f64>, _>(at).map_err(StoreError::query(what))?,
                    ),
                    Builder::Bool(b) => b.append_option(
                        row.try_get::<Option<i64>, _>(at)
                            .map_err(StoreError::query(what))?
                            .map(|v| v != 0),
                    ),
                    Builder::Vector(b) => {
                        let blob: Option<Vec<u8>> = row.try_get(at).map_err(StoreError::query(what))?;
                        match blob {
                            Some(bytes) => {
                                for c in bytes.chunks_exact(4) {
                                    b.values().append_value(f32::from_le_bytes([c[0], c[1], c[2], c[3]]));
                                }
                                b.append(true);
                            }
                            None => b.append(false),
                        }
                    }
                }
            }
            o.pending += 1;
            o.rows += 1;
            if o.pending >= BATCH_ROWS {
                o.flush(d, dir)?;
            }
        }
        Ok::<(), CatalogError>(())
        }
        .await;
        if sqlite {
            sqlx::query("PRAGMA temp_store = MEMORY")
                .execute(&mut *conn)
                .await
                .map_err(StoreError::query("restore the in-memory temp store"))?;
        }
        streamed?;
    });
    if let Some(o) = open.take() {
        let (m, y, n, bytes) = o.close(d, dir)?;
        done(m, y, n, bytes)?;
    }
    Ok(())
}

/// The path of a partition, relative to the catalog directory.
fn partition_path(d: &Dataset, market: &str, year: i32) -> String {
    format!("{}/market={market}/year={year}/part-0.parquet", d.name)
}

/// Exports `datasets` from `stores` into the catalog at `dir`, incrementally, and updates
/// its manifest (other datasets' entries are kept as they were).
///
/// # Errors
/// Database reads, Parquet encoding, file writes.
pub async fn export(
    stores: &Stores,
    dir: &Path,
    datasets: &[&'static Dataset],
) -> Result<Vec<DatasetSummary>, CatalogError> {
    let mut manifest = Manifest::load(dir)?;
    let mut summaries = Vec::with_capacity(datasets.len());
    for d in datasets {
        let pool = match d.database {
            Database::Historical => stores.historical.pool(),
            Database::Runtime => stores.runtime.pool(),
        };
        let old: BTreeMap<String, Partition> = manifest
            .datasets
            .get(d.name)
            .map(|e| {
                e.partitions
                    .iter()
                    .map(|p| (p.path.clone(), p.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let mut summary = DatasetSummary {
            name: d.name.to_owned(),
            ..DatasetSummary::default()
        };
        let mut partitions = Vec::new();
        encode_partitions(pool, d, dir, |market, year, rows, bytes| {
            let path = partition_path(d, &market, year);
            let sha256 = sha256_hex(&bytes);
            let on_disk = std::fs::metadata(dir.join(&path)).ok().map(|m| m.len());
            let same = old.get(&path).is_some_and(|p| p.sha256 == sha256)
                && on_disk == Some(bytes.len() as u64);
            if same {
                summary.unchanged += 1;
            } else {
                write_atomically(&dir.join(&path), &bytes)?;
                summary.written += 1;
            }
            summary.rows += rows;
            summary.bytes += bytes.len() as u64;
            partitions.push(Partition {
                market,
                year,
                path,
                rows,
                bytes: bytes.len() as u64,
                sha256,
            });
            Ok(())
        })
        .await?;
        let kept: BTreeSet<&str> = partitions.iter().map(|p| p.path.as_str()).collect();
        for gone in old.keys().filter(|p| !kept.contains(p.as_str())) {
            let path = dir.join(gone);
            match std::fs::remove_file(&path) {
                Ok(()) => summary.removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => summary.removed += 1,
                Err(source) => return Err(CatalogError::Io { path, source }),
            }
            // Empty partition directories go too (best effort: a directory another file
            // still lives in stays).
            if let Some(parent) = path.parent() {
                let _ = std::fs::remove_dir(parent);
                if let Some(market_dir) = parent.parent() {
                    let _ = std::fs::remove_dir(market_dir);
                }
            }
        }
        if d.name == "prices" {
            let markets: BTreeSet<String> = partitions.iter().map(|p| p.market.clone()).collect();
            manifest.price_fingerprints.clear();
            for m in markets {
                let fp = stores.historical.data_fingerprint(&m).await?;
                manifest.price_fingerprints.insert(m, fp);
            }
        }
        manifest.datasets.insert(
            d.name.to_owned(),
            DatasetEntry {
                about: d.about.to_owned(),
                database: match d.database {
                    Database::Historical => "historical",
                    Database::Runtime => "runtime",
                }
                .to_owned(),
                columns: d
                    .columns
                    .iter()
                    .map(|c| (c.name.to_owned(), c.kind.name().to_owned()))
                    .collect(),
                partitions,
            },
        );
        summaries.push(summary);
    }
    manifest.save(dir)?;
    Ok(summaries)
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates_count_days_from_the_epoch() {
        assert_eq!(super::epoch_days("1970-01-01"), Some(0));
        assert_eq!(super::epoch_days("2024-01-02"), Some(19_724));
        assert_eq!(super::epoch_days("1969-12-31"), Some(-1));
        assert_eq!(super::epoch_days("not a date"), None);
    }
}

//! The ingest log: one row per imported file, and every rejected row with its reason.

use super::HistoricalDb;
use super::bulk::{BulkRow, BulkWriter, CellSink, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::read::read_row;
use super::tx::BeginWrite;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One import of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestBatch {
    /// Content-derived id: importing the same bytes again names the same batch.
    pub batch_id: String,
    /// Kind of input, e.g. `prices:yahoo`, `news`.
    pub source: String,
    /// The file as given on the command line.
    pub file: String,
    /// What the file was imported into: the instrument (`MARKET:SYMBOL`) of a Yahoo file,
    /// the market of a wide file or a broker statement, empty for the rest.
    pub target: String,
    /// The SHA-256 of the file's bytes in the raw-file archive ([`crate::files::RawArchive`]);
    /// `None` for synthetic batches and batches imported before the archive existed.
    pub archive_sha256: Option<String>,
    /// Rows accepted.
    pub rows_ok: u64,
    /// Rows quarantined in `ingest_rejects`.
    pub rows_rejected: u64,
    /// When the import started (read at the edge, not in the core).
    pub started_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// A quarantined input row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestReject {
    /// 1-based line number in the file.
    pub line_no: u64,
    /// The column (or symbol) at fault; empty when the whole row is.
    pub column: String,
    /// Machine-readable reason code, e.g. `high_below_low`.
    pub reason: String,
    /// Human-readable explanation with the offending values.
    pub detail: String,
    /// The raw line as read.
    pub raw: String,
}

/// The ingest log.
#[async_trait]
pub trait IngestLog {
    /// Records a batch and replaces its rejects (re-importing a file repeats neither).
    async fn record_batch(
        &self,
        batch: &IngestBatch,
        rejects: &[IngestReject],
    ) -> Result<(), StoreError>;
    /// The batch with this id.
    async fn batch(&self, batch_id: &str) -> Result<Option<IngestBatch>, StoreError>;
    /// The rejects of a batch, by line.
    async fn rejects(&self, batch_id: &str) -> Result<Vec<IngestReject>, StoreError>;
    /// A short text that changes whenever a batch is recorded or the market's instruments
    /// change: what an in-memory copy of the market's prices checks before it is trusted.
    async fn data_fingerprint(&self, market: &str) -> Result<String, StoreError>;
    /// Where the database's market data came from: the synthetic market, user files, or
    /// both (which [`crate::ingest`] never lets happen again).
    async fn provenance(&self) -> Result<Provenance, StoreError>;
}

/// Counts of the batches that brought market data in, by origin.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Provenance {
    /// Batches of the synthetic market (`pv2 demo`, the synthetic daily feed).
    pub synthetic: u64,
    /// Imported instrument and price files (batch sources `prices:yahoo`, `prices:wide`,
    /// `instruments`).
    pub imported: u64,
}

const BATCHES: TableSpec = TableSpec {
    name: "ingest_batches",
    columns: &[
        "batch_id",
        "source",
        "file",
        "rows_ok",
        "rows_rejected",
        "started_at",
        "finished_at",
        "target",
        "archive_sha256",
    ],
    key: &["batch_id"],
};
const REJECTS: TableSpec = TableSpec {
    name: "ingest_rejects",
    columns: &[
        "batch_id",
        "line_no",
        "column_name",
        "reason",
        "detail",
        "raw",
    ],
    key: &["batch_id", "line_no", "column_name"],
};

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl BulkRow for IngestBatch {
    fn write(&self, s: &mut dyn CellSink) {
        s.text(&self.batch_id);
        s.text(&self.source);
        s.text(&self.file);
        s.int(to_i64(self.rows_ok));
        s.int(to_i64(self.rows_rejected));
        s.timestamp(Some(self.started_at));
        s.timestamp(self.finished_at);
        s.text(&self.target);
        s.opt_text(self.archive_sha256.as_deref());
    }
}

struct RejectRow<'a>(&'a str, &'a IngestReject);

impl BulkRow for RejectRow<'_> {
    fn write(&self, s: &mut dyn CellSink) {
        let r = self.1;
        s.text(self.0);
        s.int(to_i64(r.line_no));
        s.text(&r.column);
        s.text(&r.reason);
        s.text(&r.detail);
        s.text(&r.raw);
    }
}

read_row! {
struct BatchRow {
    batch_id: String,
    source: String,
    file: String,
    rows_ok: i64,
    rows_rejected: i64,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    target: String,
    archive_sha256: Option<String>,
}
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[async_trait]
impl IngestLog for HistoricalDb {
    async fn record_batch(
        &self,
        batch: &IngestBatch,
        rejects: &[IngestReject],
    ) -> Result<(), StoreError> {
        let rows: Vec<RejectRow<'_>> = rejects
            .iter()
            .map(|r| RejectRow(&batch.batch_id, r))
            .collect();
        let tuning = self.tuning;
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query("begin ingest log"))?;
            tx.write_rows(&BATCHES, std::slice::from_ref(batch), WriteMode::Upsert, &tuning).await?;
            sqlx::query("DELETE FROM ingest_rejects WHERE batch_id = $1")
                .bind(&batch.batch_id)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query("clear rejects"))?;
            tx.write_rows(&REJECTS, &rows, WriteMode::Upsert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit ingest log"))
        })
    }

    async fn batch(&self, batch_id: &str) -> Result<Option<IngestBatch>, StoreError> {
        const SQL: &str = "SELECT batch_id, source, file, rows_ok, rows_rejected, started_at, finished_at, \
             target, archive_sha256 FROM ingest_batches WHERE batch_id = $1";
        let row: Option<BatchRow> = self
            .reads()
            .query_as(SQL)
            .bind(batch_id)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read ingest batch"))?;
        Ok(row.map(|r| IngestBatch {
            batch_id: r.batch_id,
            source: r.source,
            file: r.file,
            rows_ok: to_u64(r.rows_ok),
            rows_rejected: to_u64(r.rows_rejected),
            started_at: r.started_at,
            finished_at: r.finished_at,
            target: r.target,
            archive_sha256: r.archive_sha256,
        }))
    }

    async fn data_fingerprint(&self, market: &str) -> Result<String, StoreError> {
        // One statement: the panel caches ask for it before every read of a job.
        const SQL: &str = "SELECT (SELECT COUNT(*) FROM ingest_batches), \
             (SELECT CAST(MAX(COALESCE(finished_at, started_at)) AS TEXT) FROM ingest_batches), \
             (SELECT COUNT(*) FROM instruments WHERE market_id = $1)";
        let (batches, last, instruments): (i64, Option<String>, i64) = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .fetch_one()
            .await
            .map_err(StoreError::query("read the data fingerprint"))?;
        Ok(format!(
            "{batches}|{}|{instruments}",
            last.unwrap_or_default()
        ))
    }

    async fn provenance(&self) -> Result<Provenance, StoreError> {
        const SQL: &str = "SELECT \
             COALESCE(SUM(CASE WHEN source = 'synthetic' THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN source IN ('prices:yahoo', 'prices:wide', 'instruments') THEN 1 ELSE 0 END), 0) \
             FROM ingest_batches";
        let (synthetic, imported): (i64, i64) = self
            .reads()
            .query_as(SQL)
            .fetch_one()
            .await
            .map_err(StoreError::query("read where the market data came from"))?;
        Ok(Provenance {
            synthetic: to_u64(synthetic),
            imported: to_u64(imported),
        })
    }

    async fn rejects(&self, batch_id: &str) -> Result<Vec<IngestReject>, StoreError> {
        const SQL: &str = "SELECT line_no, column_name, reason, detail, raw FROM ingest_rejects \
             WHERE batch_id = $1 ORDER BY line_no, column_name";
        let rows: Vec<(i64, String, String, String, String)> = self
            .reads()
            .query_as(SQL)
            .bind(batch_id)
            .fetch_all()
            .await
            .map_err(StoreError::query("read rejects"))?;
        Ok(rows
            .into_iter()
            .map(|(line_no, column, reason, detail, raw)| IngestReject {
                line_no: to_u64(line_no),
                column,
                reason,
                detail,
                raw,
            })
            .collect())
    }
}

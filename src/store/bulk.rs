//! Bulk writes, the one place where the two backends are written differently on purpose:
//! SQLite gets large multi-row `INSERT`s (thousands of rows per prepared statement, inside the
//! caller's transaction), PostgreSQL gets `COPY … FROM STDIN` in text format. Upserts on
//! PostgreSQL copy into a transaction-local staging table and merge with
//! `INSERT … ON CONFLICT DO UPDATE`.

use super::error::StoreError;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::{SqliteArguments, SqliteConnection};
use sqlx::{Arguments, AssertSqlSafe};
use std::fmt::Write as _;

/// A table's name, its columns in write order and its natural key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub key: &'static [&'static str],
}

/// Plain insert (the caller guarantees no key exists yet) or insert-or-update on the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteMode {
    Insert,
    Upsert,
}

/// Receives one row's cells in column order.
pub(crate) trait CellSink {
    fn text(&mut self, v: &str);
    fn opt_text(&mut self, v: Option<&str>);
    fn date(&mut self, v: NaiveDate);
    fn timestamp(&mut self, v: Option<DateTime<Utc>>);
    fn real(&mut self, v: Option<f64>);
    fn int(&mut self, v: i64);
}

/// A row that can write itself into either backend's bulk format.
pub(crate) trait BulkRow {
    fn write(&self, sink: &mut dyn CellSink);
}

/// Tuning of bulk writes (from `[ingest]` in `default.toml`).
#[derive(Clone, Copy, Debug)]
pub struct BulkTuning {
    /// Rows per multi-row statement on SQLite.
    pub sqlite_rows_per_statement: usize,
    /// Bytes per `COPY` send on PostgreSQL.
    pub pg_copy_chunk_bytes: usize,
}

impl Default for BulkTuning {
    fn default() -> Self {
        Self {
            sqlite_rows_per_statement: 4000,
            pg_copy_chunk_bytes: 1 << 20,
        }
    }
}

/// `YYYY-MM-DD` for years 0..=9999 (the range the stores use), formatted by hand: bulk
/// loads format millions of dates and chrono's general formatter dominates otherwise.
pub(crate) fn iso_date(v: NaiveDate) -> String {
    let (y, m, d) = (v.year(), v.month(), v.day());
    if !(0..=9999).contains(&y) {
        return v.format("%Y-%m-%d").to_string();
    }
    let y = y as u32;
    let digits = [
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
        b'-',
        b'0' + (m / 10) as u8,
        b'0' + (m % 10) as u8,
        b'-',
        b'0' + (d / 10) as u8,
        b'0' + (d % 10) as u8,
    ];
    digits.iter().map(|b| char::from(*b)).collect()
}

fn conflict_clause(spec: &TableSpec, excluded: &str) -> String {
    let updates: Vec<String> = spec
        .columns
        .iter()
        .filter(|c| !spec.key.contains(c))
        .map(|c| format!("{c} = {excluded}.{c}"))
        .collect();
    if updates.is_empty() {
        format!(" ON CONFLICT ({}) DO NOTHING", spec.key.join(", "))
    } else {
        format!(
            " ON CONFLICT ({}) DO UPDATE SET {}",
            spec.key.join(", "),
            updates.join(", ")
        )
    }
}

// ---------------------------------------------------------------- SQLite

struct SqliteSink {
    args: SqliteArguments,
    error: Option<String>,
}

impl SqliteSink {
    fn push<'q, T: sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>>(&mut self, v: T) {
        if let Err(e) = self.args.add(v) {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }
}

impl CellSink for SqliteSink {
    fn text(&mut self, v: &str) {
        self.push(v.to_owned());
    }
    fn opt_text(&mut self, v: Option<&str>) {
        self.push(v.map(str::to_owned));
    }
    fn date(&mut self, v: NaiveDate) {
        // The same text sqlx would bind for a NaiveDate, without chrono's formatter.
        self.push(iso_date(v));
    }
    fn timestamp(&mut self, v: Option<DateTime<Utc>>) {
        self.push(v);
    }
    fn real(&mut self, v: Option<f64>) {
        self.push(v);
    }
    fn int(&mut self, v: i64) {
        self.push(v);
    }
}

fn sqlite_statement(spec: &TableSpec, rows: usize, mode: WriteMode) -> String {
    let one = format!("({})", vec!["?"; spec.columns.len()].join(","));
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        spec.name,
        spec.columns.join(", ")
    );
    sql.reserve(rows * (one.len() + 1) + 256);
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&one);
    }
    if mode == WriteMode::Upsert {
        sql.push_str(&conflict_clause(spec, "excluded"));
    }
    sql
}

/// Writes `rows` with multi-row statements of `rows_per_statement` rows each.
async fn write_sqlite<R: BulkRow>(
    conn: &mut SqliteConnection,
    spec: &TableSpec,
    rows: &[R],
    mode: WriteMode,
    rows_per_statement: usize,
) -> Result<u64, StoreError> {
    let per = rows_per_statement.clamp(1, 32_766 / spec.columns.len().max(1));
    let full_sql = sqlite_statement(spec, per, mode);
    let mut written = 0;
    for chunk in rows.chunks(per) {
        let mut sink = SqliteSink {
            args: SqliteArguments::default(),
            error: None,
        };
        sink.args.reserve(chunk.len() * spec.columns.len(), 0);
        for row in chunk {
            row.write(&mut sink);
        }
        if let Some(e) = sink.error {
            return Err(StoreError::Rejected(format!(
                "cannot encode a row of {}: {e}",
                spec.name
            )));
        }
        let sql = if chunk.len() == per {
            full_sql.clone()
        } else {
            sqlite_statement(spec, chunk.len(), mode)
        };
        let done = sqlx::query_with(AssertSqlSafe(sql), sink.args)
            .execute(&mut *conn)
            .await
            .map_err(StoreError::query("bulk insert (sqlite)"))?;
        written += done.rows_affected();
    }
    Ok(written)
}

// ---------------------------------------------------------------- PostgreSQL

/// Appends cells in `COPY … FROM STDIN` text format.
struct CopySink {
    buf: Vec<u8>,
    first: bool,
}

impl CopySink {
    fn sep(&mut self) {
        if !self.first {
            self.buf.push(b'\t');
        }
        self.first = false;
    }
    fn end_row(&mut self) {
        self.buf.push(b'\n');
        self.first = true;
    }
}

impl CellSink for CopySink {
    fn text(&mut self, v: &str) {
        self.sep();
        for b in v.bytes() {
            match b {
                b'\\' => self.buf.extend_from_slice(b"\\\\"),
                b'\t' => self.buf.extend_from_slice(b"\\t"),
                b'\n' => self.buf.extend_from_slice(b"\\n"),
                b'\r' => self.buf.extend_from_slice(b"\\r"),
                _ => self.buf.push(b),
            }
        }
    }
    fn opt_text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.text(v),
            None => {
                self.sep();
                self.buf.extend_from_slice(b"\\N");
            }
        }
    }
    fn date(&mut self, v: NaiveDate) {
        self.sep();
        self.buf.extend_from_slice(iso_date(v).as_bytes());
    }
    fn timestamp(&mut self, v: Option<DateTime<Utc>>) {
        self.sep();
        match v {
            Some(v) => {
                let s = v.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string();
                self.buf.extend_from_slice(s.as_bytes());
            }
            None => self.buf.extend_from_slice(b"\\N"),
        }
    }
    fn real(&mut self, v: Option<f64>) {
        self.sep();
        match v {
            None => self.buf.extend_from_slice(b"\\N"),
            Some(x) if x.is_nan() => self.buf.extend_from_slice(b"NaN"),
            Some(x) if x.is_infinite() => {
                self.buf
                    .extend_from_slice(if x > 0.0 { b"Infinity" } else { b"-Infinity" });
            }
            Some(x) => {
                let mut s = String::with_capacity(24);
                let _ = write!(s, "{x:?}");
                self.buf.extend_from_slice(s.as_bytes());
            }
        }
    }
    fn int(&mut self, v: i64) {
        self.sep();
        let mut s = String::with_capacity(20);
        let _ = write!(s, "{v}");
        self.buf.extend_from_slice(s.as_bytes());
    }
}

/// Streams `rows` through `COPY target (columns) FROM STDIN`.
async fn copy_into<R: BulkRow>(
    conn: &mut PgConnection,
    target: &str,
    spec: &TableSpec,
    rows: &[R],
    chunk_bytes: usize,
) -> Result<u64, StoreError> {
    let stmt = format!("COPY {target} ({}) FROM STDIN", spec.columns.join(", "));
    let mut copy = conn
        .copy_in_raw(&stmt)
        .await
        .map_err(StoreError::query("start COPY"))?;
    let mut sink = CopySink {
        buf: Vec::with_capacity(chunk_bytes + 4096),
        first: true,
    };
    let mut rows = rows.iter().peekable();
    while rows.peek().is_some() {
        for row in rows.by_ref() {
            row.write(&mut sink);
            sink.end_row();
            if sink.buf.len() >= chunk_bytes {
                break;
            }
        }
        let data = std::mem::replace(&mut sink.buf, Vec::with_capacity(chunk_bytes + 4096));
        if let Err(source) = copy.send(data).await {
            let _ = copy.abort("client error").await;
            return Err(StoreError::Query {
                what: "COPY data",
                source,
            });
        }
    }
    copy.finish()
        .await
        .map_err(StoreError::query("finish COPY"))
}

/// Writes `rows` with `COPY` (plain insert) or `COPY` into a staging table and a merge
/// (upsert). Must run inside a transaction: the staging table lives until commit.
async fn write_postgres<R: BulkRow>(
    conn: &mut PgConnection,
    spec: &TableSpec,
    rows: &[R],
    mode: WriteMode,
    chunk_bytes: usize,
) -> Result<u64, StoreError> {
    if rows.is_empty() {
        return Ok(0);
    }
    match mode {
        WriteMode::Insert => copy_into(conn, spec.name, spec, rows, chunk_bytes).await,
        WriteMode::Upsert => {
            let stage = format!("pv2_stage_{}", spec.name);
            let create = format!(
                "CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS",
                spec.name
            );
            sqlx::query(AssertSqlSafe(create))
                .execute(&mut *conn)
                .await
                .map_err(StoreError::query("create staging table"))?;
            sqlx::query(AssertSqlSafe(format!("TRUNCATE {stage}")))
                .execute(&mut *conn)
                .await
                .map_err(StoreError::query("truncate staging table"))?;
            copy_into(conn, &stage, spec, rows, chunk_bytes).await?;
            let cols = spec.columns.join(", ");
            let merge = format!(
                "INSERT INTO {} ({cols}) SELECT {cols} FROM {stage}{}",
                spec.name,
                conflict_clause(spec, "EXCLUDED")
            );
            let done = sqlx::query(AssertSqlSafe(merge))
                .execute(&mut *conn)
                .await
                .map_err(StoreError::query("merge staged rows"))?;
            Ok(done.rows_affected())
        }
    }
}

/// A connection that can bulk-write rows; lets SQL-agnostic code call one method on either
/// backend's connection inside [`super::pool::on_pool!`].
pub(crate) trait BulkWriter {
    async fn write_rows<R: BulkRow + Sync>(
        &mut self,
        spec: &TableSpec,
        rows: &[R],
        mode: WriteMode,
        tuning: &BulkTuning,
    ) -> Result<u64, StoreError>;
}

impl BulkWriter for SqliteConnection {
    async fn write_rows<R: BulkRow + Sync>(
        &mut self,
        spec: &TableSpec,
        rows: &[R],
        mode: WriteMode,
        tuning: &BulkTuning,
    ) -> Result<u64, StoreError> {
        write_sqlite(self, spec, rows, mode, tuning.sqlite_rows_per_statement).await
    }
}

impl BulkWriter for PgConnection {
    async fn write_rows<R: BulkRow + Sync>(
        &mut self,
        spec: &TableSpec,
        rows: &[R],
        mode: WriteMode,
        tuning: &BulkTuning,
    ) -> Result<u64, StoreError> {
        write_postgres(self, spec, rows, mode, tuning.pg_copy_chunk_bytes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R(&'static str, f64);
    impl BulkRow for R {
        fn write(&self, sink: &mut dyn CellSink) {
            sink.text(self.0);
            sink.date(NaiveDate::from_ymd_opt(2020, 1, 2).unwrap());
            sink.real(Some(self.1));
            sink.real(None);
            sink.int(-3);
        }
    }

    #[test]
    fn iso_dates_match_chrono() {
        for d in [
            NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
            NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
            NaiveDate::from_ymd_opt(9999, 12, 31).unwrap(),
        ] {
            assert_eq!(iso_date(d), d.format("%Y-%m-%d").to_string());
        }
    }

    #[test]
    fn copy_text_format_escapes_and_marks_nulls() {
        let mut sink = CopySink {
            buf: Vec::new(),
            first: true,
        };
        R("a\tb\\c\nd", 0.1).write(&mut sink);
        sink.end_row();
        assert_eq!(
            String::from_utf8(sink.buf).unwrap(),
            "a\\tb\\\\c\\nd\t2020-01-02\t0.1\t\\N\t-3\n"
        );
    }

    #[test]
    fn sqlite_upsert_statement_updates_non_key_columns() {
        let spec = TableSpec {
            name: "t",
            columns: &["k", "d", "v"],
            key: &["k", "d"],
        };
        assert_eq!(
            sqlite_statement(&spec, 2, WriteMode::Upsert),
            "INSERT INTO t (k, d, v) VALUES (?,?,?),(?,?,?) ON CONFLICT (k, d) DO UPDATE SET v = excluded.v"
        );
    }
}

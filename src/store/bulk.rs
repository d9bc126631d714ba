//! Bulk writes, the one place where the two backends are written differently on purpose:
//! SQLite gets large multi-row `INSERT`s (thousands of rows per prepared statement, inside the
//! caller's transaction), PostgreSQL gets `COPY … FROM STDIN` in binary format for large
//! loads (upserts copy into a transaction-local staging table and merge with
//! `INSERT … ON CONFLICT DO UPDATE`) and one multi-row `INSERT` for small ones.
//!
//! Why two paths on PostgreSQL: the driver does not set `TCP_NODELAY`, and a `COPY` ends
//! with writes the server does not answer one by one (data, then `CopyDone`); over TCP the
//! kernel holds the last small write until the server's delayed acknowledgement, about
//! 40 ms — per `COPY`. A day's engine outputs are a few hundred rows written several times
//! per job, so a daily backfill spent most of its time in those waits (ingest + derive of
//! 24 names: 0.45 s a session over TCP against 0.07 s over a Unix socket). One `INSERT` is
//! one request and one answer.

use super::error::StoreError;
use super::statement::{Statement, Value};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::postgres::PgConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::{Arguments, AssertSqlSafe};

/// A table's name, its columns in write order and its natural key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TableSpec {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub key: &'static [&'static str],
}

/// Plain insert (the caller guarantees no key exists yet), insert-or-update on the key,
/// insert-or-update that keeps some stored columns (a run's creation time, an attempt's
/// start), or insert of the rows whose key is not there yet (a retried job's orders and
/// fills: the stored ones, maybe updated since, are kept).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WriteMode {
    Insert,
    Upsert,
    UpsertKeeping(&'static [&'static str]),
    InsertNew,
}

/// What follows the `VALUES` of a write in `mode` (`excluded` names the proposed row).
fn conflict_suffix(spec: &TableSpec, mode: WriteMode, excluded: &str) -> String {
    match mode {
        WriteMode::Insert => String::new(),
        WriteMode::Upsert => conflict_clause(spec, &[], excluded),
        WriteMode::UpsertKeeping(kept) => conflict_clause(spec, kept, excluded),
        WriteMode::InsertNew => format!(" ON CONFLICT ({}) DO NOTHING", spec.key.join(", ")),
    }
}

/// Receives one row's cells in column order.
pub(crate) trait CellSink {
    fn text(&mut self, v: &str);
    fn opt_text(&mut self, v: Option<&str>);
    fn date(&mut self, v: NaiveDate);
    fn opt_date(&mut self, v: Option<NaiveDate>);
    fn timestamp(&mut self, v: Option<DateTime<Utc>>);
    fn real(&mut self, v: Option<f64>);
    fn int(&mut self, v: i64);
    fn boolean(&mut self, v: bool);
    fn blob(&mut self, v: &[u8]);
}

/// A row that can write itself into either backend's bulk format.
pub(crate) trait BulkRow {
    fn write(&self, sink: &mut dyn CellSink);
}

/// A row given as a closure that writes its cells: the runtime stores' per-day outputs
/// (hundreds to thousands of rows a day, each table its own shape) use it to reach the bulk
/// path without a type per table.
pub(crate) struct CellsRow<F: Fn(&mut dyn CellSink) + Sync>(pub F);

impl<F: Fn(&mut dyn CellSink) + Sync> BulkRow for CellsRow<F> {
    fn write(&self, sink: &mut dyn CellSink) {
        (self.0)(sink);
    }
}

/// Tuning of bulk writes (from `[ingest]` in `default.toml`).
#[derive(Clone, Copy, Debug)]
pub struct BulkTuning {
    /// Rows per multi-row statement on SQLite.
    pub sqlite_rows_per_statement: usize,
    /// Bytes per `COPY` send on PostgreSQL.
    pub pg_copy_chunk_bytes: usize,
    /// Writes of at most this many rows go to PostgreSQL as one multi-row `INSERT`, larger
    /// ones by `COPY`.
    pub pg_insert_max_rows: usize,
}

impl Default for BulkTuning {
    fn default() -> Self {
        Self {
            sqlite_rows_per_statement: 4000,
            pg_copy_chunk_bytes: 1 << 20,
            pg_insert_max_rows: PG_INSERT_MAX_ROWS,
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

fn conflict_clause(spec: &TableSpec, kept: &[&str], excluded: &str) -> String {
    let updates: Vec<String> = spec
        .columns
        .iter()
        .filter(|c| !spec.key.contains(c) && !kept.contains(c))
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
    statement: Statement,
}

impl CellSink for SqliteSink {
    fn text(&mut self, v: &str) {
        self.statement.push(Value::from(v));
    }
    fn opt_text(&mut self, v: Option<&str>) {
        self.statement.push(Value::from(v));
    }
    fn date(&mut self, v: NaiveDate) {
        // The same text sqlx would bind for a NaiveDate, without chrono's formatter.
        self.statement.push(Value::from(iso_date(v)));
    }
    fn opt_date(&mut self, v: Option<NaiveDate>) {
        self.statement.push(Value::from(v.map(iso_date)));
    }
    fn timestamp(&mut self, v: Option<DateTime<Utc>>) {
        self.statement.push(Value::from(v));
    }
    fn real(&mut self, v: Option<f64>) {
        self.statement.push(Value::from(v));
    }
    fn int(&mut self, v: i64) {
        self.statement.push(Value::from(v));
    }
    fn boolean(&mut self, v: bool) {
        self.statement.push(Value::from(v));
    }
    fn blob(&mut self, v: &[u8]) {
        self.statement.push(Value::from(v));
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
    sql.push_str(&conflict_suffix(spec, mode, "excluded"));
    sql
}

/// Statement sizes below a full chunk: a write of `n` rows goes as full chunks, then the
/// largest of these that fit, then what is left (under 64 rows) as one statement of its
/// own size. A statement per distinct row count of any size would be prepared anew for each
/// count and crowd sqlx's per-connection cache (a day's targets, events or transitions
/// come in every count); with these a table needs at most three large cached statements
/// and a small one per remainder it sees (the cache holds [`STATEMENT_CACHE`] of them). A
/// universe's day of 21 names is one statement, not 16 + 4 + 1.
const SQLITE_PIECES: [usize; 2] = [256, 64];

/// Prepared statements sqlx keeps per SQLite connection: every table's pieces and
/// remainders (see [`SQLITE_PIECES`]), where the default 100 let a backfill's writer
/// re-prepare its statements.
pub(crate) const STATEMENT_CACHE: usize = 1024;

/// The row counts of the statements that write `n` rows in statements of the fixed sizes
/// (see [`SQLITE_PIECES`]), at most 256 rows each: for multi-row statements built outside
/// the bulk writer, on either backend, that keep the statement caches small.
pub(crate) fn statement_sizes(n: usize) -> Vec<usize> {
    sqlite_chunks(n, SQLITE_PIECES[0])
}

/// The row counts of the statements that write `n` rows, `per` rows at most each.
fn sqlite_chunks(n: usize, per: usize) -> Vec<usize> {
    let mut sizes = vec![per; n / per];
    let mut left = n % per;
    for piece in SQLITE_PIECES.into_iter().filter(|&p| p < per) {
        while left >= piece {
            sizes.push(piece);
            left -= piece;
        }
    }
    if left > 0 {
        sizes.push(left);
    }
    sizes
}

/// The multi-row statements that write `rows`, `rows_per_statement` rows at most each (see
/// [`sqlite_chunks`]), ready to run.
pub(crate) fn sqlite_statements<R: BulkRow>(
    spec: &TableSpec,
    rows: &[R],
    mode: WriteMode,
    rows_per_statement: usize,
) -> Result<Vec<Statement>, StoreError> {
    let per = rows_per_statement.clamp(1, 32_766 / spec.columns.len().max(1));
    let mut texts: std::collections::BTreeMap<usize, String> = std::collections::BTreeMap::new();
    let mut statements = Vec::new();
    let mut at = 0;
    for size in sqlite_chunks(rows.len(), per) {
        let chunk = &rows[at..at + size];
        at += size;
        let sql = texts
            .entry(size)
            .or_insert_with(|| sqlite_statement(spec, size, mode))
            .clone();
        let mut sink = SqliteSink {
            statement: Statement::new(sql),
        };
        sink.statement.reserve(chunk.len() * spec.columns.len());
        for row in chunk {
            row.write(&mut sink);
        }
        statements.push(sink.statement);
    }
    Ok(statements)
}

/// Writes `rows` on `conn` with the statements of [`sqlite_statements`].
async fn write_sqlite<R: BulkRow>(
    conn: &mut SqliteConnection,
    spec: &TableSpec,
    rows: &[R],
    mode: WriteMode,
    rows_per_statement: usize,
) -> Result<u64, StoreError> {
    let mut written = 0;
    for statement in sqlite_statements(spec, rows, mode, rows_per_statement)? {
        let done = statement
            .to_sqlite()
            .execute(&mut *conn)
            .await
            .map_err(StoreError::query("bulk insert (sqlite)"))?;
        written += done.rows_affected();
    }
    Ok(written)
}

#[cfg(test)]
mod chunk_tests {
    use super::sqlite_chunks;

    #[test]
    fn chunks_cover_every_row_with_few_distinct_sizes() {
        for per in [1, 3, 100, 4000] {
            for n in 0..700 {
                let sizes = sqlite_chunks(n, per);
                assert_eq!(sizes.iter().sum::<usize>(), n, "n {n} per {per}");
                assert!(sizes.iter().all(|&s| s >= 1 && s <= per), "{sizes:?}");
                let mut distinct = sizes.clone();
                distinct.dedup();
                assert!(distinct.len() <= 4, "{sizes:?}");
                // Below the largest piece, only a remainder under 64 rows has its own size.
                assert!(
                    sizes
                        .iter()
                        .filter(|&&s| s != per && s != 256 && s != 64)
                        .count()
                        <= 1,
                    "{sizes:?}"
                );
            }
        }
        assert_eq!(sqlite_chunks(21, 4000), vec![21]);
        assert_eq!(sqlite_chunks(37, 4000), vec![37]);
        assert_eq!(sqlite_chunks(200, 4000), vec![64, 64, 64, 8]);
        assert_eq!(
            sqlite_chunks(9000, 4000),
            vec![4000, 4000, 256, 256, 256, 64, 64, 64, 40]
        );
    }
}

// ---------------------------------------------------------------- PostgreSQL

/// PostgreSQL binds at most this many parameters in one statement.
const PG_MAX_PARAMS: usize = 65_535;

/// Writes of up to this many rows go as one multi-row `INSERT` instead of a `COPY` (the
/// default of [`BulkTuning::pg_insert_max_rows`]).
pub const PG_INSERT_MAX_ROWS: usize = 2_000;

/// Binds one row's cells as statement parameters, typed as the columns are.
struct PgSink {
    args: sqlx::postgres::PgArguments,
    error: Option<String>,
}

impl PgSink {
    fn push<'q, T: sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>>(&mut self, v: T) {
        if let Err(e) = self.args.add(v) {
            self.error.get_or_insert_with(|| e.to_string());
        }
    }
}

impl CellSink for PgSink {
    fn text(&mut self, v: &str) {
        self.push(v.to_owned());
    }
    fn opt_text(&mut self, v: Option<&str>) {
        self.push(v.map(str::to_owned));
    }
    fn date(&mut self, v: NaiveDate) {
        self.push(v);
    }
    fn opt_date(&mut self, v: Option<NaiveDate>) {
        self.push(v);
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
    fn boolean(&mut self, v: bool) {
        self.push(v);
    }
    fn blob(&mut self, v: &[u8]) {
        self.push(v.to_vec());
    }
}

/// `INSERT INTO t (cols) VALUES ($1,…),(…)` for `rows` rows, with the upsert clause.
fn pg_insert_statement(spec: &TableSpec, rows: usize, mode: WriteMode) -> String {
    let n = spec.columns.len();
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ",
        spec.name,
        spec.columns.join(", ")
    );
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        let cells: Vec<String> = (1..=n).map(|c| format!("${}", r * n + c)).collect();
        sql.push('(');
        sql.push_str(&cells.join(","));
        sql.push(')');
    }
    sql.push_str(&conflict_suffix(spec, mode, "EXCLUDED"));
    sql
}

/// Writes a small set of rows with one multi-row `INSERT` (one request, one answer).
async fn insert_postgres<R: BulkRow>(
    conn: &mut PgConnection,
    spec: &TableSpec,
    rows: &[R],
    mode: WriteMode,
) -> Result<u64, StoreError> {
    let mut sink = PgSink {
        args: sqlx::postgres::PgArguments::default(),
        error: None,
    };
    for row in rows {
        row.write(&mut sink);
    }
    if let Some(e) = sink.error {
        return Err(StoreError::Rejected(format!(
            "cannot encode a row of {}: {e}",
            spec.name
        )));
    }
    let sql = pg_insert_statement(spec, rows.len(), mode);
    let done = sqlx::query_with(AssertSqlSafe(sql), sink.args)
        .persistent(false)
        .execute(&mut *conn)
        .await
        .map_err(StoreError::query("bulk insert (postgres)"))?;
    Ok(done.rows_affected())
}

/// Appends rows in PostgreSQL's binary `COPY` format: per row a 16-bit field count, per
/// field a 32-bit length (−1 for NULL) and the value in network byte order. The server then
/// skips parsing numbers and dates from text, which is most of its work in a text `COPY`.
/// Column types must match exactly: TEXT, DOUBLE PRECISION, BIGINT, DATE, TIMESTAMPTZ.
struct CopySink {
    buf: Vec<u8>,
}

/// The binary `COPY` signature, flags and header-extension length.
const COPY_HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// PostgreSQL dates and timestamps count from 2000-01-01.
const PG_EPOCH_UNIX_MICROS: i64 = 946_684_800_000_000;

fn pg_epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

impl CopySink {
    fn begin_row(&mut self, fields: usize) {
        self.buf
            .extend_from_slice(&i16::try_from(fields).unwrap_or(i16::MAX).to_be_bytes());
    }
    fn field(&mut self, bytes: &[u8]) {
        self.buf
            .extend_from_slice(&i32::try_from(bytes.len()).unwrap_or(i32::MAX).to_be_bytes());
        self.buf.extend_from_slice(bytes);
    }
    fn null(&mut self) {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
    }
}

impl CellSink for CopySink {
    fn text(&mut self, v: &str) {
        self.field(v.as_bytes());
    }
    fn opt_text(&mut self, v: Option<&str>) {
        match v {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }
    fn date(&mut self, v: NaiveDate) {
        let days = i32::try_from((v - pg_epoch()).num_days()).unwrap_or(i32::MAX);
        self.field(&days.to_be_bytes());
    }
    fn opt_date(&mut self, v: Option<NaiveDate>) {
        match v {
            Some(v) => self.date(v),
            None => self.null(),
        }
    }
    fn timestamp(&mut self, v: Option<DateTime<Utc>>) {
        match v {
            Some(v) => self.field(&(v.timestamp_micros() - PG_EPOCH_UNIX_MICROS).to_be_bytes()),
            None => self.null(),
        }
    }
    fn real(&mut self, v: Option<f64>) {
        match v {
            Some(x) => self.field(&x.to_be_bytes()),
            None => self.null(),
        }
    }
    fn int(&mut self, v: i64) {
        self.field(&v.to_be_bytes());
    }
    fn boolean(&mut self, v: bool) {
        self.field(&[u8::from(v)]);
    }
    fn blob(&mut self, v: &[u8]) {
        self.field(v);
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
    let stmt = format!(
        "COPY {target} ({}) FROM STDIN (FORMAT binary)",
        spec.columns.join(", ")
    );
    let mut copy = conn
        .copy_in_raw(&stmt)
        .await
        .map_err(StoreError::query("start COPY"))?;
    let mut sink = CopySink {
        buf: Vec::with_capacity(chunk_bytes + 4096),
    };
    sink.buf.extend_from_slice(COPY_HEADER);
    let fields = spec.columns.len();
    let mut rows = rows.iter().peekable();
    while rows.peek().is_some() {
        for row in rows.by_ref() {
            sink.begin_row(fields);
            row.write(&mut sink);
            if sink.buf.len() >= chunk_bytes {
                break;
            }
        }
        if rows.peek().is_none() {
            // The trailer rides with the last rows: one write fewer to wait on.
            sink.buf.extend_from_slice(&(-1i16).to_be_bytes());
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
    tuning: &BulkTuning,
) -> Result<u64, StoreError> {
    let chunk_bytes = tuning.pg_copy_chunk_bytes;
    if rows.is_empty() {
        return Ok(0);
    }
    if rows.len() <= tuning.pg_insert_max_rows && rows.len() * spec.columns.len() <= PG_MAX_PARAMS {
        return insert_postgres(conn, spec, rows, mode).await;
    }
    match mode {
        WriteMode::Insert => copy_into(conn, spec.name, spec, rows, chunk_bytes).await,
        WriteMode::Upsert | WriteMode::UpsertKeeping(_) | WriteMode::InsertNew => {
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
                conflict_suffix(spec, mode, "EXCLUDED")
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
        write_postgres(self, spec, rows, mode, tuning).await
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
    fn binary_copy_rows_are_length_prefixed_big_endian() {
        let mut sink = CopySink { buf: Vec::new() };
        sink.begin_row(5);
        R("ab", 0.5).write(&mut sink);
        let mut want = vec![0u8, 5];
        want.extend_from_slice(&[0, 0, 0, 2, b'a', b'b']);
        want.extend_from_slice(&[0, 0, 0, 4]);
        want.extend_from_slice(&7306i32.to_be_bytes()); // 2020-01-02 is day 7306 after 2000-01-01
        want.extend_from_slice(&[0, 0, 0, 8]);
        want.extend_from_slice(&0.5f64.to_be_bytes());
        want.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        want.extend_from_slice(&[0, 0, 0, 8]);
        want.extend_from_slice(&(-3i64).to_be_bytes());
        assert_eq!(sink.buf, want);
        let mut ts = CopySink { buf: Vec::new() };
        ts.timestamp(DateTime::from_timestamp(946_684_801, 0));
        assert_eq!(ts.buf[4..], 1_000_000i64.to_be_bytes());
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
        let created = TableSpec {
            name: "t",
            columns: &["k", "v", "created"],
            key: &["k"],
        };
        assert_eq!(
            sqlite_statement(&created, 1, WriteMode::UpsertKeeping(&["created"])),
            "INSERT INTO t (k, v, created) VALUES (?,?,?) ON CONFLICT (k) DO UPDATE SET v = excluded.v"
        );
        assert_eq!(
            sqlite_statement(&spec, 1, WriteMode::InsertNew),
            "INSERT INTO t (k, d, v) VALUES (?,?,?) ON CONFLICT (k, d) DO NOTHING"
        );
        assert_eq!(
            pg_insert_statement(&spec, 1, WriteMode::InsertNew),
            "INSERT INTO t (k, d, v) VALUES ($1,$2,$3) ON CONFLICT (k, d) DO NOTHING"
        );
    }
}

//! Small reads, run without a thread hand-off on a SQLite file.
//!
//! Why it exists: sqlx drives each SQLite connection from a worker thread of its own, so a
//! read through the pool is a hand-off to that thread and back, and one more when the
//! connection goes back to the pool (sqlx pings it). A backfilled session makes ~130 small
//! reads — a run record, a day's scores, the data fingerprint — and those hand-offs cost
//! several times the reads themselves. [`Reads`] runs the hot ones on the asking thread
//! through [`DirectReads`]' own read connections; PostgreSQL, and an in-memory SQLite
//! database (which another connection cannot open), read through the pool as before.
//!
//! A read written here is the same SQL on both backends (`$N` placeholders), with its
//! arguments as [`Value`]s and its row as a tuple that both sqlx and [`DirectRow`] decode;
//! the conformance suite runs it on both.

use super::pool::{Pool, SQLITE_PRAGMAS, on_pool};
use super::statement::{Statement, Value, bind_values, database_error};
use super::tx::in_memory;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use prometheus_sqlite_ext::direct::{self, Access, DirectConnection, Kind};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Idle read connections kept per database: one per thread that reads at once (the actors'
/// thread and the async workers) is all a process uses.
const MAX_IDLE: usize = 4;

/// A read connection's page cache, in place of the pool's (`SQLITE_PRAGMAS`): 16 MB, as up
/// to [`MAX_IDLE`] of them stay open per database beside the pool's.
const READ_CACHE: (&str, &str) = ("cache_size", "-16384");

/// A SQLite file's read connections, opened on first use and reused.
#[derive(Debug)]
pub(crate) struct DirectReads {
    path: PathBuf,
    idle: Mutex<Vec<DirectConnection>>,
}

impl DirectReads {
    /// The direct reads of `pool`'s database: some for a SQLite file, none otherwise.
    pub(crate) fn for_pool(pool: &Pool) -> Option<Arc<Self>> {
        match pool {
            Pool::Sqlite(p) => {
                let options = p.connect_options();
                let path = options.get_filename();
                (!in_memory(path)).then(|| {
                    Arc::new(Self {
                        path: path.to_path_buf(),
                        idle: Mutex::new(Vec::new()),
                    })
                })
            }
            Pool::Postgres(_) => None,
        }
    }

    /// Runs `f` on an idle connection (opening one when none is idle) and keeps it for
    /// the next read. A connection whose read failed is closed, not kept.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut DirectConnection) -> Result<T, sqlx::Error>,
    ) -> Result<T, sqlx::Error> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut conn = match idle {
            Some(c) => c,
            None => {
                // A later pragma overrides an earlier one of the same name.
                let pragmas: Vec<_> = SQLITE_PRAGMAS.into_iter().chain([READ_CACHE]).collect();
                DirectConnection::open(&self.path, &pragmas, Access::Read)
                    .map_err(database_error)?
            }
        };
        let out = f(&mut conn);
        if out.is_ok()
            && let Ok(mut v) = self.idle.lock()
            && v.len() < MAX_IDLE
        {
            v.push(conn);
        }
        out
    }
}

/// A database's reads: through [`DirectReads`] when it has them, through the pool
/// otherwise.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reads<'a> {
    pool: &'a Pool,
    direct: Option<&'a DirectReads>,
}

impl<'a> Reads<'a> {
    /// The reads of `pool`, direct through `direct` when given.
    pub(crate) fn new(pool: &'a Pool, direct: Option<&'a DirectReads>) -> Self {
        Self { pool, direct }
    }

    /// A read of rows of type `T` by `sql` (`$N` placeholders); bind its arguments in order.
    /// `sql` is trusted as SQL (a constant, or built from constants and numbers — never
    /// from user text, which goes in as an argument).
    pub(crate) fn query_as<T>(self, sql: impl Into<Cow<'static, str>>) -> Read<'a, T> {
        Read {
            reads: self,
            statement: Statement::new(sql),
            row: PhantomData,
        }
    }

    /// A read of one column of type `T` (as [`Reads::query_as`]).
    pub(crate) fn query_scalar<T>(self, sql: impl Into<Cow<'static, str>>) -> ReadScalar<'a, T> {
        ReadScalar(self.query_as(sql))
    }
}

/// One read: its SQL, arguments and row type.
#[derive(Debug)]
pub(crate) struct Read<'a, T> {
    reads: Reads<'a>,
    statement: Statement,
    row: PhantomData<fn() -> T>,
}

/// What a row type needs: decoding by sqlx on either backend and by [`DirectRow`].
pub(crate) trait ReadRow:
    for<'r> sqlx::FromRow<'r, PgRow> + for<'r> sqlx::FromRow<'r, SqliteRow> + DirectRow + Send + Unpin
{
}
impl<T> ReadRow for T where
    T: for<'r> sqlx::FromRow<'r, PgRow>
        + for<'r> sqlx::FromRow<'r, SqliteRow>
        + DirectRow
        + Send
        + Unpin
{
}

impl<T: ReadRow> Read<'_, T> {
    /// Adds the next argument (`$1`, then `$2`, …).
    pub(crate) fn bind(mut self, v: impl Into<Value>) -> Self {
        self.statement = self.statement.bind(v);
        self
    }

    /// Every row.
    ///
    /// # Errors
    /// The database refused the read or a value did not decode as `T`'s.
    pub(crate) async fn fetch_all(self) -> Result<Vec<T>, sqlx::Error> {
        if let Some(direct) = self.reads.direct {
            return direct.with(|c| query(c, &self.statement, None));
        }
        let sql = self.statement.sql().to_owned();
        on_pool!(self.reads.pool, p => bind_values!(
            sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)),
            self.statement.args()
        )
        .fetch_all(p)
        .await)
    }

    /// The first row, if any.
    ///
    /// # Errors
    /// As [`Read::fetch_all`].
    pub(crate) async fn fetch_optional(self) -> Result<Option<T>, sqlx::Error> {
        if let Some(direct) = self.reads.direct {
            return direct
                .with(|c| query(c, &self.statement, Some(1)))
                .map(|rows| rows.into_iter().next());
        }
        let sql = self.statement.sql().to_owned();
        on_pool!(self.reads.pool, p => bind_values!(
            sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(sql)),
            self.statement.args()
        )
        .fetch_optional(p)
        .await)
    }

    /// The first row; [`sqlx::Error::RowNotFound`] when there is none.
    ///
    /// # Errors
    /// As [`Read::fetch_all`], or no row.
    pub(crate) async fn fetch_one(self) -> Result<T, sqlx::Error> {
        self.fetch_optional().await?.ok_or(sqlx::Error::RowNotFound)
    }
}

/// A read of one column: [`Read`] of a one-element tuple, handing out the element.
#[derive(Debug)]
pub(crate) struct ReadScalar<'a, T>(Read<'a, (T,)>);

impl<T> ReadScalar<'_, T>
where
    (T,): ReadRow,
{
    /// Adds the next argument (`$1`, then `$2`, …).
    pub(crate) fn bind(self, v: impl Into<Value>) -> Self {
        Self(self.0.bind(v))
    }

    /// Every row's value.
    ///
    /// # Errors
    /// As [`Read::fetch_all`].
    pub(crate) async fn fetch_all(self) -> Result<Vec<T>, sqlx::Error> {
        Ok(self
            .0
            .fetch_all()
            .await?
            .into_iter()
            .map(|(v,)| v)
            .collect())
    }

    /// The first row's value, if any.
    ///
    /// # Errors
    /// As [`Read::fetch_all`].
    pub(crate) async fn fetch_optional(self) -> Result<Option<T>, sqlx::Error> {
        Ok(self.0.fetch_optional().await?.map(|(v,)| v))
    }

    /// The first row's value; [`sqlx::Error::RowNotFound`] when there is none.
    ///
    /// # Errors
    /// As [`Read::fetch_one`].
    pub(crate) async fn fetch_one(self) -> Result<T, sqlx::Error> {
        Ok(self.0.fetch_one().await?.0)
    }
}

/// Runs a read on a direct connection: up to `limit` rows decoded as `T` (it stops
/// stepping at the limit).
fn query<T: DirectRow>(
    conn: &mut DirectConnection,
    statement: &Statement,
    limit: Option<usize>,
) -> Result<Vec<T>, sqlx::Error> {
    let limit = limit.unwrap_or(usize::MAX);
    let mut out = Vec::new();
    // `Err(None)` stops the read at the limit; `Err(Some(e))` fails it.
    let done = statement.run_direct(conn, |row| {
        out.push(T::from_row(row).map_err(Some)?);
        if out.len() >= limit {
            Err(None)
        } else {
            Ok(())
        }
    });
    match done {
        Ok(_) | Err(None) => Ok(out),
        Err(Some(e)) => Err(e),
    }
}

/// A row type a direct read decodes: a tuple of [`DirectValue`]s, in column order.
pub(crate) trait DirectRow: Sized {
    /// Decodes the current row.
    ///
    /// # Errors
    /// A column is missing or holds what its type cannot take ([`sqlx::Error::ColumnDecode`]).
    fn from_row(row: &direct::Row<'_>) -> Result<Self, sqlx::Error>;
}

/// One column's type in a direct read: decoded as sqlx decodes it from SQLite.
pub(crate) trait DirectValue: Sized {
    /// Column `i` of `row`, or why it cannot be this type.
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String>;
}

/// Column `i`'s storage class, or the error that there is no such column.
fn kind(row: &direct::Row<'_>, i: usize) -> Result<Kind, String> {
    row.kind(i)
        .ok_or_else(|| format!("no column {i} (the row has {})", row.len()))
}

/// The error for a column holding `found` where `wanted` was expected.
fn mismatch(wanted: &str, found: Kind) -> String {
    match found {
        Kind::Null => format!("unexpected NULL where {wanted} was expected"),
        other => format!("{other:?} where {wanted} was expected"),
    }
}

impl DirectValue for i64 {
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        match kind(row, i)? {
            Kind::Int => row.int(i).ok_or_else(|| format!("no column {i}")),
            other => Err(mismatch("an integer", other)),
        }
    }
}

impl DirectValue for i32 {
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        let v = i64::decode(row, i)?;
        i32::try_from(v).map_err(|_| format!("{v} does not fit a 32-bit integer"))
    }
}

impl DirectValue for bool {
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        i64::decode(row, i).map(|v| v != 0)
    }
}

impl DirectValue for f64 {
    /// A real, or an integer converted as SQLite converts it (sqlx's pool refuses an
    /// integer here unless the column is declared REAL: the direct path is the more
    /// lenient, never the less).
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        match kind(row, i)? {
            Kind::Real | Kind::Int => row.real(i).ok_or_else(|| format!("no column {i}")),
            other => Err(mismatch("a number", other)),
        }
    }
}

impl DirectValue for String {
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        match kind(row, i)? {
            Kind::Text => {
                let bytes = row.bytes(i).unwrap_or_default();
                String::from_utf8(bytes.to_vec()).map_err(|e| format!("text is not UTF-8: {e}"))
            }
            other => Err(mismatch("text", other)),
        }
    }
}

impl DirectValue for Vec<u8> {
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        match kind(row, i)? {
            Kind::Blob | Kind::Text => Ok(row.bytes(i).unwrap_or_default().to_vec()),
            other => Err(mismatch("bytes", other)),
        }
    }
}

impl DirectValue for NaiveDate {
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        let text = String::decode(row, i)?;
        NaiveDate::parse_from_str(&text, "%F").map_err(|e| format!("date {text:?}: {e}"))
    }
}

impl DirectValue for DateTime<Utc> {
    /// The forms sqlx reads: RFC 3339 text (what sqlx writes), SQLite's date-time texts
    /// (with or without `T`, seconds, fractions and an offset; UTC without one), Unix
    /// seconds as an integer, a Julian day number as a real.
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        const WITH_OFFSET: [&str; 4] = ["%F %T%.f%:z", "%FT%T%.f%:z", "%F %R%:z", "%FT%R%:z"];
        const NAIVE: [&str; 6] = [
            "%F %T%.f",
            "%FT%T%.f",
            "%F %R",
            "%FT%R",
            "%F %T%.fZ",
            "%F %RZ",
        ];
        match kind(row, i)? {
            Kind::Int => {
                let secs = i64::decode(row, i)?;
                DateTime::from_timestamp(secs, 0)
                    .ok_or_else(|| format!("{secs} seconds is out of range for an instant"))
            }
            Kind::Real => {
                let day = f64::decode(row, i)?;
                // Julian day 2440587.5 is the Unix epoch.
                let millis = (day - 2_440_587.5) * 86_400_000.0;
                if !millis.is_finite() || millis.abs() > 9.0e15 {
                    return Err(format!("Julian day {day} is out of range for an instant"));
                }
                #[allow(clippy::cast_possible_truncation)]
                DateTime::from_timestamp_millis(millis.round() as i64)
                    .ok_or_else(|| format!("Julian day {day} is out of range for an instant"))
            }
            Kind::Text => {
                let text = String::decode(row, i)?;
                if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
                    return Ok(t.with_timezone(&Utc));
                }
                WITH_OFFSET
                    .iter()
                    .find_map(|f| DateTime::parse_from_str(&text, f).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .or_else(|| {
                        NAIVE
                            .iter()
                            .find_map(|f| NaiveDateTime::parse_from_str(&text, f).ok())
                            .map(|t| t.and_utc())
                    })
                    .ok_or_else(|| format!("instant {text:?} is in no form sqlx reads"))
            }
            other => Err(mismatch("an instant", other)),
        }
    }
}

impl<V: DirectValue> DirectValue for Option<V> {
    fn decode(row: &direct::Row<'_>, i: usize) -> Result<Self, String> {
        match kind(row, i)? {
            Kind::Null => Ok(None),
            _ => V::decode(row, i).map(Some),
        }
    }
}

/// `DirectRow` for tuples of up to sixteen columns (as sqlx's `FromRow`).
macro_rules! direct_tuple {
    ($($t:ident $i:tt),+) => {
        impl<$($t: DirectValue),+> DirectRow for ($($t,)+) {
            fn from_row(row: &direct::Row<'_>) -> Result<Self, sqlx::Error> {
                Ok(($(
                    $t::decode(row, $i).map_err(|e| sqlx::Error::ColumnDecode {
                        index: $i.to_string(),
                        source: e.into(),
                    })?,
                )+))
            }
        }
    };
}
direct_tuple!(A 0);
direct_tuple!(A 0, B 1);
direct_tuple!(A 0, B 1, C 2);
direct_tuple!(A 0, B 1, C 2, D 3);
direct_tuple!(A 0, B 1, C 2, D 3, E 4);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14);
direct_tuple!(A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11, M 12, N 13, O 14, P 15);

/// Defines a row struct that sqlx decodes by column name (`sqlx::FromRow`) and a direct
/// read decodes the same way: each field from the column of its name.
macro_rules! read_row {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($fvis:vis $field:ident : $ty:ty),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(sqlx::FromRow)]
        $vis struct $name { $($fvis $field: $ty),+ }

        impl $crate::store::read::DirectRow for $name {
            fn from_row(
                row: &prometheus_sqlite_ext::direct::Row<'_>,
            ) -> Result<Self, sqlx::Error> {
                Ok(Self {
                    $($field: $crate::store::read::named::<$ty>(row, stringify!($field))?,)+
                })
            }
        }
    };
}
pub(crate) use read_row;

/// The column called `name` of `row`, decoded as `V` (a [`read_row!`] field).
///
/// # Errors
/// No such column, or it does not decode ([`sqlx::Error::ColumnNotFound`],
/// [`sqlx::Error::ColumnDecode`]).
pub(crate) fn named<V: DirectValue>(row: &direct::Row<'_>, name: &str) -> Result<V, sqlx::Error> {
    let i = (0..row.len())
        .find(|&i| row.name(i) == Some(name))
        .ok_or_else(|| sqlx::Error::ColumnNotFound(name.to_owned()))?;
    V::decode(row, i).map_err(|e| sqlx::Error::ColumnDecode {
        index: name.to_owned(),
        source: e.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ErrorClass;
    use crate::store::error::StoreError;

    read_row! {
        /// Declared in another order than the query's columns: fields go by name.
        #[derive(Debug)]
        struct Named {
            label: Option<String>,
            id: i64,
            day: NaiveDate,
        }
    }

    /// A SQLite file with one row of every kind the reads decode, and its pool.
    async fn database() -> (tempfile::TempDir, Pool, Arc<DirectReads>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        let pool = Pool::connect(&url, 2).await.unwrap();
        let Pool::Sqlite(p) = &pool else {
            unreachable!("a SQLite URL")
        };
        sqlx::query(
            "CREATE TABLE t (id INTEGER, x REAL, label TEXT, day TEXT, at TEXT, flag INTEGER, b BLOB)",
        )
        .execute(p)
        .await
        .unwrap();
        let at = DateTime::parse_from_rfc3339("2024-03-01T21:00:00.25Z")
            .unwrap()
            .with_timezone(&Utc);
        for (id, label) in [(1_i64, Some("one")), (2, None)] {
            sqlx::query("INSERT INTO t VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(id)
                .bind(1.5 * id as f64)
                .bind(label)
                .bind(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap())
                .bind(at)
                .bind(id == 1)
                .bind(vec![1_u8, 2, 3])
                .execute(p)
                .await
                .unwrap();
        }
        let direct = DirectReads::for_pool(&pool).expect("a SQLite file has direct reads");
        (dir, pool, direct)
    }

    #[tokio::test]
    async fn a_read_connection_has_the_shared_settings_and_a_smaller_cache() {
        let (_dir, _pool, direct) = database().await;
        let read = |name: &'static str| {
            direct
                .with(|c| query::<(i64,)>(c, &Statement::new(format!("PRAGMA {name}")), None))
                .unwrap()[0]
                .0
        };
        assert_eq!(read("busy_timeout"), 60_000);
        assert_eq!(read("mmap_size"), 0);
        assert_eq!(read("temp_store"), 2);
        assert_eq!(read("foreign_keys"), 1);
        assert_eq!(read("cache_size"), -16_384);
        assert_eq!(read("query_only"), 1);
    }

    type Wide = (
        i64,
        f64,
        Option<String>,
        NaiveDate,
        DateTime<Utc>,
        bool,
        Vec<u8>,
        i32,
    );

    #[tokio::test]
    async fn direct_reads_decode_and_bind_as_sqlx_does() {
        let (_dir, pool, direct) = database().await;
        const SQL: &str = "SELECT id, x, label, day, at, flag, b, id FROM t \
             WHERE day = $1 AND at = $2 AND ($3 IS NULL OR label = $3) AND x >= $4 AND id >= $5 \
             ORDER BY id";
        let at = DateTime::parse_from_rfc3339("2024-03-01T21:00:00.25Z")
            .unwrap()
            .with_timezone(&Utc);
        let day = NaiveDate::from_ymd_opt(2024, 3, 1).unwrap();
        fn read<'a>(reads: Reads<'a>, day: NaiveDate, at: DateTime<Utc>) -> Read<'a, Wide> {
            reads
                .query_as::<Wide>(SQL)
                .bind(day)
                .bind(at)
                .bind(None::<&str>)
                .bind(1.0)
                .bind(1_i64)
        }
        let by_pool = read(Reads::new(&pool, None), day, at)
            .fetch_all()
            .await
            .unwrap();
        let by_direct = read(Reads::new(&pool, Some(&direct)), day, at)
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(by_pool.len(), 2);
        assert_eq!(by_direct, by_pool);
        assert_eq!(by_direct[0].2.as_deref(), Some("one"));
        assert_eq!(by_direct[1].2, None);
        assert_eq!(by_direct[0].4, at);
        assert!(by_direct[0].5 && !by_direct[1].5);
        // A bound text narrows as in sqlx; the first row only, and none.
        let reads = Reads::new(&pool, Some(&direct));
        let one = reads
            .query_as::<Wide>(SQL)
            .bind(day)
            .bind(at)
            .bind("one")
            .bind(0.0)
            .bind(0_i64)
            .fetch_optional()
            .await
            .unwrap();
        assert_eq!(one.map(|r| r.0), Some(1));
        let first = reads
            .query_scalar::<i64>("SELECT id FROM t ORDER BY id DESC")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(first, 2);
        let none = reads
            .query_scalar::<i64>("SELECT id FROM t WHERE id > $1")
            .bind(9_i64)
            .fetch_one()
            .await;
        assert!(matches!(none, Err(sqlx::Error::RowNotFound)));
        // Struct rows by column name.
        let named = reads
            .query_as::<Named>("SELECT day, id, label FROM t ORDER BY id")
            .fetch_all()
            .await
            .unwrap();
        assert_eq!(named[0].id, 1);
        assert_eq!(named[0].label.as_deref(), Some("one"));
        assert_eq!(named[1].day, day);
    }

    #[tokio::test]
    async fn instants_in_every_form_sqlx_reads_decode_as_sqlx_decodes_them() {
        let (_dir, pool, direct) = database().await;
        const SQL: &str = "SELECT '2024-03-01 21:00:00', '2024-03-01T21:00', \
             '2024-03-01 21:00:00.5+01:00', 2460371.375, 1709326800, '2024-03-01T21:00:00Z'";
        type Six = (
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
        );
        let by_pool = Reads::new(&pool, None)
            .query_as::<Six>(SQL)
            .fetch_one()
            .await
            .unwrap();
        let by_direct = Reads::new(&pool, Some(&direct))
            .query_as::<Six>(SQL)
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(by_direct, by_pool);
        assert_eq!(by_direct.0.to_rfc3339(), "2024-03-01T21:00:00+00:00");
    }

    #[tokio::test]
    async fn a_bad_read_is_the_error_sqlx_would_give() {
        let (_dir, pool, direct) = database().await;
        let reads = Reads::new(&pool, Some(&direct));
        // NULL where a value is required: a decode error naming the column.
        let e = reads
            .query_as::<(i64, String)>("SELECT id, label FROM t ORDER BY id")
            .fetch_all()
            .await
            .unwrap_err();
        assert!(
            matches!(&e, sqlx::Error::ColumnDecode { index, .. } if index == "1"),
            "{e}"
        );
        let e = reads
            .query_as::<Named>("SELECT id, day FROM t")
            .fetch_all()
            .await
            .unwrap_err();
        assert!(
            matches!(&e, sqlx::Error::ColumnNotFound(c) if c == "label"),
            "{e}"
        );
        // A refused statement: a database error with SQLite's code, classed as sqlx's are.
        let e = reads
            .query_scalar::<i64>("SELECT nope FROM t")
            .fetch_all()
            .await
            .unwrap_err();
        let sqlx::Error::Database(db) = &e else {
            panic!("a database error: {e}")
        };
        assert_eq!(db.code().as_deref(), Some("1"));
        assert!(db.message().contains("nope"));
        let q = StoreError::query("read");
        assert_eq!(q(e).class(), ErrorClass::Permanent);
        let busy = database_error(direct::SqliteError {
            code: 5,
            message: "database is locked".into(),
        });
        assert_eq!(
            StoreError::query("read")(busy).class(),
            ErrorClass::Transient
        );
        // The connection that failed is not kept; the next read opens another and works.
        let n = reads
            .query_scalar::<i64>("SELECT COUNT(*) FROM t")
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn a_direct_read_sees_what_the_pool_committed() {
        let (_dir, pool, direct) = database().await;
        let reads = Reads::new(&pool, Some(&direct));
        let count = || {
            reads
                .query_scalar::<i64>("SELECT COUNT(*) FROM t")
                .fetch_one()
        };
        assert_eq!(count().await.unwrap(), 2);
        let Pool::Sqlite(p) = &pool else {
            unreachable!()
        };
        sqlx::query("INSERT INTO t (id) VALUES (3)")
            .execute(p)
            .await
            .unwrap();
        assert_eq!(count().await.unwrap(), 3);
    }

    #[tokio::test]
    async fn memory_and_postgres_databases_read_through_the_pool() {
        let pool = Pool::connect("sqlite::memory:", 1).await.unwrap();
        assert!(DirectReads::for_pool(&pool).is_none());
        let n = Reads::new(&pool, None)
            .query_scalar::<i64>("SELECT $1 + 1")
            .bind(41_i64)
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(n, 42);
    }
}

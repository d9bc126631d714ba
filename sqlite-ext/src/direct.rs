//! A SQLite connection the calling thread drives itself.
//!
//! Why it exists: sqlx runs each SQLite connection on a worker thread of its own, so every
//! statement is a round trip — the caller hands the statement over, sleeps, the worker wakes,
//! runs it, hands the rows back and wakes the caller — and a pooled connection pings that
//! worker once more when it goes back to the pool. A backfill reads ~130 small things a
//! session (a run record, a day's scores, a fingerprint), each a few microseconds of SQLite
//! and several times that in thread hand-offs. A [`DirectConnection`] runs the statement on the
//! thread that asks, with no hand-off at all; it is meant for small reads (a point lookup, a
//! day's rows), which block their thread for no longer than the hand-offs they replace.
//!
//! The store reads through such connections opened [`Access::Read`] (`query_only`: a
//! statement that would write fails), and its batching writer writes through one opened
//! [`Access::Write`] on the writer's own thread — the same reasoning, for its ~70
//! statements a session.

use libsqlite3_sys as ffi;
use std::collections::HashMap;
use std::ffi::{CStr, CString, c_int};
use std::marker::PhantomData;
use std::path::Path;
use std::ptr::NonNull;

/// The most prepared statements a connection keeps; past it the cache starts afresh. Reads
/// are a few dozen fixed statements; the writer's bulk statements come in a few sizes per
/// table (see the store's `bulk::SQLITE_PIECES`).
const STATEMENT_CACHE: usize = 1024;

/// What a connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reads only (`PRAGMA query_only`).
    Read,
    /// Reads and writes.
    Write,
}

/// A failed open, prepare, bind or step: SQLite's extended result code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteError {
    /// SQLite's extended result code (`5` busy, `11` corrupt, …).
    pub code: i32,
    /// SQLite's message for it, with the statement it came from.
    pub message: String,
}

impl std::fmt::Display for SqliteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (SQLite result code {})", self.message, self.code)
    }
}

impl std::error::Error for SqliteError {}

/// A value bound to a statement's parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    /// SQL NULL.
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(&'a str),
    /// Bytes.
    Blob(&'a [u8]),
}

/// The storage class of one column of the current row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 64-bit integer.
    Int,
    /// A double.
    Real,
    /// Text.
    Text,
    /// Bytes.
    Blob,
    /// NULL.
    Null,
}

/// One prepared statement and, for each of its parameters in SQLite's order, which
/// argument it takes (`$N` is argument `N`; an anonymous `?` the next one).
struct Prepared {
    stmt: NonNull<ffi::sqlite3_stmt>,
    args: Vec<usize>,
}

/// An open SQLite connection, driven by whichever thread holds it (one at a time: it is
/// `Send`, not `Sync`).
pub struct DirectConnection {
    db: NonNull<ffi::sqlite3>,
    statements: HashMap<String, Prepared>,
}

// SAFETY: SQLite is built thread-safe (sqlx's bundled build, SQLITE_THREADSAFE=1) and the
// connection is opened without its own mutex, which allows use from any thread as long as
// no two use it at once — `&mut self` on every use guarantees that.
unsafe impl Send for DirectConnection {}

impl std::fmt::Debug for DirectConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectConnection")
            .field("statements", &self.statements.len())
            .finish()
    }
}

impl DirectConnection {
    /// Opens the database file at `path` (which must exist), then runs each of `pragmas`
    /// (`name = value`), and `query_only = 1` for [`Access::Read`].
    ///
    /// # Errors
    /// The file cannot be opened, or SQLite refused a pragma.
    pub fn open(
        path: &Path,
        pragmas: &[(&str, &str)],
        access: Access,
    ) -> Result<Self, SqliteError> {
        let name = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| SqliteError {
            code: ffi::SQLITE_CANTOPEN,
            message: format!("database path {} contains a NUL byte", path.display()),
        })?;
        let mut raw: *mut ffi::sqlite3 = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated; `raw` receives the handle (or null on OOM).
        let code = unsafe {
            ffi::sqlite3_open_v2(
                name.as_ptr(),
                &raw mut raw,
                ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX,
                std::ptr::null(),
            )
        };
        let Some(db) = NonNull::new(raw) else {
            return Err(SqliteError {
                code: ffi::SQLITE_NOMEM,
                message: format!("open {}: out of memory", path.display()),
            });
        };
        let mut conn = Self {
            db,
            statements: HashMap::new(),
        };
        if code != ffi::SQLITE_OK {
            return Err(conn.error(code, &format!("open {}", path.display())));
        }
        // SAFETY: an open connection.
        unsafe { ffi::sqlite3_extended_result_codes(conn.db.as_ptr(), 1) };
        let mut script = String::new();
        let read_only: &[(&str, &str)] = match access {
            Access::Read => &[("query_only", "1")],
            Access::Write => &[],
        };
        for (name, value) in pragmas.iter().chain(read_only) {
            script.push_str(&format!("PRAGMA {name} = {value};"));
        }
        conn.exec(&script)?;
        Ok(conn)
    }

    /// Runs `sql`: one or more statements whose results nobody reads (`BEGIN IMMEDIATE`,
    /// `COMMIT`, pragmas), without caching them.
    ///
    /// # Errors
    /// SQLite refused a statement.
    pub fn exec(&mut self, sql: &str) -> Result<(), SqliteError> {
        let text = CString::new(sql).map_err(|_| SqliteError {
            code: ffi::SQLITE_MISUSE,
            message: "statement contains a NUL byte".to_owned(),
        })?;
        // SAFETY: an open connection and a NUL-terminated script; no callback.
        let code = unsafe {
            ffi::sqlite3_exec(
                self.db.as_ptr(),
                text.as_ptr(),
                None,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if code == ffi::SQLITE_OK {
            Ok(())
        } else {
            Err(self.error(code, sql))
        }
    }

    /// The connection's last error, for a call that returned `code`.
    fn error(&self, code: c_int, sql: &str) -> SqliteError {
        last_error(self.db, code, sql)
    }

    /// The prepared statement for `sql`, prepared on its first use.
    fn prepared(&mut self, sql: &str) -> Result<&Prepared, SqliteError> {
        if !self.statements.contains_key(sql) {
            if self.statements.len() >= STATEMENT_CACHE {
                self.finalize_all();
            }
            let prepared = self.prepare(sql)?;
            self.statements.insert(sql.to_owned(), prepared);
        }
        self.statements.get(sql).ok_or_else(|| SqliteError {
            code: ffi::SQLITE_INTERNAL,
            message: "prepared statement vanished from the cache".to_owned(),
        })
    }

    fn prepare(&self, sql: &str) -> Result<Prepared, SqliteError> {
        let len = c_int::try_from(sql.len()).map_err(|_| SqliteError {
            code: ffi::SQLITE_TOOBIG,
            message: "statement longer than 2 GiB".to_owned(),
        })?;
        let mut raw: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        let mut tail: *const std::ffi::c_char = std::ptr::null();
        // SAFETY: an open connection; `sql` is valid for `len` bytes (no NUL needed when the
        // length is given); `raw` and `tail` receive the statement and the unparsed rest.
        let code = unsafe {
            ffi::sqlite3_prepare_v3(
                self.db.as_ptr(),
                sql.as_ptr().cast(),
                len,
                ffi::SQLITE_PREPARE_PERSISTENT,
                &raw mut raw,
                &raw mut tail,
            )
        };
        if code != ffi::SQLITE_OK {
            return Err(self.error(code, sql));
        }
        let Some(stmt) = NonNull::new(raw) else {
            return Err(SqliteError {
                code: ffi::SQLITE_MISUSE,
                message: format!("no statement in: {}", sql.trim()),
            });
        };
        // The statement owns nothing yet; finalize it if the rest is refused.
        let finalize = |e: SqliteError| {
            // SAFETY: a statement prepared above, used nowhere else.
            unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
            e
        };
        // SAFETY: SQLite sets `tail` to the first byte after the statement it parsed, inside
        // `sql` (or leaves it null).
        let parsed = if tail.is_null() {
            sql.len()
        } else {
            usize::try_from(unsafe { tail.offset_from(sql.as_ptr().cast()) }).unwrap_or(sql.len())
        };
        let rest = sql.get(parsed..).unwrap_or_default();
        if !rest.trim().trim_start_matches(';').trim().is_empty() {
            return Err(finalize(SqliteError {
                code: ffi::SQLITE_MISUSE,
                message: format!("more than one statement in: {}", sql.trim()),
            }));
        }
        // SAFETY: a prepared statement.
        let count = unsafe { ffi::sqlite3_bind_parameter_count(stmt.as_ptr()) };
        let mut args = Vec::new();
        for i in 1..=count {
            // SAFETY: a prepared statement and an index in 1..=count; the name (or null) is
            // owned by the statement and read at once.
            let name = unsafe { ffi::sqlite3_bind_parameter_name(stmt.as_ptr(), i) };
            let arg = if name.is_null() {
                usize::try_from(i - 1).unwrap_or(usize::MAX)
            } else {
                // SAFETY: a NUL-terminated name owned by the statement.
                let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
                match name
                    .strip_prefix(['$', '?'])
                    .and_then(|n| n.parse::<usize>().ok())
                {
                    Some(n) if n >= 1 => n - 1,
                    _ => {
                        return Err(finalize(SqliteError {
                            code: ffi::SQLITE_MISUSE,
                            message: format!(
                                "parameter {name} is not numbered ($1, $2, …) in: {}",
                                sql.trim()
                            ),
                        }));
                    }
                }
            };
            args.push(arg);
        }
        Ok(Prepared { stmt, args })
    }

    fn finalize_all(&mut self) {
        for (_, p) in self.statements.drain() {
            // SAFETY: a statement of this connection, finalized once (drained).
            unsafe { ffi::sqlite3_finalize(p.stmt.as_ptr()) };
        }
    }

    /// Runs `sql` with `args` (`$N` takes `args[N-1]`, an anonymous `?` the next one),
    /// hands each result row to `row`, and returns how many rows the statement changed.
    /// It stops at the first error either gives.
    ///
    /// # Errors
    /// SQLite refused the statement, an argument is missing, or a step failed; the
    /// callback's own error is returned as [`RunError::Row`].
    pub fn run<E>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        mut row: impl FnMut(&Row<'_>) -> Result<(), E>,
    ) -> Result<u64, RunError<E>> {
        let db = self.db;
        let prepared = self.prepared(sql).map_err(RunError::Sqlite)?;
        let stmt = prepared.stmt;
        // Resets the statement however this ends — a panicking callback included — so it
        // never keeps a read transaction open or pointers into `args`.
        let _reset = Reset(stmt);
        Self::bind(db, prepared, args, sql).and_then(|()| {
            loop {
                // SAFETY: a prepared, bound statement of this connection.
                match unsafe { ffi::sqlite3_step(stmt.as_ptr()) } {
                    ffi::SQLITE_ROW => {
                        let current = Row {
                            stmt,
                            _borrow: PhantomData,
                        };
                        row(&current).map_err(RunError::Row)?;
                    }
                    ffi::SQLITE_DONE => {
                        // SAFETY: an open connection.
                        let changed = unsafe { ffi::sqlite3_changes64(db.as_ptr()) };
                        break Ok(u64::try_from(changed).unwrap_or(0));
                    }
                    code => break Err(RunError::Sqlite(last_error(db, code, sql))),
                }
            }
        })
    }

    fn bind<E>(
        db: NonNull<ffi::sqlite3>,
        prepared: &Prepared,
        args: &[Arg<'_>],
        sql: &str,
    ) -> Result<(), RunError<E>> {
        let stmt = prepared.stmt.as_ptr();
        for (i, &a) in prepared.args.iter().enumerate() {
            let Some(arg) = args.get(a) else {
                return Err(RunError::Sqlite(SqliteError {
                    code: ffi::SQLITE_RANGE,
                    message: format!(
                        "parameter {} has no argument ({} given) in: {}",
                        a + 1,
                        args.len(),
                        sql.trim()
                    ),
                }));
            };
            let index = c_int::try_from(i + 1).unwrap_or(c_int::MAX);
            let too_big = |_| {
                RunError::Sqlite(SqliteError {
                    code: ffi::SQLITE_TOOBIG,
                    message: format!("argument {} is longer than 2 GiB", a + 1),
                })
            };
            // SAFETY: a prepared statement and an index of one of its parameters; text and
            // bytes are bound SQLITE_STATIC: they outlive the step loop, and the bindings
            // are cleared before `args` can go away.
            let code = unsafe {
                match *arg {
                    Arg::Null => ffi::sqlite3_bind_null(stmt, index),
                    Arg::Int(v) => ffi::sqlite3_bind_int64(stmt, index, v),
                    Arg::Real(v) => ffi::sqlite3_bind_double(stmt, index, v),
                    Arg::Text(s) => ffi::sqlite3_bind_text(
                        stmt,
                        index,
                        s.as_ptr().cast(),
                        c_int::try_from(s.len()).map_err(too_big)?,
                        ffi::SQLITE_STATIC(),
                    ),
                    Arg::Blob(b) => ffi::sqlite3_bind_blob(
                        stmt,
                        index,
                        b.as_ptr().cast(),
                        c_int::try_from(b.len()).map_err(too_big)?,
                        ffi::SQLITE_STATIC(),
                    ),
                }
            };
            if code != ffi::SQLITE_OK {
                return Err(RunError::Sqlite(last_error(db, code, sql)));
            }
        }
        Ok(())
    }
}

/// Resets a statement when dropped (see [`DirectConnection::run`]).
struct Reset(NonNull<ffi::sqlite3_stmt>);

impl Drop for Reset {
    fn drop(&mut self) {
        // SAFETY: a prepared statement of a connection that outlives this guard (the guard
        // lives inside `run`, which borrows the connection); resetting ends its read
        // transaction and clearing drops the bound text and bytes (borrowed from `args`).
        unsafe {
            ffi::sqlite3_reset(self.0.as_ptr());
            ffi::sqlite3_clear_bindings(self.0.as_ptr());
        }
    }
}

/// The last error of connection `db`, for a call that returned `code`, naming `sql`.
fn last_error(db: NonNull<ffi::sqlite3>, code: c_int, sql: &str) -> SqliteError {
    // SAFETY: an open connection; SQLite owns the message until the next call on it, and it
    // is copied before that.
    let message = unsafe { CStr::from_ptr(ffi::sqlite3_errmsg(db.as_ptr())) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above.
    let extended = unsafe { ffi::sqlite3_extended_errcode(db.as_ptr()) };
    // The extended code refines `code` when it is the same primary code.
    let code = if extended & 0xff == code & 0xff {
        extended
    } else {
        code
    };
    SqliteError {
        code,
        message: format!("{message} (in: {})", sql.trim()),
    }
}

impl Drop for DirectConnection {
    fn drop(&mut self) {
        self.finalize_all();
        // SAFETY: every statement is finalized; the handle is closed once.
        unsafe { ffi::sqlite3_close(self.db.as_ptr()) };
    }
}

/// Why [`DirectConnection::query`] failed.
#[derive(Debug)]
pub enum RunError<E> {
    /// SQLite refused the statement or a step failed.
    Sqlite(SqliteError),
    /// The row callback's error.
    Row(E),
}

/// The current result row of a statement, valid during the callback it is handed to.
pub struct Row<'s> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    _borrow: PhantomData<&'s ()>,
}

impl Row<'_> {
    /// How many columns the row has.
    pub fn len(&self) -> usize {
        // SAFETY: a statement positioned on a row.
        usize::try_from(unsafe { ffi::sqlite3_column_count(self.stmt.as_ptr()) }).unwrap_or(0)
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn index(&self, i: usize) -> Option<c_int> {
        (i < self.len()).then(|| c_int::try_from(i).ok()).flatten()
    }

    /// Column `i`'s name as the statement gives it (`None` past the last column).
    pub fn name(&self, i: usize) -> Option<&str> {
        let i = self.index(i)?;
        // SAFETY: a statement on a row and a column index in range; the name is owned by
        // the statement and stays valid until it is finalized or re-prepared, which cannot
        // happen while this row is borrowed.
        let p = unsafe { ffi::sqlite3_column_name(self.stmt.as_ptr(), i) };
        if p.is_null() {
            return None;
        }
        // SAFETY: a NUL-terminated name (see above).
        unsafe { CStr::from_ptr(p) }.to_str().ok()
    }

    /// Column `i`'s storage class (`None` past the last column).
    pub fn kind(&self, i: usize) -> Option<Kind> {
        let i = self.index(i)?;
        // SAFETY: a statement on a row and a column index in range.
        Some(
            match unsafe { ffi::sqlite3_column_type(self.stmt.as_ptr(), i) } {
                ffi::SQLITE_INTEGER => Kind::Int,
                ffi::SQLITE_FLOAT => Kind::Real,
                ffi::SQLITE_TEXT => Kind::Text,
                ffi::SQLITE_BLOB => Kind::Blob,
                _ => Kind::Null,
            },
        )
    }

    /// Column `i` as an integer (SQLite's conversion of whatever it holds).
    pub fn int(&self, i: usize) -> Option<i64> {
        let i = self.index(i)?;
        // SAFETY: a statement on a row and a column index in range.
        Some(unsafe { ffi::sqlite3_column_int64(self.stmt.as_ptr(), i) })
    }

    /// Column `i` as a double (SQLite's conversion of whatever it holds).
    pub fn real(&self, i: usize) -> Option<f64> {
        let i = self.index(i)?;
        // SAFETY: a statement on a row and a column index in range.
        Some(unsafe { ffi::sqlite3_column_double(self.stmt.as_ptr(), i) })
    }

    /// Column `i`'s bytes as text or blob (empty for NULL). Valid until the next step.
    pub fn bytes(&self, i: usize) -> Option<&[u8]> {
        let i = self.index(i)?;
        // SAFETY: a statement on a row and a column index in range. `column_blob` then
        // `column_bytes` (SQLite's documented order) gives the value's bytes unconverted;
        // they stay valid until the statement steps or resets, which cannot happen while
        // this row is borrowed.
        unsafe {
            let p = ffi::sqlite3_column_blob(self.stmt.as_ptr(), i);
            let n = usize::try_from(ffi::sqlite3_column_bytes(self.stmt.as_ptr(), i)).unwrap_or(0);
            Some(if p.is_null() || n == 0 {
                &[]
            } else {
                std::slice::from_raw_parts(p.cast::<u8>(), n)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempdir::Dir, DirectConnection) {
        let dir = tempdir::Dir::new();
        let path = dir.0.join("t.db");
        let mut w = DirectConnectionForTest::create(&path);
        w.exec(
            "CREATE TABLE t (id INTEGER, name TEXT, x REAL, b BLOB); \
             INSERT INTO t VALUES (1, 'one', 1.5, x'0102'), (2, 'two', NULL, NULL), (3, 'three', 3.0, NULL);",
        );
        drop(w);
        let conn =
            DirectConnection::open(&path, &[("busy_timeout", "1000")], Access::Read).expect("open");
        (dir, conn)
    }

    /// A writable connection to set a test database up (the reader refuses writes).
    struct DirectConnectionForTest(DirectConnection);
    impl DirectConnectionForTest {
        fn create(path: &Path) -> Self {
            std::fs::File::create(path).expect("create file");
            let mut c = DirectConnection::open(path, &[], Access::Write).expect("open");
            c.statements.clear();
            Self(c)
        }
        fn exec(&mut self, sql: &str) {
            self.0.exec(sql).expect("exec");
        }
    }

    mod tempdir {
        /// A directory removed when dropped.
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                let n = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0);
                let p = std::env::temp_dir().join(format!("pv2-direct-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&p).expect("temp dir");
                Self(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    fn rows(conn: &mut DirectConnection, sql: &str, args: &[Arg<'_>]) -> Vec<(i64, String)> {
        let mut out = Vec::new();
        conn.run::<()>(sql, args, |r| {
            out.push((
                r.int(0).expect("col 0"),
                String::from_utf8(r.bytes(1).expect("col 1").to_vec()).expect("utf8"),
            ));
            Ok(())
        })
        .expect("query");
        out
    }

    #[test]
    fn numbered_parameters_take_their_argument_whatever_their_order() {
        let (_d, mut c) = db();
        let got = rows(
            &mut c,
            "SELECT id, name FROM t WHERE name <> $2 AND id >= $1 ORDER BY id",
            &[Arg::Int(2), Arg::Text("three")],
        );
        assert_eq!(got, vec![(2, "two".to_owned())]);
        // The same statement again (cached), with other arguments.
        let got = rows(
            &mut c,
            "SELECT id, name FROM t WHERE name <> $2 AND id >= $1 ORDER BY id",
            &[Arg::Int(1), Arg::Text("two")],
        );
        assert_eq!(got, vec![(1, "one".to_owned()), (3, "three".to_owned())]);
        // A parameter used twice takes one argument.
        let got = rows(
            &mut c,
            "SELECT id, name FROM t WHERE id = $1 OR id = $1 + 1 ORDER BY id",
            &[Arg::Int(2)],
        );
        assert_eq!(got.len(), 2);
        // Anonymous parameters in order.
        let got = rows(
            &mut c,
            "SELECT id, name FROM t WHERE id = ?",
            &[Arg::Int(3)],
        );
        assert_eq!(got, vec![(3, "three".to_owned())]);
    }

    #[test]
    fn kinds_values_and_nulls_read_as_stored() {
        let (_d, mut c) = db();
        let mut seen = Vec::new();
        c.run::<()>("SELECT x, b FROM t ORDER BY id", &[], |r| {
            seen.push((
                r.kind(0),
                r.real(0),
                r.kind(1),
                r.bytes(1).map(<[u8]>::to_vec),
            ));
            Ok(())
        })
        .expect("query");
        assert_eq!(
            seen[0],
            (
                Some(Kind::Real),
                Some(1.5),
                Some(Kind::Blob),
                Some(vec![1, 2])
            )
        );
        assert_eq!(seen[1].0, Some(Kind::Null));
        assert_eq!(seen[1].2, Some(Kind::Null));
        assert_eq!(seen[1].3, Some(Vec::new()));
        // Past the last column.
        c.run::<()>("SELECT id FROM t LIMIT 1", &[], |r| {
            assert_eq!(r.len(), 1);
            assert_eq!(r.name(0), Some("id"));
            assert_eq!(r.name(1), None);
            assert_eq!(r.kind(1), None);
            assert_eq!(r.int(1), None);
            Ok(())
        })
        .expect("query");
    }

    #[test]
    fn errors_say_what_and_where_and_leave_the_connection_usable() {
        let (_d, mut c) = db();
        let e = c
            .run::<()>("SELECT nope FROM t", &[], |_| Ok(()))
            .expect_err("bad column");
        let RunError::Sqlite(e) = e else {
            panic!("a SQLite error")
        };
        assert!(e.message.contains("nope"), "{e}");
        let e = c
            .run::<()>("SELECT id FROM t WHERE id = $2", &[Arg::Int(1)], |_| Ok(()))
            .expect_err("missing argument");
        assert!(
            matches!(e, RunError::Sqlite(SqliteError { code, .. }) if code == ffi::SQLITE_RANGE)
        );
        let e = c
            .run("SELECT id FROM t", &[], |_| Err("stop"))
            .expect_err("callback error");
        assert!(matches!(e, RunError::Row("stop")));
        let e = c
            .run::<()>("DELETE FROM t", &[], |_| Ok(()))
            .expect_err("read only");
        assert!(matches!(e, RunError::Sqlite(_)));
        let e = c
            .run::<()>("SELECT 1; SELECT 2", &[], |_| Ok(()))
            .expect_err("two statements");
        assert!(
            matches!(e, RunError::Sqlite(SqliteError { code, .. }) if code == ffi::SQLITE_MISUSE)
        );
        assert_eq!(
            rows(
                &mut c,
                "SELECT id, name FROM t WHERE id = $1",
                &[Arg::Int(1)]
            )
            .len(),
            1
        );
    }

    #[test]
    fn a_write_connection_writes_and_counts_the_rows_it_changed() {
        let (dir, mut reader) = db();
        let mut w = DirectConnection::open(&dir.0.join("t.db"), &[], Access::Write).expect("open");
        w.exec("BEGIN IMMEDIATE").expect("begin");
        let n = w
            .run::<()>(
                "UPDATE t SET x = ? WHERE id >= ?",
                &[Arg::Real(9.0), Arg::Int(2)],
                |_| Ok(()),
            )
            .expect("update");
        assert_eq!(n, 2);
        w.exec("COMMIT").expect("commit");
        let mut xs = Vec::new();
        reader
            .run::<()>("SELECT x FROM t ORDER BY id", &[], |r| {
                xs.push(r.real(0));
                Ok(())
            })
            .expect("read");
        assert_eq!(xs, vec![Some(1.5), Some(9.0), Some(9.0)]);
    }

    #[test]
    fn a_panicking_callback_leaves_the_statement_reset() {
        let (dir, mut c) = db();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = c.run::<()>("SELECT id FROM t ORDER BY id", &[], |_| panic!("callback"));
        }));
        assert!(caught.is_err());
        // No read transaction is left open: a write elsewhere is seen at once.
        let mut w = DirectConnection::open(&dir.0.join("t.db"), &[], Access::Write).expect("open");
        w.run::<()>("DELETE FROM t WHERE id = 1", &[], |_| Ok(()))
            .expect("delete");
        assert_eq!(
            rows(&mut c, "SELECT id, name FROM t ORDER BY id", &[]).len(),
            2
        );
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let e = DirectConnection::open(Path::new("/nonexistent/dir/x.db"), &[], Access::Read)
            .expect_err("missing");
        assert!(e.message.contains("/nonexistent/dir/x.db"), "{e}");
    }
}

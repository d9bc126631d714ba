//! SQL functions this project registers on every SQLite connection it opens, the
//! allocator SQLite is given ([`use_mimalloc`], see `alloc.rs`), and a read connection the
//! calling thread drives itself ([`direct`]).
//!
//! The functional core forbids `unsafe`; registering a function with SQLite, or configuring
//! it, is a foreign call, so it lives here, in one small crate with one function to
//! register, its two callbacks and the allocator's, each checked by tests against SQLite
//! itself.
//!
//! **`pv2_pack_rows(date, v1, …, vk)`** is an aggregate: it returns one BLOB holding each row
//! of its group, in date order, as the date's 10 bytes of text followed by each value's
//! IEEE-754 bits (8 bytes, little-endian; NULL as a NaN, which SQLite never stores). The price reads pack a
//! year of an instrument into one row this way: the driver's cost is per row, and the
//! alternative — printing every number as text in SQL and parsing it back — spent most of a
//! database-backed backtest's read time in SQLite's float printing. The bits are exactly the
//! double `sqlite3_value_double` gives, which is what a row-by-row read decodes. A group
//! with a value that is neither a number nor NULL, or a date that is not 10 bytes of text,
//! gives NULL: the caller then reads that instrument row by row and reports the bad value.

#![deny(unsafe_op_in_unsafe_fn)]

mod alloc;
pub mod direct;

pub use alloc::{ConfigError, use_mimalloc};

use libsqlite3_sys as ffi;
use std::ffi::{c_int, c_void};
use std::ptr::NonNull;

/// Bytes of a packed row's date (`YYYY-MM-DD`).
pub const DATE_BYTES: usize = 10;

/// Bytes of a packed value.
pub const VALUE_BYTES: usize = 8;

/// The aggregate's name as SQLite is given it.
const PACK_ROWS_C: &std::ffi::CStr = c"pv2_pack_rows";

/// The aggregate's name in SQL.
pub const PACK_ROWS: &str = match PACK_ROWS_C.to_str() {
    Ok(name) => name,
    Err(_) => panic!("the aggregate's name is ASCII"),
};

/// SQLite refused to register a function (its result code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegisterError {
    /// SQLite's result code.
    pub code: i32,
}

impl std::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SQLite refused to register {PACK_ROWS} (result code {})",
            self.code
        )
    }
}

impl std::error::Error for RegisterError {}

/// Registers this crate's functions on a connection sqlx opened (a pool's `after_connect`).
///
/// # Errors
/// The connection's worker is gone, or SQLite refused (its result code, as
/// [`sqlx::Error::Configuration`]).
pub async fn register_on(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the locked handle is an open connection no other thread uses while we hold it.
    unsafe { register(handle.as_raw_handle()) }.map_err(|e| sqlx::Error::Configuration(Box::new(e)))
}

/// Registers this crate's functions on the connection `db`.
///
/// # Safety
/// `db` must be an open SQLite connection that no other thread uses during the call.
unsafe fn register(db: NonNull<ffi::sqlite3>) -> Result<(), RegisterError> {
    // SAFETY: the caller gives an open connection used by no one else; the name is a
    // NUL-terminated literal; the callbacks match SQLite's signatures and keep their state
    // in SQLite's aggregate context (no application pointer, nothing to destroy).
    let code = unsafe {
        ffi::sqlite3_create_function_v2(
            db.as_ptr(),
            PACK_ROWS_C.as_ptr(),
            -1,
            ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC | ffi::SQLITE_INNOCUOUS,
            std::ptr::null_mut(),
            None,
            Some(pack_step),
            Some(pack_final),
            None,
        )
    };
    if code == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(RegisterError { code })
    }
}

/// One group's packed rows, or the note that the group holds something unpackable.
#[derive(Default)]
struct Packed {
    bytes: Vec<u8>,
    /// Bytes of one row (set by the first row).
    row: usize,
    unpackable: bool,
}

impl Packed {
    /// Puts the rows in date order. SQLite feeds a group's rows in the order its plan
    /// visits them — for the price reads the primary key's, already by date, which this
    /// checks in one pass — and an `ORDER BY` inside the aggregate would make SQLite copy
    /// every row through a temporary b-tree first (it tripled the read's time).
    fn sort_by_date(&mut self) {
        if self.row == 0 {
            return;
        }
        let date = |r: &[u8]| -> [u8; DATE_BYTES] {
            let mut d = [0u8; DATE_BYTES];
            d.copy_from_slice(&r[..DATE_BYTES]);
            d
        };
        let rows = self.bytes.chunks_exact(self.row);
        if rows
            .clone()
            .zip(rows.skip(1))
            .all(|(a, b)| date(a) <= date(b))
        {
            return;
        }
        let mut order: Vec<&[u8]> = self.bytes.chunks_exact(self.row).collect();
        order.sort_by_key(|r| date(r));
        self.bytes = order.concat();
    }
}

/// The group's state: a pointer to a boxed [`Packed`] kept in SQLite's aggregate context
/// (zeroed by SQLite on first use, so null until the first row).
///
/// # Safety
/// `ctx` is the aggregate's context inside a step or final callback.
unsafe fn state(ctx: *mut ffi::sqlite3_context, create: bool) -> Option<*mut *mut Packed> {
    let size = if create {
        std::mem::size_of::<*mut Packed>() as c_int
    } else {
        0
    };
    // SAFETY: called from this aggregate's callbacks with their context.
    let slot = unsafe { ffi::sqlite3_aggregate_context(ctx, size) }.cast::<*mut Packed>();
    (!slot.is_null()).then_some(slot)
}

/// `xStep`: appends one row.
unsafe extern "C" fn pack_step(
    ctx: *mut ffi::sqlite3_context,
    argc: c_int,
    argv: *mut *mut ffi::sqlite3_value,
) {
    // SAFETY: SQLite calls this with the aggregate's context.
    let Some(slot) = (unsafe { state(ctx, true) }) else {
        // SAFETY: as above.
        unsafe { ffi::sqlite3_result_error_nomem(ctx) };
        return;
    };
    // SAFETY: the slot is SQLite's zeroed, pointer-sized, aligned memory for this group.
    let packed = unsafe {
        if (*slot).is_null() {
            *slot = Box::into_raw(Box::default());
        }
        &mut **slot
    };
    if packed.unpackable {
        return;
    }
    let argc = usize::try_from(argc).unwrap_or(0);
    let row = DATE_BYTES + VALUE_BYTES * argc.saturating_sub(1);
    if argc == 0 || argv.is_null() || (packed.row != 0 && packed.row != row) {
        packed.unpackable = true;
        return;
    }
    packed.row = row;
    // SAFETY: SQLite passes `argc` valid value pointers.
    let args = unsafe { std::slice::from_raw_parts(argv, argc) };
    // SAFETY: each value is valid for this call; text is read with its byte length.
    unsafe {
        let date = args[0];
        if ffi::sqlite3_value_type(date) != ffi::SQLITE_TEXT {
            packed.unpackable = true;
            return;
        }
        let text = ffi::sqlite3_value_text(date);
        let len = ffi::sqlite3_value_bytes(date);
        if text.is_null() || usize::try_from(len) != Ok(DATE_BYTES) {
            packed.unpackable = true;
            return;
        }
        packed
            .bytes
            .extend_from_slice(std::slice::from_raw_parts(text, DATE_BYTES));
        for &v in &args[1..] {
            let value = match ffi::sqlite3_value_type(v) {
                ffi::SQLITE_NULL => f64::NAN,
                ffi::SQLITE_INTEGER | ffi::SQLITE_FLOAT => ffi::sqlite3_value_double(v),
                _ => {
                    packed.unpackable = true;
                    return;
                }
            };
            packed.bytes.extend_from_slice(&value.to_le_bytes());
        }
    }
}

/// `xFinal`: the group's BLOB (empty for no rows), or NULL when it held something
/// unpackable. SQLite calls it once per group, also when a statement is reset midway, so the
/// state is always freed here.
unsafe extern "C" fn pack_final(ctx: *mut ffi::sqlite3_context) {
    // SAFETY: SQLite calls this with the aggregate's context; `create: false` never
    // allocates.
    let mut packed = unsafe { state(ctx, false) }
        .map(|slot| unsafe { std::mem::replace(&mut *slot, std::ptr::null_mut()) })
        .filter(|p| !p.is_null())
        // SAFETY: the pointer came from `Box::into_raw` in `pack_step` and the slot no
        // longer holds it.
        .map(|p| unsafe { Box::from_raw(p) })
        .unwrap_or_default();
    // SAFETY: results are set on this call's context; SQLite copies the BLOB
    // (SQLITE_TRANSIENT) before `packed` is dropped.
    unsafe {
        if packed.unpackable {
            ffi::sqlite3_result_null(ctx);
            return;
        }
        packed.sort_by_date();
        if let Ok(n) = c_int::try_from(packed.bytes.len()) {
            ffi::sqlite3_result_blob(
                ctx,
                packed.bytes.as_ptr().cast::<c_void>(),
                n,
                ffi::SQLITE_TRANSIENT(),
            );
        } else {
            ffi::sqlite3_result_error_toobig(ctx);
        }
    }
}

/// One row of a `pv2_pack_rows` BLOB, read in place.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PackedRow<'a> {
    /// The date's text as stored (`YYYY-MM-DD`).
    pub date: &'a [u8],
    values: &'a [u8],
}

impl PackedRow<'_> {
    /// The row's `i`-th value (`None` for NULL, or past the last value).
    pub fn value(&self, i: usize) -> Option<f64> {
        let bytes = self.values.get(i * VALUE_BYTES..(i + 1) * VALUE_BYTES)?;
        let mut bits = [0u8; VALUE_BYTES];
        bits.copy_from_slice(bytes);
        Some(f64::from_le_bytes(bits)).filter(|v| !v.is_nan())
    }
}

/// The rows of a `pv2_pack_rows` BLOB with `values` values each, read in place (a year of
/// prices is millions of values: no allocation per row); `None` when its length is not a
/// whole number of rows.
pub fn unpack(blob: &[u8], values: usize) -> Option<impl ExactSizeIterator<Item = PackedRow<'_>>> {
    let row = DATE_BYTES + VALUE_BYTES * values;
    blob.len().is_multiple_of(row).then(|| {
        blob.chunks_exact(row).map(|r| {
            let (date, values) = r.split_at(DATE_BYTES);
            PackedRow { date, values }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::SqlitePoolOptions;

    async fn pool() -> sqlx::SqlitePool {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| Box::pin(register_on(conn)))
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE p (id TEXT, d TEXT, a REAL, b REAL)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    async fn insert(pool: &sqlx::SqlitePool, sql: &str) {
        sqlx::query(sqlx::AssertSqlSafe(format!("INSERT INTO p VALUES {sql}")))
            .execute(pool)
            .await
            .unwrap();
    }

    async fn packed(pool: &sqlx::SqlitePool) -> Vec<(String, Option<Vec<u8>>)> {
        sqlx::query_as(
            // No ORDER BY: the aggregate puts each group's rows in date order itself.
            "SELECT id, pv2_pack_rows(d, a, b) FROM p GROUP BY id ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .unwrap()
    }

    #[test]
    fn unpacking_refuses_partial_rows_and_reads_nan_as_null() {
        let mut blob = b"2024-01-02".to_vec();
        blob.extend_from_slice(&1.5f64.to_le_bytes());
        blob.extend_from_slice(&f64::NAN.to_le_bytes());
        let rows: Vec<_> = unpack(&blob, 2).unwrap().collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].date, b"2024-01-02");
        assert_eq!((rows[0].value(0), rows[0].value(1)), (Some(1.5), None));
        assert_eq!(rows[0].value(2), None);
        assert!(unpack(&blob[..blob.len() - 1], 2).is_none());
        assert_eq!(unpack(&[], 2).unwrap().count(), 0);
    }

    #[tokio::test]
    async fn packed_values_are_the_bits_a_row_read_gives() {
        let pool = pool().await;
        // Out of order, integers, NULLs, 17-digit, subnormal and huge values.
        insert(
            &pool,
            "('X', '2024-01-03', 0.30000000000000004, NULL), ('X', '2024-01-02', 7, -0.0), \
             ('X', '2024-01-04', 4.9e-324, 1.7976931348623157e308), ('Y', '2024-01-02', 1e-300, 2)",
        )
        .await;
        let rows: Vec<(String, String, Option<f64>, Option<f64>)> =
            sqlx::query_as("SELECT id, d, a, b FROM p ORDER BY id, d")
                .fetch_all(&pool)
                .await
                .unwrap();
        let mut expected: Vec<(String, String, Vec<Option<u64>>)> = Vec::new();
        for (id, d, a, b) in rows {
            expected.push((id, d, vec![a.map(f64::to_bits), b.map(f64::to_bits)]));
        }
        let mut got = Vec::new();
        for (id, blob) in packed(&pool).await {
            for r in unpack(&blob.unwrap(), 2).unwrap() {
                let d = String::from_utf8(r.date.to_vec()).unwrap();
                let v = (0..2).map(|i| r.value(i).map(f64::to_bits)).collect();
                got.push((id.clone(), d, v));
            }
        }
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn a_group_with_text_or_a_malformed_date_packs_to_null() {
        let pool = pool().await;
        insert(
            &pool,
            "('A', '2024-01-02', 1.0, 2.0), ('B', '2024-01-02', 'oops', 1.0), \
             ('C', '2024-1-2', 1.0, 1.0), ('D', NULL, 1.0, 1.0), ('E', '2024-01-02', 1.0, x'00')",
        )
        .await;
        let got: Vec<(String, bool)> = packed(&pool)
            .await
            .into_iter()
            .map(|(id, b)| (id, b.is_some()))
            .collect();
        let expected = [
            ("A", true),
            ("B", false),
            ("C", false),
            ("D", false),
            ("E", false),
        ];
        assert_eq!(got, expected.map(|(i, b)| (i.to_owned(), b)).to_vec());
    }

    #[tokio::test]
    async fn no_rows_pack_to_an_empty_blob_and_a_statement_left_midway_is_cleaned_up() {
        let pool = pool().await;
        let empty: Option<Vec<u8>> = sqlx::query_scalar("SELECT pv2_pack_rows(d, a) FROM p")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(empty, Some(Vec::new()));
        for i in 0..50 {
            insert(&pool, &format!("('G{}', '2024-01-02', {i}, 1.0)", i % 5)).await;
        }
        // Stop after the first group: SQLite finalises the others' state.
        let first: (String, Vec<u8>) = sqlx::query_as(
            "SELECT id, pv2_pack_rows(d, a, b) FROM p GROUP BY id ORDER BY id LIMIT 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(first.0, "G0");
        assert_eq!(unpack(&first.1, 2).unwrap().count(), 10);
    }
}

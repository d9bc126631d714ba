//! SQLite's own allocations through mimalloc, without its memory statistics.
//!
//! Why: in a backfill, SQLite's worker threads spent ~8% of the process's samples in
//! glibc's `malloc`, `free` and `malloc_consolidate` and in the statistics SQLite keeps of
//! every allocation (a mutex and counters per call, read by nothing here). The binary
//! already allocates with mimalloc; this hands SQLite the same allocator.
//!
//! Process-wide and only possible before SQLite initializes, i.e. before the first
//! connection opens: the binary calls [`use_mimalloc`] first thing in `main`.

use libmimalloc_sys as mi;
use libsqlite3_sys as ffi;
use std::ffi::{c_int, c_void};

/// SQLite refused the configuration (its result code): it had already initialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigError(pub c_int);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SQLite refused its allocator configuration (code {}): it must come before the first connection",
            self.0
        )
    }
}

impl std::error::Error for ConfigError {}

unsafe extern "C" fn x_malloc(n: c_int) -> *mut c_void {
    // SAFETY: plain allocation; SQLite asks for a positive size.
    unsafe { mi::mi_malloc(usize::try_from(n).unwrap_or(0)) }
}

unsafe extern "C" fn x_free(p: *mut c_void) {
    // SAFETY: SQLite frees only what `x_malloc`/`x_realloc` returned.
    unsafe { mi::mi_free(p) }
}

unsafe extern "C" fn x_realloc(p: *mut c_void, n: c_int) -> *mut c_void {
    // SAFETY: `p` came from this allocator; SQLite asks for a positive size.
    unsafe { mi::mi_realloc(p, usize::try_from(n).unwrap_or(0)) }
}

unsafe extern "C" fn x_size(p: *mut c_void) -> c_int {
    // SAFETY: `p` came from this allocator (or is null, which has size 0).
    let size = unsafe { mi::mi_usable_size(p) };
    c_int::try_from(size).unwrap_or(c_int::MAX)
}

unsafe extern "C" fn x_roundup(n: c_int) -> c_int {
    // SAFETY: a pure size computation.
    let good = unsafe { mi::mi_good_size(usize::try_from(n).unwrap_or(0)) };
    c_int::try_from(good).unwrap_or(n)
}

unsafe extern "C" fn x_init(_: *mut c_void) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_shutdown(_: *mut c_void) {}

/// Makes SQLite allocate with mimalloc and stop counting its allocations, for the whole
/// process.
///
/// # Errors
/// SQLite has already initialized (a connection was opened first): it keeps its defaults,
/// which are correct, only slower.
pub fn use_mimalloc() -> Result<(), ConfigError> {
    let methods = ffi::sqlite3_mem_methods {
        xMalloc: Some(x_malloc),
        xFree: Some(x_free),
        xRealloc: Some(x_realloc),
        xSize: Some(x_size),
        xRoundup: Some(x_roundup),
        xInit: Some(x_init),
        xShutdown: Some(x_shutdown),
        pAppData: std::ptr::null_mut(),
    };
    // SAFETY: both options take the documented argument types (a pointer to a methods
    // struct, of which SQLite makes its own copy before returning; an int); SQLite refuses
    // them, with an error code and no effect, once it has initialized.
    let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MALLOC, &raw const methods) };
    if rc != ffi::SQLITE_OK {
        return Err(ConfigError(rc));
    }
    // SAFETY: as above; `0` turns the statistics off.
    let rc = unsafe { ffi::sqlite3_config(ffi::SQLITE_CONFIG_MEMSTATUS, 0 as c_int) };
    if rc != ffi::SQLITE_OK {
        return Err(ConfigError(rc));
    }
    Ok(())
}

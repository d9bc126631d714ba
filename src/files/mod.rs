//! The third part of storage, beside the two databases: files.
//!
//! - [`archive`] — every raw file an import reads, kept by the SHA-256 of its bytes before it
//!   is parsed, so any batch can be re-imported ([`crate::ingest::replay`]) and any row
//!   traced to the exact bytes it came from.
//! - [`catalog`] — the Parquet catalog (`pv2 export`): prices, derived series, embeddings,
//!   profiles, engine outputs, targets and backtests as Parquet files partitioned by market
//!   and year, with a manifest, for the tools quants use beside this one (pandas, polars,
//!   DuckDB, Spark) — and a price panel source for backtests.

pub mod archive;
pub mod catalog;

pub use archive::{ArchiveError, RawArchive};

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` whole or not at all: into a temporary file of its own beside it
/// (unique per writer, so two writers of the same file never share one), synced, then
/// renamed over `path`. A reader sees the old file or the new one, never a part, and a
/// crash leaves at most a stray `.tmp`. Returns the path an I/O error concerns with it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), (PathBuf, std::io::Error)> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let at = |p: &Path| {
        let p = p.to_owned();
        move |e| (p, e)
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(at(parent))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let mut f = std::fs::File::create(&tmp).map_err(at(&tmp))?;
    f.write_all(bytes).map_err(at(&tmp))?;
    f.sync_all().map_err(at(&tmp))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(at(path))
}

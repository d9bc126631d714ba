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

//! The Parquet catalog: the databases' market data, derived series, embeddings, engine
//! outputs, targets and backtests as Parquet files partitioned by market and year, with a
//! manifest ([`manifest`]), for the tools quants use beside this one.
//!
//! [`export`] writes it incrementally: every partition is encoded again, and written only
//! when its bytes differ from the manifest's (the encoding is deterministic, so unchanged
//! rows give unchanged bytes); partitions whose rows are gone are removed. [`prices`] reads
//! the price panel back for backtests (`catalog.backtest_prices = "catalog"`), checking
//! that the catalog was exported from the data the database holds now.

pub mod datasets;
mod export;
pub mod manifest;
pub mod prices;

pub use datasets::{DATASETS, Database, Dataset, Kind, dataset};
pub use export::{DatasetSummary, export};
pub use manifest::Manifest;

use std::path::{Path, PathBuf};

/// Why the catalog could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// Reading or writing under the catalog directory failed.
    #[error("catalog {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The manifest is unreadable or from another format.
    #[error("catalog manifest {path}: {reason}; export again with `pv2 export`")]
    Manifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Encoding or decoding Parquet failed.
    #[error("parquet {path}: {reason}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The library's message.
        reason: String,
    },
    /// The catalog does not hold what was asked for, or holds it from older data.
    #[error("{0}")]
    NotCurrent(String),
    /// Reading the database failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// [`crate::files::write_atomically`], its error as a [`CatalogError`].
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CatalogError> {
    crate::files::write_atomically(path, bytes)
        .map_err(|(path, source)| CatalogError::Io { path, source })
}

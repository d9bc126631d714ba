//! File-level ingestion failures (row-level problems are [`super::Reject`]s instead).

use crate::domain::ErrorClass;
use crate::store::StoreError;
use std::path::PathBuf;

/// Why a whole file could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file could not be read at all.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not UTF-8 text.
    #[error("{path} is not UTF-8 text (byte {offset}); save it as UTF-8 CSV/JSON lines")]
    NotText {
        /// The file.
        path: PathBuf,
        /// First invalid byte.
        offset: usize,
    },
    /// The header row is missing or lacks required columns.
    #[error("{path}: bad header: {reason}")]
    BadHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The file has no data rows.
    #[error("{path}: no data rows")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// Every data row was rejected (the rejects are recorded under the batch id).
    #[error(
        "{path}: all {rejected} rows rejected (most common: {top_reason}); see batch {batch_id} in ingest_rejects"
    )]
    WhollyInvalid {
        /// The file.
        path: PathBuf,
        /// Number of rejects.
        rejected: u64,
        /// The most frequent reason code.
        top_reason: String,
        /// The batch under which the rejects are stored.
        batch_id: String,
    },
    /// The target market is not configured.
    #[error("unknown market `{market}`; configured markets: {known} (see config/markets.toml)")]
    UnknownMarket {
        /// The market asked for.
        market: String,
        /// The markets that exist.
        known: String,
    },
    /// Synthetic and real market data would meet in one database.
    #[error("{0}")]
    MixedData(String),
    /// A command-line argument is invalid (e.g. a malformed symbol).
    #[error("{0}")]
    BadArgument(String),
    /// Writing to the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The raw-file archive could not store or return the file.
    #[error(transparent)]
    Archive(#[from] crate::files::ArchiveError),
    /// A batch cannot be replayed (synthetic, imported before the archive, unknown kind).
    #[error("{0}")]
    NotReplayable(String),
}

impl IngestError {
    /// Whether a retry can help: a database failure keeps its own class, an unreadable
    /// file may be readable a moment later (a copy still in progress), and a file whose
    /// content is wrong stays wrong until someone fixes it.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Store(e) => e.class(),
            Self::Unreadable { .. } => ErrorClass::Transient,
            // A full disk or a permission fixed by the operator: worth another try.
            Self::Archive(crate::files::ArchiveError::Io { .. }) => ErrorClass::Transient,
            Self::Archive(_) | Self::NotReplayable(_) => ErrorClass::Permanent,
            Self::NotText { .. }
            | Self::BadHeader { .. }
            | Self::Empty { .. }
            | Self::WhollyInvalid { .. }
            | Self::UnknownMarket { .. }
            | Self::MixedData(_)
            | Self::BadArgument(_) => ErrorClass::Permanent,
        }
    }
}

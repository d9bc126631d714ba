//! Ingestion of user files: Yahoo-style OHLCV, wide adjusted-close matrices, instrument
//! lists, news JSON lines and fundamentals by filing date.
//!
//! Parsing and validation are pure ([`yahoo`], [`wide`], [`instruments`], [`news`]): each
//! turns file text into accepted rows plus [`Reject`]s that name the line, the column and
//! the reason. [`import`] then writes accepted rows idempotently, quarantines the rejects in
//! `ingest_rejects` and records the batch. Nothing is silently dropped. Every file's bytes
//! are archived ([`crate::files::archive`]) before they are parsed, and [`replay`] imports
//! a batch again from them.

mod batch;
pub mod daily;
mod dates;
mod error;
pub mod fundamentals;
mod import;
pub mod instruments;
pub mod news;
pub mod provenance;
mod raw_lines;
mod reject;
mod replay;
pub mod wide;
pub mod yahoo;

pub use batch::batch_id;
pub use dates::{parse_date, parse_timestamp};
pub use error::IngestError;
pub use import::{
    ImportOutcome, ImportRequest, PriceFormat, RawFile, ResolvedFill, import_fundamentals,
    import_instruments, import_news, import_prices, import_statement,
};
pub use reject::{Reject, RejectReason, RejectSummary};
pub use replay::{Replayed, replay};

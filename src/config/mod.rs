//! Typed configuration.
//!
//! Every file under `config/` deserialises into a struct with `deny_unknown_fields` (a typo is
//! an error, not a silent default) and a `validate()` that reports *every* bad key at once.
//! Environment variables `PV2_SECTION__KEY=value` override file values (`__` separates path
//! segments; `PV2_ENGINES__<ENGINE>__<KEY>` reaches `config/engines/<engine>.toml`). Errors
//! name the file (or the variable), the key and the reason.
//!
//! Engine configurations carry a stable content hash, the `config_id`, computed from their
//! canonical form so that every output row can say exactly which configuration produced it.

mod app;
pub mod builtin;
mod canonical;
mod engine;
mod error;
mod markets;
mod source;
pub mod tunable;

pub use app::{
    AppConfig, CatalogConfig, DaemonConfig, DemoConfig, IngestConfig, PriceSource, RestartPolicy,
    StorageConfig, SupervisionConfig,
};
pub use canonical::{canonical_json, content_hash};
pub use engine::{EngineConfig, VersionedConfig};
pub use error::{ConfigError, ConfigIssue, Issues};
pub use markets::{CALENDAR_YEARS, MarketConfig, MarketsConfig, is_valid_market_id};
pub use source::parse_engine_text;
pub use source::{ConfigRoot, ConfigSource};

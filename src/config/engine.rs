//! The contract every engine configuration fulfils.

use super::canonical::{canonical_json, content_hash};
use super::error::Issues;
use super::tunable::{HardLimit, Tunable};
use crate::domain::ConfigId;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// An engine's configuration: loaded from `config/engines/<ENGINE>.toml`, validated as a
/// whole, and identified by the hash of its canonical form.
pub trait EngineConfig:
    Serialize + DeserializeOwned + Default + Clone + Send + Sync + Unpin + 'static
{
    /// The engine name: file stem under `config/engines/` and key in `engine_configs`.
    const ENGINE: &'static str;

    /// The keys Kronos may sweep, with their bounds (none by default).
    const TUNABLE: &'static [Tunable] = &[];

    /// The keys no automated change may loosen (none by default).
    const HARD_LIMITS: &'static [HardLimit] = &[];

    /// Checks every field and records each violation (key, reason) in `issues`.
    fn validate(&self, issues: &mut Issues);

    /// The content hash of `{"engine": ENGINE, "body": <canonical config>}`.
    ///
    /// Two configs with the same effective values get the same id, whatever their key
    /// order, formatting or omitted defaults.
    fn config_id(&self) -> ConfigId {
        let envelope = format!(
            "{{\"engine\":\"{}\",\"body\":{}}}",
            Self::ENGINE,
            self.canonical_body()
        );
        ConfigId::new(format!("{}-{}", Self::ENGINE, content_hash(&envelope)))
    }

    /// The canonical JSON body stored in `engine_configs`.
    ///
    /// # Panics
    /// Never for a config made of structs, strings, numbers, booleans, sequences and maps
    /// keyed by strings — the only shapes engine configs use; every engine's tests hash it.
    fn canonical_body(&self) -> String {
        canonical_json(self).expect("engine configs serialise to JSON with string keys")
    }
}

/// A validated engine config together with its id, as engines receive it.
#[derive(Clone, Debug, PartialEq)]
pub struct VersionedConfig<C> {
    /// Hash of the canonical form.
    pub config_id: ConfigId,
    /// The validated configuration.
    pub config: C,
}

impl<C: EngineConfig> VersionedConfig<C> {
    /// Wraps an already validated config with its id.
    pub fn new(config: C) -> Self {
        Self {
            config_id: config.config_id(),
            config,
        }
    }
}

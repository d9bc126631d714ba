//! An engine's configuration at start: the store's active version (the file's on first
//! start), optionally with a spine-specific override merged over it (a backtest's).

use anyhow::{Context as _, anyhow};
use prometheus::config::{ConfigSource, EngineConfig, Issues, VersionedConfig};
use prometheus::domain::Clock;
use prometheus::store::{ConfigStore, RuntimeDb};

/// The configuration an engine starts with: the store's active version; on first start the
/// file's (with its `PV2_ENGINES__…` overrides), activated as `bootstrap`.
///
/// # Errors
/// An invalid file, or a stored config that no longer parses (the engine's schema changed:
/// apply a new one with `pv2 config apply`).
pub async fn resolve_config<C: EngineConfig>(
    source: &ConfigSource,
    db: &RuntimeDb,
    clock: &dyn Clock,
) -> anyhow::Result<VersionedConfig<C>> {
    let file = source.load_engine::<C>()?;
    match db.active_config(C::ENGINE).await? {
        Some(active) => {
            let config: C = serde_json::from_str(&active.body).with_context(|| {
                format!(
                    "the active {} config {} no longer parses; apply a new one",
                    C::ENGINE,
                    active.config_id
                )
            })?;
            let mut issues = Issues::new();
            config.validate(&mut issues);
            if !issues.is_empty() {
                return Err(anyhow!(
                    "the active {} config {} is invalid: {:?}; apply a new one",
                    C::ENGINE,
                    active.config_id,
                    issues.into_pairs()
                ));
            }
            if file.config_id != active.config_id {
                tracing::warn!(
                    engine = C::ENGINE,
                    active = %active.config_id,
                    file = %file.config_id,
                    "engines/{}.toml differs from the active config; `pv2 config apply {} FILE` switches",
                    C::ENGINE,
                    C::ENGINE
                );
            }
            Ok(VersionedConfig {
                config_id: active.config_id,
                config,
            })
        }
        None => {
            db.activate_config(
                C::ENGINE,
                &file.config_id,
                &file.config.canonical_body(),
                "bootstrap",
                "first start",
                clock.now(),
            )
            .await?;
            Ok(file)
        }
    }
}

/// Merges `overlay` into `base`: objects key by key (recursively), anything else replaced.
pub fn merge_json(base: &mut serde_json::Value, overlay: &serde_json::Value) {
    match (base, overlay) {
        (serde_json::Value::Object(b), serde_json::Value::Object(o)) => {
            for (k, v) in o {
                merge_json(b.entry(k.clone()).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

/// `base` with `overlay` merged over it, validated.
///
/// # Errors
/// An override that names an unknown key, has the wrong type or fails validation (every
/// issue listed).
pub fn overridden<C: EngineConfig>(
    base: &C,
    overlay: &serde_json::Value,
) -> anyhow::Result<VersionedConfig<C>> {
    let mut body = serde_json::to_value(base)?;
    merge_json(&mut body, overlay);
    let config: C = serde_json::from_value(body)
        .with_context(|| format!("the strategy's [engines.{}] table", C::ENGINE))?;
    let mut issues = Issues::new();
    config.validate(&mut issues);
    if !issues.is_empty() {
        let lines: Vec<String> = issues
            .into_pairs()
            .into_iter()
            .map(|(k, r)| format!("  - engines.{}.{k}: {r}", C::ENGINE))
            .collect();
        return Err(anyhow!("invalid engine override:\n{}", lines.join("\n")));
    }
    Ok(VersionedConfig {
        config_id: config.config_id(),
        config,
    })
}

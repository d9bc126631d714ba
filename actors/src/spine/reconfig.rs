//! Applying a configuration: validate, then store as a new immutable version and activate
//! it atomically with an audit row — or audit the rejection and change nothing. Shared by
//! the engine actors (hot reconfiguration) and `pv2 config apply` without a daemon
//! ([`super::registry::apply_offline`]).

use prometheus::config::{ConfigError, EngineConfig, VersionedConfig, parse_engine_text};
use prometheus::domain::Clock;
use prometheus::store::{ConfigStore, RuntimeDb, StoreError};

fn rejection_text(e: &ConfigError) -> String {
    match e {
        ConfigError::Invalid(issues) => issues
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// `body` as `C`: TOML, or the canonical JSON a stored version holds (what Kronos promotes;
/// JSON keeps the `null` of an unset option, which TOML cannot write).
fn parse_body<C: EngineConfig>(origin: &str, body: &str) -> Result<VersionedConfig<C>, String> {
    if !body.trim_start().starts_with('{') {
        return parse_engine_text::<C>(origin, body).map_err(|e| rejection_text(&e));
    }
    let config: C = serde_json::from_str(body).map_err(|e| format!("{origin}: {e}"))?;
    let mut issues = prometheus::config::Issues::new();
    config.validate(&mut issues);
    if issues.is_empty() {
        Ok(VersionedConfig::new(config))
    } else {
        Err(issues
            .into_pairs()
            .into_iter()
            .map(|(k, r)| format!("{origin}: key `{k}`: {r}"))
            .collect::<Vec<_>>()
            .join("; "))
    }
}

/// Validates `body` (TOML, or a stored version's JSON) as `C` and activates it, or records
/// why it was rejected. Returns the config and whether it changed anything.
///
/// A config that loosens one of the engine's hard limits is rejected unless `loosen_limits`
/// carries a person's reason — and never when Kronos asks: the audit row then names the
/// limits, the person and the reason.
///
/// # Errors
/// `rejected: …` with every validation issue or loosened limit, or a storage failure.
pub async fn store_config<C: EngineConfig>(
    db: &RuntimeDb,
    body: &str,
    requested_by: &str,
    loosen_limits: Option<&str>,
    clock: &dyn Clock,
) -> Result<(VersionedConfig<C>, bool), String> {
    let now = clock.now();
    let origin = format!("config for `{}` from {requested_by}", C::ENGINE);
    let reject = |reason: String| async move {
        db.record_config_rejection(C::ENGINE, requested_by, &reason, now)
            .await
            .map_err(|e| format!("cannot audit the rejection: {e}"))?;
        Err(format!("rejected: {reason}"))
    };
    let cfg = match parse_body::<C>(&origin, body) {
        Err(reason) => return reject(reason).await,
        Ok(cfg) => cfg,
    };
    let approval = loosen_limits.map(str::trim).filter(|r| !r.is_empty());
    if approval.is_some() && requested_by.starts_with("kronos") {
        return reject(format!(
            "{origin}: Kronos may never loosen a hard limit, approved or not"
        ))
        .await;
    }
    let canonical = cfg.config.canonical_body();
    let stored = match approval {
        None => {
            db.activate_config(
                C::ENGINE,
                &cfg.config_id,
                &canonical,
                requested_by,
                "applied",
                now,
            )
            .await
        }
        Some(why) => {
            db.activate_config_loosening(
                C::ENGINE,
                &cfg.config_id,
                &canonical,
                requested_by,
                "applied",
                why,
                now,
            )
            .await
        }
    };
    match stored {
        Ok((_, changed)) => Ok((cfg, changed)),
        Err(e @ StoreError::LoosensHardLimit { .. }) => reject(format!("{origin}: {e}")).await,
        Err(e) => Err(format!("cannot store the config: {e}")),
    }
}

//! Applying a configuration: validate, then store as a new immutable version and activate
//! it atomically with an audit row — or audit the rejection and change nothing. Shared by
//! the engine actors (hot reconfiguration) and `pv2 config apply` without a daemon.

use crate::engines::{
    assessment::AssessmentJob, derived::DerivedJob, fragility::FragilityJob, ingest::IngestJob,
    joint_encoder::JointEncoderJob, noop::NoopJob, numeric_encoder::NumericEncoderJob,
    portfolio::PortfolioJob, profiles::ProfilesJob, regime::RegimeJob, scenarios::ScenariosJob,
    stability::StabilityJob, text_encoder::TextEncoderJob, universe::UniverseJob,
};
use crate::job_actor::{Applied, Job};
use prometheus::config::{ConfigError, EngineConfig, VersionedConfig, parse_engine_text};
use prometheus::domain::Clock;
use prometheus::store::{ConfigStore, RuntimeDb};

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

/// Validates `body` (TOML) as `C` and activates it, or records why it was rejected.
/// Returns the config and whether it changed anything.
///
/// # Errors
/// `rejected: …` with every validation issue, or a storage failure.
pub async fn store_config<C: EngineConfig>(
    db: &RuntimeDb,
    body: &str,
    requested_by: &str,
    clock: &dyn Clock,
) -> Result<(VersionedConfig<C>, bool), String> {
    let now = clock.now();
    let origin = format!("config for `{}` from {requested_by}", C::ENGINE);
    match parse_engine_text::<C>(&origin, body) {
        Err(e) => {
            let reason = rejection_text(&e);
            db.record_config_rejection(C::ENGINE, requested_by, &reason, now)
                .await
                .map_err(|e| format!("cannot audit the rejection: {e}"))?;
            Err(format!("rejected: {reason}"))
        }
        Ok(cfg) => {
            let canonical = cfg.config.canonical_body();
            let (_, changed) = db
                .activate_config(
                    C::ENGINE,
                    &cfg.config_id,
                    &canonical,
                    requested_by,
                    "applied",
                    now,
                )
                .await
                .map_err(|e| format!("cannot store the config: {e}"))?;
            Ok((cfg, changed))
        }
    }
}

async fn offline<J: Job>(
    db: &RuntimeDb,
    body: &str,
    by: &str,
    clock: &dyn Clock,
) -> Result<Applied, String> {
    let (cfg, changed) = store_config::<J::Config>(db, body, by, clock).await?;
    Ok(Applied {
        engine: J::NAME.to_owned(),
        config_id: cfg.config_id,
        changed,
    })
}

/// Applies a configuration for the engine named `engine` straight to the store (when no
/// daemon runs; the next start uses it).
///
/// # Errors
/// Unknown engine, rejection, storage failure.
pub async fn apply_offline(
    engine: &str,
    body: &str,
    db: &RuntimeDb,
    by: &str,
    clock: &dyn Clock,
) -> Result<Applied, String> {
    match engine {
        IngestJob::NAME_STR => offline::<IngestJob>(db, body, by, clock).await,
        DerivedJob::NAME_STR => offline::<DerivedJob>(db, body, by, clock).await,
        NumericEncoderJob::NAME_STR => offline::<NumericEncoderJob>(db, body, by, clock).await,
        TextEncoderJob::NAME_STR => offline::<TextEncoderJob>(db, body, by, clock).await,
        ProfilesJob::NAME_STR => offline::<ProfilesJob>(db, body, by, clock).await,
        JointEncoderJob::NAME_STR => offline::<JointEncoderJob>(db, body, by, clock).await,
        RegimeJob::NAME_STR => offline::<RegimeJob>(db, body, by, clock).await,
        StabilityJob::NAME_STR => offline::<StabilityJob>(db, body, by, clock).await,
        ScenariosJob::NAME_STR => offline::<ScenariosJob>(db, body, by, clock).await,
        FragilityJob::NAME_STR => offline::<FragilityJob>(db, body, by, clock).await,
        AssessmentJob::NAME_STR => offline::<AssessmentJob>(db, body, by, clock).await,
        UniverseJob::NAME_STR => offline::<UniverseJob>(db, body, by, clock).await,
        PortfolioJob::NAME_STR => offline::<PortfolioJob>(db, body, by, clock).await,
        NoopJob::NAME_STR => offline::<NoopJob>(db, body, by, clock).await,
        other => Err(format!(
            "unknown engine `{other}`; engines: {}",
            crate::engines::ACTOR_NAMES.join(", ")
        )),
    }
}

//! The one list of the spine's job actors.
//!
//! Everything that needs to know which actors exist — starting them, their names for DAG
//! `actor` fields and fault specs, routing a configuration change or a reset to one of them,
//! applying a configuration without a daemon — is generated here from a single list, so an
//! engine is added in exactly one place (plus its edges in [`super::dataflow`]).

use super::engine_config::{overridden, resolve_config};
use super::faults::FaultPlan;
use super::job_actor::{ActorDeps, Applied, Apply, Dispatch, Job, JobActor, ResetActor, Status};
use super::reconfig::store_config;
use super::shadow::RefreshShadows;
use super::supervision::EventRecorder;
use crate::engines::{
    assessment::AssessmentJob, derived::DerivedJob, execution::ExecutionJob,
    fragility::FragilityJob, ingest::IngestJob, joint_encoder::JointEncoderJob, noop::NoopJob,
    numeric_encoder::NumericEncoderJob, portfolio::PortfolioJob, profiles::ProfilesJob,
    regime::RegimeJob, scenarios::ScenariosJob, stability::StabilityJob,
    text_encoder::TextEncoderJob, universe::UniverseJob,
};
use crate::kronos::KronosJob;
use crate::orchestrator::Orchestrator;
use crate::panel_cache::PanelCache;
use actix::prelude::*;
use prometheus::config::{ConfigSource, EngineConfig, MarketsConfig, SupervisionConfig};
use prometheus::domain::Clock;
use prometheus::store::{ConfigStore, RuntimeDb, Stores};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What starting an engine actor needs from the spine being built.
pub struct StartDeps<'a> {
    /// Where engine configuration files are (the first start activates them).
    pub source: &'a ConfigSource,
    /// Configured markets.
    pub markets: &'a MarketsConfig,
    /// Restart budgets.
    pub supervision: &'a SupervisionConfig,
    /// Both databases.
    pub stores: &'a Stores,
    /// The clock.
    pub clock: &'a Arc<dyn Clock>,
    /// Actor events.
    pub events: &'a EventRecorder,
    /// Injected faults.
    pub faults: &'a FaultPlan,
    /// Where attempts report and escalations go.
    pub orchestrator: &'a Addr<Orchestrator>,
    /// Per engine, a JSON object merged over its active config (backtests, drills).
    pub overrides: &'a BTreeMap<String, serde_json::Value>,
    /// Who the overridden versions are recorded as created by (`backtest`, `drill`).
    pub override_origin: &'a str,
    /// The spine's price panels.
    pub panels: &'a Arc<PanelCache>,
    /// The spine's read policy and audit.
    pub reads: &'a Arc<super::read_audit::ReadAudit>,
}

/// Starts the supervised actor of job `J` with its active configuration (and the spine's
/// override of it, stored as a version but not activated).
async fn start_actor<J: Job + Default>(d: &StartDeps<'_>) -> anyhow::Result<Addr<JobActor<J>>> {
    let mut cfg =
        resolve_config::<J::Config>(d.source, &d.stores.runtime, d.clock.as_ref()).await?;
    if let Some(overlay) = d.overrides.get(J::NAME) {
        cfg = overridden(&cfg.config, overlay)?;
        d.stores
            .runtime
            .record_config_version(
                J::NAME,
                &cfg.config_id,
                &cfg.config.canonical_body(),
                d.override_origin,
                d.clock.now(),
            )
            .await?;
    }
    let deps = ActorDeps {
        stores: d.stores.clone(),
        clock: Arc::clone(d.clock),
        markets: Arc::new(d.markets.clone()),
        panels: Arc::clone(d.panels),
        events: d.events.clone(),
        orchestrator: d.orchestrator.clone().recipient(),
        degraded_to: d.orchestrator.clone().recipient(),
        policy: d.supervision.policy(J::NAME),
        reads: Arc::clone(d.reads),
    };
    let faults = d.faults.for_actor(J::NAME);
    Ok(Supervisor::start(move |_| {
        JobActor::new(J::default(), cfg, faults, deps)
    }))
}

/// The control surface of one job actor, independent of its job type.
#[derive(Clone)]
pub struct Control {
    /// Attempts from the orchestrator.
    pub dispatch: Recipient<Dispatch>,
    /// Configuration changes.
    pub apply: Recipient<Apply>,
    /// Its supervision state.
    pub status: Recipient<Status>,
    /// Bringing it back from DEGRADED.
    pub reset: Recipient<ResetActor>,
    /// Re-reading the candidate configs it runs in shadow.
    pub shadows: Recipient<RefreshShadows>,
}

impl Control {
    fn of<J: Job>(a: &Addr<JobActor<J>>) -> Self {
        Self {
            dispatch: a.clone().recipient(),
            apply: a.clone().recipient(),
            status: a.clone().recipient(),
            reset: a.clone().recipient(),
            shadows: a.clone().recipient(),
        }
    }
}

/// Validates and activates `body` for `J` in the store (no daemon running).
async fn apply_stored<J: Job>(
    db: &RuntimeDb,
    body: &str,
    by: &str,
    loosen_limits: Option<&str>,
    clock: &dyn Clock,
) -> Result<Applied, String> {
    let (cfg, changed) = store_config::<J::Config>(db, body, by, loosen_limits, clock).await?;
    Ok(Applied {
        engine: J::NAME.to_owned(),
        config_id: cfg.config_id,
        changed,
    })
}

macro_rules! job_actors {
    ($( $(#[$doc:meta])* $field:ident: $job:ty ),+ $(,)?) => {
        /// The running job actors, one per engine.
        pub struct EngineActors {
            $( $(#[$doc])* pub $field: Addr<JobActor<$job>>, )+
        }

        /// Every actor that can run jobs, by name (DAG `actor` fields, fault specs,
        /// configuration files and `pv2 actors` use these).
        pub const ACTOR_NAMES: &[&str] = &[ $( <$job as Job>::NAME, )+ ];

        impl EngineActors {
            /// Starts every actor, in the list's order.
            ///
            /// # Errors
            /// An invalid engine configuration or override, storage failures.
            pub async fn start(d: &StartDeps<'_>) -> anyhow::Result<Self> {
                Ok(Self { $( $field: start_actor::<$job>(d).await?, )+ })
            }

            /// Every actor's controls, by name, in [`ACTOR_NAMES`] order.
            pub fn controls(&self) -> Vec<(&'static str, Control)> {
                vec![ $( (<$job as Job>::NAME, Control::of(&self.$field)), )+ ]
            }
        }

        /// Validates `body` as the configuration of `engine` and activates it in the store
        /// (when no daemon runs; the next start uses it). `loosen_limits` is a person's
        /// reason for loosening a hard limit.
        ///
        /// # Errors
        /// Unknown engine, rejection (every reason), storage failure.
        pub async fn apply_offline(
            engine: &str,
            body: &str,
            db: &RuntimeDb,
            by: &str,
            loosen_limits: Option<&str>,
            clock: &dyn Clock,
        ) -> Result<Applied, String> {
            $( if engine == <$job as Job>::NAME {
                return apply_stored::<$job>(db, body, by, loosen_limits, clock).await;
            } )+
            Err(unknown_actor(engine))
        }
    };
}

job_actors! {
    /// Daily ingest.
    ingest: IngestJob,
    /// Derived series.
    derived: DerivedJob,
    /// Numeric window embeddings.
    numeric_encoder: NumericEncoderJob,
    /// News text embeddings.
    text_encoder: TextEncoderJob,
    /// Issuer profiles.
    profiles: ProfilesJob,
    /// Joint embeddings.
    joint_encoder: JointEncoderJob,
    /// Market regimes.
    regime: RegimeJob,
    /// Stability & soft targets.
    stability: StabilityJob,
    /// Synthetic scenarios.
    scenarios: ScenariosJob,
    /// Fragility alpha.
    fragility: FragilityJob,
    /// Assessment.
    assessment: AssessmentJob,
    /// The investable universe.
    universe: UniverseJob,
    /// Portfolio & risk.
    portfolio: PortfolioJob,
    /// Execution: the paper broker or the live outbox, and the ledger.
    execution: ExecutionJob,
    /// Kronos: decisions and their outcomes.
    kronos: KronosJob,
    /// The no-op job (overhead measurements, drills).
    noop: NoopJob,
}

/// The error for a name that is not in [`ACTOR_NAMES`].
pub fn unknown_actor(name: &str) -> String {
    format!("unknown actor `{name}`; actors: {}", ACTOR_NAMES.join(", "))
}

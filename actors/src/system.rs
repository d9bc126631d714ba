//! Starting and stopping the spine: the event recorder, the orchestrator and one supervised
//! actor per engine, wired along the dataflow edges.

use crate::context::Context as Cli;
use crate::edges;
use crate::engines::{
    assessment::AssessmentJob, derived::DerivedJob, fragility::FragilityJob, ingest::IngestJob,
    joint_encoder::JointEncoderJob, noop::NoopJob, numeric_encoder::NumericEncoderJob,
    portfolio::PortfolioJob, profiles::ProfilesJob, regime::RegimeJob, scenarios::ScenariosJob,
    stability::StabilityJob, text_encoder::TextEncoderJob, universe::UniverseJob,
};
use crate::faults::FaultPlan;
use crate::job_actor::{ActorDeps, ActorStatus, Applied, Apply, Dispatch, Job, JobActor, Status};
use crate::orchestrator::{Calendars, Orchestrator};
use crate::panel_cache::PanelCache;
use crate::scheduler::{Scheduler, SchedulerOptions};
use crate::supervision::EventRecorder;
use actix::prelude::*;
use anyhow::{Context as _, anyhow};
use prometheus::config::{ConfigSource, EngineConfig, Issues, VersionedConfig};
use prometheus::dag::{DagDef, DagsConfig};
use prometheus::domain::{ApplyConfig, Clock};
use prometheus::store::{ConfigStore, RuntimeDb, Stores};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The running engine actors.
pub struct EngineActors {
    /// Daily ingest.
    pub ingest: Addr<JobActor<IngestJob>>,
    /// Derived series.
    pub derived: Addr<JobActor<DerivedJob>>,
    /// Numeric window embeddings.
    pub numeric_encoder: Addr<JobActor<NumericEncoderJob>>,
    /// News text embeddings.
    pub text_encoder: Addr<JobActor<TextEncoderJob>>,
    /// Issuer profiles.
    pub profiles: Addr<JobActor<ProfilesJob>>,
    /// Joint embeddings.
    pub joint_encoder: Addr<JobActor<JointEncoderJob>>,
    /// Market regimes.
    pub regime: Addr<JobActor<RegimeJob>>,
    /// Stability & soft targets.
    pub stability: Addr<JobActor<StabilityJob>>,
    /// Synthetic scenarios.
    pub scenarios: Addr<JobActor<ScenariosJob>>,
    /// Fragility alpha.
    pub fragility: Addr<JobActor<FragilityJob>>,
    /// Assessment.
    pub assessment: Addr<JobActor<AssessmentJob>>,
    /// The investable universe.
    pub universe: Addr<JobActor<UniverseJob>>,
    /// Portfolio & risk.
    pub portfolio: Addr<JobActor<PortfolioJob>>,
    /// The no-op job (overhead measurements, drills).
    pub noop: Addr<JobActor<NoopJob>>,
}

/// The control surface of one engine actor, independent of its job type.
struct Control {
    dispatch: Recipient<Dispatch>,
    apply: Recipient<Apply>,
    status: Recipient<Status>,
}

impl Control {
    fn of<J: Job>(a: &Addr<JobActor<J>>) -> (String, Self) {
        (
            J::NAME.to_owned(),
            Self {
                dispatch: a.clone().recipient(),
                apply: a.clone().recipient(),
                status: a.clone().recipient(),
            },
        )
    }
}

impl EngineActors {
    /// Every actor's controls, by name, in [`crate::engines::ACTOR_NAMES`] order.
    fn controls(&self) -> Vec<(String, Control)> {
        vec![
            Control::of(&self.ingest),
            Control::of(&self.derived),
            Control::of(&self.numeric_encoder),
            Control::of(&self.text_encoder),
            Control::of(&self.profiles),
            Control::of(&self.joint_encoder),
            Control::of(&self.regime),
            Control::of(&self.stability),
            Control::of(&self.scenarios),
            Control::of(&self.fragility),
            Control::of(&self.assessment),
            Control::of(&self.universe),
            Control::of(&self.portfolio),
            Control::of(&self.noop),
        ]
    }
}

/// A running spine.
pub struct Spine {
    /// The orchestrator.
    pub orchestrator: Addr<Orchestrator>,
    /// The engine actors.
    pub actors: EngineActors,
    /// The event recorder.
    pub events: EventRecorder,
    /// Both databases.
    pub stores: Stores,
    /// The DAG definitions.
    pub dags: Arc<DagsConfig>,
    /// The calendar of every configured market.
    pub calendars: Arc<Calendars>,
    /// The price panels the engines read.
    pub panels: Arc<PanelCache>,
}

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

/// Loads `config/dags.toml` and checks it against the actors and markets.
///
/// # Errors
/// Every invalid key.
pub fn load_dags(cli: &Cli) -> anyhow::Result<DagsConfig> {
    let dags: DagsConfig = cli.source.load_plain("dags.toml")?;
    let markets: Vec<&str> = cli.markets.markets.iter().map(|m| m.id.as_str()).collect();
    let mut issues = Issues::new();
    dags.validate(crate::engines::ACTOR_NAMES, &markets, &mut issues);
    if !issues.is_empty() {
        let lines: Vec<String> = issues
            .into_pairs()
            .into_iter()
            .map(|(k, r)| format!("  - dags.toml: key `{k}`: {r}"))
            .collect();
        return Err(anyhow!("invalid DAG configuration:\n{}", lines.join("\n")));
    }
    Ok(dags)
}

/// What a spine started for a particular purpose changes from the daemon's: a backtest runs
/// the engines under its strategy's configs and its own DAG.
#[derive(Clone, Debug, Default)]
pub struct SpineOptions {
    /// Per engine, a JSON object merged over the engine's active config; the result is
    /// validated, stored as a version (not activated) and used by this spine only.
    pub overrides: BTreeMap<String, serde_json::Value>,
    /// DAGs added to those of `dags.toml`.
    pub extra_dags: Vec<DagDef>,
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

struct Shared<'a> {
    cli: &'a Cli,
    stores: &'a Stores,
    clock: &'a Arc<dyn Clock>,
    events: &'a EventRecorder,
    faults: &'a FaultPlan,
    orchestrator: &'a Addr<Orchestrator>,
    options: &'a SpineOptions,
    panels: &'a Arc<PanelCache>,
}

async fn start_engine<J: Job + Default>(s: &Shared<'_>) -> anyhow::Result<Addr<JobActor<J>>> {
    let mut cfg =
        resolve_config::<J::Config>(&s.cli.source, &s.stores.runtime, s.clock.as_ref()).await?;
    if let Some(overlay) = s.options.overrides.get(J::NAME) {
        cfg = overridden(&cfg.config, overlay)?;
        s.stores
            .runtime
            .record_config_version(
                J::NAME,
                &cfg.config_id,
                &cfg.config.canonical_body(),
                "backtest",
                s.clock.now(),
            )
            .await?;
    }
    let deps = ActorDeps {
        stores: s.stores.clone(),
        clock: Arc::clone(s.clock),
        markets: Arc::new(s.cli.markets.clone()),
        panels: Arc::clone(s.panels),
        events: s.events.clone(),
        orchestrator: s.orchestrator.clone().recipient(),
        degraded_to: s.orchestrator.clone().recipient(),
        policy: s.cli.app.supervision.policy(J::NAME),
    };
    let faults = s.faults.for_actor(J::NAME);
    Ok(Supervisor::start(move |_| {
        JobActor::new(J::default(), cfg, faults, deps)
    }))
}

impl Spine {
    /// Runs `dag` for `market` on `as_of` (a re-run if that date already ran) and waits for
    /// it: the run id and its final state (`INTERRUPTED` if the spine stopped first). What
    /// the demo and `pv2 bench dag` do for each session, as the scheduler would.
    ///
    /// # Errors
    /// The orchestrator is gone or refuses the run (unknown DAG, not accepting).
    pub async fn run_and_wait(
        &self,
        dag: &str,
        market: &prometheus::domain::MarketId,
        as_of: chrono::NaiveDate,
        trigger: &str,
    ) -> anyhow::Result<(String, String)> {
        let submitted = self
            .orchestrator
            .send(crate::orchestrator::Submit {
                dag_id: dag.into(),
                market: market.clone(),
                as_of,
                trigger: trigger.into(),
                rerun: true,
                run_key: None,
            })
            .await?
            .map_err(|e| anyhow!(e))?;
        let state = match self
            .orchestrator
            .send(crate::orchestrator::WaitRun(submitted.run_id.clone()))
            .await?
        {
            Some(rx) => rx.await.map_or_else(|_| "INTERRUPTED".into(), |r| r.state),
            None => submitted.finished.unwrap_or_default(),
        };
        Ok((submitted.run_id, state))
    }

    /// Starts the spine inside the current actix system.
    ///
    /// # Errors
    /// Invalid DAG or engine configuration, storage failures.
    pub async fn start(
        cli: &Cli,
        stores: Stores,
        faults: FaultPlan,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Self::start_with(cli, stores, faults, clock, &SpineOptions::default()).await
    }

    /// Starts the spine with engine config overrides and extra DAGs (a backtest's).
    ///
    /// # Errors
    /// Invalid DAG, engine configuration or override, storage failures.
    pub async fn start_with(
        cli: &Cli,
        stores: Stores,
        faults: FaultPlan,
        clock: Arc<dyn Clock>,
        options: &SpineOptions,
    ) -> anyhow::Result<Self> {
        let mut dags = load_dags(cli)?;
        dags.dags.extend(options.extra_dags.iter().cloned());
        let dags = Arc::new(dags);
        let calendars = Arc::new(
            crate::scheduler::calendars(&cli.markets)
                .map_err(|e| anyhow!("building the market calendars from markets.toml: {e}"))?,
        );
        let events = EventRecorder::start(stores.runtime.clone(), Arc::clone(&clock));
        if !faults.is_empty() {
            events.record("spine", "faults_armed", faults.to_string());
        }
        let panels = Arc::new(PanelCache::default());
        let orch_ctx = actix::Context::<Orchestrator>::new();
        let orchestrator = orch_ctx.address();
        let shared = Shared {
            cli,
            stores: &stores,
            clock: &clock,
            events: &events,
            faults: &faults,
            orchestrator: &orchestrator,
            options,
            panels: &panels,
        };
        let actors = EngineActors {
            ingest: start_engine::<IngestJob>(&shared).await?,
            derived: start_engine::<DerivedJob>(&shared).await?,
            numeric_encoder: start_engine::<NumericEncoderJob>(&shared).await?,
            text_encoder: start_engine::<TextEncoderJob>(&shared).await?,
            profiles: start_engine::<ProfilesJob>(&shared).await?,
            joint_encoder: start_engine::<JointEncoderJob>(&shared).await?,
            regime: start_engine::<RegimeJob>(&shared).await?,
            stability: start_engine::<StabilityJob>(&shared).await?,
            scenarios: start_engine::<ScenariosJob>(&shared).await?,
            fragility: start_engine::<FragilityJob>(&shared).await?,
            assessment: start_engine::<AssessmentJob>(&shared).await?,
            universe: start_engine::<UniverseJob>(&shared).await?,
            portfolio: start_engine::<PortfolioJob>(&shared).await?,
            noop: start_engine::<NoopJob>(&shared).await?,
        };
        edges::wire(&actors);
        let recipients: BTreeMap<String, Recipient<Dispatch>> = actors
            .controls()
            .into_iter()
            .map(|(name, c)| (name, c.dispatch))
            .collect();
        let orch = Orchestrator::new(
            Arc::clone(&dags),
            recipients,
            Arc::clone(&calendars),
            cli.app.daemon.max_concurrent_jobs,
            stores.runtime.clone(),
            events.clone(),
            Arc::clone(&clock),
        );
        orch_ctx.run(orch);
        Ok(Self {
            orchestrator,
            actors,
            events,
            stores,
            dags,
            calendars,
            panels,
        })
    }

    /// Starts a scheduler over the triggered DAGs (only `only_dag`, only `only_market`
    /// when given), activating runs through this spine's orchestrator.
    ///
    /// # Errors
    /// A trigger that cannot be bound (a market without a calendar, a bad cron expression).
    pub fn start_scheduler(
        &self,
        opts: SchedulerOptions,
        only_market: Option<&str>,
        only_dag: Option<&str>,
    ) -> anyhow::Result<Addr<Scheduler>> {
        let bindings =
            crate::scheduler::bindings(&self.dags, &self.calendars, only_market, only_dag)
                .map_err(|e| anyhow!("dags.toml: {e}"))?;
        let scheduler = Scheduler::new(
            bindings,
            self.orchestrator.clone(),
            self.stores.runtime.clone(),
            self.events.clone(),
            opts,
        );
        Ok(scheduler.start())
    }

    /// Routes a configuration change to its engine.
    ///
    /// # Errors
    /// Unknown engine, rejected configuration (with every reason), storage failure.
    pub async fn apply(&self, req: ApplyConfig) -> Result<Applied, String> {
        let Some((_, control)) = self
            .actors
            .controls()
            .into_iter()
            .find(|(name, _)| *name == req.engine)
        else {
            return Err(format!(
                "unknown engine `{}`; engines: {}",
                req.engine,
                crate::engines::ACTOR_NAMES.join(", ")
            ));
        };
        control
            .apply
            .send(Apply(req))
            .await
            .map_err(|e| format!("engine unavailable: {e}"))?
    }

    /// The state of every engine actor.
    pub async fn statuses(&self) -> Vec<ActorStatus> {
        let mut out = Vec::new();
        for (_, control) in self.actors.controls() {
            if let Ok(s) = control.status.send(Status).await {
                out.push(s);
            }
        }
        out
    }

    /// Drains the orchestrator (waiting up to `timeout` for running attempts) and flushes
    /// every record.
    pub async fn shutdown(&self, timeout: Duration) {
        if let Ok(done) = self
            .orchestrator
            .send(crate::orchestrator::Drain { timeout })
            .await
        {
            let _ = done.await;
        }
        self.events.record("spine", "stopped", "drained");
        self.events.flush().await;
    }
}

//! Starting and stopping the spine: the event recorder, the orchestrator and one supervised
//! actor per engine, wired along the dataflow edges.

use super::dataflow;
use super::faults::FaultPlan;
use super::job_actor::{ActorStatus, Applied, Apply, Dispatch, ResetActor, ResetOutcome, Status};
use super::registry::{ACTOR_NAMES, Control, EngineActors, StartDeps, unknown_actor};
use super::supervision::EventRecorder;
use crate::context::Context as Cli;
use crate::orchestrator::{ActorRecovered, Calendars, Orchestrator};
use crate::panel_cache::PanelCache;
use crate::scheduler::{Scheduler, SchedulerOptions};
use crate::spine::read_audit::{LookAhead, ReadAudit};
use actix::prelude::*;
use anyhow::anyhow;
use prometheus::config::Issues;
use prometheus::dag::{DagDef, DagsConfig};
use prometheus::domain::{ApplyConfig, Clock, EventKind, RunStatus};
use prometheus::store::Stores;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

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
    /// How the engines' price reads are audited, and what the audit found.
    pub reads: Arc<ReadAudit>,
}

/// Loads `config/dags.toml` and checks it against the actors and markets.
///
/// # Errors
/// Every invalid key.
pub fn load_dags(cli: &Cli) -> anyhow::Result<DagsConfig> {
    let dags: DagsConfig = cli.source.load_plain("dags.toml")?;
    let markets: Vec<&str> = cli.markets.markets.iter().map(|m| m.id.as_str()).collect();
    let mut issues = Issues::new();
    dags.validate(ACTOR_NAMES, &markets, &mut issues);
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
    /// DAGs used instead of `dags.toml` (a drill's, with timeouts calibrated to the data).
    pub dags: Option<DagsConfig>,
    /// Who override versions are recorded as created by (default `backtest`).
    pub override_origin: Option<String>,
    /// Audit the engines' price reads (Kronos's experiments).
    pub audit_reads: bool,
    /// The "reads the future" negative control's look-ahead.
    pub look_ahead: Option<LookAhead>,
    /// Read price panels from this Parquet catalog instead of the historical database (a
    /// backtest with `catalog.backtest_prices = "catalog"`).
    pub prices_from_catalog: Option<std::path::PathBuf>,
}

impl Spine {
    /// Runs `dag` for `market` on `as_of` (a re-run if that date already ran) and waits for
    /// it: the run id and its final state. What the demo and `pv2 bench dag` do for each
    /// session, as the scheduler would.
    ///
    /// # Errors
    /// The orchestrator is gone, refuses the run (unknown DAG, not accepting), or stopped
    /// before the run finished.
    pub async fn run_and_wait(
        &self,
        dag: &str,
        market: &prometheus::domain::MarketId,
        as_of: chrono::NaiveDate,
        trigger: &str,
    ) -> anyhow::Result<(String, RunStatus)> {
        let submitted = self
            .orchestrator
            .send(crate::orchestrator::Submit {
                dag_id: dag.into(),
                market: market.clone(),
                as_of,
                trigger: trigger.into(),
                rerun: true,
                run_key: None,
                stands_at: None,
            })
            .await?
            .map_err(|e| anyhow!(e))?;
        let state = self.wait_for(&submitted).await?;
        Ok((submitted.run_id, state))
    }

    /// The final state of a submitted run, waiting for it when it is active.
    ///
    /// # Errors
    /// The orchestrator is gone or stopped before the run finished.
    pub async fn wait_for(
        &self,
        submitted: &crate::orchestrator::Submitted,
    ) -> anyhow::Result<RunStatus> {
        if let Some(state) = submitted.finished {
            return Ok(state);
        }
        let rx = self
            .orchestrator
            .send(crate::orchestrator::WaitRun(submitted.run_id.clone()))
            .await?
            .ok_or_else(|| anyhow!("the orchestrator does not know run {}", submitted.run_id))?;
        rx.await.map(|s| s.state).map_err(|_| {
            anyhow!(
                "the spine stopped before run {} finished; it resumes at the next start",
                submitted.run_id
            )
        })
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
        let mut dags = match &options.dags {
            Some(d) => d.clone(),
            None => load_dags(cli)?,
        };
        dags.dags.extend(options.extra_dags.iter().cloned());
        let dags = Arc::new(dags);
        let calendars = Arc::new(
            crate::scheduler::calendars(&cli.markets)
                .map_err(|e| anyhow!("building the market calendars from markets.toml: {e}"))?,
        );
        let events = EventRecorder::start(stores.runtime.clone(), Arc::clone(&clock));
        if !faults.is_empty() {
            events.record("spine", EventKind::FaultsArmed, faults.to_string());
        }
        let panels = Arc::new(match &options.prices_from_catalog {
            Some(dir) => PanelCache::reading_catalog(dir.clone()),
            None => PanelCache::default(),
        });
        let reads = Arc::new(ReadAudit::new(
            options.audit_reads,
            options.look_ahead.clone(),
        ));
        let orch_ctx = actix::Context::<Orchestrator>::new();
        let orchestrator = orch_ctx.address();
        let actors = EngineActors::start(&StartDeps {
            source: &cli.source,
            markets: &cli.markets,
            supervision: &cli.app.supervision,
            stores: &stores,
            clock: &clock,
            events: &events,
            faults: &faults,
            orchestrator: &orchestrator,
            overrides: &options.overrides,
            override_origin: options.override_origin.as_deref().unwrap_or("backtest"),
            panels: &panels,
            reads: &reads,
        })
        .await?;
        dataflow::wire(&actors);
        let recipients: BTreeMap<String, Recipient<Dispatch>> = actors
            .controls()
            .into_iter()
            .map(|(name, c)| (name.to_owned(), c.dispatch))
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
            reads,
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

    /// The controls of the actor named `name`.
    fn control(&self, name: &str) -> Result<Control, String> {
        self.actors
            .controls()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
            .ok_or_else(|| unknown_actor(name))
    }

    /// Routes a configuration change to its engine.
    ///
    /// # Errors
    /// Unknown engine, rejected configuration (with every reason), storage failure.
    pub async fn apply(&self, req: ApplyConfig) -> Result<Applied, String> {
        self.control(&req.engine)?
            .apply
            .send(Apply(req))
            .await
            .map_err(|e| format!("engine unavailable: {e}"))?
    }

    /// Tells engine `name` to re-read the candidate configs in shadow (one started or
    /// ended).
    ///
    /// # Errors
    /// Unknown engine, or the actor is gone.
    pub async fn refresh_shadows(&self, name: &str) -> Result<(), String> {
        self.control(name)?
            .shadows
            .send(crate::spine::shadow::RefreshShadows)
            .await
            .map_err(|e| format!("actor `{name}` unavailable: {e}"))
    }

    /// Brings the DEGRADED actor `name` back into service, on behalf of `requested_by`:
    /// its restart budget starts afresh, its caches are dropped, and the orchestrator
    /// dispatches its jobs again. Resetting an actor that is not DEGRADED changes nothing.
    ///
    /// # Errors
    /// Unknown actor, or the actor is gone.
    pub async fn reset(&self, name: &str, requested_by: &str) -> Result<ResetOutcome, String> {
        let outcome = self
            .control(name)?
            .reset
            .send(ResetActor {
                requested_by: requested_by.to_owned(),
            })
            .await
            .map_err(|e| format!("actor `{name}` unavailable: {e}"))?;
        if outcome.changed {
            self.orchestrator
                .send(ActorRecovered {
                    actor: name.to_owned(),
                })
                .await
                .map_err(|e| format!("orchestrator unavailable: {e}"))?;
        }
        Ok(outcome)
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
        self.events.record("spine", EventKind::Stopped, "drained");
        self.events.flush().await;
    }
}

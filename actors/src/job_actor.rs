//! The supervised actor every job-running engine lives in.
//!
//! One generic actor, [`JobActor<J>`], gives every [`Job`] the same behaviour: jobs arrive
//! as [`Dispatch`] from the orchestrator and end with a [`Done`] report after their outputs
//! are persisted; a panic inside a job is caught (actix does not), reported, and turned into
//! a supervised restart with backoff; past the restart limit the actor escalates to
//! DEGRADED and refuses work with a clear reason while the rest of the system keeps
//! serving; `ApplyConfig` swaps the configuration between jobs after validating it; injected
//! faults fire on the configured job numbers. Every start, restart, escalation and
//! reconfiguration is recorded.

use crate::edges::{Edge, Subscribe};
use crate::faults::{ActorFaults, FaultKind};
use crate::panel_cache::PanelCache;
use crate::reconfig::store_config;
use crate::supervision::{EventRecorder, Lifecycle, RestartBudget, RestartDecision};
use actix::prelude::*;
use async_trait::async_trait;
use futures::FutureExt;
use prometheus::config::{EngineConfig, MarketsConfig, RestartPolicy, VersionedConfig};
use prometheus::domain::{ApplyConfig, Clock, ConfigId, JobDone, JobFailure, JobReport, RunJob};
use prometheus::store::Stores;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything a job attempt may use besides its own state.
#[derive(Clone)]
pub struct JobContext {
    /// The attempt.
    pub run: RunJob,
    /// Both databases.
    pub stores: Stores,
    /// The clock (for batch timestamps; never for decisions).
    pub clock: Arc<dyn Clock>,
    /// Configured markets.
    pub markets: Arc<MarketsConfig>,
    /// The spine's in-memory price panels.
    pub panels: Arc<PanelCache>,
}

impl JobContext {
    /// The run's market panel from `history_days` calendar days before `as_of` up to
    /// `as_of`, from the spine's cache.
    ///
    /// # Errors
    /// Store failures, as text for the job report.
    pub async fn panel(
        &self,
        as_of: chrono::NaiveDate,
        history_days: u64,
    ) -> Result<
        (
            Vec<prometheus::domain::Instrument>,
            prometheus::encoders::numeric::Panel,
        ),
        String,
    > {
        self.panels
            .panel(
                &self.stores.historical,
                &self.run.market,
                as_of,
                history_days,
            )
            .await
            .map_err(|e| e.to_string())
    }
}

/// What a successful attempt produced.
pub struct JobOutput<O> {
    /// One line for `job_runs` and logs.
    pub summary: String,
    /// The message for downstream actors, if any.
    pub emit: Option<O>,
}

/// A unit of work an actor runs for (market, date): the engine-specific part of an actor.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// The engine's configuration.
    type Config: EngineConfig;
    /// What arrives on its upstream edge ([`crate::edges::NoInput`] when nothing does).
    type Input: Clone + Send + 'static;
    /// What it sends downstream ([`crate::edges::NoOutput`] when nothing).
    type Output: Clone + Send + 'static;
    /// The actor's name: fault specs, events, DAG `actor` fields and config files use it.
    const NAME: &'static str;

    /// Runs one attempt. Outputs must be persisted before it returns `Ok`, and written
    /// with upserts on natural keys so a repeated attempt changes nothing.
    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<Self::Config>,
    ) -> Result<JobOutput<Self::Output>, String>;

    /// Keeps an upstream message for the job of its date.
    fn receive(&self, input: Self::Input);

    /// Drops caches after a restart (they may be what failed).
    fn reset(&self);
}

/// One attempt to run, from the orchestrator.
pub struct Dispatch(pub RunJob);

impl Message for Dispatch {
    type Result = ();
}

/// The end of an attempt, to the orchestrator.
pub struct Done(pub JobDone);

impl Message for Done {
    type Result = ();
}

/// An actor passed its restart limit.
pub struct ActorDegraded {
    /// Its name.
    pub actor: String,
    /// Why.
    pub reason: String,
}

impl Message for ActorDegraded {
    type Result = ();
}

/// A configuration change request.
pub struct Apply(pub ApplyConfig);

/// An accepted configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Applied {
    /// The engine.
    pub engine: String,
    /// Its new config id.
    pub config_id: ConfigId,
    /// Whether anything changed (re-applying the active config is a no-op).
    pub changed: bool,
}

impl Message for Apply {
    type Result = Result<Applied, String>;
}

/// The actor's externally visible state.
pub struct Status;

/// What [`Status`] returns.
#[derive(Clone, Debug)]
pub struct ActorStatus {
    /// Actor name.
    pub name: &'static str,
    /// Life-cycle state.
    pub lifecycle: Lifecycle,
    /// Active config id.
    pub config_id: ConfigId,
    /// Jobs received since start.
    pub jobs: u64,
    /// Restarts in the current window.
    pub recent_restarts: usize,
}

impl Message for Status {
    type Result = ActorStatus;
}

/// The supervised actor around a [`Job`].
pub struct JobActor<J: Job> {
    job: Arc<J>,
    config: VersionedConfig<J::Config>,
    stores: Stores,
    clock: Arc<dyn Clock>,
    markets: Arc<MarketsConfig>,
    panels: Arc<PanelCache>,
    events: EventRecorder,
    orchestrator: Recipient<Done>,
    degraded_to: Recipient<ActorDegraded>,
    subscribers: Vec<Recipient<Edge<J::Output>>>,
    faults: ActorFaults,
    budget: RestartBudget,
    lifecycle: Lifecycle,
    jobs_received: u64,
}

/// Everything [`JobActor::new`] needs besides the job.
pub struct ActorDeps {
    /// Databases.
    pub stores: Stores,
    /// Clock.
    pub clock: Arc<dyn Clock>,
    /// Markets.
    pub markets: Arc<MarketsConfig>,
    /// The spine's price panels.
    pub panels: Arc<PanelCache>,
    /// Event recorder.
    pub events: EventRecorder,
    /// Where attempt ends go.
    pub orchestrator: Recipient<Done>,
    /// Where escalations go.
    pub degraded_to: Recipient<ActorDegraded>,
    /// Restart policy.
    pub policy: RestartPolicy,
}

impl<J: Job> JobActor<J> {
    /// An actor for `job` starting with `config`.
    pub fn new(
        job: J,
        config: VersionedConfig<J::Config>,
        faults: ActorFaults,
        deps: ActorDeps,
    ) -> Self {
        Self {
            job: Arc::new(job),
            config,
            stores: deps.stores,
            clock: deps.clock,
            markets: deps.markets,
            panels: deps.panels,
            events: deps.events,
            orchestrator: deps.orchestrator,
            degraded_to: deps.degraded_to,
            subscribers: Vec::new(),
            faults,
            budget: RestartBudget::new(deps.policy),
            lifecycle: Lifecycle::Starting,
            jobs_received: 0,
        }
    }

    fn report(&self, run: &RunJob, outcome: Result<JobReport, JobFailure>) {
        self.orchestrator.do_send(Done(JobDone {
            run_id: run.run_id.clone(),
            job_id: run.job_id.clone(),
            attempt: run.attempt,
            actor: J::NAME.to_owned(),
            outcome,
        }));
    }
}

impl<J: Job> Actor for JobActor<J> {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Context<Self>) {
        if self.lifecycle == Lifecycle::Starting {
            self.events.record(
                J::NAME,
                "started",
                format!("config {}", self.config.config_id),
            );
        }
        if self.lifecycle != Lifecycle::Degraded {
            self.lifecycle = Lifecycle::Running;
        }
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        if self.lifecycle == Lifecycle::Running {
            self.lifecycle = Lifecycle::Stopped;
        }
    }
}

impl<J: Job> Supervised for JobActor<J> {
    fn restarting(&mut self, ctx: &mut Context<Self>) {
        self.job.reset();
        match self.budget.on_failure(Instant::now()) {
            RestartDecision::Restart(delay) => {
                self.lifecycle = Lifecycle::Restarting;
                self.events.record(
                    J::NAME,
                    "restarted",
                    format!(
                        "restart {} in the window, after {} ms",
                        self.budget.recent(),
                        delay.as_millis()
                    ),
                );
                ctx.wait(tokio::time::sleep(delay).into_actor(self));
            }
            RestartDecision::Escalate => {
                self.lifecycle = Lifecycle::Degraded;
                let reason = format!("actor `{}` is DEGRADED: restart limit exceeded", J::NAME);
                self.events.record(J::NAME, "escalated", reason.clone());
                self.events.record(
                    J::NAME,
                    "alert",
                    format!("{reason}; its jobs fail until the daemon restarts"),
                );
                self.degraded_to.do_send(ActorDegraded {
                    actor: J::NAME.to_owned(),
                    reason,
                });
            }
        }
    }
}

/// The text of a caught panic.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".to_owned())
}

impl<J: Job> Handler<Dispatch> for JobActor<J> {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Context<Self>) {
        let run = msg.0;
        if self.lifecycle == Lifecycle::Degraded {
            let reason = format!(
                "actor `{}` is DEGRADED (restart limit exceeded); job not run",
                J::NAME
            );
            self.report(&run, Err(JobFailure::Degraded(reason)));
            return;
        }
        self.jobs_received += 1;
        let nth = self.jobs_received;
        let fault = self.faults.on_job(nth);
        let job = Arc::clone(&self.job);
        let cfg = self.config.clone();
        let jc = JobContext {
            run: run.clone(),
            stores: self.stores.clone(),
            clock: Arc::clone(&self.clock),
            markets: Arc::clone(&self.markets),
            panels: Arc::clone(&self.panels),
        };
        let span = tracing::info_span!("job", run_id = %run.run_id, job = %run.job_id, attempt = run.attempt, actor = J::NAME);
        let attempt = async move {
            match fault {
                Some(FaultKind::Panic) => panic!("injected fault {}:panic@{nth}", J::NAME),
                Some(FaultKind::Error) => {
                    return Err(JobFailure::Error(format!(
                        "injected fault {}:error@{nth}",
                        J::NAME
                    )));
                }
                Some(FaultKind::Hang) => {
                    tokio::time::sleep(jc.run.timeout * 2 + Duration::from_millis(500)).await
                }
                None => {}
            }
            let started = Instant::now();
            let out = job.run(&jc, &cfg).await;
            tracing::debug!(
                elapsed_ms = started.elapsed().as_secs_f64() * 1e3,
                ok = out.is_ok(),
                "attempt finished"
            );
            let out = out.map_err(JobFailure::Error)?;
            Ok((out, cfg.config_id))
        };
        let attempt =
            tracing::Instrument::instrument(AssertUnwindSafe(attempt).catch_unwind(), span);
        ctx.spawn(
            attempt
                .into_actor(self)
                .map(move |res, act, ctx| match res {
                    Ok(Ok((out, config_id))) => {
                        if let Some(msg) = out.emit {
                            for s in &act.subscribers {
                                s.do_send(Edge(msg.clone()));
                            }
                        }
                        act.report(
                            &run,
                            Ok(JobReport {
                                config_id,
                                summary: out.summary,
                            }),
                        );
                    }
                    Ok(Err(failure)) => act.report(&run, Err(failure)),
                    Err(payload) => {
                        let text = panic_text(payload.as_ref());
                        act.events.record(
                            J::NAME,
                            "panicked",
                            format!("{} attempt {}: {text}", run.job_id, run.attempt),
                        );
                        act.report(&run, Err(JobFailure::Panicked(text)));
                        ctx.stop();
                    }
                }),
        );
    }
}

/// An actor takes any message its input type can be made from: its own input, or one
/// arm of an input enum when several upstream actors feed it (the portfolio engine takes
/// the universe and the scenario set).
impl<J: Job, T: Send + 'static> Handler<Edge<T>> for JobActor<J>
where
    J::Input: From<T>,
{
    type Result = ();

    fn handle(&mut self, msg: Edge<T>, _ctx: &mut Context<Self>) {
        self.job.receive(J::Input::from(msg.0));
    }
}

impl<J: Job> Handler<Subscribe<J::Output>> for JobActor<J> {
    type Result = ();

    fn handle(&mut self, msg: Subscribe<J::Output>, _ctx: &mut Context<Self>) {
        self.subscribers.push(msg.0);
    }
}

impl<J: Job> Handler<Status> for JobActor<J> {
    type Result = MessageResult<Status>;

    fn handle(&mut self, _msg: Status, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(ActorStatus {
            name: J::NAME,
            lifecycle: self.lifecycle,
            config_id: self.config.config_id.clone(),
            jobs: self.jobs_received,
            recent_restarts: self.budget.recent(),
        })
    }
}

impl<J: Job> Handler<Apply> for JobActor<J> {
    type Result = ResponseActFuture<Self, Result<Applied, String>>;

    fn handle(&mut self, msg: Apply, _ctx: &mut Context<Self>) -> Self::Result {
        let req = msg.0;
        let runtime = self.stores.runtime.clone();
        let clock = Arc::clone(&self.clock);
        let fut = async move {
            store_config::<J::Config>(&runtime, &req.body, &req.requested_by, clock.as_ref()).await
        };
        Box::pin(fut.into_actor(self).map(|res, act, _ctx| {
            let (cfg, changed) = match res {
                Ok(v) => v,
                Err(e) => {
                    act.events.record(J::NAME, "reconfig_rejected", e.clone());
                    return Err(e);
                }
            };
            let config_id = cfg.config_id.clone();
            if changed {
                act.events.record(
                    J::NAME,
                    "reconfigured",
                    format!("{} -> {config_id}", act.config.config_id),
                );
            }
            act.config = cfg;
            Ok(Applied {
                engine: J::NAME.to_owned(),
                config_id,
                changed,
            })
        }))
    }
}

//! The supervised actor every job-running engine lives in.
//!
//! One generic actor, [`JobActor<J>`], gives every [`Job`] the same behaviour: jobs arrive
//! as [`Dispatch`] from the orchestrator and end with a [`Done`] report after their outputs
//! are persisted. Every panic is the same supervised event, wherever it happens — on the
//! actor's thread (caught here; actix does not) or inside a computation on tokio's
//! blocking pool ([`JobContext::compute`]): the attempt is reported as panicked, the
//! actor's other in-flight attempts are failed at once (transient, so they are retried
//! rather than left to a timeout), and the actor restarts with its caches reset and a
//! backoff. Past its restart budget it escalates to DEGRADED and refuses work with the
//! reason until an operator resets it ([`ResetActor`]). `ApplyConfig` swaps the
//! configuration between jobs after validating it; injected faults fire on the configured
//! job numbers. Candidate configs in shadow run after each job on the same run
//! ([`super::shadow`]). Every start, restart, escalation, reset and reconfiguration is
//! recorded.

pub use super::job::{Job, JobContext, JobOutput};

use super::calendars::MarketCalendars;
use super::edge::{Edge, Subscribe};
use super::faults::{ActorFaults, FaultKind};
use super::job_error::{JobError, panic_text};
use super::read_audit::ReadAudit;
use super::reconfig::store_config;
use super::shadow::{ActiveShadow, RefreshShadows, load, run_shadows};
use super::supervision::{EventRecorder, Lifecycle, RestartBudget, RestartDecision};
use crate::panel_cache::PanelCache;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use futures::FutureExt;
use prometheus::config::{MarketsConfig, RestartPolicy, VersionedConfig};
use prometheus::domain::{
    ApplyConfig, Clock, ConfigId, EventKind, FixedClock, JobDone, JobFailure, JobReport, RunJob,
};
use prometheus::store::Stores;
use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// An operator brings a DEGRADED actor back into service without restarting the process:
/// its restart budget starts afresh and its caches are dropped.
pub struct ResetActor {
    /// Who asked, for the event record.
    pub requested_by: String,
}

/// What a reset did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResetOutcome {
    /// The state before the reset.
    pub was: Lifecycle,
    /// Whether it changed anything (only a DEGRADED actor is reset).
    pub changed: bool,
}

impl Message for ResetActor {
    type Result = ResetOutcome;
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
    /// Attempts running right now.
    pub in_flight: usize,
    /// Restarts since the process started.
    pub restarts: u64,
    /// Restarts in the current window (what escalation counts).
    pub recent_restarts: usize,
    /// The last failure: when, and why.
    pub last_error: Option<(DateTime<Utc>, String)>,
}

impl Message for Status {
    type Result = ActorStatus;
}

/// Identifies one attempt among an actor's in-flight attempts.
type AttemptKey = (String, String, u32);

/// The supervised actor around a [`Job`].
pub struct JobActor<J: Job> {
    job: Arc<J>,
    config: VersionedConfig<J::Config>,
    stores: Stores,
    clock: Arc<dyn Clock>,
    markets: Arc<MarketsConfig>,
    panels: Arc<PanelCache>,
    calendars: Arc<MarketCalendars>,
    events: EventRecorder,
    orchestrator: Recipient<Done>,
    degraded_to: Recipient<ActorDegraded>,
    subscribers: Vec<Recipient<Edge<J::Output>>>,
    faults: ActorFaults,
    budget: RestartBudget,
    lifecycle: Lifecycle,
    jobs_received: u64,
    restarts: u64,
    last_error: Option<(DateTime<Utc>, String)>,
    /// Attempts out right now: a restart fails them at once.
    in_flight: BTreeMap<AttemptKey, RunJob>,
    /// Candidate configs running in shadow after each job (see [`super::shadow`]).
    shadows: Arc<Vec<ActiveShadow<J::Config>>>,
    /// The spine's read policy and audit.
    reads: Arc<ReadAudit>,
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
    /// The spine's read policy and audit.
    pub reads: Arc<ReadAudit>,
}

fn key(run: &RunJob) -> AttemptKey {
    (run.run_id.to_string(), run.job_id.clone(), run.attempt)
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
            calendars: Arc::new(MarketCalendars::new(Arc::clone(&deps.markets))),
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
            restarts: 0,
            last_error: None,
            in_flight: BTreeMap::new(),
            shadows: Arc::new(Vec::new()),
            reads: deps.reads,
        }
    }

    fn report(&mut self, run: &RunJob, outcome: Result<JobReport, JobFailure>) {
        if let Err(f) = &outcome {
            self.last_error = Some((self.clock.now(), f.message()));
        }
        self.orchestrator.do_send(Done(JobDone {
            run_id: run.run_id.clone(),
            job_id: run.job_id.clone(),
            attempt: run.attempt,
            actor: J::NAME.to_owned(),
            outcome,
        }));
    }

    /// The one supervision path of a panic, wherever it happened: report it, fail every
    /// other in-flight attempt at once (they are retried, not left to their timeouts),
    /// and stop — the supervisor restarts the actor with its caches reset.
    fn panicked(&mut self, ctx: &mut Context<Self>, run: &RunJob, text: String) {
        self.events.record(
            J::NAME,
            EventKind::Panicked,
            format!(
                "{} {} attempt {}: {text}",
                run.run_id, run.job_id, run.attempt
            ),
        );
        self.report(run, Err(JobFailure::Panicked(text)));
        for (_, other) in std::mem::take(&mut self.in_flight) {
            let why = format!(
                "actor `{}` restarted after a panic in {} attempt {} while this attempt ran; abandoned and retried",
                J::NAME,
                run.job_id,
                run.attempt
            );
            self.events.record(
                J::NAME,
                EventKind::AttemptAbandoned,
                format!(
                    "{} {} attempt {}",
                    other.run_id, other.job_id, other.attempt
                ),
            );
            self.report(&other, Err(JobFailure::Abandoned(why)));
        }
        ctx.stop();
    }
}

impl<J: Job> Actor for JobActor<J> {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.notify(RefreshShadows);
        if self.lifecycle == Lifecycle::Starting {
            self.events.record(
                J::NAME,
                EventKind::Started,
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
        self.restarts += 1;
        match self.budget.on_failure(Instant::now()) {
            RestartDecision::Restart(delay) => {
                self.lifecycle = Lifecycle::Restarting;
                self.events.record(
                    J::NAME,
                    EventKind::Restarted,
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
                self.events
                    .record(J::NAME, EventKind::Escalated, reason.clone());
                self.events.record(
                    J::NAME,
                    EventKind::Alert,
                    format!(
                        "{reason}; its jobs fail until an operator resets it (`pv2 actors reset {}`)",
                        J::NAME
                    ),
                );
                self.degraded_to.do_send(ActorDegraded {
                    actor: J::NAME.to_owned(),
                    reason,
                });
            }
        }
    }
}

impl<J: Job> Handler<Dispatch> for JobActor<J> {
    type Result = ();

    fn handle(&mut self, msg: Dispatch, ctx: &mut Context<Self>) {
        let run = msg.0;
        if self.lifecycle == Lifecycle::Degraded {
            let reason = format!(
                "actor `{}` is DEGRADED (restart limit exceeded); job not run; `pv2 actors reset {}` brings it back",
                J::NAME,
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
        let shadows = Arc::clone(&self.shadows);
        // A simulated run's jobs read the instant the run stands at, not the scheduler's
        // clock, which a backfill moves on while earlier dates still run.
        let clock: Arc<dyn Clock> = match run.stands_at {
            Some(at) => Arc::new(FixedClock(at)),
            None => Arc::clone(&self.clock),
        };
        let jc = JobContext::new(
            run.clone(),
            self.stores.clone(),
            clock,
            Arc::clone(&self.markets),
            Arc::clone(&self.panels),
            Arc::clone(&self.calendars),
        )
        .reading_as(J::NAME, Arc::clone(&self.reads))
        .alerting_to(self.events.clone());
        self.in_flight.insert(key(&run), run.clone());
        let span = tracing::info_span!("job", run_id = %run.run_id, job = %run.job_id, attempt = run.attempt, actor = J::NAME);
        let attempt = async move {
            let injected = |kind: &str| format!("injected fault {}:{kind}@{nth}", J::NAME);
            match fault {
                Some(FaultKind::ActorPanic) => panic!("{}", injected("actor-panic")),
                Some(FaultKind::Error) => return Err(JobError::transient(injected("error"))),
                Some(FaultKind::Permanent) => {
                    return Err(JobError::permanent(injected("permanent")));
                }
                Some(FaultKind::Hang) => {
                    tokio::time::sleep(jc.run.timeout * 2 + Duration::from_millis(500)).await;
                }
                Some(FaultKind::Panic) => {
                    if let Ok(mut f) = jc.compute_fault.lock() {
                        *f = Some(format!("{}:panic@{nth}", J::NAME));
                    }
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
            let out = out?;
            // A job that never computed on the pool meets its injected panic after its
            // writes: still inside the attempt, still the supervised path.
            if jc.compute_fault.lock().is_ok_and(|f| f.is_some()) {
                jc.compute("after the job's writes", || ()).await?;
            }
            // Candidates in shadow run on the same run once its outputs are stored.
            if !shadows.is_empty() {
                run_shadows(job.as_ref(), &jc, &shadows).await;
            }
            Ok((out, cfg.config_id))
        };
        let attempt =
            tracing::Instrument::instrument(AssertUnwindSafe(attempt).catch_unwind(), span);
        ctx.spawn(attempt.into_actor(self).map(move |res, act, ctx| {
            act.in_flight.remove(&key(&run));
            match res {
                Ok(Ok((out, config_id))) => {
                    act.events.telemetry().rows_written(J::NAME, out.rows);
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
                Ok(Err(JobError::Panicked(text))) => act.panicked(ctx, &run, text),
                Ok(Err(e)) => act.report(&run, Err(e.into_failure())),
                Err(payload) => {
                    let text = panic_text(payload.as_ref());
                    act.panicked(ctx, &run, text);
                }
            }
        }));
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
            in_flight: self.in_flight.len(),
            restarts: self.restarts,
            recent_restarts: self.budget.recent(),
            last_error: self.last_error.clone(),
        })
    }
}

impl<J: Job> Handler<ResetActor> for JobActor<J> {
    type Result = MessageResult<ResetActor>;

    fn handle(&mut self, msg: ResetActor, _ctx: &mut Context<Self>) -> Self::Result {
        let was = self.lifecycle;
        if was != Lifecycle::Degraded {
            return MessageResult(ResetOutcome {
                was,
                changed: false,
            });
        }
        self.job.reset();
        self.budget.clear();
        self.lifecycle = Lifecycle::Running;
        self.events.record(
            J::NAME,
            EventKind::Reset,
            format!("DEGRADED -> RUNNING, requested by {}", msg.requested_by),
        );
        MessageResult(ResetOutcome { was, changed: true })
    }
}

impl<J: Job> Handler<RefreshShadows> for JobActor<J> {
    type Result = ResponseActFuture<Self, ()>;

    fn handle(&mut self, _msg: RefreshShadows, _ctx: &mut Context<Self>) -> Self::Result {
        let stores = self.stores.clone();
        let fut = async move { load::<J::Config>(&stores).await };
        Box::pin(fut.into_actor(self).map(|shadows, act, _ctx| {
            if shadows.len() != act.shadows.len() {
                act.events.record(
                    J::NAME,
                    EventKind::Reconfigured,
                    format!("{} candidate config(s) in shadow", shadows.len()),
                );
            }
            act.shadows = Arc::new(shadows);
        }))
    }
}

impl<J: Job> Handler<Apply> for JobActor<J> {
    type Result = ResponseActFuture<Self, Result<Applied, String>>;

    fn handle(&mut self, msg: Apply, ctx: &mut Context<Self>) -> Self::Result {
        let req = msg.0;
        // A promotion may end a shadow (its proposal is no longer in SHADOW).
        ctx.notify(RefreshShadows);
        let runtime = self.stores.runtime.clone();
        let clock = Arc::clone(&self.clock);
        let fut = async move {
            store_config::<J::Config>(
                &runtime,
                &req.body,
                &req.requested_by,
                req.loosen_limits.as_deref(),
                clock.as_ref(),
            )
            .await
        };
        Box::pin(fut.into_actor(self).map(|res, act, _ctx| {
            let (cfg, changed) = match res {
                Ok(v) => v,
                Err(e) => {
                    act.events
                        .record(J::NAME, EventKind::ReconfigRejected, e.clone());
                    return Err(e);
                }
            };
            let config_id = cfg.config_id.clone();
            // A promotion activates in the store first; the actor switching is the change.
            if changed || act.config.config_id != config_id {
                act.events.record(
                    J::NAME,
                    EventKind::Reconfigured,
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

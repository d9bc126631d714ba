//! What an engine implements to run in the spine: the [`Job`] trait, and the
//! [`JobContext`] an attempt gets — its run, the stores, the panels, and
//! [`JobContext::compute`], the one way CPU-bound work leaves the actors' thread (where a
//! panic stays a supervised event).

use super::calendars::MarketCalendars;
use super::job_error::{JobError, panic_text};
use super::read_audit::{ReadAudit, shifted};
use crate::panel_cache::PanelCache;
use async_trait::async_trait;
use prometheus::config::{EngineConfig, MarketsConfig, VersionedConfig};
use prometheus::domain::{Clock, ConfigId, RunJob};
use prometheus::store::{RunStore, Stores};
use std::sync::{Arc, Mutex};

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
    /// The markets' built calendars.
    pub calendars: Arc<MarketCalendars>,
    /// An injected panic (its spec) waiting for the attempt's first computation.
    pub(super) compute_fault: Arc<Mutex<Option<String>>>,
    /// The actor the job runs in (its look-ahead, if a control gave it one).
    pub(super) actor: &'static str,
    /// The spine's read audit.
    pub(super) reads: Arc<ReadAudit>,
    /// Where alerts go (none for shadow runs, which must not page anyone).
    pub(super) events: Option<super::supervision::EventRecorder>,
}

impl JobContext {
    /// A context for one attempt of `run`.
    pub fn new(
        run: RunJob,
        stores: Stores,
        clock: Arc<dyn Clock>,
        markets: Arc<MarketsConfig>,
        panels: Arc<PanelCache>,
        calendars: Arc<MarketCalendars>,
    ) -> Self {
        Self {
            run,
            stores,
            clock,
            markets,
            panels,
            calendars,
            compute_fault: Arc::new(Mutex::new(None)),
            actor: "",
            reads: Arc::new(ReadAudit::default()),
            events: None,
        }
    }

    /// The same context raising its alerts through `events`.
    pub fn alerting_to(mut self, events: super::supervision::EventRecorder) -> Self {
        self.events = Some(events);
        self
    }

    /// Raises an alert an operator must see (the dashboard, `/alerts`, `pv2_alerts_total`,
    /// an `alert` actor event): `kind` of problem about `subject`, `detail` saying what is
    /// wrong and what to do. Raised once while it stays open.
    pub fn alert(&self, kind: &str, subject: &str, detail: String) {
        let Some(events) = &self.events else {
            tracing::warn!(kind, subject, %detail, "alert without a recorder");
            return;
        };
        let raised = events.telemetry().raise(crate::monitor::telemetry::Alert {
            kind: kind.to_owned(),
            subject: subject.to_owned(),
            detail: detail.clone(),
            raised_at: self.clock.now(),
        });
        if raised {
            events.record(self.actor, prometheus::domain::EventKind::Alert, detail);
        }
    }

    /// Resolves the open alert of `kind` about `subject` (its cause is gone).
    pub fn resolve_alert(&self, kind: &str, subject: &str) {
        if let Some(events) = &self.events
            && events.telemetry().resolve(kind, subject)
        {
            events.record(
                self.actor,
                prometheus::domain::EventKind::Alert,
                format!("{kind} about {subject} resolved"),
            );
        }
    }

    /// The same context for a job of `actor` under the spine's read policy `reads`.
    pub fn reading_as(mut self, actor: &'static str, reads: Arc<ReadAudit>) -> Self {
        self.actor = actor;
        self.reads = reads;
        self
    }

    /// The run's market panel from `history_days` calendar days before `as_of` up to
    /// `as_of`, from the spine's cache. Under an audit, sampled panels are compared with
    /// the point-in-time read (see [`super::read_audit`]).
    ///
    /// # Errors
    /// Store failures, with their class.
    pub async fn panel(
        &self,
        as_of: chrono::NaiveDate,
        history_days: u64,
    ) -> Result<
        (
            Vec<prometheus::domain::Instrument>,
            prometheus::encoders::numeric::Panel,
        ),
        JobError,
    > {
        let db = &self.stores.historical;
        let market = &self.run.market;
        let ahead = self.reads.look_ahead_for(self.actor);
        let until = if ahead == 0 {
            None
        } else {
            self.calendars
                .get(market.as_str())
                .ok()
                .and_then(|c| c.next_session(as_of, ahead as usize).map(|s| s.date))
        };
        let Some(until) = until else {
            let started = std::time::Instant::now();
            let (listed, panel) = self.panels.panel(db, market, as_of, history_days).await?;
            tracing::debug!(
                history_days,
                panel_ms = started.elapsed().as_secs_f64() * 1e3,
                "panel"
            );
            if self.reads.auditing() {
                // Nothing dated after the job's date, in any series.
                let bounded = panel
                    .instruments
                    .values()
                    .all(|r| r.last().is_none_or(|x| x.date <= self.run.as_of))
                    && panel.market.last().is_none_or(|x| x.0 <= self.run.as_of);
                self.reads.record(bounded);
            }
            return Ok((listed, panel));
        };
        // The negative control only: future prices under today's dates.
        let extra = u64::try_from((until - as_of).num_days()).unwrap_or(0);
        let (listed, extended) = self
            .panels
            .panel(db, market, until, history_days + extra)
            .await?;
        let given = shifted(extended, as_of, ahead as usize);
        if self.reads.audits(self.run.as_of) {
            let (_, truth) = self.panels.panel(db, market, as_of, history_days).await?;
            self.reads.record(truth == given);
        }
        Ok((listed, given))
    }

    /// Runs `f`, a CPU-bound computation, on tokio's blocking pool, so the actors' shared
    /// event-loop thread stays free and several dates in flight compute on both cores. A
    /// panic inside `f` comes back as [`JobError::Panicked`] — the supervised event a panic
    /// on the actor's thread is — never as an ordinary error. An injected `panic` fault
    /// fires here, inside the computation.
    ///
    /// # Errors
    /// `f` panicked, or the pool cancelled it (the runtime is shutting down).
    pub async fn compute<T, F>(&self, what: &str, f: F) -> Result<T, JobError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let fault = self.compute_fault.lock().ok().and_then(|mut f| f.take());
        let task = tokio::task::spawn_blocking(move || {
            crate::affinity::widen_for_compute();
            if let Some(spec) = fault {
                panic!("injected fault {spec} inside the computation");
            }
            let started = std::time::Instant::now();
            let out = f();
            (out, started.elapsed())
        });
        match task.await.map(|(out, took)| {
            tracing::debug!(what, compute_ms = took.as_secs_f64() * 1e3, "computed");
            out
        }) {
            Ok(v) => Ok(v),
            Err(e) if e.is_panic() => Err(JobError::Panicked(format!(
                "{what}: {}",
                panic_text(e.into_panic().as_ref())
            ))),
            Err(e) => Err(JobError::transient(format!("{what} was cancelled: {e}"))),
        }
    }

    /// The config the actor `name` wrote its rows of this date under: the one it succeeded
    /// with earlier in this run, else (an actor of another DAG's run, such as the encoders
    /// of the `features` run the joint encoder reads) its latest success for this market
    /// and date in the durable run record. Never a message, which a restart can lose.
    ///
    /// # Errors
    /// Store failures.
    pub async fn upstream_config(&self, name: &str) -> Result<Option<ConfigId>, JobError> {
        if let Some(c) = self.run.upstream_config(name) {
            return Ok(Some(c.clone()));
        }
        Ok(self
            .stores
            .runtime
            .succeeded_config(self.run.market.as_str(), self.run.as_of, name)
            .await?)
    }
}

/// What a successful attempt produced.
pub struct JobOutput<O> {
    /// One line for `job_runs` and logs.
    pub summary: String,
    /// Rows the attempt wrote (`pv2_rows_written_total`): its outputs, counted by the job
    /// that wrote them.
    pub rows: u64,
    /// The message for downstream actors, if any.
    pub emit: Option<O>,
}

/// A unit of work an actor runs for (market, date): the engine-specific part of an actor.
#[async_trait]
pub trait Job: Send + Sync + 'static {
    /// The engine's configuration.
    type Config: EngineConfig;
    /// What arrives on its upstream edge ([`super::edge::NoInput`] when nothing does).
    type Input: Clone + Send + 'static;
    /// What it sends downstream ([`super::edge::NoOutput`] when nothing).
    type Output: Clone + Send + 'static;
    /// The actor's name: fault specs, events, DAG `actor` fields and config files use it.
    const NAME: &'static str;

    /// Runs one attempt. Outputs must be persisted before it returns `Ok`, and written
    /// with upserts on natural keys so a repeated attempt changes nothing. Everything it
    /// reads must be durable (or recomputable from durable inputs): an upstream message is
    /// a shortcut, never the only copy.
    ///
    /// # Errors
    /// Why the attempt failed, with the class that decides whether it is retried.
    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<Self::Config>,
    ) -> Result<JobOutput<Self::Output>, JobError>;

    /// Keeps an upstream message for the job of its run.
    fn receive(&self, input: Self::Input);

    /// Drops caches after a restart (they may be what failed).
    fn reset(&self);
}

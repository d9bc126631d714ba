//! The DAG orchestrator actor: activates runs, dispatches ready jobs to their actors by
//! priority tier within a concurrency limit, enforces timeouts, schedules retries with
//! backoff, reacts to degraded actors, records every run and attempt, resumes unfinished
//! runs after a crash and drains on shutdown. What to do is decided by
//! [`prometheus::dag::RunState`]; this actor only carries it out.

use crate::job_actor::{ActorDegraded, Dispatch, Done};
use crate::run_log::RunLog;
use crate::supervision::EventRecorder;
use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};
use prometheus::calendar::ExchangeCalendar;
use prometheus::dag::{Action, AttemptOutcome, DagsConfig, JobStatus, RunState, RunStatus};
use prometheus::domain::{Clock, ConfigId, JobDone, MarketId, RunId, RunJob};
use prometheus::store::{DagRunRecord, JobRunRecord, RunStore, RuntimeDb};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Activate (or find) the run of `dag_id` for `market` and `as_of`.
pub struct Submit {
    /// The DAG.
    pub dag_id: String,
    /// The market.
    pub market: MarketId,
    /// The trading date.
    pub as_of: NaiveDate,
    /// Who asked (`cli`, `schedule`, `http`…).
    pub trigger: String,
    /// Run again even if a run for that date already finished.
    pub rerun: bool,
    /// Names the run `<dag>:<market>:<key>` instead of `<dag>:<market>:<date>`: several
    /// runs a day (intra-day cron schedules), each still idempotent.
    pub run_key: Option<String>,
}

/// The answer to [`Submit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The run's id.
    pub run_id: String,
    /// `None` when the run is active now; the final state when it had already finished.
    pub finished: Option<String>,
}

impl Message for Submit {
    type Result = Result<Submitted, String>;
}

/// Re-check jobs waiting for a market state now (a simulated clock moved).
pub struct Wake;

impl Message for Wake {
    type Result = ();
}

/// Resume every unfinished run found in the store (after a crash or a drain).
pub struct Resume;

impl Message for Resume {
    type Result = Result<Vec<String>, String>;
}

/// Wait for a run to finish: an active run, or one that finished recently (answered at
/// once). `None` for a run this orchestrator does not know.
pub struct WaitRun(pub String);

impl Message for WaitRun {
    type Result = Option<oneshot::Receiver<RunSummary>>;
}

/// Stop activating runs and starting jobs; resolve when running attempts have ended or,
/// after `timeout`, record them as interrupted (the next start resumes them).
pub struct Drain {
    /// How long to wait for running attempts.
    pub timeout: Duration,
}

impl Message for Drain {
    type Result = oneshot::Receiver<()>;
}

/// A snapshot for health checks and the API.
pub struct Snapshot;

/// What [`Snapshot`] returns.
#[derive(Clone, Debug)]
pub struct OrchestratorStatus {
    /// Whether new runs are accepted.
    pub accepting: bool,
    /// Attempts out right now.
    pub running_jobs: usize,
    /// Active run ids.
    pub active_runs: Vec<String>,
    /// Degraded actors and why.
    pub degraded: BTreeMap<String, String>,
}

impl Message for Snapshot {
    type Result = OrchestratorStatus;
}

/// A finished run, as reported to waiters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// The run.
    pub run_id: String,
    /// `SUCCEEDED`, `DEGRADED` or `FAILED`.
    pub state: String,
    /// `(job id, attempts, final state, error)`.
    pub jobs: Vec<(String, u32, String, Option<String>)>,
}

struct ActiveRun {
    state: RunState,
    record: DagRunRecord,
    market: MarketId,
    as_of: NaiveDate,
    seq: u64,
    /// Job index → (attempt, started at, timeout timer).
    running: BTreeMap<usize, (u32, DateTime<Utc>, SpawnHandle)>,
    /// Job index → when its required market state begins for this run's date.
    gates: BTreeMap<usize, Gate>,
}

/// The calendars of the configured markets, by market id: what required-state gates use.
pub type Calendars = BTreeMap<String, Arc<ExchangeCalendar>>;

/// When a gated job may start: the instant its market enters the required state for the
/// run's date, or why it never can (the date is not a session, the market has no calendar).
type Gate = Result<DateTime<Utc>, String>;

/// The gate of every job of `dag` that requires a market state, for `market` on `as_of`.
pub fn job_gates(
    dag: &prometheus::dag::DagDef,
    calendars: &Calendars,
    market: &MarketId,
    as_of: NaiveDate,
) -> BTreeMap<usize, Gate> {
    let mut gates = BTreeMap::new();
    for (j, job) in dag.jobs.iter().enumerate() {
        let Some(state) = job.required_state else {
            continue;
        };
        let gate = match calendars.get(market.as_str()) {
            None => Err(format!(
                "job `{}` requires {state} but market {market} has no calendar",
                job.id
            )),
            Some(c) => c.state_begins(as_of, state).ok_or_else(|| {
                format!(
                    "{as_of} is not a {market} session, so job `{}` (requires {state}) cannot run for it",
                    job.id
                )
            }),
        };
        gates.insert(j, gate);
    }
    gates
}

/// The orchestrator.
pub struct Orchestrator {
    dags: Arc<DagsConfig>,
    actors: BTreeMap<String, Recipient<Dispatch>>,
    runs: BTreeMap<String, ActiveRun>,
    next_seq: u64,
    running: usize,
    max_concurrent: usize,
    degraded: BTreeMap<String, String>,
    accepting: bool,
    db: RuntimeDb,
    log: RunLog,
    events: EventRecorder,
    clock: Arc<dyn Clock>,
    waiters: BTreeMap<String, Vec<oneshot::Sender<RunSummary>>>,
    /// Summaries of recently finished runs, for waiters that ask after the end.
    finished: BTreeMap<String, (u64, RunSummary)>,
    drained: Vec<oneshot::Sender<()>>,
    calendars: Arc<Calendars>,
    /// The wake-up that re-checks gated jobs.
    gate_timer: Option<SpawnHandle>,
}

/// How many finished runs [`WaitRun`] still answers for.
const REMEMBERED_RUNS: usize = 1024;

fn status_name(s: &JobStatus) -> &'static str {
    match s {
        JobStatus::Pending => "PENDING",
        JobStatus::Running { .. } => "RUNNING",
        JobStatus::RetryWait { .. } => "RETRY_WAIT",
        JobStatus::Succeeded { .. } => "SUCCEEDED",
        JobStatus::Failed { .. } => "FAILED",
        JobStatus::Skipped { .. } => "SKIPPED",
        JobStatus::Blocked { .. } => "BLOCKED",
    }
}

impl Orchestrator {
    /// An orchestrator for `dags`, dispatching to `actors` (by name); jobs with a required
    /// market state wait for it on `calendars`.
    pub fn new(
        dags: Arc<DagsConfig>,
        actors: BTreeMap<String, Recipient<Dispatch>>,
        calendars: Arc<Calendars>,
        max_concurrent: usize,
        db: RuntimeDb,
        events: EventRecorder,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            dags,
            actors,
            runs: BTreeMap::new(),
            next_seq: 0,
            running: 0,
            max_concurrent: max_concurrent.max(1),
            degraded: BTreeMap::new(),
            accepting: true,
            log: RunLog::start(db.clone()),
            db,
            events,
            clock,
            waiters: BTreeMap::new(),
            finished: BTreeMap::new(),
            drained: Vec::new(),
            calendars,
            gate_timer: None,
        }
    }

    fn job_record(
        &self,
        run_id: &str,
        job_id: &str,
        attempt: u32,
        state: &str,
        started_at: DateTime<Utc>,
    ) -> JobRunRecord {
        JobRunRecord {
            run_id: run_id.to_owned(),
            job_id: job_id.to_owned(),
            attempt,
            state: state.to_owned(),
            config_id: None,
            started_at,
            finished_at: None,
            error: None,
        }
    }

    fn activate(
        &mut self,
        ctx: &mut Context<Self>,
        state: RunState,
        record: DagRunRecord,
        interrupted: Vec<(usize, u32)>,
    ) {
        let run_id = record.run_id.clone();
        let market = MarketId::new(record.market_id.clone().unwrap_or_default());
        let as_of = record.as_of_date.unwrap_or_default();
        let now = self.clock.now();
        for (j, attempt) in interrupted {
            let job_id = state.dag().jobs[j].id.clone();
            let mut r = self.job_record(&run_id, &job_id, attempt, "INTERRUPTED", now);
            r.finished_at = Some(now);
            r.error = Some("the process stopped while the attempt ran; resumed".into());
            // The started_at of the original row is kept by the upsert.
            self.log.job(r);
        }
        let record = DagRunRecord {
            state: "RUNNING".into(),
            finished_at: None,
            error: None,
            ..record
        };
        self.log.run(record.clone());
        self.next_seq += 1;
        let gates = job_gates(state.dag(), &self.calendars, &market, as_of);
        self.runs.insert(
            run_id,
            ActiveRun {
                state,
                record,
                market,
                as_of,
                seq: self.next_seq,
                running: BTreeMap::new(),
                gates,
            },
        );
        self.pump(ctx);
    }

    /// True while an earlier date's run of the same DAG and market holds job `j` back.
    ///
    /// Jobs read what was written for earlier dates (the previous target, past scores, the
    /// marks ingest leaves for derive), so several dates of one DAG in flight (catch-up
    /// after downtime, a backtest's rebalances) must give the rows one date at a time
    /// would. By default a run waits until the earlier dates' runs are over; a DAG with
    /// `overlap_dates` only keeps each job's own dates in order, so different jobs of
    /// different dates run side by side.
    fn earlier_date_pending(&self, run: &ActiveRun, j: usize) -> bool {
        let dag = run.state.dag();
        let job = &dag.jobs[j].id;
        self.runs.values().any(|other| {
            other.as_of < run.as_of
                && other.market == run.market
                && other.state.dag().id == dag.id
                && if dag.overlap_dates {
                    other
                        .state
                        .job_index(job)
                        .is_some_and(|k| !other.state.job(k).is_final())
                } else {
                    other.state.status() == RunStatus::Running
                }
        })
    }

    /// Dispatches ready jobs whose market-state gate has passed (and whose earlier dates
    /// are done), best tier first, oldest run first, up to the limit; wakes again when the
    /// next gate opens; then settles runs that are over.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        while self.accepting && self.running < self.max_concurrent {
            let next = self
                .runs
                .iter()
                .filter_map(|(id, r)| {
                    r.state
                        .ready()
                        .into_iter()
                        .find(|&j| {
                            !matches!(r.gates.get(&j), Some(Ok(t)) if *t > now)
                                && !self.earlier_date_pending(r, j)
                        })
                        .map(|j| (r.state.dag().jobs[j].priority, r.seq, id.clone(), j))
                })
                .min();
            let Some((_, _, run_id, j)) = next else { break };
            self.dispatch(ctx, &run_id, j);
        }
        self.arm_gate_timer(ctx, now);
        self.finish_runs();
    }

    /// Schedules a re-check for the earliest gate still closed on a ready job (at most a
    /// minute away, so a clock that jumps is noticed).
    fn arm_gate_timer(&mut self, ctx: &mut Context<Self>, now: DateTime<Utc>) {
        if let Some(t) = self.gate_timer.take() {
            ctx.cancel_future(t);
        }
        let next_gate = self
            .runs
            .values()
            .flat_map(|r| {
                r.state
                    .ready()
                    .into_iter()
                    .filter_map(|j| r.gates.get(&j).and_then(|g| g.as_ref().ok()).copied())
            })
            .filter(|t| *t > now)
            .min();
        if let Some(t) = next_gate {
            let wait = (t - now)
                .to_std()
                .unwrap_or(Duration::ZERO)
                .clamp(Duration::from_millis(10), Duration::from_secs(60));
            self.gate_timer = Some(ctx.run_later(wait, |act, ctx| {
                act.gate_timer = None;
                act.pump(ctx);
            }));
        }
    }

    fn dispatch(&mut self, ctx: &mut Context<Self>, run_id: &str, j: usize) {
        let now = self.clock.now();
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        let attempt = run.state.start(j);
        let def = run.state.dag().jobs[j].clone();
        let record = JobRunRecord {
            run_id: run_id.to_owned(),
            job_id: def.id.clone(),
            attempt,
            state: "RUNNING".into(),
            config_id: None,
            started_at: now,
            finished_at: None,
            error: None,
        };
        self.log.job(record);
        let refusal = match (
            run.gates.get(&j),
            self.degraded.get(&def.actor),
            self.actors.get(&def.actor),
        ) {
            (Some(Err(reason)), _, _) => Some(reason.clone()),
            (_, Some(reason), _) => Some(reason.clone()),
            (_, None, None) => Some(format!("no actor `{}` is running", def.actor)),
            (_, None, Some(_)) => None,
        };
        if let Some(reason) = refusal {
            self.settle(
                ctx,
                run_id,
                j,
                attempt,
                AttemptOutcome::Failed {
                    error: reason,
                    retryable: false,
                },
                None,
                now,
            );
            return;
        }
        let timeout = Duration::from_secs_f64(def.timeout_secs);
        let msg = RunJob {
            run_id: RunId::new(run_id),
            dag_id: run.state.dag().id.clone(),
            job_id: def.id.clone(),
            attempt,
            market: run.market.clone(),
            as_of: run.as_of,
            timeout,
            dag_actors: run
                .state
                .dag()
                .jobs
                .iter()
                .map(|j| j.actor.clone())
                .collect(),
        };
        if let Some(actor) = self.actors.get(&def.actor) {
            actor.do_send(Dispatch(msg));
        }
        let id = run_id.to_owned();
        let timer = ctx.run_later(timeout, move |act, ctx| act.timed_out(ctx, &id, j, attempt));
        run.running.insert(j, (attempt, now, timer));
        self.running += 1;
    }

    /// Removes a running attempt if it is the current one; returns its start time.
    fn take_running(
        &mut self,
        ctx: &mut Context<Self>,
        run_id: &str,
        j: usize,
        attempt: u32,
    ) -> Option<DateTime<Utc>> {
        let run = self.runs.get_mut(run_id)?;
        match run.running.get(&j) {
            Some((a, _, _)) if *a == attempt => {
                let (_, started, timer) = run.running.remove(&j)?;
                ctx.cancel_future(timer);
                self.running = self.running.saturating_sub(1);
                Some(started)
            }
            _ => None,
        }
    }

    fn timed_out(&mut self, ctx: &mut Context<Self>, run_id: &str, j: usize, attempt: u32) {
        let Some(started) = self.take_running(ctx, run_id, j, attempt) else {
            return;
        };
        self.events.record(
            "orchestrator",
            "job_timed_out",
            format!("{run_id} job #{j} attempt {attempt} abandoned"),
        );
        self.settle(
            ctx,
            run_id,
            j,
            attempt,
            AttemptOutcome::TimedOut,
            None,
            started,
        );
        self.pump(ctx);
    }

    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        ctx: &mut Context<Self>,
        run_id: &str,
        j: usize,
        attempt: u32,
        outcome: AttemptOutcome,
        config_id: Option<ConfigId>,
        started_at: DateTime<Utc>,
    ) {
        let now = self.clock.now();
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        let job_id = run.state.dag().jobs[j].id.clone();
        let (state, error) = match &outcome {
            AttemptOutcome::Succeeded => ("SUCCEEDED", None),
            AttemptOutcome::Failed { error, .. } => ("FAILED", Some(error.clone())),
            AttemptOutcome::TimedOut => (
                "TIMED_OUT",
                Some("exceeded its timeout; abandoned".to_owned()),
            ),
            AttemptOutcome::Interrupted => ("INTERRUPTED", Some("interrupted".to_owned())),
        };
        match run.state.complete(j, attempt, outcome) {
            Action::IgnoreStale => {
                self.events.record(
                    "orchestrator",
                    "late_result_ignored",
                    format!("{run_id} {job_id} attempt {attempt}"),
                );
                return;
            }
            Action::Settled => {}
            Action::Retry {
                attempt: next,
                delay,
            } => {
                let id = run_id.to_owned();
                ctx.run_later(delay, move |act, ctx| {
                    if let Some(r) = act.runs.get_mut(&id) {
                        r.state.retry_due(j);
                    }
                    act.pump(ctx);
                });
                tracing::info!(run_id, job = %job_id, attempt = next, delay_ms = delay.as_millis() as u64, "retry scheduled");
            }
        }
        self.log.job(JobRunRecord {
            run_id: run_id.to_owned(),
            job_id,
            attempt,
            state: state.to_owned(),
            config_id: config_id.map(|c| c.to_string()),
            started_at,
            finished_at: Some(now),
            error,
        });
    }

    fn on_done(&mut self, ctx: &mut Context<Self>, done: JobDone) {
        let run_id = done.run_id.to_string();
        let Some(j) = self
            .runs
            .get(&run_id)
            .and_then(|r| r.state.job_index(&done.job_id))
        else {
            self.events.record(
                "orchestrator",
                "late_result_ignored",
                format!(
                    "{run_id} {} attempt {} (run not active)",
                    done.job_id, done.attempt
                ),
            );
            return;
        };
        let Some(started) = self.take_running(ctx, &run_id, j, done.attempt) else {
            self.events.record(
                "orchestrator",
                "late_result_ignored",
                format!("{run_id} {} attempt {}", done.job_id, done.attempt),
            );
            return;
        };
        let (outcome, config_id) = match done.outcome {
            Ok(report) => {
                tracing::info!(run_id = %run_id, job = %done.job_id, attempt = done.attempt, summary = %report.summary, "job succeeded");
                (AttemptOutcome::Succeeded, Some(report.config_id))
            }
            Err(f) => {
                tracing::warn!(run_id = %run_id, job = %done.job_id, attempt = done.attempt, error = %f.message(), "job failed");
                (
                    AttemptOutcome::Failed {
                        error: f.message(),
                        retryable: f.retryable(),
                    },
                    None,
                )
            }
        };
        self.settle(ctx, &run_id, j, done.attempt, outcome, config_id, started);
        self.pump(ctx);
    }

    /// Persists and reports every run that reached a final state.
    fn finish_runs(&mut self) {
        let finished: Vec<String> = self
            .runs
            .iter()
            .filter(|(_, r)| r.state.status() != RunStatus::Running)
            .map(|(id, _)| id.clone())
            .collect();
        for run_id in finished {
            let Some(run) = self.runs.remove(&run_id) else {
                continue;
            };
            let status = run.state.status();
            let jobs: Vec<(String, u32, String, Option<String>)> = run
                .state
                .dag()
                .jobs
                .iter()
                .enumerate()
                .map(|(j, def)| {
                    let s = run.state.job(j);
                    let error = match s {
                        JobStatus::Failed { error } | JobStatus::Skipped { error } => {
                            Some(error.clone())
                        }
                        JobStatus::Blocked { reason } => Some(reason.clone()),
                        _ => None,
                    };
                    let attempts = match s {
                        JobStatus::Succeeded { attempt } => *attempt,
                        _ => 0,
                    };
                    (def.id.clone(), attempts, status_name(s).to_owned(), error)
                })
                .collect();
            let error = jobs
                .iter()
                .find_map(|(id, _, _, e)| e.as_ref().map(|e| format!("{id}: {e}")));
            let record = DagRunRecord {
                state: status.as_str().into(),
                finished_at: Some(self.clock.now()),
                error,
                ..run.record
            };
            self.log.run(record);
            self.events.record(
                "orchestrator",
                "run_finished",
                format!("{run_id} {}", status.as_str()),
            );
            let summary = RunSummary {
                run_id: run_id.clone(),
                state: status.as_str().into(),
                jobs,
            };
            self.remember(summary.clone());
            let waiters = self.waiters.remove(&run_id).unwrap_or_default();
            let flushed = self.log.flushed();
            tokio::spawn(async move {
                let _ = flushed.await;
                for w in waiters {
                    let _ = w.send(summary.clone());
                }
            });
        }
        self.check_drained();
    }

    fn remember(&mut self, summary: RunSummary) {
        self.next_seq += 1;
        self.finished
            .insert(summary.run_id.clone(), (self.next_seq, summary));
        if self.finished.len() > REMEMBERED_RUNS
            && let Some(oldest) = self
                .finished
                .iter()
                .min_by_key(|(_, (seq, _))| *seq)
                .map(|(id, _)| id.clone())
        {
            self.finished.remove(&oldest);
        }
    }

    fn check_drained(&mut self) {
        if !self.accepting && self.running == 0 && !self.drained.is_empty() {
            let flushed = self.log.flushed();
            let events = self.events.clone();
            let waiters = std::mem::take(&mut self.drained);
            tokio::spawn(async move {
                let _ = flushed.await;
                events.flush().await;
                for w in waiters {
                    let _ = w.send(());
                }
            });
        }
    }

    /// Records every running attempt as interrupted (drain timeout).
    fn interrupt_all(&mut self, ctx: &mut Context<Self>) {
        let now = self.clock.now();
        let mut records = Vec::new();
        for (run_id, run) in &mut self.runs {
            for (j, (attempt, started, timer)) in std::mem::take(&mut run.running) {
                ctx.cancel_future(timer);
                let mut r = JobRunRecord {
                    run_id: run_id.clone(),
                    job_id: run.state.dag().jobs[j].id.clone(),
                    attempt,
                    state: "INTERRUPTED".into(),
                    config_id: None,
                    started_at: started,
                    finished_at: Some(now),
                    error: None,
                };
                r.error = Some("shutdown drain timed out; resumed at next start".into());
                records.push(r);
            }
        }
        for r in records {
            self.events.record(
                "orchestrator",
                "job_interrupted",
                format!("{} {} attempt {}", r.run_id, r.job_id, r.attempt),
            );
            self.log.job(r);
        }
        self.running = 0;
        self.check_drained();
    }
}

impl Actor for Orchestrator {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Context<Self>) {
        self.events.record(
            "orchestrator",
            "started",
            format!(
                "{} DAGs, {} actors",
                self.dags.dags.len(),
                self.actors.len()
            ),
        );
    }
}

impl Handler<Done> for Orchestrator {
    type Result = ();

    fn handle(&mut self, msg: Done, ctx: &mut Context<Self>) {
        self.on_done(ctx, msg.0);
    }
}

impl Handler<ActorDegraded> for Orchestrator {
    type Result = ();

    fn handle(&mut self, msg: ActorDegraded, ctx: &mut Context<Self>) {
        self.degraded.insert(msg.actor.clone(), msg.reason.clone());
        let run_ids: Vec<String> = self.runs.keys().cloned().collect();
        for run_id in run_ids {
            let running = self
                .runs
                .get_mut(&run_id)
                .map(|r| r.state.fail_actor(&msg.actor, &msg.reason))
                .unwrap_or_default();
            for (j, attempt) in running {
                let Some(run) = self.runs.get_mut(&run_id) else {
                    continue;
                };
                let Some((_, started, timer)) = run.running.remove(&j) else {
                    continue;
                };
                ctx.cancel_future(timer);
                self.running = self.running.saturating_sub(1);
                let job_id = run.state.dag().jobs[j].id.clone();
                self.log.job(JobRunRecord {
                    run_id: run_id.clone(),
                    job_id,
                    attempt,
                    state: "FAILED".into(),
                    config_id: None,
                    started_at: started,
                    finished_at: Some(self.clock.now()),
                    error: Some(msg.reason.clone()),
                });
            }
        }
        self.pump(ctx);
    }
}

impl Handler<Submit> for Orchestrator {
    type Result = ResponseActFuture<Self, Result<Submitted, String>>;

    fn handle(&mut self, msg: Submit, _ctx: &mut Context<Self>) -> Self::Result {
        let checked = (|| {
            if !self.accepting {
                return Err("the daemon is shutting down and accepts no new runs".to_owned());
            }
            let dag = self.dags.get(&msg.dag_id).ok_or_else(|| {
                let ids: Vec<&str> = self.dags.dags.iter().map(|d| d.id.as_str()).collect();
                format!("unknown DAG `{}`; DAGs: {}", msg.dag_id, ids.join(", "))
            })?;
            if !dag.markets.is_empty() && !dag.markets.iter().any(|m| m == msg.market.as_str()) {
                return Err(format!(
                    "DAG `{}` does not run for market {} (markets: {})",
                    dag.id,
                    msg.market,
                    dag.markets.join(", ")
                ));
            }
            if let Some(Err(reason)) = job_gates(dag, &self.calendars, &msg.market, msg.as_of)
                .into_values()
                .find(Result::is_err)
            {
                return Err(reason);
            }
            Ok(Arc::new(dag.clone()))
        })();
        let key = msg.run_key.clone().unwrap_or_else(|| msg.as_of.to_string());
        let base = format!("{}:{}:{key}", msg.dag_id, msg.market);
        if checked.is_ok() && !msg.rerun && self.runs.contains_key(&base) {
            return Box::pin(actix::fut::ready(Ok(Submitted {
                run_id: base,
                finished: None,
            })));
        }
        let db = self.db.clone();
        let now = self.clock.now();
        let rerun = msg.rerun;
        let lookup = async move { find_run(&db, checked?, base, rerun).await };
        let (market, as_of, trigger) = (msg.market.clone(), msg.as_of, msg.trigger.clone());
        Box::pin(lookup.into_actor(self).map(move |res, act, ctx| {
            let (dag, run_id, existing, attempts) = res?;
            if let Some(r) = &existing
                && r.state != "RUNNING"
                && r.state != "PENDING"
            {
                return Ok(Submitted {
                    run_id,
                    finished: Some(r.state.clone()),
                });
            }
            if act.runs.contains_key(&run_id) {
                return Ok(Submitted {
                    run_id,
                    finished: None,
                });
            }
            let record = existing.unwrap_or(DagRunRecord {
                run_id: run_id.clone(),
                dag_id: dag.id.clone(),
                market_id: Some(market.to_string()),
                as_of_date: Some(as_of),
                state: "RUNNING".into(),
                trigger,
                created_at: now,
                finished_at: None,
                error: None,
            });
            let (state, interrupted) = RunState::resume(run_id.clone(), dag, &attempts);
            act.events.record(
                "orchestrator",
                "run_activated",
                format!("{run_id} ({})", record.trigger),
            );
            act.activate(ctx, state, record, interrupted);
            Ok(Submitted {
                run_id,
                finished: None,
            })
        }))
    }
}

/// A run found (or to be created) for a submit: its DAG, id, stored record and attempts.
type FoundRun = (
    Arc<prometheus::dag::DagDef>,
    String,
    Option<DagRunRecord>,
    Vec<(String, u32, String)>,
);

/// The run a submit refers to: `base` when new or unfinished (to resume), the finished one
/// unless `rerun`, else the first free `base:rN`.
async fn find_run(
    db: &RuntimeDb,
    dag: Arc<prometheus::dag::DagDef>,
    base: String,
    rerun: bool,
) -> Result<FoundRun, String> {
    let mut run_id = base.clone();
    let mut k = 1;
    loop {
        match db.dag_run(&run_id).await.map_err(|e| e.to_string())? {
            None => return Ok((dag, run_id, None, Vec::new())),
            Some(r) if r.state == "RUNNING" || r.state == "PENDING" => {
                let attempts = db.job_runs(&run_id).await.map_err(|e| e.to_string())?;
                let attempts = attempts
                    .into_iter()
                    .map(|a| (a.job_id, a.attempt, a.state))
                    .collect();
                return Ok((dag, run_id, Some(r), attempts));
            }
            Some(r) if !rerun => return Ok((dag, run_id, Some(r), Vec::new())),
            Some(_) => {
                k += 1;
                run_id = format!("{base}:r{k}");
            }
        }
    }
}

impl Handler<Wake> for Orchestrator {
    type Result = ();

    fn handle(&mut self, _msg: Wake, ctx: &mut Context<Self>) {
        self.pump(ctx);
    }
}

impl Handler<Resume> for Orchestrator {
    type Result = ResponseActFuture<Self, Result<Vec<String>, String>>;

    fn handle(&mut self, _msg: Resume, _ctx: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        let load = async move {
            let mut out = Vec::new();
            for r in db.unfinished_dag_runs().await.map_err(|e| e.to_string())? {
                let attempts = db.job_runs(&r.run_id).await.map_err(|e| e.to_string())?;
                out.push((
                    r,
                    attempts
                        .into_iter()
                        .map(|a| (a.job_id, a.attempt, a.state))
                        .collect::<Vec<_>>(),
                ));
            }
            Ok::<_, String>(out)
        };
        Box::pin(load.into_actor(self).map(|res, act, ctx| {
            let mut resumed = Vec::new();
            for (record, attempts) in res? {
                if act.runs.contains_key(&record.run_id) {
                    continue;
                }
                let Some(dag) = act.dags.get(&record.dag_id).cloned() else {
                    act.events.record(
                        "orchestrator",
                        "resume_skipped",
                        format!(
                            "{}: DAG `{}` no longer configured",
                            record.run_id, record.dag_id
                        ),
                    );
                    continue;
                };
                let (state, interrupted) =
                    RunState::resume(record.run_id.clone(), Arc::new(dag), &attempts);
                act.events.record(
                    "orchestrator",
                    "run_resumed",
                    format!(
                        "{} ({} interrupted attempts)",
                        record.run_id,
                        interrupted.len()
                    ),
                );
                resumed.push(record.run_id.clone());
                act.activate(ctx, state, record, interrupted);
            }
            Ok(resumed)
        }))
    }
}

impl Handler<WaitRun> for Orchestrator {
    type Result = MessageResult<WaitRun>;

    fn handle(&mut self, msg: WaitRun, _ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if self.runs.contains_key(&msg.0) {
            self.waiters.entry(msg.0).or_default().push(tx);
        } else if let Some((_, summary)) = self.finished.get(&msg.0) {
            // Finished already; its record was flushed before it was remembered here.
            let summary = summary.clone();
            let flushed = self.log.flushed();
            tokio::spawn(async move {
                let _ = flushed.await;
                let _ = tx.send(summary);
            });
        } else {
            return MessageResult(None);
        }
        MessageResult(Some(rx))
    }
}

impl Handler<Drain> for Orchestrator {
    type Result = MessageResult<Drain>;

    fn handle(&mut self, msg: Drain, ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if self.accepting {
            self.events.record(
                "orchestrator",
                "draining",
                format!("{} attempts running", self.running),
            );
        }
        self.accepting = false;
        self.drained.push(tx);
        if self.running > 0 {
            ctx.run_later(msg.timeout, |act, ctx| {
                if act.running > 0 {
                    act.interrupt_all(ctx);
                }
            });
        }
        self.check_drained();
        MessageResult(rx)
    }
}

impl Handler<Snapshot> for Orchestrator {
    type Result = MessageResult<Snapshot>;

    fn handle(&mut self, _msg: Snapshot, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(OrchestratorStatus {
            accepting: self.accepting,
            running_jobs: self.running,
            active_runs: self.runs.keys().cloned().collect(),
            degraded: self.degraded.clone(),
        })
    }
}

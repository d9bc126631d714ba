//! The DAG orchestrator actor: activates runs, dispatches ready jobs to their actors by
//! priority tier within a concurrency limit, enforces timeouts, retries failed attempts by
//! their error class, reacts to degraded (and reset) actors, records every run and attempt,
//! resumes unfinished runs after a crash and drains on shutdown. What to do is decided by
//! [`prometheus::dag::RunState`]; this actor only carries it out.
//!
//! - [`dispatch`] — which ready job goes to which actor next (gates, date order, tiers).
//! - [`retry`] — how an attempt's end is settled: success, a retry after a backoff, or a
//!   final failure, by the failure's class; timeouts.
//! - [`run_record`] — the durable record of runs and attempts, and finishing runs.
//! - [`messages`] — what the orchestrator is asked and answers.

mod dispatch;
pub mod messages;
mod retry;
pub mod run_record;

pub use dispatch::{Calendars, job_gates};
pub use messages::{
    ActorRecovered, Drain, JobSummary, OrchestratorStatus, Resume, RunSummary, Snapshot, Submit,
    Submitted, WaitRun, Wake,
};

use crate::spine::job_actor::{ActorDegraded, Dispatch, Done};
use crate::spine::supervision::EventRecorder;
use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};
use dispatch::Gate;
use prometheus::dag::{DagDef, DagsConfig, RunState, StoredAttempt};
use prometheus::domain::{Clock, ConfigId, EventKind, MarketId, RunStatus};
use prometheus::store::{DagRunRecord, RunStore, RuntimeDb};
use run_record::RunLog;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// One run the orchestrator is carrying out.
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
    /// The instant a simulated run stands at (see [`Submit::stands_at`]).
    stands_at: Option<DateTime<Utc>>,
}

impl ActiveRun {
    /// The time of this run's records: the instant it stands at, or `clock`'s now.
    fn now(&self, clock: &dyn Clock) -> DateTime<Utc> {
        self.stands_at.unwrap_or_else(|| clock.now())
    }
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
            log: RunLog::start(db.clone(), events.telemetry()),
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
}

impl Actor for Orchestrator {
    type Context = Context<Self>;

    fn started(&mut self, _ctx: &mut Context<Self>) {
        self.events.record(
            "orchestrator",
            EventKind::Started,
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
        self.fail_actor_jobs(ctx, &msg.actor, &msg.reason);
        self.pump(ctx);
    }
}

impl Handler<ActorRecovered> for Orchestrator {
    type Result = ();

    fn handle(&mut self, msg: ActorRecovered, ctx: &mut Context<Self>) {
        self.degraded.remove(&msg.actor);
        self.pump(ctx);
    }
}

impl Handler<Submit> for Orchestrator {
    type Result = ResponseActFuture<Self, Result<Submitted, String>>;

    fn handle(&mut self, msg: Submit, _ctx: &mut Context<Self>) -> Self::Result {
        let checked = self.check_submit(&msg);
        let key = msg.run_key.clone().unwrap_or_else(|| msg.as_of.to_string());
        let base = format!("{}:{}:{key}", msg.dag_id, msg.market);
        if checked.is_ok() && !msg.rerun && self.runs.contains_key(&base) {
            return Box::pin(actix::fut::ready(Ok(Submitted {
                run_id: base,
                finished: None,
            })));
        }
        // A run that finished in this process is answered from memory: its record may not
        // be written yet (the run log waits out a database outage), and reading the
        // database then would start it again — after later dates have run, which a run
        // must never see (a pipelined backfill fires a chain again whole after an error).
        if checked.is_ok()
            && !msg.rerun
            && let Some((_, done)) = self.finished.get(&base)
        {
            return Box::pin(actix::fut::ready(Ok(Submitted {
                run_id: base,
                finished: Some(done.state),
            })));
        }
        let db = self.db.clone();
        let now = self.clock.now();
        let rerun = msg.rerun;
        let lookup = async move { find_run(&db, checked?, base, rerun).await };
        let (market, as_of, trigger) = (msg.market.clone(), msg.as_of, msg.trigger.clone());
        let stands_at = msg.stands_at;
        Box::pin(lookup.into_actor(self).map(move |res, act, ctx| {
            let (dag, run_id, existing, attempts) = res?;
            if let Some(r) = &existing
                && r.state.is_final()
            {
                return Ok(Submitted {
                    run_id,
                    finished: Some(r.state),
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
                state: RunStatus::Running,
                trigger,
                created_at: stands_at.unwrap_or(now),
                finished_at: None,
                error: None,
            });
            let (state, interrupted) = RunState::resume(run_id.clone(), dag, &attempts);
            act.events.record(
                "orchestrator",
                EventKind::RunActivated,
                format!("{run_id} ({})", record.trigger),
            );
            act.activate(ctx, state, record, interrupted, stands_at);
            Ok(Submitted {
                run_id,
                finished: None,
            })
        }))
    }
}

impl Orchestrator {
    /// The DAG a submit names, if it may run for that market and date.
    fn check_submit(&self, msg: &Submit) -> Result<Arc<DagDef>, String> {
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
    }
}

/// A run found (or to be created) for a submit: its DAG, id, stored record and attempts.
type FoundRun = (
    Arc<DagDef>,
    String,
    Option<DagRunRecord>,
    Vec<StoredAttempt>,
);

/// The attempts of a stored run, as [`RunState::resume`] takes them.
async fn stored_attempts(db: &RuntimeDb, run_id: &str) -> Result<Vec<StoredAttempt>, String> {
    Ok(db
        .job_runs(run_id)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|a| StoredAttempt {
            job_id: a.job_id,
            attempt: a.attempt,
            state: a.state,
            class: a.error_class,
            config_id: a.config_id.map(ConfigId::new),
        })
        .collect())
}

/// The run a submit refers to: `base` when new or unfinished (to resume), the finished one
/// unless `rerun`, else the first free `base:rN`.
async fn find_run(
    db: &RuntimeDb,
    dag: Arc<DagDef>,
    base: String,
    rerun: bool,
) -> Result<FoundRun, String> {
    let mut run_id = base.clone();
    let mut k = 1;
    loop {
        match db.dag_run(&run_id).await.map_err(|e| e.to_string())? {
            None => return Ok((dag, run_id, None, Vec::new())),
            Some(r) if !r.state.is_final() => {
                let attempts = stored_attempts(db, &run_id).await?;
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
                let attempts = stored_attempts(&db, &r.run_id).await?;
                out.push((r, attempts));
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
                        EventKind::ResumeSkipped,
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
                    EventKind::RunResumed,
                    format!(
                        "{} ({} interrupted attempts)",
                        record.run_id,
                        interrupted.len()
                    ),
                );
                resumed.push(record.run_id.clone());
                act.activate(ctx, state, record, interrupted, None);
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
                EventKind::Draining,
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

//! Dispatch: which ready job goes to which actor next. A job is ready when its
//! dependencies are done, its market has entered the state it requires for the run's date
//! (its gate), and no earlier date of the same DAG still holds it back; ready jobs go out
//! best tier first, oldest run first, within the concurrency limit, each with the configs
//! its run's earlier jobs succeeded with.

use super::{ActiveRun, Orchestrator};
use crate::spine::job_actor::Dispatch;
use actix::prelude::*;
use chrono::{DateTime, NaiveDate, Utc};
use prometheus::calendar::ExchangeCalendar;
use prometheus::dag::{AttemptOutcome, RunState};
use prometheus::domain::{AttemptState, ErrorClass, MarketId, RunId, RunJob, RunStatus};
use prometheus::store::{DagRunRecord, JobRunRecord};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The calendars of the configured markets, by market id: what required-state gates use.
pub type Calendars = BTreeMap<String, Arc<ExchangeCalendar>>;

/// When a gated job may start: the instant its market enters the required state for the
/// run's date, or why it never can (the date is not a session, the market has no calendar).
pub(super) type Gate = Result<DateTime<Utc>, String>;

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

impl Orchestrator {
    pub(super) fn activate(
        &mut self,
        ctx: &mut Context<Self>,
        state: RunState,
        record: DagRunRecord,
        interrupted: Vec<(usize, u32)>,
        stands_at: Option<DateTime<Utc>>,
    ) {
        let run_id = record.run_id.clone();
        let market = MarketId::new(record.market_id.clone().unwrap_or_default());
        let as_of = record.as_of_date.unwrap_or_default();
        let now = stands_at.unwrap_or_else(|| self.clock.now());
        for (j, attempt) in interrupted {
            let def = &state.dag().jobs[j];
            let mut r = attempt_record(
                &run_id,
                &def.id,
                &def.actor,
                attempt,
                AttemptState::Interrupted,
                now,
            );
            r.finished_at = Some(now);
            r.error = Some("the process stopped while the attempt ran; resumed".into());
            // The started_at of the original row is kept by the upsert.
            self.log.job(r);
        }
        let record = DagRunRecord {
            state: RunStatus::Running,
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
                stands_at,
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
    pub(super) fn earlier_date_pending(&self, run: &ActiveRun, j: usize) -> bool {
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
    pub(super) fn pump(&mut self, ctx: &mut Context<Self>) {
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
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        let now = run.now(self.clock.as_ref());
        let attempt = run.state.start(j);
        let def = run.state.dag().jobs[j].clone();
        self.log.job(attempt_record(
            run_id,
            &def.id,
            &def.actor,
            attempt,
            AttemptState::Running,
            now,
        ));
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
                    class: ErrorClass::Permanent,
                },
                now,
            );
            return;
        }
        let timeout = Duration::from_secs_f64(def.timeout_secs);
        let dag = run.state.dag();
        let msg = RunJob {
            run_id: RunId::new(run_id),
            dag_id: dag.id.clone(),
            job_id: def.id.clone(),
            attempt,
            market: run.market.clone(),
            as_of: run.as_of,
            timeout,
            dag_actors: dag.jobs.iter().map(|j| j.actor.clone()).collect(),
            upstream: run.state.upstream_configs(),
            stands_at: run.stands_at,
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
    pub(super) fn take_running(
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
}

/// A new row of `job_runs`: attempt `attempt` of `job_id` (run by `actor`) in `state`.
pub(super) fn attempt_record(
    run_id: &str,
    job_id: &str,
    actor: &str,
    attempt: u32,
    state: AttemptState,
    started_at: DateTime<Utc>,
) -> JobRunRecord {
    JobRunRecord {
        run_id: run_id.to_owned(),
        job_id: job_id.to_owned(),
        attempt,
        actor: actor.to_owned(),
        state,
        error_class: None,
        config_id: None,
        started_at,
        finished_at: None,
        error: None,
    }
}

//! The scheduler actor: follows a clock (the system clock, or a simulated one that jumps
//! from event to event for backfills and tests), works out when each market enters the
//! states DAGs are bound to — and when cron schedules of global DAGs fire — in time order
//! (follow the sun: Tokyo, London, New York), and activates those DAGs through the
//! orchestrator. Every activation is recorded before the watermark moves past it, so a
//! restart never fires one twice; activations missed while the daemon was down are handled
//! by each DAG's catch-up policy.
//!
//! [`plan`] computes what is due (pure); [`clock`] holds the clocks; this module is the actor.

mod clock;
mod plan;

pub use clock::{SchedulerClock, SimulatedClock};
pub use plan::{Binding, PlannedActivation, bindings, calendars, plan, start_of_day};

use crate::orchestrator::{Orchestrator, Submit, WaitRun, Wake};
use crate::supervision::EventRecorder;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use prometheus::dag::CatchUp;
use prometheus::domain::MarketId;
use prometheus::store::RunStore;
use prometheus::store::{Activation, RuntimeDb, ScheduleStore};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// How a scheduler runs.
#[derive(Clone)]
pub struct SchedulerOptions {
    /// Its id in `scheduler_state` (`daemon`, `backfill`…).
    pub scheduler_id: String,
    /// The clock it follows.
    pub clock: SchedulerClock,
    /// Where to start when no watermark is stored (default: now).
    pub start: Option<DateTime<Utc>>,
    /// Stop after this instant (backfills, tests).
    pub until: Option<DateTime<Utc>>,
    /// Wait for each activated run to finish before moving on (backfills).
    pub wait_for_runs: bool,
    /// Submit even activations already recorded (resumes their unfinished runs; backfills).
    pub resubmit_recorded: bool,
    /// Apply each DAG's catch-up policy on the first tick to what fell due between the
    /// stored watermark and now (the daemon after downtime; not backfills, which run all).
    pub catch_up: bool,
    /// Called after each activation is handled (progress bars).
    pub on_activation: Option<ActivationObserver>,
}

/// A callback told about each handled activation.
pub type ActivationObserver = Arc<dyn Fn(&PlannedActivation) + Send + Sync>;

/// What a scheduler has done so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerReport {
    /// Activations fired (new runs or resumed ones).
    pub fired: usize,
    /// Activations skipped by catch-up policy.
    pub skipped: usize,
    /// Activations found already recorded (their runs finished).
    pub already_recorded: usize,
    /// Activations found recorded whose runs had not finished, and were resumed.
    pub resumed: usize,
    /// Runs that did not succeed (when waiting for runs).
    pub failed_runs: Vec<String>,
    /// Activations the orchestrator refused (with the reason).
    pub refused: Vec<String>,
}

/// The scheduler actor.
pub struct Scheduler {
    bindings: Arc<Vec<Binding>>,
    orchestrator: Addr<Orchestrator>,
    db: RuntimeDb,
    events: EventRecorder,
    opts: SchedulerOptions,
    watermark: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    report: SchedulerReport,
    finished: bool,
    waiters: Vec<oneshot::Sender<SchedulerReport>>,
}

/// Internal: evaluate what is due now.
struct Tick;

impl Message for Tick {
    type Result = ();
}

/// Resolves with the report when the scheduler passes `until`.
pub struct WhenFinished;

impl Message for WhenFinished {
    type Result = oneshot::Receiver<SchedulerReport>;
}

impl Scheduler {
    /// A scheduler over `bindings`.
    pub fn new(
        bindings: Vec<Binding>,
        orchestrator: Addr<Orchestrator>,
        db: RuntimeDb,
        events: EventRecorder,
        opts: SchedulerOptions,
    ) -> Self {
        Self {
            bindings: Arc::new(bindings),
            orchestrator,
            db,
            events,
            opts,
            watermark: None,
            started_at: None,
            report: SchedulerReport::default(),
            finished: false,
            waiters: Vec::new(),
        }
    }
}

/// The work of one tick, done outside the actor: fire what is due in `(from, now]`.
#[allow(clippy::too_many_arguments)]
async fn fire_due(
    bindings: Arc<Vec<Binding>>,
    orchestrator: Addr<Orchestrator>,
    db: RuntimeDb,
    events: EventRecorder,
    opts: SchedulerOptions,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    missed_before: Option<DateTime<Utc>>,
) -> Result<SchedulerReport, String> {
    let mut due = plan(&bindings, from, now);
    // Catch-up: of the activations missed while down, keep what each DAG's policy allows.
    if let Some(cutoff) = missed_before {
        let mut latest: BTreeMap<(usize, MarketId), DateTime<Utc>> = BTreeMap::new();
        for d in due.iter().filter(|d| d.at < cutoff) {
            latest.insert((d.binding, d.market.clone()), d.at);
        }
        for d in &mut due {
            if d.at >= cutoff {
                continue;
            }
            let keep = match bindings[d.binding].catch_up {
                CatchUp::All => true,
                CatchUp::Latest => latest.get(&(d.binding, d.market.clone())) == Some(&d.at),
                CatchUp::None => false,
            };
            d.skip = !keep;
        }
    }
    let mut report = SchedulerReport::default();
    for d in due {
        let recorded = db
            .activation_exists(&d.activation_id)
            .await
            .map_err(|e| e.to_string())?;
        if recorded && !opts.resubmit_recorded {
            report.already_recorded += 1;
            continue;
        }
        let mut activation = Activation {
            activation_id: d.activation_id.clone(),
            scheduler_id: opts.scheduler_id.clone(),
            dag_id: d.dag_id.clone(),
            market_id: d.market.to_string(),
            as_of_date: d.as_of,
            trigger: d.trigger.clone(),
            due_at: d.at,
            fired_at: opts.clock.now(),
            outcome: "fired".into(),
            run_id: None,
        };
        if d.skip {
            activation.outcome = "skipped".into();
            if db
                .record_activation(&activation)
                .await
                .map_err(|e| e.to_string())?
            {
                report.skipped += 1;
            }
            continue;
        }
        if let Some(up) = &d.after_run {
            let state = upstream_state(&orchestrator, &db, up).await?;
            // DEGRADED: a job whose failure policy lets the run go on failed; its outputs
            // are usable, so the chain goes on too.
            if state != "SUCCEEDED" && state != "DEGRADED" {
                activation.outcome = "refused".into();
                report
                    .refused
                    .push(format!("{}: upstream run {up} is {state}", d.activation_id));
                if !recorded {
                    db.record_activation(&activation)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                continue;
            }
        }
        let submit = Submit {
            dag_id: d.dag_id.clone(),
            market: d.market.clone(),
            as_of: d.as_of,
            trigger: "schedule".into(),
            rerun: false,
            run_key: d.run_key.clone(),
        };
        match orchestrator.send(submit).await.map_err(|e| e.to_string())? {
            Ok(s) => {
                activation.run_id = Some(s.run_id.clone());
                let (count, event) = match (recorded, &s.finished) {
                    (false, _) => (&mut report.fired, "activated"),
                    (true, None) => (&mut report.resumed, "resumed"),
                    (true, Some(_)) => (&mut report.already_recorded, ""),
                };
                *count += 1;
                if !event.is_empty() {
                    events.record(
                        "scheduler",
                        event,
                        format!("{} -> {}", d.activation_id, s.run_id),
                    );
                }
                if opts.wait_for_runs {
                    let state = match (
                        &s.finished,
                        orchestrator
                            .send(WaitRun(s.run_id.clone()))
                            .await
                            .map_err(|e| e.to_string())?,
                    ) {
                        (Some(state), _) => state.clone(),
                        (None, Some(rx)) => rx
                            .await
                            .map(|r| r.state)
                            .unwrap_or_else(|_| "INTERRUPTED".into()),
                        (None, None) => "UNKNOWN".into(),
                    };
                    if state != "SUCCEEDED" {
                        report.failed_runs.push(format!("{} {state}", s.run_id));
                    }
                }
            }
            Err(reason) => {
                activation.outcome = "refused".into();
                report
                    .refused
                    .push(format!("{}: {reason}", d.activation_id));
            }
        }
        if let Some(observe) = &opts.on_activation {
            observe(&d);
        }
        // Recorded after the submit: a crash in between re-fires the activation on restart,
        // which finds the same deterministic run id and resumes it instead of duplicating.
        if !recorded {
            db.record_activation(&activation)
                .await
                .map_err(|e| e.to_string())?;
        }
    }
    db.set_watermark(&opts.scheduler_id, now)
        .await
        .map_err(|e| e.to_string())?;
    Ok(report)
}

/// The final state of `run_id`, waiting for it when it is still running; `NOT RUN` when
/// there is no such run.
async fn upstream_state(
    orchestrator: &Addr<Orchestrator>,
    db: &RuntimeDb,
    run_id: &str,
) -> Result<String, String> {
    if let Some(rx) = orchestrator
        .send(WaitRun(run_id.to_owned()))
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(rx.await.map_or_else(|_| "INTERRUPTED".into(), |r| r.state));
    }
    Ok(db
        .dag_run(run_id)
        .await
        .map_err(|e| e.to_string())?
        .map_or_else(|| "NOT RUN".into(), |r| r.state))
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let mode = match self.opts.clock {
            SchedulerClock::Real(_) => "real clock",
            SchedulerClock::Simulated(_) => "simulated clock",
        };
        self.events.record(
            "scheduler",
            "started",
            format!(
                "{} ({mode}), {} bindings",
                self.opts.scheduler_id,
                self.bindings.len()
            ),
        );
        ctx.notify(Tick);
    }
}

impl Scheduler {
    fn finish(&mut self) {
        self.finished = true;
        for w in self.waiters.drain(..) {
            let _ = w.send(self.report.clone());
        }
    }

    fn merge(&mut self, r: SchedulerReport) {
        self.report.fired += r.fired;
        self.report.skipped += r.skipped;
        self.report.already_recorded += r.already_recorded;
        self.report.resumed += r.resumed;
        self.report.failed_runs.extend(r.failed_runs);
        for refused in r.refused {
            self.events
                .record("scheduler", "activation_refused", refused.clone());
            self.report.refused.push(refused);
        }
    }

    /// Plans the next tick after handling everything due up to `now`: at the next
    /// activation, or at `until` (so the watermark reaches the end of the range), then stops.
    fn schedule_next(&mut self, ctx: &mut Context<Self>, now: DateTime<Utc>) {
        let until = self.opts.until;
        if until.is_some_and(|u| now >= u) {
            self.finish();
            return;
        }
        let next = self.bindings.iter().filter_map(|b| b.next_after(now)).min();
        let target = match (next, until) {
            (None, None) => {
                self.finish();
                return;
            }
            (Some(t), Some(u)) => t.min(u),
            (None, Some(u)) => u,
            (Some(t), None) => t,
        };
        match &self.opts.clock {
            SchedulerClock::Simulated(c) => {
                c.advance_to(target);
                // Jobs waiting for a market state re-check against the moved clock.
                self.orchestrator.do_send(Wake);
                ctx.notify(Tick);
            }
            SchedulerClock::Real(_) => {
                // Wake at the event, or within a minute to notice clock jumps.
                let wait = (target - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .min(Duration::from_secs(60));
                ctx.notify_later(Tick, wait);
            }
        }
    }
}

impl Handler<Tick> for Scheduler {
    type Result = ();

    fn handle(&mut self, _msg: Tick, ctx: &mut Context<Self>) {
        if self.finished {
            return;
        }
        let now = self.opts.clock.now();
        let db = self.db.clone();
        let id = self.opts.scheduler_id.clone();
        let start = self.opts.start;
        let known = self.watermark;
        let first = self.started_at.is_none();
        if first {
            self.started_at = Some(now);
        }
        let catch_up = self.opts.catch_up;
        let (bindings, orchestrator, opts, events) = (
            Arc::clone(&self.bindings),
            self.orchestrator.clone(),
            self.opts.clone(),
            self.events.clone(),
        );
        let work = async move {
            let from = match known {
                Some(w) => w,
                None => db
                    .watermark(&id)
                    .await
                    .map_err(|e| e.to_string())?
                    .or(start)
                    .unwrap_or(now),
            };
            // On the first tick, everything due before now was missed while it was down.
            let missed_before = (first && catch_up).then_some(now);
            let report = fire_due(
                bindings,
                orchestrator,
                db,
                events,
                opts,
                from,
                now.max(from),
                missed_before,
            )
            .await?;
            Ok::<_, String>((report, now.max(from)))
        };
        ctx.wait(work.into_actor(self).map(|res, act, ctx| match res {
            Ok((report, now)) => {
                act.merge(report);
                act.watermark = Some(now);
                act.schedule_next(ctx, now);
            }
            Err(e) => {
                act.events.record("scheduler", "error", e);
                ctx.notify_later(Tick, Duration::from_secs(5));
            }
        }));
    }
}

/// Stops the scheduler (daemon shutdown): nothing more is activated; what was fired stays
/// recorded, and the watermark says where a restart picks up.
pub struct Stop;

impl Message for Stop {
    type Result = ();
}

impl Handler<Stop> for Scheduler {
    type Result = ();

    fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
        self.events
            .record("scheduler", "stopped", self.opts.scheduler_id.clone());
        self.finish();
        ctx.stop();
    }
}

impl Handler<WhenFinished> for Scheduler {
    type Result = MessageResult<WhenFinished>;

    fn handle(&mut self, _msg: WhenFinished, _ctx: &mut Context<Self>) -> Self::Result {
        let (tx, rx) = oneshot::channel();
        if self.finished {
            let _ = tx.send(self.report.clone());
        } else {
            self.waiters.push(tx);
        }
        MessageResult(rx)
    }
}

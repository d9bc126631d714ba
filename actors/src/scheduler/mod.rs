//! The scheduler actor: follows a clock (the system clock, or a simulated one that jumps
//! from event to event for backfills and tests), works out when each market enters the
//! states DAGs are bound to — and when cron schedules of global DAGs fire — in time order
//! (follow the sun: Tokyo, London, New York), and activates those DAGs through the
//! orchestrator. Every activation is recorded before the watermark moves past it, so a
//! restart never fires one twice; activations missed while the daemon was down are handled
//! by each DAG's catch-up policy.
//!
//! The actor never waits on its own mailbox: a tick's work runs beside it, and an `after`
//! activation that must wait for the run it follows (in the daemon, where runs are not
//! awaited) is handed to a waiter of its own, so a stop, and other markets' activations,
//! go on while a chain runs. The watermark stays below any activation still waiting, so a
//! restart plans it again.
//!
//! [`plan`] computes what is due (pure); [`clock`] holds the clocks; [`fire`] submits and
//! records activations; this module is the actor.

mod clock;
mod fire;
mod plan;
mod turns;

pub use clock::{SchedulerClock, SimulatedClock};
pub use plan::{Binding, PlannedActivation, bindings, calendars, plan, start_of_day};

use crate::orchestrator::{Orchestrator, Wake};
use crate::spine::supervision::EventRecorder;
use actix::prelude::*;
use chrono::{DateTime, TimeDelta, Utc};
use fire::Firing;
use prometheus::dag::CatchUp;
use prometheus::domain::{EventKind, MarketId};
use prometheus::store::{RuntimeDb, ScheduleStore};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use turns::{SubmissionTurns, Turn};

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
    /// With `wait_for_runs` on a simulated clock: how many instants' activations may be in
    /// flight at once. 1 fires one instant's chain after another; more lets the next
    /// dates' first DAGs (ingest, features, profiles) run beside an earlier date's engines
    /// — the orchestrator still runs each DAG's dates in order, and each run stands at its
    /// own activation instant, so the outputs are those of one date at a time.
    pub dates_in_flight: usize,
    /// Submit even activations already recorded (resumes their unfinished runs; backfills).
    pub resubmit_recorded: bool,
    /// Apply each DAG's catch-up policy on the first tick to what fell due between the
    /// stored watermark and now (the daemon after downtime; not backfills, which run all).
    pub catch_up: bool,
    /// Called after each activation is handled (progress bars).
    pub on_activation: Option<ActivationObserver>,
}

impl SchedulerOptions {
    /// Whether whole instants are fired as chains beside the scheduler, several in flight
    /// (backfills with `dates_in_flight` above 1).
    pub(super) fn pipelined(&self) -> bool {
        self.wait_for_runs
            && self.dates_in_flight > 1
            && matches!(self.clock, SchedulerClock::Simulated(_))
    }
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
    /// Activations that hit an error and are retried by a later tick.
    pub errors: usize,
}

impl SchedulerReport {
    /// Adds `other`'s counts and lists to this report.
    pub fn merge(&mut self, other: SchedulerReport) {
        self.fired += other.fired;
        self.skipped += other.skipped;
        self.already_recorded += other.already_recorded;
        self.resumed += other.resumed;
        self.errors += other.errors;
        self.failed_runs.extend(other.failed_runs);
        self.refused.extend(other.refused);
    }
}

/// How long a pipelined chain that met an error (a database away) waits before it is fired
/// again — the pause a failed tick takes too.
const CHAIN_RETRY: Duration = Duration::from_secs(5);

/// The scheduler actor.
pub struct Scheduler {
    bindings: Arc<Vec<Binding>>,
    firing: Firing,
    watermark: Option<DateTime<Utc>>,
    /// Everything due up to here was planned by an earlier tick (handled, or waiting).
    planned_through: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    report: SchedulerReport,
    /// Past `until` (or stopped): waiting for in-flight work before reporting.
    ending: bool,
    finished: bool,
    waiters: Vec<oneshot::Sender<SchedulerReport>>,
    /// The tick whose work is in flight.
    ticking: Option<SpawnHandle>,
    /// A tick was asked for while one was in flight.
    tick_again: bool,
    /// Chains of `after` activations waiting for the runs they follow, by the id of their
    /// first activation: its due instant and every activation id of the chain.
    chains: BTreeMap<String, (DateTime<Utc>, Vec<String>)>,
    /// Pipelined: the instant the next tick waits to plan after, while `dates_in_flight`
    /// chains run.
    held_after: Option<DateTime<Utc>>,
    /// Pipelined: the watermark stays where the ticks left it, below the chains that ran
    /// — a chain could not reach the orchestrator (nothing more is fired; the same command
    /// resumes there), or the scheduler was stopped.
    keep_watermark: bool,
    /// Pipelined: the final watermark is being written.
    closing: bool,
    /// Keeps each DAG's dates in order of submission across the chains in flight.
    turns: SubmissionTurns,
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
            firing: Firing {
                orchestrator,
                db,
                events,
                opts,
            },
            watermark: None,
            planned_through: None,
            started_at: None,
            report: SchedulerReport::default(),
            ending: false,
            finished: false,
            waiters: Vec::new(),
            ticking: None,
            tick_again: false,
            chains: BTreeMap::new(),
            held_after: None,
            keep_watermark: false,
            closing: false,
            turns: SubmissionTurns::default(),
        }
    }
}

/// `after` activations of one market and instant, in firing order, each with whether it
/// was already recorded.
type Chain = Vec<(PlannedActivation, bool)>;

/// What one tick did, and the chains it leaves to waiters.
struct TickOutcome {
    report: SchedulerReport,
    /// The instant it planned through.
    now: DateTime<Utc>,
    /// The watermark it stored: `now`, or just before the earliest chain still waiting.
    watermark: DateTime<Utc>,
    /// `after` chains to fire beside the scheduler: (activation, already recorded).
    chains: Vec<Chain>,
}

/// What a tick knows of the actor's state.
struct TickInput {
    from: DateTime<Utc>,
    now: DateTime<Utc>,
    missed_before: Option<DateTime<Utc>>,
    planned_through: Option<DateTime<Utc>>,
    waiting: BTreeSet<String>,
    /// The due instant of the earliest chain already waiting.
    held: Option<DateTime<Utc>>,
}

/// The work of one tick, done outside the actor: handle what is due in `(from, now]`.
/// `after` activations wait for the runs they follow inline when runs are awaited
/// (backfills: one date after another), else they are returned as chains for waiters.
async fn fire_due(
    bindings: Arc<Vec<Binding>>,
    firing: Firing,
    input: TickInput,
) -> Result<TickOutcome, String> {
    let mut due = plan(&bindings, input.from, input.now);
    // Catch-up: of the activations missed while down, keep what each DAG's policy allows.
    if let Some(cutoff) = input.missed_before {
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
    let mut chains: BTreeMap<(MarketId, DateTime<Utc>), Chain> = BTreeMap::new();
    let opts = &firing.opts;
    for d in due {
        if input.waiting.contains(&d.activation_id) {
            continue;
        }
        let seen = input.planned_through.is_some_and(|t| d.at <= t);
        // Pipelined ticks plan again from a watermark held below the chains in flight:
        // what an earlier tick planned and is no longer waiting was fired and recorded
        // by its chain (a chain that met an error keeps its place and is fired again).
        if seen && opts.pipelined() {
            continue;
        }
        let recorded = firing
            .db
            .activation_exists(&d.activation_id)
            .await
            .map_err(|e| e.to_string())?;
        if recorded && !opts.resubmit_recorded {
            if !seen {
                report.already_recorded += 1;
            }
            continue;
        }
        if d.skip {
            report.merge(firing.skip(&d).await?);
            continue;
        }
        if opts.pipelined() || (d.after_run.is_some() && !opts.wait_for_runs) {
            chains
                .entry((d.market.clone(), d.at))
                .or_default()
                .push((d, recorded));
            continue;
        }
        report.merge(firing.fire(&d, recorded).await?);
    }
    // Not past a chain still waiting, so a restart plans it again.
    let watermark = chains
        .keys()
        .map(|(_, at)| *at)
        .chain(input.held)
        .map(|at| at - TimeDelta::nanoseconds(1))
        .fold(input.now, DateTime::min);
    firing
        .db
        .set_watermark(&opts.scheduler_id, watermark)
        .await
        .map_err(|e| e.to_string())?;
    Ok(TickOutcome {
        report,
        now: input.now,
        watermark,
        chains: chains.into_values().collect(),
    })
}

impl Actor for Scheduler {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let opts = &self.firing.opts;
        let mode = match opts.clock {
            SchedulerClock::Real(_) => "real clock",
            SchedulerClock::Simulated(_) => "simulated clock",
        };
        self.firing.events.record(
            "scheduler",
            EventKind::Started,
            format!(
                "{} ({mode}), {} bindings",
                opts.scheduler_id,
                self.bindings.len()
            ),
        );
        ctx.notify(Tick);
    }
}

impl Scheduler {
    /// Reports to everyone waiting for the end, once nothing is in flight.
    fn try_finish(&mut self, ctx: &mut Context<Self>) {
        if !self.ending
            || self.finished
            || self.closing
            || self.ticking.is_some()
            || !self.chains.is_empty()
        {
            return;
        }
        // Pipelined ticks stored a watermark below the chains they left running: once
        // every chain succeeded in being fired, the range is planned through.
        if self.firing.opts.pipelined()
            && !self.keep_watermark
            && let Some(through) = self.planned_through
            && self.watermark.is_some_and(|w| w < through)
        {
            self.closing = true;
            let (db, id) = (
                self.firing.db.clone(),
                self.firing.opts.scheduler_id.clone(),
            );
            let write = async move { db.set_watermark(&id, through).await };
            ctx.spawn(write.into_actor(self).map(move |res, act, ctx| {
                act.closing = false;
                match res {
                    Ok(()) => act.watermark = Some(through),
                    Err(e) => {
                        act.firing.events.record(
                            "scheduler",
                            EventKind::Error,
                            format!("final watermark not stored ({e}); the next pass re-checks"),
                        );
                        act.keep_watermark = true;
                    }
                }
                act.try_finish(ctx);
            }));
            return;
        }
        self.finished = true;
        for w in self.waiters.drain(..) {
            let _ = w.send(self.report.clone());
        }
    }

    /// Hands a chain of `after` activations to a waiter of its own: a new chain takes its
    /// turns after every chain before it; a retried one keeps the turns it has not passed.
    fn spawn_chain(&mut self, ctx: &mut Context<Self>, chain: Chain, turns: Option<Vec<Turn>>) {
        let Some((first, _)) = chain.first() else {
            return;
        };
        let mut turns = turns.unwrap_or_else(|| self.turns.for_chain(chain.iter().map(|(d, _)| d)));
        let key = first.activation_id.clone();
        let ids = chain.iter().map(|(d, _)| d.activation_id.clone()).collect();
        let pipelined = self.firing.opts.pipelined();
        for (d, _) in chain.iter().filter(|_| !pipelined) {
            self.firing.events.record(
                "scheduler",
                EventKind::ActivationWaiting,
                format!(
                    "{} waits for {}",
                    d.activation_id,
                    d.after_run.as_deref().unwrap_or("-")
                ),
            );
        }
        self.chains.insert(key.clone(), (first.at, ids));
        let firing = self.firing.clone();
        let work = async move {
            let report = firing.fire_chain(&chain, &mut turns).await;
            (report, chain, turns)
        };
        ctx.spawn(
            work.into_actor(self)
                .map(move |(report, chain, turns), act, ctx| {
                    if pipelined && report.errors > 0 {
                        if act.firing.orchestrator.connected() {
                            // A database that is away comes back: the chain keeps its place (the
                            // watermark stays below it, and so do the sessions after it) and is
                            // fired again whole after a pause — its runs are found by their
                            // deterministic ids and its records written once. What it reported
                            // is dropped; the attempt that gets through reports.
                            act.retry_chain(ctx, key, chain, turns);
                            return;
                        }
                        // No orchestrator to fire into: stop here with the watermark below this
                        // chain, so the same command plans it again.
                        act.keep_watermark = true;
                        act.ending = true;
                        act.held_after = None;
                    }
                    act.chains.remove(&key);
                    act.report.merge(report);
                    if let Some(now) = act.held_after.take() {
                        act.schedule_next(ctx, now);
                    }
                    act.try_finish(ctx);
                }),
        );
    }

    /// Fires a pipelined chain that met an error again after [`CHAIN_RETRY`], unless the
    /// scheduler was stopped meanwhile (which forgets every chain).
    fn retry_chain(
        &mut self,
        ctx: &mut Context<Self>,
        key: String,
        chain: Chain,
        turns: Vec<Turn>,
    ) {
        self.firing.events.record(
            "scheduler",
            EventKind::Error,
            format!(
                "{key}: its chain is fired again in {} s",
                CHAIN_RETRY.as_secs()
            ),
        );
        ctx.run_later(CHAIN_RETRY, move |act, ctx| {
            if act.chains.contains_key(&key) && !act.finished {
                act.spawn_chain(ctx, chain, Some(turns));
            }
        });
    }

    /// Plans the next tick after handling everything due up to `now`: at the next
    /// activation, or at `until` (so the watermark reaches the end of the range), then ends.
    fn schedule_next(&mut self, ctx: &mut Context<Self>, now: DateTime<Utc>) {
        let until = self.firing.opts.until;
        if until.is_some_and(|u| now >= u) {
            self.ending = true;
            self.try_finish(ctx);
            return;
        }
        if self.firing.opts.pipelined() && self.chains.len() >= self.firing.opts.dates_in_flight {
            self.held_after = Some(now);
            return;
        }
        let next = self.bindings.iter().filter_map(|b| b.next_after(now)).min();
        let target = match (next, until) {
            (None, None) => {
                self.ending = true;
                self.try_finish(ctx);
                return;
            }
            (Some(t), Some(u)) => t.min(u),
            (None, Some(u)) => u,
            (Some(t), None) => t,
        };
        match &self.firing.opts.clock {
            SchedulerClock::Simulated(c) => {
                c.advance_to(target);
                // Jobs waiting for a market state re-check against the moved clock.
                self.firing.orchestrator.do_send(Wake);
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
        if self.finished || self.ending {
            return;
        }
        if self.ticking.is_some() {
            self.tick_again = true;
            return;
        }
        let now = self.firing.opts.clock.now();
        let first = self.started_at.is_none();
        if first {
            self.started_at = Some(now);
        }
        let db = self.firing.db.clone();
        let id = self.firing.opts.scheduler_id.clone();
        let start = self.firing.opts.start;
        let known = self.watermark;
        let catch_up = self.firing.opts.catch_up;
        let planned_through = self.planned_through;
        let waiting: BTreeSet<String> = self
            .chains
            .values()
            .flat_map(|(_, ids)| ids.iter().cloned())
            .collect();
        let held = self.chains.values().map(|(at, _)| *at).min();
        let (bindings, firing) = (Arc::clone(&self.bindings), self.firing.clone());
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
            let input = TickInput {
                from,
                now: now.max(from),
                // On the first tick, everything due before now was missed while it was
                // down.
                missed_before: (first && catch_up).then_some(now),
                planned_through,
                waiting,
                held,
            };
            fire_due(bindings, firing, input).await
        };
        let handle = ctx.spawn(work.into_actor(self).map(|res, act, ctx| {
            act.ticking = None;
            match res {
                Ok(outcome) => {
                    act.report.merge(outcome.report);
                    for chain in outcome.chains {
                        act.spawn_chain(ctx, chain, None);
                    }
                    act.planned_through = Some(outcome.now);
                    act.watermark = Some(outcome.watermark);
                    if std::mem::take(&mut act.tick_again) {
                        ctx.notify(Tick);
                    } else {
                        act.schedule_next(ctx, outcome.now);
                    }
                }
                Err(e) => {
                    act.firing.events.record("scheduler", EventKind::Error, e);
                    ctx.notify_later(Tick, CHAIN_RETRY);
                }
            }
            act.try_finish(ctx);
        }));
        self.ticking = Some(handle);
    }
}

/// Stops the scheduler (daemon shutdown): nothing more is activated, at once — even while a
/// tick or a chain is in flight; what was fired stays recorded, and the watermark says
/// where a restart picks up (chains still waiting are planned again then).
pub struct Stop;

impl Message for Stop {
    type Result = ();
}

impl Handler<Stop> for Scheduler {
    type Result = ();

    fn handle(&mut self, _msg: Stop, ctx: &mut Context<Self>) {
        self.firing.events.record(
            "scheduler",
            EventKind::Stopped,
            self.firing.opts.scheduler_id.clone(),
        );
        self.ticking = None;
        self.chains.clear();
        self.turns.clear();
        self.held_after = None;
        self.keep_watermark = true;
        self.ending = true;
        self.closing = false;
        self.try_finish(ctx);
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

//! Firing activations: submitting a due activation's run to the orchestrator (after the run
//! it follows, for `after` triggers), recording it, and reporting what happened. Plain
//! async work outside the actor, so the scheduler's mailbox is never blocked by it.

use super::plan::PlannedActivation;
use super::turns::Turn;
use super::{SchedulerClock, SchedulerOptions, SchedulerReport};
use crate::orchestrator::{Orchestrator, Submit, WaitRun};
use crate::spine::supervision::EventRecorder;
use actix::Addr;
use prometheus::domain::{EventKind, RunStatus};
use prometheus::store::{Activation, RunStore, RuntimeDb, ScheduleStore};
use std::fmt;

/// Everything firing needs.
#[derive(Clone)]
pub(super) struct Firing {
    pub orchestrator: Addr<Orchestrator>,
    pub db: RuntimeDb,
    pub events: EventRecorder,
    pub opts: SchedulerOptions,
}

/// How the run an `after` activation follows ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Upstream {
    /// It reached a final state.
    Ended(RunStatus),
    /// There is no such run (its own activation was refused or skipped).
    NotRun,
    /// The orchestrator stopped before it finished (it resumes at the next start).
    Interrupted,
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ended(s) => write!(f, "{s}"),
            Self::NotRun => f.write_str("NOT RUN"),
            Self::Interrupted => f.write_str("INTERRUPTED"),
        }
    }
}

impl Firing {
    /// The instant a run activated by `d` stands at: on a simulated clock that runs are
    /// awaited on (backfills), the activation's due instant — the clock may have moved on
    /// to later dates while this one's chain runs; on the live clock, none.
    fn stands_at(&self, d: &PlannedActivation) -> Option<chrono::DateTime<chrono::Utc>> {
        (self.opts.wait_for_runs && matches!(self.opts.clock, SchedulerClock::Simulated(_)))
            .then_some(d.at)
    }

    fn activation(&self, d: &PlannedActivation, outcome: &str) -> Activation {
        Activation {
            activation_id: d.activation_id.clone(),
            scheduler_id: self.opts.scheduler_id.clone(),
            dag_id: d.dag_id.clone(),
            market_id: d.market.to_string(),
            as_of_date: d.as_of,
            trigger: d.trigger.clone(),
            due_at: d.at,
            fired_at: self.stands_at(d).unwrap_or_else(|| self.opts.clock.now()),
            outcome: outcome.into(),
            run_id: None,
        }
    }

    /// Records an activation the catch-up policy skips.
    pub async fn skip(&self, d: &PlannedActivation) -> Result<SchedulerReport, String> {
        let mut report = SchedulerReport::default();
        if self
            .db
            .record_activation(&self.activation(d, "skipped"))
            .await
            .map_err(|e| e.to_string())?
        {
            report.skipped += 1;
        }
        Ok(report)
    }

    /// The final state of `run_id`, waiting for it when it is still running.
    async fn upstream_state(&self, run_id: &str) -> Result<Upstream, String> {
        if let Some(rx) = self
            .orchestrator
            .send(WaitRun(run_id.to_owned()))
            .await
            .map_err(|e| e.to_string())?
        {
            return Ok(rx
                .await
                .map_or(Upstream::Interrupted, |r| Upstream::Ended(r.state)));
        }
        Ok(self
            .db
            .dag_run(run_id)
            .await
            .map_err(|e| e.to_string())?
            .map_or(Upstream::NotRun, |r| Upstream::Ended(r.state)))
    }

    /// Fires one due activation: waits for the run it follows (an `after` trigger; a run
    /// that did not end usable refuses it), submits its run, waits for that run when the
    /// options say so, and records the activation — after the submit, so a crash in
    /// between re-fires it on restart, which finds the same deterministic run id and
    /// resumes it instead of duplicating it.
    pub async fn fire(
        &self,
        d: &PlannedActivation,
        recorded: bool,
    ) -> Result<SchedulerReport, String> {
        let (report, record) = self.submit(d, recorded, None).await?;
        if let Some(a) = record {
            self.db
                .record_activation(&a)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(report)
    }

    /// [`Firing::fire`] without the recording: the activation to record, if it is new.
    /// `turn` is passed as soon as the orchestrator holds the run (or it was refused), so
    /// the next date's run of the DAG can queue behind it while it runs.
    async fn submit(
        &self,
        d: &PlannedActivation,
        recorded: bool,
        mut turn: Option<&mut Turn>,
    ) -> Result<(SchedulerReport, Option<Activation>), String> {
        let mut pass = || turn.take().map(Turn::pass);
        let mut report = SchedulerReport::default();
        let mut activation = self.activation(d, "fired");
        if let Some(up) = &d.after_run {
            let state = self.upstream_state(up).await?;
            if !matches!(state, Upstream::Ended(s) if s.is_usable()) {
                activation.outcome = "refused".into();
                let why = format!("{}: upstream run {up} is {state}", d.activation_id);
                self.events
                    .record("scheduler", EventKind::ActivationRefused, why.clone());
                report.refused.push(why);
                pass();
                return Ok((report, (!recorded).then_some(activation)));
            }
        }
        let submit = Submit {
            dag_id: d.dag_id.clone(),
            market: d.market.clone(),
            as_of: d.as_of,
            trigger: "schedule".into(),
            rerun: false,
            run_key: d.run_key.clone(),
            stands_at: self.stands_at(d),
        };
        let submitted = self
            .orchestrator
            .send(submit)
            .await
            .map_err(|e| e.to_string())?;
        pass();
        match submitted {
            Ok(s) => {
                activation.run_id = Some(s.run_id.clone());
                match (recorded, s.finished) {
                    (false, _) => {
                        report.fired += 1;
                        self.events.record(
                            "scheduler",
                            EventKind::Activated,
                            format!("{} -> {}", d.activation_id, s.run_id),
                        );
                    }
                    (true, None) => {
                        report.resumed += 1;
                        self.events.record(
                            "scheduler",
                            EventKind::ActivationResumed,
                            format!("{} -> {}", d.activation_id, s.run_id),
                        );
                    }
                    (true, Some(_)) => report.already_recorded += 1,
                }
                if self.opts.wait_for_runs {
                    let state = match s.finished {
                        Some(state) => Upstream::Ended(state),
                        None => self.upstream_state(&s.run_id).await?,
                    };
                    if state != Upstream::Ended(RunStatus::Succeeded) {
                        report.failed_runs.push(format!("{} {state}", s.run_id));
                    }
                }
            }
            Err(reason) => {
                activation.outcome = "refused".into();
                let why = format!("{}: {reason}", d.activation_id);
                self.events
                    .record("scheduler", EventKind::ActivationRefused, why.clone());
                report.refused.push(why);
            }
        }
        if let Some(observe) = &self.opts.on_activation {
            observe(d);
        }
        Ok((report, (!recorded).then_some(activation)))
    }

    /// Fires a chain of `after` activations of one market and instant in order (each waits
    /// for the run before it): what a waiter does while the scheduler goes on.
    ///
    /// A pipelined backfill's chain records its activations together once they have all
    /// fired (one write a session instead of one per DAG); a crash before that re-fires
    /// them on restart, which finds their deterministic runs finished.
    ///
    /// Each activation waits for its turn — the previous date of its DAG submitted — and
    /// passes it on once its own run is submitted (or refused), so the orchestrator sees
    /// every DAG's dates in order however the chains in flight race.
    pub async fn fire_chain(
        &self,
        chain: &[(PlannedActivation, bool)],
        turns: &mut [Turn],
    ) -> SchedulerReport {
        let mut report = SchedulerReport::default();
        let together = self.opts.pipelined();
        let mut fired = Vec::new();
        for ((d, recorded), turn) in chain.iter().zip(turns) {
            turn.wait().await;
            let step = match self.submit(d, *recorded, Some(turn)).await {
                Ok((r, Some(a))) if !together => self
                    .db
                    .record_activation(&a)
                    .await
                    .map(|_| r)
                    .map_err(|e| e.to_string()),
                Ok((r, a)) => {
                    fired.extend(a);
                    Ok(r)
                }
                Err(e) => Err(e),
            };
            match step {
                Ok(r) => report.merge(r),
                Err(e) => {
                    // Not recorded: a pipelined chain is fired again whole; otherwise the
                    // activation is planned again from the held watermark by a later tick.
                    self.events.record(
                        "scheduler",
                        EventKind::Error,
                        format!("{}: {e}; fired again later", d.activation_id),
                    );
                    report.errors += 1;
                    break;
                }
            }
        }
        if let Err(e) = self.db.record_activations(&fired).await {
            self.events.record(
                "scheduler",
                EventKind::Error,
                format!(
                    "{} activations not recorded ({e}); planned again",
                    fired.len()
                ),
            );
            report.errors += 1;
        }
        report
    }
}

//! The retry policy in action: how the end of an attempt is settled. A success records the
//! config the attempt ran with (later jobs of the run read by it); a failure is retried
//! after a backoff when its class and budget allow — transient failures, panics and
//! timeouts spend `max_attempts`, outages spend `outage_tolerance_secs`, permanent failures
//! are never retried and fail the job at once with the reason; an actor that escalates to
//! DEGRADED fails its jobs at once. [`prometheus::dag::RunState::complete`] decides; this
//! module carries the decision out and records it.

use super::Orchestrator;
use super::dispatch::attempt_record;
use actix::prelude::*;
use chrono::{DateTime, Utc};
use prometheus::dag::{Action, AttemptOutcome};
use prometheus::domain::{AttemptState, ErrorClass, EventKind, JobDone};

impl Orchestrator {
    /// An attempt outlived its timeout: abandoned (its late result will be ignored) and
    /// settled as timed out.
    pub(super) fn timed_out(
        &mut self,
        ctx: &mut Context<Self>,
        run_id: &str,
        j: usize,
        attempt: u32,
    ) {
        let Some(started) = self.take_running(ctx, run_id, j, attempt) else {
            return;
        };
        self.events.record(
            "orchestrator",
            EventKind::JobTimedOut,
            format!("{run_id} job #{j} attempt {attempt} abandoned"),
        );
        self.settle(ctx, run_id, j, attempt, AttemptOutcome::TimedOut, started);
        self.pump(ctx);
    }

    /// Applies the end of attempt `attempt` of job `j`, schedules its retry when there is
    /// one, and records the attempt with its state and error class.
    pub(super) fn settle(
        &mut self,
        ctx: &mut Context<Self>,
        run_id: &str,
        j: usize,
        attempt: u32,
        outcome: AttemptOutcome,
        started_at: DateTime<Utc>,
    ) {
        let Some(run) = self.runs.get_mut(run_id) else {
            return;
        };
        let now = run.now(self.clock.as_ref());
        let def = &run.state.dag().jobs[j];
        let mut record = attempt_record(
            run_id,
            &def.id,
            &def.actor,
            attempt,
            AttemptState::Running,
            started_at,
        );
        record.finished_at = Some(now);
        match &outcome {
            AttemptOutcome::Succeeded { config_id } => {
                record.state = AttemptState::Succeeded;
                record.config_id = config_id.as_ref().map(ToString::to_string);
            }
            AttemptOutcome::Failed { error, class } => {
                record.state = AttemptState::Failed;
                record.error_class = Some(*class);
                record.error = Some(error.clone());
            }
            AttemptOutcome::TimedOut => {
                record.state = AttemptState::TimedOut;
                record.error_class = Some(ErrorClass::Transient);
                record.error = Some("exceeded its timeout; abandoned".to_owned());
            }
            AttemptOutcome::Interrupted => {
                record.state = AttemptState::Interrupted;
                record.error = Some("interrupted".to_owned());
            }
        }
        match run.state.complete(j, attempt, outcome) {
            Action::IgnoreStale => {
                self.events.record(
                    "orchestrator",
                    EventKind::LateResultIgnored,
                    format!("{run_id} {} attempt {attempt}", record.job_id),
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
                tracing::info!(run_id, job = %record.job_id, attempt = next, delay_ms = delay.as_millis() as u64, class = ?record.error_class, "retry scheduled");
            }
        }
        self.log.job(record);
    }

    /// An actor reported the end of an attempt.
    pub(super) fn on_done(&mut self, ctx: &mut Context<Self>, done: JobDone) {
        let run_id = done.run_id.to_string();
        let Some(j) = self
            .runs
            .get(&run_id)
            .and_then(|r| r.state.job_index(&done.job_id))
        else {
            self.events.record(
                "orchestrator",
                EventKind::LateResultIgnored,
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
                EventKind::LateResultIgnored,
                format!("{run_id} {} attempt {}", done.job_id, done.attempt),
            );
            return;
        };
        let outcome = match done.outcome {
            Ok(report) => {
                tracing::info!(run_id = %run_id, job = %done.job_id, attempt = done.attempt, summary = %report.summary, "job succeeded");
                AttemptOutcome::Succeeded {
                    config_id: Some(report.config_id),
                }
            }
            Err(f) => {
                tracing::warn!(run_id = %run_id, job = %done.job_id, attempt = done.attempt, error = %f.message(), class = %f.class(), "job failed");
                AttemptOutcome::Failed {
                    error: f.message(),
                    class: f.class(),
                }
            }
        };
        self.settle(ctx, &run_id, j, done.attempt, outcome, started);
        self.pump(ctx);
    }

    /// Fails, without retries, every unfinished job of a DEGRADED actor in every active
    /// run, recording the attempts that were out.
    pub(super) fn fail_actor_jobs(&mut self, ctx: &mut Context<Self>, actor: &str, reason: &str) {
        let run_ids: Vec<String> = self.runs.keys().cloned().collect();
        for run_id in run_ids {
            let Some(run) = self.runs.get_mut(&run_id) else {
                continue;
            };
            let now = run.now(self.clock.as_ref());
            let mut ended = Vec::new();
            for (j, attempt) in run.state.fail_actor(actor, reason) {
                if let Some((_, started, timer)) = run.running.remove(&j) {
                    let def = &run.state.dag().jobs[j];
                    ended.push((def.id.clone(), def.actor.clone(), attempt, started, timer));
                }
            }
            for (job_id, job_actor, attempt, started, timer) in ended {
                ctx.cancel_future(timer);
                self.running = self.running.saturating_sub(1);
                let mut r = attempt_record(
                    &run_id,
                    &job_id,
                    &job_actor,
                    attempt,
                    AttemptState::Failed,
                    started,
                );
                r.finished_at = Some(now);
                r.error_class = Some(ErrorClass::Permanent);
                r.error = Some(reason.to_owned());
                self.log.job(r);
            }
        }
    }
}

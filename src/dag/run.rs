//! The state machine of one DAG run.

use super::backoff::backoff_delay;
use super::config::{DagDef, OnFailure};
use std::sync::Arc;
use std::time::Duration;

/// Where one job of a run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for its dependencies.
    Pending,
    /// An attempt is out.
    Running {
        /// Its number (1-based).
        attempt: u32,
    },
    /// Waiting for the backoff delay before the next attempt.
    RetryWait {
        /// The attempt that will be sent.
        next_attempt: u32,
    },
    /// Done.
    Succeeded {
        /// The successful attempt.
        attempt: u32,
    },
    /// Failed for good.
    Failed {
        /// Why the last attempt failed.
        error: String,
    },
    /// Failed for good with `on_failure = "skip"`: dependents run anyway.
    Skipped {
        /// Why.
        error: String,
    },
    /// Never run because an upstream job failed with `on_failure = "stop_downstream"`.
    Blocked {
        /// Which upstream job and why.
        reason: String,
    },
}

impl JobStatus {
    /// True for states a job never leaves.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Self::Succeeded { .. }
                | Self::Failed { .. }
                | Self::Skipped { .. }
                | Self::Blocked { .. }
        )
    }
}

/// How one attempt ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Outputs persisted, job done.
    Succeeded,
    /// The job reported an error (or panicked). Not retryable when the actor is degraded.
    Failed {
        /// The error.
        error: String,
        /// Whether another attempt can help.
        retryable: bool,
    },
    /// The attempt exceeded the job's timeout and was abandoned.
    TimedOut,
    /// The process stopped while the attempt ran (drain timeout, crash); it does not count
    /// against `max_attempts`.
    Interrupted,
}

/// The overall state of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// Jobs are pending or running.
    Running,
    /// Every job succeeded.
    Succeeded,
    /// Finished, but some job failed with `skip` or `degraded`.
    Degraded,
    /// A job failed with `stop_downstream`.
    Failed,
}

impl RunStatus {
    /// Upper-case name as stored in `dag_runs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Degraded => "DEGRADED",
            Self::Failed => "FAILED",
        }
    }
}

/// What the orchestrator must do after an attempt ends.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// The result belongs to an attempt that is no longer current (timed out, superseded):
    /// ignore it.
    IgnoreStale,
    /// Record the attempt's end; nothing else to do for this job.
    Settled,
    /// Send attempt `attempt` of the job after `delay`.
    Retry {
        /// The next attempt.
        attempt: u32,
        /// Backoff before sending it.
        delay: Duration,
    },
}

/// The live state of one run of one DAG.
#[derive(Clone, Debug)]
pub struct RunState {
    run_id: String,
    dag: Arc<DagDef>,
    order: Vec<usize>,
    jobs: Vec<JobStatus>,
    /// Last attempt number handed out per job.
    attempts: Vec<u32>,
    /// Attempts that failed or timed out (interruptions do not count).
    failures: Vec<u32>,
}

impl RunState {
    /// A fresh run: every job pending.
    pub fn new(run_id: impl Into<String>, dag: Arc<DagDef>) -> Self {
        let n = dag.jobs.len();
        let order = dag.topological_order().unwrap_or_else(|| (0..n).collect());
        Self {
            run_id: run_id.into(),
            dag,
            order,
            jobs: vec![JobStatus::Pending; n],
            attempts: vec![0; n],
            failures: vec![0; n],
        }
    }

    /// A run rebuilt from its persisted attempts `(job id, attempt, state)` after a restart.
    /// Succeeded jobs stay done; an attempt left `RUNNING` was interrupted and is returned
    /// so it can be recorded as such; failed attempts count against the retry budget.
    pub fn resume(
        run_id: impl Into<String>,
        dag: Arc<DagDef>,
        attempts: &[(String, u32, String)],
    ) -> (Self, Vec<(usize, u32)>) {
        let mut run = Self::new(run_id, dag);
        let mut interrupted = Vec::new();
        for (job_id, attempt, state) in attempts {
            let Some(j) = run.job_index(job_id) else {
                continue;
            };
            run.attempts[j] = run.attempts[j].max(*attempt);
            match state.as_str() {
                "SUCCEEDED" => run.jobs[j] = JobStatus::Succeeded { attempt: *attempt },
                "FAILED" | "TIMED_OUT" => run.failures[j] += 1,
                "RUNNING" => interrupted.push((j, *attempt)),
                _ => {}
            }
        }
        // A job whose budget was spent before the restart fails again without running.
        for j in 0..run.jobs.len() {
            if run.jobs[j] == JobStatus::Pending && run.failures[j] >= run.dag.jobs[j].max_attempts
            {
                run.finish_failed(
                    j,
                    format!("{} attempts failed before the restart", run.failures[j]),
                );
            }
        }
        (run, interrupted)
    }

    /// The run's id.
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Its DAG.
    pub fn dag(&self) -> &DagDef {
        &self.dag
    }

    /// The status of job `j`.
    pub fn job(&self, j: usize) -> &JobStatus {
        &self.jobs[j]
    }

    /// The index of the job with this id.
    pub fn job_index(&self, id: &str) -> Option<usize> {
        self.dag.jobs.iter().position(|j| j.id == id)
    }

    fn deps_satisfied(&self, j: usize) -> bool {
        self.dag.jobs[j].depends_on.iter().all(|d| {
            self.job_index(d).is_some_and(|i| match &self.jobs[i] {
                JobStatus::Succeeded { .. } | JobStatus::Skipped { .. } => true,
                JobStatus::Failed { .. } => self.dag.jobs[i].on_failure == OnFailure::Degraded,
                _ => false,
            })
        })
    }

    /// Pending jobs whose dependencies are satisfied, by priority tier then DAG order.
    pub fn ready(&self) -> Vec<usize> {
        let mut ready: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&j| self.jobs[j] == JobStatus::Pending && self.deps_satisfied(j))
            .collect();
        ready.sort_by_key(|&j| self.dag.jobs[j].priority);
        ready
    }

    /// Marks job `j` as dispatched and returns the attempt number to send.
    pub fn start(&mut self, j: usize) -> u32 {
        self.attempts[j] += 1;
        self.jobs[j] = JobStatus::Running {
            attempt: self.attempts[j],
        };
        self.attempts[j]
    }

    /// Moves a job waiting for its retry back to pending, so `ready` offers it again.
    pub fn retry_due(&mut self, j: usize) {
        if matches!(self.jobs[j], JobStatus::RetryWait { .. }) {
            self.jobs[j] = JobStatus::Pending;
        }
    }

    /// Applies the end of attempt `attempt` of job `j`.
    pub fn complete(&mut self, j: usize, attempt: u32, outcome: AttemptOutcome) -> Action {
        if self.jobs[j] != (JobStatus::Running { attempt }) {
            return Action::IgnoreStale;
        }
        let (error, retryable) = match outcome {
            AttemptOutcome::Succeeded => {
                self.jobs[j] = JobStatus::Succeeded { attempt };
                return Action::Settled;
            }
            AttemptOutcome::Interrupted => {
                self.jobs[j] = JobStatus::RetryWait {
                    next_attempt: attempt + 1,
                };
                return Action::Retry {
                    attempt: attempt + 1,
                    delay: Duration::ZERO,
                };
            }
            AttemptOutcome::TimedOut => (
                format!(
                    "attempt {attempt} exceeded the timeout of {}s",
                    self.dag.jobs[j].timeout_secs
                ),
                true,
            ),
            AttemptOutcome::Failed { error, retryable } => (error, retryable),
        };
        self.failures[j] += 1;
        let def = &self.dag.jobs[j];
        if retryable && self.failures[j] < def.max_attempts {
            self.jobs[j] = JobStatus::RetryWait {
                next_attempt: attempt + 1,
            };
            return Action::Retry {
                attempt: attempt + 1,
                delay: backoff_delay(def, &self.run_id, attempt + 1),
            };
        }
        self.finish_failed(j, error);
        Action::Settled
    }

    /// Fails every job of `actor` that has not finished (its actor is degraded), without
    /// retries, and returns those that had an attempt out.
    pub fn fail_actor(&mut self, actor: &str, reason: &str) -> Vec<(usize, u32)> {
        let mut running = Vec::new();
        for j in 0..self.jobs.len() {
            if self.dag.jobs[j].actor != actor || self.jobs[j].is_final() {
                continue;
            }
            if let JobStatus::Running { attempt } = self.jobs[j] {
                running.push((j, attempt));
            }
            self.finish_failed(j, reason.to_owned());
        }
        running
    }

    fn finish_failed(&mut self, j: usize, error: String) {
        match self.dag.jobs[j].on_failure {
            OnFailure::Skip => self.jobs[j] = JobStatus::Skipped { error },
            OnFailure::Degraded => self.jobs[j] = JobStatus::Failed { error },
            OnFailure::StopDownstream => {
                let reason = format!("upstream job `{}` failed: {error}", self.dag.jobs[j].id);
                self.jobs[j] = JobStatus::Failed { error };
                self.block_dependents(j, &reason);
            }
        }
    }

    fn block_dependents(&mut self, failed: usize, reason: &str) {
        let id = self.dag.jobs[failed].id.clone();
        for k in 0..self.jobs.len() {
            if self.dag.jobs[k].depends_on.contains(&id) && !self.jobs[k].is_final() {
                self.jobs[k] = JobStatus::Blocked {
                    reason: reason.to_owned(),
                };
                self.block_dependents(k, reason);
            }
        }
    }

    /// `Running` while any job can still change; then `Failed` when a `stop_downstream`
    /// job failed (its dependents are blocked), `Succeeded` when every job succeeded, and
    /// `Degraded` otherwise.
    pub fn status(&self) -> RunStatus {
        if self.jobs.iter().any(|s| !s.is_final()) {
            return RunStatus::Running;
        }
        let stopped = self.jobs.iter().enumerate().any(|(j, s)| {
            matches!(s, JobStatus::Blocked { .. })
                || (matches!(s, JobStatus::Failed { .. })
                    && self.dag.jobs[j].on_failure == OnFailure::StopDownstream)
        });
        if stopped {
            RunStatus::Failed
        } else if self
            .jobs
            .iter()
            .all(|s| matches!(s, JobStatus::Succeeded { .. }))
        {
            RunStatus::Succeeded
        } else {
            RunStatus::Degraded
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::JobDef;

    fn job(
        id: &str,
        actor: &str,
        deps: &[&str],
        on_failure: OnFailure,
        max_attempts: u32,
        priority: u8,
    ) -> JobDef {
        JobDef {
            id: id.into(),
            actor: actor.into(),
            depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            required_state: None,
            priority,
            max_attempts,
            backoff_ms: 100,
            backoff_max_ms: 1000,
            jitter: 0.0,
            timeout_secs: 1.0,
            on_failure,
        }
    }

    fn dag(jobs: Vec<JobDef>) -> Arc<DagDef> {
        Arc::new(DagDef {
            id: "d".into(),
            overlap_dates: false,
            description: String::new(),
            markets: vec![],
            trigger: None,
            jobs,
        })
    }

    fn failed(msg: &str) -> AttemptOutcome {
        AttemptOutcome::Failed {
            error: msg.into(),
            retryable: true,
        }
    }

    #[test]
    fn a_chain_runs_in_order_and_succeeds() {
        let mut r = RunState::new(
            "r",
            dag(vec![
                job("b", "x", &["a"], OnFailure::StopDownstream, 3, 1),
                job("a", "x", &[], OnFailure::StopDownstream, 3, 1),
            ]),
        );
        assert_eq!(r.ready(), [1]);
        let a = r.start(1);
        assert!(r.ready().is_empty());
        assert_eq!(r.complete(1, a, AttemptOutcome::Succeeded), Action::Settled);
        assert_eq!(r.ready(), [0]);
        let b = r.start(0);
        r.complete(0, b, AttemptOutcome::Succeeded);
        assert_eq!(r.status(), RunStatus::Succeeded);
    }

    #[test]
    fn failures_retry_with_backoff_then_block_downstream() {
        let mut r = RunState::new(
            "r",
            dag(vec![
                job("a", "x", &[], OnFailure::StopDownstream, 2, 1),
                job("b", "x", &["a"], OnFailure::StopDownstream, 3, 1),
                job("c", "x", &["b"], OnFailure::Skip, 3, 1),
            ]),
        );
        let a1 = r.start(0);
        assert_eq!(
            r.complete(0, a1, failed("boom")),
            Action::Retry {
                attempt: 2,
                delay: Duration::from_millis(100)
            }
        );
        assert!(r.ready().is_empty(), "waiting for the backoff");
        r.retry_due(0);
        let a2 = r.start(0);
        assert_eq!(a2, 2);
        assert_eq!(r.complete(0, a2, failed("boom again")), Action::Settled);
        assert_eq!(
            r.job(0),
            &JobStatus::Failed {
                error: "boom again".into()
            }
        );
        assert!(matches!(r.job(1), JobStatus::Blocked { reason } if reason.contains("`a` failed")));
        assert!(
            matches!(r.job(2), JobStatus::Blocked { .. }),
            "blocking is transitive"
        );
        assert_eq!(r.status(), RunStatus::Failed);
    }

    #[test]
    fn stale_and_timed_out_attempts() {
        let mut r = RunState::new(
            "r",
            dag(vec![job("a", "x", &[], OnFailure::StopDownstream, 3, 1)]),
        );
        let a1 = r.start(0);
        assert!(matches!(
            r.complete(0, a1, AttemptOutcome::TimedOut),
            Action::Retry { attempt: 2, .. }
        ));
        assert_eq!(
            r.complete(0, a1, AttemptOutcome::Succeeded),
            Action::IgnoreStale,
            "the late result of attempt 1"
        );
        r.retry_due(0);
        let a2 = r.start(0);
        assert_eq!(
            r.complete(0, a2, AttemptOutcome::Succeeded),
            Action::Settled
        );
        assert_eq!(
            r.complete(0, a2, AttemptOutcome::Succeeded),
            Action::IgnoreStale,
            "duplicates too"
        );
        assert_eq!(r.status(), RunStatus::Succeeded);
    }

    #[test]
    fn skip_and_degraded_let_dependents_run() {
        let mut r = RunState::new(
            "r",
            dag(vec![
                job("s", "x", &[], OnFailure::Skip, 1, 1),
                job("g", "y", &[], OnFailure::Degraded, 1, 2),
                job("t", "x", &["s", "g"], OnFailure::StopDownstream, 1, 1),
            ]),
        );
        assert_eq!(r.ready(), [0, 1], "tier 1 before tier 2");
        let s = r.start(0);
        let g = r.start(1);
        r.complete(0, s, failed("no data"));
        r.complete(
            1,
            g,
            AttemptOutcome::Failed {
                error: "bad".into(),
                retryable: false,
            },
        );
        assert_eq!(r.ready(), [2]);
        let t = r.start(2);
        r.complete(2, t, AttemptOutcome::Succeeded);
        assert_eq!(r.status(), RunStatus::Degraded);
    }

    #[test]
    fn a_degraded_actor_fails_its_jobs_without_retry() {
        let mut r = RunState::new(
            "r",
            dag(vec![
                job("a", "sick", &[], OnFailure::StopDownstream, 5, 1),
                job("b", "well", &["a"], OnFailure::StopDownstream, 5, 1),
                job("c", "well", &[], OnFailure::StopDownstream, 5, 1),
            ]),
        );
        let a = r.start(0);
        assert_eq!(r.fail_actor("sick", "actor `sick` is DEGRADED"), [(0, a)]);
        assert!(matches!(r.job(1), JobStatus::Blocked { .. }));
        assert_eq!(r.ready(), [2], "other actors' jobs still run");
    }

    #[test]
    fn resume_keeps_successes_and_reports_interrupted_attempts() {
        let d = dag(vec![
            job("a", "x", &[], OnFailure::StopDownstream, 2, 1),
            job("b", "x", &["a"], OnFailure::StopDownstream, 2, 1),
        ]);
        let (mut r, interrupted) = RunState::resume(
            "r",
            d,
            &[
                ("a".into(), 1, "SUCCEEDED".into()),
                ("b".into(), 1, "FAILED".into()),
                ("b".into(), 2, "RUNNING".into()),
            ],
        );
        assert_eq!(interrupted, [(1, 2)]);
        assert_eq!(r.job(0), &JobStatus::Succeeded { attempt: 1 });
        assert_eq!(r.ready(), [1]);
        assert_eq!(r.start(1), 3, "attempt numbers continue");
        let (r2, _) = RunState::resume(
            "r",
            r.dag.clone(),
            &[
                ("a".into(), 1, "FAILED".into()),
                ("a".into(), 2, "FAILED".into()),
            ],
        );
        assert_eq!(
            r2.status(),
            RunStatus::Failed,
            "a spent budget is not retried"
        );
    }

    #[test]
    fn interruptions_do_not_spend_the_budget() {
        let mut r = RunState::new(
            "r",
            dag(vec![job("a", "x", &[], OnFailure::StopDownstream, 1, 1)]),
        );
        let a1 = r.start(0);
        assert_eq!(
            r.complete(0, a1, AttemptOutcome::Interrupted),
            Action::Retry {
                attempt: 2,
                delay: Duration::ZERO
            }
        );
        r.retry_due(0);
        let a2 = r.start(0);
        assert_eq!(
            r.complete(0, a2, failed("x")),
            Action::Settled,
            "max_attempts = 1 failure"
        );
    }
}

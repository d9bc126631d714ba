//! The state machine of one DAG run.

use super::backoff::backoff_delay;
use super::config::{DagDef, OnFailure};
use crate::domain::{AttemptState, ConfigId, ErrorClass, RunStatus};
use std::collections::BTreeMap;
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
        /// The config it ran with (what later jobs of the run read its rows by).
        config_id: Option<ConfigId>,
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
    Succeeded {
        /// The config the attempt ran with.
        config_id: Option<ConfigId>,
    },
    /// The job reported an error (or panicked, or its actor is degraded).
    Failed {
        /// The error.
        error: String,
        /// Whether another attempt can help, and under which budget.
        class: ErrorClass,
    },
    /// The attempt exceeded the job's timeout and was abandoned.
    TimedOut,
    /// The process stopped while the attempt ran (drain timeout, crash); it does not count
    /// against `max_attempts`.
    Interrupted,
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

/// One attempt as the durable record holds it: what [`RunState::resume`] rebuilds a run
/// from after a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAttempt {
    /// The job's id within the DAG.
    pub job_id: String,
    /// The attempt number.
    pub attempt: u32,
    /// How it stands.
    pub state: AttemptState,
    /// Why it failed, when it did.
    pub class: Option<ErrorClass>,
    /// The config a successful attempt ran with.
    pub config_id: Option<ConfigId>,
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
    /// Attempts that failed transiently or timed out (interruptions, outages and
    /// permanent failures do not count against `max_attempts`).
    failures: Vec<u32>,
    /// Attempts that failed because the database could not be reached.
    outages: Vec<u32>,
    /// The backoff already spent waiting out outages, per job.
    outage_waited: Vec<Duration>,
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
            outages: vec![0; n],
            outage_waited: vec![Duration::ZERO; n],
        }
    }

    /// A run rebuilt from its persisted attempts after a restart. Succeeded jobs stay done
    /// (with the config they ran with); an attempt left `RUNNING` was interrupted and is
    /// returned so it can be recorded as such; failures count against the budget of their
    /// class, exactly as they did before the restart.
    pub fn resume(
        run_id: impl Into<String>,
        dag: Arc<DagDef>,
        attempts: &[StoredAttempt],
    ) -> (Self, Vec<(usize, u32)>) {
        let mut run = Self::new(run_id, dag);
        let mut interrupted = Vec::new();
        let mut permanent: BTreeMap<usize, String> = BTreeMap::new();
        for a in attempts {
            let Some(j) = run.job_index(&a.job_id) else {
                continue;
            };
            run.attempts[j] = run.attempts[j].max(a.attempt);
            match (a.state, a.class) {
                (AttemptState::Succeeded, _) => {
                    run.jobs[j] = JobStatus::Succeeded {
                        attempt: a.attempt,
                        config_id: a.config_id.clone(),
                    };
                }
                (AttemptState::Failed, Some(ErrorClass::Permanent)) => {
                    permanent.insert(j, format!("attempt {} failed permanently", a.attempt));
                }
                (AttemptState::Failed, Some(ErrorClass::Unavailable)) => {
                    let delay = run.outage_delay(j);
                    run.outage_waited[j] += delay;
                    run.outages[j] += 1;
                }
                (AttemptState::Failed | AttemptState::TimedOut, _) => run.failures[j] += 1,
                (AttemptState::Running, _) => interrupted.push((j, a.attempt)),
                (AttemptState::Interrupted, _) => {}
            }
        }
        // A job whose budget was spent before the restart fails again without running.
        for j in 0..run.jobs.len() {
            if run.jobs[j] != JobStatus::Pending {
                continue;
            }
            if let Some(why) = permanent.remove(&j) {
                run.finish_failed(j, why);
            } else if run.failures[j] >= run.dag.jobs[j].max_attempts {
                run.finish_failed(
                    j,
                    format!("{} attempts failed before the restart", run.failures[j]),
                );
            } else if run.outage_budget_spent(j) {
                run.finish_failed(
                    j,
                    "the database was unreachable for longer than its outage tolerance before the restart".into(),
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

    /// The backoff before the next attempt after the job's next outage failure.
    fn outage_delay(&self, j: usize) -> Duration {
        backoff_delay(&self.dag.jobs[j], &self.run_id, self.outages[j] + 2)
    }

    /// Counts a transient failure of attempt `attempt`; the backoff before the next attempt
    /// while `max_attempts` allows one.
    fn spend_attempt(&mut self, j: usize, attempt: u32) -> Option<Duration> {
        self.failures[j] += 1;
        let def = &self.dag.jobs[j];
        (self.failures[j] < def.max_attempts).then(|| backoff_delay(def, &self.run_id, attempt + 1))
    }

    /// Whether waiting out outages has used the job's whole tolerance.
    fn outage_budget_spent(&self, j: usize) -> bool {
        self.outage_waited[j].as_secs_f64() > self.dag.jobs[j].outage_tolerance_secs
    }

    /// Applies the end of attempt `attempt` of job `j`: success; a retry after a backoff
    /// when the failure's class and budget allow one (transient failures and timeouts spend
    /// `max_attempts`, outages spend `outage_tolerance_secs` of backoff, interruptions spend
    /// nothing); otherwise the job fails for good with the reason.
    pub fn complete(&mut self, j: usize, attempt: u32, outcome: AttemptOutcome) -> Action {
        if self.jobs[j] != (JobStatus::Running { attempt }) {
            return Action::IgnoreStale;
        }
        let retry = |run: &mut Self, delay: Duration| {
            run.jobs[j] = JobStatus::RetryWait {
                next_attempt: attempt + 1,
            };
            Action::Retry {
                attempt: attempt + 1,
                delay,
            }
        };
        let error = match outcome {
            AttemptOutcome::Succeeded { config_id } => {
                self.jobs[j] = JobStatus::Succeeded { attempt, config_id };
                return Action::Settled;
            }
            AttemptOutcome::Interrupted => return retry(self, Duration::ZERO),
            AttemptOutcome::Failed {
                error,
                class: ErrorClass::Permanent,
            } => error,
            AttemptOutcome::Failed {
                error,
                class: ErrorClass::Unavailable,
            } => {
                let delay = self.outage_delay(j);
                self.outages[j] += 1;
                self.outage_waited[j] += delay;
                if !self.outage_budget_spent(j) {
                    return retry(self, delay);
                }
                format!(
                    "{error} (still unreachable after {:.0}s of retries; outage_tolerance_secs = {})",
                    self.outage_waited[j].as_secs_f64(),
                    self.dag.jobs[j].outage_tolerance_secs
                )
            }
            AttemptOutcome::TimedOut => {
                let error = format!(
                    "attempt {attempt} exceeded the timeout of {}s",
                    self.dag.jobs[j].timeout_secs
                );
                match self.spend_attempt(j, attempt) {
                    Some(delay) => return retry(self, delay),
                    None => error,
                }
            }
            AttemptOutcome::Failed {
                error,
                class: ErrorClass::Transient,
            } => match self.spend_attempt(j, attempt) {
                Some(delay) => return retry(self, delay),
                None => error,
            },
        };
        self.finish_failed(j, error);
        Action::Settled
    }

    /// The config every job of the run that has succeeded ran with, by actor name: what
    /// later jobs of the run read their upstream rows by.
    pub fn upstream_configs(&self) -> BTreeMap<String, ConfigId> {
        self.jobs
            .iter()
            .enumerate()
            .filter_map(|(j, s)| match s {
                JobStatus::Succeeded {
                    config_id: Some(c), ..
                } => Some((self.dag.jobs[j].actor.clone(), c.clone())),
                _ => None,
            })
            .collect()
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
            outage_tolerance_secs: 1.0,
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
            class: ErrorClass::Transient,
        }
    }

    fn ok() -> AttemptOutcome {
        AttemptOutcome::Succeeded { config_id: None }
    }

    fn stored(
        job: &str,
        attempt: u32,
        state: AttemptState,
        class: Option<ErrorClass>,
    ) -> StoredAttempt {
        StoredAttempt {
            job_id: job.into(),
            attempt,
            state,
            class,
            config_id: None,
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
        assert_eq!(r.complete(1, a, ok()), Action::Settled);
        assert_eq!(r.ready(), [0]);
        let b = r.start(0);
        r.complete(0, b, ok());
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
            r.complete(0, a1, ok()),
            Action::IgnoreStale,
            "the late result of attempt 1"
        );
        r.retry_due(0);
        let a2 = r.start(0);
        assert_eq!(r.complete(0, a2, ok()), Action::Settled);
        assert_eq!(
            r.complete(0, a2, ok()),
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
                class: ErrorClass::Permanent,
            },
        );
        assert_eq!(r.ready(), [2]);
        let t = r.start(2);
        r.complete(2, t, ok());
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
                stored("a", 1, AttemptState::Succeeded, None),
                stored("b", 1, AttemptState::Failed, Some(ErrorClass::Transient)),
                stored("b", 2, AttemptState::Running, None),
            ],
        );
        assert_eq!(interrupted, [(1, 2)]);
        assert_eq!(
            r.job(0),
            &JobStatus::Succeeded {
                attempt: 1,
                config_id: None
            }
        );
        assert_eq!(r.ready(), [1]);
        assert_eq!(r.start(1), 3, "attempt numbers continue");
        let (r2, _) = RunState::resume(
            "r",
            r.dag.clone(),
            &[
                stored("a", 1, AttemptState::Failed, Some(ErrorClass::Transient)),
                stored("a", 2, AttemptState::Failed, Some(ErrorClass::Transient)),
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

    #[test]
    fn a_permanent_failure_is_not_retried_and_blocks_downstream() {
        let mut r = RunState::new(
            "r",
            dag(vec![
                job("a", "x", &[], OnFailure::StopDownstream, 5, 1),
                job("b", "y", &["a"], OnFailure::StopDownstream, 5, 1),
            ]),
        );
        let a1 = r.start(0);
        let outcome = AttemptOutcome::Failed {
            error: "the portfolio constraints cannot all hold".into(),
            class: ErrorClass::Permanent,
        };
        assert_eq!(r.complete(0, a1, outcome), Action::Settled);
        assert!(
            matches!(r.job(0), JobStatus::Failed { error } if error.contains("cannot all hold"))
        );
        assert!(matches!(r.job(1), JobStatus::Blocked { .. }));
        assert_eq!(r.status(), RunStatus::Failed);
        let (r2, _) = RunState::resume(
            "r",
            r.dag.clone(),
            &[stored(
                "a",
                1,
                AttemptState::Failed,
                Some(ErrorClass::Permanent),
            )],
        );
        assert_eq!(
            r2.status(),
            RunStatus::Failed,
            "not retried after a restart either"
        );
    }

    #[test]
    fn outages_are_waited_out_within_their_tolerance_without_spending_attempts() {
        // backoff 100 ms doubling to 1 s; tolerance 1 s of backoff: 0.1 + 0.2 + 0.4 = 0.7
        // s waited after three outages, the fourth (0.8 s more) exceeds it.
        let mut r = RunState::new(
            "r",
            dag(vec![job("a", "x", &[], OnFailure::StopDownstream, 1, 1)]),
        );
        let down = || AttemptOutcome::Failed {
            error: "database unreachable".into(),
            class: ErrorClass::Unavailable,
        };
        let mut delays = Vec::new();
        loop {
            let a = r.start(0);
            match r.complete(0, a, down()) {
                Action::Retry { delay, .. } => delays.push(delay.as_millis()),
                Action::Settled => break,
                Action::IgnoreStale => unreachable!(),
            }
            r.retry_due(0);
        }
        assert_eq!(delays, [100, 200, 400], "max_attempts = 1 did not stop it");
        assert!(
            matches!(r.job(0), JobStatus::Failed { error } if error.contains("outage_tolerance_secs"))
        );
        // The same history after a restart has the same budget left.
        let mut r = RunState::new(
            "r",
            dag(vec![job("a", "x", &[], OnFailure::StopDownstream, 1, 1)]),
        );
        let a = r.start(0);
        r.complete(0, a, down());
        let (mut resumed, _) = RunState::resume(
            "r",
            r.dag.clone(),
            &[stored(
                "a",
                1,
                AttemptState::Failed,
                Some(ErrorClass::Unavailable),
            )],
        );
        let a = resumed.start(0);
        assert_eq!(
            resumed.complete(0, a, down()),
            Action::Retry {
                attempt: 3,
                delay: Duration::from_millis(200)
            }
        );
        r.retry_due(0);
        let a = r.start(0);
        assert_eq!(r.complete(0, a, ok()), Action::Settled);
    }

    #[test]
    fn later_jobs_see_the_configs_their_upstream_succeeded_with() {
        let mut r = RunState::new(
            "r",
            dag(vec![
                job("a", "regime", &[], OnFailure::StopDownstream, 1, 1),
                job("b", "stability", &["a"], OnFailure::StopDownstream, 1, 1),
            ]),
        );
        let a = r.start(0);
        let c = ConfigId::new("cfg-regime");
        r.complete(
            0,
            a,
            AttemptOutcome::Succeeded {
                config_id: Some(c.clone()),
            },
        );
        assert_eq!(
            r.upstream_configs(),
            BTreeMap::from([("regime".to_owned(), c.clone())])
        );
        let mut attempt = stored("a", 1, AttemptState::Succeeded, None);
        attempt.config_id = Some(c.clone());
        let (resumed, _) = RunState::resume("r", r.dag.clone(), &[attempt]);
        assert_eq!(resumed.upstream_configs(), r.upstream_configs(), "durable");
    }
}

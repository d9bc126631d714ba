//! What the orchestrator is asked and what it answers.

use actix::Message;
use chrono::{DateTime, NaiveDate, Utc};
use prometheus::domain::{MarketId, RunStatus};
use std::collections::BTreeMap;
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
    /// The instant the run stands at: a simulated scheduler's activation instant, which
    /// the run's records and its jobs' clocks take (see [`prometheus::domain::RunJob`]'s
    /// `stands_at`); `None` for runs on the live clock.
    pub stands_at: Option<DateTime<Utc>>,
}

/// The answer to [`Submit`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    /// The run's id.
    pub run_id: String,
    /// `None` when the run is active now; the final state when it had already finished.
    pub finished: Option<RunStatus>,
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

/// An operator reset a DEGRADED actor: its jobs are dispatched again.
pub struct ActorRecovered {
    /// The actor.
    pub actor: String,
}

impl Message for ActorRecovered {
    type Result = ();
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

/// One job of a finished run, as reported to waiters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSummary {
    /// The job's id.
    pub job_id: String,
    /// The attempt that succeeded (0 when none did).
    pub attempts: u32,
    /// `SUCCEEDED`, `FAILED`, `SKIPPED`, `BLOCKED`.
    pub status: &'static str,
    /// Why it did not succeed.
    pub error: Option<String>,
}

/// A finished run, as reported to waiters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    /// The run.
    pub run_id: String,
    /// Its final state.
    pub state: RunStatus,
    /// Its jobs, in DAG order.
    pub jobs: Vec<JobSummary>,
}

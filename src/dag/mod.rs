//! DAGs of jobs: their definitions (`config/dags.toml`) and the pure state machine of one
//! run — which jobs are ready, what to do when an attempt succeeds, fails or times out, when
//! the run is over. The orchestrator actor executes what this module decides; keeping the
//! decisions here makes every retry, block and skip rule testable without actors or time.

mod backoff;
mod config;
mod run;

pub use crate::domain::{AttemptState, ErrorClass, RunStatus};
pub use backoff::backoff_delay;
pub use config::{CatchUp, DagDef, DagsConfig, JobDef, OnFailure, TriggerDef};
pub use run::{Action, AttemptOutcome, JobStatus, RunState, StoredAttempt};

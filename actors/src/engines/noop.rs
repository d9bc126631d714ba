//! A job that does nothing but (optionally) wait: it measures the orchestrator's own
//! overhead and serves fire drills (faults, timeouts, shutdown) without touching data.

use crate::spine::edge::{NoInput, NoOutput};
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::{EngineConfig, Issues, VersionedConfig};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Configuration of the no-op job (`config/engines/noop.toml`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoopConfig {
    /// Simulated work per job, in milliseconds.
    pub work_ms: u64,
}

impl EngineConfig for NoopConfig {
    const ENGINE: &'static str = "noop";

    fn validate(&self, issues: &mut Issues) {
        issues.check(self.work_ms > 3_600_000, "work_ms", || {
            format!("{} is out of range; use 0..=3600000", self.work_ms)
        });
    }
}

/// The no-op job.
#[derive(Default)]
pub struct NoopJob;

impl NoopJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "noop";
}

#[async_trait]
impl Job for NoopJob {
    type Config = NoopConfig;
    type Input = NoInput;
    type Output = NoOutput;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<NoopConfig>,
    ) -> Result<JobOutput<NoOutput>, JobError> {
        if cfg.config.work_ms > 0 {
            tokio::time::sleep(Duration::from_millis(cfg.config.work_ms)).await;
        }
        // Its computation is empty, but it is one: a drill's `noop:panic` fires in it.
        ctx.compute("noop", || ()).await?;
        Ok(JobOutput {
            rows: 0,
            summary: format!("waited {} ms", cfg.config.work_ms),
            emit: None,
        })
    }

    fn receive(&self, input: NoInput) {
        match input {}
    }

    fn reset(&self) {}
}

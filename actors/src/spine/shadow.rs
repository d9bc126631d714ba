//! Shadow runs: a candidate config in shadow (see `prometheus::store::ShadowStore`) runs in
//! its engine's actor right after each job of the DAG it shadows, on the same run — the
//! same inputs, read by the same run record — with its outputs stored under its own
//! config id. Nothing downstream reads them (every engine reads its upstream by the run
//! record's configs) and its result never changes the job's: a shadow that fails or panics
//! is recorded as a FAILED shadow run and the job goes on. After its sessions are done it
//! stops running until a person promotes or rejects it.

use super::job::{Job, JobContext};
use super::job_error::panic_text;
use actix::Message;
use futures::FutureExt;
use prometheus::config::{EngineConfig, Issues, VersionedConfig};
use prometheus::store::{ShadowRun, ShadowSpec, ShadowStore, Stores};
use std::panic::AssertUnwindSafe;

/// Tells an engine actor to re-read the proposals in shadow for its engine (sent when one
/// starts or ends; actors also read them when they start).
pub struct RefreshShadows;

impl Message for RefreshShadows {
    type Result = ();
}

/// A shadow ready to run: its spec and its validated config.
pub struct ActiveShadow<C> {
    /// What the store says.
    pub spec: ShadowSpec,
    /// The candidate's config.
    pub config: VersionedConfig<C>,
}

/// The shadows of `C`'s engine; one whose body is not a valid config (or no longer hashes
/// to its id) is left out with a warning.
pub async fn load<C: EngineConfig>(stores: &Stores) -> Vec<ActiveShadow<C>> {
    let specs = match stores.runtime.active_shadows(Some(C::ENGINE)).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(engine = C::ENGINE, error = %e, "cannot read the shadows; none run");
            return Vec::new();
        }
    };
    specs
        .into_iter()
        .filter_map(|spec| {
            let parsed: Result<C, String> =
                serde_json::from_str(&spec.body).map_err(|e| e.to_string());
            let config = match parsed {
                Ok(c) => {
                    let mut issues = Issues::new();
                    c.validate(&mut issues);
                    if issues.is_empty() {
                        Ok(VersionedConfig::new(c))
                    } else {
                        Err(format!("{} invalid field(s)", issues.into_pairs().len()))
                    }
                }
                Err(e) => Err(e),
            };
            match config {
                Ok(v) if v.config_id.as_str() == spec.config_id => {
                    Some(ActiveShadow { spec, config: v })
                }
                Ok(v) => {
                    tracing::warn!(proposal = %spec.proposal_id, stored = %spec.config_id, computed = %v.config_id, "shadow config id mismatch; not run");
                    None
                }
                Err(e) => {
                    tracing::warn!(proposal = %spec.proposal_id, error = %e, "shadow config invalid; not run");
                    None
                }
            }
        })
        .collect()
}

/// Runs every shadow of `jc`'s DAG and market that still has sessions to go, each on a
/// context of its own over the same run, and records each run.
pub async fn run_shadows<J: Job>(job: &J, jc: &JobContext, shadows: &[ActiveShadow<J::Config>]) {
    let run = &jc.run;
    for s in shadows
        .iter()
        .filter(|s| s.spec.dag_id == run.dag_id && s.spec.market_id == run.market.as_str())
    {
        let done = match jc
            .stores
            .runtime
            .shadow_runs(Some(&s.spec.proposal_id), None)
            .await
        {
            Ok(runs) => runs,
            Err(e) => {
                tracing::warn!(proposal = %s.spec.proposal_id, error = %e, "cannot read the shadow's runs; skipped");
                continue;
            }
        };
        // A re-run of a shadowed session runs again; a new session only while some are left.
        let again = done.iter().any(|r| r.as_of == run.as_of);
        if !again && done.len() >= s.spec.sessions as usize {
            continue;
        }
        let sjc = JobContext::new(
            run.clone(),
            jc.stores.clone(),
            jc.clock.clone(),
            jc.markets.clone(),
            jc.panels.clone(),
            jc.calendars.clone(),
        )
        .reading_as(jc.actor, jc.reads.clone());
        let result = AssertUnwindSafe(job.run(&sjc, &s.config))
            .catch_unwind()
            .await;
        let (state, detail) = match result {
            Ok(Ok(out)) => ("SUCCEEDED", out.summary),
            Ok(Err(e)) => ("FAILED", e.to_string()),
            Err(payload) => (
                "FAILED",
                format!("panicked: {}", panic_text(payload.as_ref())),
            ),
        };
        tracing::info!(proposal = %s.spec.proposal_id, state, "shadow run");
        let record = ShadowRun {
            proposal_id: s.spec.proposal_id.clone(),
            as_of: run.as_of,
            engine: s.spec.engine.clone(),
            market_id: s.spec.market_id.clone(),
            config_id: s.spec.config_id.clone(),
            run_id: run.run_id.to_string(),
            state: state.to_owned(),
            detail,
        };
        if let Err(e) = jc.stores.runtime.record_shadow_run(&record).await {
            tracing::warn!(proposal = %s.spec.proposal_id, error = %e, "shadow run not recorded");
        }
    }
}

//! The day's scenario set as the fragility and portfolio jobs see it: a claim check. The
//! set travels whole in the scenario engine's message (fast), but only its header and
//! first paths are stored, so a job whose message was lost — its actor restarted, or the
//! daemon was killed between two jobs of the run — rebuilds the set: the config the run's
//! scenario job used (named by the durable run record), the same stored history, the same
//! seed. The rebuilt set must carry the stored set id (a content hash of everything it was
//! drawn from); if it does not, the inputs changed since and the job fails closed rather
//! than measure risk against a different set.

use super::inbox::Inbox;
use super::scenarios;
use crate::spine::job_actor::JobContext;
use crate::spine::job_error::JobError;
use prometheus::domain::ScenarioSet;
use prometheus::engines::scenarios::ScenarioEngineConfig;
use prometheus::store::{ConfigStore, WorldStateStore};

/// The scenario set of the job's run: the one received for this run if it is there, else
/// rebuilt from the store. `None` when the run has no scenario job.
///
/// # Errors
/// The run's scenario job has no recorded config or stored set (permanent), the set cannot
/// be reproduced (permanent), store failures.
pub async fn of_run(
    ctx: &JobContext,
    inbox: &Inbox<ScenarioSet>,
) -> Result<Option<ScenarioSet>, JobError> {
    if !ctx.run.runs(scenarios::ScenariosJob::NAME_STR) {
        return Ok(None);
    }
    let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
    let config_id = ctx
        .upstream_config(scenarios::ScenariosJob::NAME_STR)
        .await?
        .ok_or_else(|| {
            JobError::permanent(format!(
                "no successful scenarios job for {market} {as_of} is recorded; no risk report without its scenario set"
            ))
        })?;
    if let Some(set) = inbox
        .take(&ctx.run.run_id)
        .into_iter()
        .rfind(|s| s.config_id == config_id)
    {
        return Ok(Some(set));
    }
    let runtime = &ctx.stores.runtime;
    let stored_id = runtime
        .scenario_set_id(market.as_str(), as_of, &config_id)
        .await?
        .ok_or_else(|| {
            JobError::permanent(format!(
                "no scenario set of {market} {as_of} under config {config_id} is stored; re-run the scenarios job"
            ))
        })?;
    let stored = runtime
        .config(&config_id)
        .await?
        .ok_or_else(|| JobError::permanent(format!("scenario config {config_id} is not stored")))?;
    let config: ScenarioEngineConfig = serde_json::from_str(&stored.body).map_err(|e| {
        JobError::permanent(format!(
            "stored scenario config {config_id} does not parse: {e}"
        ))
    })?;
    let (set, path_returns) = scenarios::generate(ctx, &config).await?;
    if set.set_id != stored_id {
        return Err(JobError::permanent(format!(
            "the scenario set {stored_id} of {market} {as_of} cannot be reproduced: rebuilt from the store it is {}, so its inputs changed since it was generated; re-run the engines DAG for that date",
            set.set_id
        )));
    }
    Ok(Some(scenarios::message(
        ctx,
        &config_id,
        &set,
        path_returns,
    )))
}

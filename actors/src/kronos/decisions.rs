//! The decision log: every engine job of the day's decision DAG that succeeded, with its
//! config, its run and where its outputs are stored — read from the run record, never from
//! a message.

use crate::spine::job_actor::JobContext;
use crate::spine::job_error::JobError;
use prometheus::domain::ConfigId;
use prometheus::kronos::config::KronosConfig;
use prometheus::store::{ConfigStore, DecisionRecord, KronosStore, RunStore};
use serde_json::Value;

/// Where an engine's outputs live: (table, the id field of its config naming them).
fn output_of(engine: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match engine {
        "regime" => ("regimes", None),
        "stability" => ("soft_target_classes", None),
        "scenarios" => ("scenario_sets", None),
        "fragility" => ("fragility_measures", None),
        "assessment" => ("instrument_scores", Some("strategy_id")),
        "universe" => ("universe_members", Some("universe_id")),
        "portfolio" => ("target_portfolios", Some("portfolio_id")),
        _ => return None,
    })
}

/// Logs the day's decisions; returns a summary line.
///
/// # Errors
/// Store failures; a config id in the run record that the store does not hold (permanent).
pub async fn log_decisions(ctx: &JobContext, cfg: &KronosConfig) -> Result<String, JobError> {
    let (market, as_of) = (ctx.run.market.as_str(), ctx.run.as_of);
    let runtime = &ctx.stores.runtime;
    let jobs = runtime
        .succeeded_jobs(&cfg.decision_dag, market, as_of)
        .await?;
    let mut rows = Vec::new();
    for job in jobs {
        let (Some(config_id), Some((table, key_field))) = (&job.config_id, output_of(&job.actor))
        else {
            continue;
        };
        let output_key = match key_field {
            None => market.to_owned(),
            Some(field) => {
                let stored = runtime
                    .config(&ConfigId::new(config_id.clone()))
                    .await?
                    .ok_or_else(|| {
                        JobError::permanent(format!(
                            "the run record names config {config_id} for {} but the store does not hold it",
                            job.actor
                        ))
                    })?;
                serde_json::from_str::<Value>(&stored.body)
                    .ok()
                    .and_then(|b| b.get(field).and_then(Value::as_str).map(str::to_owned))
                    .ok_or_else(|| {
                        JobError::permanent(format!(
                            "config {config_id} of {} has no `{field}`",
                            job.actor
                        ))
                    })?
            }
        };
        rows.push(DecisionRecord {
            engine: job.actor.clone(),
            market_id: market.to_owned(),
            as_of,
            config_id: config_id.clone(),
            run_id: job.run_id.clone(),
            output_table: table.to_owned(),
            output_key,
            // Which attempt succeeded is the run record's business: a decision is the same
            // whether it took one attempt or three.
            summary: format!("job {} of {}", job.job_id, cfg.decision_dag),
        });
    }
    runtime.write_decisions(&rows).await?;
    let engines: Vec<&str> = rows.iter().map(|r| r.engine.as_str()).collect();
    Ok(if rows.is_empty() {
        format!(
            "no {} job succeeded for {market} on {as_of}",
            cfg.decision_dag
        )
    } else {
        format!("{} decisions logged ({})", rows.len(), engines.join(", "))
    })
}

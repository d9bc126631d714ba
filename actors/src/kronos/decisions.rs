//! The decision log: every engine job of the day's decision DAG that succeeded, with its
//! config, its run and where its outputs are stored — read from the run record, never from
//! a message — and every successful shadow run of the day (a candidate's decision under
//! its own config, measured like the active one's so the two can be compared).

use crate::spine::job_actor::JobContext;
use crate::spine::job_error::JobError;
use prometheus::domain::ConfigId;
use prometheus::kronos::config::KronosConfig;
use prometheus::store::{
    ConfigStore, DecisionRecord, KronosStore, RunStore, SHADOW_DECISION, ShadowStore,
};
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

/// The decision of `engine` under `config_id` in run `run_id` on the job's date, or `None`
/// for an engine that decides nothing Kronos measures.
async fn decision(
    ctx: &JobContext,
    engine: &str,
    config_id: &str,
    run_id: &str,
    summary: impl FnOnce() -> String,
) -> Result<Option<DecisionRecord>, JobError> {
    let (market, as_of) = (ctx.run.market.as_str(), ctx.run.as_of);
    let Some((table, key_field)) = output_of(engine) else {
        return Ok(None);
    };
    let output_key = match key_field {
        None => market.to_owned(),
        Some(field) => {
            let stored = ctx
                .stores
                .runtime
                .config(&ConfigId::new(config_id))
                .await?
                .ok_or_else(|| {
                    JobError::permanent(format!(
                        "the run record names config {config_id} for {engine} but the store does not hold it"
                    ))
                })?;
            serde_json::from_str::<Value>(&stored.body)
                .ok()
                .and_then(|b| b.get(field).and_then(Value::as_str).map(str::to_owned))
                .ok_or_else(|| {
                    JobError::permanent(format!("config {config_id} of {engine} has no `{field}`"))
                })?
        }
    };
    Ok(Some(DecisionRecord {
        engine: engine.to_owned(),
        market_id: market.to_owned(),
        as_of,
        config_id: config_id.to_owned(),
        run_id: run_id.to_owned(),
        output_table: table.to_owned(),
        output_key,
        // Which attempt succeeded is the run record's business: a decision is the same
        // whether it took one attempt or three.
        summary: summary(),
    }))
}

/// Logs the day's decisions; returns a summary line.
///
/// # Errors
/// Store failures; a config id in the run record that the store does not hold (permanent).
pub async fn log_decisions(
    ctx: &JobContext,
    cfg: &KronosConfig,
) -> Result<(String, u64), JobError> {
    let (market, as_of) = (ctx.run.market.as_str(), ctx.run.as_of);
    let runtime = &ctx.stores.runtime;
    let jobs = runtime
        .succeeded_jobs(&cfg.decision_dag, market, as_of)
        .await?;
    let mut rows = Vec::new();
    for job in jobs {
        let Some(config_id) = &job.config_id else {
            continue;
        };
        if let Some(row) = decision(ctx, &job.actor, config_id, &job.run_id, || {
            format!("job {} of {}", job.job_id, cfg.decision_dag)
        })
        .await?
        {
            rows.push(row);
        }
    }
    let shadows = runtime.shadow_runs(None, Some((market, as_of))).await?;
    for s in shadows.iter().filter(|s| s.state == "SUCCEEDED") {
        if let Some(row) = decision(ctx, &s.engine, &s.config_id, &s.run_id, || {
            format!("{SHADOW_DECISION}{}", s.proposal_id)
        })
        .await?
        {
            rows.push(row);
        }
    }
    runtime.write_decisions(&rows).await?;
    let engines: Vec<&str> = rows.iter().map(|r| r.engine.as_str()).collect();
    let summary = if rows.is_empty() {
        format!(
            "no {} job succeeded for {market} on {as_of}",
            cfg.decision_dag
        )
    } else {
        format!("{} decisions logged ({})", rows.len(), engines.join(", "))
    };
    Ok((summary, rows.len() as u64))
}

//! `pv2 runs`: DAG runs with their job attempts, newest first.

use crate::cli::OutputFormat;
use crate::context::Context;
use prometheus::store::RunStore;
use serde_json::json;

/// Runs `pv2 runs`.
///
/// # Errors
/// Storage failures.
pub async fn run(ctx: &Context, last: u32, format: OutputFormat) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let runs = stores.runtime.dag_runs(last).await?;
    let mut docs = Vec::new();
    for r in &runs {
        let jobs = stores.runtime.job_runs(&r.run_id).await?;
        match format {
            OutputFormat::Json => docs.push(json!({
                "run_id": r.run_id, "dag": r.dag_id, "market": r.market_id, "as_of": r.as_of_date,
                "state": r.state, "trigger": r.trigger, "created_at": r.created_at, "finished_at": r.finished_at, "error": r.error,
                "attempts": jobs.iter().map(|j| json!({
                    "job": j.job_id, "actor": j.actor, "attempt": j.attempt, "state": j.state, "config_id": j.config_id,
                    "started_at": j.started_at, "finished_at": j.finished_at, "error": j.error, "error_class": j.error_class,
                })).collect::<Vec<_>>(),
            })),
            OutputFormat::Text => {
                println!("{:<34} {:<10} {:<9} {}", r.run_id, r.state, r.trigger, r.error.as_deref().unwrap_or(""));
                for j in &jobs {
                    let class = j.error_class.map(|c| format!("[{c}] ")).unwrap_or_default();
                    println!("    {:<10} #{:<2} {:<12} {class}{}", j.job_id, j.attempt, j.state, j.error.as_deref().or(j.config_id.as_deref()).unwrap_or(""));
                }
            }
        }
    }
    if format == OutputFormat::Json {
        println!("{}", serde_json::Value::Array(docs));
    } else if runs.is_empty() {
        println!("no runs yet");
    }
    stores.close().await;
    Ok(())
}

//! `pv2 run --market M --date D`: one activation of a DAG — through the running daemon when
//! there is one, in this process otherwise.

use crate::clock::SystemClock;
use crate::context::Context;
use crate::monitor::client::{find_daemon, request};
use crate::monitor::token::client_token;
use crate::orchestrator::{Submit, WaitRun};
use crate::spine::faults::FaultPlan;
use crate::spine::system::Spine;
use anyhow::{anyhow, bail};
use chrono::NaiveDate;
use prometheus::domain::{Clock, MarketId, RunStatus};
use prometheus::store::RunStore;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to run.
pub struct RunArgs {
    /// The market.
    pub market: String,
    /// The trading date.
    pub date: NaiveDate,
    /// The DAG (default: the daemon's daily DAG).
    pub dag: Option<String>,
    /// Run again even if that date already ran.
    pub rerun: bool,
}

/// Prints a run's jobs and attempts from the store.
pub(crate) async fn print_run(ctx: &Context, run_id: &str) -> anyhow::Result<RunStatus> {
    let stores = ctx.open_stores().await?;
    let run = stores
        .runtime
        .dag_run(run_id)
        .await?
        .ok_or_else(|| anyhow!("run {run_id} not found"))?;
    println!(
        "run {} — {}{}",
        run.run_id,
        run.state,
        run.error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default()
    );
    for j in stores.runtime.job_runs(run_id).await? {
        let took = j
            .finished_at
            .map(|f| {
                format!(
                    "{:.2}s",
                    (f - j.started_at).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_default();
        println!(
            "  {:<10} attempt {:<2} {:<12} {:>8}  {}",
            j.job_id,
            j.attempt,
            j.state,
            took,
            j.error.as_deref().or(j.config_id.as_deref()).unwrap_or("")
        );
    }
    stores.close().await;
    Ok(run.state)
}

/// Runs `pv2 run`.
///
/// # Errors
/// The run could not be activated, or it failed.
pub async fn run(ctx: &Context, args: RunArgs, faults: FaultPlan) -> anyhow::Result<()> {
    let dag = args
        .dag
        .clone()
        .unwrap_or_else(|| ctx.app.daemon.daily_dag.clone());
    let state_dir = PathBuf::from(&ctx.app.daemon.state_dir);
    let run_id = if let Some(daemon) = find_daemon(&state_dir).await {
        if !faults.is_empty() {
            bail!(
                "--faults applies to an in-process run; a daemon is running (pid {}): pass faults to the daemon",
                daemon.pid
            );
        }
        let token = client_token(&state_dir)?;
        let body = json!({"market": args.market, "date": args.date, "dag": dag, "rerun": args.rerun, "wait": true}).to_string();
        let r = request(
            &daemon.listen,
            "POST",
            "/runs",
            Some(&token),
            &body,
            Duration::from_secs(24 * 3600),
        )
        .await?;
        let v: serde_json::Value = serde_json::from_str(&r.body)
            .map_err(|e| anyhow!("bad answer from the daemon: {e}"))?;
        if r.status != 200 {
            bail!(
                "the daemon refused the run: {}",
                v["error"].as_str().unwrap_or(&r.body)
            );
        }
        v["run_id"].as_str().unwrap_or_default().to_owned()
    } else {
        let stores = ctx.open_stores().await?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let spine = Spine::start(ctx, stores, faults, clock).await?;
        let submit = Submit {
            dag_id: dag,
            market: MarketId::new(&args.market),
            as_of: args.date,
            trigger: "cli".into(),
            rerun: args.rerun,
            run_key: None,
            stands_at: None,
        };
        let submitted = spine
            .orchestrator
            .send(submit)
            .await?
            .map_err(|e| anyhow!(e))?;
        if submitted.finished.is_none() {
            if let Some(rx) = spine
                .orchestrator
                .send(WaitRun(submitted.run_id.clone()))
                .await?
            {
                let _ = rx.await;
            }
        } else {
            eprintln!(
                "{} already finished; pass --rerun to run it again",
                submitted.run_id
            );
        }
        spine
            .shutdown(Duration::from_secs_f64(ctx.app.daemon.drain_timeout_secs))
            .await;
        spine.stores.close().await;
        submitted.run_id
    };
    let state = print_run(ctx, &run_id).await?;
    if state == RunStatus::Failed {
        bail!("run {run_id} failed");
    }
    Ok(())
}

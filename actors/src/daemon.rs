//! The daemon's life cycle: start the spine, resume unfinished runs, serve the API, activate
//! the daily DAG on schedule, and on SIGTERM/SIGINT drain and exit cleanly.

use crate::clock::SystemClock;
use crate::context::Context as Cli;
use crate::faults::FaultPlan;
use crate::monitor::client::{DaemonInfo, info_path};
use crate::monitor::{http, token};
use crate::orchestrator::{Resume, Submit};
use crate::system::Spine;
use anyhow::Context as _;
use chrono::{Datelike, NaiveTime, Timelike, Utc, Weekday};
use prometheus::domain::{Clock, MarketId};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Activates the daily DAG for each configured market once per weekday, after the
/// configured UTC time (interim trigger; market calendars replace it).
async fn schedule_loop(spine: Arc<Spine>, dag: String, markets: Vec<String>, at: NaiveTime) {
    let mut done: BTreeSet<(String, chrono::NaiveDate)> = BTreeSet::new();
    loop {
        let now = SystemClock.now();
        let today = now.date_naive();
        let weekday = !matches!(today.weekday(), Weekday::Sat | Weekday::Sun);
        let due = now.time().num_seconds_from_midnight() >= at.num_seconds_from_midnight();
        if weekday && due {
            for m in &markets {
                if done.contains(&(m.clone(), today)) {
                    continue;
                }
                let submit = Submit {
                    dag_id: dag.clone(),
                    market: MarketId::new(m),
                    as_of: today,
                    trigger: "schedule".into(),
                    rerun: false,
                };
                match spine.orchestrator.send(submit).await {
                    Ok(Ok(s)) => {
                        tracing::info!(run_id = %s.run_id, "daily run activated");
                        done.insert((m.clone(), today));
                    }
                    Ok(Err(e)) => {
                        tracing::warn!(market = %m, error = %e, "daily run not activated")
                    }
                    Err(e) => tracing::error!(error = %e, "orchestrator unavailable"),
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(20)).await;
    }
}

async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut term), Ok(mut int)) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            },
            _ => {
                let _ = tokio::signal::ctrl_c().await;
                "interrupt"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "interrupt"
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
///
/// # Errors
/// Configuration, storage or listener failures at start.
pub async fn run(cli: &Cli, listen: Option<String>, faults: FaultPlan) -> anyhow::Result<()> {
    let d = &cli.app.daemon;
    let listen = listen.unwrap_or_else(|| d.listen.clone());
    let state_dir = PathBuf::from(&d.state_dir);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let stores = cli.open_stores().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let spine = Arc::new(Spine::start(cli, stores, faults, clock).await?);
    let token = token::daemon_token(&state_dir)?;
    let server = http::serve(&listen, Arc::clone(&spine), token, d.daily_dag.clone())?;
    let info = DaemonInfo {
        pid: std::process::id(),
        listen: listen.clone(),
    };
    std::fs::write(info_path(&state_dir), serde_json::to_string(&info)?)
        .context("writing the daemon state file")?;
    let resumed = spine
        .orchestrator
        .send(Resume)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .map_err(|e| anyhow::anyhow!(e))?;
    spine.events.record(
        "daemon",
        "started",
        format!(
            "pid {}, listening on {listen}, resumed {} runs",
            info.pid,
            resumed.len()
        ),
    );
    eprintln!(
        "pv2 daemon: pid {}, listening on http://{listen} (resumed {} unfinished runs)",
        info.pid,
        resumed.len()
    );
    let at =
        NaiveTime::parse_from_str(&d.daily_run_utc, "%H:%M").context("daemon.daily_run_utc")?;
    let schedule = tokio::spawn(schedule_loop(
        Arc::clone(&spine),
        d.daily_dag.clone(),
        d.markets.clone(),
        at,
    ));
    let signal = shutdown_signal().await;
    eprintln!("pv2 daemon: {signal} received, draining");
    spine.events.record("daemon", "stopping", signal);
    schedule.abort();
    spine
        .shutdown(Duration::from_secs_f64(d.drain_timeout_secs))
        .await;
    server.stop(true).await;
    spine.stores.close().await;
    let _ = std::fs::remove_file(info_path(&state_dir));
    eprintln!("pv2 daemon: stopped at {}", Utc::now().to_rfc3339());
    Ok(())
}

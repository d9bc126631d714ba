//! The daemon's life cycle: start the spine, resume unfinished runs, serve the API, start
//! the scheduler on the real clock, and on SIGTERM/SIGINT drain and exit cleanly.

use crate::clock::SystemClock;
use crate::context::Context as Cli;
use crate::monitor::client::{DaemonInfo, info_path};
use crate::monitor::{http, token};
use crate::orchestrator::Resume;
use crate::scheduler::{SchedulerClock, SchedulerOptions};
use crate::spine::faults::FaultPlan;
use crate::spine::system::Spine;
use anyhow::Context as _;
use chrono::Utc;
use prometheus::domain::{Clock, EventKind};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Resolves on SIGTERM or Ctrl-C with the signal's name: what stops the daemon and the
/// experiment worker.
pub async fn shutdown_signal() -> &'static str {
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
    let spine = Arc::new(Spine::start(cli, stores, faults, Arc::clone(&clock)).await?);
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
        EventKind::Started,
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
    let scheduler = if d.scheduler {
        let opts = SchedulerOptions {
            scheduler_id: "daemon".into(),
            clock: SchedulerClock::Real(Arc::clone(&clock)),
            start: None,
            until: None,
            wait_for_runs: false,
            resubmit_recorded: false,
            catch_up: true,
            on_activation: None,
        };
        Some(spine.start_scheduler(opts, None, None)?)
    } else {
        spine
            .events
            .record("scheduler", EventKind::Disabled, "daemon.scheduler = false");
        None
    };
    let experiments = actix::spawn(crate::kronos::daemon_worker::run(
        cli.clone(),
        Arc::clone(&spine),
        Arc::clone(&clock),
    ));
    let signal = shutdown_signal().await;
    eprintln!("pv2 daemon: {signal} received, draining");
    // A claimed experiment is left to its lease: the next worker (or start) takes it over.
    experiments.abort();
    spine.events.record("daemon", EventKind::Stopping, signal);
    if let Some(s) = scheduler {
        s.do_send(crate::scheduler::Stop);
    }
    spine
        .shutdown(Duration::from_secs_f64(d.drain_timeout_secs))
        .await;
    server.stop(true).await;
    spine.stores.close().await;
    let _ = std::fs::remove_file(info_path(&state_dir));
    eprintln!("pv2 daemon: stopped at {}", Utc::now().to_rfc3339());
    Ok(())
}

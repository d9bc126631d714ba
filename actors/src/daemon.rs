//! The daemon's life cycle: start the spine, resume unfinished runs, serve the API, start
//! the scheduler on the real clock, and on SIGTERM/SIGINT drain and exit cleanly.

use crate::clock::SystemClock;
use crate::context::Context as Cli;
use crate::monitor::access::{self, Access};
use crate::monitor::client::{DaemonInfo, info_path};
use crate::monitor::{freshness, http, token};
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

/// How this daemon serves its API: the control token, the read token (`PV2_READ_TOKEN`,
/// else `daemon.read_token`), the default DAG, when data is due, where the dashboard's
/// chart library is.
pub fn serve_options(cli: &Cli, control: String) -> http::ServeOptions {
    let d = &cli.app.daemon;
    let config_dir = match cli.source.root() {
        prometheus::config::ConfigRoot::Dir(dir) => Some(dir.as_path()),
        prometheus::config::ConfigRoot::Builtin => None,
    };
    http::ServeOptions {
        access: Access {
            control,
            read: access::read_token(&d.read_token),
        },
        daily_dag: d.daily_dag.clone(),
        data_due: chrono::Duration::minutes(i64::from(d.data_due_minutes)),
        ui_dirs: crate::monitor::ui_dirs(config_dir),
    }
}

/// Reconciles every account's ledger before anything trades: a mismatch halts trading
/// (persisted, audited) and raises an alert. Returns how many accounts did not reconcile.
///
/// # Errors
/// Store failures.
pub async fn reconcile_ledgers(spine: &Spine) -> anyhow::Result<usize> {
    use crate::engines::execution::{RECONCILIATION_ALERT, account_mismatches, halt_on_mismatch};
    use prometheus::execution::config::ExecutionConfig;
    use prometheus::execution::ledger::Provenance;
    use prometheus::store::{ConfigStore, ExecutionStore};
    let rt = &spine.stores.runtime;
    let config: ExecutionConfig = match rt.active_config("execution").await? {
        Some(c) => serde_json::from_str(&c.body)?,
        None => ExecutionConfig::default(),
    };
    let mut bad = 0;
    for key in rt.accounts().await? {
        let mismatch = account_mismatches(rt, &key, config.initial_capital).await?;
        if mismatch.is_empty() {
            continue;
        }
        bad += 1;
        let now = spine.events.now();
        let subject = format!("{}/{}", key.account_id, key.market_id);
        let reason = format!(
            "at start, the ledger of {subject} does not reconcile: {}",
            mismatch.join("; ")
        );
        let provenance = Provenance {
            run_id: "daemon-start".into(),
            config_id: "reconciliation".into(),
        };
        halt_on_mismatch(rt, &key, now.date_naive(), &reason, &provenance, now).await?;
        let detail = format!("{reason}; trading is HALTED: fix the ledger, then `pv2 resume`");
        if spine
            .events
            .telemetry()
            .raise(crate::monitor::telemetry::Alert {
                kind: RECONCILIATION_ALERT.into(),
                subject,
                detail: detail.clone(),
                raised_at: now,
            })
        {
            spine.events.record("execution", EventKind::Alert, detail);
        }
    }
    Ok(bad)
}

/// Runs the daemon until SIGTERM or SIGINT.
///
/// # Errors
/// Configuration, storage or listener failures at start.
pub async fn run(cli: &Cli, listen: Option<String>, faults: FaultPlan) -> anyhow::Result<()> {
    let d = &cli.app.daemon;
    let listen = listen.unwrap_or_else(|| d.listen.clone());
    // Refused before anything starts: a listener others can reach must have a read token.
    access::check_listener(&listen, access::read_token(&d.read_token).as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    let state_dir = PathBuf::from(&d.state_dir);
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let stores = cli.open_stores().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let spine = Arc::new(Spine::start(cli, stores, faults, Arc::clone(&clock)).await?);
    let token = token::daemon_token(&state_dir)?;
    let server = http::serve(&listen, Arc::clone(&spine), serve_options(cli, token))?;
    let info = DaemonInfo {
        pid: std::process::id(),
        listen: listen.clone(),
    };
    std::fs::write(info_path(&state_dir), serde_json::to_string(&info)?)
        .context("writing the daemon state file")?;
    reconcile_ledgers(&spine).await?;
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
            dates_in_flight: 1,
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
    let watchdog = (d.freshness_check_secs > 0.0).then(|| {
        actix::spawn(freshness::run(
            Arc::clone(&spine),
            Arc::clone(&clock),
            chrono::Duration::minutes(i64::from(d.data_due_minutes)),
            Duration::from_secs_f64(d.freshness_check_secs),
        ))
    });
    let experiments = actix::spawn(crate::kronos::daemon_worker::run(
        cli.clone(),
        Arc::clone(&spine),
        Arc::clone(&clock),
    ));
    let signal = shutdown_signal().await;
    eprintln!("pv2 daemon: {signal} received, draining");
    // A claimed experiment is left to its lease: the next worker (or start) takes it over.
    experiments.abort();
    if let Some(w) = watchdog {
        w.abort();
    }
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

//! The daemon's own Kronos worker: in quiet windows only (see [`super::quiet`]) it applies
//! the promotion policy (see [`super::promotion`]) and runs queued experiments, one at a
//! time, the window checked again before each and, while one runs, every `poll_secs`: when
//! a market opens or a priority-1 job falls due within two polls, the experiment pauses at
//! its next rebalance and goes back to the queue (the claim not counted as an attempt),
//! to start afresh in the next quiet window. It reads Kronos's active config on every
//! look, so `pv2 config apply kronos` switches it on or off; its clock is the daemon's (a
//! simulated one in tests), so "quiet" means what the scheduler means.

use super::experiments::{Worked, judge_search, work_one_until};
use super::promotion::auto_promote;
use super::quiet::busy_reason;
use crate::context::Context;
use crate::spine::system::Spine;
use prometheus::domain::Clock;
use prometheus::kronos::config::KronosConfig;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Runs until the task is dropped (the daemon aborts it on shutdown; a claimed experiment is
/// left to its lease).
pub async fn run(ctx: Context, spine: Arc<Spine>, clock: Arc<dyn Clock>) {
    let stores = spine.stores.clone();
    let worker = format!("daemon-{}", std::process::id());
    let setup = || -> anyhow::Result<_> {
        let dags = crate::spine::system::load_dags(&ctx)?;
        let calendars = crate::scheduler::calendars(&ctx.markets).map_err(anyhow::Error::msg)?;
        let bindings = crate::scheduler::bindings(&dags, &calendars, None, None)
            .map_err(anyhow::Error::msg)?;
        Ok((dags, calendars, bindings))
    };
    let (dags, calendars, bindings) = match setup() {
        Ok((d, c, b)) => (Arc::new(d), Arc::new(c), Arc::new(b)),
        Err(e) => {
            tracing::error!(error = %e, "the experiment worker cannot read the DAGs; it stays off");
            return;
        }
    };
    loop {
        let cfg = match crate::spine::engine_config::resolve_config::<KronosConfig>(
            &ctx.source,
            &stores.runtime,
            clock.as_ref(),
        )
        .await
        {
            Ok(c) => c.config,
            Err(e) => {
                tracing::warn!(error = %e, "experiment worker: no Kronos config");
                tokio::time::sleep(Duration::from_secs(60)).await;
                continue;
            }
        };
        let pause = Duration::from_secs(cfg.experiments.poll_secs);
        let margin =
            chrono::Duration::seconds(i64::try_from(cfg.experiments.lease_secs).unwrap_or(600));
        if let Some(why) = busy_reason(clock.now(), margin, &dags, &bindings, &calendars) {
            tracing::debug!(reason = %why, "experiment worker: not a quiet window");
            tokio::time::sleep(pause).await;
            continue;
        }
        // Configs change between the day's chains, never inside one.
        if let Err(e) = auto_promote(&spine, &cfg.promotion, clock.now()).await {
            tracing::warn!(error = %e, "promotion policy: storage failed");
        }
        if !cfg.experiments.daemon_worker {
            tokio::time::sleep(pause).await;
            continue;
        }
        // While it runs: paused (back to the queue) as soon as the window closes.
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let (stop, clock) = (Arc::clone(&stop), Arc::clone(&clock));
            let (dags, calendars, bindings) = (
                Arc::clone(&dags),
                Arc::clone(&calendars),
                Arc::clone(&bindings),
            );
            let soon = chrono::Duration::seconds(
                2 * i64::try_from(cfg.experiments.poll_secs).unwrap_or(60),
            );
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(pause).await;
                    if let Some(why) = busy_reason(clock.now(), soon, &dags, &bindings, &calendars)
                    {
                        tracing::info!(reason = %why, "experiment worker: pausing the experiment");
                        stop.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            })
        };
        let worked = work_one_until(&ctx, &stores, &cfg, &worker, Some(&stop)).await;
        watcher.abort();
        match worked {
            Ok(Some((worked, search))) => {
                if !matches!(worked, Worked::LostLease | Worked::Paused)
                    && let Err(e) = judge_search(&stores, &cfg, &search).await
                {
                    tracing::warn!(error = %e, search = %search, "experiment worker: judging failed");
                }
            }
            Ok(None) => tokio::time::sleep(pause).await,
            Err(e) => {
                tracing::warn!(error = %e, "experiment worker: storage failed");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

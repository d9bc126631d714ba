//! The daemon's own Kronos worker: in quiet windows only (see [`super::quiet`]) it applies
//! the promotion policy (see [`super::promotion`]) and runs queued experiments, one at a
//! time, the window checked again before each. It reads Kronos's active config on every
//! look, so `pv2 config apply kronos` switches it on or off; its clock is the daemon's (a
//! simulated one in tests), so "quiet" means what the scheduler means.

use super::experiments::{Worked, judge_search, work_one};
use super::promotion::auto_promote;
use super::quiet::busy_reason;
use crate::context::Context;
use crate::spine::system::Spine;
use prometheus::domain::Clock;
use prometheus::kronos::config::KronosConfig;
use std::sync::Arc;
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
        Ok(s) => s,
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
        match work_one(&ctx, &stores, &cfg, &worker).await {
            Ok(Some((worked, search))) => {
                if worked != Worked::LostLease
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

//! `pv2 bench kronos`: the wall time of a Kronos search — a sweep of N candidates and its
//! baseline — run by one or more `pv2 kronos worker` processes on the shared queue, as a
//! sweep that outgrows one worker would be.

use crate::cli::BenchKronosArgs;
use crate::clock::SystemClock;
use crate::context::Context;
use crate::kronos::candidates::{self, Provenance};
use crate::kronos::experiments::{enqueue_search, judge_search};
use crate::spine::engine_config::resolve_config;
use anyhow::{Context as _, bail};
use prometheus::domain::Clock;
use prometheus::kronos::config::KronosConfig;
use prometheus::kronos::proposals::sweep;
use prometheus::store::{ExperimentStore, KronosStore};
use serde_json::json;
use std::time::{Duration, Instant};

/// Runs the benchmark.
///
/// # Errors
/// Storage failures, workers that cannot start, experiments that fail.
pub async fn run(ctx: &Context, args: &BenchKronosArgs) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let db = &stores.runtime;
    let cfg = resolve_config::<KronosConfig>(&ctx.source, db, &SystemClock)
        .await?
        .config;
    let now = SystemClock.now();
    let search = format!("bench-{}", now.format("%Y%m%dT%H%M%S"));
    let mut proposed = 0;
    if let Some(e) = &args.engine {
        candidates::spec(e).ok_or_else(|| anyhow::anyhow!(candidates::unknown_engine(e)))?;
    }
    for engine in candidates::ENGINES {
        if args.engine.as_deref().is_some_and(|e| e != engine) {
            continue;
        }
        let Some(spec) = candidates::spec(engine) else {
            continue;
        };
        let (base, body) = candidates::active_in(ctx, db, engine).await?;
        for c in sweep(engine, &body, spec.tunable, args.candidates - proposed) {
            let record = candidates::proposal(
                &spec,
                &c,
                &Provenance {
                    market: &args.market,
                    base: &base,
                    base_body: &body,
                    sweep_id: &search,
                    by: "bench",
                    at: now,
                },
            )?;
            if record.state == "PROPOSED" && db.insert_proposal(&record).await? {
                proposed += 1;
            }
        }
        if proposed >= args.candidates {
            break;
        }
    }
    let queued = enqueue_search(
        &stores,
        &cfg,
        &search,
        &args.market,
        args.as_of,
        &SystemClock,
    )
    .await?;
    let exe = std::env::current_exe().context("locating the pv2 binary")?;
    let t0 = Instant::now();
    let mut children = Vec::new();
    for i in 0..args.workers.max(1) {
        let mut cmd = std::process::Command::new(&exe);
        if let prometheus::config::ConfigRoot::Dir(dir) = ctx.source.root() {
            cmd.arg("--config").arg(dir);
        }
        cmd.args(["--historical-db", &ctx.app.storage.historical_db])
            .args(["--runtime-db", &ctx.app.storage.runtime_db])
            .args(["kronos", "worker", "--poll-secs", "1", "--name"])
            .arg(format!("{search}-w{i}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        children.push(cmd.spawn().context("starting a worker")?);
    }
    let finished = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let exps = db.experiments(Some(&search)).await?;
        if exps
            .iter()
            .all(|e| e.state == "DONE" || e.state == "FAILED")
        {
            break exps;
        }
        if t0.elapsed() > Duration::from_secs(6 * 3600) {
            bail!("the search did not finish in 6 hours");
        }
    };
    let wall = t0.elapsed().as_secs_f64();
    for mut c in children {
        let _ = c.kill();
        let _ = c.wait();
    }
    judge_search(&stores, &cfg, &search).await?;
    let failed = finished.iter().filter(|e| e.state == "FAILED").count();
    // Worker-seconds per experiment: what one experiment costs a worker.
    let per = wall * args.workers.max(1) as f64 / queued.max(1) as f64;
    let e = &cfg.experiments;
    if args.json {
        println!(
            "{}",
            json!({
                "search": search, "candidates": proposed, "experiments": queued, "failed": failed,
                "workers": args.workers, "wall_seconds": wall,
                "worker_seconds_per_experiment": per,
                "in_sample_months": e.in_sample_months, "holdout_months": e.holdout_months,
            })
        );
    } else {
        println!(
            "search {search}: {proposed} candidates + baseline = {queued} experiments ({} + {} months, {failed} failed), {} worker(s): {wall:.1} s wall, {per:.1} worker-seconds per experiment",
            e.in_sample_months, e.holdout_months, args.workers,
        );
    }
    stores.close().await;
    Ok(())
}

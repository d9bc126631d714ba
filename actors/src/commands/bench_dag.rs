//! `pv2 bench dag`: the daily `engines` DAG (regime → stability → scenarios → fragility →
//! assessment → universe → portfolio) through the real actors on a large synthetic market,
//! timed per run and per job.
//!
//! The market is generated, loaded and derived into scratch SQLite databases under `--dir`
//! (as `pv2 demo` does), then the DAG runs for the last `--runs` sessions one after the
//! other, as the scheduler would after each close. The first run is *cold*: its jobs read
//! the whole history into the spine's panel cache. Later runs are what the daemon does each
//! day (the cache holds the history and reads only the new session), which is the figure
//! the design's target refers to.

use super::bench_ingest::remove_sqlite;
use super::demo::load_recorded;
use super::derive::derive_marked;
use crate::cli::{BenchDagArgs, OutputFormat};
use crate::clock::SystemClock;
use crate::context::Context;
use crate::spine::faults::FaultPlan;
use crate::spine::system::Spine;
use anyhow::{Context as _, anyhow, bail};
use chrono::{Datelike, NaiveDate};
use prometheus::domain::{Clock, MarketId, RunId, RunStatus};
use prometheus::store::RunStore;
use prometheus::synthetic_market::{SyntheticMarketParams, generate, weekdays};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One timed DAG run.
struct Timed {
    date: NaiveDate,
    state: RunStatus,
    seconds: f64,
    /// Milliseconds per job (its last attempt, start to finish).
    jobs: BTreeMap<String, f64>,
}

/// Runs `pv2 bench dag`.
///
/// # Errors
/// Invalid sizes, an unwritable directory, storage failures or a spine that cannot start.
pub async fn run(ctx: &Context, args: &BenchDagArgs) -> anyhow::Result<()> {
    if args.runs == 0 {
        bail!("--runs 0 times nothing; use 1 or more");
    }
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let dir = args
        .dir
        .canonicalize()
        .with_context(|| format!("resolving {}", args.dir.display()))?;
    let mut ctx = ctx.clone();
    for (name, url) in [
        ("historical.db", &mut ctx.app.storage.historical_db),
        ("runtime.db", &mut ctx.app.storage.runtime_db),
    ] {
        let path = dir.join(name);
        remove_sqlite(&path);
        *url = format!("sqlite://{}", path.display());
    }
    let market = MarketId::new(&ctx.app.demo.market);
    let end =
        NaiveDate::parse_from_str(&ctx.app.demo.end_date, "%Y-%m-%d").context("demo.end_date")?;
    let start = NaiveDate::from_ymd_opt(
        end.year() - args.years as i32,
        end.month(),
        end.day().min(28),
    )
    .ok_or_else(|| anyhow!("--years {} reaches before year 1", args.years))?;
    let sessions = weekdays(start, end);
    let params = SyntheticMarketParams::new(args.instruments, args.seed, market.clone()).check()?;

    let t = Instant::now();
    let generated = {
        let sessions = sessions.clone();
        tokio::task::spawn_blocking(move || generate(&params, &sessions))
            .await
            .context("generator task")?
    };
    let stores = ctx.open_stores().await?;
    let (written, batch) = load_recorded(
        &stores.historical,
        &generated,
        &market,
        args.seed,
        &sessions,
    )
    .await?;
    derive_marked(
        &ctx,
        &stores.historical,
        &RunId::new(format!("bench-{batch}")),
    )
    .await?;
    let prepare = t.elapsed().as_secs_f64();
    drop(generated);

    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let spine = Spine::start(&ctx, stores.clone(), FaultPlan::default(), clock).await?;
    let mut timed = Vec::new();
    for &date in &sessions[sessions.len().saturating_sub(args.runs)..] {
        let t = Instant::now();
        let (run_id, state) = spine
            .run_and_wait("engines", &market, date, "bench")
            .await?;
        let seconds = t.elapsed().as_secs_f64();
        let mut jobs = BTreeMap::new();
        for j in stores.runtime.job_runs(&run_id).await? {
            if let Some(end) = j.finished_at {
                let ms = (end - j.started_at).num_microseconds().unwrap_or(0) as f64 / 1e3;
                jobs.insert(j.job_id, ms);
            }
        }
        timed.push(Timed {
            date,
            state,
            seconds,
            jobs,
        });
    }
    spine
        .shutdown(Duration::from_secs_f64(ctx.app.daemon.drain_timeout_secs))
        .await;
    stores.close().await;

    let warm: Vec<f64> = timed.iter().skip(1).map(|r| r.seconds).collect();
    let warm_mean = (!warm.is_empty()).then(|| warm.iter().sum::<f64>() / warm.len() as f64);
    let warm_max = warm.iter().copied().reduce(f64::max);
    let rows = written.inserted + written.updated + written.unchanged;
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "instruments": args.instruments, "sessions": sessions.len(), "price_rows": rows,
                "prepare_seconds": prepare,
                "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                "runs": timed.iter().enumerate().map(|(i, r)| json!({
                    "date": r.date.to_string(), "state": r.state.as_str(), "cold": i == 0,
                    "seconds": r.seconds, "job_ms": r.jobs,
                })).collect::<Vec<_>>(),
                "warm_mean_seconds": warm_mean, "warm_max_seconds": warm_max,
            })
        ),
        OutputFormat::Text => {
            println!(
                "engines DAG on {} instruments × {} sessions ({rows} price rows; generated, loaded and derived in {prepare:.1}s)",
                args.instruments,
                sessions.len()
            );
            let names: Vec<&String> = timed
                .iter()
                .flat_map(|r| r.jobs.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let header: Vec<String> = names.iter().map(|n| format!("{n:>11}")).collect();
            println!(
                "  {:<10} {:<9} {:>8} {}",
                "date",
                "state",
                "total s",
                header.join("")
            );
            for (i, r) in timed.iter().enumerate() {
                let cells: Vec<String> = names
                    .iter()
                    .map(|n| {
                        r.jobs
                            .get(*n)
                            .map_or(format!("{:>11}", "-"), |ms| format!("{ms:>9.0}ms"))
                    })
                    .collect();
                println!(
                    "  {} {:<9} {:>8.2} {}{}",
                    r.date,
                    r.state,
                    r.seconds,
                    cells.join(""),
                    if i == 0 {
                        "  (cold: loads the history)"
                    } else {
                        ""
                    }
                );
            }
            if let (Some(mean), Some(max)) = (warm_mean, warm_max) {
                println!("  warm runs (the daemon's daily case): mean {mean:.2}s, max {max:.2}s");
            }
        }
    }
    if let Some(bad) = timed.iter().find(|r| r.state != RunStatus::Succeeded) {
        bail!("the engines DAG for {} ended {}", bad.date, bad.state);
    }
    Ok(())
}

//! `pv2 backfill --market M --from D --to D`: the scheduler on a simulated clock, driving
//! the same orchestrator and actors as the daemon over past sessions, one run at a time.
//! Its watermark and activations are stored under an id made of the DAG, market and range,
//! so running the same command again after an interruption resumes where it stopped.

use crate::cli::{BackfillArgs, OutputFormat};
use crate::context::Context;
use crate::monitor::client::find_daemon;
use crate::scheduler::{
    ActivationObserver, SchedulerClock, SchedulerOptions, SchedulerReport, SimulatedClock,
    WhenFinished, start_of_day,
};
use crate::spine::faults::FaultPlan;
use crate::spine::system::Spine;
use anyhow::{anyhow, bail};
use chrono::{DateTime, TimeDelta, Utc};
use prometheus::domain::Clock;
use prometheus::store::ScheduleStore;
use serde_json::json;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The scheduler id of a backfill: one watermark per DAG selection, market and range.
pub fn backfill_id(args: &BackfillArgs) -> String {
    format!(
        "backfill:{}:{}:{}:{}",
        args.dag.as_deref().unwrap_or("*"),
        args.market,
        args.from,
        args.to
    )
}

/// Runs `pv2 backfill`.
///
/// # Errors
/// A running daemon (two orchestrators must not share the runtime database), an unknown
/// market or DAG, dates outside the calendars, or runs that failed.
pub async fn run(ctx: &Context, args: &BackfillArgs, faults: FaultPlan) -> anyhow::Result<()> {
    let state_dir = PathBuf::from(&ctx.app.daemon.state_dir);
    if let Some(d) = find_daemon(&state_dir).await {
        bail!(
            "a daemon is running (pid {}, {}); stop it before a backfill — two orchestrators must not share one runtime database",
            d.pid,
            d.listen
        );
    }
    let calendar = super::calendar::calendar_of(ctx, &args.market)?;
    super::calendar::check_range(&calendar, args.from, args.to)?;
    let dags = crate::spine::system::load_dags(ctx)?;
    let calendars = crate::scheduler::calendars(&ctx.markets).map_err(anyhow::Error::msg)?;
    let bound =
        crate::scheduler::bindings(&dags, &calendars, Some(&args.market), args.dag.as_deref())
            .map_err(anyhow::Error::msg)?;
    if bound.is_empty() {
        bail!(
            "nothing to backfill: no DAG{} is triggered by a state of {} (see [dag.trigger] in dags.toml)",
            args.dag
                .as_deref()
                .map(|d| format!(" `{d}`"))
                .unwrap_or_default(),
            args.market
        );
    }
    let sessions = calendar.sessions(args.from, args.to).len();
    let tz = calendar.tz();
    let start = start_of_day(tz, args.from);
    let until: DateTime<Utc> =
        start_of_day(tz, args.to + TimeDelta::days(1)) - TimeDelta::seconds(1);
    let id = backfill_id(args);
    let stores = ctx.open_stores().await?;
    let watermark = stores.runtime.watermark(&id).await?;
    if watermark.is_some_and(|w| w >= until) {
        eprintln!("{id} is complete; nothing left to run");
    } else if let Some(w) = watermark {
        eprintln!(
            "resuming {id} after {}",
            w.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z")
        );
    }
    let clock = Arc::new(SimulatedClock::new(
        watermark.map_or(start, |w| w.max(start)),
    ));
    let dyn_clock: Arc<dyn Clock> = Arc::clone(&clock) as Arc<dyn Clock>;
    let spine = Spine::start(ctx, stores, faults, dyn_clock).await?;
    let bar = crate::progress::bar((sessions * bound.len()) as u64, "backfill");
    let progress = bar.clone();
    let observer: ActivationObserver = Arc::new(move |a| {
        progress.set_message(a.as_of.to_string());
        progress.inc(1);
    });
    let opts = SchedulerOptions {
        scheduler_id: id.clone(),
        clock: SchedulerClock::Simulated(clock),
        start: Some(start),
        until: Some(until),
        wait_for_runs: true,
        dates_in_flight: usize::from(args.dates_in_flight),
        resubmit_recorded: true,
        catch_up: false,
        on_activation: Some(observer),
    };
    let t0 = Instant::now();
    let report = match spine.start_scheduler(opts, Some(&args.market), args.dag.as_deref()) {
        Ok(scheduler) => {
            let done = scheduler.send(WhenFinished).await?;
            done.await
                .map_err(|_| anyhow!("the scheduler stopped before the end of the range"))
        }
        Err(e) => Err(e),
    };
    bar.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let recorded = spine
        .stores
        .runtime
        .activations(start, until)
        .await?
        .into_iter()
        .filter(|a| a.scheduler_id == id)
        .count();
    spine
        .shutdown(Duration::from_secs_f64(ctx.app.daemon.drain_timeout_secs))
        .await;
    spine.stores.close().await;
    let report = report?;
    print_summary(args, (sessions, bound.len()), recorded, &report, secs);
    if !report.failed_runs.is_empty() || !report.refused.is_empty() || report.errors > 0 {
        bail!(
            "{} runs did not succeed, {} activations were refused and {} could not be fired (the log says why); run the same command again to retry them",
            report.failed_runs.len(),
            report.refused.len(),
            report.errors
        );
    }
    Ok(())
}

fn print_summary(
    args: &BackfillArgs,
    (sessions, dags): (usize, usize),
    recorded: usize,
    r: &SchedulerReport,
    secs: f64,
) {
    let handled = r.fired + r.resumed;
    // Sessions this pass took through every DAG bound to the market.
    let per_second = handled as f64 / dags.max(1) as f64 / secs.max(1e-9);
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            json!({
                "market": args.market,
                "from": args.from,
                "to": args.to,
                "dag": args.dag,
                "sessions": sessions,
                "fired": r.fired,
                "resumed": r.resumed,
                "already_done": r.already_recorded,
                "recorded_in_range": recorded,
                "failed_runs": r.failed_runs,
                "refused": r.refused,
                "seconds": secs,
                "sessions_per_second": per_second,
            })
        ),
        OutputFormat::Text => {
            println!(
                "backfill {} {}..{}: {sessions} sessions; this pass fired {}, resumed {}, found {} done, in {secs:.1}s ({:.1} runs/s, {per_second:.1} sessions/s); {recorded} activations recorded for the range",
                args.market,
                args.from,
                args.to,
                r.fired,
                r.resumed,
                r.already_recorded,
                handled as f64 / secs.max(1e-9)
            );
            for f in &r.failed_runs {
                println!("  not succeeded: {f}");
            }
            for f in &r.refused {
                println!("  refused: {f}");
            }
        }
    }
}

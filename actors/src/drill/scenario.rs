//! One drill scenario: the day's chain on one scratch copy of the databases, with at most
//! one fault armed, in an actor system of its own (its own thread and runtime), so nothing
//! of one scenario — actors, caches, connections, a hung attempt — reaches the next. The
//! ingest job reads a fresh copy of the inbox (imports move files), never the real one.

use crate::clock::SystemClock;
use crate::context::Context;
use crate::engines::ingest::IngestJob;
use crate::spine::faults::FaultPlan;
use crate::spine::system::{Spine, SpineOptions, load_dags};
use anyhow::{Context as _, anyhow};
use chrono::NaiveDate;
use prometheus::domain::{AttemptState, Clock, EventKind, MarketId, RunStatus};
use prometheus::ingest::daily::DailyIngestConfig;
use prometheus::store::{ConfigStore, EventLog, RunStore};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest timeout a drill gives a job.
const MIN_TIMEOUT_SECS: f64 = 2.0;

/// A drilled job's timeout, as a multiple of its clean duration.
const TIMEOUT_FACTOR: f64 = 6.0;

/// Timeouts calibrated on the clean run, and short backoffs: a `hang` fault outlives its
/// job's timeout within seconds, and retries and restarts do not wait for production
/// delays. Neither changes what a job writes.
#[derive(Clone, Debug, Serialize)]
pub struct Tuning {
    /// Seconds, by `dag/job`.
    pub timeouts: BTreeMap<String, f64>,
    /// Retry backoff of every job.
    pub backoff_ms: u64,
    /// Its cap.
    pub backoff_max_ms: u64,
    /// Restart backoff of every actor.
    pub restart_backoff_ms: u64,
}

impl Tuning {
    /// Each job's timeout: six times its clean duration, at least two seconds.
    pub fn calibrated(clean: &ScenarioRun) -> Self {
        Self {
            timeouts: clean
                .job_seconds
                .iter()
                .map(|(k, s)| (k.clone(), (s * TIMEOUT_FACTOR).max(MIN_TIMEOUT_SECS).ceil()))
                .collect(),
            backoff_ms: 50,
            backoff_max_ms: 500,
            restart_backoff_ms: 20,
        }
    }
}

/// What one chain did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScenarioRun {
    /// Each run of the chain and how it ended, in order.
    pub runs: Vec<(String, RunStatus)>,
    /// Actor restarts.
    pub restarts: u64,
    /// Attempts beyond each job's first.
    pub retries: u64,
    /// In-flight attempts failed because their actor restarted.
    pub abandoned: u64,
    /// Duration of each job's successful attempt, by `dag/job`.
    pub job_seconds: BTreeMap<String, f64>,
    /// Wall time of the chain.
    pub seconds: f64,
    /// Why each run that did not succeed failed.
    pub failures: Vec<String>,
    /// Why the scenario could not run at all.
    pub error: Option<String>,
}

impl ScenarioRun {
    /// A scenario that could not run.
    pub fn failed(error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::default()
        }
    }

    /// Every run of the chain succeeded.
    pub fn succeeded(&self) -> bool {
        self.error.is_none()
            && !self.runs.is_empty()
            && self.runs.iter().all(|(_, s)| *s == RunStatus::Succeeded)
    }
}

/// Copies the directory `from` (if it exists) to a fresh `to`.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    std::fs::create_dir_all(to)?;
    if !from.is_dir() {
        return Ok(());
    }
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Points the ingest job at a fresh copy of its inbox in `scratch` (the same path in every
/// scenario, so its config is the same too).
async fn isolate_inbox(
    ctx: &Context,
    options: &mut SpineOptions,
    scratch: &Path,
) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let active = stores.runtime.active_config(IngestJob::NAME_STR).await;
    stores.close().await;
    let inbox = match active? {
        Some(c) => serde_json::from_str::<DailyIngestConfig>(&c.body)?.inbox_dir,
        None => {
            ctx.source
                .load_engine::<DailyIngestConfig>()?
                .config
                .inbox_dir
        }
    };
    let copy = scratch.join("inbox");
    copy_dir(Path::new(&inbox), &copy)
        .with_context(|| format!("copying the inbox {inbox} to {}", copy.display()))?;
    options.overrides.insert(
        IngestJob::NAME_STR.to_owned(),
        serde_json::json!({ "inbox_dir": copy.to_string_lossy() }),
    );
    Ok(())
}

/// Runs `chain` for `market` on `date` on the databases `urls`, with `fault` armed and
/// `tuning` applied, in an actor system of its own; the ingest job reads a fresh copy of
/// the inbox under `scratch`.
///
/// # Errors
/// The spine cannot start, a run cannot be submitted, the system thread died.
pub async fn run(
    ctx: &Context,
    (historical, runtime): (&str, &str),
    chain: &[String],
    (market, date): (&MarketId, NaiveDate),
    scratch: &Path,
    fault: Option<FaultPlan>,
    tuning: Option<&Tuning>,
) -> anyhow::Result<ScenarioRun> {
    let mut ctx = ctx.clone();
    historical.clone_into(&mut ctx.app.storage.historical_db);
    runtime.clone_into(&mut ctx.app.storage.runtime_db);
    let mut dags = load_dags(&ctx)?;
    if let Some(t) = tuning {
        for dag in &mut dags.dags {
            for job in &mut dag.jobs {
                if let Some(s) = t.timeouts.get(&format!("{}/{}", dag.id, job.id)) {
                    job.timeout_secs = *s;
                }
                job.backoff_ms = t.backoff_ms;
                job.backoff_max_ms = t.backoff_max_ms;
            }
        }
        let s = &mut ctx.app.supervision;
        s.backoff_ms = t.restart_backoff_ms;
        s.backoff_max_ms = s.backoff_max_ms.min(t.backoff_max_ms).max(s.backoff_ms);
        for p in s.actor.values_mut() {
            p.backoff_ms = t.restart_backoff_ms;
            p.backoff_max_ms = p.backoff_max_ms.min(t.backoff_max_ms).max(p.backoff_ms);
        }
    }
    let longest = dags
        .dags
        .iter()
        .flat_map(|d| d.jobs.iter().map(|j| j.timeout_secs))
        .fold(0.0, f64::max);
    let (chain, market) = (chain.to_vec(), market.clone());
    let mut options = SpineOptions {
        dags: Some(dags),
        override_origin: Some("drill".into()),
        ..SpineOptions::default()
    };
    isolate_inbox(&ctx, &mut options, scratch).await?;
    let work = move || {
        let system = actix::System::with_tokio_rt(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("cannot start a drill runtime: {e}"))
        });
        system.block_on(chain_on_spine(
            ctx,
            options,
            fault.unwrap_or_default(),
            chain,
            market,
            date,
            longest,
        ))
    };
    tokio::task::spawn_blocking(move || {
        std::thread::Builder::new()
            .name("pv2-drill".into())
            .spawn(work)
            .map_err(|e| anyhow!("cannot start a drill thread: {e}"))?
            .join()
            .map_err(|_| anyhow!("the drill's actor system panicked"))?
    })
    .await
    .map_err(|e| anyhow!("drill task: {e}"))?
}

async fn chain_on_spine(
    ctx: Context,
    options: SpineOptions,
    faults: FaultPlan,
    chain: Vec<String>,
    market: MarketId,
    date: NaiveDate,
    longest_timeout: f64,
) -> anyhow::Result<ScenarioRun> {
    let stores = ctx.open_stores().await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Events of the copied database before this scenario are not its own.
    let since = clock.now();
    let spine = Spine::start_with(&ctx, stores.clone(), faults, clock, &options).await?;
    let started = Instant::now();
    let mut out = ScenarioRun::default();
    for dag in &chain {
        let (run_id, state) = spine
            .run_and_wait(dag, &market, date, "drill")
            .await
            .with_context(|| format!("running {dag} for {market} {date}"))?;
        if state != RunStatus::Succeeded {
            let why = stores
                .runtime
                .dag_run(&run_id)
                .await?
                .and_then(|r| r.error)
                .unwrap_or_default();
            out.failures.push(format!("{run_id}: {why}"));
        }
        out.runs.push((run_id, state));
        if !state.is_usable() {
            break;
        }
    }
    out.seconds = started.elapsed().as_secs_f64();
    // An abandoned (hung) attempt still finishes its work: wait for it, so what it writes
    // is in the comparison too.
    let deadline = Instant::now() + Duration::from_secs_f64(longest_timeout * 2.0 + 10.0);
    while Instant::now() < deadline {
        if spine.statuses().await.iter().all(|s| s.in_flight == 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    spine.shutdown(Duration::from_secs(10)).await;
    let runtime = &stores.runtime;
    let run_ids: BTreeSet<&str> = out.runs.iter().map(|(r, _)| r.as_str()).collect();
    for run_id in &run_ids {
        let dag = run_id.split(':').next().unwrap_or_default();
        let attempts = runtime.job_runs(run_id).await?;
        let jobs: BTreeSet<&str> = attempts.iter().map(|a| a.job_id.as_str()).collect();
        out.retries += (attempts.len() - jobs.len()) as u64;
        for a in &attempts {
            if let (AttemptState::Succeeded, Some(end)) = (a.state, a.finished_at) {
                let s = (end - a.started_at).num_milliseconds().max(0) as f64 / 1e3;
                out.job_seconds.insert(format!("{dag}/{}", a.job_id), s);
            }
        }
    }
    for e in runtime.events(None, 1_000_000).await? {
        if e.at < since {
            continue;
        }
        match e.event {
            EventKind::Restarted => out.restarts += 1,
            EventKind::AttemptAbandoned => out.abandoned += 1,
            _ => {}
        }
    }
    stores.close().await;
    Ok(out)
}

//! Experiments: queueing a search, the worker that runs its experiments through the
//! backtest machinery, and judging the search once every experiment of it has finished.
//!
//! A search is one baseline (the active configs) and one experiment per candidate, all over
//! the same market, strategy and periods. Any process can be a worker — the CLI's
//! `pv2 kronos experiments run`, `pv2 kronos worker` on another machine, the daemon — since
//! the queue lives in the runtime database and a claim is a lease: a worker that dies loses
//! its experiment to the next one once the lease ends, and a late result from it is refused.
//! Running an experiment again gives the same backtest id and the same rows, so a resumed
//! experiment never duplicates anything.

use super::candidates;
use crate::backtest::{Stopped, Variant, load_strategy, run_backtest_with};
use crate::clock::SystemClock;
use crate::context::Context;
use crate::spine::faults::FaultPlan;
use anyhow::{Context as _, anyhow, bail};
use chrono::{Days, Months, NaiveDate};
use prometheus::backtest::metrics::DayPoint;
use prometheus::backtest::strategy::STRATEGY_JOBS;
use prometheus::config::tunable::loosened;
use prometheus::config::{canonical_json, content_hash};
use prometheus::domain::{Clock, ConfigId};
use prometheus::kronos::config::KronosConfig;
use prometheus::kronos::experiment::{ExperimentSpec, Session, evaluate, overlay_of};
use prometheus::kronos::gates::{Evaluation, GateInputs, all_passed, evaluate as judge};
use prometheus::kronos::proposals::{Candidate, Change, Origin, out_of_bounds};
use prometheus::store::{
    BacktestStore, ConfigStore, ExperimentEnd, ExperimentRecord, ExperimentStore, KronosStore,
    ProposalState, Stores,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// What a finished experiment stores.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentResult {
    /// The backtest it ran.
    pub backtest_id: String,
    /// Rebalance dates without a target.
    pub failed_rebalances: usize,
    /// What the gates judge.
    pub evaluation: Evaluation,
}

/// The periods of a search ending on `end`: (in sample, holdout).
fn periods(
    cfg: &KronosConfig,
    end: NaiveDate,
) -> anyhow::Result<((NaiveDate, NaiveDate), (NaiveDate, NaiveDate))> {
    let e = &cfg.experiments;
    let holdout_from = end
        .checked_sub_months(Months::new(e.holdout_months))
        .and_then(|d| d.checked_add_days(Days::new(1)))
        .ok_or_else(|| anyhow!("{end}: holdout out of the calendar"))?;
    let in_to = holdout_from
        .checked_sub_days(Days::new(1))
        .ok_or_else(|| anyhow!("{end}: in-sample period out of the calendar"))?;
    let in_from = holdout_from
        .checked_sub_months(Months::new(e.in_sample_months))
        .ok_or_else(|| anyhow!("{end}: in-sample period out of the calendar"))?;
    Ok(((in_from, in_to), (holdout_from, end)))
}

/// Queues the experiments of search `sweep_id` for `market`, ending on `end`: the baseline,
/// then one per PROPOSED candidate of the search. Returns how many were new.
///
/// # Errors
/// Storage failures; periods outside the calendar.
pub async fn enqueue_search(
    stores: &Stores,
    cfg: &KronosConfig,
    sweep_id: &str,
    market: &str,
    end: NaiveDate,
    clock: &dyn Clock,
) -> anyhow::Result<usize> {
    let runtime = &stores.runtime;
    let (in_sample, holdout) = periods(cfg, end)?;
    let mut base_configs = BTreeMap::new();
    for job in STRATEGY_JOBS {
        if let Some(active) = runtime.active_config(job).await? {
            base_configs.insert(job.to_owned(), active.config_id.to_string());
        }
    }
    let spec = |engine: Option<String>, overlay: BTreeMap<String, Value>| ExperimentSpec {
        market: market.to_owned(),
        strategy: cfg.experiments.strategy.clone(),
        engine,
        overlay,
        base_configs: base_configs.clone(),
        in_sample,
        holdout,
        look_ahead: None,
    };
    let mut queued = vec![(None, 0, spec(None, BTreeMap::new()))];
    let proposals: Vec<_> = runtime
        .proposals(Some(ProposalState::Proposed))
        .await?
        .into_iter()
        .filter(|p| p.sweep_id == sweep_id)
        .collect();
    if proposals.is_empty() {
        // Nothing to try: no baseline either.
        return Ok(0);
    }
    for p in &proposals {
        let changes: Vec<Change> = serde_json::from_str(&p.changes)
            .with_context(|| format!("proposal {}: its changes", p.proposal_id))?;
        let body: Value = serde_json::from_str(&p.body)
            .with_context(|| format!("proposal {}: its body", p.proposal_id))?;
        let overlay = BTreeMap::from([(p.engine.clone(), overlay_of(&changes, &body))]);
        let control = match serde_json::from_str::<Origin>(&p.origin) {
            Ok(Origin::Control { control }) => Some(control),
            _ => None,
        };
        let mut s = spec(Some(p.engine.clone()), overlay);
        s.look_ahead = control.and_then(|c| c.look_ahead());
        queued.push((
            Some(p.proposal_id.clone()),
            if control.is_some() { 2 } else { 1 },
            s,
        ));
    }
    let now = clock.now();
    let mut new = 0;
    for (proposal_id, priority, spec) in queued {
        let text = canonical_json(&spec)?;
        let id_text = format!(
            "{sweep_id}|{}|{text}",
            proposal_id.as_deref().unwrap_or("baseline")
        );
        let record = ExperimentRecord {
            experiment_id: format!("kx-{}", &content_hash(&id_text)[..12]),
            sweep_id: sweep_id.to_owned(),
            proposal_id,
            priority,
            state: "QUEUED".into(),
            spec: text,
            lease_owner: None,
            lease_expires: None,
            attempts: 0,
            result: None,
            error: None,
            created_at: now,
            finished_at: None,
        };
        if runtime.enqueue_experiment(&record).await? {
            new += 1;
        }
    }
    Ok(new)
}

/// Why an experiment did not produce a result.
enum RunError {
    /// It was paused on request before its end (why).
    Paused(String),
    /// A later attempt cannot do better (the search is stale, the strategy is invalid).
    Permanent(String),
    /// It may (a busy database, an interrupted backtest).
    Transient(String),
}

/// Runs one claimed experiment: its backtest, then its evaluation.
async fn run_one(
    ctx: &Context,
    stores: &Stores,
    exp: &ExperimentRecord,
    stop: Option<&AtomicBool>,
) -> Result<ExperimentResult, RunError> {
    let spec: ExperimentSpec = serde_json::from_str(&exp.spec)
        .map_err(|e| RunError::Permanent(format!("the spec does not parse: {e}")))?;
    if let Some(id) = &exp.proposal_id {
        let state = stores
            .runtime
            .proposal(id)
            .await
            .map_err(|e| RunError::Transient(e.to_string()))?
            .map(|p| p.state);
        if state.as_deref() != Some(ProposalState::Proposed.as_str()) {
            return Err(RunError::Permanent(format!(
                "proposal {id} is {}: nothing to try",
                state.as_deref().unwrap_or("gone")
            )));
        }
    }
    for (engine, id) in &spec.base_configs {
        let now = stores
            .runtime
            .active_config(engine)
            .await
            .map_err(|e| RunError::Transient(e.to_string()))?
            .map(|c| c.config_id.to_string());
        if now.as_deref() != Some(id.as_str()) {
            return Err(RunError::Permanent(format!(
                "the active {engine} config changed since the search was queued ({id} → {}): its baseline is gone",
                now.as_deref().unwrap_or("none")
            )));
        }
    }
    let mut strategy =
        load_strategy(ctx, &spec.strategy).map_err(|e| RunError::Permanent(format!("{e:#}")))?;
    strategy.market.clone_from(&spec.market);
    let out = run_backtest_with(
        ctx,
        &strategy,
        spec.in_sample.0,
        spec.holdout.1,
        FaultPlan::default(),
        false,
        &Variant {
            overlays: Some(&spec.overlay),
            look_ahead: spec.look_ahead.as_ref(),
            stop,
        },
    )
    .await
    .map_err(|e| {
        if let Some(s) = e.downcast_ref::<Stopped>() {
            return RunError::Paused(s.to_string());
        }
        let text = format!("{e:#}");
        // A candidate the engines refuse, or a range without targets, stays that way.
        if text.contains("invalid")
            || text.contains("produced a target")
            || text.contains("session")
        {
            RunError::Permanent(text)
        } else {
            RunError::Transient(text)
        }
    })?;
    let days = stores
        .runtime
        .backtest_days(&out.run.backtest_id)
        .await
        .map_err(|e| RunError::Transient(e.to_string()))?;
    let sessions: Vec<Session> = days
        .iter()
        .map(|d| Session {
            date: d.day.date,
            point: DayPoint {
                ret: d.day.daily_return,
                benchmark: d.benchmark_return,
                equity: d.day.equity,
                traded: d.day.traded_notional,
                costs: d.day.costs,
            },
            regime: d.regime.clone(),
        })
        .collect();
    let mut evaluation = evaluate(&spec, &sessions);
    evaluation.future_reads = out.future_reads.0;
    Ok(ExperimentResult {
        backtest_id: out.run.backtest_id.clone(),
        failed_rebalances: out.failures.len(),
        evaluation,
    })
}

/// What a worker did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkReport {
    /// Experiments it finished.
    pub done: usize,
    /// Experiments that failed for good.
    pub failed: usize,
    /// Experiments put back for another attempt.
    pub retried: usize,
    /// Searches it judged.
    pub judged: Vec<String>,
}

/// How one claim ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worked {
    /// It ran and its result was stored.
    Done,
    /// It failed for good.
    Failed,
    /// It was put back for another attempt.
    Retried,
    /// It was paused on request and put back, the attempt not counted.
    Paused,
    /// Another worker took it over (this worker's lease had ended); nothing was stored.
    LostLease,
}

/// Claims and runs one experiment as `worker` (judging its search if it was the last);
/// `None` when nothing is claimable.
///
/// # Errors
/// Storage failures (an experiment's own failure is recorded, not returned).
pub async fn work_one(
    ctx: &Context,
    stores: &Stores,
    cfg: &KronosConfig,
    worker: &str,
) -> anyhow::Result<Option<(Worked, String)>> {
    work_one_until(ctx, stores, cfg, worker, None).await
}

/// As [`work_one`]; once `stop` is set the experiment pauses at its next rebalance and goes
/// back to the queue, the claim not counted as an attempt ([`Worked::Paused`]).
///
/// # Errors
/// Storage failures.
pub async fn work_one_until(
    ctx: &Context,
    stores: &Stores,
    cfg: &KronosConfig,
    worker: &str,
    stop: Option<&AtomicBool>,
) -> anyhow::Result<Option<(Worked, String)>> {
    let lease = chrono::Duration::seconds(i64::try_from(cfg.experiments.lease_secs).unwrap_or(600));
    let now = SystemClock.now();
    let Some(exp) = stores
        .runtime
        .claim_experiment(worker, now, now + lease)
        .await?
    else {
        return Ok(None);
    };
    tracing::info!(experiment = %exp.experiment_id, search = %exp.sweep_id, attempt = exp.attempts, "experiment claimed");
    // Keep the lease while the backtest runs.
    let renewer = {
        let db = stores.runtime.clone();
        let (id, who) = (exp.experiment_id.clone(), worker.to_owned());
        let every = Duration::from_secs((cfg.experiments.lease_secs / 3).max(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let until = SystemClock.now() + lease;
                if !matches!(db.renew_lease(&id, &who, until).await, Ok(true)) {
                    return;
                }
            }
        })
    };
    let result = run_one(ctx, stores, &exp, stop).await;
    renewer.abort();
    let at = SystemClock.now();
    let (worked, text) = match result {
        Ok(r) => (Worked::Done, serde_json::to_string(&r)?),
        Err(RunError::Paused(why)) => (Worked::Paused, format!("paused: {why}")),
        Err(RunError::Permanent(e)) => (Worked::Failed, e),
        Err(RunError::Transient(e)) if exp.attempts >= i64::from(cfg.experiments.max_attempts) => {
            (Worked::Failed, e)
        }
        Err(RunError::Transient(e)) => (Worked::Retried, e),
    };
    let outcome = match worked {
        Worked::Done => ExperimentEnd::Done(&text),
        Worked::Failed => ExperimentEnd::Failed(&text),
        Worked::Paused => ExperimentEnd::Paused(&text),
        _ => ExperimentEnd::Retry(&text),
    };
    if !stores
        .runtime
        .finish_experiment(&exp.experiment_id, worker, outcome, at)
        .await?
    {
        tracing::warn!(experiment = %exp.experiment_id, "lease lost: another worker took the experiment over; result dropped");
        return Ok(Some((Worked::LostLease, exp.sweep_id)));
    }
    Ok(Some((worked, exp.sweep_id)))
}

/// Runs queued experiments as worker `worker` until the queue is empty (or, with `poll`,
/// forever, sleeping `poll` between looks at an empty queue). Each finished search is judged.
///
/// # Errors
/// Storage failures (an experiment's own failure is recorded, not returned).
pub async fn work(
    ctx: &Context,
    stores: &Stores,
    cfg: &KronosConfig,
    worker: &str,
    poll: Option<Duration>,
) -> anyhow::Result<WorkReport> {
    let mut report = WorkReport::default();
    loop {
        let Some((worked, search)) = work_one(ctx, stores, cfg, worker).await? else {
            match poll {
                Some(p) => {
                    tokio::time::sleep(p).await;
                    continue;
                }
                None => return Ok(report),
            }
        };
        match worked {
            Worked::Done => report.done += 1,
            Worked::Failed => report.failed += 1,
            Worked::Retried => report.retried += 1,
            Worked::LostLease | Worked::Paused => continue,
        }
        if judge_search(stores, cfg, &search).await? {
            report.judged.push(search);
        }
    }
}

/// Judges search `sweep_id` once none of its experiments is queued or running: every
/// candidate still PROPOSED becomes PASSED or FAILED with the gates' verdicts; a negative
/// control that passes freezes promotion. Returns whether it judged.
///
/// # Errors
/// Storage failures; stored JSON that does not parse.
pub async fn judge_search(
    stores: &Stores,
    cfg: &KronosConfig,
    sweep_id: &str,
) -> anyhow::Result<bool> {
    let runtime = &stores.runtime;
    let exps = runtime.experiments(Some(sweep_id)).await?;
    if exps.is_empty()
        || exps
            .iter()
            .any(|e| e.state == "QUEUED" || e.state == "RUNNING")
    {
        return Ok(false);
    }
    let result_of = |e: &ExperimentRecord| -> Option<ExperimentResult> {
        e.result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
    };
    let baseline = exps.iter().find(|e| e.proposal_id.is_none());
    let base_result = baseline.and_then(result_of);
    let at = SystemClock.now();
    // The search: the baseline and every ordinary candidate (controls test the gates; they
    // are not part of what was searched).
    let mut proposals = BTreeMap::new();
    for e in &exps {
        if let Some(id) = &e.proposal_id
            && let Some(p) = runtime.proposal(id).await?
        {
            proposals.insert(id.clone(), p);
        }
    }
    let is_control = |id: &str| {
        proposals.get(id).is_some_and(|p| {
            serde_json::from_str::<Origin>(&p.origin)
                .is_ok_and(|o| matches!(o, Origin::Control { .. }))
        })
    };
    let mut search: Vec<Vec<f64>> = base_result
        .iter()
        .map(|r| r.evaluation.in_sample_returns.clone())
        .collect();
    for e in &exps {
        if let (Some(id), Some(r)) = (&e.proposal_id, result_of(e))
            && !is_control(id)
        {
            search.push(r.evaluation.in_sample_returns);
        }
    }
    for e in &exps {
        let Some(id) = &e.proposal_id else { continue };
        let Some(p) = proposals.get(id) else { continue };
        if p.state != ProposalState::Proposed.as_str() {
            continue;
        }
        let (Some(base), Some(mine)) = (&base_result, result_of(e)) else {
            let why = if base_result.is_none() {
                format!(
                    "the search's baseline experiment failed: {}",
                    baseline
                        .and_then(|b| b.error.as_deref())
                        .unwrap_or("not run")
                )
            } else {
                format!(
                    "its experiment failed: {}",
                    e.error.as_deref().unwrap_or("no result")
                )
            };
            runtime
                .transition_proposal(id, ProposalState::Failed, None, "kronos", &why, at)
                .await?;
            continue;
        };
        let spec = candidates::spec(&p.engine)
            .ok_or_else(|| anyhow!(candidates::unknown_engine(&p.engine)))?;
        let candidate = Candidate {
            engine: p.engine.clone(),
            body: serde_json::from_str(&p.body)?,
            changes: serde_json::from_str(&p.changes)?,
            origin: serde_json::from_str(&p.origin)?,
        };
        let base_body: Value = match runtime
            .config(&ConfigId::new(p.base_config_id.clone()))
            .await?
        {
            Some(c) => serde_json::from_str(&c.body)?,
            None => bail!(
                "proposal {id}: its base config {} is not stored",
                p.base_config_id
            ),
        };
        let oob = out_of_bounds(&candidate, spec.tunable);
        let loose = loosened(spec.limits, &base_body, &candidate.body);
        let verdicts = judge(
            &cfg.gates,
            &GateInputs {
                candidate: &mine.evaluation,
                baseline: &base.evaluation,
                search: &search,
                out_of_bounds: &oob,
                loosened: &loose,
            },
        );
        let passed = all_passed(&verdicts);
        let failing: Vec<String> = verdicts
            .iter()
            .filter(|g| !g.passed)
            .map(|g| format!("{}: {}", g.gate, g.detail))
            .collect();
        let reason = if passed {
            "every gate passed".to_owned()
        } else {
            failing.join("; ")
        };
        let gates = serde_json::to_string(&verdicts)?;
        let to = if passed {
            ProposalState::Passed
        } else {
            ProposalState::Failed
        };
        runtime
            .transition_proposal(id, to, Some(&gates), "kronos", &reason, at)
            .await?;
        if passed && let Origin::Control { control } = candidate.origin {
            let why = format!(
                "negative control {} ({id}) passed every gate: the gates no longer tell a bad config from a good one",
                control.name()
            );
            tracing::error!(proposal = %id, "{why}; promotion frozen");
            runtime.set_freeze(true, "kronos", &why, at).await?;
        }
    }
    Ok(true)
}

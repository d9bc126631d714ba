//! `pv2 kronos …`: what the outcomes say about each config, candidate configs and their
//! states, user proposals, rejection, the promotion freeze and the audit trail. Works on
//! the databases directly; a running daemon sees every change at its next job.

use crate::cli::{ExperimentsCommand, KronosCommand, OutputFormat};
use crate::clock::SystemClock;
use crate::context::Context;
use crate::kronos::candidates::{self, Provenance};
use crate::kronos::{experiments, proposal_json};
use crate::spine::engine_config::resolve_config;
use anyhow::{Context as _, anyhow};
use chrono::NaiveDate;
use prometheus::domain::Clock;
use prometheus::kronos::analytics::{SliceStats, label_configs, primary_metric, summarise};
use prometheus::kronos::config::KronosConfig;
use prometheus::kronos::proposals::{Candidate, Origin, diff};
use prometheus::kronos::shadow::compare;
use prometheus::store::{
    ConfigStore, ExperimentStore, KronosStore, ProposalRecord, ProposalState, ShadowStore, Stores,
};
use serde_json::{Value, json};

/// Runs one `pv2 kronos` subcommand.
///
/// # Errors
/// Storage failures, unknown engines or proposals, invalid files or states.
pub async fn run(ctx: &Context, what: KronosCommand) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let result = dispatch(ctx, &stores, what).await;
    stores.close().await;
    result
}

fn who(by: Option<String>) -> String {
    by.or_else(|| std::env::var("USER").ok())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "cli".into())
}

async fn dispatch(ctx: &Context, stores: &Stores, what: KronosCommand) -> anyhow::Result<()> {
    let db = &stores.runtime;
    match what {
        KronosCommand::Report {
            engine,
            market,
            as_of,
            format,
        } => {
            let cfg = resolve_config::<KronosConfig>(&ctx.source, db, &SystemClock)
                .await?
                .config;
            report(
                stores,
                &cfg,
                engine.as_deref(),
                market.as_deref(),
                as_of,
                format,
            )
            .await
        }
        KronosCommand::Proposals { state, format } => {
            let state = state
                .map(|s| {
                    ProposalState::parse(&s).ok_or_else(|| {
                        anyhow!(
                            "unknown state `{s}`; use {}",
                            ProposalState::ALL.map(ProposalState::as_str).join(", ")
                        )
                    })
                })
                .transpose()?;
            let ps = db.proposals(state).await?;
            print_proposals(&ps, format);
            Ok(())
        }
        KronosCommand::Show { id, format } => {
            let p = db
                .proposal(&id)
                .await?
                .ok_or_else(|| anyhow!("no proposal `{id}`; `pv2 kronos proposals` lists them"))?;
            let audit: Vec<_> = db
                .kronos_audit(10_000)
                .await?
                .into_iter()
                .filter(|a| a.proposal_id.as_deref() == Some(id.as_str()))
                .collect();
            match format {
                OutputFormat::Json => {
                    let mut doc = proposal_json(&p);
                    doc["body"] = serde_json::from_str(&p.body).unwrap_or(Value::Null);
                    doc["shadow"] = shadow_view(db, &p).await?.unwrap_or(Value::Null);
                    doc["audit"] = audit
                        .iter()
                        .map(|a| json!({"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail}))
                        .collect();
                    println!("{doc}");
                }
                OutputFormat::Text => {
                    println!(
                        "{} — {} for {} ({})",
                        p.proposal_id, p.engine, p.market_id, p.state
                    );
                    println!("  origin    {}", origin_label(&p.origin));
                    println!("  config    {} (active: {})", p.config_id, p.base_config_id);
                    println!("  search    {}", p.sweep_id);
                    println!("  reason    {}", p.reason);
                    println!("  proposed  {} by {}", p.created_at, p.created_by);
                    println!("  changes");
                    let changes: Vec<prometheus::kronos::proposals::Change> =
                        serde_json::from_str(&p.changes).unwrap_or_default();
                    for c in &changes {
                        let show = |v: &Option<Value>| {
                            v.as_ref().map_or_else(|| "absent".into(), Value::to_string)
                        };
                        println!("    {:<32} {} → {}", c.key, show(&c.from), show(&c.to));
                    }
                    let gates: Vec<prometheus::kronos::gates::GateResult> = p
                        .gates
                        .as_deref()
                        .and_then(|g| serde_json::from_str(g).ok())
                        .unwrap_or_default();
                    if !gates.is_empty() {
                        println!("  gates");
                        for g in &gates {
                            println!(
                                "    {:<17} {:<4} {}",
                                g.gate,
                                if g.passed { "pass" } else { "FAIL" },
                                g.detail
                            );
                        }
                    }
                    if let Some(v) = shadow_view(db, &p).await? {
                        print_shadow(&v);
                    }
                    println!("  audit");
                    for a in &audit {
                        println!("    {} {:<10} {:<8} {}", a.at, a.action, a.actor, a.detail);
                    }
                }
            }
            Ok(())
        }
        KronosCommand::Propose {
            engine,
            file,
            market,
            by,
            as_of,
            format,
        } => {
            let spec = candidates::spec(&engine)
                .ok_or_else(|| anyhow!(candidates::unknown_engine(&engine)))?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let (_, body) = spec
                .check_text(&file.display().to_string(), &text)
                .map_err(|e| anyhow!("{}: not a valid {engine} config: {e}", file.display()))?;
            let (base, base_body) = candidates::active_in(ctx, db, &engine).await?;
            let by = who(by);
            let now = SystemClock.now();
            let candidate = Candidate {
                engine: engine.clone(),
                changes: diff(&base_body, &body),
                body,
                origin: Origin::User { by: by.clone() },
            };
            let sweep_id = format!("user-{}", now.format("%Y%m%dT%H%M%S"));
            let record = candidates::proposal(
                &spec,
                &candidate,
                &Provenance {
                    market: &market,
                    base: &base,
                    base_body: &base_body,
                    sweep_id: &sweep_id,
                    by: &by,
                    at: now,
                },
            )?;
            let new = db.insert_proposal(&record).await?;
            let stored = db.proposal(&record.proposal_id).await?.unwrap_or(record);
            let mut queued = 0;
            if stored.state == ProposalState::Proposed.as_str() {
                let end = match as_of {
                    Some(d) => d,
                    None => db.latest_decision_date(&market).await?.ok_or_else(|| {
                        anyhow!(
                            "{market} has no logged decisions to end the experiment on; pass --as-of DATE"
                        )
                    })?,
                };
                let cfg = kronos_config(ctx, stores).await?;
                queued = experiments::enqueue_search(
                    stores,
                    &cfg,
                    &stored.sweep_id,
                    &market,
                    end,
                    &SystemClock,
                )
                .await?;
            }
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    json!({"new": new, "experiments_queued": queued, "proposal": proposal_json(&stored)})
                ),
                OutputFormat::Text => println!(
                    "{} {} ({}): {}{}{}",
                    stored.proposal_id,
                    stored.state,
                    stored.engine,
                    stored.reason,
                    if new { "" } else { " — already proposed" },
                    if queued > 0 {
                        format!("; {queued} experiments queued (`pv2 kronos experiments run`)")
                    } else {
                        String::new()
                    }
                ),
            }
            if stored.state == ProposalState::Refused.as_str() {
                anyhow::bail!("proposal {} refused: {}", stored.proposal_id, stored.reason);
            }
            Ok(())
        }
        KronosCommand::Experiments {
            what,
            search,
            format,
        } => {
            if let Some(ExperimentsCommand::Run { wait }) = what {
                run_queue(ctx, stores, wait).await?;
            }
            let list = db.experiments(search.as_deref()).await?;
            print_experiments(&list, format);
            Ok(())
        }
        KronosCommand::Worker { name, poll_secs } => {
            let cfg = kronos_config(ctx, stores).await?;
            let worker = worker_name(name);
            eprintln!("worker {worker} on the experiment queue; Ctrl-C or SIGTERM stops it");
            let poll = std::time::Duration::from_secs(poll_secs.max(1));
            tokio::select! {
                r = experiments::work(ctx, stores, &cfg, &worker, Some(poll)) => { r?; }
                _ = crate::daemon::shutdown_signal() => {
                    eprintln!("worker {worker}: stopping; a claimed experiment is taken over when its lease ends");
                }
            }
            Ok(())
        }
        KronosCommand::Approve { id, reason, by } => {
            let who = who(by);
            let before = db
                .promote_proposal(&id, &who, &reason, SystemClock.now())
                .await?;
            println!(
                "{id}: {} → PROMOTED; {} now runs {} (was {})",
                before.state, before.engine, before.config_id, before.base_config_id
            );
            notify_daemon(ctx, &before.engine, &before.body).await?;
            Ok(())
        }
        KronosCommand::Revert { id, reason, by } => {
            let who = who(by);
            let before = db
                .revert_proposal(&id, &who, &reason, SystemClock.now())
                .await?;
            let base = db
                .config(&prometheus::domain::ConfigId::new(
                    before.base_config_id.clone(),
                ))
                .await?
                .ok_or_else(|| anyhow!("config {} vanished", before.base_config_id))?;
            println!(
                "{id}: PROMOTED → REVERTED; {} runs {} again",
                before.engine, before.base_config_id
            );
            notify_daemon(ctx, &before.engine, &base.body).await?;
            Ok(())
        }
        KronosCommand::Shadow {
            id,
            sessions,
            reason,
            by,
        } => {
            let query = sessions
                .map(|n| format!("?sessions={n}"))
                .unwrap_or_default();
            if let Some((_, answer)) = super::config::post_to_daemon(
                ctx,
                &format!("/kronos/proposals/{id}/shadow{query}"),
                &reason,
            )
            .await?
            {
                let v = answer.map_err(|e| anyhow!("the running daemon refused: {e}"))?;
                println!(
                    "{id}: PASSED → SHADOW in the running daemon: {}",
                    v["proposal"]["reason"].as_str().unwrap_or("")
                );
                return Ok(());
            }
            let cfg = kronos_config(ctx, stores).await?;
            let n = sessions.unwrap_or(cfg.shadow_sessions);
            anyhow::ensure!((1..=252).contains(&n), "--sessions {n} must be 1 to 252");
            let before = db
                .start_shadow(
                    &id,
                    &cfg.decision_dag,
                    n,
                    &who(by),
                    &reason,
                    SystemClock.now(),
                )
                .await?;
            println!(
                "{id}: PASSED → SHADOW; {} runs {} beside {} for {n} sessions of {} from the next start",
                before.engine, before.config_id, before.base_config_id, cfg.decision_dag
            );
            Ok(())
        }
        KronosCommand::Reject { id, reason, by } => {
            if db
                .proposal(&id)
                .await?
                .is_some_and(|p| p.state == ProposalState::Shadow.as_str())
                && let Some(answer) = super::config::post_to_daemon(
                    ctx,
                    &format!("/kronos/proposals/{id}/reject"),
                    &reason,
                )
                .await?
                .map(|(_, a)| a)
            {
                answer.map_err(|e| anyhow!("the running daemon refused: {e}"))?;
                println!("{id}: SHADOW → REJECTED in the running daemon (its shadow stops)");
                return Ok(());
            }
            let before = db
                .transition_proposal(
                    &id,
                    ProposalState::Rejected,
                    None,
                    &who(by),
                    &reason,
                    SystemClock.now(),
                )
                .await?;
            println!("{id}: {} → REJECTED", before.state);
            Ok(())
        }
        KronosCommand::Freeze { reason, by } => {
            db.set_freeze(true, &who(by), &reason, SystemClock.now())
                .await?;
            println!("promotion frozen: {reason}");
            Ok(())
        }
        KronosCommand::Unfreeze { reason, by } => {
            db.set_freeze(false, &who(by), &reason, SystemClock.now())
                .await?;
            println!("promotion unfrozen: {reason}");
            Ok(())
        }
        KronosCommand::Audit { last, format } => {
            let rows = db.kronos_audit(last).await?;
            let frozen = db.freeze_state().await?;
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    json!({
                        "frozen": frozen.frozen, "freeze_reason": frozen.reason,
                        "audit": rows.iter().map(|a| json!({
                            "id": a.audit_id, "at": a.at, "actor": a.actor, "action": a.action,
                            "proposal_id": a.proposal_id, "engine": a.engine, "detail": a.detail,
                        })).collect::<Vec<_>>(),
                    })
                ),
                OutputFormat::Text => {
                    println!(
                        "promotion {}{}",
                        if frozen.frozen { "FROZEN" } else { "open" },
                        if frozen.reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", frozen.reason)
                        }
                    );
                    for a in &rows {
                        println!(
                            "{:>5} {} {:<9} {:<10} {:<16} {}",
                            a.audit_id,
                            a.at.format("%Y-%m-%d %H:%M:%S"),
                            a.actor,
                            a.action,
                            a.proposal_id.as_deref().unwrap_or("-"),
                            a.detail
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

/// Kronos's active configuration (activated from the file on first use).
async fn kronos_config(ctx: &Context, stores: &Stores) -> anyhow::Result<KronosConfig> {
    Ok(
        resolve_config::<KronosConfig>(&ctx.source, &stores.runtime, &SystemClock)
            .await?
            .config,
    )
}

/// A worker's name in leases: the one given, else host and process id.
fn worker_name(name: Option<String>) -> String {
    name.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "host".into());
        format!("{host}-{}", std::process::id())
    })
}

/// `pv2 kronos experiments run [--wait]`: this process works through the queue; with
/// `wait`, it then waits for experiments other workers hold and judges what they finish.
async fn run_queue(ctx: &Context, stores: &Stores, wait: bool) -> anyhow::Result<()> {
    let db = &stores.runtime;
    let cfg = kronos_config(ctx, stores).await?;
    let worker = worker_name(None);
    let mut total = experiments::work(ctx, stores, &cfg, &worker, None).await?;
    while wait
        && db
            .experiments(None)
            .await?
            .iter()
            .any(|e| e.state == "RUNNING" || e.state == "QUEUED")
    {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let more = experiments::work(ctx, stores, &cfg, &worker, None).await?;
        total.done += more.done;
        total.failed += more.failed;
        total.retried += more.retried;
        total.judged.extend(more.judged);
    }
    if wait {
        let searches: std::collections::BTreeSet<String> = db
            .experiments(None)
            .await?
            .into_iter()
            .map(|e| e.sweep_id)
            .collect();
        for s in searches {
            experiments::judge_search(stores, &cfg, &s).await?;
        }
    }
    eprintln!(
        "worker {worker}: {} done, {} failed, {} retried; searches judged: {}",
        total.done,
        total.failed,
        total.retried,
        if total.judged.is_empty() {
            "none".to_owned()
        } else {
            total.judged.join(", ")
        }
    );
    Ok(())
}

fn print_experiments(list: &[prometheus::store::ExperimentRecord], format: OutputFormat) {
    match format {
        OutputFormat::Json => println!(
            "{}",
            Value::Array(
                list.iter()
                    .map(|e| json!({
                        "experiment_id": e.experiment_id, "search": e.sweep_id, "proposal_id": e.proposal_id,
                        "priority": e.priority, "state": e.state, "attempts": e.attempts,
                        "lease_owner": e.lease_owner, "lease_expires": e.lease_expires,
                        "spec": serde_json::from_str::<Value>(&e.spec).unwrap_or(Value::Null),
                        "result": e.result.as_deref().and_then(|r| serde_json::from_str::<Value>(r).ok()),
                        "error": e.error, "created_at": e.created_at, "finished_at": e.finished_at,
                    }))
                    .collect()
            )
        ),
        OutputFormat::Text => {
            if list.is_empty() {
                println!("no experiments");
            }
            for e in list {
                let what = e
                    .result
                    .as_deref()
                    .and_then(|r| serde_json::from_str::<experiments::ExperimentResult>(r).ok())
                    .map(|r| {
                        let ev = &r.evaluation;
                        format!(
                            "Sharpe {:.2} in sample, {:.2} holdout; max drawdown {:.1}%",
                            ev.in_sample.sharpe,
                            ev.holdout.sharpe,
                            100.0 * ev.in_sample.max_drawdown.max(ev.holdout.max_drawdown)
                        )
                    })
                    .or_else(|| e.error.clone())
                    .unwrap_or_default();
                println!(
                    "{:<15} {:<28} {:<16} {:<8} #{} {}",
                    e.experiment_id,
                    e.sweep_id,
                    e.proposal_id.as_deref().unwrap_or("baseline"),
                    e.state,
                    e.attempts,
                    what
                );
            }
        }
    }
}

/// Tells the running daemon, if any, to switch `engine` to `body` (already active in the
/// store): the same `ApplyConfig` path as `pv2 config apply`, so its next job uses it.
/// A proposal's shadow: how many sessions ran (and failed) of how many, and its outcomes
/// against the active config's on the same sessions; `None` for one never in shadow.
async fn shadow_view(
    db: &prometheus::store::RuntimeDb,
    p: &ProposalRecord,
) -> anyhow::Result<Option<Value>> {
    let Some(spec) = db.shadow(&p.proposal_id).await? else {
        return Ok(None);
    };
    let runs = db.shadow_runs(Some(&p.proposal_id), None).await?;
    let failed: Vec<Value> = runs
        .iter()
        .filter(|r| r.state != "SUCCEEDED")
        .map(|r| json!({"date": r.as_of, "detail": r.detail}))
        .collect();
    let known_by = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default();
    let outcomes = db
        .outcomes(Some(&p.market_id), Some(&p.engine), known_by)
        .await?;
    let records: Vec<_> = outcomes.into_iter().map(|o| o.record).collect();
    let comparison = compare(&records, &p.engine, &p.config_id, &p.base_config_id);
    Ok(Some(json!({
        "dag": spec.dag_id, "sessions": spec.sessions, "ran": runs.len(),
        "failed": failed, "started_at": spec.started_at, "started_by": spec.started_by,
        "first": runs.first().map(|r| r.as_of), "last": runs.last().map(|r| r.as_of),
        "comparison": comparison,
    })))
}

fn print_shadow(v: &Value) {
    println!(
        "  shadow    {} of {} sessions of {} ({} → {}), {} failed, started by {}",
        v["ran"],
        v["sessions"],
        v["dag"].as_str().unwrap_or("?"),
        v["first"].as_str().unwrap_or("-"),
        v["last"].as_str().unwrap_or("-"),
        v["failed"].as_array().map_or(0, Vec::len),
        v["started_by"].as_str().unwrap_or("?")
    );
    let rows = v["comparison"].as_array().cloned().unwrap_or_default();
    if rows.is_empty() {
        println!("    no measured outcome yet on the shadowed sessions");
    }
    for m in &rows {
        println!(
            "    {}{:<22} {:>3}d {:<14} n {:>3}  shadow {:+.4}  active {:+.4}  diff {:+.4} t {:+.2}",
            if m["primary"] == true { "*" } else { " " },
            m["subject"].as_str().unwrap_or("?"),
            m["horizon_days"],
            m["metric"].as_str().unwrap_or("?"),
            m["n"],
            m["shadow_mean"].as_f64().unwrap_or(f64::NAN),
            m["active_mean"].as_f64().unwrap_or(f64::NAN),
            m["diff_mean"].as_f64().unwrap_or(f64::NAN),
            m["t_stat"].as_f64().unwrap_or(f64::NAN)
        );
    }
}

async fn notify_daemon(ctx: &Context, engine: &str, body: &str) -> anyhow::Result<()> {
    match super::config::apply_in_daemon(ctx, engine, body, None).await? {
        None => println!("no daemon running: the next start uses the new config"),
        Some(Ok(a)) => println!("the running daemon's {engine} switched (pid {})", a.pid),
        Some(Err(e)) => anyhow::bail!(
            "the config is active in the store, but the running daemon refused it: {e}; restart the daemon"
        ),
    }
    Ok(())
}

fn origin_label(origin: &str) -> String {
    serde_json::from_str::<Origin>(origin).map_or_else(|_| origin.to_owned(), |o| o.label())
}

fn print_proposals(ps: &[ProposalRecord], format: OutputFormat) {
    match format {
        OutputFormat::Json => println!("{}", Value::Array(ps.iter().map(proposal_json).collect())),
        OutputFormat::Text => {
            if ps.is_empty() {
                println!("no proposals");
            }
            for p in ps {
                println!(
                    "{:<16} {:<9} {:<11} {:<7} {:<24} {}",
                    p.proposal_id,
                    p.state,
                    p.engine,
                    p.market_id,
                    origin_label(&p.origin),
                    p.reason
                );
            }
        }
    }
}

/// The metrics worth a line in the text report, per engine: (subject or `*` for every
/// subject, metric), at the longest horizon (forecasts at whichever horizon they have).
fn headline(engine: &str) -> &'static [(&'static str, &'static str)] {
    match engine {
        "portfolio" => &[
            ("portfolio", "return"),
            ("portfolio", "active_return"),
            ("portfolio", "vol"),
            ("portfolio", "drawdown"),
        ],
        "assessment" => &[
            ("forecast", "ic"),
            ("forecast", "rank_ic"),
            ("forecast", "hit_rate"),
        ],
        "regime" => &[("*", "realised_vol"), ("*", "drawdown")],
        "stability" => &[("*", "es_95"), ("fragile_vs_stable", "es_spread")],
        "fragility" => &[("*", "es_95"), ("flagged_vs_none", "es_spread")],
        "universe" => &[("included_vs_excluded", "return_spread")],
        _ => &[],
    }
}

async fn report(
    stores: &Stores,
    cfg: &KronosConfig,
    engine: Option<&str>,
    market: Option<&str>,
    as_of: Option<NaiveDate>,
    format: OutputFormat,
) -> anyhow::Result<()> {
    // A four-digit year: SQLite compares dates as ISO text.
    let known_by =
        as_of.unwrap_or_else(|| NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or_default());
    let outcomes = stores.runtime.outcomes(market, engine, known_by).await?;
    let records: Vec<_> = outcomes.iter().map(|o| o.record.clone()).collect();
    // The longest configured horizon that has outcomes yet (a young history has only the
    // short ones).
    let horizon = records
        .iter()
        .map(|r| r.horizon_days)
        .filter(|h| cfg.horizons.contains(h))
        .max()
        .unwrap_or_else(|| cfg.longest_horizon());
    let min_n = cfg.min_outcomes;
    let labels = label_configs(&records, min_n, horizon);
    let slices = summarise(&records);
    if format == OutputFormat::Json {
        println!(
            "{}",
            json!({
                "known_by": as_of, "outcomes": records.len(), "min_outcomes": min_n,
                "label_horizon": horizon,
                "labels": labels, "slices": slices,
            })
        );
        return Ok(());
    }
    let decisions: std::collections::BTreeSet<(&str, &str, NaiveDate, &str)> = records
        .iter()
        .map(|r| {
            (
                r.engine.as_str(),
                r.market_id.as_str(),
                r.as_of,
                r.config_id.as_str(),
            )
        })
        .collect();
    println!(
        "outcomes known by {}: {} values of {} decisions",
        as_of.map_or_else(|| "now".into(), |d| d.to_string()),
        records.len(),
        decisions.len()
    );
    if records.is_empty() {
        println!(
            "nothing to report yet: outcomes appear once a decision's horizon has passed (kronos_daily)"
        );
        return Ok(());
    }
    println!("\nconfigs (primary metric per slice with ≥ {min_n} outcomes)");
    for l in &labels {
        let metric = primary_metric(&l.engine)
            .map(|(s, m)| {
                if l.engine == "regime" {
                    format!("{m}@{horizon} stressed − calm, by year")
                } else {
                    format!("{s} {m}@{horizon}, by regime")
                }
            })
            .unwrap_or_default();
        let slices: Vec<String> = l
            .slices
            .iter()
            .map(|(s, v)| format!("{s} {v:+.4}"))
            .collect();
        println!(
            "  {:<11} {:<7} {:<30} {:<9} {metric}: {}{}",
            l.engine,
            l.market_id,
            l.config_id,
            l.label,
            if slices.is_empty() {
                "—".into()
            } else {
                slices.join(", ")
            },
            l.dominated_by
                .as_ref()
                .map(|d| format!(" (dominated by {d})"))
                .unwrap_or_default()
        );
    }
    println!(
        "\nmetrics over every regime and year (mean; t against no skill — 0.5 for hit rates, 0 \
         otherwise — with Newey–West errors over the overlapping horizons; outcomes)"
    );
    let all: Vec<&SliceStats> = slices
        .iter()
        .filter(|s| s.regime == "ALL" && s.period == "ALL")
        .filter(|s| {
            let at_horizon = s.horizon_days == horizon || s.subject == "forecast";
            at_horizon
                && headline(&s.engine)
                    .iter()
                    .any(|(subj, m)| (*subj == "*" || *subj == s.subject) && *m == s.metric)
        })
        .collect();
    for s in all {
        println!(
            "  {:<11} {:<7} {:<30} {:<22} {:>3}d {:<14} {:>+10.4} t {:>+6.2} n {}",
            s.engine,
            s.market_id,
            s.config_id,
            s.subject,
            s.horizon_days,
            s.metric,
            s.mean,
            s.t_stat,
            s.n
        );
    }
    Ok(())
}

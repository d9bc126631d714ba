//! `pv2 kronos …`: what the outcomes say about each config, candidate configs and their
//! states, user proposals, rejection, the promotion freeze and the audit trail. Works on
//! the databases directly; a running daemon sees every change at its next job.

use crate::cli::{KronosCommand, OutputFormat};
use crate::clock::SystemClock;
use crate::context::Context;
use crate::kronos::candidates::{self, Provenance};
use crate::spine::engine_config::resolve_config;
use anyhow::{Context as _, anyhow};
use chrono::NaiveDate;
use prometheus::domain::Clock;
use prometheus::kronos::analytics::{SliceStats, label_configs, primary_metric, summarise};
use prometheus::kronos::config::KronosConfig;
use prometheus::kronos::proposals::{Candidate, Origin, diff};
use prometheus::store::{KronosStore, ProposalRecord, ProposalState, Stores};
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
            match format {
                OutputFormat::Json => println!(
                    "{}",
                    json!({"new": new, "proposal": proposal_json(&stored)})
                ),
                OutputFormat::Text => println!(
                    "{} {} ({}): {}{}",
                    stored.proposal_id,
                    stored.state,
                    stored.engine,
                    stored.reason,
                    if new { "" } else { " — already proposed" }
                ),
            }
            if stored.state == ProposalState::Refused.as_str() {
                anyhow::bail!("proposal {} refused: {}", stored.proposal_id, stored.reason);
            }
            Ok(())
        }
        KronosCommand::Reject { id, reason, by } => {
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

fn origin_label(origin: &str) -> String {
    serde_json::from_str::<Origin>(origin).map_or_else(|_| origin.to_owned(), |o| o.label())
}

fn proposal_json(p: &ProposalRecord) -> Value {
    json!({
        "proposal_id": p.proposal_id, "engine": p.engine, "market": p.market_id,
        "config_id": p.config_id, "base_config_id": p.base_config_id, "state": p.state,
        "reason": p.reason, "origin": serde_json::from_str::<Value>(&p.origin).unwrap_or(Value::Null),
        "sweep_id": p.sweep_id, "changes": serde_json::from_str::<Value>(&p.changes).unwrap_or(Value::Null),
        "created_at": p.created_at, "created_by": p.created_by, "updated_at": p.updated_at,
    })
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
    let (min_n, horizon) = (cfg.min_outcomes, cfg.longest_horizon());
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

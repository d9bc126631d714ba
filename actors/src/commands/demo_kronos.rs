//! The demo's Kronos section: what the daily Kronos jobs logged and measured over the demo's
//! last sessions, and one search run to its verdict — a user's candidate (the portfolio's
//! risk aversion doubled) beside the negative controls, each experiment a walk-forward
//! backtest over the last year and a half (a shorter window than the shipped 8 + 2 years,
//! which the demo's history cannot hold), judged by the gates.

use crate::clock::SystemClock;
use crate::context::Context;
use crate::kronos::candidates::{self, Provenance};
use crate::kronos::experiments::{enqueue_search, judge_search, work};
use crate::spine::engine_config::resolve_config;
use chrono::NaiveDate;
use prometheus::domain::{Clock, MarketId};
use prometheus::kronos::analytics::label_configs;
use prometheus::kronos::config::KronosConfig;
use prometheus::kronos::gates::GateResult;
use prometheus::kronos::proposals::{Candidate, Control, Origin, control, diff};
use prometheus::store::{KronosStore, ProposalRecord, Stores};
use serde_json::{Value, json};

/// What the demo shows of Kronos.
#[derive(Default)]
pub struct KronosDemo {
    decisions: usize,
    outcomes: usize,
    labels: Vec<(String, String)>,
    search: String,
    proposals: Vec<ProposalRecord>,
}

/// Runs the demo's search on `market` ending on `end`.
///
/// # Errors
/// Storage failures; experiments' own failures are shown, not returned.
pub async fn run(
    ctx: &Context,
    stores: &Stores,
    market: &MarketId,
    end: NaiveDate,
) -> anyhow::Result<KronosDemo> {
    let db = &stores.runtime;
    let m = market.as_str();
    let mut cfg = resolve_config::<KronosConfig>(&ctx.source, db, &SystemClock)
        .await?
        .config;
    cfg.experiments.in_sample_months = 12;
    cfg.experiments.holdout_months = 6;
    let outcomes = db.outcomes(Some(m), None, end).await?;
    let records: Vec<_> = outcomes.iter().map(|o| o.record.clone()).collect();
    let shortest = cfg.horizons.first().copied().unwrap_or(1);
    let labels = label_configs(&records, 3, shortest)
        .into_iter()
        .map(|l| (l.engine, l.label))
        .collect();
    let decisions = db
        .decisions(m, NaiveDate::MIN.max(end - chrono::Days::new(60)), end)
        .await?
        .len();
    let search = format!("demo-{m}-{end}");
    let now = SystemClock.now();
    let mut candidates_: Vec<Candidate> = Vec::new();
    let (_, portfolio) = candidates::active_in(ctx, db, "portfolio").await?;
    let mut body = portfolio.clone();
    let ra = body["risk_aversion"].as_f64().unwrap_or(4.0);
    body["risk_aversion"] = json!(ra * 2.0);
    candidates_.push(Candidate {
        engine: "portfolio".into(),
        changes: diff(&portfolio, &body),
        body,
        origin: Origin::User { by: "demo".into() },
    });
    for c in Control::ALL {
        let (_, active) = candidates::active_in(ctx, db, c.engine()).await?;
        candidates_.push(control(c, &active));
    }
    for c in &candidates_ {
        let Some(spec) = candidates::spec(&c.engine) else {
            continue;
        };
        let (base, base_body) = candidates::active_in(ctx, db, &c.engine).await?;
        let record = candidates::proposal(
            &spec,
            c,
            &Provenance {
                market: m,
                base: &base,
                base_body: &base_body,
                sweep_id: &search,
                by: "demo",
                at: now,
            },
        )?;
        db.insert_proposal(&record).await?;
    }
    enqueue_search(stores, &cfg, &search, m, end, &SystemClock).await?;
    work(ctx, stores, &cfg, "demo", None).await?;
    judge_search(stores, &cfg, &search).await?;
    let proposals = db
        .proposals(None)
        .await?
        .into_iter()
        .filter(|p| p.sweep_id == search)
        .collect();
    Ok(KronosDemo {
        decisions,
        outcomes: records.len(),
        labels,
        search,
        proposals,
    })
}

fn origin(p: &ProposalRecord) -> String {
    serde_json::from_str::<Origin>(&p.origin).map_or_else(|_| p.origin.clone(), |o| o.label())
}

fn gates(p: &ProposalRecord) -> Vec<GateResult> {
    p.gates
        .as_deref()
        .and_then(|g| serde_json::from_str(g).ok())
        .unwrap_or_default()
}

impl KronosDemo {
    /// The section as JSON.
    pub fn json(&self) -> Value {
        json!({
            "decisions": self.decisions, "outcomes": self.outcomes,
            "labels": self.labels.iter().map(|(e, l)| json!({"engine": e, "label": l})).collect::<Vec<_>>(),
            "search": self.search,
            "proposals": self.proposals.iter().map(|p| json!({
                "proposal_id": p.proposal_id, "engine": p.engine, "origin": origin(p),
                "state": p.state, "reason": p.reason,
                "gates": gates(p).iter().map(|g| json!({"gate": g.gate, "passed": g.passed, "detail": g.detail})).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        })
    }

    /// The section as text.
    pub fn print(&self) {
        println!(
            "  kronos          {} decisions logged over the daily runs, {} outcome values measured",
            self.decisions, self.outcomes
        );
        if !self.labels.is_empty() {
            let l: Vec<String> = self
                .labels
                .iter()
                .map(|(e, l)| format!("{e} {l}"))
                .collect();
            println!("    configs (shortest horizon): {}", l.join(", "));
        }
        println!("    search {} (12 + 6 months, walk-forward):", self.search);
        for p in &self.proposals {
            println!(
                "    {} {:<10} {:<24} {:<8} {}",
                p.proposal_id,
                p.engine,
                origin(p),
                p.state,
                p.reason
            );
            let g = gates(p);
            if !g.is_empty() {
                let line: Vec<String> = g
                    .iter()
                    .map(|g| format!("{}{}", g.gate, if g.passed { "✓" } else { "✗" }))
                    .collect();
                println!("      gates: {}", line.join(" "));
            }
        }
    }
}

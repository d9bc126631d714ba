//! The weekly search: for each market and decision engine whose active config the outcomes
//! do not call robust, bounded one-key steps around it over the keys the engine declares
//! tunable, stored as proposals; and the negative controls, so every search is judged by
//! gates that are shown to refuse bad configs. The search's experiments are queued at once
//! (the baseline and one per candidate); workers run them.

use super::candidates::{self, Provenance};
use super::experiments::enqueue_search;
use crate::spine::job_actor::JobContext;
use crate::spine::job_error::JobError;
use prometheus::domain::ConfigId;
use prometheus::kronos::analytics::label_configs;
use prometheus::kronos::config::KronosConfig;
use prometheus::kronos::proposals::{Control, control, sweep};
use prometheus::store::{ConfigStore, KronosStore, ProposalState};
use serde_json::Value;
use std::collections::BTreeSet;

/// The labels that start a sweep of an engine.
const SWEEP_WHEN: [&str; 3] = ["dominated", "niche", "failing"];

/// Proposes candidates for the run's market (or, for a `GLOBAL` run, every market with
/// outcomes); returns a summary line.
///
/// # Errors
/// Store failures; an active config that no longer parses (permanent).
pub async fn propose(ctx: &JobContext, cfg: &KronosConfig) -> Result<(String, u64), JobError> {
    let runtime = &ctx.stores.runtime;
    let as_of = ctx.run.as_of;
    let run_market = ctx.run.market.as_str();
    // A market's run reads that market's outcomes only; a GLOBAL run, every market's.
    let one_market = ctx.markets.markets.iter().any(|m| m.id == run_market);
    let outcomes = runtime
        .outcomes(one_market.then_some(run_market), None, as_of)
        .await?;
    let markets: BTreeSet<String> = if one_market {
        [run_market.to_owned()].into()
    } else {
        outcomes
            .iter()
            .map(|o| o.record.market_id.clone())
            .collect()
    };
    let open: BTreeSet<(String, String)> = runtime
        .proposals(Some(ProposalState::Proposed))
        .await?
        .into_iter()
        .map(|p| (p.engine, p.market_id))
        .collect();
    let now = ctx.clock.now();
    let mut new = 0usize;
    let mut queued_total = 0u64;
    let mut lines = Vec::new();
    for market in &markets {
        let records: Vec<_> = outcomes
            .iter()
            .filter(|o| &o.record.market_id == market)
            .map(|o| o.record.clone())
            .collect();
        let labels = label_configs(&records, cfg.min_outcomes, cfg.longest_horizon());
        // One search per market and week: every engine's candidates and the controls,
        // judged against one baseline.
        let sweep_id = format!("search-{market}-{as_of}");
        let mut swept = Vec::new();
        for engine in candidates::ENGINES {
            let Some(spec) = candidates::spec(engine) else {
                continue;
            };
            let Some((base, body)) = active(ctx, engine).await? else {
                continue;
            };
            let label = labels
                .iter()
                .find(|l| l.engine == engine && l.config_id == base.as_str())
                .map(|l| l.label.as_str());
            let wanted = label.is_some_and(|l| SWEEP_WHEN.contains(&l))
                && !spec.tunable.is_empty()
                && !open.contains(&(engine.to_owned(), market.clone()));
            let mut cands = if wanted {
                sweep(engine, &body, spec.tunable, cfg.max_sweep_candidates)
            } else {
                Vec::new()
            };
            if wanted {
                swept.push(format!("{engine} ({})", label.unwrap_or("-")));
            }
            if cfg.negative_controls {
                cands.extend(
                    Control::ALL
                        .into_iter()
                        .filter(|c| c.engine() == engine)
                        .map(|c| control(c, &body)),
                );
            }
            for c in &cands {
                let record = candidates::proposal(
                    &spec,
                    c,
                    &Provenance {
                        market,
                        base: &base,
                        base_body: &body,
                        sweep_id: &sweep_id,
                        by: "kronos",
                        at: now,
                    },
                )
                .map_err(|e| JobError::permanent(format!("{engine}: {e}")))?;
                if runtime.insert_proposal(&record).await? {
                    new += 1;
                }
            }
        }
        let queued = enqueue_search(
            &ctx.stores,
            cfg,
            &sweep_id,
            market,
            as_of,
            ctx.clock.as_ref(),
        )
        .await
        .map_err(|e| JobError::transient(format!("queue {sweep_id}: {e:#}")))?;
        queued_total += queued as u64;
        lines.push(format!(
            "{market}: {queued} experiments queued; {}",
            if swept.is_empty() {
                "no engine to sweep".to_owned()
            } else {
                format!("swept {}", swept.join(", "))
            }
        ));
    }
    Ok((
        format!("{new} new proposals; {}", lines.join("; ")),
        new as u64 + queued_total,
    ))
}

/// The engine's active config (id and body), if it was ever activated.
async fn active(ctx: &JobContext, engine: &str) -> Result<Option<(ConfigId, Value)>, JobError> {
    let Some(stored) = ctx.stores.runtime.active_config(engine).await? else {
        return Ok(None);
    };
    let body: Value = serde_json::from_str(&stored.body).map_err(|e| {
        JobError::permanent(format!(
            "the active {engine} config {} is not JSON: {e}",
            stored.config_id
        ))
    })?;
    Ok(Some((stored.config_id, body)))
}

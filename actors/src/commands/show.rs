//! `pv2 show regime|stability|fragility|scenarios`: what the world-state engines stored for a
//! market and date, under the engine's active config unless another is named. The decision
//! engines' outputs are shown by [`super::show_decisions`].

use crate::cli::{ShowArgs, ShowWhat, TableFormat};
use crate::context::Context;
use anyhow::{Context as _, anyhow};
use prometheus::engines::regime::RegimeLabel;
use prometheus::store::{Stores, WorldStateStore};
use serde_json::json;

/// Runs `pv2 show`.
///
/// # Errors
/// Storage failures; nothing stored for the market, date and config.
pub async fn run(ctx: &Context, args: &ShowArgs) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    // A range, or one date as a table: the timeline.
    let range = match (args.from, args.to, args.date) {
        (Some(f), Some(t), _) => Some((f, t)),
        (_, _, Some(d)) if args.format == TableFormat::Csv || args.what.engine() == "execution" => {
            Some((d, d))
        }
        _ => None,
    };
    if let Some((from, to)) = range {
        let out = super::show_timeline::run(ctx, &stores, args, from, to).await;
        stores.close().await;
        return out;
    }
    let out = single_date(&stores, args).await;
    stores.close().await;
    out
}

async fn single_date(stores: &Stores, args: &ShowArgs) -> anyhow::Result<()> {
    let date = args
        .date
        .ok_or_else(|| anyhow!("pass --date D, or --from D --to D"))?;
    let r = &stores.runtime;
    if matches!(
        args.what,
        ShowWhat::Scores | ShowWhat::Universe | ShowWhat::Portfolio | ShowWhat::Risk
    ) {
        return super::show_decisions::run(stores, args, date).await;
    }
    let engine = args.what.engine();
    let config_id = super::show_timeline::world_config(r, engine, args).await?;
    let market = args.market.as_str();
    let none = || {
        anyhow!(
            "no {engine} output for {market} on {date} under {config_id}; run `pv2 run --market {market} --date {date} --dag engines` first"
        )
    };
    let json_out = args.format == TableFormat::Json;
    match args.what {
        ShowWhat::Regime => {
            let day = r.regime(market, date, &config_id).await?.ok_or_else(none)?;
            let trans = r.regime_transitions(market, date, &config_id).await?;
            if json_out {
                println!(
                    "{}",
                    json!({"market": market, "date": date, "config_id": config_id.as_str(), "regime": day,
                           "transitions": trans.iter().map(|t| json!({"from": t.from, "to": t.to, "count": t.transitions, "probability": t.probability})).collect::<Vec<_>>()})
                );
            } else {
                println!(
                    "{market} {date}: {} for {} sessions (raw {}), change risk {:.2}, expected to last {:.0} more sessions; model {}",
                    day.label,
                    day.days_in_regime,
                    day.raw_label,
                    day.change_risk,
                    day.expected_duration,
                    day.model_id
                );
                for l in RegimeLabel::ALL {
                    println!(
                        "  p({:<8}) = {:.3}",
                        l.as_str(),
                        day.probabilities[l.index()]
                    );
                }
                for t in &trans {
                    println!(
                        "  {:<8} → {:<8} {:>6} ({:.3})",
                        t.from.as_str(),
                        t.to.as_str(),
                        t.transitions,
                        t.probability
                    );
                }
            }
        }
        ShowWhat::Stability => {
            let mut rows = r.stability(market, date, &config_id).await?;
            if rows.is_empty() {
                return Err(none());
            }
            rows.sort_by(|a, b| {
                b.soft_target_score
                    .total_cmp(&a.soft_target_score)
                    .then(a.instrument_id.cmp(&b.instrument_id))
            });
            rows.truncate(args.top);
            if json_out {
                println!("{}", serde_json::to_string(&rows).context("encoding rows")?);
            } else {
                println!(
                    "{:<14} {:>9} {:>11} {:<10} {:<10}",
                    "instrument", "stability", "soft target", "class", "forecast"
                );
                for s in &rows {
                    println!(
                        "{:<14} {:>9.3} {:>11.1} {:<10} {:<10}",
                        s.instrument_id,
                        s.stability_score,
                        s.soft_target_score,
                        s.class.as_str(),
                        s.forecast_class.as_str()
                    );
                }
            }
        }
        ShowWhat::Fragility => {
            let mut rows = r.fragility(market, date, &config_id).await?;
            if rows.is_empty() {
                return Err(none());
            }
            rows.sort_by(|a, b| {
                b.fragility_score
                    .total_cmp(&a.fragility_score)
                    .then(a.instrument_id.cmp(&b.instrument_id))
            });
            rows.truncate(args.top);
            if json_out {
                println!("{}", serde_json::to_string(&rows).context("encoding rows")?);
            } else {
                println!(
                    "{:<14} {:>9} {:>7} {:<16} short",
                    "instrument", "fragility", "ES", "class"
                );
                for f in &rows {
                    let short = f.short.as_ref().map_or(String::new(), |s| {
                        format!(
                            "{:.2}% of NAV for {} days, stop {:.1}%",
                            s.weight_hint * 100.0,
                            s.horizon_days,
                            s.stop_loss * 100.0
                        )
                    });
                    println!(
                        "{:<14} {:>9.3} {:>6.1}% {:<16} {short}",
                        f.instrument_id,
                        f.fragility_score,
                        f.expected_shortfall * 100.0,
                        f.class.as_str()
                    );
                }
            }
        }
        // The decision engines' outputs and the ledger's tables returned above.
        ShowWhat::Scores
        | ShowWhat::Universe
        | ShowWhat::Portfolio
        | ShowWhat::Risk
        | ShowWhat::Positions
        | ShowWhat::Orders
        | ShowWhat::Fills
        | ShowWhat::Pnl
        | ShowWhat::PnlNames
        | ShowWhat::RiskActions => {}
        ShowWhat::Scenarios => {
            let id = r
                .scenario_set_id(market, date, &config_id)
                .await?
                .ok_or_else(none)?;
            let set = r.scenario_set(&id).await?.ok_or_else(none)?;
            let n = set.instruments.len();
            // Each instrument's compounded baseline (mean-path) return over the horizon.
            let base: Vec<f64> = set
                .stored
                .first()
                .map(|(_, _, _, v)| {
                    (0..n)
                        .map(|i| {
                            (0..set.horizon)
                                .map(|d| 1.0 + f64::from(v[d * n + i]))
                                .product::<f64>()
                                - 1.0
                        })
                        .collect()
                })
                .unwrap_or_default();
            if json_out {
                println!(
                    "{}",
                    json!({"set_id": set.set_id, "kind": set.kind, "paths": set.paths, "horizon": set.horizon,
                           "stored_paths": set.stored.len().saturating_sub(1), "instruments": set.instruments, "baseline_return": base})
                );
            } else {
                println!(
                    "{} {}: {} paths x {} days x {n} instruments ({} stored in full)",
                    set.set_id,
                    set.kind,
                    set.paths,
                    set.horizon,
                    set.stored.len().saturating_sub(1)
                );
                for (id, b) in set.instruments.iter().zip(&base).take(args.top) {
                    println!("  {id:<14} baseline {:>+7.2}%", b * 100.0);
                }
            }
        }
    }
    stores.close().await;
    Ok(())
}

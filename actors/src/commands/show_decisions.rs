//! `pv2 show scores|universe|portfolio|risk`: what the decision engines stored for a market
//! and date — under the engine's active config and id unless `--config-id` / `--id` name
//! others (a backtest's rows are under its backtest id and the configs it printed).

use super::percent::pct;
use crate::cli::{ShowArgs, ShowWhat, TableFormat};
use anyhow::{Context as _, anyhow};
use chrono::NaiveDate;
use prometheus::config::EngineConfig;
use prometheus::domain::ConfigId;
use prometheus::engines::assessment::{AssessmentConfig, FAMILIES};
use prometheus::engines::portfolio::PortfolioConfig;
use prometheus::engines::universe::UniverseConfig;
use prometheus::store::{ConfigStore, DecisionStore, RuntimeDb, Stores};
use serde_json::json;

/// The active config of `C`'s engine: its id and the config itself.
async fn active<C: EngineConfig>(r: &RuntimeDb) -> anyhow::Result<(ConfigId, C)> {
    let stored = r.active_config(C::ENGINE).await?.ok_or_else(|| {
        anyhow!(
            "the {} engine has no active config yet; run the engines DAG first or pass --config-id and --id",
            C::ENGINE
        )
    })?;
    let config: C = serde_json::from_str(&stored.body)
        .with_context(|| format!("the active {} config {}", C::ENGINE, stored.config_id))?;
    Ok((stored.config_id, config))
}

/// The config id and the row id to read: the arguments', else the active config's.
pub(crate) async fn ids<C: EngineConfig>(
    r: &RuntimeDb,
    args: &ShowArgs,
    id_of: fn(&C) -> &str,
) -> anyhow::Result<(ConfigId, String)> {
    if let (Some(c), Some(i)) = (&args.config_id, &args.id) {
        return Ok((ConfigId::new(c.clone()), i.clone()));
    }
    let (config_id, config) = active::<C>(r).await?;
    Ok((
        args.config_id.clone().map_or(config_id, ConfigId::new),
        args.id.clone().unwrap_or_else(|| id_of(&config).to_owned()),
    ))
}

/// Runs `pv2 show` for the decision engines.
///
/// # Errors
/// Storage failures; nothing stored for the market, date, id and config.
pub async fn run(stores: &Stores, args: &ShowArgs, date: NaiveDate) -> anyhow::Result<()> {
    let r = &stores.runtime;
    let market = args.market.as_str();
    let json_out = args.format == TableFormat::Json;
    let none = |what: &str, id: &str, c: &ConfigId| {
        anyhow!(
            "no {what} `{id}` for {market} on {date} under {c}; run `pv2 run --market {market} --date {date} --dag engines` first"
        )
    };
    match args.what {
        ShowWhat::Scores => {
            let (c, id) = ids::<AssessmentConfig>(r, args, |x| &x.strategy_id).await?;
            let stored = r
                .scores(&id, market, date, Some(&c))
                .await?
                .ok_or_else(|| none("scores", &id, &c))?;
            let mut rows = stored.rows;
            rows.sort_by(|a, b| {
                b.score
                    .total_cmp(&a.score)
                    .then(a.instrument_id.cmp(&b.instrument_id))
            });
            rows.truncate(args.top);
            if json_out {
                let out: Vec<_> = rows
                    .iter()
                    .map(|s| {
                        json!({"instrument_id": s.instrument_id, "expected_return": s.expected_return, "score": s.score,
                               "confidence": s.confidence, "label": s.label.as_str(), "prediction": s.prediction,
                               "families": FAMILIES.iter().zip(s.families).map(|(k, v)| (k.to_string(), v)).collect::<std::collections::BTreeMap<_, _>>()})
                    })
                    .collect();
                println!(
                    "{}",
                    json!({"strategy_id": id, "config_id": c.as_str(), "horizon_days": stored.horizon_days, "scores": out})
                );
            } else {
                println!(
                    "{id} {market} {date}, {}-session horizon ({c})",
                    stored.horizon_days
                );
                println!(
                    "{:<14} {:>8} {:>6} {:>5} {:<11} {}",
                    "instrument",
                    "E[ret]",
                    "score",
                    "conf",
                    "label",
                    FAMILIES.join(" ")
                );
                for s in &rows {
                    let fam: Vec<String> = s
                        .families
                        .iter()
                        .map(|v| v.map_or("-".to_owned(), |v| format!("{v:+.2}")))
                        .collect();
                    println!(
                        "{:<14} {:>8} {:>+6.2} {:>5.2} {:<11} {}",
                        s.instrument_id,
                        pct(s.expected_return),
                        s.score,
                        s.confidence,
                        s.label.as_str(),
                        fam.join(" ")
                    );
                }
            }
        }
        ShowWhat::Universe => {
            let (c, id) = ids::<UniverseConfig>(r, args, |x| &x.universe_id).await?;
            let mut members = r.universe(&id, market, date, Some(&c)).await?;
            if members.is_empty() {
                return Err(none("universe", &id, &c));
            }
            members.sort_by(|a, b| {
                a.tier
                    .cmp(&b.tier)
                    .then(
                        b.score
                            .unwrap_or(f64::NEG_INFINITY)
                            .total_cmp(&a.score.unwrap_or(f64::NEG_INFINITY)),
                    )
                    .then(a.id.cmp(&b.id))
            });
            if json_out {
                let out: Vec<_> = members
                    .iter()
                    .map(|m| json!({"instrument_id": m.id, "tier": m.tier.as_str(), "included": m.included(), "score": m.score, "sector": m.sector, "reasons": m.reasons}))
                    .collect();
                println!(
                    "{}",
                    json!({"universe_id": id, "config_id": c.as_str(), "members": out})
                );
            } else {
                let count = |t| members.iter().filter(|m| m.tier == t).count();
                use prometheus::engines::universe::Tier;
                println!(
                    "{id} {market} {date}: {} CORE, {} SATELLITE, {} EXCLUDED ({c})",
                    count(Tier::Core),
                    count(Tier::Satellite),
                    count(Tier::Excluded)
                );
                for m in members.iter().take(args.top) {
                    println!(
                        "{:<14} {:<9} {:>6} {:<24} {}",
                        m.id,
                        m.tier.as_str(),
                        m.score.map_or("-".to_owned(), |s| format!("{s:+.2}")),
                        m.sector,
                        m.reasons.join("; ")
                    );
                }
            }
        }
        ShowWhat::Positions
        | ShowWhat::Orders
        | ShowWhat::Fills
        | ShowWhat::Pnl
        | ShowWhat::PnlNames
        | ShowWhat::RiskActions => {
            return Err(anyhow!(
                "{:?} is a ledger table; `pv2 show` reads it as a timeline",
                args.what
            ));
        }
        ShowWhat::Portfolio | ShowWhat::Risk => {
            let (c, id) = ids::<PortfolioConfig>(r, args, |x| &x.portfolio_id).await?;
            let target = r
                .targets(&id, market, &c, date, date)
                .await?
                .pop()
                .ok_or_else(|| none("target portfolio", &id, &c))?;
            let report = r
                .risk_report(&id, market, date, &c)
                .await?
                .ok_or_else(|| none("risk report", &id, &c))?;
            if args.what == ShowWhat::Portfolio {
                let mut w = target.weights;
                w.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                if json_out {
                    println!(
                        "{}",
                        json!({"portfolio_id": id, "config_id": c.as_str(), "method": target.method, "weights": w,
                               "cash": report.cash, "defensive": report.defensive, "notes": report.notes})
                    );
                } else {
                    println!(
                        "{id} {market} {date}: {} names by {}, ex-ante vol {} ({c})",
                        w.len(),
                        target.method,
                        pct(report.ex_ante_vol)
                    );
                    if let Some(why) = &report.defensive {
                        println!("  DEFENSIVE: {why}");
                    }
                    for (i, x) in w.iter().take(args.top) {
                        println!("  {i:<14} {:>7}", pct(*x));
                    }
                    if report.cash > 0.0 {
                        println!("  {:<14} {:>7}", "CASH", pct(report.cash));
                    }
                    for n in report
                        .notes
                        .iter()
                        .filter(|n| Some(*n) != report.defensive.as_ref())
                    {
                        println!("  note: {n}");
                    }
                }
            } else if json_out {
                println!(
                    "{}",
                    json!({"portfolio_id": id, "config_id": c.as_str(), "report": report})
                );
            } else {
                print_risk(&id, market, date, &report);
            }
        }
        ShowWhat::Regime | ShowWhat::Stability | ShowWhat::Fragility | ShowWhat::Scenarios => {
            return Err(anyhow!("`pv2 show {:?}` is a world-state view", args.what));
        }
    }
    Ok(())
}

/// Prints a risk report for people.
pub fn print_risk(
    id: &str,
    market: &str,
    date: chrono::NaiveDate,
    r: &prometheus::engines::portfolio::risk::RiskReport,
) {
    println!(
        "{id} {market} {date}: {} names (effective {:.1}), largest {}, gross {}, turnover {}, forced exits {}",
        r.names,
        r.effective_names,
        pct(r.max_weight),
        pct(r.gross),
        pct(r.turnover),
        pct(r.forced_exits.abs())
    );
    println!("  ex-ante volatility {} a year", pct(r.ex_ante_vol));
    if let Some(why) = &r.defensive {
        println!("  DEFENSIVE: {why}");
    }
    if r.max_weight_cap > 0.0 {
        println!(
            "  per-name cap {} ({} of {} names at it), cash {}",
            pct(r.max_weight_cap),
            r.names_at_cap,
            r.names,
            pct(r.cash)
        );
    }
    for n in r.notes.iter().filter(|n| Some(*n) != r.defensive.as_ref()) {
        println!("  note: {n}");
    }
    if let Some(h) = r.historical {
        println!(
            "  historical 1-day ({} sessions): VaR95 {}  ES95 {}  VaR99 {}  ES99 {}",
            r.historical_days,
            pct(h.p95.var),
            pct(h.p95.es),
            pct(h.p99.var),
            pct(h.p99.es)
        );
    }
    if let Some(s) = &r.scenario {
        println!(
            "  scenarios {} ({} paths x {} days, {} covered): VaR95 {}  ES95 {}  VaR99 {}  ES99 {}",
            s.set_id,
            s.paths,
            s.horizon,
            pct(s.coverage),
            pct(s.tails.p95.var),
            pct(s.tails.p95.es),
            pct(s.tails.p99.var),
            pct(s.tails.p99.es)
        );
    }
    println!(
        "  fragility exposure {:.3}, weight in SHORT_CANDIDATE/CRISIS names {}",
        r.fragility_exposure,
        pct(r.fragile_weight)
    );
    let sectors: Vec<String> = r
        .sectors
        .iter()
        .map(|(s, w)| format!("{s} {}", pct(*w)))
        .collect();
    println!("  sectors: {}", sectors.join(", "));
}

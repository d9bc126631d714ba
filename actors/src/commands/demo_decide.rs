//! The demo's decision step: the `core_long_eq` strategy backtested through the whole engine
//! chain over the synthetic history, `equal_weight` over the same sessions as the
//! yardstick, and a summary — the regime timeline (with its agreement with the generator's
//! hidden regimes), the current target's top holdings and risk report, and the metrics of
//! both strategies.

use super::backtest::{METRICS_HEADER, metrics_row};
use super::show_decisions::print_risk;
use crate::backtest::{BacktestOutcome, load_strategy, run_backtest};
use crate::context::Context;
use crate::spine::faults::FaultPlan;
use chrono::NaiveDate;
use prometheus::domain::MarketId;
use prometheus::engines::portfolio::PortfolioConfig;
use prometheus::engines::portfolio::risk::RiskReport;
use prometheus::store::{ConfigStore, DecisionStore, Stores, SyntheticTruthStore, WorldStateStore};
use serde_json::json;
use std::collections::BTreeMap;

/// A live target: its date, portfolio id, weights and risk report.
type CurrentTarget = (NaiveDate, String, Vec<(String, f64)>, RiskReport);

/// What the step did and found.
pub struct Decisions {
    /// The market.
    market: String,
    /// The `core_long_eq` backtest, or why it produced nothing.
    core: Result<BacktestOutcome, String>,
    /// The `equal_weight` backtest, or why it produced nothing.
    equal: Result<BacktestOutcome, String>,
    /// `(first, last, label)` spans of the regime in force on each rebalance date.
    timeline: Vec<(NaiveDate, NaiveDate, String)>,
    /// Share of rebalance dates on which the engine's stress (CRISIS or RISK_OFF) matches
    /// the generator's hidden stress (crisis or stressed), with the number of dates.
    agreement: Option<(f64, usize)>,
    /// The live target of the last session (from the engines DAG) and its report.
    current: Option<CurrentTarget>,
}

/// The live portfolio's target on `last` under the active portfolio config.
async fn current_target(
    stores: &Stores,
    market: &MarketId,
    last: NaiveDate,
) -> anyhow::Result<Option<CurrentTarget>> {
    let r = &stores.runtime;
    let Some(active) = r.active_config("portfolio").await? else {
        return Ok(None);
    };
    let config: PortfolioConfig = serde_json::from_str(&active.body)?;
    let Some(target) = r
        .latest_target(
            &config.portfolio_id,
            market.as_str(),
            &active.config_id,
            last,
        )
        .await?
    else {
        return Ok(None);
    };
    let Some(report) = r
        .risk_report(
            &config.portfolio_id,
            market.as_str(),
            target.as_of,
            &active.config_id,
        )
        .await?
    else {
        return Ok(None);
    };
    Ok(Some((
        target.as_of,
        config.portfolio_id,
        target.weights,
        report,
    )))
}

/// Runs both backtests over `[from, to]` and gathers the summary.
///
/// # Errors
/// Missing strategy files, backtest or storage failures.
pub async fn run(
    ctx: &Context,
    market: &MarketId,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Decisions> {
    let mut strategies = Vec::new();
    for name in ["core_long_eq", "equal_weight"] {
        let mut s = load_strategy(ctx, name)?;
        s.market = market.to_string();
        s.benchmark = format!("MKT:{market}");
        strategies.push(s);
    }
    // A market too small or too short for a strategy (fewer names than its caps allow, no
    // year of history) is reported in the summary, not a failure of the demo.
    let core = run_backtest(ctx, &strategies[0], from, to, FaultPlan::default(), true)
        .await
        .map_err(|e| format!("{e:#}"));
    let equal = run_backtest(ctx, &strategies[1], from, to, FaultPlan::default(), true)
        .await
        .map_err(|e| format!("{e:#}"));
    let stores = ctx.open_stores().await?;
    let labels: BTreeMap<NaiveDate, String> = stores
        .runtime
        .regime_labels(market.as_str(), from, to)
        .await?
        .into_iter()
        .collect();
    let mut timeline: Vec<(NaiveDate, NaiveDate, String)> = Vec::new();
    for (d, l) in &labels {
        match timeline.last_mut() {
            Some((_, last, label)) if label == l => *last = *d,
            _ => timeline.push((*d, *d, l.clone())),
        }
    }
    let hidden: BTreeMap<NaiveDate, String> = stores
        .historical
        .regime_path(market, from, to)
        .await?
        .into_iter()
        .collect();
    let pairs: Vec<bool> = labels
        .iter()
        .filter_map(|(d, l)| {
            let h = hidden.get(d)?;
            let engine = l == "CRISIS" || l == "RISK_OFF";
            let truth = h != "calm";
            Some(engine == truth)
        })
        .collect();
    let agreement = (!pairs.is_empty()).then(|| {
        (
            pairs.iter().filter(|x| **x).count() as f64 / pairs.len() as f64,
            pairs.len(),
        )
    });
    let current = current_target(&stores, market, to).await?;
    stores.close().await;
    Ok(Decisions {
        market: market.to_string(),
        core,
        equal,
        timeline,
        agreement,
        current,
    })
}

impl Decisions {
    /// The summary as JSON.
    pub fn json(&self) -> serde_json::Value {
        json!({
            "regime_timeline": self.timeline.iter().map(|(a, b, l)| json!({"from": a, "to": b, "label": l})).collect::<Vec<_>>(),
            "regime_agreement_with_hidden": self.agreement.map(|(a, n)| json!({"share": a, "dates": n})),
            "current_target": self.current.as_ref().map(|(d, id, w, r)| json!({"date": d, "portfolio_id": id, "weights": w, "risk": r})),
            "backtests": {
                "core_long_eq": self.core.as_ref().map_or_else(|e| json!({"error": e}), super::backtest::as_json),
                "equal_weight": self.equal.as_ref().map_or_else(|e| json!({"error": e}), super::backtest::as_json),
            },
        })
    }

    /// The summary lines of the text report.
    pub fn print(&self) {
        println!(
            "  regime timeline the engine's label on each rebalance date ({} spans)",
            self.timeline.len()
        );
        let shown = 16;
        for (a, b, l) in self.timeline.iter().take(shown) {
            println!("    {a} … {b}  {l}");
        }
        if self.timeline.len() > shown {
            println!("    … {} more spans", self.timeline.len() - shown);
        }
        if let Some((a, n)) = self.agreement {
            println!(
                "    agreement with the generator's hidden stress on {n} dates: {:.1}%",
                100.0 * a
            );
        }
        if let Some((d, id, w, r)) = &self.current {
            let mut w = w.clone();
            w.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let top: Vec<String> = w
                .iter()
                .take(10)
                .map(|(i, x)| format!("{i} {:.1}%", 100.0 * x))
                .collect();
            println!(
                "  current target  {id} on {d}: {} names; top: {}",
                w.len(),
                top.join(", ")
            );
            print!("  risk report     ");
            print_risk(id, &self.market, *d, r);
        }
        match (&self.core, &self.equal) {
            (Ok(core), Ok(equal)) => {
                let c = &core.run;
                println!(
                    "  backtests       {}..{} monthly, next-open fills, 5 bp slippage + 1 bp commission",
                    c.from, c.to
                );
                println!("    {METRICS_HEADER}");
                println!("    {}", metrics_row("core", &core.report.overall));
                println!("    {}", metrics_row("equal_w", &equal.report.overall));
                for (label, m) in &core.report.by_regime {
                    println!(
                        "    {}",
                        metrics_row(&format!("core/{}", &label[..label.len().min(5)]), m)
                    );
                }
                if let (Some(ic), Some(ric)) = (core.report.ic, core.report.rank_ic) {
                    println!("    assessment forecasts: mean IC {ic:.4}, mean rank IC {ric:.4}");
                }
                println!(
                    "    core_long_eq {} ({} rebalances, {} without a target), equal_weight {}",
                    c.backtest_id, c.rebalances, c.failed_rebalances, equal.run.backtest_id
                );
            }
            (core, equal) => {
                for (name, r) in [("core_long_eq", core), ("equal_weight", equal)] {
                    match r {
                        Ok(o) => println!("    {}", metrics_row(name, &o.report.overall)),
                        Err(e) => println!("  backtest {name}: {e}"),
                    }
                }
            }
        }
    }
}

//! `pv2 backtest --strategy NAME|FILE --from D --to D`: a strategy through the same
//! engines over history, the simulated broker, and its metrics overall and by regime.

use super::percent::pct;
use crate::backtest::{BacktestOutcome, load_strategy, run_backtest};
use crate::cli::{BacktestArgs, OutputFormat};
use crate::context::Context;
use crate::monitor::client::find_daemon;
use crate::spine::faults::FaultPlan;
use anyhow::bail;
use prometheus::backtest::metrics::Metrics;
use serde_json::json;
use std::io::IsTerminal;
use std::path::PathBuf;

/// Runs `pv2 backtest`.
///
/// # Errors
/// A running daemon, an invalid strategy or range, or a backtest without any target.
pub async fn run(ctx: &Context, args: &BacktestArgs, faults: FaultPlan) -> anyhow::Result<()> {
    let state_dir = PathBuf::from(&ctx.app.daemon.state_dir);
    if let Some(d) = find_daemon(&state_dir).await {
        bail!(
            "a daemon is running (pid {}, {}); stop it before a backtest — two orchestrators must not share one runtime database",
            d.pid,
            d.listen
        );
    }
    let strategy = load_strategy(ctx, &args.strategy)?;
    let progress = std::io::stderr().is_terminal() && args.format == OutputFormat::Text;
    let out = run_backtest(ctx, &strategy, args.from, args.to, faults, progress).await?;
    match args.format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&as_json(&out))?),
        OutputFormat::Text => print_text(&out),
    }
    Ok(())
}

/// The outcome as one JSON document.
pub fn as_json(out: &BacktestOutcome) -> serde_json::Value {
    let r = &out.run;
    json!({
        "backtest_id": r.backtest_id,
        "strategy": r.strategy,
        "market": r.market_id,
        "from": r.from,
        "to": r.to,
        "rebalances": r.rebalances,
        "failed_rebalances": r.failed_rebalances,
        "failures": out.failures.iter().map(|(d, e)| json!({"date": d, "error": e})).collect::<Vec<_>>(),
        "engine_configs": serde_json::from_str::<serde_json::Value>(&r.engine_configs).unwrap_or_default(),
        "metrics": out.report,
        "engine_seconds": out.engine_seconds,
        "broker_seconds": out.broker_seconds,
    })
}

fn opt(x: Option<f64>, f: fn(f64) -> String) -> String {
    x.map_or("-".to_owned(), f)
}

/// One aligned row of metrics.
pub fn metrics_row(label: &str, m: &Metrics) -> String {
    format!(
        "{label:<10} {:>5} {:>9} {:>8} {:>8} {:>7.2} {:>7.2} {:>8} {:>7.2} {:>9} {:>6} {:>8} {:>6}",
        m.days,
        pct(m.total_return),
        pct(m.cagr),
        pct(m.volatility),
        m.sharpe,
        m.sortino,
        pct(m.max_drawdown),
        m.calmar,
        format!("{:.2}x", m.turnover),
        format!("{:.1}%", 100.0 * m.hit_rate),
        opt(m.tracking_error, pct),
        opt(m.information_ratio, |x| format!("{x:.2}")),
    )
}

/// The header of [`metrics_row`].
pub const METRICS_HEADER: &str = "           days     total     CAGR      vol  Sharpe Sortino    maxDD  Calmar  turnover    hit       TE     IR";

fn print_text(out: &BacktestOutcome) {
    let r = &out.run;
    println!(
        "backtest {} — strategy {} on {} {}..{}: {} rebalances ({} failed), {:.1}s engines, {:.2}s broker",
        r.backtest_id,
        r.strategy,
        r.market_id,
        r.from,
        r.to,
        r.rebalances,
        r.failed_rebalances,
        out.engine_seconds,
        out.broker_seconds
    );
    println!("{METRICS_HEADER}");
    println!("{}", metrics_row("overall", &out.report.overall));
    for (label, m) in &out.report.by_regime {
        println!("{}", metrics_row(label, m));
    }
    let o = &out.report.overall;
    if let Some(b) = o.benchmark_return {
        println!("benchmark total return {}", pct(b));
    }
    println!(
        "costs: CAGR {} before costs, {} after ({} of mean equity a year at {:.2}x turnover)",
        pct(o.gross_cagr),
        pct(o.cagr),
        pct(o.cost_drag),
        o.turnover
    );
    if let Some(p) = o.psr {
        println!(
            "probabilistic Sharpe ratio (true Sharpe > 0): {:.1}%",
            100.0 * p
        );
    }
    for (label, m) in std::iter::once(("overall", o))
        .chain(out.report.by_regime.iter().map(|(l, m)| (l.as_str(), m)))
    {
        if let Some(i) = &m.intervals {
            println!(
                "95% intervals {label} ({} days; block bootstrap, {} × {}-day blocks): Sharpe {:.2} … {:.2}, CAGR {} … {}, vol {} … {}, maxDD {} … {}",
                m.days,
                i.resamples,
                i.block,
                i.sharpe.low,
                i.sharpe.high,
                pct(i.cagr.low),
                pct(i.cagr.high),
                pct(i.volatility.low),
                pct(i.volatility.high),
                pct(i.max_drawdown.low),
                pct(i.max_drawdown.high)
            );
        }
    }
    let t = &out.report.targets;
    println!(
        "targets: {} rebalances, cap bound most names on {}, defensive (no eligible name) on {}, part of the budget in cash on {}",
        t.rebalances, t.cap_bound, t.defensive, t.partly_cash
    );
    if let (Some(ic), Some(ric)) = (out.report.ic, out.report.rank_ic) {
        let t = |x: Option<f64>| x.map_or("-".to_owned(), |t| format!("{t:.2}"));
        println!(
            "assessment forecasts ({} evaluated runs): mean IC {ic:.4} (Newey–West t {}), mean rank IC {ric:.4} (t {})",
            out.report.ic_samples,
            t(out.report.ic_t),
            t(out.report.rank_ic_t)
        );
    }
    for (d, e) in out.failures.iter().take(5) {
        println!("  no target on {d}: {e}");
    }
    if out.failures.len() > 5 {
        println!("  … and {} more", out.failures.len() - 5);
    }
}

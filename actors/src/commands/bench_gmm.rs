//! `pv2 bench gmm`: the regime engine's Gaussian mixture fit — time and mean log-likelihood —
//! on standardised synthetic market features that `scripts/bench-gmm` also feeds to
//! scikit-learn's `GaussianMixture` with the same settings.

use crate::cli::{BenchGmmArgs, OutputFormat};
use anyhow::{Context as _, anyhow};
use chrono::NaiveDate;
use prometheus::domain::MarketId;
use prometheus::engines::gmm::{MixtureSettings, fit_mixture};
use prometheus::engines::regime::{MarketFeatures, MarketSeries, RegimeConfig, standardised};
use prometheus::synthetic_market::{SyntheticMarketParams, generate, weekdays};
use serde_json::json;
use std::fmt::Write as _;
use std::time::Instant;

/// Runs `pv2 bench gmm`.
///
/// # Errors
/// An unwritable data file or a failed fit.
pub fn run(args: &BenchGmmArgs) -> anyhow::Result<()> {
    let start = NaiveDate::from_ymd_opt(1995, 1, 2).unwrap_or_default();
    let end = start + chrono::Days::new(u64::from(args.years) * 365);
    let params = SyntheticMarketParams::new(50, 5, MarketId::from("SYN"))
        .check()
        .map_err(|e| anyhow!("{e}"))?;
    let market = generate(&params, &weekdays(start, end));
    let cfg = RegimeConfig::default();
    let f = MarketFeatures::compute(
        &MarketSeries::from_bars(&market.series),
        cfg.cross_section_min_members,
    )
    .select(&cfg.mixture_features);
    let (rows, dims) = (f.dates.len(), f.names.len());
    // Standardised as the engine does before fitting.
    let (data, _, _) = standardised(&f, rows);
    if let Some(path) = &args.data_out {
        let mut csv = f.names.join(",") + "\n";
        for row in data.chunks_exact(dims) {
            let line: Vec<String> = row.iter().map(|v| format!("{v:?}")).collect();
            let _ = writeln!(csv, "{}", line.join(","));
        }
        std::fs::write(path, csv).with_context(|| format!("writing {}", path.display()))?;
    }
    let settings = MixtureSettings {
        states: args.states,
        restarts: args.restarts,
        seed: cfg.seed,
        tolerance: cfg.tolerance,
        max_iterations: cfg.max_iterations,
        reg_covariance: cfg.reg_covariance,
    };
    let mut best = f64::INFINITY;
    let mut fitted = None;
    for _ in 0..args.rounds.max(1) {
        let t = Instant::now();
        let m = fit_mixture(&data, dims, &settings).map_err(|e| anyhow!("fit failed: {e}"))?;
        best = best.min(t.elapsed().as_secs_f64());
        fitted = Some(m);
    }
    let m = fitted.ok_or_else(|| anyhow!("no fit ran"))?;
    match args.format {
        OutputFormat::Json => println!(
            "{}",
            json!({"rows": rows, "dims": dims, "states": args.states, "restarts": args.restarts,
                   "tolerance": settings.tolerance, "reg_covariance": settings.reg_covariance,
                   "max_iterations": settings.max_iterations,
                   "log_likelihood": m.log_likelihood, "seconds": best, "iterations": m.iterations})
        ),
        OutputFormat::Text => println!(
            "gmm: {rows} days x {dims} features, {} states, {} restarts: mean log-likelihood {:.6}, best of {} fits {:.1} ms",
            args.states,
            args.restarts,
            m.log_likelihood,
            args.rounds.max(1),
            best * 1e3
        ),
    }
    Ok(())
}

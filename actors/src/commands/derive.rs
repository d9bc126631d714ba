//! `pv2 derive` and the derivation step shared by imports and the demo.

use crate::clock::SystemClock;
use crate::context::Context;
use crate::progress;
use anyhow::Context as _;
use prometheus::derived::{DeriveSummary, derive_incremental};
use prometheus::domain::{Clock, RunId};
use prometheus::store::HistoricalDb;

/// Recomputes derived series for everything marked as changed, with a progress bar.
///
/// # Errors
/// Configuration or storage failures.
pub(crate) async fn derive_marked(
    ctx: &Context,
    db: &HistoricalDb,
    run_id: &RunId,
) -> anyhow::Result<DeriveSummary> {
    let cfg = ctx.derived_config()?;
    let pb = progress::bar(0, "deriving");
    let summary = derive_incremental(db, &cfg, run_id, |done, total| {
        pb.set_length(total as u64);
        pb.set_position(done as u64);
    })
    .await
    .context("deriving returns, volatility and factors")?;
    pb.finish_and_clear();
    Ok(summary)
}

/// A one-line description of a derivation.
pub(crate) fn describe(s: &DeriveSummary) -> String {
    format!(
        "{} instruments, {} returns, {} volatilities, {} factor values",
        s.instruments, s.returns, s.volatility, s.factor_values
    )
}

/// Runs `pv2 derive`.
///
/// # Errors
/// Configuration or storage failures.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let run_id = RunId::new(format!(
        "derive-{}",
        SystemClock.now().format("%Y%m%dT%H%M%SZ")
    ));
    let s = derive_marked(ctx, &stores.historical, &run_id).await?;
    println!("derived: {}", describe(&s));
    stores.close().await;
    Ok(())
}

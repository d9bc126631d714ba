//! `pv2 init`: create and migrate both databases, register the configured markets.

use crate::context::Context;
use prometheus::store::redact_url;

/// Runs `pv2 init`. Safe to repeat: migrations and market registration are idempotent.
///
/// # Errors
/// Connection or migration failures.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let s = &ctx.app.storage;
    println!(
        "historical database: {} ({}) — migrated",
        redact_url(&s.historical_db),
        stores.historical.backend().name()
    );
    println!(
        "runtime database:    {} ({}) — migrated",
        redact_url(&s.runtime_db),
        stores.runtime.backend().name()
    );
    let ids: Vec<&str> = ctx.markets.markets.iter().map(|m| m.id.as_str()).collect();
    println!("markets registered:  {}", ids.join(", "));
    stores.close().await;
    Ok(())
}

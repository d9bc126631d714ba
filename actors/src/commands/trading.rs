//! The kill switch and the ledger's inputs from outside: `pv2 halt | reduce-only | flatten
//! | resume`, `pv2 trading`, and `pv2 import fills`.
//!
//! The switch is a row in the runtime database, not a message to the daemon: a running
//! daemon reads it immediately before every order, a stopped one at its next, so a halt
//! works whether or not the daemon is up and survives any restart.

use crate::cli::{OutputFormat, SwitchArgs};
use crate::clock::SystemClock;
use crate::context::Context;
use crate::engines::execution::{account_mismatches, halt_on_mismatch};
use crate::monitor::client::client_identity;
use anyhow::{Context as _, bail};
use prometheus::domain::{Clock, MarketId, TradingMode};
use prometheus::execution::config::ExecutionConfig;
use prometheus::execution::ledger::{AccountKey, Provenance};
use prometheus::execution::statement::book;
use prometheus::ingest::{RawFile, import_statement};
use prometheus::store::{
    ConfigStore, ExecutionStore, IngestLog, RuntimeDb, TradingModeChange, TradingStore,
};
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn describe(c: &TradingModeChange) -> String {
    format!(
        "{} (was {}) since {} by {}: {}",
        c.mode,
        c.previous,
        c.at.format("%Y-%m-%d %H:%M:%S UTC"),
        c.actor,
        c.reason
    )
}

fn change_json(c: &TradingModeChange) -> serde_json::Value {
    json!({"mode": c.mode.as_str(), "previous": c.previous.as_str(), "at": c.at,
           "actor": c.actor, "reason": c.reason})
}

/// Sets the kill switch to `mode`, audited with who asked and why.
///
/// # Errors
/// Storage failures.
pub async fn switch(ctx: &Context, mode: TradingMode, args: &SwitchArgs) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let reason = if args.reason.trim().is_empty() {
        "set by hand, no reason given".to_owned()
    } else {
        args.reason.trim().to_owned()
    };
    let change = stores
        .runtime
        .set_trading_mode(mode, &client_identity(), &reason, SystemClock.now())
        .await;
    stores.close().await;
    let change = change?;
    match args.format {
        OutputFormat::Json => println!("{}", change_json(&change)),
        OutputFormat::Text => {
            println!("trading is {}", describe(&change));
            if mode == TradingMode::Active {
                println!(
                    "  orders are sent again from the next plan; every pre-trade check still applies"
                );
            }
        }
    }
    Ok(())
}

/// Prints the kill switch's mode and its latest changes.
///
/// # Errors
/// Storage failures.
pub async fn status(ctx: &Context, last: u32, format: OutputFormat) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let (mode, _) = stores.runtime.trading_mode().await?;
    let changes = stores.runtime.trading_mode_changes(last).await?;
    stores.close().await;
    match format {
        OutputFormat::Json => println!(
            "{}",
            json!({"mode": mode.as_str(), "changes": changes.iter().map(change_json).collect::<Vec<_>>()})
        ),
        OutputFormat::Text => {
            println!("trading mode: {mode}");
            for c in &changes {
                println!("  {}", describe(c));
            }
            if changes.is_empty() {
                println!("  never set (ACTIVE)");
            }
        }
    }
    Ok(())
}

/// The active execution config (its defaults before the first start).
async fn execution_config(r: &RuntimeDb) -> anyhow::Result<ExecutionConfig> {
    Ok(match r.active_config("execution").await? {
        Some(c) => serde_json::from_str(&c.body)
            .with_context(|| format!("the active execution config {}", c.config_id))?,
        None => ExecutionConfig::default(),
    })
}

/// `pv2 import fills FILE`: books a broker statement against the account's sent orders,
/// forgets the sessions it changes (the next execution job marks them again), then
/// reconciles the whole ledger; a mismatch halts trading.
///
/// # Errors
/// An unreadable or headerless file, storage failures, or a ledger that does not reconcile
/// after the import (trading is then HALTED).
pub async fn import_fills(
    ctx: &Context,
    market: &str,
    account: Option<&str>,
    output: OutputFormat,
    file: &Path,
) -> anyhow::Result<()> {
    let stores = ctx.open_stores().await?;
    let result = import(&stores, market, account, output, file).await;
    stores.close().await;
    result
}

async fn import(
    stores: &prometheus::store::Stores,
    market: &str,
    account: Option<&str>,
    output: OutputFormat,
    file: &Path,
) -> anyhow::Result<()> {
    let market_id = MarketId::new(market);
    let raw = RawFile::read(file)?;
    let (outcome, rows) = import_statement(
        &stores.historical,
        &stores.archive,
        &raw,
        &market_id,
        &SystemClock,
    )
    .await?;
    book_statement(stores, &market_id, account, output, &outcome, &rows).await
}

/// Books a statement's fills (read into `outcome` and `rows`) into the ledger of `market`
/// and reconciles it: the part of `pv2 import fills` and of replaying a fills batch that
/// touches the runtime database. Fill ids come from the batch and the row, so booking the
/// same statement again adds nothing.
///
/// # Errors
/// Storage failures, or a ledger that does not reconcile (trading is then HALTED).
pub(crate) async fn book_statement(
    stores: &prometheus::store::Stores,
    market_id: &MarketId,
    account: Option<&str>,
    output: OutputFormat,
    outcome: &prometheus::ingest::ImportOutcome,
    rows: &[prometheus::ingest::ResolvedFill],
) -> anyhow::Result<()> {
    let market = market_id.as_str();
    let r = &stores.runtime;
    let config = execution_config(r).await?;
    let key = AccountKey {
        account_id: account.map_or(config.account_id.clone(), str::to_owned),
        market_id: market.to_owned(),
    };
    let start = crate::engines::execution::LEDGER_START;
    let end = chrono::NaiveDate::from_ymd_opt(2200, 12, 31).unwrap_or(chrono::NaiveDate::MAX);
    let orders = r.orders(&key, start, end).await?;
    let fills = r.fills(&key, start, end).await?;
    let booked: BTreeSet<String> = fills.iter().map(|f| f.fill_id.clone()).collect();
    let mut per_day: BTreeMap<chrono::NaiveDate, i64> = BTreeMap::new();
    for f in &fills {
        *per_day.entry(f.trade_date).or_default() += 1;
    }
    let booking = book(
        rows,
        &orders,
        &key,
        &outcome.batch.batch_id,
        &booked,
        &per_day,
    );
    let now = SystemClock.now();
    r.settle(&[], &booking.fills, &booking.updates, now).await?;
    let forgotten = match booking.first_date {
        Some(d) => r.forget_account_days_from(&key, d).await?,
        None => 0,
    };
    let mismatch = account_mismatches(r, &key, config.initial_capital).await?;
    let rejected = stores
        .historical
        .rejects(&outcome.batch.batch_id)
        .await?
        .len();
    let summary = json!({
        "batch_id": outcome.batch.batch_id, "file": outcome.batch.file,
        "account": key.account_id, "market": key.market_id,
        "fills": booking.fills.len(), "unmatched": booking.unmatched,
        "orders_updated": booking.updates.len(), "rejected": rejected,
        "rejected_by_reason": outcome.rejects.0, "sessions_to_mark_again": forgotten,
        "reconciled": mismatch.is_empty(), "mismatches": mismatch,
    });
    match output {
        OutputFormat::Json => println!("{summary}"),
        OutputFormat::Text => {
            println!(
                "imported fills from {} (batch {}) into {}/{}",
                outcome.batch.file, outcome.batch.batch_id, key.account_id, key.market_id
            );
            println!(
                "  {} new fill(s), {} matching no order, {} order(s) updated, {rejected} row(s) rejected",
                booking.fills.len(),
                booking.unmatched,
                booking.updates.len()
            );
            if forgotten > 0 {
                println!(
                    "  {forgotten} session(s) from {} are marked again by the next execution job",
                    booking
                        .first_date
                        .map(|d| d.to_string())
                        .unwrap_or_default()
                );
            }
        }
    }
    if !mismatch.is_empty() {
        let reason = format!(
            "the ledger of {}/{} does not reconcile after importing {}: {}",
            key.account_id,
            key.market_id,
            outcome.batch.file,
            mismatch.join("; ")
        );
        let as_of = booking.first_date.unwrap_or_else(|| now.date_naive());
        let provenance = Provenance {
            run_id: format!("import:{}", outcome.batch.batch_id),
            config_id: "import".to_owned(),
        };
        halt_on_mismatch(r, &key, as_of, &reason, &provenance, now).await?;
        bail!("{reason}; trading is HALTED until the ledger is fixed and `pv2 resume` is run");
    }
    Ok(())
}

//! `pv2 show positions|orders|fills|pnl|pnl-names|risk-actions`: the execution ledger of an
//! account and market over a range of sessions, as one table (CSV, JSON or text) — what the
//! dashboard's ledger tables show too.

use super::show_timeline::{Row, row};
use crate::cli::{ShowArgs, ShowWhat};
use anyhow::anyhow;
use chrono::NaiveDate;
use prometheus::domain::ConfigId;
use prometheus::execution::config::ExecutionConfig;
use prometheus::execution::ledger::AccountKey;
use prometheus::store::{ConfigStore, ExecutionStore, RuntimeDb, Stores};
use serde_json::json;
use std::collections::BTreeMap;

/// The account whose ledger is shown: `--id`, else the account of the execution config
/// named by `--config-id` or active.
///
/// # Errors
/// No config to read the account from, storage failures.
pub(crate) async fn account(r: &RuntimeDb, args: &ShowArgs) -> anyhow::Result<AccountKey> {
    let account_id = match &args.id {
        Some(id) => id.clone(),
        None => {
            let stored = match &args.config_id {
                Some(c) => r.config(&ConfigId::new(c.clone())).await?,
                None => r.active_config("execution").await?,
            };
            match stored {
                Some(c) => serde_json::from_str::<ExecutionConfig>(&c.body)?.account_id,
                None => ExecutionConfig::default().account_id,
            }
        }
    };
    Ok(AccountKey {
        account_id,
        market_id: args.market.clone(),
    })
}

/// The ledger rows of `args.what` dated in `[from, to]`.
///
/// # Errors
/// Storage failures.
pub(crate) async fn collect(
    stores: &Stores,
    args: &ShowArgs,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<Row>> {
    let r = &stores.runtime;
    let key = account(r, args).await?;
    let account = json!(key.account_id);
    let rows: Vec<Row> = match args.what {
        ShowWhat::Positions => r
            .positions_between(&key, from, to)
            .await?
            .into_iter()
            .map(|(d, p)| {
                row(
                    d,
                    json!({"instrument_id": p.instrument_id, "quantity": p.quantity,
                           "close": p.close, "value": p.value, "account": account}),
                )
            })
            .collect(),
        ShowWhat::Orders => r
            .orders(&key, from, to)
            .await?
            .into_iter()
            .map(|o| {
                row(
                    o.order_date,
                    json!({"instrument_id": o.instrument_id, "order_id": o.order_id, "seq": o.seq,
                           "side": if o.quantity > 0.0 { "BUY" } else { "SELL" },
                           "quantity": o.quantity, "filled_quantity": o.filled_quantity,
                           "reference_price": o.reference_price, "target_weight": o.target_weight,
                           "purpose": o.purpose.as_str(), "state": o.state.as_str(),
                           "broker": o.broker, "reason": o.reason, "run_id": o.provenance.run_id,
                           "config_id": o.provenance.config_id, "account": account}),
                )
            })
            .collect(),
        ShowWhat::Fills => r
            .fills(&key, from, to)
            .await?
            .into_iter()
            .map(|f| {
                row(
                    f.trade_date,
                    json!({"instrument_id": f.instrument_id, "fill_id": f.fill_id,
                           "order_id": f.order_id, "seq": f.seq, "quantity": f.quantity,
                           "price": f.price, "commission": f.commission, "slippage": f.slippage,
                           "source": f.source, "run_id": f.provenance.run_id,
                           "config_id": f.provenance.config_id, "account": account}),
                )
            })
            .collect(),
        ShowWhat::Pnl => {
            let mut by_sector: BTreeMap<NaiveDate, BTreeMap<String, f64>> = BTreeMap::new();
            for (d, p) in r.pnl_between(&key, from, to).await? {
                *by_sector.entry(d).or_default().entry(p.sector).or_default() += p.pnl;
            }
            r.account_days(&key, from, to)
                .await?
                .into_iter()
                .map(|a| {
                    let mut fields = json!({
                        "equity": a.equity, "cash": a.cash, "pnl": a.pnl,
                        "daily_return": a.daily_return, "costs": a.costs,
                        "traded_notional": a.traded_notional, "gross_exposure": a.gross_exposure,
                        "drawdown": 1.0 - a.equity / a.peak_equity.max(a.equity),
                        "run_id": a.provenance.run_id, "config_id": a.provenance.config_id,
                        "account": account,
                    });
                    for (sector, pnl) in by_sector.remove(&a.as_of).unwrap_or_default() {
                        fields[format!("pnl_{sector}")] = json!(pnl);
                    }
                    row(a.as_of, fields)
                })
                .collect()
        }
        ShowWhat::PnlNames => r
            .pnl_between(&key, from, to)
            .await?
            .into_iter()
            .map(|(d, p)| {
                row(
                    d,
                    json!({"instrument_id": p.instrument_id, "sector": p.sector, "pnl": p.pnl,
                           "costs": p.costs, "account": account}),
                )
            })
            .collect(),
        ShowWhat::RiskActions => r
            .risk_actions(&key, from, to)
            .await?
            .into_iter()
            .map(|a| {
                row(
                    a.as_of,
                    json!({"instrument_id": a.instrument_id, "check": a.check, "action": a.action,
                           "value": a.value, "limit": a.limit, "reason": a.reason, "at": a.at,
                           "run_id": a.provenance.run_id, "account": account}),
                )
            })
            .collect(),
        other => return Err(anyhow!("{other:?} is not a ledger table")),
    };
    Ok(rows)
}

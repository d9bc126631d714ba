//! `pv2 show WHAT --from D --to D`: an engine's stored outputs over a range of sessions as
//! one table — a row per date (regime, scenarios, risk) or per date and instrument
//! (stability, fragility, scores, universe, portfolio) — in CSV for pandas and friends, JSON,
//! or aligned text. Thirty years of regime labels are one command, not thousands.

use super::show_decisions::ids;
use crate::cli::{ShowArgs, ShowWhat, TableFormat};
use crate::context::Context;
use anyhow::{Context as _, anyhow};
use chrono::NaiveDate;
use prometheus::domain::ConfigId;
use prometheus::engines::assessment::{AssessmentConfig, FAMILIES};
use prometheus::engines::portfolio::PortfolioConfig;
use prometheus::engines::regime::RegimeLabel;
use prometheus::engines::universe::UniverseConfig;
use prometheus::store::{ConfigStore, DecisionStore, RuntimeDb, Stores, WorldStateStore};
use serde_json::{Map, Value, json};
use std::io::Write;

/// One output row: column name → value (columns are ordered by [`columns`]).
pub(super) type Row = Map<String, Value>;

pub(super) fn row(date: NaiveDate, fields: Value) -> Row {
    let mut out = Map::new();
    out.insert("date".into(), json!(date));
    if let Value::Object(m) = fields {
        out.extend(m);
    }
    out
}

/// The config id of a world-state engine's rows: `--config-id`, else the active one.
pub(super) async fn world_config(
    r: &RuntimeDb,
    engine: &str,
    args: &ShowArgs,
) -> anyhow::Result<ConfigId> {
    match &args.config_id {
        Some(c) => Ok(ConfigId::new(c.clone())),
        None => r
            .active_config(engine)
            .await?
            .map(|c| c.config_id)
            .ok_or_else(|| anyhow!("the {engine} engine has no active config yet; run the engines DAG first or pass --config-id")),
    }
}

/// Runs `pv2 show WHAT --from --to`.
///
/// # Errors
/// An unknown market, a range outside its calendar, storage failures, or nothing stored in
/// the range.
pub async fn run(
    ctx: &Context,
    stores: &Stores,
    args: &ShowArgs,
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<()> {
    let calendar = super::calendar::calendar_of(ctx, &args.market)?;
    super::calendar::check_range(&calendar, from, to)?;
    let dates: Vec<NaiveDate> = calendar.sessions(from, to).iter().map(|s| s.date).collect();
    let rows = if args.calibration {
        calibration(stores, args, &dates, from, to).await?
    } else {
        collect(stores, args, &dates, from, to).await?
    };
    if rows.is_empty() {
        if args.what.engine() == "execution" {
            return Err(anyhow!(
                "no {} in the ledger of {} from {from} to {to}; the execution job writes it after each session's target (pv2 backfill, or the daemon)",
                args.what.engine_rows(),
                args.market
            ));
        }
        return Err(anyhow!(
            "no {} output for {} from {from} to {to} under the config asked for; backfill the range first (pv2 backfill --market {} --from {from} --to {to})",
            args.what.engine(),
            args.market,
            args.market
        ));
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        TableFormat::Json => {
            serde_json::to_writer(&mut out, &rows).context("writing JSON")?;
            writeln!(out)?;
        }
        TableFormat::Csv => write_csv(&mut out, &rows)?,
        TableFormat::Text => write_text(&mut out, &rows)?,
    }
    out.flush()?;
    Ok(())
}

/// `pv2 show regime --calibration`: a row per label over the stored regimes of `dates`,
/// with what the market factor did over the sessions after them
/// ([`prometheus::engines::calibration`]). The month after `to` is read when it is stored.
///
/// # Errors
/// Another engine than the regime's, no active config, storage failures.
async fn calibration(
    stores: &Stores,
    args: &ShowArgs,
    dates: &[NaiveDate],
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<Row>> {
    use prometheus::derived::FactorMembership;
    use prometheus::engines::calibration::{HORIZON, calibrate};
    use prometheus::store::DerivedStore;
    if args.what != ShowWhat::Regime {
        return Err(anyhow!(
            "--calibration scores regime labels; use `pv2 show regime --calibration --from D --to D`"
        ));
    }
    let r = &stores.runtime;
    let c = world_config(r, "regime", args).await?;
    let mut labels = Vec::new();
    for &d in dates {
        if let Some(day) = r.regime(args.market.as_str(), d, &c).await? {
            labels.push((d, day.label));
        }
    }
    // Enough calendar days after `to` for the horizon's sessions.
    let until = to + chrono::Days::new(HORIZON as u64 * 2 + 14);
    let market = stores
        .historical
        .factor(&FactorMembership::market_factor(&args.market), from, until)
        .await?;
    let (days, returns): (Vec<NaiveDate>, Vec<f64>) =
        market.iter().map(|f| (f.trade_date, f.value)).unzip();
    Ok(calibrate(&labels, &days, &returns)
        .into_iter()
        .filter_map(|l| {
            match json!({
                "label": l.label.as_str(), "days": l.days, "share": l.share, "scored": l.scored,
                "next_21_vol": l.mean_vol, "next_21_return": l.mean_return,
                "next_21_median_return": l.median_return, "next_21_loss_share": l.loss_share,
                "next_21_drawdown": l.mean_drawdown, "next_21_worst_drawdown": l.worst_drawdown,
            }) {
                Value::Object(m) => Some(m),
                _ => None,
            }
        })
        .collect())
}

/// The rows of `args.what` over `dates` (the sessions of `[from, to]`): what `pv2 show
/// --from --to` prints and the dashboard's tables show.
///
/// # Errors
/// No active config to read by (and none named), storage failures.
pub(crate) async fn collect(
    stores: &Stores,
    args: &ShowArgs,
    dates: &[NaiveDate],
    from: NaiveDate,
    to: NaiveDate,
) -> anyhow::Result<Vec<Row>> {
    if args.what.engine() == "execution" {
        return super::show_ledger::collect(stores, args, from, to).await;
    }
    let r = &stores.runtime;
    let market = args.market.as_str();
    let mut rows = Vec::new();
    match args.what {
        ShowWhat::Regime => {
            let c = world_config(r, "regime", args).await?;
            for &d in dates {
                if let Some(day) = r.regime(market, d, &c).await? {
                    let mut fields = json!({
                        "label": day.label.as_str(), "raw_label": day.raw_label.as_str(),
                        "days_in_regime": day.days_in_regime, "change_risk": day.change_risk,
                        "expected_duration": day.expected_duration,
                    });
                    for l in RegimeLabel::ALL {
                        fields[format!("p_{}", l.as_str())] = json!(day.probabilities[l.index()]);
                    }
                    fields["model_id"] = json!(day.model_id);
                    rows.push(row(d, fields));
                }
            }
        }
        ShowWhat::Stability | ShowWhat::Fragility => {
            let engine = args.what.engine();
            let c = world_config(r, engine, args).await?;
            for &d in dates {
                let values: Vec<Value> = if args.what == ShowWhat::Stability {
                    let mut v = r.stability(market, d, &c).await?;
                    v.sort_by(|a, b| {
                        b.soft_target_score
                            .total_cmp(&a.soft_target_score)
                            .then(a.instrument_id.cmp(&b.instrument_id))
                    });
                    v.truncate(args.top);
                    v.iter()
                        .map(serde_json::to_value)
                        .collect::<Result<_, _>>()?
                } else {
                    let mut v = r.fragility(market, d, &c).await?;
                    v.sort_by(|a, b| {
                        b.fragility_score
                            .total_cmp(&a.fragility_score)
                            .then(a.instrument_id.cmp(&b.instrument_id))
                    });
                    v.truncate(args.top);
                    v.iter()
                        .map(serde_json::to_value)
                        .collect::<Result<_, _>>()?
                };
                rows.extend(values.into_iter().map(|v| row(d, v)));
            }
        }
        ShowWhat::Scenarios => {
            let c = world_config(r, "scenarios", args).await?;
            for &d in dates {
                if let Some(set_id) = r.scenario_set_id(market, d, &c).await? {
                    rows.push(row(d, json!({ "set_id": set_id })));
                }
            }
        }
        ShowWhat::Scores => {
            let (c, id) = ids::<AssessmentConfig>(r, args, |x| &x.strategy_id).await?;
            for &d in dates {
                if let Some(stored) = r.scores(&id, market, d, Some(&c)).await? {
                    let mut v = stored.rows;
                    v.sort_by(|a, b| {
                        b.score
                            .total_cmp(&a.score)
                            .then(a.instrument_id.cmp(&b.instrument_id))
                    });
                    v.truncate(args.top);
                    rows.extend(v.iter().map(|s| {
                        let mut fields = json!({"instrument_id": s.instrument_id, "expected_return": s.expected_return, "score": s.score,
                                   "confidence": s.confidence, "label": s.label.as_str(), "prediction": s.prediction});
                        // Each factor family's z-score as its own column (`z_momentum`…).
                        for (family, z) in FAMILIES.iter().zip(s.families) {
                            fields[format!("z_{family}")] = json!(z);
                        }
                        row(d, fields)
                    }));
                }
            }
        }
        ShowWhat::Universe => {
            let (c, id) = ids::<UniverseConfig>(r, args, |x| &x.universe_id).await?;
            for &d in dates {
                let members = r.universe(&id, market, d, Some(&c)).await?;
                rows.extend(members.iter().map(|m| {
                    row(
                        d,
                        json!({"instrument_id": m.id, "tier": m.tier.as_str(), "score": m.score,
                               "sector": m.sector, "reasons": m.reasons.join("; ")}),
                    )
                }));
            }
        }
        // Returned above.
        ShowWhat::Positions
        | ShowWhat::Orders
        | ShowWhat::Fills
        | ShowWhat::Pnl
        | ShowWhat::PnlNames
        | ShowWhat::RiskActions => {}
        ShowWhat::Portfolio | ShowWhat::Risk => {
            let (c, id) = ids::<PortfolioConfig>(r, args, |x| &x.portfolio_id).await?;
            let reports = r.risk_reports(&id, market, &c, from, to).await?;
            if args.what == ShowWhat::Risk {
                rows.extend(reports.iter().map(|(d, rep)| {
                    row(
                        *d,
                        json!({"names": rep.names, "ex_ante_vol": rep.ex_ante_vol,
                               "historical_es_99": rep.historical.map(|h| h.p99.es),
                               "scenario_es_99": rep.scenario.as_ref().map(|s| s.tails.p99.es),
                               "turnover": rep.turnover, "cash": rep.cash, "max_weight": rep.max_weight,
                               "max_weight_cap": rep.max_weight_cap, "names_at_cap": rep.names_at_cap,
                               "defensive": rep.defensive, "notes": rep.notes.join("; ")}),
                    )
                }));
            } else {
                let targets = r.targets(&id, market, &c, from, to).await?;
                let defensive: std::collections::BTreeMap<NaiveDate, (f64, Option<String>)> =
                    reports
                        .iter()
                        .map(|(d, rep)| (*d, (rep.cash, rep.defensive.clone())))
                        .collect();
                for t in &targets {
                    let (cash, why) = defensive.get(&t.as_of).cloned().unwrap_or((0.0, None));
                    rows.extend(t.weights.iter().map(|(inst, w)| {
                        row(
                            t.as_of,
                            json!({"instrument_id": inst, "weight": w, "defensive": Value::Null}),
                        )
                    }));
                    if cash > 0.0 {
                        rows.push(row(
                            t.as_of,
                            json!({"instrument_id": "CASH", "weight": cash, "defensive": why}),
                        ));
                    }
                }
            }
        }
    }
    Ok(rows)
}

/// A cell as text: strings bare, null empty, anything nested as JSON.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The columns: date, then what the row is about, then the rest by name.
fn columns(rows: &[Row]) -> Vec<String> {
    const FIRST: [&str; 3] = ["date", "instrument_id", "label"];
    let mut rest: Vec<String> = Vec::new();
    for r in rows {
        for k in r.keys() {
            if !FIRST.contains(&k.as_str()) && !rest.contains(k) {
                rest.push(k.clone());
            }
        }
    }
    rest.sort();
    FIRST
        .iter()
        .filter(|c| rows.iter().any(|r| r.contains_key(**c)))
        .map(|c| (*c).to_owned())
        .chain(rest)
        .collect()
}

fn write_csv(out: &mut impl Write, rows: &[Row]) -> anyhow::Result<()> {
    let cols = columns(rows);
    let mut w = csv::Writer::from_writer(out);
    w.write_record(&cols)?;
    for r in rows {
        w.write_record(cols.iter().map(|c| r.get(c).map(cell).unwrap_or_default()))?;
    }
    w.flush()?;
    Ok(())
}

fn write_text(out: &mut impl Write, rows: &[Row]) -> anyhow::Result<()> {
    let cols = columns(rows);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            cols.iter()
                .map(|c| match r.get(c) {
                    Some(Value::Number(n)) => n
                        .as_f64()
                        .filter(|_| !n.is_i64() && !n.is_u64())
                        .map_or_else(|| n.to_string(), |f| format!("{f:.4}")),
                    Some(v) => cell(v),
                    None => String::new(),
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = cols
        .iter()
        .enumerate()
        .map(|(i, c)| {
            cells
                .iter()
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
                .max(c.len())
        })
        .collect();
    let line = |vals: &[String]| -> String {
        vals.iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(&cols))?;
    for r in &cells {
        writeln!(out, "{}", line(r))?;
    }
    Ok(())
}

//! The dashboard's reads: what each view shows, as JSON, for any date the operator picks —
//! `as_of` bounds every read, so a past date shows what the system knew then (the engines'
//! outputs for a session are computed from data up to that session; runs, config changes
//! and Kronos decisions are cut at the end of that day).

use super::http::ApiState;
use crate::cli::{ShowArgs, ShowWhat, TableFormat};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::ValueEnum as _;
use prometheus::domain::ConfigId;
use prometheus::domain::InstrumentId;
use prometheus::engines::portfolio::PortfolioConfig;
use prometheus::store::{
    BacktestStore, ConfigStore, DecisionStore, ExecutionStore, PriceStore, RunStore, StoreError,
    StoredConfig, TradingStore, WorldStateStore,
};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

fn error(status: actix_web::http::StatusCode, e: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": e.to_string()}))
}

fn internal(e: impl std::fmt::Display) -> HttpResponse {
    error(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR, e)
}

fn bad(e: impl std::fmt::Display) -> HttpResponse {
    error(actix_web::http::StatusCode::BAD_REQUEST, e)
}

/// The date a request is about: `as_of`, else today on the daemon's clock.
fn as_of_or_today(state: &ApiState, as_of: Option<NaiveDate>) -> NaiveDate {
    as_of.unwrap_or_else(|| state.spine.events.now().date_naive())
}

/// The last instant of `d` (UTC): what "known on `d`" means for wall-clock records.
pub(super) fn end_of(d: NaiveDate) -> DateTime<Utc> {
    (d + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .map_or(DateTime::<Utc>::MAX_UTC, |t| t.and_utc())
        - Duration::nanoseconds(1)
}

/// `?as_of=`.
#[derive(Deserialize)]
pub(super) struct AsOf {
    as_of: Option<NaiveDate>,
}

/// `GET /api/markets`: the configured markets and their latest priced session.
pub(super) async fn markets(state: web::Data<ApiState>) -> HttpResponse {
    let mut out = Vec::new();
    for market in state.spine.calendars.keys() {
        match state
            .spine
            .stores
            .historical
            .latest_price_date(market)
            .await
        {
            Ok(latest) => out.push(json!({"market": market, "latest_prices": latest})),
            Err(e) => return internal(e),
        }
    }
    HttpResponse::Ok().json(out)
}

/// The config `actor` ran with in the scheduled DAGs' runs for `market` on the latest
/// session on or before `as_of` (looking 20 sessions back): what the system used then.
async fn used_config(
    state: &ApiState,
    market: &str,
    actor: &str,
    as_of: NaiveDate,
) -> Result<Option<StoredConfig>, StoreError> {
    let r = &state.spine.stores.runtime;
    let dags: Vec<&str> = state
        .spine
        .dags
        .dags
        .iter()
        .filter(|d| d.trigger.is_some() && d.jobs.iter().any(|j| j.actor == actor))
        .map(|d| d.id.as_str())
        .collect();
    let Some(calendar) = state.spine.calendars.get(market) else {
        return Ok(None);
    };
    if dags.is_empty() {
        return Ok(None);
    }
    for s in calendar
        .sessions(as_of - Duration::days(60), as_of)
        .iter()
        .rev()
        .take(20)
    {
        for dag in &dags {
            let jobs = r.succeeded_jobs(dag, market, s.date).await?;
            if let Some(c) = jobs
                .iter()
                .rev()
                .find(|j| j.actor == actor)
                .and_then(|j| j.config_id.clone())
            {
                return r.config(&ConfigId::new(c)).await;
            }
        }
    }
    Ok(None)
}

/// The config whose rows show `actor`'s outputs as of a date: the one its scheduled runs
/// used then, else (nothing ran by then) the active one. A config changed since does not
/// hide the history made under the old one.
pub(super) async fn config_as_of(
    state: &ApiState,
    market: &str,
    actor: &str,
    as_of: NaiveDate,
) -> Result<Option<StoredConfig>, StoreError> {
    match used_config(state, market, actor, as_of).await? {
        Some(c) => Ok(Some(c)),
        None => state.spine.stores.runtime.active_config(actor).await,
    }
}

/// The portfolio config in force for `market` on `as_of` ([`config_as_of`]): its id and
/// body (the overview's limits and ids).
async fn portfolio_as_of(
    state: &ApiState,
    market: &str,
    as_of: NaiveDate,
) -> Result<Option<(prometheus::domain::ConfigId, PortfolioConfig)>, String> {
    let stored = config_as_of(state, market, "portfolio", as_of)
        .await
        .map_err(|e| e.to_string())?;
    match stored {
        None => Ok(None),
        Some(s) => match serde_json::from_str(&s.body) {
            Ok(c) => Ok(Some((s.config_id, c))),
            Err(e) => Err(format!("the active portfolio config {}: {e}", s.config_id)),
        },
    }
}

/// Daily returns, before costs, of holding each target from the session after it was set
/// until the next: the portfolio's paper P&L over `[from, to]`.
async fn paper_pnl(
    state: &ApiState,
    targets: &[prometheus::store::StoredTarget],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<Value>, String> {
    let mut ids: Vec<InstrumentId> = targets
        .iter()
        .flat_map(|t| {
            t.weights
                .iter()
                .map(|(i, _)| InstrumentId::from(i.as_str()))
        })
        .collect();
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let closes = state
        .spine
        .stores
        .historical
        .adj_closes_many(&ids, from, to)
        .await
        .map_err(|e| e.to_string())?;
    let by_name: BTreeMap<&str, BTreeMap<NaiveDate, f64>> = closes
        .iter()
        .map(|(id, v)| (id.as_str(), v.iter().copied().collect()))
        .collect();
    let mut dates: Vec<NaiveDate> = by_name.values().flat_map(|m| m.keys().copied()).collect();
    dates.sort();
    dates.dedup();
    let mut out = Vec::new();
    let mut equity = 1.0;
    for pair in dates.windows(2) {
        let (prev, d) = (pair[0], pair[1]);
        // The target in force over (prev, d]: the latest set on or before prev.
        let Some(t) = targets.iter().rev().find(|t| t.as_of <= prev) else {
            continue;
        };
        let r: f64 = t
            .weights
            .iter()
            .filter_map(|(i, w)| {
                let p = by_name.get(i.as_str())?;
                Some(w * (p.get(&d)? / p.get(&prev)? - 1.0))
            })
            .sum();
        equity *= 1.0 + r;
        out.push(json!({"date": d, "return": r, "equity": equity}));
    }
    Ok(out)
}

/// The regime of `market` on the latest session on or before `as_of` under the regime
/// config in force then ([`config_as_of`]); when it has none in the 20 sessions before,
/// the latest under any config (a backtest's, a shadow's), with its id.
async fn regime_as_of(
    state: &ApiState,
    market: &str,
    as_of: NaiveDate,
) -> Result<
    Option<(
        prometheus::engines::regime::RegimeDay,
        prometheus::domain::ConfigId,
    )>,
    prometheus::store::StoreError,
> {
    let r = &state.spine.stores.runtime;
    if let (Some(active), Some(calendar)) = (
        config_as_of(state, market, "regime", as_of).await?,
        state.spine.calendars.get(market),
    ) {
        for s in calendar
            .sessions(as_of - Duration::days(60), as_of)
            .iter()
            .rev()
            .take(20)
        {
            if let Some(day) = r.regime(market, s.date, &active.config_id).await? {
                return Ok(Some((day, active.config_id)));
            }
        }
    }
    r.latest_regime(market, as_of).await
}

/// `GET /api/overview?as_of=`: per market the regime, the latest target's risk against its
/// limits and its paper P&L; open alerts; actor states.
pub(super) async fn overview(state: web::Data<ApiState>, q: web::Query<AsOf>) -> HttpResponse {
    let as_of = as_of_or_today(&state, q.as_of);
    let r = &state.spine.stores.runtime;
    let mut markets = Vec::new();
    for market in state.spine.calendars.keys() {
        let portfolio = match portfolio_as_of(&state, market, as_of).await {
            Ok(p) => p,
            Err(e) => return internal(e),
        };
        let regime = match regime_as_of(&state, market, as_of).await {
            Ok(x) => x.map(|(day, c)| json!({"day": day, "config_id": c.as_str()})),
            Err(e) => return internal(e),
        };
        let account = match account_as_of(&state, market, as_of).await {
            Ok(a) => a,
            Err(e) => return internal(e),
        };
        let mut block = json!({"market": market, "regime": regime, "portfolio": Value::Null,
                               "pnl": [], "account": account});
        if let Some((config_id, config)) = &portfolio {
            let id = &config.portfolio_id;
            let target = match r.latest_target(id, market, config_id, as_of).await {
                Ok(t) => t,
                Err(e) => return internal(e),
            };
            if let Some(t) = target {
                let report = match r.risk_report(id, market, t.as_of, config_id).await {
                    Ok(x) => x,
                    Err(e) => return internal(e),
                };
                let from = as_of - Duration::days(120);
                let targets = match r.targets(id, market, config_id, from, as_of).await {
                    Ok(x) => x,
                    Err(e) => return internal(e),
                };
                let pnl = match paper_pnl(&state, &targets, from, as_of).await {
                    Ok(x) => x,
                    Err(e) => return internal(e),
                };
                block["portfolio"] = json!({
                    "portfolio_id": id, "config_id": config_id.as_str(), "date": t.as_of,
                    "method": t.method, "weights": t.weights, "risk": report,
                    "limits": config.limits, "sector_cap": config.sector_cap,
                    "sector_caps": config.sector_caps,
                });
                block["pnl"] = json!(pnl);
            }
        }
        markets.push(block);
    }
    let actors: Vec<Value> = state
        .spine
        .statuses()
        .await
        .iter()
        .map(super::http::actor_json)
        .collect();
    // The kill switch as it stood at the end of the day shown.
    let trading = match r.trading_mode_changes(200).await {
        Ok(changes) => {
            let latest = changes.into_iter().find(|c| c.at <= end_of(as_of));
            json!({
                "mode": latest.as_ref().map_or("ACTIVE", |c| c.mode.as_str()),
                "change": latest.map(|c| json!({"at": c.at, "actor": c.actor, "reason": c.reason,
                                                "previous": c.previous.as_str()})),
            })
        }
        Err(e) => return internal(e),
    };
    HttpResponse::Ok().json(json!({
        "as_of": as_of,
        "markets": markets,
        "trading": trading,
        "alerts": state.spine.events.telemetry().open_alerts(),
        "actors": actors,
    }))
}

/// The execution ledger of `market` up to `as_of`: each session's equity, P&L and costs
/// over the 120 days to the latest session marked, the positions held, and the orders of
/// that session (`null` when no account trades the market).
async fn account_as_of(
    state: &ApiState,
    market: &str,
    as_of: NaiveDate,
) -> Result<Value, StoreError> {
    let r = &state.spine.stores.runtime;
    let Some(key) = r
        .accounts()
        .await?
        .into_iter()
        .find(|k| k.market_id == market)
    else {
        return Ok(Value::Null);
    };
    // The 120 days up to the latest session marked on or before `as_of`.
    let Some(latest) = r
        .account_day_before(&key, as_of + Duration::days(1))
        .await?
    else {
        return Ok(Value::Null);
    };
    let days = r
        .account_days(&key, latest.as_of - Duration::days(120), latest.as_of)
        .await?;
    let Some(last) = days.last() else {
        return Ok(Value::Null);
    };
    let positions = r.positions(&key, last.as_of).await?;
    let orders = r.orders(&key, last.as_of, last.as_of).await?;
    let mut by_state: BTreeMap<&str, u64> = BTreeMap::new();
    for o in &orders {
        *by_state.entry(o.state.as_str()).or_default() += 1;
    }
    Ok(json!({
        "account": key.account_id,
        "date": last.as_of,
        "equity": last.equity, "cash": last.cash, "gross": last.gross_exposure,
        "drawdown": 1.0 - last.equity / last.peak_equity.max(last.equity),
        "positions": positions.len(),
        "orders": by_state,
        "days": days.iter().map(|d| json!({"date": d.as_of, "equity": d.equity, "pnl": d.pnl,
                                            "costs": d.costs})).collect::<Vec<_>>(),
    }))
}

/// `GET /api/table/{what}` parameters: the rows of `pv2 show WHAT --from --to`.
#[derive(Deserialize)]
pub(super) struct TableQuery {
    market: String,
    /// Last session (default: today on the daemon's clock).
    to: Option<NaiveDate>,
    /// First session (default: `sessions` sessions before `to`).
    from: Option<NaiveDate>,
    /// How many sessions back when `from` is not given (default 250).
    sessions: Option<usize>,
    /// Instruments per date (default 25).
    top: Option<usize>,
    config_id: Option<String>,
    id: Option<String>,
    /// Instead of the rows, how many rows per date have each value of this column
    /// (`count_by=class`: names per stability class and day).
    count_by: Option<String>,
}

/// Rows per date and value of `column`: `{date, <column>, count}`, by date then value.
fn count_rows(rows: &[serde_json::Map<String, Value>], column: &str) -> Vec<Value> {
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in rows {
        let date = r.get("date").and_then(Value::as_str).unwrap_or_default();
        let value = match r.get(column) {
            Some(Value::String(v)) => v.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        *counts.entry((date.to_owned(), value)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((date, value), n)| json!({"date": date, column: value, "count": n}))
        .collect()
}

/// `GET /api/table/{what}`: an engine's stored outputs over a range of sessions, one row per
/// date or per date and instrument — what `pv2 show WHAT --from --to --format json` prints.
pub(super) async fn table(
    state: web::Data<ApiState>,
    what: web::Path<String>,
    q: web::Query<TableQuery>,
) -> HttpResponse {
    let Ok(what) = ShowWhat::from_str(&what, true) else {
        let names: Vec<String> = ShowWhat::value_variants()
            .iter()
            .filter_map(|v| v.to_possible_value().map(|p| p.get_name().to_owned()))
            .collect();
        return error(
            actix_web::http::StatusCode::NOT_FOUND,
            format!("no table `{what}`; use one of {}", names.join(", ")),
        );
    };
    let Some(calendar) = state.spine.calendars.get(&q.market) else {
        return bad(format!("unknown market `{}`", q.market));
    };
    let to = as_of_or_today(&state, q.to);
    let sessions = q.sessions.unwrap_or(250).clamp(1, 20_000);
    let from = q.from.unwrap_or_else(|| {
        calendar
            .sessions(to - Duration::days(7 * 366 * 10), to)
            .iter()
            .rev()
            .nth(sessions - 1)
            .map_or(to - Duration::days(366), |s| s.date)
    });
    if from > to {
        return bad(format!("from {from} is after to {to}"));
    }
    let dates: Vec<NaiveDate> = calendar.sessions(from, to).iter().map(|s| s.date).collect();
    // Unless named, the rows of the config in force on `to` (and, for the decision
    // engines, the strategy / universe / portfolio id in that config).
    let (mut config_id, mut id) = (q.config_id.clone(), q.id.clone());
    if config_id.is_none() {
        match config_as_of(&state, &q.market, what.engine(), to).await {
            Ok(Some(c)) => {
                if id.is_none()
                    && let Some(field) = id_field(what)
                {
                    id = serde_json::from_str::<Value>(&c.body)
                        .ok()
                        .and_then(|b| b[field].as_str().map(str::to_owned));
                }
                config_id = Some(c.config_id.as_str().to_owned());
            }
            Ok(None) => {}
            Err(e) => return internal(e),
        }
    }
    let args = ShowArgs {
        what,
        market: q.market.clone(),
        date: None,
        from: Some(from),
        to: Some(to),
        config_id,
        id,
        top: q.top.unwrap_or(25).clamp(1, 5_000),
        format: TableFormat::Json,
        calibration: false,
    };
    match crate::commands::show_timeline::collect(&state.spine.stores, &args, &dates, from, to)
        .await
    {
        Ok(rows) => {
            let rows = match &q.count_by {
                Some(column) => json!(count_rows(&rows, column)),
                None => json!(rows),
            };
            HttpResponse::Ok().json(json!({
                "what": what.engine(), "market": q.market, "from": from, "to": to, "rows": rows,
            }))
        }
        // No active config yet is a state, not a failure: an empty table with the reason.
        Err(e) => HttpResponse::Ok().json(json!({
            "what": what.engine(), "market": q.market, "from": from, "to": to, "rows": [],
            "note": e.to_string(),
        })),
    }
}

/// The field of a decision engine's config that names its rows (`None`: world-state
/// engines, whose rows are named by config alone).
fn id_field(what: ShowWhat) -> Option<&'static str> {
    match what {
        ShowWhat::Scores => Some("strategy_id"),
        ShowWhat::Universe => Some("universe_id"),
        ShowWhat::Portfolio | ShowWhat::Risk => Some("portfolio_id"),
        _ => None,
    }
}

/// `?market=&date=` of the pipeline view.
#[derive(Deserialize)]
pub(super) struct PipelineQuery {
    market: String,
    date: Option<NaiveDate>,
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0) as f64 / 1e6
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// `GET /api/pipeline?market=&date=`: the day's runs of the daemon's DAGs with every job
/// attempt (a Gantt), each job's usual latency (median of its successful attempts over the
/// 60 days before), and the next activations from the calendar and `dags.toml`.
pub(super) async fn pipeline(
    state: web::Data<ApiState>,
    q: web::Query<PipelineQuery>,
) -> HttpResponse {
    let Some(_) = state.spine.calendars.get(&q.market) else {
        return bad(format!("unknown market `{}`", q.market));
    };
    let date = as_of_or_today(&state, q.date);
    let r = &state.spine.stores.runtime;
    // The daemon's own DAGs: a backtest's or an experiment's runs (their own DAGs, in the
    // same record) are not the day's pipeline.
    let runs: Vec<_> = match r.runs_on(&q.market, date).await {
        Ok(x) => x
            .into_iter()
            .filter(|run| state.spine.dags.dags.iter().any(|d| d.id == run.dag_id))
            .collect(),
        Err(e) => return internal(e),
    };
    let mut out_runs = Vec::new();
    for run in &runs {
        let jobs = match r.job_runs(&run.run_id).await {
            Ok(x) => x,
            Err(e) => return internal(e),
        };
        // Jobs of the DAG without an attempt yet: queued while the run goes on, not run
        // (skipped or blocked upstream) once it ended.
        let pending = if run.state == prometheus::domain::RunStatus::Running {
            "QUEUED"
        } else {
            "NOT_RUN"
        };
        let waiting: Vec<Value> = state
            .spine
            .dags
            .dags
            .iter()
            .find(|d| d.id == run.dag_id)
            .map(|d| {
                d.jobs
                    .iter()
                    .filter(|j| !jobs.iter().any(|a| a.job_id == j.id))
                    .map(|j| json!({"job_id": j.id, "actor": j.actor, "state": pending}))
                    .collect()
            })
            .unwrap_or_default();
        out_runs.push(json!({
            "waiting": waiting,
            "run_id": run.run_id, "dag": run.dag_id, "state": run.state.as_str(),
            "trigger": run.trigger, "created_at": run.created_at, "finished_at": run.finished_at,
            "error": run.error,
            "jobs": jobs.iter().map(|j| json!({
                "job_id": j.job_id, "actor": j.actor, "attempt": j.attempt, "state": j.state.as_str(),
                "started_at": j.started_at, "finished_at": j.finished_at, "error": j.error,
                "seconds": j.finished_at.map(|f| secs(j.started_at, f)),
            })).collect::<Vec<_>>(),
        }));
    }
    let history = match r
        .succeeded_attempts(
            &q.market,
            date - Duration::days(60),
            date - Duration::days(1),
        )
        .await
    {
        Ok(x) => x,
        Err(e) => return internal(e),
    };
    let mut samples: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (dag, j) in history {
        if let Some(f) = j.finished_at {
            samples
                .entry(format!("{dag}/{}", j.job_id))
                .or_default()
                .push(secs(j.started_at, f));
        }
    }
    let usual: BTreeMap<String, Value> = samples
        .into_iter()
        .map(|(k, v)| {
            let n = v.len();
            (k, json!({"median_seconds": median(v), "samples": n}))
        })
        .collect();
    let now = state.spine.events.now();
    let next = match crate::scheduler::bindings(
        &state.spine.dags,
        &state.spine.calendars,
        Some(&q.market),
        None,
    ) {
        Ok(b) => {
            let mut planned = crate::scheduler::plan(&b, now, now + Duration::days(4));
            planned.truncate(12);
            json!(planned)
        }
        Err(e) => json!({"error": e}),
    };
    HttpResponse::Ok().json(json!({
        "market": q.market, "date": date, "now": now, "runs": out_runs, "usual": usual, "next": next,
    }))
}

/// `?last=` of the backtest list.
#[derive(Deserialize)]
pub(super) struct Last {
    last: Option<u32>,
}

fn backtest_json(b: &prometheus::store::BacktestRun) -> Value {
    json!({
        "backtest_id": b.backtest_id, "strategy": b.strategy, "market": b.market_id,
        "from": b.from, "to": b.to, "state": b.state, "rebalances": b.rebalances,
        "failed_rebalances": b.failed_rebalances,
        "metrics": b.metrics.as_deref().and_then(|m| serde_json::from_str::<Value>(m).ok()),
    })
}

/// `GET /api/backtests`: the latest backtests with their metrics.
pub(super) async fn backtests(state: web::Data<ApiState>, q: web::Query<Last>) -> HttpResponse {
    match state
        .spine
        .stores
        .runtime
        .backtest_runs(q.last.unwrap_or(50).min(500))
        .await
    {
        Ok(runs) => HttpResponse::Ok().json(runs.iter().map(backtest_json).collect::<Vec<_>>()),
        Err(e) => internal(e),
    }
}

/// `GET /api/backtests/{id}`: one backtest: header, metrics (by regime too), and its daily
/// equity, benchmark and drawdown.
pub(super) async fn backtest(state: web::Data<ApiState>, id: web::Path<String>) -> HttpResponse {
    let r = &state.spine.stores.runtime;
    let run = match r.backtest_run(&id).await {
        Ok(Some(b)) => b,
        Ok(None) => {
            return error(
                actix_web::http::StatusCode::NOT_FOUND,
                format!("no backtest `{id}`"),
            );
        }
        Err(e) => return internal(e),
    };
    let days = match r.backtest_days(&id).await {
        Ok(d) => d,
        Err(e) => return internal(e),
    };
    let (mut bench, mut peak) = (1.0_f64, f64::MIN);
    let start = days.first().map_or(1.0, |d| d.day.equity);
    let curve: Vec<Value> = days
        .iter()
        .map(|d| {
            bench *= 1.0 + d.benchmark_return.unwrap_or(0.0);
            peak = peak.max(d.day.equity);
            json!({
                "date": d.day.date, "equity": d.day.equity / start, "benchmark": bench,
                "drawdown": d.day.equity / peak - 1.0, "regime": d.regime,
                "return": d.day.daily_return, "costs": d.day.costs,
            })
        })
        .collect();
    HttpResponse::Ok().json(json!({"run": backtest_json(&run), "days": curve}))
}

/// `GET /api/configs/{engine}?as_of=`: the engine's versions and audited changes known by
/// the end of `as_of`, the active one then, newest first.
pub(super) async fn config_history(
    state: web::Data<ApiState>,
    engine: web::Path<String>,
    q: web::Query<AsOf>,
) -> HttpResponse {
    let r = &state.spine.stores.runtime;
    let cut = end_of(as_of_or_today(&state, q.as_of));
    let versions = match r.config_versions(&engine).await {
        Ok(v) => v,
        Err(e) => return internal(e),
    };
    let changes = match r.config_changes(&engine).await {
        Ok(c) => c,
        Err(e) => return internal(e),
    };
    let mut changes: Vec<_> = changes.into_iter().filter(|c| c.at <= cut).collect();
    changes.sort_by_key(|c| std::cmp::Reverse(c.change_id));
    let active = changes
        .iter()
        .find(|c| c.action == "activated")
        .and_then(|c| c.new_config_id.as_ref())
        .map(|c| c.as_str().to_owned());
    let mut versions: Vec<_> = versions
        .into_iter()
        .filter(|v| v.created_at <= cut)
        .collect();
    versions.sort_by_key(|v| std::cmp::Reverse(v.version));
    HttpResponse::Ok().json(json!({
        "engine": engine.as_str(),
        "active": active,
        "versions": versions.iter().map(|v| json!({
            "config_id": v.config_id.as_str(), "version": v.version, "created_at": v.created_at,
            "created_by": v.created_by,
            "body": serde_json::from_str::<Value>(&v.body).unwrap_or(Value::String(v.body.clone())),
        })).collect::<Vec<_>>(),
        "changes": changes.iter().map(|c| json!({
            "change_id": c.change_id, "at": c.at, "action": c.action,
            "old_config_id": c.old_config_id.as_ref().map(|x| x.as_str()),
            "new_config_id": c.new_config_id.as_ref().map(|x| x.as_str()),
            "actor": c.actor, "reason": c.reason,
        })).collect::<Vec<_>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_of_a_day_is_its_last_instant() {
        let d: NaiveDate = "2024-07-02".parse().unwrap();
        assert_eq!(
            end_of(d).to_rfc3339(),
            "2024-07-02T23:59:59.999999999+00:00"
        );
    }

    #[test]
    fn rows_are_counted_per_date_and_value() {
        let rows: Vec<serde_json::Map<String, Value>> = [
            json!({"date": "2024-01-02", "class": "STABLE"}),
            json!({"date": "2024-01-02", "class": "FRAGILE"}),
            json!({"date": "2024-01-02", "class": "STABLE"}),
            json!({"date": "2024-01-03", "class": "STABLE"}),
        ]
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .collect();
        assert_eq!(
            count_rows(&rows, "class"),
            vec![
                json!({"date": "2024-01-02", "class": "FRAGILE", "count": 1}),
                json!({"date": "2024-01-02", "class": "STABLE", "count": 2}),
                json!({"date": "2024-01-03", "class": "STABLE", "count": 1}),
            ]
        );
    }

    #[test]
    fn median_of_odd_and_even_samples() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }
}

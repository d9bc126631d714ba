//! The time machine for strategies: the same actors, driven by a simulated clock through a
//! strategy's rebalance dates, then the simulated broker over every session in between.
//!
//! A backtest is identified by the content hash of its strategy file, market, range and
//! the engine configs it starts from (`backtest_id`). Its assessment, universe and
//! portfolio rows are written under ids scoped to it (`strategy_id = universe_id =
//! portfolio_id = backtest_id`), so a backtest never reads a live target as its previous
//! one and running it again reproduces the same rows. World-state engines (regime,
//! stability, scenarios, fragility) write their usual rows: for the same config they are
//! the rows the daily DAG writes, by construction.

use crate::context::Context;
use crate::orchestrator::{RunSummary, Submit, WaitRun};
use crate::panel_cache::PanelCache;
use crate::scheduler::SimulatedClock;
use crate::spine::engine_config::resolve_config;
use crate::spine::faults::FaultPlan;
use crate::spine::read_audit::LookAhead;
use crate::spine::system::{Spine, SpineOptions};
use anyhow::{Context as _, anyhow, bail};
use chrono::{Days, NaiveDate};
use prometheus::backtest::broker::{PriceBook, Simulation};
use prometheus::backtest::metrics::{DayPoint, Report, TargetStats, report};
use prometheus::backtest::strategy::StrategyConfig;
use prometheus::calendar::ExchangeCalendar;
use prometheus::config::{EngineConfig, Issues, canonical_json, content_hash};
use prometheus::dag::{DagDef, JobDef, OnFailure};
use prometheus::domain::{Clock, InstrumentId, MarketId};
use prometheus::engines::{
    assessment::AssessmentConfig, fragility::FragilityConfig, portfolio::PortfolioConfig,
    regime::RegimeConfig, scenarios::ScenarioEngineConfig, stability::StabilityConfig,
    universe::UniverseConfig,
};
use prometheus::store::{
    BacktestRun, BacktestStore, DecisionStore, DerivedStore, PriceStore, RunStore, StoredDay,
    Stores, WorldStateStore,
};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// Rebalance runs submitted ahead of the one being waited for: enough that each of the
/// seven engines usually has a date to work on. Measured on the 20-year benchmark: 3 dates
/// gave 64–72 s and 6 gave 58–62 s while the engines' work on the actors' thread bounded
/// it; once that was cut, 3, 6, 10 and 16 all gave 23–24 s (the SQLite write gate bounds
/// it). With the engines' rows keyed by date (2026-12-05), 6 gave 10.6 s and 12 gave 10.0 s:
/// the rebalances now wait on the stages' hand-offs, and a longer queue keeps every stage fed.
const REBALANCES_IN_FLIGHT: usize = 12;

/// Loads a strategy by name (`<config>/strategies/<name>.toml`) or from a file path.
///
/// # Errors
/// A missing or unreadable file, unknown keys, or invalid fields (each listed).
pub fn load_strategy(ctx: &Context, name_or_file: &str) -> anyhow::Result<StrategyConfig> {
    let (text, origin) = if name_or_file.ends_with(".toml") || name_or_file.contains('/') {
        let text = std::fs::read_to_string(name_or_file)
            .with_context(|| format!("reading strategy file {name_or_file}"))?;
        (text, name_or_file.to_owned())
    } else {
        ctx.source
            .read(&format!("strategies/{name_or_file}.toml"))?
            .ok_or_else(|| {
                anyhow!(
                    "no strategy `{name_or_file}` under {}/strategies/: pass a file path, or a name there",
                    ctx.source.describe()
                )
            })?
    };
    let strategy: StrategyConfig =
        toml::from_str(&text).map_err(|e| anyhow!("{origin}: {}", e.to_string().trim_end()))?;
    let mut issues = Issues::new();
    strategy.validate(&mut issues);
    if !issues.is_empty() {
        let lines: Vec<String> = issues
            .into_pairs()
            .into_iter()
            .map(|(k, r)| format!("  - {origin}: key `{k}`: {r}"))
            .collect();
        bail!("invalid strategy:\n{}", lines.join("\n"));
    }
    Ok(strategy)
}

/// The base (active) config id of each engine the strategy runs, as JSON.
async fn base_configs(
    ctx: &Context,
    stores: &Stores,
    jobs: &[String],
    clock: &dyn Clock,
) -> anyhow::Result<BTreeMap<String, Value>> {
    async fn body<C: EngineConfig>(
        ctx: &Context,
        stores: &Stores,
        clock: &dyn Clock,
    ) -> anyhow::Result<Value> {
        let v = resolve_config::<C>(&ctx.source, &stores.runtime, clock).await?;
        Ok(serde_json::to_value(&v.config)?)
    }
    let mut out = BTreeMap::new();
    for job in jobs {
        let v = match job.as_str() {
            "regime" => body::<RegimeConfig>(ctx, stores, clock).await?,
            "stability" => body::<StabilityConfig>(ctx, stores, clock).await?,
            "scenarios" => body::<ScenarioEngineConfig>(ctx, stores, clock).await?,
            "fragility" => body::<FragilityConfig>(ctx, stores, clock).await?,
            "assessment" => body::<AssessmentConfig>(ctx, stores, clock).await?,
            "universe" => body::<UniverseConfig>(ctx, stores, clock).await?,
            "portfolio" => body::<PortfolioConfig>(ctx, stores, clock).await?,
            other => bail!("`{other}` is not a strategy job"),
        };
        out.insert(job.clone(), v);
    }
    Ok(out)
}

/// The engine overrides of a backtest: the strategy's tables, then the experiment's
/// overlays (JSON, where `null` unsets an option), plus the ids that scope the decision
/// engines' rows to this backtest.
fn overrides(
    strategy: &StrategyConfig,
    overlays: &BTreeMap<String, Value>,
    backtest_id: &str,
) -> anyhow::Result<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    for job in &strategy.jobs {
        let mut v = match strategy.engines.get(job) {
            Some(t) => serde_json::to_value(t)?,
            None => json!({}),
        };
        if let Some(overlay) = overlays.get(job) {
            crate::spine::engine_config::merge_json(&mut v, overlay);
        }
        let scoped: &[&str] = match job.as_str() {
            "assessment" => &["strategy_id"],
            "universe" => &["universe_id", "strategy_id"],
            "portfolio" => &["portfolio_id", "universe_id", "strategy_id"],
            _ => &[],
        };
        if let Value::Object(m) = &mut v {
            for key in scoped {
                m.insert((*key).to_owned(), json!(backtest_id));
            }
            // The objective's horizon is the strategy's rebalance period and its trading
            // cost the strategy's broker, unless the strategy sets them.
            if job == "portfolio" {
                m.entry("rebalance_days")
                    .or_insert_with(|| json!(strategy.rebalance.sessions()));
                if m.get("turnover_cost").is_none_or(|c| c == "broker") {
                    m.insert(
                        "turnover_cost".to_owned(),
                        json!(strategy.broker.cost_per_unit_traded()),
                    );
                }
            }
        }
        out.insert(job.clone(), v);
    }
    Ok(out)
}

/// The DAG a backtest runs on each rebalance date: the strategy's jobs in a chain.
fn strategy_dag(strategy: &StrategyConfig, dag_id: &str) -> DagDef {
    DagDef {
        id: dag_id.to_owned(),
        description: format!("backtest of strategy {}", strategy.name),
        markets: vec![strategy.market.clone()],
        trigger: None,
        // The engines read their upstream's rows of the same date and their own earlier
        // rows only, so rebalance dates may overlap job by job.
        overlap_dates: true,
        jobs: strategy
            .jobs
            .iter()
            .enumerate()
            .map(|(i, job)| JobDef {
                id: job.clone(),
                actor: job.clone(),
                depends_on: i
                    .checked_sub(1)
                    .map(|p| vec![strategy.jobs[p].clone()])
                    .unwrap_or_default(),
                required_state: None,
                priority: 1,
                max_attempts: 2,
                backoff_ms: 50,
                backoff_max_ms: 1_000,
                jitter: 0.0,
                timeout_secs: 600.0,
                outage_tolerance_secs: 600.0,
                on_failure: OnFailure::StopDownstream,
            })
            .collect(),
    }
}

/// What a finished backtest reports.
#[derive(Clone, Debug)]
pub struct BacktestOutcome {
    /// Its header as stored.
    pub run: BacktestRun,
    /// Its metrics.
    pub report: Report,
    /// Wall-clock seconds spent driving the engines and the broker.
    pub engine_seconds: f64,
    /// Wall-clock seconds spent in the broker and metrics.
    pub broker_seconds: f64,
    /// Rebalance dates whose run failed, with the reason.
    pub failures: Vec<(NaiveDate, String)>,
    /// The last target (date, weights).
    pub last_target: Option<(NaiveDate, Vec<(String, f64)>)>,
    /// The portfolio config the targets were built under.
    pub portfolio_config: Option<prometheus::domain::ConfigId>,
    /// Price panels the engines were given that broke the point-in-time bound (see
    /// [`crate::spine::read_audit`]), and how many were checked.
    pub future_reads: (u64, u64),
}

/// Runs `strategy` over the sessions of `[from, to]`: starts
/// its own spine with the strategy's configs, drives it, simulates the broker, stores and
/// returns the outcome.
///
/// # Errors
/// An invalid strategy or range, engine configuration problems, storage failures, or no
/// rebalance date producing a target.
pub async fn run_backtest(
    ctx: &Context,
    strategy: &StrategyConfig,
    from: NaiveDate,
    to: NaiveDate,
    faults: FaultPlan,
    show_progress: bool,
) -> anyhow::Result<BacktestOutcome> {
    run_backtest_with(
        ctx,
        strategy,
        from,
        to,
        faults,
        show_progress,
        &Variant::default(),
    )
    .await
}

/// How an experiment's backtest differs from the strategy's own: per-engine JSON overlays
/// (a Kronos candidate) and the "reads the future" control's look-ahead.
#[derive(Clone, Copy, Debug, Default)]
pub struct Variant<'a> {
    /// Merged over the strategy's engine tables, by engine (`None`: no overlay).
    pub overlays: Option<&'a BTreeMap<String, Value>>,
    /// The control's look-ahead.
    pub look_ahead: Option<&'a LookAhead>,
    /// Checked before each rebalance is submitted: once set, the backtest finishes the
    /// rebalances in flight, shuts its spine down and returns [`Stopped`] (Kronos's
    /// daemon worker pauses an experiment this way when a must-run job falls due).
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
}

/// A backtest stopped on request before its end (see [`Variant::stop`]); running it again
/// starts it afresh and writes the same rows.
#[derive(Debug)]
pub struct Stopped(pub String);

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the backtest was stopped before its end ({})", self.0)
    }
}

impl std::error::Error for Stopped {}

/// As [`run_backtest`], with per-engine JSON overlays merged over the strategy's tables (a
/// Kronos experiment's candidate) and the "reads the future" control's look-ahead; both are
/// part of the backtest's identity.
///
/// # Errors
/// As [`run_backtest`]; an overlay that names an unknown key or fails validation.
pub async fn run_backtest_with(
    ctx: &Context,
    strategy: &StrategyConfig,
    from: NaiveDate,
    to: NaiveDate,
    faults: FaultPlan,
    show_progress: bool,
    variant: &Variant<'_>,
) -> anyhow::Result<BacktestOutcome> {
    let no_overlays = BTreeMap::new();
    let overlays = variant.overlays.unwrap_or(&no_overlays);
    let look_ahead = variant.look_ahead;
    let calendar: ExchangeCalendar = crate::commands::calendar::calendar_of(ctx, &strategy.market)?;
    crate::commands::calendar::check_range(&calendar, from, to)?;
    let sessions: Vec<NaiveDate> = calendar.sessions(from, to).iter().map(|s| s.date).collect();
    if sessions.len() < 2 {
        bail!(
            "{from}..{to} holds {} session(s) of {}; a backtest needs at least 2",
            sessions.len(),
            strategy.market
        );
    }
    let stores = ctx.open_stores().await?;
    let start = calendar
        .session(sessions[0])
        .map(|s| s.close)
        .ok_or_else(|| anyhow!("no session on {}", sessions[0]))?;
    let clock = Arc::new(SimulatedClock::new(start));
    let dyn_clock: Arc<dyn Clock> = Arc::clone(&clock) as Arc<dyn Clock>;
    let base = base_configs(ctx, &stores, &strategy.jobs, dyn_clock.as_ref()).await?;
    let strategy_body = canonical_json(strategy)?;
    let mut identity = json!({
        "strategy": serde_json::from_str::<Value>(&strategy_body)?,
        "from": from,
        "to": to,
        "base_configs": base,
    });
    // Without overlays the id is the one a plain backtest always had.
    if !overlays.is_empty() {
        identity["overlays"] = serde_json::to_value(overlays)?;
    }
    if let Some(l) = look_ahead {
        identity["look_ahead"] = serde_json::to_value(l)?;
    }
    let identity = canonical_json(&identity)?;
    let backtest_id = format!("bt-{}-{}", strategy.name, &content_hash(&identity)[..12]);
    let options = SpineOptions {
        overrides: overrides(strategy, overlays, &backtest_id)?,
        extra_dags: vec![strategy_dag(strategy, &backtest_id)],
        dags: None,
        override_origin: None,
        audit_reads: true,
        look_ahead: look_ahead.cloned(),
        prices_from_catalog: (ctx.app.catalog.backtest_prices
            == prometheus::config::PriceSource::Catalog)
            .then(|| std::path::PathBuf::from(&ctx.app.catalog.dir)),
    };
    let spine = Spine::start_with(
        ctx,
        stores.clone(),
        faults,
        Arc::clone(&dyn_clock),
        &options,
    )
    .await?;
    let statuses = spine.statuses().await;
    let engine_configs: BTreeMap<&str, String> = statuses
        .iter()
        .filter(|s| strategy.jobs.iter().any(|j| j == s.name))
        .map(|s| (s.name, s.config_id.to_string()))
        .collect();
    let portfolio_config = statuses
        .iter()
        .find(|s| s.name == "portfolio")
        .map(|s| s.config_id.clone());
    let rebalances = strategy.rebalance.dates(&sessions);
    let mut header = BacktestRun {
        backtest_id: backtest_id.clone(),
        strategy: strategy.name.clone(),
        market_id: strategy.market.clone(),
        from: sessions[0],
        to: *sessions.last().unwrap_or(&sessions[0]),
        run_id: format!("backtest:{backtest_id}"),
        config_id: format!("strategy-{}", &content_hash(&strategy_body)[..16]),
        strategy_body,
        engine_configs: serde_json::to_string(&engine_configs)?,
        state: "RUNNING".into(),
        rebalances: rebalances.len(),
        failed_rebalances: 0,
        metrics: None,
    };
    stores.runtime.start_backtest(&header).await?;
    let bar = show_progress.then(|| crate::progress::bar(rebalances.len() as u64, "backtest"));
    let t0 = Instant::now();
    let mut failures = Vec::new();
    // Rebalances in flight at once: the orchestrator runs each job for its dates in date
    // order, so a later date's world-state jobs overlap an earlier date's decisions on the
    // second core without changing a row.
    let mut in_flight: VecDeque<(NaiveDate, String, Option<oneshot::Receiver<RunSummary>>)> =
        VecDeque::new();
    let mut next = rebalances.iter();
    let mut stopped = false;
    loop {
        stopped = stopped
            || variant
                .stop
                .is_some_and(|f| f.load(std::sync::atomic::Ordering::Relaxed));
        while !stopped && in_flight.len() < REBALANCES_IN_FLIGHT {
            let Some(d) = next.next() else { break };
            if let Some(s) = calendar.session(*d) {
                clock.advance_to(s.close);
            }
            let submitted = spine
                .orchestrator
                .send(Submit {
                    dag_id: backtest_id.clone(),
                    market: MarketId::new(&strategy.market),
                    as_of: *d,
                    trigger: "backtest".into(),
                    rerun: true,
                    run_key: None,
                    stands_at: None,
                })
                .await?
                .map_err(|e| anyhow!(e))?;
            let rx = match submitted.finished {
                Some(_) => None,
                None => {
                    spine
                        .orchestrator
                        .send(WaitRun(submitted.run_id.clone()))
                        .await?
                }
            };
            in_flight.push_back((*d, submitted.run_id, rx));
        }
        let Some((d, run_id, rx)) = in_flight.pop_front() else {
            break;
        };
        if let Some(rx) = rx {
            let _ = rx.await;
        }
        let run = stores.runtime.dag_run(&run_id).await?;
        if run.as_ref().map(|r| r.state) != Some(prometheus::domain::RunStatus::Succeeded) {
            let why = stores
                .runtime
                .job_runs(&run_id)
                .await?
                .into_iter()
                .filter_map(|j| j.error.map(|e| format!("{}: {e}", j.job_id)))
                .next_back()
                .unwrap_or_else(|| "run did not succeed".into());
            failures.push((d, why));
        }
        if let Some(b) = &bar {
            b.set_message(d.to_string());
            b.inc(1);
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let future_reads = (spine.reads.future_reads(), spine.reads.audited());
    spine
        .shutdown(Duration::from_secs_f64(ctx.app.daemon.drain_timeout_secs))
        .await;
    if stopped {
        stores.close().await;
        return Err(Stopped(format!(
            "after {} of {} rebalances",
            rebalances.len() - next.len(),
            rebalances.len()
        ))
        .into());
    }
    let engine_seconds = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let portfolio_config =
        portfolio_config.ok_or_else(|| anyhow!("the portfolio engine did not start"))?;
    let targets = stores
        .runtime
        .targets(
            &backtest_id,
            &strategy.market,
            &portfolio_config,
            header.from,
            header.to,
        )
        .await?;
    header.failed_rebalances = failures.len();
    if targets.is_empty() {
        header.state = "FAILED".into();
        stores.runtime.finish_backtest(&header, &[], &[]).await?;
        let first = failures
            .first()
            .map(|(d, e)| format!(" (first failure, {d}: {e})"))
            .unwrap_or_default();
        bail!(
            "backtest {backtest_id}: none of the {} rebalance dates produced a target{first}",
            rebalances.len()
        );
    }
    let by_date: BTreeMap<NaiveDate, Vec<(String, f64)>> = targets
        .iter()
        .map(|t| (t.as_of, t.weights.clone()))
        .collect();
    let market = MarketId::new(&strategy.market);
    let book = price_book(&stores, &spine.panels, &market, &sessions, &by_date).await?;
    let sim = strategy
        .broker
        .simulate(&book, &by_date, strategy.initial_capital);
    let benchmark =
        benchmark_returns(&stores, &strategy.market, &strategy.benchmark, &sessions).await?;
    let regimes = regimes_in_force(&stores, &strategy.market, &sessions).await?;
    let ics: Vec<(f64, f64)> = stores
        .runtime
        .assessment_runs(&backtest_id, &strategy.market, header.from, header.to)
        .await?
        .into_iter()
        .filter_map(|r| r.skill.map(|(_, s)| (s.ic, s.rank_ic)))
        .collect();
    let (days, mut rep) = assemble(&sim, &benchmark, &regimes, &ics);
    let reports = stores
        .runtime
        .risk_reports(
            &backtest_id,
            &strategy.market,
            &portfolio_config,
            header.from,
            header.to,
        )
        .await?;
    rep.targets = TargetStats::of(reports.iter().map(|(_, r)| r));
    header.state = "SUCCEEDED".into();
    header.metrics = Some(serde_json::to_string(&rep)?);
    stores
        .runtime
        .finish_backtest(&header, &days, &sim.fills)
        .await?;
    let broker_seconds = t1.elapsed().as_secs_f64();
    stores.close().await;
    Ok(BacktestOutcome {
        run: header,
        report: rep,
        engine_seconds,
        broker_seconds,
        failures,
        last_target: targets.last().map(|t| (t.as_of, t.weights.clone())),
        portfolio_config: Some(portfolio_config),
        future_reads,
    })
}

/// The stored days and the metrics report of a simulation.
fn assemble(
    sim: &Simulation,
    benchmark: &[Option<f64>],
    regimes: &[Option<String>],
    ics: &[(f64, f64)],
) -> (Vec<StoredDay>, Report) {
    let days: Vec<StoredDay> = sim
        .days
        .iter()
        .zip(benchmark)
        .zip(regimes)
        .map(|((d, b), r)| StoredDay {
            day: d.clone(),
            benchmark_return: *b,
            regime: r.clone(),
        })
        .collect();
    let points: Vec<DayPoint> = days
        .iter()
        .map(|d| DayPoint {
            ret: d.day.daily_return,
            benchmark: d.benchmark_return,
            equity: d.day.equity,
            traded: d.day.traded_notional,
            costs: d.day.costs,
        })
        .collect();
    let rep = report(&points, regimes, ics);
    (days, rep)
}

/// Prices of every name ever targeted, over the sessions (opens adjusted like closes), from
/// the spine's panel cache: the engines have read most of them already.
async fn price_book(
    stores: &Stores,
    panels: &PanelCache,
    market: &MarketId,
    sessions: &[NaiveDate],
    targets: &BTreeMap<NaiveDate, Vec<(String, f64)>>,
) -> anyhow::Result<PriceBook> {
    let mut names: Vec<String> = targets
        .values()
        .flat_map(|w| w.iter().map(|(id, _)| id.clone()))
        .collect();
    names.sort();
    names.dedup();
    let (first, last) = (sessions[0], sessions[sessions.len() - 1]);
    let (_, rows) = panels.rows(&stores.historical, market, first, last).await?;
    let index: BTreeMap<NaiveDate, usize> =
        sessions.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let n = names.len();
    let mut book = PriceBook {
        dates: sessions.to_vec(),
        instruments: names.clone(),
        open: vec![f64::NAN; sessions.len() * n],
        close: vec![f64::NAN; sessions.len() * n],
        volume: vec![f64::NAN; sessions.len() * n],
    };
    for (i, id) in names.iter().enumerate() {
        for r in rows.get(id).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(&t) = index.get(&r.date) else {
                continue;
            };
            let k = t * n + i;
            book.close[k] = r.close;
            book.open[k] = r.open.unwrap_or(f64::NAN);
            book.volume[k] = r.volume.unwrap_or(f64::NAN);
        }
    }
    Ok(book)
}

/// The benchmark's return on each session: an instrument's adjusted-close return, or a
/// factor's value (factors are one-day returns).
async fn benchmark_returns(
    stores: &Stores,
    market: &str,
    benchmark: &str,
    sessions: &[NaiveDate],
) -> anyhow::Result<Vec<Option<f64>>> {
    let (first, last) = (sessions[0], sessions[sessions.len() - 1]);
    let before = first.checked_sub_days(Days::new(10)).unwrap_or(first);
    // A bare symbol (`SPX`) names an instrument of the strategy's market.
    let instrument = if benchmark.contains(':') {
        InstrumentId::new(benchmark)
    } else {
        InstrumentId::new(format!("{market}:{benchmark}"))
    };
    let closes = stores
        .historical
        .adj_closes(&instrument, before, last)
        .await?;
    if !closes.is_empty() {
        let by_date: BTreeMap<NaiveDate, f64> = closes.into_iter().collect();
        return Ok(sessions
            .iter()
            .map(|d| {
                let today = by_date.get(d)?;
                let (_, prev) = by_date.range(..*d).next_back()?;
                (*prev > 0.0).then(|| today / prev - 1.0)
            })
            .collect());
    }
    let factor: BTreeMap<NaiveDate, f64> = stores
        .historical
        .factor(benchmark, first, last)
        .await?
        .into_iter()
        .map(|f| (f.trade_date, f.value))
        .collect();
    if factor.is_empty() {
        bail!(
            "benchmark `{benchmark}` is neither an instrument with prices nor a factor with values in {first}..{last}"
        );
    }
    Ok(sessions.iter().map(|d| factor.get(d).copied()).collect())
}

/// The regime label in force on each session: the latest stored on or before it.
async fn regimes_in_force(
    stores: &Stores,
    market: &str,
    sessions: &[NaiveDate],
) -> anyhow::Result<Vec<Option<String>>> {
    let (first, last) = (sessions[0], sessions[sessions.len() - 1]);
    let since = first.checked_sub_days(Days::new(400)).unwrap_or(first);
    let labels: BTreeMap<NaiveDate, String> = stores
        .runtime
        .regime_labels(market, since, last)
        .await?
        .into_iter()
        .collect();
    Ok(sessions
        .iter()
        .map(|d| labels.range(..=*d).next_back().map(|(_, l)| l.clone()))
        .collect())
}

//! Measuring decisions whose horizon ends on the run's date: for each configured horizon
//! `h`, the decisions of the session `h` sessions earlier, judged on the prices of those
//! `h + 1` sessions only (the panel read is bounded by the run's date). Horizons that ended
//! on the few sessions before, when their outcomes are missing (the daemon was down), are
//! measured too. An outcome is stamped `known_on` its horizon's last session and depends on
//! nothing after it: re-running any date rewrites the same values, and data changed after
//! a horizon's end never reaches it.

use crate::spine::job_actor::JobContext;
use crate::spine::job_error::JobError;
use chrono::NaiveDate;
use prometheus::domain::ConfigId;
use prometheus::features::load::calendar_days_for;
use prometheus::kronos::analytics::OutcomeRecord;
use prometheus::kronos::config::KronosConfig;
use prometheus::kronos::outcomes::{
    ClassOutcome, ClosePath, class_outcome, forecast_skill, held_portfolio, horizon_return,
    path_outcome,
};
use prometheus::store::{
    DecisionRecord, DecisionStore, ExecutionStore, KronosStore, StoredOutcome, WorldStateStore,
};
use std::collections::BTreeMap;

/// The prices of one horizon: each instrument's closes on the horizon's sessions, and the
/// market's level (equal-weighted, from 1).
struct Horizon {
    closes: BTreeMap<String, Vec<f64>>,
    market: Vec<f64>,
}

impl Horizon {
    fn path(&self, id: &str) -> Option<&ClosePath> {
        self.closes.get(id).map(Vec::as_slice)
    }

    fn paths<'a>(&'a self, ids: impl Iterator<Item = &'a str>) -> Vec<&'a ClosePath> {
        ids.filter_map(|id| self.path(id)).collect()
    }
}

/// Accumulates a decision's outcome values.
struct Sink<'a> {
    decision: &'a DecisionRecord,
    regime: Option<String>,
    horizon: u32,
    known_on: NaiveDate,
    run_id: String,
    out: &'a mut Vec<StoredOutcome>,
}

impl Sink<'_> {
    fn put(&mut self, subject: &str, metric: &str, value: f64) {
        if !value.is_finite() {
            return;
        }
        self.out.push(StoredOutcome {
            record: OutcomeRecord {
                engine: self.decision.engine.clone(),
                config_id: self.decision.config_id.clone(),
                market_id: self.decision.market_id.clone(),
                as_of: self.decision.as_of,
                regime: self.regime.clone(),
                subject: subject.to_owned(),
                horizon_days: self.horizon,
                metric: metric.to_owned(),
                value,
            },
            known_on: self.known_on,
            run_id: self.run_id.clone(),
        });
    }

    fn class(&mut self, subject: &str, c: &ClassOutcome) {
        self.put(subject, "names", c.names as f64);
        self.put(subject, "mean_return", c.mean_return);
        self.put(subject, "mean_drawdown", c.mean_drawdown);
        self.put(subject, "es_95", c.expected_shortfall_95);
    }
}

/// Measures the decisions whose horizons end on the run's date; returns a summary line.
///
/// # Errors
/// Store failures; a market without a calendar (permanent).
pub async fn measure(ctx: &JobContext, cfg: &KronosConfig) -> Result<(String, u64), JobError> {
    let (market, as_of) = (ctx.run.market.as_str(), ctx.run.as_of);
    let calendar = ctx.calendars.get(market).map_err(JobError::permanent)?;
    let longest = (cfg.longest_horizon() + cfg.catch_up_sessions) as usize;
    let (_, panel) = ctx.panel(as_of, calendar_days_for(longest + 5)).await?;
    let mut out = Vec::new();
    let mut measured = 0usize;
    // (horizon end, horizon): today's ends, then the missed ones.
    let mut ends: Vec<(NaiveDate, u32)> = cfg.horizons.iter().map(|h| (as_of, *h)).collect();
    for k in 1..=cfg.catch_up_sessions as usize {
        if let Some(s) = calendar.previous_session(as_of, k) {
            ends.extend(cfg.horizons.iter().map(|h| (s.date, *h)));
        }
    }
    // (horizon end, horizon, decision date); what is already measured and the decisions
    // are read in one statement each, not once per pair.
    let spans: Vec<(NaiveDate, u32, NaiveDate)> = ends
        .into_iter()
        .filter_map(|(end, h)| Some((end, h, calendar.previous_session(end, h as usize)?.date)))
        .collect();
    if spans.is_empty() {
        return Ok(("no session far enough back to measure".into(), 0));
    }
    // Today's horizons are measured (again) always; a missed one only when nothing of it
    // is stored. Decisions are read for the dates measured only.
    let missed: Vec<(NaiveDate, u32)> = spans
        .iter()
        .filter(|(end, ..)| *end != as_of)
        .map(|(_, h, decided)| (*decided, *h))
        .collect();
    let done = ctx.stores.runtime.measured(market, &missed).await?;
    let spans: Vec<_> = spans
        .into_iter()
        .filter(|(end, h, decided)| *end == as_of || !done.contains(&(*decided, *h)))
        .collect();
    let mut dates: Vec<NaiveDate> = spans.iter().map(|s| s.2).collect();
    dates.sort_unstable();
    dates.dedup();
    let mut by_date: BTreeMap<NaiveDate, Vec<DecisionRecord>> = BTreeMap::new();
    for d in ctx.stores.runtime.decisions_on(market, &dates).await? {
        by_date.entry(d.as_of).or_default().push(d);
    }
    for (end, h, decided) in spans {
        let Some(decisions) = by_date.get(&decided) else {
            continue;
        };
        let dates: Vec<NaiveDate> = calendar
            .sessions(decided, end)
            .iter()
            .map(|s| s.date)
            .collect();
        let horizon = horizon_prices(&panel, &dates);
        let regime = regime_in_force(ctx, market, decided, decisions).await?;
        for d in decisions {
            let mut sink = Sink {
                decision: d,
                regime: regime.clone(),
                horizon: h,
                known_on: end,
                run_id: ctx.run.run_id.to_string(),
                out: &mut out,
            };
            if judge(ctx, d, &horizon, &mut sink).await? {
                measured += 1;
            }
        }
    }
    ctx.stores.runtime.write_outcomes(&out).await?;
    Ok((
        format!(
            "{measured} decision horizons measured ({} values)",
            out.len()
        ),
        out.len() as u64,
    ))
}

/// Every instrument's closes over `dates` (NaN where it did not trade) and the market level.
fn horizon_prices(panel: &prometheus::encoders::numeric::Panel, dates: &[NaiveDate]) -> Horizon {
    let index: BTreeMap<NaiveDate, usize> =
        dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let mut closes = BTreeMap::new();
    for (id, rows) in &panel.instruments {
        let mut path = vec![f64::NAN; dates.len()];
        for r in rows {
            if let Some(&i) = index.get(&r.date) {
                path[i] = r.close;
            }
        }
        if path.iter().any(|p| p.is_finite()) {
            closes.insert(id.clone(), path);
        }
    }
    let rets: BTreeMap<NaiveDate, f64> = panel.market.iter().copied().collect();
    let mut market = Vec::with_capacity(dates.len());
    let mut level = 1.0;
    for (i, d) in dates.iter().enumerate() {
        if i > 0 {
            level *= 1.0 + rets.get(d).copied().unwrap_or(0.0);
        }
        market.push(level);
    }
    Horizon { closes, market }
}

/// The regime label in force on the decision date: the regime engine's decision of that
/// date (not a shadow's), read under its config.
async fn regime_in_force(
    ctx: &JobContext,
    market: &str,
    date: NaiveDate,
    decisions: &[DecisionRecord],
) -> Result<Option<String>, JobError> {
    let Some(r) = decisions
        .iter()
        .find(|d| d.engine == "regime" && !d.is_shadow())
    else {
        return Ok(None);
    };
    Ok(ctx
        .stores
        .runtime
        .regime(market, date, &ConfigId::new(r.config_id.clone()))
        .await?
        .map(|day| day.label.as_str().to_owned()))
}

/// A class engine's outcomes: each class's tail, and the spread named `spread.0` between
/// the expected shortfall of the risky classes (`spread.1`) and of the safe ones (`spread.2`).
fn classes<'a>(
    hz: &Horizon,
    sink: &mut Sink<'_>,
    members: impl Iterator<Item = (&'a str, &'a str)>,
    spread: (&str, &[&str], &[&str]),
) {
    let mut by_class: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (class, id) in members {
        by_class.entry(class).or_default().push(id);
    }
    for (class, ids) in &by_class {
        if let Some(c) = class_outcome(&hz.paths(ids.iter().copied())) {
            sink.class(class, &c);
        }
    }
    let of = |names: &[&str]| {
        class_outcome(
            &hz.paths(
                names
                    .iter()
                    .flat_map(|c| by_class.get(c).into_iter().flatten().copied()),
            ),
        )
    };
    let (name, risky, safe) = spread;
    if let (Some(r), Some(s)) = (of(risky), of(safe)) {
        sink.put(
            name,
            "es_spread",
            r.expected_shortfall_95 - s.expected_shortfall_95,
        );
    }
}

/// What the accounts that traded the decision's target made over its horizon, from the
/// execution ledger: the equity's return net of every cost the broker charged, and those
/// costs as a fraction of the starting equity (subject `account:<id>`). Only an account
/// whose session at the decision date was marked by the decision's own run traded it; the
/// ledger is read through the horizon's end only.
async fn traded_outcome(
    ctx: &JobContext,
    d: &DecisionRecord,
    sink: &mut Sink<'_>,
) -> Result<(), JobError> {
    let runtime = &ctx.stores.runtime;
    for key in runtime.marked_accounts(&d.market_id).await? {
        let days = runtime.account_days(&key, d.as_of, sink.known_on).await?;
        let (Some(first), Some(last)) = (days.first(), days.last()) else {
            continue;
        };
        if first.as_of != d.as_of
            || last.as_of != sink.known_on
            || first.provenance.run_id != d.run_id
            || first.equity <= 0.0
        {
            continue;
        }
        let subject = format!("account:{}", key.account_id);
        sink.put(&subject, "return", last.equity / first.equity - 1.0);
        let costs: f64 = days[1..].iter().map(|x| x.costs).sum();
        sink.put(&subject, "costs", costs / first.equity);
    }
    Ok(())
}

/// Writes one decision's outcome values; returns whether it had any to measure.
async fn judge(
    ctx: &JobContext,
    d: &DecisionRecord,
    hz: &Horizon,
    sink: &mut Sink<'_>,
) -> Result<bool, JobError> {
    let runtime = &ctx.stores.runtime;
    let config = ConfigId::new(d.config_id.clone());
    let market_outcome = path_outcome(&hz.market);
    let before = sink.out.len();
    match d.engine.as_str() {
        "portfolio" => {
            let targets = runtime
                .targets(&d.output_key, &d.market_id, &config, d.as_of, d.as_of)
                .await?;
            let Some(t) = targets.first() else {
                return Ok(false);
            };
            let (weights, paths): (Vec<f64>, Vec<&ClosePath>) = t
                .weights
                .iter()
                .map(|(id, w)| (*w, hz.path(id).unwrap_or(&[])))
                .map(|(w, p)| {
                    if p.is_empty() {
                        (w, &[f64::NAN][..])
                    } else {
                        (w, p)
                    }
                })
                .unzip();
            // Names without any close over the horizon are held as cash and counted.
            let len = hz.market.len();
            let padded: Vec<Vec<f64>> = paths
                .iter()
                .map(|p| {
                    if p.len() == len {
                        p.to_vec()
                    } else {
                        vec![f64::NAN; len]
                    }
                })
                .collect();
            let refs: Vec<&ClosePath> = padded.iter().map(Vec::as_slice).collect();
            let held = if weights.is_empty() {
                // An all-cash target.
                path_outcome(&vec![1.0; len]).map(|p| (p, 0.0))
            } else {
                held_portfolio(&weights, &refs).map(|h| (h.portfolio, h.unpriced_weight))
            };
            if let Some((p, unpriced)) = held {
                sink.put("portfolio", "return", p.ret);
                sink.put("portfolio", "drawdown", p.drawdown);
                if let Some(v) = p.vol {
                    sink.put("portfolio", "vol", v);
                }
                sink.put("portfolio", "unpriced_weight", unpriced);
                if let Some(m) = market_outcome {
                    sink.put("portfolio", "benchmark_return", m.ret);
                    sink.put("portfolio", "active_return", p.ret - m.ret);
                }
            }
            if !d.is_shadow() {
                traded_outcome(ctx, d, sink).await?;
            }
        }
        "regime" => {
            let (Some(label), Some(m)) = (sink.regime.clone(), market_outcome) else {
                return Ok(false);
            };
            sink.put(&label, "return", m.ret);
            sink.put(&label, "drawdown", m.drawdown);
            if let Some(v) = m.vol {
                sink.put(&label, "realised_vol", v);
            }
        }
        "assessment" => {
            let Some(scores) = runtime
                .scores(&d.output_key, &d.market_id, d.as_of, Some(&config))
                .await?
            else {
                return Ok(false);
            };
            // A forecast is judged at its own horizon only.
            if scores.horizon_days != sink.horizon as usize {
                return Ok(false);
            }
            let forecasts: Vec<f64> = scores.rows.iter().map(|r| r.expected_return).collect();
            let realised: Vec<Option<f64>> = scores
                .rows
                .iter()
                .map(|r| hz.path(&r.instrument_id).and_then(horizon_return))
                .collect();
            if let Some(s) = forecast_skill(&forecasts, &realised) {
                sink.put("forecast", "ic", s.ic);
                sink.put("forecast", "rank_ic", s.rank_ic);
                sink.put("forecast", "hit_rate", s.hit_rate);
                sink.put("forecast", "names", s.names as f64);
            }
        }
        "universe" => {
            let members = runtime
                .universe(&d.output_key, &d.market_id, d.as_of, Some(&config))
                .await?;
            let incl = class_outcome(
                &hz.paths(
                    members
                        .iter()
                        .filter(|m| m.included())
                        .map(|m| m.id.as_str()),
                ),
            );
            let excl = class_outcome(
                &hz.paths(
                    members
                        .iter()
                        .filter(|m| !m.included())
                        .map(|m| m.id.as_str()),
                ),
            );
            if let Some(i) = &incl {
                sink.class("included", i);
            }
            if let Some(e) = &excl {
                sink.class("excluded", e);
            }
            if let (Some(i), Some(e)) = (incl, excl) {
                sink.put(
                    "included_vs_excluded",
                    "return_spread",
                    i.mean_return - e.mean_return,
                );
            }
        }
        "stability" => {
            let rows = runtime.stability(&d.market_id, d.as_of, &config).await?;
            let members = rows
                .iter()
                .map(|r| (r.class.as_str(), r.instrument_id.as_str()));
            classes(
                hz,
                sink,
                members,
                (
                    "fragile_vs_stable",
                    &["FRAGILE", "TARGETABLE", "BREAKER"],
                    &["STABLE"],
                ),
            );
        }
        "fragility" => {
            let rows = runtime.fragility(&d.market_id, d.as_of, &config).await?;
            let members = rows
                .iter()
                .map(|r| (r.class.as_str(), r.instrument_id.as_str()));
            classes(
                hz,
                sink,
                members,
                ("flagged_vs_none", &["SHORT_CANDIDATE", "CRISIS"], &["NONE"]),
            );
        }
        _ => return Ok(false),
    }
    Ok(sink.out.len() > before)
}

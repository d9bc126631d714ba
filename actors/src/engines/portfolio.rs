//! The portfolio & risk engine's job: the target weights of the day's universe and their
//! risk report, written only when every hard limit holds. Missing or stale prices, an empty
//! universe, an infeasible constraint set or a limit breach fail the job with the reason and
//! write nothing (fail closed). When the run has a scenario job, the report's scenario
//! block is required: the set comes from the message or is rebuilt from the store, and a
//! set that cannot be rebuilt fails the job — a report is never written with a block
//! missing.

use crate::engines::inbox::Inbox;
use crate::engines::scenario_set;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use chrono::Days;
use prometheus::config::VersionedConfig;
use prometheus::domain::{EffectiveUniverse, ScenarioSet, TargetPortfolio};
use prometheus::encoders::numeric::Panel;
use prometheus::engines::fragility::FragilityClass;
use prometheus::engines::portfolio::risk::{ANNUAL_DAYS, RiskReport, ScenarioView};
use prometheus::engines::portfolio::{
    OnEmptyUniverse, PortfolioConfig, PortfolioInputs, PortfolioName,
};
use prometheus::features::load::calendar_days_for;
use prometheus::store::{DecisionStore, Stamp, WorldStateStore};
use std::collections::{BTreeMap, BTreeSet};

/// What reaches the portfolio engine: the universe, and the scenario set it measures the
/// target against.
#[derive(Clone, Debug)]
pub enum PortfolioInput {
    /// From the universe engine.
    Universe(EffectiveUniverse),
    /// From the scenario engine.
    Scenarios(ScenarioSet),
}

impl From<EffectiveUniverse> for PortfolioInput {
    fn from(u: EffectiveUniverse) -> Self {
        Self::Universe(u)
    }
}

impl From<ScenarioSet> for PortfolioInput {
    fn from(s: ScenarioSet) -> Self {
        Self::Scenarios(s)
    }
}

/// Portfolio & risk.
#[derive(Default)]
pub struct PortfolioJob {
    scenarios: Inbox<ScenarioSet>,
}

impl PortfolioJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "portfolio";
}

/// Daily returns of the names over the last `lookback` of `dates` sessions (`days × names`,
/// 0 where a name has no price at either end of a day), from each name's closes on every
/// session (NaN where it has none).
fn return_window(closes: &[Vec<f64>], dates: usize, lookback: usize) -> (Vec<f64>, usize) {
    let start = dates.saturating_sub(lookback + 1);
    let days = (dates - start).saturating_sub(1);
    let mut out = Vec::with_capacity(days * closes.len());
    for t in start + 1..dates {
        for c in closes {
            let (a, b) = (c[t - 1], c[t]);
            out.push(if a > 0.0 && !b.is_nan() {
                b / a - 1.0
            } else {
                0.0
            });
        }
    }
    (out, days)
}

#[async_trait]
impl Job for PortfolioJob {
    type Config = PortfolioConfig;
    type Input = PortfolioInput;
    type Output = TargetPortfolio;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<PortfolioConfig>,
    ) -> Result<JobOutput<TargetPortfolio>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let config = &cfg.config;
        let runtime = &ctx.stores.runtime;
        // Every upstream output is read under the config the run record says its job used;
        // the scenario set is the one received for this run, or rebuilt from the store.
        let universe_config = if ctx.run.runs("universe") {
            ctx.upstream_config("universe").await?
        } else {
            None
        };
        let scenarios = scenario_set::of_run(ctx, &self.scenarios).await?;
        let members = runtime
            .universe(
                &config.universe_id,
                market.as_str(),
                as_of,
                universe_config.as_ref(),
            )
            .await?;
        if members.is_empty() {
            return Err(JobError::permanent(format!(
                "no universe `{}` for {market} on {as_of}: the universe engine must run first; no target",
                config.universe_id
            )));
        }
        let candidates = members.len();
        let included: Vec<_> = members.into_iter().filter(|m| m.included()).collect();
        let yesterday = as_of.checked_sub_days(Days::new(1)).unwrap_or(as_of);
        let previous = runtime
            .latest_target(
                &config.portfolio_id,
                market.as_str(),
                &cfg.config_id,
                yesterday,
            )
            .await?;
        if included.is_empty() {
            let reason = format!(
                "no eligible name: all {candidates} candidates of universe `{}` are excluded on {as_of}",
                config.universe_id
            );
            let held = previous.map(|p| p.weights).unwrap_or_default();
            return defensive(ctx, cfg, reason, held, scenarios).await;
        }
        // Upstream outputs of the date count only when their engine is part of this run.
        let scores = if ctx.run.runs("assessment") {
            let scores_config = ctx.upstream_config("assessment").await?;
            runtime
                .scores(
                    &config.strategy_id,
                    market.as_str(),
                    as_of,
                    scores_config.as_ref(),
                )
                .await?
        } else {
            None
        };
        let expected: BTreeMap<String, f64> = scores
            .map(|s| {
                let per_year = ANNUAL_DAYS / s.horizon_days.max(1) as f64;
                s.rows
                    .into_iter()
                    .map(|r| (r.instrument_id, r.expected_return * per_year))
                    .collect()
            })
            .unwrap_or_default();
        let fragility_config = if ctx.run.runs("fragility") {
            ctx.upstream_config("fragility").await?
        } else {
            None
        };
        let fragility: BTreeMap<String, (f64, bool)> = match &fragility_config {
            Some(c) => runtime
                .fragility(market.as_str(), as_of, c)
                .await?
                .into_iter()
                .map(|r| {
                    (
                        r.instrument_id,
                        (r.fragility_score, r.class >= FragilityClass::ShortCandidate),
                    )
                })
                .collect(),
            None => BTreeMap::new(),
        };
        let held: BTreeMap<&str, f64> = previous
            .as_ref()
            .map(|p| p.weights.iter().map(|(id, w)| (id.as_str(), *w)).collect())
            .unwrap_or_default();
        let (_, panel) = ctx
            .panel(as_of, calendar_days_for(config.lookback_days + 1))
            .await?;
        // Fail closed on stale inputs: every eligible name must have today's price.
        let stale: Vec<&str> = included
            .iter()
            .filter(|m| {
                panel
                    .instruments
                    .get(&m.id)
                    .and_then(|r| r.last())
                    .map(|r| r.date)
                    != Some(as_of)
            })
            .map(|m| m.id.as_str())
            .collect();
        if !stale.is_empty() {
            return Err(JobError::permanent(format!(
                "stale inputs: no price on {as_of} for {} eligible name(s) ({}); no target",
                stale.len(),
                stale.iter().take(5).copied().collect::<Vec<_>>().join(", ")
            )));
        }
        let dates = panel.dates();
        let closes: Vec<Vec<f64>> = included
            .iter()
            .map(|m| Panel::closes_on(&panel.instruments[&m.id], &dates))
            .collect();
        let (returns, days) = return_window(&closes, dates.len(), config.lookback_days);
        let eligible: BTreeSet<&str> = included.iter().map(|m| m.id.as_str()).collect();
        let forced_exits: f64 = held
            .iter()
            .filter(|(id, _)| !eligible.contains(*id))
            .map(|(_, w)| w.abs())
            .sum();
        let names: Vec<PortfolioName> = included
            .iter()
            .map(|m| PortfolioName {
                id: m.id.clone(),
                sector: m.sector.clone(),
                expected_return: expected.get(&m.id).copied(),
                fragility: fragility.get(&m.id).map(|f| f.0),
                fragile: fragility.get(&m.id).is_some_and(|f| f.1),
                previous: held.get(m.id.as_str()).copied().unwrap_or(0.0),
            })
            .collect();
        let has_previous = previous.is_some();
        let scenario_required = scenarios.is_some();
        let c = config.clone();
        let target = ctx
            .compute("portfolio construction", move || {
                let view = scenarios.as_ref().map(|s| scenario_view(s, &names));
                c.construct(&PortfolioInputs {
                    names: &names,
                    returns: &returns,
                    days,
                    has_previous,
                    forced_exits,
                    scenarios: view,
                })
            })
            .await?
            .map_err(JobError::permanent)?;
        if scenario_required && target.report.scenario.is_none() {
            return Err(JobError::permanent(format!(
                "the scenario set of {} has no path to measure the target against; the risk report would miss its scenario block, so no target is written",
                ctx.run.run_id
            )));
        }
        let summary = format!(
            "{} {}: {} names, vol {:.1}%, 99% ES {} (1d) / {} (scenarios), turnover {:.1}%{}{}",
            config.portfolio_id,
            config.method.as_str(),
            target.report.names,
            100.0 * target.report.ex_ante_vol,
            target
                .report
                .historical
                .map_or("n/a".to_owned(), |h| format!("{:.2}%", 100.0 * h.p99.es)),
            target
                .report
                .scenario
                .as_ref()
                .map_or("n/a".to_owned(), |s| format!(
                    "{:.2}%",
                    100.0 * s.tails.p99.es
                )),
            100.0 * target.report.turnover,
            if target.projected {
                " (projected onto the limits)"
            } else {
                ""
            },
            if target.report.notes.is_empty() {
                String::new()
            } else {
                format!("; {}", target.report.notes.join("; "))
            }
        );
        write_and_emit(ctx, cfg, &target.weights, &target.report, summary).await
    }

    fn receive(&self, input: PortfolioInput) {
        // The universe is read by the run record's config; the set is kept for speed.
        if let PortfolioInput::Scenarios(s) = input {
            self.scenarios.put(s.run_id.clone(), s);
        }
    }

    fn reset(&self) {
        self.scenarios.clear();
    }
}

/// The names' columns in the scenario set.
fn scenario_view<'a>(s: &'a ScenarioSet, names: &[PortfolioName]) -> ScenarioView<'a> {
    let column: BTreeMap<&str, usize> = s
        .instruments
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    ScenarioView {
        set_id: &s.set_id,
        horizon: s.horizon,
        columns: names
            .iter()
            .map(|n| column.get(n.id.as_str()).copied())
            .collect(),
        width: s.instruments.len(),
        path_returns: &s.path_returns,
    }
}

/// Stores the target and its report (one transaction) and builds the job's output.
async fn write_and_emit(
    ctx: &JobContext,
    cfg: &VersionedConfig<PortfolioConfig>,
    weights: &[(String, f64)],
    report: &RiskReport,
    summary: String,
) -> Result<JobOutput<TargetPortfolio>, JobError> {
    let config = &cfg.config;
    let stamp = Stamp {
        market_id: ctx.run.market.to_string(),
        as_of: ctx.run.as_of,
        run_id: ctx.run.run_id.clone(),
        config_id: cfg.config_id.clone(),
    };
    ctx.stores
        .runtime
        .write_target(
            &stamp,
            &config.portfolio_id,
            config.method.as_str(),
            weights,
            report,
        )
        .await?;
    Ok(JobOutput {
        rows: weights.len() as u64 + 1,
        summary,
        emit: Some(TargetPortfolio {
            run_id: ctx.run.run_id.clone(),
            market: ctx.run.market.clone(),
            as_of: ctx.run.as_of,
            config_id: cfg.config_id.clone(),
            portfolio_id: config.portfolio_id.clone(),
            names: report.names,
            ex_ante_vol: report.ex_ante_vol,
        }),
    })
}

/// The target of a day with no eligible name, by `on_empty_universe`: all cash, the
/// previous target held (measured on today's window), or no target (the job fails).
async fn defensive(
    ctx: &JobContext,
    cfg: &VersionedConfig<PortfolioConfig>,
    reason: String,
    held: Vec<(String, f64)>,
    scenarios: Option<ScenarioSet>,
) -> Result<JobOutput<TargetPortfolio>, JobError> {
    let config = &cfg.config;
    let action = config.on_empty_universe;
    let previous_gross: f64 = held.iter().map(|(_, w)| w.abs()).sum();
    let (weights, report) = match action {
        OnEmptyUniverse::Fail => {
            return Err(JobError::permanent(format!(
                "{reason}; no target (on_empty_universe = \"fail\")"
            )));
        }
        OnEmptyUniverse::Hold if !held.is_empty() => {
            let ids: Vec<&str> = held.iter().map(|(id, _)| id.as_str()).collect();
            let (returns, days) = returns_of(ctx, &ids, config.lookback_days).await?;
            let names: Vec<PortfolioName> = held
                .iter()
                .map(|(id, w)| PortfolioName {
                    id: id.clone(),
                    sector: prometheus::engines::universe::UNKNOWN_SECTOR.to_owned(),
                    expected_return: None,
                    fragility: None,
                    fragile: false,
                    previous: *w,
                })
                .collect();
            let w: Vec<f64> = held.iter().map(|(_, w)| *w).collect();
            let c = config.clone();
            let mut report = ctx
                .compute("measure the held target", move || {
                    let view = scenarios.as_ref().map(|s| scenario_view(s, &names));
                    c.measure(
                        &w,
                        &PortfolioInputs {
                            names: &names,
                            returns: &returns,
                            days,
                            has_previous: true,
                            forced_exits: 0.0,
                            scenarios: view,
                        },
                    )
                })
                .await?
                .map_err(JobError::permanent)?;
            let why =
                format!("{reason}: the previous target is held (on_empty_universe = \"hold\")");
            report.notes.push(why.clone());
            report.defensive = Some(why);
            (held, report)
        }
        OnEmptyUniverse::Cash | OnEmptyUniverse::Hold => {
            let why = format!(
                "{reason}: all cash (on_empty_universe = \"{}\"{})",
                action.as_str(),
                if action == OnEmptyUniverse::Hold {
                    ", nothing held before"
                } else {
                    ""
                }
            );
            let view = scenarios.as_ref().map(|s| scenario_view(s, &[]));
            let report = RiskReport::all_cash(why, previous_gross, 0, view.as_ref());
            (Vec::new(), report)
        }
    };
    let summary = format!(
        "{} defensive: {}",
        config.portfolio_id,
        report.defensive.as_deref().unwrap_or_default()
    );
    write_and_emit(ctx, cfg, &weights, &report, summary).await
}

/// Daily returns of `ids` over the last `lookback` sessions to the run's date (`days ×
/// names`, 0 where a price is missing).
async fn returns_of(
    ctx: &JobContext,
    ids: &[&str],
    lookback: usize,
) -> Result<(Vec<f64>, usize), JobError> {
    let (_, panel) = ctx
        .panel(ctx.run.as_of, calendar_days_for(lookback + 1))
        .await?;
    let dates = panel.dates();
    let closes: Vec<Vec<f64>> = ids
        .iter()
        .map(|id| {
            panel.instruments.get(*id).map_or_else(
                || vec![f64::NAN; dates.len()],
                |rows| Panel::closes_on(rows, &dates),
            )
        })
        .collect();
    Ok(return_window(&closes, dates.len(), lookback))
}

//! The scenario engine's job: the day's seeded scenario set from the market's returns up
//! to the run's date, stored (header, baseline, first paths) and sent whole to the
//! fragility and portfolio engines. The set is a deterministic function of its config
//! (seed included), the date and the stored history, so it is never the only copy of
//! anything: [`generate`] rebuilds it bit for bit (see [`super::scenario_set`]).

use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use prometheus::config::VersionedConfig;
use prometheus::domain::{ConfigId, ScenarioSet as ScenarioSetMsg, StabilityReport};
use prometheus::encoders::numeric::Panel;
use prometheus::engines::scenarios::{
    ReturnPanel, ScenarioEngineConfig, ScenarioKind, ScenarioSet,
};
use prometheus::store::{Stamp, WorldStateStore};
use std::sync::Arc;

/// Synthetic scenarios.
#[derive(Default)]
pub struct ScenariosJob;

impl ScenariosJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "scenarios";
}

/// The one-day returns the scenarios draw from: the instruments that traded on `as_of`, on
/// every date any instrument of the panel traded (a name's return sits on the later day of
/// each pair of its consecutive rows; 0 where it has none).
fn return_history(panel: &Panel, as_of: NaiveDate) -> ReturnPanel {
    let instruments: Vec<&String> = panel
        .instruments
        .iter()
        .filter(|(_, r)| r.last().map(|r| r.date) == Some(as_of))
        .map(|(id, _)| id)
        .collect();
    let dates = panel.dates();
    let n = instruments.len();
    let mut returns = vec![0.0; dates.len() * n];
    for (i, id) in instruments.iter().enumerate() {
        let rows = &panel.instruments[*id];
        let at = Panel::date_positions(rows, &dates);
        for (w, t) in rows.windows(2).zip(at.iter().skip(1)) {
            if let Some(t) = t {
                returns[t * n + i] = w[1].close / w[0].close - 1.0;
            }
        }
    }
    // The first date has no return.
    ReturnPanel {
        dates: dates.iter().skip(1).copied().collect(),
        instruments: instruments.into_iter().cloned().collect(),
        returns: returns.get(n..).unwrap_or(&[]).to_vec(),
    }
}

/// The scenario set `config` generates for the run's market and date from the stored
/// history (and stored regime labels), with each path's cumulative returns: the job's
/// output, and what a downstream job rebuilds when the message is gone.
///
/// # Errors
/// Store failures; the generator cannot draw (no history: permanent); a panic.
pub async fn generate(
    ctx: &JobContext,
    config: &ScenarioEngineConfig,
) -> Result<(ScenarioSet, Vec<f64>), JobError> {
    let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
    let (_, panel) = ctx.panel(as_of, config.history_days).await?;
    let labels = match &config.set {
        ScenarioKind::RegimeBootstrap { .. } => {
            ctx.stores
                .runtime
                .regime_labels(
                    market.as_str(),
                    as_of
                        .checked_sub_days(Days::new(config.history_days))
                        .unwrap_or(as_of),
                    as_of,
                )
                .await?
        }
        _ => Vec::new(),
    };
    let (params, kind) = (config.params.clone(), config.set.clone());
    ctx.compute("scenarios", move || {
        let history = return_history(&panel, as_of);
        params.generate(&kind, &history, &labels, as_of).map(|set| {
            let paths = set.path_returns();
            (set, paths)
        })
    })
    .await?
    .map_err(JobError::permanent)
}

/// The message of a generated set.
pub fn message(
    ctx: &JobContext,
    config_id: &ConfigId,
    set: &ScenarioSet,
    path_returns: Vec<f64>,
) -> ScenarioSetMsg {
    ScenarioSetMsg {
        run_id: ctx.run.run_id.clone(),
        market: ctx.run.market.clone(),
        as_of: ctx.run.as_of,
        config_id: config_id.clone(),
        set_id: set.set_id.clone(),
        horizon: set.horizon,
        path_returns: Arc::new(path_returns),
        instruments: Arc::new(set.instruments.clone()),
    }
}

#[async_trait]
impl Job for ScenariosJob {
    type Config = ScenarioEngineConfig;
    type Input = StabilityReport;
    type Output = ScenarioSetMsg;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<ScenarioEngineConfig>,
    ) -> Result<JobOutput<ScenarioSetMsg>, JobError> {
        let config = &cfg.config;
        let (set, path_returns) = generate(ctx, config).await?;
        let stamp = Stamp {
            market_id: ctx.run.market.to_string(),
            as_of: ctx.run.as_of,
            run_id: ctx.run.run_id.clone(),
            config_id: cfg.config_id.clone(),
        };
        ctx.stores
            .runtime
            .write_scenario_set(&stamp, &set, config.stored_paths)
            .await?;
        Ok(JobOutput {
            rows: 1 + config.stored_paths.min(set.paths) as u64,
            summary: format!(
                "{} {}: {} paths x {} days x {} instruments",
                set.kind.tag(),
                set.set_id,
                set.paths,
                set.horizon,
                set.instruments.len()
            ),
            emit: Some(message(ctx, &cfg.config_id, &set, path_returns)),
        })
    }

    fn receive(&self, _input: StabilityReport) {
        // The set depends on the stored history only; the report is a trigger.
    }

    fn reset(&self) {}
}

//! The stability engine's job: every instrument's stability components, soft-target score
//! and class on the run's date, under the regime stored for that date.

use crate::engines::weakness::fundamental_weakness;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::ConfigId;
use prometheus::domain::{RegimeState, StabilityReport};
use prometheus::engines::stability::{
    RegimeContext, SoftTargetClass, StabilityConfig, assess_market,
};
use prometheus::features::load::calendar_days_for;
use prometheus::store::{Stamp, WorldStateStore};
use std::collections::BTreeMap;

/// Stability & soft targets.
#[derive(Default)]
pub struct StabilityJob;

impl StabilityJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "stability";
}

#[async_trait]
impl Job for StabilityJob {
    type Config = StabilityConfig;
    type Input = RegimeState;
    type Output = StabilityReport;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<StabilityConfig>,
    ) -> Result<JobOutput<StabilityReport>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let config = &cfg.config;
        let history_days = calendar_days_for(config.lookback());
        let (instruments, panel) = ctx.panel(as_of, history_days).await?;
        let runtime = &ctx.stores.runtime;
        // The regime of this very date (never a later one), written under the config this
        // run's regime job used (the run record says which); without a regime job in the
        // run, the stored one; none before the regime's warm-up.
        let regime_config: Option<ConfigId> = if ctx.run.runs("regime") {
            ctx.upstream_config("regime").await?
        } else {
            None
        };
        let stored = match &regime_config {
            Some(c) => runtime.regime(market.as_str(), as_of, c).await?,
            None => runtime
                .latest_regime(market.as_str(), as_of)
                .await?
                .map(|(d, _)| d),
        };
        let regime = stored.filter(|d| d.date == as_of).map(|d| RegimeContext {
            label: d.label,
            probabilities: d.probabilities,
            change_risk: d.change_risk,
        });
        let fundamentals = fundamental_weakness(ctx, &instruments).await?;
        // Only instruments that traded on the date are assessed.
        let traded: BTreeMap<String, _> = panel
            .instruments
            .into_iter()
            .filter(|(_, r)| r.last().map(|r| r.date) == Some(as_of))
            .collect();
        let (c, market_returns) = (config.clone(), panel.market);
        let rows = ctx
            .compute("stability", move || {
                assess_market(&c, &traded, &market_returns, &fundamentals, regime.as_ref())
            })
            .await?;
        let stamp = Stamp {
            market_id: market.to_string(),
            as_of,
            run_id: ctx.run.run_id.clone(),
            config_id: cfg.config_id.clone(),
        };
        runtime
            .write_stability(&stamp, regime.map(|r| r.label), &rows)
            .await?;
        let fragile = rows
            .iter()
            .filter(|r| r.class >= SoftTargetClass::Fragile)
            .count();
        Ok(JobOutput {
            rows: rows.len() as u64,
            summary: format!(
                "{} instruments, {fragile} FRAGILE or worse (regime {})",
                rows.len(),
                regime.map_or("unknown".to_owned(), |r| r.label.to_string())
            ),
            emit: Some(StabilityReport {
                run_id: ctx.run.run_id.clone(),
                market: market.clone(),
                as_of,
                config_id: cfg.config_id.clone(),
                instruments: rows.len(),
                fragile_or_worse: fragile,
            }),
        })
    }

    fn receive(&self, _input: RegimeState) {
        // A claim check: the run record names the regime config the day is read by.
    }

    fn reset(&self) {}
}

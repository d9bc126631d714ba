//! The fragility engine's job: each instrument's expected shortfall across the day's
//! scenario set blended with its soft-target score into a fragility score, class and short
//! template. The set comes from the scenario engine's message, or — when a restart lost it
//! — is rebuilt from the store ([`super::scenario_set`]); the stability rows are those of the
//! config this run's stability job used.

use crate::engines::inbox::Inbox;
use crate::engines::scenario_set;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::{FragilityReport, ScenarioSet};
use prometheus::engines::fragility::{FragilityClass, FragilityConfig};
use prometheus::store::{Stamp, WorldOutput, WorldStateStore};
use std::collections::BTreeMap;

/// Fragility alpha.
#[derive(Default)]
pub struct FragilityJob {
    upstream: Inbox<ScenarioSet>,
}

impl FragilityJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "fragility";
}

#[async_trait]
impl Job for FragilityJob {
    type Config = FragilityConfig;
    type Input = ScenarioSet;
    type Output = FragilityReport;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<FragilityConfig>,
    ) -> Result<JobOutput<FragilityReport>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let set = scenario_set::of_run(ctx, &self.upstream)
            .await?
            .ok_or_else(|| {
                JobError::permanent(format!(
                    "the fragility job of {} needs a scenarios job in its DAG",
                    ctx.run.run_id
                ))
            })?;
        let config = &cfg.config;
        let runtime = &ctx.stores.runtime;
        // This run's stability rows when it has a stability job, else the date's first.
        let stability_config = if ctx.run.runs("stability") {
            ctx.upstream_config("stability").await?
        } else {
            runtime
                .first_config_on(WorldOutput::Stability, market.as_str(), as_of)
                .await?
        }
        .ok_or_else(|| {
            JobError::permanent(format!(
                "no stability rows of {market} {as_of}: nothing to blend the scenario losses with"
            ))
        })?;
        let stability = runtime
            .stability(market.as_str(), as_of, &stability_config)
            .await?;
        let (c, paths, instruments, horizon) = (
            config.clone(),
            std::sync::Arc::clone(&set.path_returns),
            std::sync::Arc::clone(&set.instruments),
            set.horizon,
        );
        let rows: Vec<_> = ctx
            .compute("fragility", move || {
                let es: BTreeMap<&str, f64> = instruments
                    .iter()
                    .map(String::as_str)
                    .zip(c.expected_shortfalls(&paths, instruments.len()))
                    .collect();
                stability
                    .iter()
                    .filter_map(|s| {
                        let e = es.get(s.instrument_id.as_str())?;
                        Some(c.assess(s, *e, horizon))
                    })
                    .collect()
            })
            .await?;
        let stamp = Stamp {
            market_id: market.to_string(),
            as_of,
            run_id: ctx.run.run_id.clone(),
            config_id: cfg.config_id.clone(),
        };
        runtime.write_fragility(&stamp, &set.set_id, &rows).await?;
        let count = |c: FragilityClass| rows.iter().filter(|r| r.class == c).count();
        let shorts = count(FragilityClass::ShortCandidate) + count(FragilityClass::Crisis);
        Ok(JobOutput {
            rows: rows.len() as u64,
            summary: format!(
                "{} instruments against {}: {} WATCHLIST, {} SHORT_CANDIDATE, {} CRISIS",
                rows.len(),
                set.set_id,
                count(FragilityClass::Watchlist),
                count(FragilityClass::ShortCandidate),
                count(FragilityClass::Crisis)
            ),
            emit: Some(FragilityReport {
                run_id: ctx.run.run_id.clone(),
                market: market.clone(),
                as_of,
                config_id: cfg.config_id.clone(),
                instruments: rows.len(),
                short_candidates: shorts,
            }),
        })
    }

    fn receive(&self, input: ScenarioSet) {
        self.upstream.put(input.run_id.clone(), input);
    }

    fn reset(&self) {
        self.upstream.clear();
    }
}

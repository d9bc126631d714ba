//! The fragility engine's job: each instrument's expected shortfall across the day's
//! scenario set blended with its soft-target score into a fragility score, class and short
//! template.

use crate::engines::inbox::Inbox;
use crate::job_actor::{Job, JobContext, JobOutput};
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::{FragilityReport, ScenarioSet};
use prometheus::engines::fragility::{FragilityClass, FragilityConfig};
use prometheus::store::{Stamp, WorldStateStore};
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
    ) -> Result<JobOutput<FragilityReport>, String> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let Some(set) = self.upstream.take(market, as_of).pop() else {
            return Err(format!(
                "no scenario set for {market} {as_of} reached the fragility engine (lost in a \
                 restart?); re-run the engines DAG for that date"
            ));
        };
        let config = &cfg.config;
        let runtime = &ctx.stores.runtime;
        let stability = runtime
            .stability(market.as_str(), as_of, &set.stability_config_id)
            .await
            .map_err(|e| e.to_string())?;
        let es: BTreeMap<&str, f64> = set
            .instruments
            .iter()
            .map(String::as_str)
            .zip(config.expected_shortfalls(&set.path_returns, set.instruments.len()))
            .collect();
        let rows: Vec<_> = stability
            .iter()
            .filter_map(|s| {
                let e = es.get(s.instrument_id.as_str())?;
                Some(config.assess(s, *e, set.horizon))
            })
            .collect();
        let stamp = Stamp {
            market_id: market.to_string(),
            as_of,
            run_id: ctx.run.run_id.clone(),
            config_id: cfg.config_id.clone(),
        };
        runtime
            .write_fragility(&stamp, &set.set_id, &rows)
            .await
            .map_err(|e| e.to_string())?;
        let count = |c: FragilityClass| rows.iter().filter(|r| r.class == c).count();
        let shorts = count(FragilityClass::ShortCandidate) + count(FragilityClass::Crisis);
        Ok(JobOutput {
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
        self.upstream.put(input.market.clone(), input.as_of, input);
    }

    fn reset(&self) {
        self.upstream.clear();
    }
}

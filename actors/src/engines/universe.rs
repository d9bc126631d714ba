//! The universe engine's job: every instrument of the market filtered, ranked by its
//! assessment score and tiered on the run's date, with a reason for each exclusion.

use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::{EffectiveUniverse, InstrumentScores};
use prometheus::engines::universe::{Candidate, Tier, UNKNOWN_SECTOR, UniverseConfig};
use prometheus::features::load::calendar_days_for;
use prometheus::store::{DecisionStore, ReferenceStore, Stamp, WorldOutput, WorldStateStore};
use std::collections::BTreeMap;

/// The investable universe.
#[derive(Default)]
pub struct UniverseJob;

impl UniverseJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "universe";
}

/// The median of `x` (non-empty).
fn median(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len();
    if n % 2 == 1 {
        x[n / 2]
    } else {
        (x[n / 2 - 1] + x[n / 2]) / 2.0
    }
}

#[async_trait]
impl Job for UniverseJob {
    type Config = UniverseConfig;
    type Input = InstrumentScores;
    type Output = EffectiveUniverse;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<UniverseConfig>,
    ) -> Result<JobOutput<EffectiveUniverse>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let config = &cfg.config;
        let runtime = &ctx.stores.runtime;
        let hist = &ctx.stores.historical;
        let window = config.min_history_days.max(config.liquidity_days);
        let (instruments, panel) = ctx.panel(as_of, calendar_days_for(window)).await?;
        let sectors: BTreeMap<String, String> = hist
            .issuers()
            .await?
            .into_iter()
            .filter_map(|i| Some((i.issuer_id.as_str().to_owned(), i.sector?)))
            .collect();
        // Upstream rows are read under the configs this run's jobs used (the run record).
        let scores_config = if ctx.run.runs("assessment") {
            ctx.upstream_config("assessment").await?
        } else {
            None
        };
        let scores: BTreeMap<String, f64> = runtime
            .scores(
                &config.strategy_id,
                market.as_str(),
                as_of,
                scores_config.as_ref(),
            )
            .await?
            .map(|s| {
                s.rows
                    .into_iter()
                    .map(|r| (r.instrument_id, r.score))
                    .collect()
            })
            .unwrap_or_default();
        let stability_config = if ctx.run.runs("stability") {
            ctx.upstream_config("stability").await?
        } else {
            runtime
                .first_config_on(WorldOutput::Stability, market.as_str(), as_of)
                .await?
        };
        let soft: BTreeMap<String, _> = match &stability_config {
            Some(c) => runtime
                .stability(market.as_str(), as_of, c)
                .await?
                .into_iter()
                .map(|r| (r.instrument_id, (r.class, r.soft_target_score)))
                .collect(),
            None => BTreeMap::new(),
        };
        let candidates: Vec<Candidate> = instruments
            .iter()
            .map(|i| {
                let id = i.instrument_id.as_str();
                let rows = panel.instruments.get(id).map(|r| &**r).unwrap_or(&[]);
                let recent = &rows[rows.len().saturating_sub(config.liquidity_days)..];
                let traded: Option<Vec<f64>> = recent
                    .iter()
                    .map(|r| r.volume.map(|v| v * r.close))
                    .collect();
                Candidate {
                    id: id.to_owned(),
                    symbol: i.symbol.clone(),
                    asset_class: i.asset_class.clone(),
                    sector: sectors
                        .get(i.issuer_id.as_str())
                        .cloned()
                        .unwrap_or_else(|| UNKNOWN_SECTOR.to_owned()),
                    history_days: rows.len(),
                    priced_today: rows.last().map(|r| r.date) == Some(as_of),
                    last_close: rows.last().map_or(f64::NAN, |r| r.close),
                    median_traded_value: traded.filter(|t| !t.is_empty()).map(median),
                    soft_target: soft.get(id).copied(),
                    score: scores.get(id).copied(),
                }
            })
            .collect();
        let c = config.clone();
        let members = ctx
            .compute("universe", move || c.select(&candidates))
            .await?;
        let stamp = Stamp {
            market_id: market.to_string(),
            as_of,
            run_id: ctx.run.run_id.clone(),
            config_id: cfg.config_id.clone(),
        };
        runtime
            .write_universe(&stamp, &config.universe_id, &members)
            .await?;
        let count = |t: Tier| members.iter().filter(|m| m.tier == t).count();
        let (core, satellite) = (count(Tier::Core), count(Tier::Satellite));
        Ok(JobOutput {
            rows: members.len() as u64,
            summary: format!(
                "{} candidates: {core} CORE, {satellite} SATELLITE, {} EXCLUDED{}",
                members.len(),
                count(Tier::Excluded),
                if scores.is_empty() {
                    " (no scores: ranked by id)"
                } else {
                    ""
                }
            ),
            emit: Some(EffectiveUniverse {
                run_id: ctx.run.run_id.clone(),
                market: market.clone(),
                as_of,
                config_id: cfg.config_id.clone(),
                universe_id: config.universe_id.clone(),
                included: core + satellite,
            }),
        })
    }

    fn receive(&self, _input: InstrumentScores) {
        // A claim check: the run record names the assessment config the scores are read by.
    }

    fn reset(&self) {}
}

//! The derived-data actor's job: recompute returns, volatility and factors for every price
//! that changed, from the ingest actor's `PanelUpdated` when it arrived, from the store's
//! derive marks in any case (after a restart the message is gone; the marks are not).

use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use chrono::NaiveDate;
use prometheus::config::VersionedConfig;
use prometheus::derived::{DerivedConfig, derive_incremental};
use prometheus::domain::{DerivedUpdated, MarketId, PanelUpdated};
use prometheus::store::DerivedStore;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Derived data.
#[derive(Default)]
pub struct DerivedJob {
    panels: Mutex<BTreeMap<(MarketId, NaiveDate), PanelUpdated>>,
}

impl DerivedJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "derived";
}

#[async_trait]
impl Job for DerivedJob {
    type Config = DerivedConfig;
    type Input = PanelUpdated;
    type Output = DerivedUpdated;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<DerivedConfig>,
    ) -> Result<JobOutput<DerivedUpdated>, JobError> {
        let key = (ctx.run.market.clone(), ctx.run.as_of);
        let panel = self
            .panels
            .lock()
            .map_err(|_| JobError::transient("panel cache poisoned"))?
            .remove(&key);
        // The first date this run rewrites, for the spine's cached panels and factors.
        let first_mark = ctx
            .stores
            .historical
            .derive_marks()
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .min();
        let s = derive_incremental(&ctx.stores.historical, cfg, &ctx.run.run_id, |_, _| {}).await?;
        if let Some(from) = first_mark {
            ctx.panels
                .written(&ctx.stores.historical, &ctx.run.market, from)
                .await?;
        }
        let upstream = panel.map_or_else(
            || "no PanelUpdated received (using the store's marks)".to_owned(),
            |p| {
                format!(
                    "PanelUpdated: {} instruments, {} rows changed",
                    p.instruments.len(),
                    p.rows_changed
                )
            },
        );
        Ok(JobOutput {
            rows: (s.returns + s.volatility + s.factor_values) as u64,
            summary: format!(
                "{} instruments, {} returns, {} volatilities, {} factor values; {upstream}",
                s.instruments, s.returns, s.volatility, s.factor_values
            ),
            emit: Some(DerivedUpdated {
                run_id: ctx.run.run_id.clone(),
                market: ctx.run.market.clone(),
                as_of: ctx.run.as_of,
                config_id: cfg.config_id.clone(),
                instruments: s.instruments,
            }),
        })
    }

    fn receive(&self, input: PanelUpdated) {
        if let Ok(mut p) = self.panels.lock() {
            // Keep only recent dates: a message whose job never came must not pile up.
            while p.len() >= 64 {
                let Some(oldest) = p.keys().next().cloned() else {
                    break;
                };
                p.remove(&oldest);
            }
            p.insert((input.market.clone(), input.as_of), input);
        }
    }

    fn reset(&self) {
        if let Ok(mut p) = self.panels.lock() {
            p.clear();
        }
    }
}

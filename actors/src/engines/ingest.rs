//! The ingest actor's job: bring in one market's data for one date (synthetic feed or inbox
//! files), then tell downstream actors which panel changed.

use crate::spine::edge::NoInput;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::PanelUpdated;
use prometheus::ingest::daily::{
    DailyIngestConfig, DailySource, DayIngestSummary, import_inbox, store_synthetic_day,
};
use prometheus::synthetic_market::{SyntheticFeed, SyntheticMarketParams};
use std::path::Path;
use std::sync::Mutex;

/// The synthetic feed, kept between jobs with the config it was built for.
type FeedCache = Option<(prometheus::domain::ConfigId, SyntheticFeed)>;

/// Daily ingest.
#[derive(Default)]
pub struct IngestJob {
    feed: Mutex<FeedCache>,
}

impl IngestJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "ingest";

    fn take_feed(
        &self,
        cfg: &VersionedConfig<DailyIngestConfig>,
    ) -> Result<SyntheticFeed, JobError> {
        let cached = self
            .feed
            .lock()
            .map_err(|_| JobError::transient("feed cache poisoned"))?
            .take();
        if let Some((id, feed)) = cached.filter(|(id, _)| *id == cfg.config_id) {
            let _ = id;
            return Ok(feed);
        }
        let s = &cfg.config.synthetic;
        let start = cfg
            .config
            .history_start()
            .ok_or_else(|| JobError::permanent("synthetic.history_start is not a date"))?;
        let params = SyntheticMarketParams::new(
            s.instruments,
            s.seed,
            prometheus::domain::MarketId::new(&s.market),
        )
        .check()
        .map_err(JobError::permanent)?;
        Ok(SyntheticFeed::new(params, start))
    }

    fn keep_feed(&self, cfg: &VersionedConfig<DailyIngestConfig>, feed: SyntheticFeed) {
        if let Ok(mut slot) = self.feed.lock() {
            *slot = Some((cfg.config_id.clone(), feed));
        }
    }
}

fn describe(s: &DayIngestSummary) -> String {
    format!(
        "{} instruments, prices {} new / {} updated / {} unchanged, {} articles, {} files, {} rejected",
        s.instruments.len(),
        s.prices.inserted,
        s.prices.updated,
        s.prices.unchanged,
        s.articles,
        s.files,
        s.rejected
    )
}

#[async_trait]
impl Job for IngestJob {
    type Config = DailyIngestConfig;
    type Input = NoInput;
    type Output = PanelUpdated;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<DailyIngestConfig>,
    ) -> Result<JobOutput<PanelUpdated>, JobError> {
        let (market, date) = (&ctx.run.market, ctx.run.as_of);
        let summary = match cfg.config.source {
            DailySource::Synthetic => {
                if market.as_str() != cfg.config.synthetic.market {
                    return Ok(JobOutput {
                        rows: 0,
                        summary: format!("the synthetic feed publishes nothing for {market}"),
                        emit: None,
                    });
                }
                let mut feed = self.take_feed(cfg)?;
                let (feed, day) = ctx
                    .compute("synthetic feed", move || {
                        let day = feed.day(date);
                        (feed, day)
                    })
                    .await?;
                self.keep_feed(cfg, feed);
                let Some(day) = day else {
                    return Ok(JobOutput {
                        rows: 0,
                        summary: format!("{date} is not a session of the synthetic feed"),
                        emit: None,
                    });
                };
                let seed = cfg.config.synthetic.seed;
                store_synthetic_day(
                    &ctx.stores.historical,
                    &day,
                    market,
                    seed,
                    ctx.clock.as_ref(),
                )
                .await?
            }
            DailySource::Inbox => {
                import_inbox(
                    &ctx.stores.historical,
                    &ctx.stores.archive,
                    Path::new(&cfg.config.inbox_dir),
                    market,
                    &ctx.markets,
                    ctx.clock.as_ref(),
                )
                .await?
            }
        };
        // The cached panel must not keep rows this run rewrote: the synthetic feed writes
        // one session; an inbox file may hold any dates.
        if summary.prices.inserted + summary.prices.updated > 0 {
            let from = match cfg.config.source {
                DailySource::Synthetic => date,
                DailySource::Inbox => prometheus::domain::date_floor(),
            };
            ctx.panels
                .written(&ctx.stores.historical, market, from)
                .await?;
        }
        let emit = PanelUpdated {
            run_id: ctx.run.run_id.clone(),
            market: market.clone(),
            as_of: date,
            rows_changed: summary.prices.inserted + summary.prices.updated,
            articles: summary.articles,
            instruments: summary.instruments.clone(),
        };
        Ok(JobOutput {
            rows: summary.prices.inserted + summary.prices.updated + summary.articles,
            summary: describe(&summary),
            emit: Some(emit),
        })
    }

    fn receive(&self, input: NoInput) {
        match input {}
    }

    fn reset(&self) {
        if let Ok(mut slot) = self.feed.lock() {
            *slot = None;
        }
    }
}

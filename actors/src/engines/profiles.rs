//! The profiles service's job: a snapshot of every issuer of the market on the run's date
//! (facts, price features of its primary instrument, liquidity, news activity, fundamentals
//! as filed by that date, risk flags).

use crate::engines::session_window::news_window;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::{DerivedUpdated, EncoderOutput};
use prometheus::features::load::calendar_days_for;
use prometheus::profiles::{ProfileInputs, ProfilesConfig, build};
use prometheus::store::{
    FundamentalsStore, NewsStore, ProfileRecord, ProfileStore, ReferenceStore,
};
use serde_json::json;
use std::collections::BTreeMap;

/// Issuer profiles.
#[derive(Default)]
pub struct ProfilesJob;

impl ProfilesJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "profiles";
}

/// Median of close × volume over the last `n` rows, when at least half of them have a
/// volume.
fn median_traded_value(rows: &[prometheus::features::DayRow], n: usize) -> Option<f64> {
    let tail = &rows[rows.len().saturating_sub(n)..];
    let mut values: Vec<f64> = tail
        .iter()
        .filter_map(|r| r.volume.map(|v| v * r.close))
        .filter(|v| v.is_finite())
        .collect();
    if values.is_empty() || values.len() * 2 < tail.len() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let m = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[m]
    } else {
        (values[m - 1] + values[m]) / 2.0
    })
}

#[async_trait]
impl Job for ProfilesJob {
    type Config = ProfilesConfig;
    type Input = DerivedUpdated;
    type Output = EncoderOutput;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<ProfilesConfig>,
    ) -> Result<JobOutput<EncoderOutput>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let db = &ctx.stores.historical;
        let config = &cfg.config;
        let spec = config.spec();
        let history_days = calendar_days_for(spec.lookback());
        let (instruments, panel) = ctx.panel(as_of, history_days).await?;
        let issuers: BTreeMap<String, prometheus::domain::Issuer> = db
            .issuers()
            .await?
            .into_iter()
            .map(|i| (i.issuer_id.as_str().to_owned(), i))
            .collect();
        let (recent_after, until) = news_window(ctx, config.news_recent_sessions)?;
        let (baseline_after, _) = news_window(ctx, config.news_baseline_sessions)?;
        let mut recent: BTreeMap<String, u32> = BTreeMap::new();
        let mut baseline: BTreeMap<String, u32> = BTreeMap::new();
        for n in db
            .news(None, baseline_after, until)
            .await?
            .iter()
            .filter(|n| n.article.published_at > baseline_after)
        {
            for i in &n.issuers {
                *baseline.entry(i.as_str().to_owned()).or_default() += 1;
                if n.article.published_at > recent_after {
                    *recent.entry(i.as_str().to_owned()).or_default() += 1;
                }
            }
        }
        // Instruments per issuer, by symbol; the primary is the first that traded today.
        let mut by_issuer: BTreeMap<String, Vec<&prometheus::domain::Instrument>> = BTreeMap::new();
        for i in &instruments {
            by_issuer
                .entry(i.issuer_id.as_str().to_owned())
                .or_default()
                .push(i);
        }
        let mut fundamentals = db.all_fundamentals_as_of(as_of).await?;
        let mut rows = Vec::new();
        for (issuer_id, mut list) in by_issuer {
            list.sort_by(|a, b| a.symbol.cmp(&b.symbol));
            let primary = list.iter().find_map(|i| {
                panel
                    .instruments
                    .get(i.instrument_id.as_str())
                    .filter(|r| r.last().map(|r| r.date) == Some(as_of))
                    .map(|r| (*i, r))
            });
            let Some((primary, history)) = primary else {
                continue;
            };
            let issuer = issuers.get(&issuer_id);
            let inputs = ProfileInputs {
                facts: json!({
                    "name": issuer.map(|i| i.name.clone()),
                    "sector": issuer.and_then(|i| i.sector.clone()),
                    "industry": issuer.and_then(|i| i.industry.clone()),
                    "country": issuer.and_then(|i| i.country.clone()),
                    "market": market.as_str(),
                    "primary_instrument": primary.instrument_id.as_str(),
                    "symbols": list.iter().map(|i| i.symbol.clone()).collect::<Vec<_>>(),
                    "history_days": history.len(),
                }),
                price_features: spec.compute(history, &panel.market, as_of).values,
                median_traded_value: median_traded_value(history, config.vol_window),
                news_recent: recent.get(&issuer_id).copied().unwrap_or(0),
                news_baseline: baseline.get(&issuer_id).copied().unwrap_or(0),
                fundamentals: fundamentals
                    .remove(&prometheus::domain::IssuerId::new(&issuer_id))
                    .unwrap_or_default(),
            };
            let p = build(config, &inputs);
            rows.push(ProfileRecord {
                issuer_id,
                as_of_date: as_of,
                market_id: market.to_string(),
                body: p.body,
                risk_flags: p.flags,
                run_id: ctx.run.run_id.clone(),
                config_id: cfg.config_id.clone(),
            });
        }
        ctx.stores.runtime.write_profiles(&rows).await?;
        let flagged = rows
            .iter()
            .filter(|r| r.risk_flags.values().any(|f| *f >= 0.5))
            .count();
        Ok(JobOutput {
            rows: rows.len() as u64,
            summary: format!(
                "{} issuer profiles ({flagged} with a flag ≥ 0.5)",
                rows.len()
            ),
            emit: Some(super::encoder_output(
                ctx,
                Self::NAME_STR,
                &cfg.config_id,
                None,
                rows.len(),
            )),
        })
    }

    fn receive(&self, _input: DerivedUpdated) {
        // Profiles read the store; the message only says the day's data is in.
    }

    fn reset(&self) {}
}

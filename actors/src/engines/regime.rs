//! The regime engine's job: the market's regime on the run's date, from the market factor
//! and its second moment up to that date, with the model fitted at the date's refit anchor
//! (fitted once per anchor, stored content-addressed in `encoder_models` under the config's
//! fit id — shared by configs that differ only in decoding — then reused).

use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::derived::FactorMembership;
use prometheus::domain::{EncoderOutput, RegimeState, date_floor};
use prometheus::engines::regime::{
    MarketFeatures, MarketSeries, RegimeConfig, RegimeError, RegimeLabel, RegimeModel,
};
use prometheus::store::{EmbeddingStore, Stamp, StoredModel, TransitionRow, WorldStateStore};
use std::collections::BTreeMap;

/// Market regimes.
#[derive(Default)]
pub struct RegimeJob;

impl RegimeJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "regime";
}

/// What the regime computation of one date found.
enum RegimeFit {
    /// Too little history for the anchor's first fit.
    NotYet {
        /// Feature days by the anchor.
        have: usize,
        /// Feature days the fit needs.
        need: usize,
    },
    /// The date's filtered regime under the anchor's model.
    Labelled {
        /// The anchor's model (fitted now or read from the store).
        model: Box<RegimeModel>,
        /// The filtered days (the run's date among them) and the label chain.
        decoded: prometheus::engines::regime::Decoded,
    },
}

#[async_trait]
impl Job for RegimeJob {
    type Config = RegimeConfig;
    type Input = EncoderOutput;
    type Output = RegimeState;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<RegimeConfig>,
    ) -> Result<JobOutput<RegimeState>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let db = &ctx.stores.historical;
        let mkt = ctx
            .panels
            .factor(
                db,
                market,
                &FactorMembership::market_factor(market.as_str()),
                date_floor(),
                as_of,
            )
            .await?;
        let xs2: BTreeMap<_, _> = ctx
            .panels
            .factor(
                db,
                market,
                &FactorMembership::second_moment_factor(market.as_str()),
                date_floor(),
                as_of,
            )
            .await?
            .into_iter()
            .map(|f| (f.trade_date, (f.value, f.members)))
            .collect();
        let mut series = MarketSeries::default();
        for f in &mkt {
            let (m2, n) = xs2.get(&f.trade_date).copied().unwrap_or((f64::NAN, 0));
            series.dates.push(f.trade_date);
            series.market.push(f.value);
            series.second_moment.push(m2);
            series.members.push(n);
        }
        let config = &cfg.config;
        let anchor = config.refit.anchor(as_of);
        // The anchor's model is fitted once and reused from the store by later sessions —
        // and by every config that differs only in how it decodes the fit.
        let fit_id = config.fit_id();
        let stored = db.encoder_model(Self::NAME_STR, &fit_id, anchor).await?;
        let stored: Option<RegimeModel> = stored
            .map(|m| {
                serde_json::from_str(&m.body).map_err(|e| {
                    JobError::permanent(RegimeError::BadModel(format!("{}: {e}", m.model_id)))
                })
            })
            .transpose()?;
        let fitted_here = stored.is_none();
        let c = config.clone();
        let outcome = ctx
            .compute("regime", move || -> Result<RegimeFit, RegimeError> {
                let features = MarketFeatures::compute(&series, c.cross_section_min_members);
                let model = match stored {
                    Some(m) => m,
                    None => match c.fit(&features, anchor) {
                        Ok(m) => m,
                        Err(RegimeError::NotEnoughData { have, need, .. }) => {
                            return Ok(RegimeFit::NotYet { have, need });
                        }
                        Err(e) => return Err(e),
                    },
                };
                let decoded = model.decode(&features, as_of, as_of, &c)?;
                Ok(RegimeFit::Labelled {
                    model: Box::new(model),
                    decoded,
                })
            })
            .await?
            .map_err(JobError::permanent)?;
        let (model, decoded) = match outcome {
            RegimeFit::NotYet { have, need } => {
                return Ok(JobOutput {
                    rows: 0,
                    summary: format!(
                        "no regime yet: {have} feature days by {anchor}, the first fit needs {need}"
                    ),
                    emit: None,
                });
            }
            RegimeFit::Labelled { model, decoded } => (*model, decoded),
        };
        if fitted_here {
            db.save_encoder_model(&StoredModel {
                model_id: model.model_id.clone(),
                encoder: Self::NAME_STR.to_owned(),
                config_id: fit_id,
                fitted_as_of: anchor,
                body: serde_json::to_string(&model).map_err(JobError::permanent)?,
                run_id: ctx.run.run_id.clone(),
            })
            .await?;
        }
        let counts = decoded.label_transitions;
        let Some(day) = decoded.days.into_iter().find(|d| d.date == as_of) else {
            return Err(JobError::permanent(format!(
                "no market features on {as_of} for {market}: is it a session with derived factors?"
            )));
        };
        let mut transitions = Vec::new();
        for from in RegimeLabel::ALL {
            let row = counts[from.index()];
            let total: u64 = row.iter().sum();
            for to in RegimeLabel::ALL {
                let n = row[to.index()];
                if total > 0 && n > 0 {
                    transitions.push(TransitionRow {
                        from,
                        to,
                        transitions: n,
                        probability: n as f64 / total as f64,
                    });
                }
            }
        }
        let stamp = Stamp {
            market_id: market.to_string(),
            as_of,
            run_id: ctx.run.run_id.clone(),
            config_id: cfg.config_id.clone(),
        };
        ctx.stores
            .runtime
            .write_regime(&stamp, &day, &transitions)
            .await?;
        Ok(JobOutput {
            rows: 1 + transitions.len() as u64,
            summary: format!(
                "{} (p {:.2}, {} days, change risk {:.2}) from {}",
                day.label,
                day.probabilities[day.label.index()],
                day.days_in_regime,
                day.change_risk,
                model.model_id
            ),
            emit: Some(RegimeState {
                run_id: ctx.run.run_id.clone(),
                market: market.clone(),
                as_of,
                config_id: cfg.config_id.clone(),
                label: day.label.as_str().to_owned(),
                change_risk: day.change_risk,
                model_id: model.model_id,
            }),
        })
    }

    fn receive(&self, _input: EncoderOutput) {
        // The regime reads the market factors from the store.
    }

    fn reset(&self) {}
}

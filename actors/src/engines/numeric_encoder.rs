//! The numeric encoder's job: embed every instrument of the market on the run's date with
//! the PCA of the date's refit anchor, fitting (and storing) that model the first time it
//! is needed.

use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::{DerivedUpdated, EncoderOutput};
use prometheus::encoders::EncoderError;
use prometheus::encoders::numeric::{NumericEncoderConfig, PcaModel, encode_date, fit_at};
use prometheus::store::{EmbeddingStore, EntityVector, StoredModel};

/// Numeric window embeddings.
#[derive(Default)]
pub struct NumericEncoderJob;

impl NumericEncoderJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "numeric_encoder";
}

#[async_trait]
impl Job for NumericEncoderJob {
    type Config = NumericEncoderConfig;
    type Input = DerivedUpdated;
    type Output = EncoderOutput;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<NumericEncoderConfig>,
    ) -> Result<JobOutput<EncoderOutput>, JobError> {
        let as_of = ctx.run.as_of;
        let db = &ctx.stores.historical;
        let config = cfg.config.clone();
        let (_, panel) = ctx.panel(as_of, config.history_days()).await?;
        let anchor = config.refit.anchor(as_of);
        let stored = db
            .encoder_model(Self::NAME_STR, &cfg.config_id, anchor)
            .await?;
        let (model, fitted) = match stored {
            Some(m) => (
                PcaModel::from_json(&m.body).map_err(JobError::permanent)?,
                false,
            ),
            None => {
                let (c, p) = (config.clone(), panel.clone());
                let fit = ctx
                    .compute("PCA fit", move || fit_at(&c, &p, anchor))
                    .await?;
                match fit {
                    Ok(m) => (m, true),
                    Err(EncoderError::NotEnoughData(why)) => {
                        // Early in a market's history: nothing to embed yet, not a failure.
                        return Ok(JobOutput {
                            rows: 0,
                            summary: format!("no embeddings: no PCA at {anchor}: {why}"),
                            emit: None,
                        });
                    }
                    Err(e) => return Err(JobError::permanent(e)),
                }
            }
        };
        let model_id = model.model_id();
        if fitted {
            db.save_encoder_model(&StoredModel {
                model_id: model_id.clone(),
                encoder: Self::NAME_STR.into(),
                config_id: cfg.config_id.clone(),
                fitted_as_of: anchor,
                body: model.to_json(),
                run_id: ctx.run.run_id.clone(),
            })
            .await?;
        }
        let (c, m) = (config.clone(), model.clone());
        let vectors = ctx
            .compute("numeric encoding", move || {
                encode_date(&c, &panel, &m, as_of)
            })
            .await?;
        let rows: Vec<EntityVector> = vectors
            .into_iter()
            .map(|(entity_id, vector)| EntityVector {
                entity_id,
                as_of_date: as_of,
                model_id: model_id.clone(),
                vector,
                run_id: ctx.run.run_id.clone(),
                config_id: cfg.config_id.clone(),
            })
            .collect();
        db.write_numeric_embeddings(&rows).await?;
        Ok(JobOutput {
            rows: rows.len() as u64,
            summary: format!(
                "{} instruments embedded ({} dims) with {model_id} (fitted at {anchor}{}; {:.0}% variance)",
                rows.len(),
                config.dim,
                if fitted { ", new" } else { "" },
                100.0 * model.explained_variance_ratio.iter().sum::<f64>()
            ),
            emit: Some(super::encoder_output(
                ctx,
                Self::NAME_STR,
                &cfg.config_id,
                Some(model_id),
                rows.len(),
            )),
        })
    }

    fn receive(&self, _input: DerivedUpdated) {
        // The derived series are read from the store.
    }

    fn reset(&self) {}
}

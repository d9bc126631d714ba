//! The joint encoder's job: for the run's market and date, combine each instrument's
//! numeric embedding, its issuer's recent news vector and its issuer's profile flags into
//! the configured joint spaces, and the market's mean vectors into `regime_context`.
//!
//! It reads what the upstream encoders wrote under their configs: the configs named by the
//! upstream messages when they arrived, else the engines' active configs in the store.

use crate::engines::inbox::Inbox;
use crate::job_actor::{Job, JobContext, JobOutput};
use async_trait::async_trait;
use chrono::Days;
use prometheus::config::VersionedConfig;
use prometheus::domain::{ConfigId, EncoderOutput};
use prometheus::encoders::MINILM_DIM;
use prometheus::encoders::joint::{Branch, JointEncoderConfig, combine, mean_vector, model_id};
use prometheus::encoders::numeric::NumericEncoderConfig;
use prometheus::profiles::{FLAGS, flag_vector};
use prometheus::store::{
    ConfigStore, EmbeddingStore, EntityVector, JointVector, ProfileStore, ReferenceStore,
};
use std::collections::BTreeMap;

/// Joint embeddings.
#[derive(Default)]
pub struct JointEncoderJob {
    upstream: Inbox<EncoderOutput>,
}

impl JointEncoderJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "joint_encoder";
}

/// The config an upstream engine wrote under: from its message, else the active one.
async fn upstream_config(
    ctx: &JobContext,
    messages: &[EncoderOutput],
    engine: &str,
) -> Result<Option<(ConfigId, String)>, String> {
    if let Some(m) = messages.iter().rev().find(|m| m.engine == engine) {
        let body = ctx
            .stores
            .runtime
            .config_versions(engine)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .find(|c| c.config_id == m.config_id)
            .map(|c| c.body)
            .unwrap_or_default();
        return Ok(Some((m.config_id.clone(), body)));
    }
    Ok(ctx
        .stores
        .runtime
        .active_config(engine)
        .await
        .map_err(|e| e.to_string())?
        .map(|c| (c.config_id, c.body)))
}

#[async_trait]
impl Job for JointEncoderJob {
    type Config = JointEncoderConfig;
    type Input = EncoderOutput;
    type Output = EncoderOutput;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<JointEncoderConfig>,
    ) -> Result<JobOutput<EncoderOutput>, String> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let db = &ctx.stores.historical;
        let messages = self.upstream.take(market, as_of);
        let numeric_cfg = upstream_config(ctx, &messages, "numeric_encoder").await?;
        let text_cfg = upstream_config(ctx, &messages, "text_encoder").await?;
        let profiles_cfg = upstream_config(ctx, &messages, "profiles").await?;

        let (numeric, numeric_dim) = match &numeric_cfg {
            Some((id, body)) => {
                let dim = serde_json::from_str::<NumericEncoderConfig>(body)
                    .map(|c| c.dim)
                    .unwrap_or_else(|_| NumericEncoderConfig::default().dim);
                let rows = db
                    .numeric_embeddings(as_of, id)
                    .await
                    .map_err(|e| e.to_string())?;
                (rows, dim)
            }
            None => (Vec::new(), NumericEncoderConfig::default().dim),
        };
        // Issuer news over the lookback, weighted by article count, re-normalised.
        let mut text: BTreeMap<String, (u32, Vec<f64>)> = BTreeMap::new();
        let mut text_model = String::from("no-text");
        if let Some((id, _)) = &text_cfg {
            let from = as_of
                .checked_sub_days(Days::new(u64::from(cfg.config.text_lookback_days)))
                .unwrap_or(as_of);
            for r in db
                .issuer_text(id, from, as_of)
                .await
                .map_err(|e| e.to_string())?
            {
                text_model.clone_from(&r.vector.model_id);
                let e = text
                    .entry(r.vector.entity_id.clone())
                    .or_insert_with(|| (0, vec![0.0; r.vector.vector.len()]));
                if e.1.len() == r.vector.vector.len() {
                    e.0 += r.articles;
                    let w = f64::from(r.articles);
                    e.1.iter_mut()
                        .zip(&r.vector.vector)
                        .for_each(|(s, x)| *s += w * f64::from(*x));
                }
            }
        }
        let text: BTreeMap<String, Vec<f32>> = text
            .into_iter()
            .map(|(k, (_, v))| (k, v.iter().map(|x| *x as f32).collect()))
            .collect();
        let profiles: BTreeMap<String, Vec<f32>> = match &profiles_cfg {
            Some((id, _)) => ctx
                .stores
                .runtime
                .profiles(market.as_str(), as_of, id)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|p| (p.issuer_id, flag_vector(&p.risk_flags)))
                .collect(),
            None => BTreeMap::new(),
        };
        let issuer_of: BTreeMap<String, String> = db
            .instruments(Some(market))
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|i| {
                (
                    i.instrument_id.as_str().to_owned(),
                    i.issuer_id.as_str().to_owned(),
                )
            })
            .collect();
        let numeric_model = numeric
            .first()
            .map_or_else(|| "no-numeric".to_owned(), |r| r.model_id.clone());
        let profiles_id = profiles_cfg
            .as_ref()
            .map_or_else(|| "no-profiles".to_owned(), |(id, _)| id.to_string());
        let inputs = [
            numeric_model.as_str(),
            text_model.as_str(),
            profiles_id.as_str(),
        ];

        let row = |space: &str, model: &str, entity: String, vector: Vec<f32>| JointVector {
            joint_type: space.to_owned(),
            vector: EntityVector {
                entity_id: entity,
                as_of_date: as_of,
                model_id: model.to_owned(),
                vector,
                run_id: ctx.run.run_id.clone(),
                config_id: cfg.config_id.clone(),
            },
        };
        let mut rows = Vec::new();
        for (space, weights) in &cfg.config.spaces {
            let w = |b: &str| weights.get(b).copied().unwrap_or(0.0);
            let model = model_id(space, weights, &inputs);
            if space == "regime_context" {
                if numeric.is_empty() && text.is_empty() {
                    continue;
                }
                let n = mean_vector(numeric.iter().map(|r| r.vector.as_slice()), numeric_dim);
                let t = mean_vector(text.values().map(Vec::as_slice), MINILM_DIM);
                let v = combine(&[
                    Branch {
                        weight: w("numeric"),
                        dim: numeric_dim,
                        vector: n.as_deref(),
                    },
                    Branch {
                        weight: w("text"),
                        dim: MINILM_DIM,
                        vector: t.as_deref(),
                    },
                ]);
                rows.push(row(space, &model, market.to_string(), v));
                continue;
            }
            for r in &numeric {
                let issuer = issuer_of.get(&r.entity_id);
                let v = combine(&[
                    Branch {
                        weight: w("numeric"),
                        dim: numeric_dim,
                        vector: Some(&r.vector),
                    },
                    Branch {
                        weight: w("text"),
                        dim: MINILM_DIM,
                        vector: issuer.and_then(|i| text.get(i)).map(Vec::as_slice),
                    },
                    Branch {
                        weight: w("profile"),
                        dim: FLAGS.len(),
                        vector: issuer.and_then(|i| profiles.get(i)).map(Vec::as_slice),
                    },
                ]);
                rows.push(row(space, &model, r.entity_id.clone(), v));
            }
        }
        db.write_joint(&rows).await.map_err(|e| e.to_string())?;
        Ok(JobOutput {
            summary: format!(
                "{} joint vectors in {} spaces from {} numeric, {} issuer news, {} profiles",
                rows.len(),
                cfg.config.spaces.len(),
                numeric.len(),
                text.len(),
                profiles.len()
            ),
            emit: Some(EncoderOutput {
                run_id: ctx.run.run_id.clone(),
                engine: Self::NAME_STR.into(),
                market: market.clone(),
                as_of,
                config_id: cfg.config_id.clone(),
                model_id: None,
                entities: rows.len(),
            }),
        })
    }

    fn receive(&self, input: EncoderOutput) {
        self.upstream.put(input.market.clone(), input.as_of, input);
    }

    fn reset(&self) {
        self.upstream.clear();
    }
}

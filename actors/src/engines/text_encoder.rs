//! The text encoder's job: embed the news of the run's session window that this model has
//! not embedded yet, then write each issuer's mean vector for the session. The model is
//! loaded once per config (MiniLM takes a moment) and reloaded when the config changes.

use crate::engines::session_window::news_window;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use prometheus::config::VersionedConfig;
use prometheus::domain::{ConfigId, EncoderOutput, PanelUpdated};
use prometheus::encoders::news::{TextEncoderConfig, issuer_means};
use prometheus::encoders::{TextEncoder, TextModel};
use prometheus::store::{
    ArticleVector, EmbeddingStore, EntityVector, IssuerTextVector, NewsStore, ReferenceStore,
};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// News text embeddings.
#[derive(Default)]
pub struct TextEncoderJob {
    /// The loaded model and the config it was loaded for.
    encoder: Mutex<Option<(ConfigId, TextEncoder)>>,
}

impl TextEncoderJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "text_encoder";

    /// The cached encoder for `cfg`, loading it when absent or loaded for another config.
    fn checkout(&self, cfg: &VersionedConfig<TextEncoderConfig>) -> Result<TextEncoder, JobError> {
        let cached = self
            .encoder
            .lock()
            .map_err(|_| JobError::transient("encoder cache poisoned"))?
            .take();
        match cached {
            Some((id, enc)) if id == cfg.config_id => Ok(enc),
            _ => TextEncoder::load(cfg.config.model, cfg.config.minilm())
                .map_err(JobError::permanent),
        }
    }

    fn checkin(&self, config_id: ConfigId, encoder: TextEncoder) {
        if let Ok(mut slot) = self.encoder.lock() {
            *slot = Some((config_id, encoder));
        }
    }
}

#[async_trait]
impl Job for TextEncoderJob {
    type Config = TextEncoderConfig;
    type Input = PanelUpdated;
    type Output = EncoderOutput;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<TextEncoderConfig>,
    ) -> Result<JobOutput<EncoderOutput>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let db = &ctx.stores.historical;
        let (after, until) = news_window(ctx, 1)?;
        let issuers: BTreeSet<String> = db
            .instruments(Some(market))
            .await?
            .into_iter()
            .map(|i| i.issuer_id.as_str().to_owned())
            .collect();
        let news: Vec<_> = db
            .news(None, after, until)
            .await?
            .into_iter()
            .filter(|n| n.article.published_at > after)
            .filter(|n| n.issuers.iter().any(|i| issuers.contains(i.as_str())))
            .collect();
        let mut encoder = self.checkout(cfg)?;
        let model_id = encoder.model_id();
        let ids: Vec<String> = news.iter().map(|n| n.article.article_id.clone()).collect();
        let mut vectors = db.article_vectors(&model_id, &ids).await?;
        let todo: Vec<(String, String)> = news
            .iter()
            .filter(|n| !vectors.contains_key(&n.article.article_id))
            .map(|n| {
                (
                    n.article.article_id.clone(),
                    cfg.config
                        .article_text(&n.article.headline, &n.article.body),
                )
            })
            .collect();
        let texts: Vec<String> = todo.iter().map(|(_, t)| t.clone()).collect();
        let (encoder, encoded) = ctx
            .compute("text encoding", move || {
                let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                let out = encoder.encode_batch(&refs);
                (encoder, out)
            })
            .await?;
        self.checkin(cfg.config_id.clone(), encoder);
        let encoded = encoded.map_err(JobError::permanent)?;
        let fresh: Vec<ArticleVector> = todo
            .into_iter()
            .zip(encoded)
            .map(|((article_id, _), vector)| ArticleVector {
                article_id,
                model_id: model_id.clone(),
                vector,
                run_id: ctx.run.run_id.clone(),
                config_id: cfg.config_id.clone(),
            })
            .collect();
        db.write_article_vectors(&fresh).await?;
        for a in &fresh {
            vectors.insert(a.article_id.clone(), a.vector.clone());
        }
        let pairs: Vec<(&str, &[f32])> = news
            .iter()
            .flat_map(|n| {
                let v = vectors.get(&n.article.article_id);
                n.issuers
                    .iter()
                    .filter(|i| issuers.contains(i.as_str()))
                    .filter_map(move |i| v.map(|v| (i.as_str(), v.as_slice())))
            })
            .collect();
        let rows: Vec<IssuerTextVector> = issuer_means(pairs)
            .into_iter()
            .map(|(issuer, (articles, vector))| IssuerTextVector {
                articles,
                vector: EntityVector {
                    entity_id: issuer,
                    as_of_date: as_of,
                    model_id: model_id.clone(),
                    vector,
                    run_id: ctx.run.run_id.clone(),
                    config_id: cfg.config_id.clone(),
                },
            })
            .collect();
        db.write_issuer_text(&rows).await?;
        let model_name = match cfg.config.model {
            TextModel::Hashing => "hashing",
            TextModel::Minilm => "minilm",
        };
        Ok(JobOutput {
            rows: rows.len() as u64,
            summary: format!(
                "{} articles in the session window ({} newly embedded with {model_name} {model_id}), {} issuers",
                news.len(),
                fresh.len(),
                rows.len()
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

    fn receive(&self, _input: PanelUpdated) {
        // The store holds the news; the message only says new news may be there, which
        // every run checks anyway.
    }

    fn reset(&self) {
        if let Ok(mut slot) = self.encoder.lock() {
            *slot = None;
        }
    }
}

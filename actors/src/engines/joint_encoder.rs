//! The joint encoder's job: for the run's market and date, combine each instrument's
//! numeric embedding, its issuer's recent news vector and its issuer's profile flags into
//! the configured joint spaces, and the market's mean vectors into `regime_context`.
//!
//! It reads what the upstream encoders wrote under their configs: the configs the durable
//! run record says their jobs succeeded with (never a message a restart can lose), else —
//! for a date that never ran through the orchestrator — the engines' active configs.
//! Spaces listed under `[pls]` also get a `<space>:pls` version: the space projected by a
//! PLS fitted point-in-time on realised forward returns (see `prometheus::encoders::pls`).

use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use prometheus::config::VersionedConfig;
use prometheus::domain::{ConfigId, EncoderOutput};
use prometheus::encoders::joint::{Branch, JointEncoderConfig, combine, mean_vector, model_id};
use prometheus::encoders::numeric::{NumericEncoderConfig, Refit};
use prometheus::encoders::pls::{PlsConfig, PlsProjection, fit_pls};
use prometheus::encoders::{EncoderError, MINILM_DIM};
use prometheus::profiles::{FLAGS, flag_vector};
use prometheus::store::{
    ConfigStore, EmbeddingStore, EntityVector, JointVector, ProfileStore, ReferenceStore,
    StoredModel,
};
use std::collections::BTreeMap;

/// Joint embeddings.
#[derive(Default)]
pub struct JointEncoderJob;

impl JointEncoderJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "joint_encoder";
}

/// The config an upstream engine wrote its rows of the date under, with its body: the
/// one the durable run record says its job succeeded with (this run's profiles job, the
/// `features` run's encoders), else — the date never ran through the orchestrator — the
/// engine's active one.
async fn upstream_config(
    ctx: &JobContext,
    engine: &str,
) -> Result<Option<(ConfigId, String)>, JobError> {
    let runtime = &ctx.stores.runtime;
    let stored = match ctx.upstream_config(engine).await? {
        Some(id) => runtime.config(&id).await?,
        None => runtime.active_config(engine).await?,
    };
    Ok(stored.map(|c| (c.config_id, c.body)))
}

/// The upstream configs a run reads under, and the numeric width.
struct Upstream {
    numeric: Option<ConfigId>,
    numeric_dim: usize,
    text: Option<ConfigId>,
    profiles: Option<ConfigId>,
}

/// Everything the spaces of one date are built from.
struct DayInputs {
    numeric: Vec<EntityVector>,
    text: BTreeMap<String, Vec<f32>>,
    text_model: String,
    profiles: BTreeMap<String, Vec<f32>>,
}

async fn upstream(ctx: &JobContext) -> Result<Upstream, JobError> {
    let numeric = upstream_config(ctx, "numeric_encoder").await?;
    let numeric_dim = numeric
        .as_ref()
        .and_then(|(_, body)| serde_json::from_str::<NumericEncoderConfig>(body).ok())
        .map_or_else(|| NumericEncoderConfig::default().dim, |c| c.dim);
    Ok(Upstream {
        numeric: numeric.map(|(id, _)| id),
        numeric_dim,
        text: upstream_config(ctx, "text_encoder")
            .await?
            .map(|(id, _)| id),
        profiles: upstream_config(ctx, "profiles").await?.map(|(id, _)| id),
    })
}

/// Reads the inputs of `date`: its numeric embeddings, the issuers' news over the lookback
/// (weighted by article count, re-normalised when combined) and the issuers' profile flags.
async fn load_day(
    ctx: &JobContext,
    up: &Upstream,
    cfg: &JointEncoderConfig,
    date: NaiveDate,
) -> Result<DayInputs, JobError> {
    let db = &ctx.stores.historical;
    let numeric = match &up.numeric {
        Some(id) => db.numeric_embeddings(date, id).await?,
        None => Vec::new(),
    };
    let mut sums: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut text_model = String::from("no-text");
    if let Some(id) = &up.text {
        let from = date
            .checked_sub_days(Days::new(u64::from(cfg.text_lookback_days)))
            .unwrap_or(date);
        for r in db.issuer_text(id, from, date).await? {
            text_model.clone_from(&r.vector.model_id);
            let e = sums
                .entry(r.vector.entity_id.clone())
                .or_insert_with(|| vec![0.0; r.vector.vector.len()]);
            if e.len() == r.vector.vector.len() {
                let w = f64::from(r.articles);
                e.iter_mut()
                    .zip(&r.vector.vector)
                    .for_each(|(s, x)| *s += w * f64::from(*x));
            }
        }
    }
    let text = sums
        .into_iter()
        .map(|(k, v)| (k, v.iter().map(|x| *x as f32).collect()))
        .collect();
    let profiles = match &up.profiles {
        Some(id) => ctx
            .stores
            .runtime
            .profiles(ctx.run.market.as_str(), date, id)
            .await?
            .into_iter()
            .map(|p| (p.issuer_id, flag_vector(&p.risk_flags)))
            .collect(),
        None => BTreeMap::new(),
    };
    Ok(DayInputs {
        numeric,
        text,
        text_model,
        profiles,
    })
}

/// The per-instrument vectors of one space, by instrument.
fn instrument_vectors(
    weights: &BTreeMap<String, f64>,
    numeric_dim: usize,
    day: &DayInputs,
    issuer_of: &BTreeMap<String, String>,
) -> Vec<(String, Vec<f32>)> {
    let w = |b: &str| weights.get(b).copied().unwrap_or(0.0);
    day.numeric
        .iter()
        .map(|r| {
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
                    vector: issuer.and_then(|i| day.text.get(i)).map(Vec::as_slice),
                },
                Branch {
                    weight: w("profile"),
                    dim: FLAGS.len(),
                    vector: issuer.and_then(|i| day.profiles.get(i)).map(Vec::as_slice),
                },
            ]);
            (r.entity_id.clone(), v)
        })
        .collect()
}

/// The market's `regime_context` vector: mean numeric embedding and mean issuer news.
fn market_vector(
    weights: &BTreeMap<String, f64>,
    numeric_dim: usize,
    day: &DayInputs,
) -> Option<Vec<f32>> {
    if day.numeric.is_empty() && day.text.is_empty() {
        return None;
    }
    let w = |b: &str| weights.get(b).copied().unwrap_or(0.0);
    let n = mean_vector(day.numeric.iter().map(|r| r.vector.as_slice()), numeric_dim);
    let t = mean_vector(day.text.values().map(Vec::as_slice), MINILM_DIM);
    Some(combine(&[
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
    ]))
}

impl JointEncoderJob {
    /// The PLS projection of `space` for the run's date: the stored one of its monthly
    /// anchor, else fitted now from the sample dates' vectors (rebuilt from the stored
    /// upstream outputs under the current weights) and their realised forward returns.
    async fn projection(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<JointEncoderConfig>,
        pls: &PlsConfig,
        up: &Upstream,
        space: &str,
        issuer_of: &BTreeMap<String, String>,
    ) -> Result<Result<(PlsProjection, bool), String>, JobError> {
        let db = &ctx.stores.historical;
        let anchor = Refit::Monthly.anchor(ctx.run.as_of);
        let encoder = format!("{}:pls:{space}", Self::NAME_STR);
        if let Some(m) = db.encoder_model(&encoder, &cfg.config_id, anchor).await? {
            return Ok(Ok((
                PlsProjection::from_json(&m.body).map_err(JobError::permanent)?,
                false,
            )));
        }
        let days = ((pls.horizon + pls.fit_dates * pls.fit_stride) as u64 * 7).div_ceil(5) + 20;
        let (_, panel) = ctx.panel(anchor, days).await?;
        let weights = &cfg.config.spaces[space];
        let mut rows = Vec::new();
        let mut targets = Vec::new();
        for (start, end) in pls.sample_dates(&panel.dates(), anchor) {
            let day = load_day(ctx, up, &cfg.config, start).await?;
            for (instrument, v) in instrument_vectors(weights, up.numeric_dim, &day, issuer_of) {
                let Some(series) = panel.instruments.get(&instrument) else {
                    continue;
                };
                let close = |d: NaiveDate| {
                    series
                        .binary_search_by_key(&d, |r| r.date)
                        .ok()
                        .map(|i| series[i].close)
                };
                if let (Some(a), Some(b)) = (close(start), close(end)) {
                    rows.push(v);
                    targets.push(b / a - 1.0);
                }
            }
        }
        let (components, min_rows) = (pls.components, pls.min_fit_rows);
        let fit = ctx
            .compute("PLS fit", move || {
                fit_pls(&rows, &targets, components, min_rows, anchor)
            })
            .await?;
        match fit {
            Ok(p) => {
                db.save_encoder_model(&StoredModel {
                    model_id: p.model_id(),
                    encoder,
                    config_id: cfg.config_id.clone(),
                    fitted_as_of: anchor,
                    body: p.to_json(),
                    run_id: ctx.run.run_id.clone(),
                })
                .await?;
                Ok(Ok((p, true)))
            }
            Err(EncoderError::NotEnoughData(why)) => {
                Ok(Err(format!("{space}:pls not fitted at {anchor}: {why}")))
            }
            Err(e) => Err(JobError::permanent(e)),
        }
    }
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
    ) -> Result<JobOutput<EncoderOutput>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let db = &ctx.stores.historical;
        let up = upstream(ctx).await?;
        let day = load_day(ctx, &up, &cfg.config, as_of).await?;
        let issuer_of: BTreeMap<String, String> = db
            .instruments(Some(market))
            .await?
            .into_iter()
            .map(|i| {
                (
                    i.instrument_id.as_str().to_owned(),
                    i.issuer_id.as_str().to_owned(),
                )
            })
            .collect();
        let numeric_model = day
            .numeric
            .first()
            .map_or_else(|| "no-numeric".to_owned(), |r| r.model_id.clone());
        let profiles_id = up
            .profiles
            .as_ref()
            .map_or_else(|| "no-profiles".to_owned(), ToString::to_string);
        let inputs = [
            numeric_model.as_str(),
            day.text_model.as_str(),
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
        let mut notes = Vec::new();
        for (space, weights) in &cfg.config.spaces {
            let model = model_id(space, weights, &inputs);
            if space == "regime_context" {
                if let Some(v) = market_vector(weights, up.numeric_dim, &day) {
                    rows.push(row(space, &model, market.to_string(), v));
                }
                continue;
            }
            let vectors = instrument_vectors(weights, up.numeric_dim, &day, &issuer_of);
            if let Some(pls) = cfg.config.pls.as_ref().filter(|p| p.spaces.contains(space)) {
                match self
                    .projection(ctx, cfg, pls, &up, space, &issuer_of)
                    .await?
                {
                    Ok((p, fitted)) => {
                        let id = p.model_id();
                        let name = format!("{space}:pls");
                        for (entity, v) in &vectors {
                            rows.push(row(&name, &id, entity.clone(), p.project(v)));
                        }
                        notes.push(format!(
                            "{name} {id}{}",
                            if fitted { " (fitted)" } else { "" }
                        ));
                    }
                    Err(note) => notes.push(note),
                }
            }
            rows.extend(vectors.into_iter().map(|(e, v)| row(space, &model, e, v)));
        }
        db.write_joint(&rows).await?;
        Ok(JobOutput {
            rows: rows.len() as u64,
            summary: format!(
                "{} joint vectors in {} spaces from {} numeric, {} issuer news, {} profiles{}",
                rows.len(),
                cfg.config.spaces.len(),
                day.numeric.len(),
                day.text.len(),
                day.profiles.len(),
                if notes.is_empty() {
                    String::new()
                } else {
                    format!("; {}", notes.join("; "))
                }
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

    fn receive(&self, _input: EncoderOutput) {
        // A claim check: the run record names the upstream configs the rows are read by.
    }

    fn reset(&self) {}
}

//! The assessment engine's job: every traded name's alpha families, expected return,
//! score, confidence and label on the run's date, with family weights fitted on the
//! strategy's own past scores whose horizon has ended, and the skill (IC, rank IC) of the
//! latest such forecast recorded.

use crate::engines::weakness::fundamental_weakness;
use crate::spine::job_actor::{Job, JobContext, JobOutput};
use crate::spine::job_error::JobError;
use async_trait::async_trait;
use chrono::{Days, NaiveDate};
use prometheus::config::VersionedConfig;
use prometheus::domain::{FragilityReport, InstrumentScores};
use prometheus::encoders::numeric::Panel;
use prometheus::engines::assessment::{AssessmentConfig, NameInputs, PastScore, skill};
use prometheus::features::load::calendar_days_for;
use prometheus::store::{AssessmentRun, DecisionStore, PastScoreRow, Stamp, WorldStateStore};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Stored past scores read so far, by (strategy, market, date): a memo of the store (rows
/// of a date change only when this actor re-runs that date, and it forgets the date then).
type ScoreMemo = BTreeMap<(String, String, NaiveDate), Arc<Vec<PastScoreRow>>>;

/// At most this many dates are remembered.
const MEMO_DATES: usize = 256;

/// Assessment.
#[derive(Default)]
pub struct AssessmentJob {
    memo: Mutex<ScoreMemo>,
}

impl AssessmentJob {
    /// The actor name as a constant usable in arrays.
    pub const NAME_STR: &'static str = "assessment";

    /// The stored scores of `strategy` on `dates`, from the memo where it has them.
    async fn past_scores(
        &self,
        ctx: &JobContext,
        strategy: &str,
        dates: &[NaiveDate],
    ) -> Result<Vec<PastScoreRow>, JobError> {
        let market = ctx.run.market.as_str();
        let key = |d: NaiveDate| (strategy.to_owned(), market.to_owned(), d);
        let missing: Vec<NaiveDate> = {
            let memo = self
                .memo
                .lock()
                .map_err(|_| JobError::transient("score memo poisoned"))?;
            dates
                .iter()
                .filter(|d| !memo.contains_key(&key(**d)))
                .copied()
                .collect()
        };
        let read = if missing.is_empty() {
            Vec::new()
        } else {
            ctx.stores
                .runtime
                .score_history(strategy, market, &missing)
                .await?
        };
        let mut memo = self
            .memo
            .lock()
            .map_err(|_| JobError::transient("score memo poisoned"))?;
        let mut by_date: BTreeMap<NaiveDate, Vec<PastScoreRow>> =
            missing.iter().map(|d| (*d, Vec::new())).collect();
        for r in read {
            by_date.entry(r.as_of).or_default().push(r);
        }
        for (d, rows) in by_date {
            memo.insert(key(d), Arc::new(rows));
        }
        let mut out = Vec::new();
        for d in dates {
            if let Some(rows) = memo.get(&key(*d)) {
                out.extend(rows.iter().cloned());
            }
        }
        while memo.len() > MEMO_DATES {
            let Some(oldest) = memo.keys().min_by_key(|k| k.2).cloned() else {
                break;
            };
            memo.remove(&oldest);
        }
        Ok(out)
    }

    /// Forgets a date this actor is about to rewrite.
    fn forget(&self, strategy: &str, market: &str, as_of: NaiveDate) {
        if let Ok(mut memo) = self.memo.lock() {
            memo.remove(&(strategy.to_owned(), market.to_owned(), as_of));
        }
    }
}

/// Past forecast dates to train on: every stored run date whose horizon has ended by the
/// last session and that lies inside the training window, thinned to one per horizon
/// (non-overlapping forward returns), newest first.
fn training_dates(
    cfg: &AssessmentConfig,
    run_dates: &[NaiveDate],
    index: &BTreeMap<NaiveDate, usize>,
    last: usize,
) -> Vec<NaiveDate> {
    let mut chosen: Vec<(NaiveDate, usize)> = Vec::new();
    for d in run_dates.iter().rev() {
        let Some(&i) = index.get(d) else { continue };
        if i + cfg.horizon_days > last || last - i > cfg.training_days {
            continue;
        }
        if chosen.last().is_none_or(|(_, j)| j - i >= cfg.horizon_days) {
            chosen.push((*d, i));
        }
    }
    chosen.into_iter().map(|(d, _)| d).collect()
}

#[async_trait]
impl Job for AssessmentJob {
    type Config = AssessmentConfig;
    type Input = FragilityReport;
    type Output = InstrumentScores;
    const NAME: &'static str = Self::NAME_STR;

    async fn run(
        &self,
        ctx: &JobContext,
        cfg: &VersionedConfig<AssessmentConfig>,
    ) -> Result<JobOutput<InstrumentScores>, JobError> {
        let (market, as_of) = (&ctx.run.market, ctx.run.as_of);
        let config = &cfg.config;
        let runtime = &ctx.stores.runtime;
        let sessions =
            (config.momentum_days + 1).max(config.training_days + config.horizon_days + 1);
        let (instruments, panel) = ctx.panel(as_of, calendar_days_for(sessions)).await?;
        let dates = panel.dates();
        let index: BTreeMap<NaiveDate, usize> =
            dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
        let ids: Vec<&String> = panel.instruments.keys().collect();
        let closes: Vec<Vec<f64>> = panel
            .instruments
            .values()
            .map(|rows| Panel::closes_on(rows, &dates))
            .collect();
        // The fragility of this date, under the config this run's fragility job wrote it
        // with (the durable run record says which) — only when fragility is part of this
        // run's DAG.
        let fragility_config = if ctx.run.runs("fragility") {
            ctx.upstream_config("fragility").await?
        } else {
            None
        };
        let fragility: BTreeMap<String, f64> = match &fragility_config {
            Some(c) => runtime
                .fragility(market.as_str(), as_of, c)
                .await?
                .into_iter()
                .map(|r| (r.instrument_id, r.fragility_score))
                .collect(),
            None => BTreeMap::new(),
        };
        let weakness = fundamental_weakness(ctx, &instruments).await?;
        let names: Vec<NameInputs> = panel
            .instruments
            .iter()
            .filter(|(_, rows)| {
                rows.last().map(|r| r.date) == Some(as_of) && rows.len() >= config.min_history_days
            })
            .map(|(id, rows)| NameInputs {
                id: id.clone(),
                closes: rows.iter().map(|r| r.close).collect(),
                weakness: weakness.get(id).copied(),
                fragility: fragility.get(id).copied(),
            })
            .collect();
        if names.is_empty() {
            return Err(JobError::permanent(format!(
                "no name of {market} traded on {as_of} with {} sessions of history; nothing to assess",
                config.min_history_days
            )));
        }
        // Training data: the strategy's own stored scores on past dates.
        let last = dates.len().saturating_sub(1);
        let yesterday = as_of.checked_sub_days(Days::new(1)).unwrap_or(as_of);
        let history = runtime
            .assessment_runs(&config.strategy_id, market.as_str(), dates[0], yesterday)
            .await?;
        let run_dates: Vec<NaiveDate> = history.iter().map(|r| r.as_of).collect();
        let chosen = training_dates(config, &run_dates, &index, last);
        let past_rows = self.past_scores(ctx, &config.strategy_id, &chosen).await?;
        let row_of: BTreeMap<&str, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i))
            .collect();
        let past: Vec<PastScore> = past_rows
            .iter()
            .filter_map(|p| {
                Some(PastScore {
                    date_index: *index.get(&p.as_of)?,
                    name_index: *row_of.get(p.instrument_id.as_str())?,
                    families: p.families,
                    prediction: p.prediction,
                })
            })
            .collect();
        let name_ids: Vec<String> = names.iter().map(|n| n.id.clone()).collect();
        let c = config.clone();
        let (families, fit, closes, past) = ctx
            .compute("assessment", move || {
                let families = c.families(&names);
                let fit = c.fit(&closes, &past);
                (families, fit, closes, past)
            })
            .await?;
        // The skill of the latest forecast whose horizon has ended.
        let evaluated = chosen.first().and_then(|d| {
            let i = index[d];
            let (pred, real): (Vec<f64>, Vec<f64>) = past
                .iter()
                .filter(|p| p.date_index == i)
                .filter_map(|p| {
                    let row = &closes[p.name_index];
                    let (a, b) = (row[i], row[i + config.horizon_days]);
                    (a.is_finite() && b.is_finite() && a > 0.0).then(|| (p.prediction, b / a - 1.0))
                })
                .unzip();
            skill(&pred, &real).map(|s| (*d, s))
        });
        let mut recent: BTreeMap<NaiveDate, f64> = history
            .iter()
            .filter_map(|r| r.skill.as_ref().map(|(d, s)| (*d, s.rank_ic)))
            .collect();
        if let Some((d, s)) = &evaluated {
            recent.insert(*d, s.rank_ic);
        }
        let recent: Vec<f64> = recent.values().rev().take(12).copied().collect();
        let rows = config.score(&name_ids, &families, &fit, &recent);
        let stamp = Stamp {
            market_id: market.to_string(),
            as_of,
            run_id: ctx.run.run_id.clone(),
            config_id: cfg.config_id.clone(),
        };
        let run = AssessmentRun {
            as_of,
            fit,
            skill: evaluated,
        };
        self.forget(&config.strategy_id, market.as_str(), as_of);
        runtime
            .write_scores(
                &stamp,
                &config.strategy_id,
                config.horizon_days,
                &rows,
                &run,
            )
            .await?;
        let buys = rows.iter().filter(|r| r.score >= config.mild).count();
        let sells = rows.iter().filter(|r| r.score <= -config.mild).count();
        Ok(JobOutput {
            rows: rows.len() as u64 + 1,
            summary: format!(
                "{} names: {buys} buy, {sells} sell; weights {:?} from {} samples{}",
                rows.len(),
                run.fit.weights.map(|w| (w * 1000.0).round() / 1000.0),
                run.fit.samples,
                run.skill
                    .as_ref()
                    .map(|(d, s)| format!(
                        "; forecast of {d}: IC {:.3}, rank IC {:.3}",
                        s.ic, s.rank_ic
                    ))
                    .unwrap_or_default()
            ),
            emit: Some(InstrumentScores {
                run_id: ctx.run.run_id.clone(),
                market: market.clone(),
                as_of,
                config_id: cfg.config_id.clone(),
                strategy_id: config.strategy_id.clone(),
                scored: rows.len(),
            }),
        })
    }

    fn receive(&self, _input: FragilityReport) {
        // A claim check: the run record names the fragility config the rows are read by.
    }

    fn reset(&self) {
        if let Ok(mut memo) = self.memo.lock() {
            memo.clear();
        }
    }
}

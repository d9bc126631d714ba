//! The decision engines' outputs in the runtime database: instrument scores and the
//! assessment's fitted weights and skill, universe members, target portfolios and their
//! risk reports. Each write replaces the rows of its (id, market, date, config) in one
//! transaction, so a re-run never duplicates rows; every read is bounded by a date.

use super::RuntimeDb;
use super::bulk::{BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::{on_pool, placeholders};
use super::statement::Statement;
use super::world_state::Stamp;
use super::writer::BeginBatch;
use crate::domain::ConfigId;
use crate::engines::assessment::{Families, FittedWeights, ForecastSkill, ScoreLabel, ScoreRow};
use crate::engines::portfolio::risk::RiskReport;
use crate::engines::universe::{Member, Tier};
use async_trait::async_trait;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// One assessment run's model and the skill it recorded.
#[derive(Clone, Debug, PartialEq)]
pub struct AssessmentRun {
    /// The date.
    pub as_of: NaiveDate,
    /// The fitted weights.
    pub fit: FittedWeights,
    /// The forecast date evaluated and its skill, when a horizon had ended.
    pub skill: Option<(NaiveDate, ForecastSkill)>,
}

/// A stored score used as training data.
#[derive(Clone, Debug, PartialEq)]
pub struct PastScoreRow {
    /// Its date.
    pub as_of: NaiveDate,
    /// The instrument.
    pub instrument_id: String,
    /// Family z-scores.
    pub families: Families,
    /// Prediction.
    pub prediction: f64,
}

/// A strategy's scores on one date.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredScores {
    /// The forecast horizon in sessions.
    pub horizon_days: usize,
    /// The assessment config that wrote them.
    pub config_id: ConfigId,
    /// By instrument.
    pub rows: Vec<ScoreRow>,
}

/// A stored target: its weights and risk report.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredTarget {
    /// The date.
    pub as_of: NaiveDate,
    /// Construction method.
    pub method: String,
    /// `(instrument, weight)` by instrument.
    pub weights: Vec<(String, f64)>,
    /// The config that built it.
    pub config_id: ConfigId,
}

/// Decision-engine storage.
#[async_trait]
pub trait DecisionStore {
    /// Replaces a strategy's scores on the date and records the run's model and skill.
    async fn write_scores(
        &self,
        s: &Stamp,
        strategy_id: &str,
        horizon_days: usize,
        rows: &[ScoreRow],
        run: &AssessmentRun,
    ) -> Result<(), StoreError>;
    /// The strategy's scores on the date: under `config_id`, or under the first config
    /// (by id) that scored that date; `None` when there are none.
    async fn scores(
        &self,
        strategy_id: &str,
        market: &str,
        as_of: NaiveDate,
        config_id: Option<&ConfigId>,
    ) -> Result<Option<StoredScores>, StoreError>;
    /// The strategy's stored scores on `dates` (one config per date: the first by id),
    /// oldest first.
    async fn score_history(
        &self,
        strategy_id: &str,
        market: &str,
        dates: &[NaiveDate],
    ) -> Result<Vec<PastScoreRow>, StoreError>;
    /// The strategy's assessment runs dated in `[from, through]`, oldest first.
    async fn assessment_runs(
        &self,
        strategy_id: &str,
        market: &str,
        from: NaiveDate,
        through: NaiveDate,
    ) -> Result<Vec<AssessmentRun>, StoreError>;
    /// Replaces a universe's members on the date.
    async fn write_universe(
        &self,
        s: &Stamp,
        universe_id: &str,
        members: &[Member],
    ) -> Result<(), StoreError>;
    /// A universe's members on the date (under `config_id`, or the first config by id).
    async fn universe(
        &self,
        universe_id: &str,
        market: &str,
        as_of: NaiveDate,
        config_id: Option<&ConfigId>,
    ) -> Result<Vec<Member>, StoreError>;
    /// Replaces a portfolio's target and risk report on the date.
    async fn write_target(
        &self,
        s: &Stamp,
        portfolio_id: &str,
        method: &str,
        weights: &[(String, f64)],
        report: &RiskReport,
    ) -> Result<(), StoreError>;
    /// The portfolio's latest target under `config_id` dated on or before `through`.
    async fn latest_target(
        &self,
        portfolio_id: &str,
        market: &str,
        config_id: &ConfigId,
        through: NaiveDate,
    ) -> Result<Option<StoredTarget>, StoreError>;
    /// Every target of the portfolio under `config_id` dated in `[from, through]`.
    async fn targets(
        &self,
        portfolio_id: &str,
        market: &str,
        config_id: &ConfigId,
        from: NaiveDate,
        through: NaiveDate,
    ) -> Result<Vec<StoredTarget>, StoreError>;
    /// The risk report of the portfolio's target on the date.
    async fn risk_report(
        &self,
        portfolio_id: &str,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Option<RiskReport>, StoreError>;
    /// Every risk report of the portfolio under `config_id` dated in `[from, through]`.
    async fn risk_reports(
        &self,
        portfolio_id: &str,
        market: &str,
        config_id: &ConfigId,
        from: NaiveDate,
        through: NaiveDate,
    ) -> Result<Vec<(NaiveDate, RiskReport)>, StoreError>;
}

const TARGET_PORTFOLIOS: TableSpec = TableSpec {
    name: "target_portfolios",
    columns: &[
        "portfolio_id",
        "as_of_date",
        "instrument_id",
        "config_id",
        "market_id",
        "run_id",
        "weight",
        "method",
    ],
    key: &["portfolio_id", "as_of_date", "instrument_id", "config_id"],
};

const INSTRUMENT_SCORES: TableSpec = TableSpec {
    name: "instrument_scores",
    columns: &[
        "strategy_id",
        "instrument_id",
        "as_of_date",
        "horizon_days",
        "config_id",
        "market_id",
        "run_id",
        "expected_return",
        "score",
        "confidence",
        "label",
        "prediction",
        "momentum",
        "reversal",
        "low_vol",
        "quality",
        "fragility",
    ],
    key: &[
        "strategy_id",
        "as_of_date",
        "config_id",
        "instrument_id",
        "horizon_days",
    ],
};

const UNIVERSE_MEMBERS: TableSpec = TableSpec {
    name: "universe_members",
    columns: &[
        "universe_id",
        "as_of_date",
        "instrument_id",
        "config_id",
        "market_id",
        "run_id",
        "included",
        "tier",
        "score",
        "sector",
        "reasons",
    ],
    key: &["universe_id", "as_of_date", "instrument_id", "config_id"],
};

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

fn to_i64(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// The config to read: the one asked for, else the first (by id) stored for the day.
async fn day_config(
    db: &RuntimeDb,
    sql: &'static str,
    id: &str,
    market: &str,
    as_of: NaiveDate,
    config_id: Option<&ConfigId>,
) -> Result<Option<String>, StoreError> {
    if let Some(c) = config_id {
        return Ok(Some(c.as_str().to_owned()));
    }
    let row: Option<(String,)> = db
        .reads()
        .query_as(sql)
        .bind(id)
        .bind(market)
        .bind(as_of)
        .fetch_optional()
        .await
        .map_err(StoreError::query("read day config"))?;
    Ok(row.map(|(c,)| c))
}

type ScoreTuple = (
    String,
    f64,
    f64,
    f64,
    String,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    i64,
);

fn score_row(t: ScoreTuple) -> Result<ScoreRow, StoreError> {
    let (id, er, score, confidence, label, prediction, m, r, v, q, f, _) = t;
    Ok(ScoreRow {
        label: ScoreLabel::parse(&label)
            .ok_or_else(|| corrupt("instrument score", format!("{id}: label {label:?}")))?,
        instrument_id: id,
        families: [m, r, v, q, f],
        prediction,
        expected_return: er,
        score,
        confidence,
    })
}

fn tier(s: &str) -> Result<Tier, StoreError> {
    match s {
        "CORE" => Ok(Tier::Core),
        "SATELLITE" => Ok(Tier::Satellite),
        "EXCLUDED" => Ok(Tier::Excluded),
        other => Err(corrupt("universe member", format!("tier {other:?}"))),
    }
}

#[async_trait]
impl DecisionStore for RuntimeDb {
    async fn write_scores(
        &self,
        s: &Stamp,
        strategy_id: &str,
        horizon_days: usize,
        rows: &[ScoreRow],
        run: &AssessmentRun,
    ) -> Result<(), StoreError> {
        let weights = serde_json::to_string(&run.fit.weights)
            .map_err(|e| StoreError::Rejected(format!("weights do not serialise: {e}")))?;
        let what = "write scores";
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.run(Statement::new("DELETE FROM instrument_scores WHERE strategy_id = $1 AND market_id = $2 AND as_of_date = $3 AND config_id = $4")
                .bind(strategy_id).bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str())).await.map_err(StoreError::query(what))?;
            let horizon = to_i64(horizon_days);
            let cells: Vec<_> = rows
                .iter()
                .map(|r| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(strategy_id);
                        k.text(&r.instrument_id);
                        k.date(s.as_of);
                        k.int(horizon);
                        k.text(s.config_id.as_str());
                        k.text(&s.market_id);
                        k.text(s.run_id.as_str());
                        k.real(Some(r.expected_return));
                        k.real(Some(r.score));
                        k.real(Some(r.confidence));
                        k.text(r.label.as_str());
                        k.real(Some(r.prediction));
                        for f in r.families {
                            k.real(f);
                        }
                    })
                })
                .collect();
            tx.write_rows(&INSTRUMENT_SCORES, &cells, WriteMode::Insert, &BulkTuning::default()).await?;
            let (fd, ic, ric, names) = match &run.skill {
                Some((d, k)) => (Some(*d), Some(k.ic), Some(k.rank_ic), Some(to_i64(k.names))),
                None => (None, None, None, None),
            };
            tx.run(Statement::new("INSERT INTO assessment_runs (strategy_id, market_id, as_of_date, config_id, run_id, samples, dates, weights, \
                 dispersion, forecast_date, ic, rank_ic, ic_names) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                 ON CONFLICT (strategy_id, market_id, as_of_date, config_id) DO UPDATE SET run_id = excluded.run_id, \
                 samples = excluded.samples, dates = excluded.dates, weights = excluded.weights, dispersion = excluded.dispersion, \
                 forecast_date = excluded.forecast_date, ic = excluded.ic, rank_ic = excluded.rank_ic, ic_names = excluded.ic_names")
                .bind(strategy_id).bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str()).bind(s.run_id.as_str())
                .bind(to_i64(run.fit.samples)).bind(to_i64(run.fit.dates)).bind(&weights).bind(run.fit.dispersion)
                .bind(fd).bind(ic).bind(ric).bind(names)).await.map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }

    async fn scores(
        &self,
        strategy_id: &str,
        market: &str,
        as_of: NaiveDate,
        config_id: Option<&ConfigId>,
    ) -> Result<Option<StoredScores>, StoreError> {
        let Some(config) = day_config(
            self,
            "SELECT config_id FROM instrument_scores WHERE strategy_id = $1 AND market_id = $2 AND as_of_date = $3 ORDER BY config_id LIMIT 1",
            strategy_id,
            market,
            as_of,
            config_id,
        )
        .await?
        else {
            return Ok(None);
        };
        const SQL: &str = "SELECT instrument_id, expected_return, score, confidence, label, prediction, \
             momentum, reversal, low_vol, quality, fragility, horizon_days FROM instrument_scores \
             WHERE strategy_id = $1 AND market_id = $2 AND as_of_date = $3 AND config_id = $4";
        // Sorted here, not by the query: with `ORDER BY instrument_id` SQLite walks the
        // primary key (strategy, instrument, …) to skip the sort, reading every score the
        // strategy ever stored (45 ms a day in a 20-year backtest) instead of the day's.
        let mut rows: Vec<ScoreTuple> = self
            .reads()
            .query_as(SQL)
            .bind(strategy_id)
            .bind(market)
            .bind(as_of)
            .bind(&config)
            .fetch_all()
            .await
            .map_err(StoreError::query("read scores"))?;
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        let Some(horizon) = rows.first().map(|r| r.11) else {
            return Ok(None);
        };
        Ok(Some(StoredScores {
            horizon_days: usize::try_from(horizon).unwrap_or(0),
            config_id: ConfigId::new(config),
            rows: rows.into_iter().map(score_row).collect::<Result<_, _>>()?,
        }))
    }

    async fn score_history(
        &self,
        strategy_id: &str,
        market: &str,
        dates: &[NaiveDate],
    ) -> Result<Vec<PastScoreRow>, StoreError> {
        type Row = (
            NaiveDate,
            String,
            String,
            f64,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
        );
        let mut rows: Vec<Row> = Vec::new();
        for chunk in dates.chunks(500) {
            let sql = format!(
                "SELECT as_of_date, config_id, instrument_id, prediction, momentum, reversal, low_vol, quality, fragility \
                 FROM instrument_scores WHERE strategy_id = $1 AND market_id = $2 AND as_of_date IN ({}) \
                 ORDER BY as_of_date, config_id, instrument_id",
                placeholders(3, chunk.len())
            );
            let part: Vec<Row> = on_pool!(&self.pool, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(strategy_id).bind(market);
                for d in chunk {
                    q = q.bind(*d);
                }
                q.fetch_all(p).await.map_err(StoreError::query("read score history"))?
            });
            rows.extend(part);
        }
        rows.sort_by(|a, b| (a.0, &a.1, &a.2).cmp(&(b.0, &b.1, &b.2)));
        let mut first_config: BTreeMap<NaiveDate, String> = BTreeMap::new();
        let mut out = Vec::with_capacity(rows.len());
        for (d, c, id, prediction, m, r, v, q, f) in rows {
            if first_config.entry(d).or_insert_with(|| c.clone()) != &c {
                continue;
            }
            out.push(PastScoreRow {
                as_of: d,
                instrument_id: id,
                families: [m, r, v, q, f],
                prediction,
            });
        }
        Ok(out)
    }

    async fn assessment_runs(
        &self,
        strategy_id: &str,
        market: &str,
        from: NaiveDate,
        through: NaiveDate,
    ) -> Result<Vec<AssessmentRun>, StoreError> {
        type Row = (
            NaiveDate,
            String,
            i64,
            i64,
            String,
            Option<f64>,
            Option<NaiveDate>,
            Option<f64>,
            Option<f64>,
            Option<i64>,
        );
        const SQL: &str = "SELECT as_of_date, config_id, samples, dates, weights, dispersion, forecast_date, ic, rank_ic, ic_names \
             FROM assessment_runs WHERE strategy_id = $1 AND market_id = $2 AND as_of_date >= $3 AND as_of_date <= $4 \
             ORDER BY as_of_date, config_id";
        let rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(strategy_id)
            .bind(market)
            .bind(from)
            .bind(through)
            .fetch_all()
            .await
            .map_err(StoreError::query("read assessment runs"))?;
        let mut out: Vec<AssessmentRun> = Vec::with_capacity(rows.len());
        for (d, _, samples, dates, weights, dispersion, fd, ic, ric, names) in rows {
            if out.last().is_some_and(|r| r.as_of == d) {
                continue;
            }
            let weights: [f64; 5] = serde_json::from_str(&weights)
                .map_err(|e| corrupt("assessment run", format!("{d}: weights: {e}")))?;
            let skill = match (fd, ic, ric, names) {
                (Some(fd), Some(ic), Some(rank_ic), Some(n)) => Some((
                    fd,
                    ForecastSkill {
                        ic,
                        rank_ic,
                        names: usize::try_from(n).unwrap_or(0),
                    },
                )),
                _ => None,
            };
            out.push(AssessmentRun {
                as_of: d,
                fit: FittedWeights {
                    weights,
                    samples: usize::try_from(samples).unwrap_or(0),
                    dates: usize::try_from(dates).unwrap_or(0),
                    dispersion,
                },
                skill,
            });
        }
        Ok(out)
    }

    async fn write_universe(
        &self,
        s: &Stamp,
        universe_id: &str,
        members: &[Member],
    ) -> Result<(), StoreError> {
        let what = "write universe";
        let reasons: Vec<String> = members
            .iter()
            .map(|m| serde_json::to_string(&m.reasons))
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError::Rejected(format!("reasons do not serialise: {e}")))?;
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.run(Statement::new("DELETE FROM universe_members WHERE universe_id = $1 AND market_id = $2 AND as_of_date = $3 AND config_id = $4")
                .bind(universe_id).bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str())).await.map_err(StoreError::query(what))?;
            let cells: Vec<_> = members
                .iter()
                .zip(&reasons)
                .map(|(m, why)| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(universe_id);
                        k.date(s.as_of);
                        k.text(&m.id);
                        k.text(s.config_id.as_str());
                        k.text(&s.market_id);
                        k.text(s.run_id.as_str());
                        k.boolean(m.included());
                        k.text(m.tier.as_str());
                        k.real(m.score);
                        k.text(&m.sector);
                        k.text(why);
                    })
                })
                .collect();
            tx.write_rows(&UNIVERSE_MEMBERS, &cells, WriteMode::Insert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }

    async fn universe(
        &self,
        universe_id: &str,
        market: &str,
        as_of: NaiveDate,
        config_id: Option<&ConfigId>,
    ) -> Result<Vec<Member>, StoreError> {
        let Some(config) = day_config(
            self,
            "SELECT config_id FROM universe_members WHERE universe_id = $1 AND market_id = $2 AND as_of_date = $3 ORDER BY config_id LIMIT 1",
            universe_id,
            market,
            as_of,
            config_id,
        )
        .await?
        else {
            return Ok(Vec::new());
        };
        const SQL: &str = "SELECT instrument_id, tier, score, sector, reasons FROM universe_members \
             WHERE universe_id = $1 AND market_id = $2 AND as_of_date = $3 AND config_id = $4 ORDER BY instrument_id";
        let rows: Vec<(String, String, Option<f64>, String, String)> = self
            .reads()
            .query_as(SQL)
            .bind(universe_id)
            .bind(market)
            .bind(as_of)
            .bind(&config)
            .fetch_all()
            .await
            .map_err(StoreError::query("read universe"))?;
        rows.into_iter()
            .map(|(id, t, score, sector, reasons)| {
                Ok(Member {
                    tier: tier(&t)?,
                    reasons: serde_json::from_str(&reasons)
                        .map_err(|e| corrupt("universe member", format!("{id}: reasons: {e}")))?,
                    id,
                    score,
                    sector,
                })
            })
            .collect()
    }

    async fn write_target(
        &self,
        s: &Stamp,
        portfolio_id: &str,
        method: &str,
        weights: &[(String, f64)],
        report: &RiskReport,
    ) -> Result<(), StoreError> {
        let what = "write target portfolio";
        let body = serde_json::to_string(report)
            .map_err(|e| StoreError::Rejected(format!("risk report does not serialise: {e}")))?;
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.run(Statement::new("DELETE FROM target_portfolios WHERE portfolio_id = $1 AND market_id = $2 AND as_of_date = $3 AND config_id = $4")
                .bind(portfolio_id).bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str())).await.map_err(StoreError::query(what))?;
            let rows: Vec<_> = weights
                .iter()
                .map(|(id, w)| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(portfolio_id);
                        k.date(s.as_of);
                        k.text(id);
                        k.text(s.config_id.as_str());
                        k.text(&s.market_id);
                        k.text(s.run_id.as_str());
                        k.real(Some(*w));
                        k.text(method);
                    })
                })
                .collect();
            tx.write_rows(&TARGET_PORTFOLIOS, &rows, WriteMode::Insert, &BulkTuning::default()).await?;
            tx.run(Statement::new("INSERT INTO portfolio_risk_reports (portfolio_id, as_of_date, config_id, market_id, run_id, method, names, \
                 ex_ante_vol, historical_es_99, scenario_es_99, turnover, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
                 ON CONFLICT (portfolio_id, as_of_date, config_id) DO UPDATE SET market_id = excluded.market_id, run_id = excluded.run_id, \
                 method = excluded.method, names = excluded.names, ex_ante_vol = excluded.ex_ante_vol, \
                 historical_es_99 = excluded.historical_es_99, scenario_es_99 = excluded.scenario_es_99, \
                 turnover = excluded.turnover, body = excluded.body")
                .bind(portfolio_id).bind(s.as_of).bind(s.config_id.as_str()).bind(&s.market_id).bind(s.run_id.as_str())
                .bind(method).bind(to_i64(report.names)).bind(report.ex_ante_vol)
                .bind(report.historical.map(|h| h.p99.es))
                .bind(report.scenario.as_ref().map(|x| x.tails.p99.es))
                .bind(report.turnover).bind(&body)).await.map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }

    async fn latest_target(
        &self,
        portfolio_id: &str,
        market: &str,
        config_id: &ConfigId,
        through: NaiveDate,
    ) -> Result<Option<StoredTarget>, StoreError> {
        const SQL: &str = "SELECT MAX(as_of_date) FROM portfolio_risk_reports WHERE portfolio_id = $1 \
             AND market_id = $2 AND config_id = $3 AND as_of_date <= $4";
        let last: Option<(Option<NaiveDate>,)> = self
            .reads()
            .query_as(SQL)
            .bind(portfolio_id)
            .bind(market)
            .bind(config_id.as_str())
            .bind(through)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read latest target"))?;
        let Some(d) = last.and_then(|(d,)| d) else {
            return Ok(None);
        };
        Ok(self
            .targets(portfolio_id, market, config_id, d, d)
            .await?
            .pop())
    }

    async fn targets(
        &self,
        portfolio_id: &str,
        market: &str,
        config_id: &ConfigId,
        from: NaiveDate,
        through: NaiveDate,
    ) -> Result<Vec<StoredTarget>, StoreError> {
        const HEADS: &str = "SELECT as_of_date, method FROM portfolio_risk_reports WHERE portfolio_id = $1 \
             AND market_id = $2 AND config_id = $3 AND as_of_date >= $4 AND as_of_date <= $5 ORDER BY as_of_date";
        const ROWS: &str = "SELECT as_of_date, instrument_id, weight FROM target_portfolios WHERE portfolio_id = $1 \
             AND market_id = $2 AND config_id = $3 AND as_of_date >= $4 AND as_of_date <= $5 ORDER BY as_of_date, instrument_id";
        let heads: Vec<(NaiveDate, String)> = self
            .reads()
            .query_as(HEADS)
            .bind(portfolio_id)
            .bind(market)
            .bind(config_id.as_str())
            .bind(from)
            .bind(through)
            .fetch_all()
            .await
            .map_err(StoreError::query("read targets"))?;
        let rows: Vec<(NaiveDate, String, f64)> = self
            .reads()
            .query_as(ROWS)
            .bind(portfolio_id)
            .bind(market)
            .bind(config_id.as_str())
            .bind(from)
            .bind(through)
            .fetch_all()
            .await
            .map_err(StoreError::query("read targets"))?;
        let mut by_date: BTreeMap<NaiveDate, Vec<(String, f64)>> = BTreeMap::new();
        for (d, id, w) in rows {
            by_date.entry(d).or_default().push((id, w));
        }
        Ok(heads
            .into_iter()
            .map(|(d, method)| StoredTarget {
                as_of: d,
                method,
                weights: by_date.remove(&d).unwrap_or_default(),
                config_id: config_id.clone(),
            })
            .collect())
    }

    async fn risk_report(
        &self,
        portfolio_id: &str,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Option<RiskReport>, StoreError> {
        Ok(self
            .risk_reports(portfolio_id, market, config_id, as_of, as_of)
            .await?
            .pop()
            .map(|(_, r)| r))
    }

    async fn risk_reports(
        &self,
        portfolio_id: &str,
        market: &str,
        config_id: &ConfigId,
        from: NaiveDate,
        through: NaiveDate,
    ) -> Result<Vec<(NaiveDate, RiskReport)>, StoreError> {
        const SQL: &str = "SELECT as_of_date, body FROM portfolio_risk_reports WHERE portfolio_id = $1 AND market_id = $2 \
             AND config_id = $3 AND as_of_date >= $4 AND as_of_date <= $5 ORDER BY as_of_date";
        let rows: Vec<(NaiveDate, String)> = self
            .reads()
            .query_as(SQL)
            .bind(portfolio_id)
            .bind(market)
            .bind(config_id.as_str())
            .bind(from)
            .bind(through)
            .fetch_all()
            .await
            .map_err(StoreError::query("read risk reports"))?;
        rows.into_iter()
            .map(|(d, b)| {
                serde_json::from_str(&b)
                    .map(|r| (d, r))
                    .map_err(|e| corrupt("risk report", format!("{portfolio_id} {d}: {e}")))
            })
            .collect()
    }
}

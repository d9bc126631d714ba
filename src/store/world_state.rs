//! The world-state engines' outputs in the runtime database: regimes and their transition
//! counts, stability vectors and soft-target classes, fragility measures, scenario sets and
//! their stored paths. Each write replaces the rows of its (market, date, config) in one
//! transaction, so a re-run never duplicates rows.

use super::RuntimeDb;
use super::bulk::{BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode};
use super::embeddings::{blob_to_vector, vector_to_blob};
use super::error::StoreError;
use super::pool::on_pool;
use super::statement::Statement;
use super::writer::BeginBatch;
use crate::domain::{ConfigId, RunId};
use crate::engines::fragility::FragilityRow;
use crate::engines::regime::{RegimeDay, RegimeLabel};
use crate::engines::scenarios::ScenarioSet;
use crate::engines::stability::StabilityRow;
use async_trait::async_trait;
use chrono::NaiveDate;

/// Who wrote a batch of rows, for what.
#[derive(Clone, Debug, PartialEq)]
pub struct Stamp {
    /// The market.
    pub market_id: String,
    /// The date the rows describe.
    pub as_of: NaiveDate,
    /// The run that wrote them.
    pub run_id: RunId,
    /// The engine config they were computed under.
    pub config_id: ConfigId,
}

/// One stored label transition count.
#[derive(Clone, Debug, PartialEq)]
pub struct TransitionRow {
    /// From this label…
    pub from: RegimeLabel,
    /// …to this one, the next session.
    pub to: RegimeLabel,
    /// How many times in the model's fit window.
    pub transitions: u64,
    /// Row-normalised probability.
    pub probability: f64,
}

/// The per-instrument world-state outputs a downstream engine may read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorldOutput {
    /// `stability_vectors`.
    Stability,
    /// `fragility_measures`.
    Fragility,
}

/// A stored scenario set's header and its stored paths.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredScenarioSet {
    /// Content id.
    pub set_id: String,
    /// Generator tag (e.g. `block_bootstrap`).
    pub kind: String,
    /// Paths generated.
    pub paths: usize,
    /// Days per path.
    pub horizon: usize,
    /// Instrument order of every path's rows.
    pub instruments: Vec<String>,
    /// `(path, kind, source dates, horizon × instruments returns)`; path 0 is the baseline.
    pub stored: Vec<(usize, String, Vec<NaiveDate>, Vec<f32>)>,
}

/// World-state storage.
#[async_trait]
pub trait WorldStateStore {
    /// Replaces the market's regime and transition counts on the date.
    async fn write_regime(
        &self,
        s: &Stamp,
        day: &RegimeDay,
        transitions: &[TransitionRow],
    ) -> Result<(), StoreError>;
    /// The regime stored for the market on the date under `config_id`.
    async fn regime(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Option<RegimeDay>, StoreError>;
    /// The latest regime on or before `as_of` (any config), with its config id.
    async fn latest_regime(
        &self,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Option<(RegimeDay, ConfigId)>, StoreError>;
    /// The smoothed label of every stored day in `[from, to]` (the first config by id when
    /// several wrote a day), ascending: the labels a regime-conditioned bootstrap draws by.
    async fn regime_labels(
        &self,
        market: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String)>, StoreError>;
    /// The profiles' risk flags of a market's issuers on a date (the first profiles config
    /// by id when several wrote the day), by issuer.
    async fn profile_flags(
        &self,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
        StoreError,
    >;
    /// The transition counts stored with that regime.
    async fn regime_transitions(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<TransitionRow>, StoreError>;
    /// Replaces the market's stability vectors and soft-target classes on the date.
    async fn write_stability(
        &self,
        s: &Stamp,
        regime: Option<RegimeLabel>,
        rows: &[StabilityRow],
    ) -> Result<(), StoreError>;
    /// The stability rows of the market on the date, by instrument.
    async fn stability(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<StabilityRow>, StoreError>;
    /// Replaces the market's fragility measures on the date.
    async fn write_fragility(
        &self,
        s: &Stamp,
        scenario_set_id: &str,
        rows: &[FragilityRow],
    ) -> Result<(), StoreError>;
    /// The first config (by id) that wrote `output` rows for the market on the date: what
    /// a downstream engine reads when no message named the config (after a restart, or in
    /// a strategy that does not run that engine).
    async fn first_config_on(
        &self,
        output: WorldOutput,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Option<ConfigId>, StoreError>;
    /// The fragility rows of the market on the date, by instrument.
    async fn fragility(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<FragilityRow>, StoreError>;
    /// Stores a set's header, its baseline (path 0: the mean path) and its first
    /// `stored_paths` scenario paths (an existing set id is replaced).
    async fn write_scenario_set(
        &self,
        s: &Stamp,
        set: &ScenarioSet,
        stored_paths: usize,
    ) -> Result<(), StoreError>;
    /// The id of the set stored for a market, date and scenario config.
    async fn scenario_set_id(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Option<String>, StoreError>;
    /// A stored set, or `None`.
    async fn scenario_set(&self, set_id: &str) -> Result<Option<StoredScenarioSet>, StoreError>;
}

const REGIME_TRANSITIONS: TableSpec = TableSpec {
    name: "regime_transitions",
    columns: &[
        "market_id",
        "as_of_date",
        "config_id",
        "from_label",
        "to_label",
        "transitions",
        "probability",
        "model_id",
        "run_id",
    ],
    key: &[
        "market_id",
        "as_of_date",
        "config_id",
        "from_label",
        "to_label",
    ],
};

const SCENARIO_PATHS: TableSpec = TableSpec {
    name: "scenario_paths",
    columns: &["set_id", "path", "kind", "source_dates", "returns"],
    key: &["set_id", "path"],
};

const STABILITY_VECTORS: TableSpec = TableSpec {
    name: "stability_vectors",
    columns: &[
        "instrument_id",
        "as_of_date",
        "config_id",
        "market_id",
        "stability_score",
        "body",
        "run_id",
    ],
    key: &["as_of_date", "config_id", "instrument_id"],
};

const SOFT_TARGET_CLASSES: TableSpec = TableSpec {
    name: "soft_target_classes",
    columns: &[
        "instrument_id",
        "as_of_date",
        "config_id",
        "market_id",
        "soft_target_score",
        "class",
        "forecast_class",
        "regime",
        "run_id",
    ],
    key: &["as_of_date", "config_id", "instrument_id"],
};

const FRAGILITY_MEASURES: TableSpec = TableSpec {
    name: "fragility_measures",
    columns: &[
        "instrument_id",
        "as_of_date",
        "config_id",
        "market_id",
        "scenario_set_id",
        "fragility_score",
        "class",
        "body",
        "run_id",
    ],
    key: &["as_of_date", "config_id", "instrument_id"],
};

fn json<T: serde::Serialize>(what: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v)
        .map_err(|e| StoreError::Rejected(format!("{what} does not serialise: {e}")))
}

fn parse<T: serde::de::DeserializeOwned>(
    what: &'static str,
    key: &str,
    s: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt {
        what,
        detail: format!("{key}: {e}"),
    })
}

/// The JSON bodies `sql` selects as `(instrument_id, body)` for a market, date and config.
async fn day_bodies<T: serde::de::DeserializeOwned>(
    db: &RuntimeDb,
    sql: &'static str,
    what: &'static str,
    market: &str,
    as_of: NaiveDate,
    config_id: &ConfigId,
) -> Result<Vec<T>, StoreError> {
    let rows: Vec<(String, String)> = db
        .reads()
        .query_as(sql)
        .bind(market)
        .bind(as_of)
        .bind(config_id.as_str())
        .fetch_all()
        .await
        .map_err(StoreError::query(what))?;
    rows.iter().map(|(id, b)| parse(what, id, b)).collect()
}

#[async_trait]
impl WorldStateStore for RuntimeDb {
    async fn write_regime(
        &self,
        s: &Stamp,
        day: &RegimeDay,
        transitions: &[TransitionRow],
    ) -> Result<(), StoreError> {
        let body = json("regime", day)?;
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("write regime"))?;
            tx.run(Statement::new("DELETE FROM regime_transitions WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3")
                .bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str())).await.map_err(StoreError::query("write regime"))?;
            tx.run(Statement::new("INSERT INTO regimes (market_id, as_of_date, config_id, run_id, model_id, label, raw_label, change_risk, body) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (market_id, as_of_date, config_id) DO UPDATE SET \
                 run_id = excluded.run_id, model_id = excluded.model_id, label = excluded.label, raw_label = excluded.raw_label, \
                 change_risk = excluded.change_risk, body = excluded.body")
                .bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str()).bind(s.run_id.as_str())
                .bind(&day.model_id).bind(day.label.as_str()).bind(day.raw_label.as_str())
                .bind(day.change_risk).bind(&body)).await.map_err(StoreError::query("write regime"))?;
            let rows: Vec<_> = transitions
                .iter()
                .map(|t| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(&s.market_id);
                        k.date(s.as_of);
                        k.text(s.config_id.as_str());
                        k.text(t.from.as_str());
                        k.text(t.to.as_str());
                        k.int(i64::try_from(t.transitions).unwrap_or(i64::MAX));
                        k.real(Some(t.probability));
                        k.text(&day.model_id);
                        k.text(s.run_id.as_str());
                    })
                })
                .collect();
            tx.write_rows(&REGIME_TRANSITIONS, &rows, WriteMode::Insert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query("write regime"))?;
        });
        Ok(())
    }

    async fn regime(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Option<RegimeDay>, StoreError> {
        const SQL: &str =
            "SELECT body FROM regimes WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3";
        let row: Option<(String,)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .bind(config_id.as_str())
            .fetch_optional()
            .await
            .map_err(StoreError::query("read regime"))?;
        row.map(|(b,)| parse("regime", &format!("{market} {as_of}"), &b))
            .transpose()
    }

    async fn latest_regime(
        &self,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Option<(RegimeDay, ConfigId)>, StoreError> {
        const SQL: &str = "SELECT body, config_id FROM regimes WHERE market_id = $1 AND as_of_date <= $2 \
             ORDER BY as_of_date DESC, config_id LIMIT 1";
        let row: Option<(String, String)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read regime"))?;
        row.map(|(b, c)| {
            Ok((
                parse("regime", &format!("{market} ≤ {as_of}"), &b)?,
                ConfigId::new(c),
            ))
        })
        .transpose()
    }

    async fn regime_labels(
        &self,
        market: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(NaiveDate, String)>, StoreError> {
        const SQL: &str = "SELECT as_of_date, label FROM regimes WHERE market_id = $1 \
             AND as_of_date >= $2 AND as_of_date <= $3 ORDER BY as_of_date, config_id";
        let mut rows: Vec<(NaiveDate, String)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read regime labels"))?;
        rows.dedup_by_key(|r| r.0);
        Ok(rows)
    }

    async fn profile_flags(
        &self,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
        StoreError,
    > {
        const SQL: &str = "SELECT issuer_id, risk_flags FROM profiles WHERE market_id = $1 \
             AND as_of_date = $2 ORDER BY issuer_id, config_id";
        let rows: Vec<(String, String)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read profile flags"))?;
        let mut out = std::collections::BTreeMap::new();
        for (issuer, flags) in rows {
            if let std::collections::btree_map::Entry::Vacant(e) = out.entry(issuer) {
                let parsed = parse("profile flags", e.key(), &flags)?;
                e.insert(parsed);
            }
        }
        Ok(out)
    }

    async fn regime_transitions(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<TransitionRow>, StoreError> {
        const SQL: &str = "SELECT from_label, to_label, transitions, probability FROM regime_transitions \
             WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3 ORDER BY from_label, to_label";
        let rows: Vec<(String, String, i64, f64)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .bind(config_id.as_str())
            .fetch_all()
            .await
            .map_err(StoreError::query("read regime transitions"))?;
        rows.into_iter()
            .map(|(f, t, n, prob)| {
                let label = |s: &str| {
                    RegimeLabel::parse(s).ok_or_else(|| StoreError::Corrupt {
                        what: "regime transition",
                        detail: format!("unknown label {s:?}"),
                    })
                };
                Ok(TransitionRow {
                    from: label(&f)?,
                    to: label(&t)?,
                    transitions: u64::try_from(n).unwrap_or(0),
                    probability: prob,
                })
            })
            .collect()
    }

    async fn write_stability(
        &self,
        s: &Stamp,
        regime: Option<RegimeLabel>,
        rows: &[StabilityRow],
    ) -> Result<(), StoreError> {
        let bodies: Vec<String> = rows
            .iter()
            .map(|r| json("stability row", r))
            .collect::<Result<_, _>>()?;
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("write stability"))?;
            for sql in [
                "DELETE FROM stability_vectors WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3",
                "DELETE FROM soft_target_classes WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3",
            ] {
                tx.run(Statement::new(sql)
                    .bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str())).await.map_err(StoreError::query("write stability"))?;
            }
            let tuning = BulkTuning::default();
            let vectors: Vec<_> = rows
                .iter()
                .zip(&bodies)
                .map(|(r, body)| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(&r.instrument_id);
                        k.date(s.as_of);
                        k.text(s.config_id.as_str());
                        k.text(&s.market_id);
                        k.real(Some(r.stability_score));
                        k.text(body);
                        k.text(s.run_id.as_str());
                    })
                })
                .collect();
            tx.write_rows(&STABILITY_VECTORS, &vectors, WriteMode::Insert, &tuning).await?;
            let label = regime.map(RegimeLabel::as_str);
            let classes: Vec<_> = rows
                .iter()
                .map(|r| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(&r.instrument_id);
                        k.date(s.as_of);
                        k.text(s.config_id.as_str());
                        k.text(&s.market_id);
                        k.real(Some(r.soft_target_score));
                        k.text(r.class.as_str());
                        k.text(r.forecast_class.as_str());
                        k.opt_text(label);
                        k.text(s.run_id.as_str());
                    })
                })
                .collect();
            tx.write_rows(&SOFT_TARGET_CLASSES, &classes, WriteMode::Insert, &tuning).await?;
            tx.commit().await.map_err(StoreError::query("write stability"))?;
        });
        Ok(())
    }

    async fn stability(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<StabilityRow>, StoreError> {
        const SQL: &str = "SELECT instrument_id, body FROM stability_vectors \
             WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3 ORDER BY instrument_id";
        day_bodies(self, SQL, "stability row", market, as_of, config_id).await
    }

    async fn first_config_on(
        &self,
        output: WorldOutput,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Option<ConfigId>, StoreError> {
        let sql = match output {
            WorldOutput::Stability => {
                "SELECT config_id FROM stability_vectors WHERE market_id = $1 AND as_of_date = $2 ORDER BY config_id LIMIT 1"
            }
            WorldOutput::Fragility => {
                "SELECT config_id FROM fragility_measures WHERE market_id = $1 AND as_of_date = $2 ORDER BY config_id LIMIT 1"
            }
        };
        let row: Option<(String,)> = self
            .reads()
            .query_as(sql)
            .bind(market)
            .bind(as_of)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read the day's config"))?;
        Ok(row.map(|(c,)| ConfigId::new(c)))
    }

    async fn write_fragility(
        &self,
        s: &Stamp,
        scenario_set_id: &str,
        rows: &[FragilityRow],
    ) -> Result<(), StoreError> {
        let bodies: Vec<String> = rows
            .iter()
            .map(|r| json("fragility row", r))
            .collect::<Result<_, _>>()?;
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("write fragility"))?;
            tx.run(Statement::new("DELETE FROM fragility_measures WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3")
                .bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str())).await.map_err(StoreError::query("write fragility"))?;
            let cells: Vec<_> = rows
                .iter()
                .zip(&bodies)
                .map(|(r, body)| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(&r.instrument_id);
                        k.date(s.as_of);
                        k.text(s.config_id.as_str());
                        k.text(&s.market_id);
                        k.text(scenario_set_id);
                        k.real(Some(r.fragility_score));
                        k.text(r.class.as_str());
                        k.text(body);
                        k.text(s.run_id.as_str());
                    })
                })
                .collect();
            tx.write_rows(&FRAGILITY_MEASURES, &cells, WriteMode::Insert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query("write fragility"))?;
        });
        Ok(())
    }

    async fn fragility(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<FragilityRow>, StoreError> {
        const SQL: &str = "SELECT instrument_id, body FROM fragility_measures \
             WHERE market_id = $1 AND as_of_date = $2 AND config_id = $3 ORDER BY instrument_id";
        day_bodies(self, SQL, "fragility row", market, as_of, config_id).await
    }

    async fn write_scenario_set(
        &self,
        s: &Stamp,
        set: &ScenarioSet,
        stored_paths: usize,
    ) -> Result<(), StoreError> {
        let instruments = json("scenario instruments", &set.instruments)?;
        let mut paths: Vec<(i64, &str, String, Vec<u8>)> = vec![(
            0,
            "baseline",
            "[]".to_owned(),
            vector_to_blob(&set.baseline),
        )];
        for p in 0..stored_paths.min(set.paths) {
            let at = p * set.horizon;
            let dates = json(
                "source dates",
                &set.source_dates.get(at..at + set.horizon).unwrap_or(&[]),
            )?;
            paths.push((
                p as i64 + 1,
                "scenario",
                dates,
                vector_to_blob(&set.path_values(p)),
            ));
        }
        let tag = set.kind.tag();
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("write scenario set"))?;
            for sql in [
                "DELETE FROM scenario_paths WHERE set_id = $1",
                "DELETE FROM scenario_sets WHERE set_id = $1",
            ] {
                tx.run(Statement::new(sql)
                    .bind(&set.set_id)).await.map_err(StoreError::query("write scenario set"))?;
            }
            tx.run(Statement::new("INSERT INTO scenario_sets (set_id, market_id, as_of_date, config_id, kind, paths, stored_paths, horizon, instruments, run_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
                .bind(&set.set_id).bind(&s.market_id).bind(s.as_of).bind(s.config_id.as_str()).bind(&tag)
                .bind(set.paths as i64).bind((paths.len() - 1) as i64).bind(set.horizon as i64)
                .bind(&instruments).bind(s.run_id.as_str())).await.map_err(StoreError::query("write scenario set"))?;
            let rows: Vec<_> = paths
                .iter()
                .map(|(path, kind, dates, blob)| {
                    CellsRow(move |k: &mut dyn CellSink| {
                        k.text(&set.set_id);
                        k.int(*path);
                        k.text(kind);
                        k.text(dates);
                        k.blob(blob);
                    })
                })
                .collect();
            tx.write_rows(&SCENARIO_PATHS, &rows, WriteMode::Insert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query("write scenario set"))?;
        });
        Ok(())
    }

    async fn scenario_set_id(
        &self,
        market: &str,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Option<String>, StoreError> {
        const SQL: &str = "SELECT set_id FROM scenario_sets WHERE market_id = $1 AND as_of_date = $2 \
             AND config_id = $3 ORDER BY set_id LIMIT 1";
        let row: Option<(String,)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .bind(config_id.as_str())
            .fetch_optional()
            .await
            .map_err(StoreError::query("read scenario set id"))?;
        Ok(row.map(|r| r.0))
    }

    async fn scenario_set(&self, set_id: &str) -> Result<Option<StoredScenarioSet>, StoreError> {
        let head: Option<(String, i64, i64, String)> = on_pool!(&self.pool, p => sqlx::query_as(
                "SELECT kind, paths, horizon, instruments FROM scenario_sets WHERE set_id = $1")
            .bind(set_id)
            .fetch_optional(p).await.map_err(StoreError::query("read scenario set"))?);
        let Some((kind, paths, horizon, instruments)) = head else {
            return Ok(None);
        };
        let rows: Vec<(i64, String, String, Vec<u8>)> = on_pool!(&self.pool, p => sqlx::query_as(
                "SELECT path, kind, source_dates, returns FROM scenario_paths WHERE set_id = $1 ORDER BY path")
            .bind(set_id)
            .fetch_all(p).await.map_err(StoreError::query("read scenario set"))?);
        let stored = rows
            .into_iter()
            .map(|(path, kind, dates, blob)| {
                Ok((
                    usize::try_from(path).unwrap_or(0),
                    kind,
                    parse("scenario source dates", set_id, &dates)?,
                    blob_to_vector(&blob)?,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Some(StoredScenarioSet {
            set_id: set_id.to_owned(),
            kind,
            paths: usize::try_from(paths).unwrap_or(0),
            horizon: usize::try_from(horizon).unwrap_or(0),
            instruments: parse("scenario instruments", set_id, &instruments)?,
            stored,
        }))
    }
}

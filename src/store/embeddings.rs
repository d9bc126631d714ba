//! Representations in the historical database: fitted encoder models and the vectors the
//! encoders write (numeric windows, news articles, issuer-day news, joint spaces).
//!
//! Vectors are stored as little-endian f32 blobs; every row names the model that made it
//! and carries `run_id` and `config_id`. Writes are upserts on each table's natural key, so
//! re-running an encoder for a date replaces its rows instead of duplicating them. Reads
//! that feed decisions are bounded by `as_of`.

use super::HistoricalDb;
use super::error::StoreError;
use super::pool::{on_pool, placeholders};
use super::statement::{Statement, Value};
use super::tx::BeginWrite;
use super::writer::BeginBatch;
use crate::domain::{ConfigId, RunId};
use async_trait::async_trait;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// A fitted encoder model, versioned by content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredModel {
    /// Content hash id (`numeric-pca-…`).
    pub model_id: String,
    /// Which encoder fitted it (`numeric_encoder`).
    pub encoder: String,
    /// The encoder config it was fitted under.
    pub config_id: ConfigId,
    /// The last date of data it saw.
    pub fitted_as_of: NaiveDate,
    /// The model itself, as JSON.
    pub body: String,
    /// The run that fitted it.
    pub run_id: RunId,
}

/// One entity's vector on one date (instrument, issuer or market).
#[derive(Clone, Debug, PartialEq)]
pub struct EntityVector {
    /// Instrument, issuer or market id.
    pub entity_id: String,
    /// The date the vector describes.
    pub as_of_date: NaiveDate,
    /// The model that made it.
    pub model_id: String,
    /// The vector.
    pub vector: Vec<f32>,
    /// The run that wrote it.
    pub run_id: RunId,
    /// The config of the encoder that wrote it.
    pub config_id: ConfigId,
}

/// The text vector of one news article.
#[derive(Clone, Debug, PartialEq)]
pub struct ArticleVector {
    /// The article.
    pub article_id: String,
    /// The text model.
    pub model_id: String,
    /// Unit vector.
    pub vector: Vec<f32>,
    /// The run that wrote it.
    pub run_id: RunId,
    /// The text encoder's config.
    pub config_id: ConfigId,
}

/// An issuer's news of one session window, as one vector.
#[derive(Clone, Debug, PartialEq)]
pub struct IssuerTextVector {
    /// Issuer id in `entity_id`; mean of the article vectors, re-normalised.
    pub vector: EntityVector,
    /// How many articles it averages.
    pub articles: u32,
}

/// A vector in one of the joint spaces.
#[derive(Clone, Debug, PartialEq)]
pub struct JointVector {
    /// The space (`profile_core`, `regime_context`…).
    pub joint_type: String,
    /// The vector and its entity.
    pub vector: EntityVector,
}

/// Little-endian f32 bytes of a vector.
pub fn vector_to_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// The vector of a blob written by [`vector_to_blob`].
///
/// # Errors
/// [`StoreError::Corrupt`] when the length is not a multiple of four.
pub fn blob_to_vector(b: &[u8]) -> Result<Vec<f32>, StoreError> {
    if !b.len().is_multiple_of(4) {
        return Err(StoreError::Corrupt {
            what: "vector blob",
            detail: format!("{} bytes is not a whole number of f32", b.len()),
        });
    }
    Ok(b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Encoder models and embeddings.
#[async_trait]
pub trait EmbeddingStore {
    /// Stores a fitted model; `false` when one for the same encoder, config and fit date
    /// (or the same id) is there already (the stored one stays: models are immutable).
    async fn save_encoder_model(&self, m: &StoredModel) -> Result<bool, StoreError>;
    /// The model `encoder` fitted under `config_id` as of `fitted_as_of`.
    async fn encoder_model(
        &self,
        encoder: &str,
        config_id: &ConfigId,
        fitted_as_of: NaiveDate,
    ) -> Result<Option<StoredModel>, StoreError>;

    /// Upserts numeric window embeddings.
    async fn write_numeric_embeddings(&self, rows: &[EntityVector]) -> Result<(), StoreError>;
    /// The numeric embeddings of `as_of` written under `config_id`, by entity.
    async fn numeric_embeddings(
        &self,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<EntityVector>, StoreError>;

    /// Upserts article vectors.
    async fn write_article_vectors(&self, rows: &[ArticleVector]) -> Result<(), StoreError>;
    /// The stored vectors of `article_ids` under `model_id` (absent ids are not embedded yet).
    async fn article_vectors(
        &self,
        model_id: &str,
        article_ids: &[String],
    ) -> Result<BTreeMap<String, Vec<f32>>, StoreError>;

    /// Upserts issuer-day news vectors.
    async fn write_issuer_text(&self, rows: &[IssuerTextVector]) -> Result<(), StoreError>;
    /// Issuer-day news vectors written under the text encoder config `config_id` with
    /// `from <= as_of_date <= as_of`, by date then issuer.
    async fn issuer_text(
        &self,
        config_id: &ConfigId,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<IssuerTextVector>, StoreError>;

    /// Upserts joint vectors.
    async fn write_joint(&self, rows: &[JointVector]) -> Result<(), StoreError>;
    /// The vectors of `joint_type` on `as_of`, by entity.
    async fn joint_embeddings(
        &self,
        joint_type: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<JointVector>, StoreError>;
}

/// One bound value of a generic upsert.
enum Cell<'a> {
    Text(&'a str),
    Date(NaiveDate),
    Blob(Vec<u8>),
    Int(i64),
}

/// `INSERT … ON CONFLICT (key) DO UPDATE SET rest` of `rows`, 200 rows per statement, in
/// one transaction (on SQLite, one batch of the database's batching writer).
async fn upsert(
    db: &HistoricalDb,
    table: &str,
    columns: &[&str],
    key: &[&str],
    rows: Vec<Vec<Cell<'_>>>,
    what: &'static str,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let updates: Vec<String> = columns
        .iter()
        .filter(|c| !key.contains(c))
        .map(|c| format!("{c} = excluded.{c}"))
        .collect();
    let width = columns.len();
    // SQLite takes anonymous `?`s: with numbered ones sqlx looks every parameter's name
    // up, and SQLite finds a name by walking the statement's list of them — quadratic in
    // the parameters, most of a 200-row statement's binding cost.
    let sqlite = db.pool.backend() == super::Backend::Sqlite;
    let statement = |n: usize| {
        let values: Vec<String> = (0..n)
            .map(|r| {
                if sqlite {
                    format!("({})", vec!["?"; width].join(", "))
                } else {
                    format!("({})", placeholders(1 + r * width, width))
                }
            })
            .collect();
        format!(
            "INSERT INTO {table} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}",
            columns.join(", "),
            values.join(", "),
            key.join(", "),
            updates.join(", ")
        )
    };
    on_pool!(&db.pool, p => {
        let mut tx = db.writes.begin(p).await.map_err(StoreError::query(what))?;
        for chunk in rows.chunks(200) {
            let mut q = Statement::new(statement(chunk.len()));
            for row in chunk {
                for cell in row {
                    q.push(match cell {
                        Cell::Text(s) => Value::from(*s),
                        Cell::Date(d) => Value::from(*d),
                        Cell::Blob(b) => Value::from(b.as_slice()),
                        Cell::Int(i) => Value::from(*i),
                    });
                }
            }
            tx.run(q).await.map_err(StoreError::query(what))?;
        }
        tx.commit().await.map_err(StoreError::query(what))?;
    });
    Ok(())
}

fn entity_cells(v: &EntityVector) -> Vec<Cell<'_>> {
    vec![
        Cell::Text(&v.entity_id),
        Cell::Date(v.as_of_date),
        Cell::Text(&v.model_id),
        Cell::Blob(vector_to_blob(&v.vector)),
        Cell::Text(v.run_id.as_str()),
        Cell::Text(v.config_id.as_str()),
    ]
}

type EntityRow = (String, NaiveDate, String, Vec<u8>, String, String);

fn entity_vector(r: EntityRow) -> Result<EntityVector, StoreError> {
    Ok(EntityVector {
        entity_id: r.0,
        as_of_date: r.1,
        model_id: r.2,
        vector: blob_to_vector(&r.3)?,
        run_id: RunId::new(r.4),
        config_id: ConfigId::new(r.5),
    })
}

const ENTITY_COLUMNS: [&str; 6] = [
    "entity_id",
    "as_of_date",
    "model_id",
    "vector",
    "run_id",
    "config_id",
];

#[async_trait]
impl EmbeddingStore for HistoricalDb {
    async fn save_encoder_model(&self, m: &StoredModel) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO encoder_models \
             (model_id, encoder, config_id, fitted_as_of, body, run_id) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT DO NOTHING";
        let n = on_pool!(&self.pool, p => {
            let mut c = p.write_conn().await.map_err(StoreError::query("save encoder model"))?;
            sqlx::query(SQL)
            .bind(&m.model_id)
            .bind(&m.encoder)
            .bind(m.config_id.as_str())
            .bind(m.fitted_as_of)
            .bind(&m.body)
            .bind(m.run_id.as_str())
            .execute(&mut *c)
            .await
            .map(|d| d.rows_affected())
            .map_err(StoreError::query("save encoder model"))?
        });
        Ok(n == 1)
    }

    async fn encoder_model(
        &self,
        encoder: &str,
        config_id: &ConfigId,
        fitted_as_of: NaiveDate,
    ) -> Result<Option<StoredModel>, StoreError> {
        const SQL: &str = "SELECT model_id, body, run_id FROM encoder_models \
             WHERE encoder = $1 AND config_id = $2 AND fitted_as_of = $3";
        let row: Option<(String, String, String)> = self
            .reads()
            .query_as(SQL)
            .bind(encoder)
            .bind(config_id.as_str())
            .bind(fitted_as_of)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read encoder model"))?;
        Ok(row.map(|(model_id, body, run_id)| StoredModel {
            model_id,
            encoder: encoder.to_owned(),
            config_id: config_id.clone(),
            fitted_as_of,
            body,
            run_id: RunId::new(run_id),
        }))
    }

    async fn write_numeric_embeddings(&self, rows: &[EntityVector]) -> Result<(), StoreError> {
        let cells = rows.iter().map(entity_cells).collect();
        upsert(
            self,
            "numeric_window_embeddings",
            &ENTITY_COLUMNS,
            &["entity_id", "as_of_date", "model_id"],
            cells,
            "write numeric embeddings",
        )
        .await
    }

    async fn numeric_embeddings(
        &self,
        as_of: NaiveDate,
        config_id: &ConfigId,
    ) -> Result<Vec<EntityVector>, StoreError> {
        const SQL: &str = "SELECT entity_id, as_of_date, model_id, vector, run_id, config_id \
             FROM numeric_window_embeddings WHERE as_of_date = $1 AND config_id = $2 ORDER BY entity_id";
        let rows: Vec<EntityRow> = self
            .reads()
            .query_as(SQL)
            .bind(as_of)
            .bind(config_id.as_str())
            .fetch_all()
            .await
            .map_err(StoreError::query("read numeric embeddings"))?;
        rows.into_iter().map(entity_vector).collect()
    }

    async fn write_article_vectors(&self, rows: &[ArticleVector]) -> Result<(), StoreError> {
        let cells = rows
            .iter()
            .map(|a| {
                vec![
                    Cell::Text("news_article"),
                    Cell::Text(&a.article_id),
                    Cell::Text(&a.model_id),
                    Cell::Blob(vector_to_blob(&a.vector)),
                    Cell::Text(a.run_id.as_str()),
                    Cell::Text(a.config_id.as_str()),
                ]
            })
            .collect();
        upsert(
            self,
            "text_embeddings",
            &[
                "source_type",
                "source_id",
                "model_id",
                "vector",
                "run_id",
                "config_id",
            ],
            &["source_type", "source_id", "model_id"],
            cells,
            "write text embeddings",
        )
        .await
    }

    async fn article_vectors(
        &self,
        model_id: &str,
        article_ids: &[String],
    ) -> Result<BTreeMap<String, Vec<f32>>, StoreError> {
        let mut out = BTreeMap::new();
        for chunk in article_ids.chunks(2000) {
            let sql = format!(
                "SELECT source_id, vector FROM text_embeddings WHERE source_type = 'news_article' \
                 AND model_id = $1 AND source_id IN ({})",
                placeholders(2, chunk.len())
            );
            let rows: Vec<(String, Vec<u8>)> = on_pool!(&self.pool, p => {
                let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.as_str())).bind(model_id);
                for id in chunk {
                    q = q.bind(id.as_str());
                }
                q.fetch_all(p).await.map_err(StoreError::query("read text embeddings"))?
            });
            for (id, blob) in rows {
                out.insert(id, blob_to_vector(&blob)?);
            }
        }
        Ok(out)
    }

    async fn write_issuer_text(&self, rows: &[IssuerTextVector]) -> Result<(), StoreError> {
        let cells = rows
            .iter()
            .map(|r| {
                let mut c = entity_cells(&r.vector);
                c.push(Cell::Int(i64::from(r.articles)));
                c
            })
            .collect();
        upsert(
            self,
            "issuer_text_embeddings",
            &[
                "issuer_id",
                "as_of_date",
                "model_id",
                "vector",
                "run_id",
                "config_id",
                "articles",
            ],
            &["issuer_id", "as_of_date", "model_id"],
            cells,
            "write issuer text embeddings",
        )
        .await
    }

    async fn issuer_text(
        &self,
        config_id: &ConfigId,
        from: NaiveDate,
        as_of: NaiveDate,
    ) -> Result<Vec<IssuerTextVector>, StoreError> {
        const SQL: &str = "SELECT issuer_id, as_of_date, model_id, vector, run_id, config_id, articles \
             FROM issuer_text_embeddings WHERE config_id = $1 AND as_of_date >= $2 AND as_of_date <= $3 \
             ORDER BY as_of_date, issuer_id";
        let rows: Vec<(String, NaiveDate, String, Vec<u8>, String, String, i64)> = self
            .reads()
            .query_as(SQL)
            .bind(config_id.as_str())
            .bind(from)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read issuer text embeddings"))?;
        rows.into_iter()
            .map(|r| {
                Ok(IssuerTextVector {
                    articles: u32::try_from(r.6).unwrap_or(0),
                    vector: entity_vector((r.0, r.1, r.2, r.3, r.4, r.5))?,
                })
            })
            .collect()
    }

    async fn write_joint(&self, rows: &[JointVector]) -> Result<(), StoreError> {
        let cells = rows
            .iter()
            .map(|r| {
                let mut c = entity_cells(&r.vector);
                c.push(Cell::Text(&r.joint_type));
                c
            })
            .collect();
        upsert(
            self,
            "joint_embeddings",
            &[
                "entity_id",
                "as_of_date",
                "model_id",
                "vector",
                "run_id",
                "config_id",
                "joint_type",
            ],
            &["joint_type", "entity_id", "as_of_date", "model_id"],
            cells,
            "write joint embeddings",
        )
        .await
    }

    async fn joint_embeddings(
        &self,
        joint_type: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<JointVector>, StoreError> {
        const SQL: &str = "SELECT entity_id, as_of_date, model_id, vector, run_id, config_id \
             FROM joint_embeddings WHERE joint_type = $1 AND as_of_date = $2 ORDER BY entity_id, model_id";
        let rows: Vec<EntityRow> = self
            .reads()
            .query_as(SQL)
            .bind(joint_type)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read joint embeddings"))?;
        rows.into_iter()
            .map(|r| {
                Ok(JointVector {
                    joint_type: joint_type.to_owned(),
                    vector: entity_vector(r)?,
                })
            })
            .collect()
    }
}

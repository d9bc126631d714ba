//! Kronos's experiment queue: experiments claimed by workers under leases.
//!
//! A worker claims the best queued experiment (lowest priority number, then oldest) — or
//! one whose worker's lease expired — by marking it RUNNING under its name and a lease
//! expiry, in one statement: on PostgreSQL the candidate row is locked with
//! `FOR UPDATE SKIP LOCKED`, so two workers never take the same experiment; on SQLite the
//! claim runs in the file's one write transaction. A worker renews its lease while it
//! works; its result is accepted only while it still holds the lease, so an experiment
//! taken over after a lease expired is never finished twice.

use super::RuntimeDb;
use super::error::StoreError;
use super::pool::{Pool, on_pool};
use super::tx::BeginWrite;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One experiment as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentRecord {
    /// Content id of its spec.
    pub experiment_id: String,
    /// The search it belongs to.
    pub sweep_id: String,
    /// The proposal it tests (`None`: the search's baseline, the active configs).
    pub proposal_id: Option<String>,
    /// Lower runs first.
    pub priority: i64,
    /// QUEUED, RUNNING, DONE or FAILED.
    pub state: String,
    /// What to run (JSON).
    pub spec: String,
    /// The worker holding it.
    pub lease_owner: Option<String>,
    /// When that worker's lease ends.
    pub lease_expires: Option<DateTime<Utc>>,
    /// Claims so far.
    pub attempts: i64,
    /// The evaluation (JSON) once DONE.
    pub result: Option<String>,
    /// Why it FAILED.
    pub error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Experiment queue storage.
#[async_trait]
pub trait ExperimentStore {
    /// Queues an experiment unless one with its id exists; returns whether it was new.
    async fn enqueue_experiment(&self, e: &ExperimentRecord) -> Result<bool, StoreError>;
    /// Claims the next experiment for `worker` until `lease_until`: the best QUEUED one,
    /// or a RUNNING one whose lease ended before `now`.
    async fn claim_experiment(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ExperimentRecord>, StoreError>;
    /// Extends `worker`'s lease; `false` when it no longer holds the experiment.
    async fn renew_lease(
        &self,
        experiment_id: &str,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records the end of `worker`'s run: DONE with its result, FAILED with its error, or
    /// back to QUEUED (a failure that may be retried). `false` when the worker no longer
    /// held the lease (nothing is written).
    async fn finish_experiment(
        &self,
        experiment_id: &str,
        worker: &str,
        outcome: ExperimentEnd<'_>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Every experiment, newest first (optionally of one search).
    async fn experiments(
        &self,
        sweep_id: Option<&str>,
    ) -> Result<Vec<ExperimentRecord>, StoreError>;
    /// How many experiments are in each state (`QUEUED` is the queue's length).
    async fn experiment_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;
}

/// How a worker's run of an experiment ended.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExperimentEnd<'a> {
    /// It ran; the evaluation as JSON.
    Done(&'a str),
    /// It cannot run (the reason); final.
    Failed(&'a str),
    /// It failed in a way a later attempt may not (the reason); queued again.
    Retry(&'a str),
    /// It was paused before its end (why); queued again, the claim not counted as an
    /// attempt.
    Paused(&'a str),
}

const COLUMNS: &str = "experiment_id, sweep_id, proposal_id, priority, state, spec, lease_owner, lease_expires, \
     attempts, result, error, created_at, finished_at";

type Row = (
    String,
    String,
    Option<String>,
    i64,
    String,
    String,
    Option<String>,
    Option<DateTime<Utc>>,
    i64,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

fn to_record(r: Row) -> ExperimentRecord {
    ExperimentRecord {
        experiment_id: r.0,
        sweep_id: r.1,
        proposal_id: r.2,
        priority: r.3,
        state: r.4,
        spec: r.5,
        lease_owner: r.6,
        lease_expires: r.7,
        attempts: r.8,
        result: r.9,
        error: r.10,
        created_at: r.11,
        finished_at: r.12,
    }
}

#[async_trait]
impl ExperimentStore for RuntimeDb {
    async fn enqueue_experiment(&self, e: &ExperimentRecord) -> Result<bool, StoreError> {
        let sql = format!(
            "INSERT INTO kronos_experiments ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, 0, NULL, NULL, $7, NULL) \
             ON CONFLICT (experiment_id) DO NOTHING"
        );
        let n = on_pool!(&self.pool, p => {
            let mut c = p.write_conn().await.map_err(StoreError::query("queue experiment"))?;
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&e.experiment_id).bind(&e.sweep_id).bind(&e.proposal_id).bind(e.priority)
                .bind("QUEUED").bind(&e.spec).bind(e.created_at)
                .execute(&mut *c).await.map_err(StoreError::query("queue experiment"))?
                .rows_affected()
        });
        Ok(n > 0)
    }

    async fn claim_experiment(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<ExperimentRecord>, StoreError> {
        let what = "claim experiment";
        let lock = match self.pool {
            Pool::Postgres(_) => " FOR UPDATE SKIP LOCKED",
            Pool::Sqlite(_) => "",
        };
        let sql = format!(
            "UPDATE kronos_experiments SET state = 'RUNNING', lease_owner = $1, lease_expires = $2, \
             attempts = attempts + 1 WHERE experiment_id = (SELECT experiment_id FROM kronos_experiments \
             WHERE state = 'QUEUED' OR (state = 'RUNNING' AND lease_expires < $3) \
             ORDER BY priority, created_at, experiment_id LIMIT 1{lock}) RETURNING {COLUMNS}"
        );
        let row: Option<Row> = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            let row: Option<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(worker).bind(lease_until).bind(now)
                .fetch_optional(&mut *tx).await.map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))?;
            row
        });
        Ok(row.map(to_record))
    }

    async fn renew_lease(
        &self,
        experiment_id: &str,
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        const SQL: &str = "UPDATE kronos_experiments SET lease_expires = $1 WHERE experiment_id = $2 \
             AND lease_owner = $3 AND state = 'RUNNING'";
        let n = on_pool!(&self.pool, p => {
            let mut c = p.write_conn().await.map_err(StoreError::query("renew lease"))?;
            sqlx::query(SQL).bind(lease_until).bind(experiment_id).bind(worker)
                .execute(&mut *c).await.map_err(StoreError::query("renew lease"))?
                .rows_affected()
        });
        Ok(n > 0)
    }

    async fn finish_experiment(
        &self,
        experiment_id: &str,
        worker: &str,
        outcome: ExperimentEnd<'_>,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (state, result, error, finished, given_back) = match outcome {
            ExperimentEnd::Done(r) => ("DONE", Some(r), None, Some(at), 0_i64),
            ExperimentEnd::Failed(e) => ("FAILED", None, Some(e), Some(at), 0),
            ExperimentEnd::Retry(e) => ("QUEUED", None, Some(e), None, 0),
            ExperimentEnd::Paused(e) => ("QUEUED", None, Some(e), None, 1),
        };
        const SQL: &str = "UPDATE kronos_experiments SET state = $1, result = $2, error = $3, finished_at = $4, \
             lease_owner = NULL, lease_expires = NULL, attempts = attempts - $7 \
             WHERE experiment_id = $5 AND lease_owner = $6 AND state = 'RUNNING'";
        let n = on_pool!(&self.pool, p => {
            let mut c = p.write_conn().await.map_err(StoreError::query("finish experiment"))?;
            sqlx::query(SQL).bind(state).bind(result).bind(error).bind(finished)
                .bind(experiment_id).bind(worker).bind(given_back)
                .execute(&mut *c).await.map_err(StoreError::query("finish experiment"))?
                .rows_affected()
        });
        Ok(n > 0)
    }

    async fn experiment_counts(
        &self,
    ) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        super::pool::counts_by_state(&self.pool, "kronos_experiments").await
    }

    async fn experiments(
        &self,
        sweep_id: Option<&str>,
    ) -> Result<Vec<ExperimentRecord>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM kronos_experiments WHERE ($1 IS NULL OR sweep_id = $1) \
             ORDER BY created_at DESC, priority, experiment_id"
        );
        let rows: Vec<Row> = on_pool!(&self.pool, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(sweep_id)
            .fetch_all(p).await.map_err(StoreError::query("read experiments"))?);
        Ok(rows.into_iter().map(to_record).collect())
    }
}

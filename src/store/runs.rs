//! DAG runs and job attempts, the durable record the orchestrator resumes from.

use super::RuntimeDb;
use super::bulk::{BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::statement::Statement;
use super::writer::BeginBatch;
use crate::domain::{AttemptState, ConfigId, ErrorClass, RunStatus};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;

/// One activation of a DAG for a market and date.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DagRunRecord {
    /// Unique run id.
    pub run_id: String,
    /// The DAG's id from `config/dags.toml`.
    pub dag_id: String,
    /// Market the run is for (global DAGs have none).
    pub market_id: Option<String>,
    /// Trading date the run is for.
    pub as_of_date: Option<NaiveDate>,
    /// Where the run stands.
    pub state: RunStatus,
    /// What activated it (`schedule`, `cli`, `backfill`, `resume`…).
    pub trigger: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it reached a final state.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One attempt of one job of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRunRecord {
    /// The run.
    pub run_id: String,
    /// The job's id within the DAG.
    pub job_id: String,
    /// 1-based attempt number.
    pub attempt: u32,
    /// The actor that ran it.
    pub actor: String,
    /// How it stands.
    pub state: AttemptState,
    /// Why it failed, when it did: whether it was retried.
    pub error_class: Option<ErrorClass>,
    /// The engine config the attempt ran with.
    pub config_id: Option<String>,
    /// When the attempt started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Why it failed, if it did.
    pub error: Option<String>,
}

/// One write of the orchestrator's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunRecord {
    /// A DAG run upsert.
    Run(DagRunRecord),
    /// A job attempt upsert.
    Job(JobRunRecord),
}

/// Run bookkeeping.
#[async_trait]
pub trait RunStore {
    /// Applies the upserts in order, in one transaction.
    async fn record_runs(&self, records: &[RunRecord]) -> Result<(), StoreError>;
    /// Inserts or updates a DAG run by `run_id`.
    async fn upsert_dag_run(&self, run: &DagRunRecord) -> Result<(), StoreError>;
    /// Inserts or updates a job attempt by `(run_id, job_id, attempt)`.
    async fn upsert_job_run(&self, job: &JobRunRecord) -> Result<(), StoreError>;
    /// The most recent `last` DAG runs, newest first.
    async fn dag_runs(&self, last: u32) -> Result<Vec<DagRunRecord>, StoreError>;
    /// One DAG run.
    async fn dag_run(&self, run_id: &str) -> Result<Option<DagRunRecord>, StoreError>;
    /// DAG runs not in a final state (to resume after a crash), oldest first.
    async fn unfinished_dag_runs(&self) -> Result<Vec<DagRunRecord>, StoreError>;
    /// Every attempt of every job of a run, by job then attempt.
    async fn job_runs(&self, run_id: &str) -> Result<Vec<JobRunRecord>, StoreError>;
    /// Every DAG run for `market` on session `as_of`, oldest first: a day's pipeline as
    /// the dashboard draws it.
    async fn runs_on(
        &self,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<DagRunRecord>, StoreError>;
    /// The succeeded attempts of the runs for `market` with sessions in `[from, to]`, each
    /// with its run's DAG: what a job's usual latency is measured from.
    async fn succeeded_attempts(
        &self,
        market: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, JobRunRecord)>, StoreError>;
    /// The config the latest successful attempt of `actor` for `market` on `as_of` ran
    /// with, in any run: how a job finds the rows an upstream actor of another DAG's run
    /// wrote (the joint encoder reads the encoders of the `features` run).
    async fn succeeded_config(
        &self,
        market: &str,
        as_of: NaiveDate,
        actor: &str,
    ) -> Result<Option<ConfigId>, StoreError>;
    /// The latest successful attempt of each actor in the runs of DAG `dag_id` for
    /// `market` on `as_of` (re-runs included), by actor: what Kronos logs as the day's
    /// decisions.
    async fn succeeded_jobs(
        &self,
        dag_id: &str,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<JobRunRecord>, StoreError>;
}

/// A `job_runs` row as read: run, job, attempt, state, config, started, finished, error,
/// error class, actor.
type JobRow = (
    String,
    String,
    i64,
    String,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Attempts from their rows; a stored state this binary does not know is corrupt.
fn job_records(rows: Vec<JobRow>) -> Result<Vec<JobRunRecord>, StoreError> {
    rows.into_iter()
        .map(
            |(
                run_id,
                job_id,
                attempt,
                state,
                config_id,
                started_at,
                finished_at,
                error,
                class,
                actor,
            )| {
                Ok(JobRunRecord {
                    run_id,
                    job_id,
                    attempt: u32::try_from(attempt).map_err(|_| StoreError::Corrupt {
                        what: "job_runs.attempt",
                        detail: attempt.to_string(),
                    })?,
                    actor: actor.unwrap_or_default(),
                    state: stored_state(&state, "job_runs.state", AttemptState::parse)?,
                    error_class: class
                        .map(|c| stored_state(&c, "job_runs.error_class", ErrorClass::parse))
                        .transpose()?,
                    config_id,
                    started_at,
                    finished_at,
                    error,
                })
            },
        )
        .collect()
}

type DagTuple = (
    String,
    String,
    Option<String>,
    Option<NaiveDate>,
    String,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);

fn to_dag(
    (run_id, dag_id, market_id, as_of_date, state, trigger, created_at, finished_at, error): DagTuple,
) -> Result<DagRunRecord, StoreError> {
    Ok(DagRunRecord {
        state: stored_state(&state, "dag_runs.state", RunStatus::parse)?,
        run_id,
        dag_id,
        market_id,
        as_of_date,
        trigger,
        created_at,
        finished_at,
        error,
    })
}

/// A stored enum value, or a `Corrupt` error naming the column.
fn stored_state<T>(
    text: &str,
    what: &'static str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt {
        what,
        detail: format!("unknown value `{text}`"),
    })
}

const DAG_COLUMNS: &str =
    "run_id, dag_id, market_id, as_of_date, state, trigger, created_at, finished_at, error";

const UPSERT_DAG_RUN: &str = "INSERT INTO dag_runs (run_id, dag_id, market_id, as_of_date, state, trigger, created_at, finished_at, error) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (run_id) DO UPDATE SET \
     state = excluded.state, finished_at = excluded.finished_at, error = excluded.error";

const UPSERT_JOB_RUN: &str = "INSERT INTO job_runs (run_id, job_id, attempt, state, config_id, started_at, finished_at, error, error_class, actor) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (run_id, job_id, attempt) DO UPDATE SET \
     state = excluded.state, config_id = excluded.config_id, finished_at = excluded.finished_at, \
     error = excluded.error, error_class = excluded.error_class, actor = excluded.actor";

/// `dag_runs` as the orchestrator's record writes it.
const DAG_RUNS: TableSpec = TableSpec {
    name: "dag_runs",
    columns: &[
        "run_id",
        "dag_id",
        "market_id",
        "as_of_date",
        "state",
        "trigger",
        "created_at",
        "finished_at",
        "error",
    ],
    key: &["run_id"],
};

/// What a run's later records leave as its first one wrote it.
const DAG_RUN_KEPT: &[&str] = &["dag_id", "market_id", "as_of_date", "trigger", "created_at"];

/// `job_runs` as the orchestrator's record writes it.
const JOB_RUNS: TableSpec = TableSpec {
    name: "job_runs",
    columns: &[
        "run_id",
        "job_id",
        "attempt",
        "state",
        "config_id",
        "started_at",
        "finished_at",
        "error",
        "error_class",
        "actor",
    ],
    key: &["run_id", "job_id", "attempt"],
};

/// What an attempt's later records leave as its first one wrote it: when it started (an
/// attempt marked interrupted at a restart keeps its original start).
const JOB_RUN_KEPT: &[&str] = &["started_at"];

/// A batch of records as one row per run and one per attempt, in order of first
/// appearance, each what the records applied one by one as upserts would leave: the
/// first record's kept columns, the last one's others. (PostgreSQL refuses a multi-row
/// upsert that names a key twice.)
fn merged(records: &[RunRecord]) -> (Vec<DagRunRecord>, Vec<JobRunRecord>) {
    let (mut runs, mut jobs): (Vec<DagRunRecord>, Vec<JobRunRecord>) = (Vec::new(), Vec::new());
    let mut run_at: HashMap<&str, usize> = HashMap::new();
    let mut job_at: HashMap<(&str, &str, u32), usize> = HashMap::new();
    for r in records {
        match r {
            RunRecord::Run(run) => match run_at.get(run.run_id.as_str()) {
                Some(&i) => {
                    let first = &mut runs[i];
                    first.state = run.state;
                    first.finished_at = run.finished_at;
                    first.error.clone_from(&run.error);
                }
                None => {
                    run_at.insert(&run.run_id, runs.len());
                    runs.push(run.clone());
                }
            },
            RunRecord::Job(job) => {
                match job_at.get(&(job.run_id.as_str(), job.job_id.as_str(), job.attempt)) {
                    Some(&i) => {
                        jobs[i] = JobRunRecord {
                            started_at: jobs[i].started_at,
                            ..job.clone()
                        };
                    }
                    None => {
                        job_at.insert((&job.run_id, &job.job_id, job.attempt), jobs.len());
                        jobs.push(job.clone());
                    }
                }
            }
        }
    }
    (runs, jobs)
}

/// Binds a DAG run's columns, in `UPSERT_DAG_RUN` order, on either backend.
macro_rules! bind_dag_run {
    ($q:expr, $run:expr) => {
        $q.bind(&$run.run_id)
            .bind(&$run.dag_id)
            .bind(&$run.market_id)
            .bind($run.as_of_date)
            .bind($run.state.as_str())
            .bind(&$run.trigger)
            .bind($run.created_at)
            .bind($run.finished_at)
            .bind(&$run.error)
    };
}

/// Binds a job attempt's columns, in `UPSERT_JOB_RUN` order, on either backend.
macro_rules! bind_job_run {
    ($q:expr, $job:expr) => {
        $q.bind(&$job.run_id)
            .bind(&$job.job_id)
            .bind(i64::from($job.attempt))
            .bind($job.state.as_str())
            .bind(&$job.config_id)
            .bind($job.started_at)
            .bind($job.finished_at)
            .bind(&$job.error)
            .bind($job.error_class.map(|c| c.as_str()))
            .bind(&$job.actor)
    };
}

#[async_trait]
impl RunStore for RuntimeDb {
    async fn record_runs(&self, records: &[RunRecord]) -> Result<(), StoreError> {
        let (runs, jobs) = merged(records);
        let run_rows: Vec<_> = runs
            .iter()
            .map(|r| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.text(&r.run_id);
                    k.text(&r.dag_id);
                    k.opt_text(r.market_id.as_deref());
                    k.opt_date(r.as_of_date);
                    k.text(r.state.as_str());
                    k.text(&r.trigger);
                    k.timestamp(Some(r.created_at));
                    k.timestamp(r.finished_at);
                    k.opt_text(r.error.as_deref());
                })
            })
            .collect();
        let job_rows: Vec<_> = jobs
            .iter()
            .map(|j| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.text(&j.run_id);
                    k.text(&j.job_id);
                    k.int(i64::from(j.attempt));
                    k.text(j.state.as_str());
                    k.opt_text(j.config_id.as_deref());
                    k.timestamp(Some(j.started_at));
                    k.timestamp(j.finished_at);
                    k.opt_text(j.error.as_deref());
                    k.opt_text(j.error_class.map(|c| c.as_str()));
                    k.text(&j.actor);
                })
            })
            .collect();
        let tuning = BulkTuning::default();
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("begin run records"))?;
            // Runs first: attempts reference them.
            tx.write_rows(&DAG_RUNS, &run_rows, WriteMode::UpsertKeeping(DAG_RUN_KEPT), &tuning).await?;
            tx.write_rows(&JOB_RUNS, &job_rows, WriteMode::UpsertKeeping(JOB_RUN_KEPT), &tuning).await?;
            tx.commit().await.map_err(StoreError::query("commit run records"))
        })
    }

    async fn upsert_dag_run(&self, run: &DagRunRecord) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("write dag run"))?;
            tx.run(bind_dag_run!(Statement::new(UPSERT_DAG_RUN), run)).await.map_err(StoreError::query("write dag run"))?;
            tx.commit().await.map_err(StoreError::query("write dag run"))
        })
    }

    async fn upsert_job_run(&self, job: &JobRunRecord) -> Result<(), StoreError> {
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query("write job run"))?;
            tx.run(bind_job_run!(Statement::new(UPSERT_JOB_RUN), job)).await.map_err(StoreError::query("write job run"))?;
            tx.commit().await.map_err(StoreError::query("write job run"))
        })
    }

    async fn dag_runs(&self, last: u32) -> Result<Vec<DagRunRecord>, StoreError> {
        let sql = format!(
            "SELECT {DAG_COLUMNS} FROM dag_runs ORDER BY created_at DESC, run_id DESC LIMIT $1"
        );
        let rows: Vec<DagTuple> = self
            .reads()
            .query_as(sql)
            .bind(i64::from(last))
            .fetch_all()
            .await
            .map_err(StoreError::query("read dag runs"))?;
        rows.into_iter().map(to_dag).collect()
    }

    async fn dag_run(&self, run_id: &str) -> Result<Option<DagRunRecord>, StoreError> {
        let sql = format!("SELECT {DAG_COLUMNS} FROM dag_runs WHERE run_id = $1");
        let row: Option<DagTuple> = self
            .reads()
            .query_as(sql)
            .bind(run_id)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read dag run"))?;
        row.map(to_dag).transpose()
    }

    async fn unfinished_dag_runs(&self) -> Result<Vec<DagRunRecord>, StoreError> {
        let sql = format!(
            "SELECT {DAG_COLUMNS} FROM dag_runs WHERE state = '{}' ORDER BY created_at, run_id",
            RunStatus::Running.as_str()
        );
        let rows: Vec<DagTuple> = self
            .reads()
            .query_as(sql)
            .fetch_all()
            .await
            .map_err(StoreError::query("read unfinished dag runs"))?;
        rows.into_iter().map(to_dag).collect()
    }

    async fn job_runs(&self, run_id: &str) -> Result<Vec<JobRunRecord>, StoreError> {
        const SQL: &str = "SELECT run_id, job_id, attempt, state, config_id, started_at, finished_at, error, \
             error_class, actor FROM job_runs WHERE run_id = $1 ORDER BY job_id, attempt";
        let rows: Vec<JobRow> = self
            .reads()
            .query_as(SQL)
            .bind(run_id)
            .fetch_all()
            .await
            .map_err(StoreError::query("read job runs"))?;
        job_records(rows)
    }

    async fn runs_on(
        &self,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<DagRunRecord>, StoreError> {
        let sql = format!(
            "SELECT {DAG_COLUMNS} FROM dag_runs WHERE market_id = $1 AND as_of_date = $2 \
             ORDER BY created_at, run_id"
        );
        let rows: Vec<DagTuple> = self
            .reads()
            .query_as(sql)
            .bind(market)
            .bind(as_of)
            .fetch_all()
            .await
            .map_err(StoreError::query("read the day's dag runs"))?;
        rows.into_iter().map(to_dag).collect()
    }

    async fn succeeded_attempts(
        &self,
        market: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<(String, JobRunRecord)>, StoreError> {
        const SQL: &str = "SELECT j.run_id, j.job_id, j.attempt, j.state, j.config_id, j.started_at, j.finished_at, \
             j.error, j.error_class, j.actor, d.dag_id FROM dag_runs d CROSS JOIN job_runs j \
             WHERE d.market_id = $1 AND d.as_of_date >= $2 AND d.as_of_date <= $3 AND j.run_id = d.run_id \
             AND j.state = $4 ORDER BY d.as_of_date, j.run_id, j.job_id, j.attempt";
        type Row = (
            String,
            String,
            i64,
            String,
            Option<String>,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<String>,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(from)
            .bind(to)
            .bind(AttemptState::Succeeded.as_str())
            .fetch_all()
            .await
            .map_err(StoreError::query("read succeeded attempts"))?;
        let (dags, jobs): (Vec<String>, Vec<JobRow>) = rows
            .into_iter()
            .map(|r| (r.10, (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9)))
            .unzip();
        Ok(dags.into_iter().zip(job_records(jobs)?).collect())
    }

    async fn succeeded_jobs(
        &self,
        dag_id: &str,
        market: &str,
        as_of: NaiveDate,
    ) -> Result<Vec<JobRunRecord>, StoreError> {
        const SQL: &str = "SELECT j.run_id, j.job_id, j.attempt, j.state, j.config_id, j.started_at, j.finished_at, \
             j.error, j.error_class, j.actor FROM dag_runs d CROSS JOIN job_runs j \
             WHERE d.market_id = $1 AND d.as_of_date = $2 AND d.dag_id = $3 AND j.run_id = d.run_id \
             AND j.state = $4 ORDER BY j.finished_at, j.run_id, j.job_id";
        let rows: Vec<JobRow> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .bind(dag_id)
            .bind(AttemptState::Succeeded.as_str())
            .fetch_all()
            .await
            .map_err(StoreError::query("read a date's successful jobs"))?;
        let mut latest: std::collections::BTreeMap<String, JobRunRecord> =
            std::collections::BTreeMap::new();
        for job in job_records(rows)? {
            latest.insert(job.actor.clone(), job);
        }
        Ok(latest.into_values().collect())
    }

    async fn succeeded_config(
        &self,
        market: &str,
        as_of: NaiveDate,
        actor: &str,
    ) -> Result<Option<ConfigId>, StoreError> {
        const SQL: &str = "SELECT j.config_id FROM job_runs j JOIN dag_runs d ON d.run_id = j.run_id \
             WHERE d.market_id = $1 AND d.as_of_date = $2 AND j.actor = $3 AND j.state = $4 \
             AND j.config_id IS NOT NULL ORDER BY j.finished_at DESC, j.run_id DESC LIMIT 1";
        let row: Option<(String,)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .bind(as_of)
            .bind(actor)
            .bind(AttemptState::Succeeded.as_str())
            .fetch_optional()
            .await
            .map_err(StoreError::query("read an upstream actor's config"))?;
        Ok(row.map(|(c,)| ConfigId::new(c)))
    }
}

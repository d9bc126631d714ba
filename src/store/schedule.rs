//! The scheduler's durable record: fired and skipped activations, and its watermark.

use super::RuntimeDb;
use super::bulk::{BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::statement::Statement;
use super::tx::BeginWrite;
use super::writer::BeginBatch;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

/// One activation the scheduler decided on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Activation {
    /// `<dag>:<market>:<date>:<STATE>` or `<dag>:cron:<instant>`: unique per due moment.
    pub activation_id: String,
    /// The scheduler that decided (`daemon`, `backfill`…).
    pub scheduler_id: String,
    /// The DAG.
    pub dag_id: String,
    /// The market (`GLOBAL` for cron DAGs).
    pub market_id: String,
    /// The trading date of the run.
    pub as_of_date: NaiveDate,
    /// What triggered it (`POST_CLOSE`, `cron 0 30 6 * * Mon-Fri`…).
    pub trigger: String,
    /// When it was due.
    pub due_at: DateTime<Utc>,
    /// When it was decided (scheduler clock).
    pub fired_at: DateTime<Utc>,
    /// `fired`, `skipped` (catch-up policy) or `refused` (the orchestrator declined it).
    pub outcome: String,
    /// The run it started.
    pub run_id: Option<String>,
}

/// Scheduler bookkeeping.
#[async_trait]
pub trait ScheduleStore {
    /// Records an activation; `false` when one with that id exists already (nothing written).
    async fn record_activation(&self, a: &Activation) -> Result<bool, StoreError>;
    /// Records activations in one write (those already recorded are left as they are).
    async fn record_activations(&self, all: &[Activation]) -> Result<(), StoreError>;
    /// Whether an activation with this id was recorded.
    async fn activation_exists(&self, activation_id: &str) -> Result<bool, StoreError>;
    /// Activations due in `[from, to]`, by due time then id.
    async fn activations(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Activation>, StoreError>;
    /// The scheduler's watermark: every activation due at or before it was handled.
    async fn watermark(&self, scheduler_id: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Moves the watermark.
    async fn set_watermark(&self, scheduler_id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
}

type ActivationRow = (
    String,
    String,
    String,
    String,
    NaiveDate,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<String>,
);

/// `scheduler_activations` as bulk writes see it.
const ACTIVATIONS: TableSpec = TableSpec {
    name: "scheduler_activations",
    columns: &[
        "activation_id",
        "scheduler_id",
        "dag_id",
        "market_id",
        "as_of_date",
        "trigger",
        "due_at",
        "fired_at",
        "outcome",
        "run_id",
    ],
    key: &["activation_id"],
};

#[async_trait]
impl ScheduleStore for RuntimeDb {
    async fn record_activation(&self, a: &Activation) -> Result<bool, StoreError> {
        const SQL: &str = "INSERT INTO scheduler_activations \
             (activation_id, scheduler_id, dag_id, market_id, as_of_date, trigger, due_at, fired_at, outcome, run_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (activation_id) DO NOTHING";
        let done = on_pool!(&self.pool, p => {
            let mut c = p.write_conn().await.map_err(StoreError::query("record activation"))?;
            sqlx::query(SQL)
            .bind(&a.activation_id)
            .bind(&a.scheduler_id)
            .bind(&a.dag_id)
            .bind(&a.market_id)
            .bind(a.as_of_date)
            .bind(&a.trigger)
            .bind(a.due_at)
            .bind(a.fired_at)
            .bind(&a.outcome)
            .bind(&a.run_id)
            .execute(&mut *c)
            .await
            .map(|done| done.rows_affected())
            .map_err(StoreError::query("record activation"))?
        });
        Ok(done == 1)
    }

    async fn record_activations(&self, all: &[Activation]) -> Result<(), StoreError> {
        let rows: Vec<_> = all
            .iter()
            .map(|a| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.text(&a.activation_id);
                    k.text(&a.scheduler_id);
                    k.text(&a.dag_id);
                    k.text(&a.market_id);
                    k.date(a.as_of_date);
                    k.text(&a.trigger);
                    k.timestamp(Some(a.due_at));
                    k.timestamp(Some(a.fired_at));
                    k.text(&a.outcome);
                    k.opt_text(a.run_id.as_deref());
                })
            })
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let what = "record activations";
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.write_rows(&ACTIVATIONS, &rows, WriteMode::InsertNew, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query(what))
        })
    }

    async fn activation_exists(&self, activation_id: &str) -> Result<bool, StoreError> {
        const SQL: &str = "SELECT COUNT(*) FROM scheduler_activations WHERE activation_id = $1";
        let n: i64 = self
            .reads()
            .query_scalar(SQL)
            .bind(activation_id)
            .fetch_one()
            .await
            .map_err(StoreError::query("look up activation"))?;
        Ok(n > 0)
    }

    async fn activations(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Activation>, StoreError> {
        const SQL: &str = "SELECT activation_id, scheduler_id, dag_id, market_id, as_of_date, trigger, due_at, fired_at, outcome, run_id \
             FROM scheduler_activations WHERE due_at >= $1 AND due_at <= $2 ORDER BY due_at, activation_id";
        let rows: Vec<ActivationRow> = self
            .reads()
            .query_as(SQL)
            .bind(from)
            .bind(to)
            .fetch_all()
            .await
            .map_err(StoreError::query("read activations"))?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    activation_id,
                    scheduler_id,
                    dag_id,
                    market_id,
                    as_of_date,
                    trigger,
                    due_at,
                    fired_at,
                    outcome,
                    run_id,
                )| Activation {
                    activation_id,
                    scheduler_id,
                    dag_id,
                    market_id,
                    as_of_date,
                    trigger,
                    due_at,
                    fired_at,
                    outcome,
                    run_id,
                },
            )
            .collect())
    }

    async fn watermark(&self, scheduler_id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        const SQL: &str = "SELECT watermark FROM scheduler_state WHERE scheduler_id = $1";
        self.reads()
            .query_scalar(SQL)
            .bind(scheduler_id)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read scheduler watermark"))
    }

    async fn set_watermark(&self, scheduler_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO scheduler_state (scheduler_id, watermark) VALUES ($1, $2) \
             ON CONFLICT (scheduler_id) DO UPDATE SET watermark = excluded.watermark";
        // Through the batching writer: one session's watermark a session in a backfill.
        let what = "write scheduler watermark";
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.run(Statement::new(SQL).bind(scheduler_id).bind(at))
                .await
                .map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))
        })
    }
}

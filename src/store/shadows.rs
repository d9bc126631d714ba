//! Shadow mode's storage: which passed proposals run beside the active config, and what
//! each of their sessions did.
//!
//! Putting a proposal in shadow is a proposal transition (PASSED → SHADOW, audited), its
//! config stored as a version (never activated) and its shadow row, in one transaction. Engine actors read the active shadows when they
//! start and when told; each shadow run of a session is upserted by (proposal, date), so a
//! re-run of the day writes the same row.

use super::RuntimeDb;
use super::configs::{ConfigTuple, SELECT_CONFIG_BY_ID, StoredConfig, stored_version, to_stored};
use super::error::StoreError;
use super::kronos::{
    INSERT_AUDIT, PROPOSAL_COLUMNS, ProposalRecord, ProposalRow, ProposalState, TransitionError,
    allowed, proposal_in, set_state, to_proposal,
};
use super::pool::on_pool;
use super::tx::BeginWrite;
use crate::domain::ConfigId;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

/// A proposal running in shadow, with the body its engine runs.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowSpec {
    /// The proposal.
    pub proposal_id: String,
    /// Its engine.
    pub engine: String,
    /// The market whose daily chain it shadows.
    pub market_id: String,
    /// The candidate's config id (its outputs are stored under it).
    pub config_id: String,
    /// The candidate's body (canonical JSON).
    pub body: String,
    /// The DAG whose runs it shadows (Kronos's decision DAG).
    pub dag_id: String,
    /// Sessions it runs before it is due for a decision.
    pub sessions: u32,
    /// When it was started.
    pub started_at: DateTime<Utc>,
    /// Who started it.
    pub started_by: String,
}

/// One session of a shadow.
#[derive(Clone, Debug, PartialEq)]
pub struct ShadowRun {
    /// The proposal.
    pub proposal_id: String,
    /// The session.
    pub as_of: NaiveDate,
    /// Its engine.
    pub engine: String,
    /// The market.
    pub market_id: String,
    /// The candidate's config id.
    pub config_id: String,
    /// The run it shadowed.
    pub run_id: String,
    /// `SUCCEEDED` or `FAILED`.
    pub state: String,
    /// The job's summary, or why it failed.
    pub detail: String,
}

/// Shadow storage.
#[async_trait]
pub trait ShadowStore {
    /// Puts a PASSED proposal in shadow on `dag_id` for `sessions` sessions: the
    /// transition, its audit row and the shadow row in one transaction. Returns the
    /// proposal as it was before.
    async fn start_shadow(
        &self,
        id: &str,
        dag_id: &str,
        sessions: u32,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError>;
    /// The proposals in shadow now (state SHADOW), optionally of one engine.
    async fn active_shadows(&self, engine: Option<&str>) -> Result<Vec<ShadowSpec>, StoreError>;
    /// The shadow row of a proposal, whatever its state now.
    async fn shadow(&self, id: &str) -> Result<Option<ShadowSpec>, StoreError>;
    /// Upserts one session's shadow run.
    async fn record_shadow_run(&self, run: &ShadowRun) -> Result<(), StoreError>;
    /// Shadow runs of one proposal (by date), or of one market's session.
    async fn shadow_runs(
        &self,
        proposal: Option<&str>,
        session: Option<(&str, NaiveDate)>,
    ) -> Result<Vec<ShadowRun>, StoreError>;
}

type SpecRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    i64,
    DateTime<Utc>,
    String,
);

const SPEC_SQL: &str = "SELECT s.proposal_id, s.engine, s.market_id, s.config_id, p.body, s.dag_id, \
     s.sessions, s.started_at, s.started_by FROM kronos_shadows s \
     JOIN kronos_proposals p ON p.proposal_id = s.proposal_id";

fn to_spec(r: SpecRow) -> ShadowSpec {
    ShadowSpec {
        proposal_id: r.0,
        engine: r.1,
        market_id: r.2,
        config_id: r.3,
        body: r.4,
        dag_id: r.5,
        sessions: u32::try_from(r.6).unwrap_or(0),
        started_at: r.7,
        started_by: r.8,
    }
}

#[async_trait]
impl ShadowStore for RuntimeDb {
    async fn start_shadow(
        &self,
        id: &str,
        dag_id: &str,
        sessions: u32,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError> {
        let what = "start shadow";
        let select =
            format!("SELECT {PROPOSAL_COLUMNS} FROM kronos_proposals WHERE proposal_id = $1");
        let before = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            let before = proposal_in!(tx, select, id);
            allowed!(before, id, ProposalState::Shadow);
            // The candidate becomes a stored version (never active): its outputs and
            // decisions name it like any other config.
            let config_id = ConfigId::new(before.config_id.clone());
            let _: StoredConfig = stored_version!(tx, before.engine.as_str(), config_id, before.body.as_str(), actor, at);
            sqlx::query(
                "INSERT INTO kronos_shadows (proposal_id, engine, market_id, config_id, dag_id, \
                 sessions, started_at, started_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(id)
            .bind(&before.engine)
            .bind(&before.market_id)
            .bind(&before.config_id)
            .bind(dag_id)
            .bind(i64::from(sessions))
            .bind(at)
            .bind(actor)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(what))?;
            let detail = format!("{reason} ({sessions} sessions of {dag_id})");
            set_state!(tx, id, &before.engine, ProposalState::Shadow, None::<&str>, actor, detail.as_str(), at);
            tx.commit().await.map_err(StoreError::query(what))?;
            before
        });
        Ok(before)
    }

    async fn active_shadows(&self, engine: Option<&str>) -> Result<Vec<ShadowSpec>, StoreError> {
        let sql = format!(
            "{SPEC_SQL} WHERE p.state = 'SHADOW' AND ($1 IS NULL OR s.engine = $1) \
             ORDER BY s.started_at, s.proposal_id"
        );
        let rows: Vec<SpecRow> = on_pool!(&self.pool, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(engine)
            .fetch_all(p).await.map_err(StoreError::query("read shadows"))?);
        Ok(rows.into_iter().map(to_spec).collect())
    }

    async fn shadow(&self, id: &str) -> Result<Option<ShadowSpec>, StoreError> {
        let sql = format!("{SPEC_SQL} WHERE s.proposal_id = $1");
        let row: Option<SpecRow> = on_pool!(&self.pool, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(p).await.map_err(StoreError::query("read shadow"))?);
        Ok(row.map(to_spec))
    }

    async fn record_shadow_run(&self, r: &ShadowRun) -> Result<(), StoreError> {
        const SQL: &str = "INSERT INTO kronos_shadow_runs (proposal_id, as_of_date, engine, market_id, \
             config_id, run_id, state, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (proposal_id, as_of_date) DO UPDATE SET run_id = excluded.run_id, \
             state = excluded.state, detail = excluded.detail";
        let what = "record shadow run";
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            sqlx::query(SQL)
                .bind(&r.proposal_id)
                .bind(r.as_of)
                .bind(&r.engine)
                .bind(&r.market_id)
                .bind(&r.config_id)
                .bind(&r.run_id)
                .bind(&r.state)
                .bind(&r.detail)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }

    async fn shadow_runs(
        &self,
        proposal: Option<&str>,
        session: Option<(&str, NaiveDate)>,
    ) -> Result<Vec<ShadowRun>, StoreError> {
        type Row = (
            String,
            NaiveDate,
            String,
            String,
            String,
            String,
            String,
            String,
        );
        const SQL: &str = "SELECT proposal_id, as_of_date, engine, market_id, config_id, run_id, state, detail \
             FROM kronos_shadow_runs WHERE ($1 IS NULL OR proposal_id = $1) \
             AND ($2 IS NULL OR market_id = $2) AND ($3 IS NULL OR as_of_date = $3) \
             ORDER BY as_of_date, proposal_id";
        let (market, day) = session.map_or((None, None), |(m, d)| (Some(m), Some(d)));
        let rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(proposal)
            .bind(market)
            .bind(day)
            .fetch_all()
            .await
            .map_err(StoreError::query("read shadow runs"))?;
        Ok(rows
            .into_iter()
            .map(|r| ShadowRun {
                proposal_id: r.0,
                as_of: r.1,
                engine: r.2,
                market_id: r.3,
                config_id: r.4,
                run_id: r.5,
                state: r.6,
                detail: r.7,
            })
            .collect())
    }
}

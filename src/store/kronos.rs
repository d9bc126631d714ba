//! Kronos's tables: the decision log, decision outcomes, candidate configs with their
//! states, the audit trail and the promotion freeze.
//!
//! Decisions and outcomes are upserted on their natural keys (a repeated Kronos job changes
//! nothing). Outcome reads take the date by which a value must have been known
//! (`known_by`), so analytics for a past date see only what was knowable then. A proposal's
//! state changes only along allowed transitions, each with its audit row in the same
//! transaction.

use super::RuntimeDb;
use super::bulk::{BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode};
use super::configs::{
    ConfigTuple, SELECT_CONFIG_BY_ID, StoredConfig, activated, stored_version, to_stored,
};
use super::error::StoreError;
use super::pool::on_pool;
use super::tx::BeginWrite;
use super::writer::BeginBatch;
use crate::domain::ConfigId;
use crate::kronos::analytics::OutcomeRecord;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

/// One engine job's decision, as logged.
#[derive(Clone, Debug, PartialEq)]
pub struct DecisionRecord {
    /// The engine.
    pub engine: String,
    /// The market.
    pub market_id: String,
    /// The decision's date.
    pub as_of: NaiveDate,
    /// The config it was made under.
    pub config_id: String,
    /// The DAG run it was part of.
    pub run_id: String,
    /// The table holding its outputs.
    pub output_table: String,
    /// Their id in that table (strategy, universe or portfolio id; the market for
    /// world-state engines).
    pub output_key: String,
    /// The job's one-line summary.
    pub summary: String,
}

/// How the summary of a shadow run's decision starts (followed by the proposal id).
pub const SHADOW_DECISION: &str = "shadow of proposal ";

impl DecisionRecord {
    /// Whether it is a candidate's decision in shadow (never in force downstream).
    pub fn is_shadow(&self) -> bool {
        self.summary.starts_with(SHADOW_DECISION)
    }
}

/// An outcome with when it became knowable and the Kronos run that computed it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredOutcome {
    /// The value and what it measures.
    pub record: OutcomeRecord,
    /// The horizon's last session.
    pub known_on: NaiveDate,
    /// The Kronos run that computed it.
    pub run_id: String,
}

/// A candidate config as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ProposalRecord {
    /// Content id of (engine, market, body, origin).
    pub proposal_id: String,
    /// The engine it configures.
    pub engine: String,
    /// The market its experiments run on.
    pub market_id: String,
    /// The candidate's config id.
    pub config_id: String,
    /// The active config it was derived from or compared with.
    pub base_config_id: String,
    /// The candidate's body (canonical JSON).
    pub body: String,
    /// Its changes (JSON list).
    pub changes: String,
    /// Where it came from (JSON).
    pub origin: String,
    /// The search it belongs to (candidates judged together).
    pub sweep_id: String,
    /// See [`ProposalState`].
    pub state: String,
    /// Why it is in that state.
    pub reason: String,
    /// When it was proposed.
    pub created_at: DateTime<Utc>,
    /// Who proposed it (`kronos`, a user).
    pub created_by: String,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
    /// The gates' verdicts (JSON list) once its experiment was judged.
    pub gates: Option<String>,
}

/// The life of a proposal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProposalState {
    /// Waiting for its experiment.
    Proposed,
    /// Refused before any experiment (out of bounds, loosens a hard limit, invalid).
    Refused,
    /// Its experiment passed every gate; a person may approve it (or run it in shadow).
    Passed,
    /// Running beside the active config in the daily chain, on the same inputs, its
    /// outputs stored under its own config and measured; a person decides after.
    Shadow,
    /// Its experiment failed a gate (the reasons are stored).
    Failed,
    /// Approved and made active.
    Promoted,
    /// Turned down by a person.
    Rejected,
    /// Was promoted, then reverted to the config before it.
    Reverted,
}

impl ProposalState {
    /// Every state.
    pub const ALL: [ProposalState; 8] = [
        Self::Proposed,
        Self::Refused,
        Self::Passed,
        Self::Shadow,
        Self::Failed,
        Self::Promoted,
        Self::Rejected,
        Self::Reverted,
    ];

    /// Its stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "PROPOSED",
            Self::Refused => "REFUSED",
            Self::Passed => "PASSED",
            Self::Shadow => "SHADOW",
            Self::Failed => "FAILED",
            Self::Promoted => "PROMOTED",
            Self::Rejected => "REJECTED",
            Self::Reverted => "REVERTED",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether a proposal may go from `self` to `to`.
    pub fn may_become(self, to: Self) -> bool {
        use ProposalState::*;
        matches!(
            (self, to),
            (Proposed, Passed | Failed | Refused | Rejected)
                | (Passed, Promoted | Rejected | Shadow)
                | (Shadow, Promoted | Rejected)
                | (Failed, Rejected)
                | (Promoted, Reverted)
        )
    }
}

/// One audited Kronos action.
#[derive(Clone, Debug, PartialEq)]
pub struct KronosAudit {
    /// Monotonic id.
    pub audit_id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`kronos`, a user, a token's identity).
    pub actor: String,
    /// What (`proposed`, `passed`, `promoted`, `freeze`…).
    pub action: String,
    /// The proposal concerned.
    pub proposal_id: Option<String>,
    /// The engine concerned.
    pub engine: Option<String>,
    /// Details.
    pub detail: String,
}

/// Whether promotion is frozen, why and by whom.
#[derive(Clone, Debug, PartialEq)]
pub struct FreezeState {
    /// Frozen?
    pub frozen: bool,
    /// Why (the last freeze or unfreeze).
    pub reason: String,
    /// Who set it.
    pub by: String,
    /// When.
    pub at: Option<DateTime<Utc>>,
}

/// Why a proposal could not change state.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    /// No proposal has the id.
    #[error("no proposal `{0}`; `pv2 kronos proposals` lists them")]
    Unknown(String),
    /// The move is not allowed from its current state.
    #[error("proposal {id} is {from}; it cannot become {to}")]
    NotAllowed {
        /// The proposal.
        id: String,
        /// Its state.
        from: String,
        /// The state asked for.
        to: String,
    },
    /// Promotion is frozen (why).
    #[error("promotion is frozen ({0}); `pv2 kronos unfreeze REASON` once the cause is fixed")]
    Frozen(String),
    /// The config a revert would restore is not stored.
    #[error(
        "the config {0} the proposal replaced is not stored; activate one by hand (`pv2 config apply`)"
    )]
    MissingBase(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Kronos storage.
#[async_trait]
pub trait KronosStore {
    /// Upserts decisions on (engine, market, date, config).
    async fn write_decisions(&self, rows: &[DecisionRecord]) -> Result<(), StoreError>;
    /// Decisions of a market dated in `[from, to]`, by date, engine and config.
    async fn decisions(
        &self,
        market: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DecisionRecord>, StoreError>;
    /// The date of the market's latest logged decision.
    async fn latest_decision_date(&self, market: &str) -> Result<Option<NaiveDate>, StoreError>;
    /// Upserts outcomes on (engine, market, date, config, subject, horizon, metric).
    async fn write_outcomes(&self, rows: &[StoredOutcome]) -> Result<(), StoreError>;
    /// Outcomes known by `known_by` (their horizon ended on or before it), optionally of
    /// one market and one engine, by date.
    async fn outcomes(
        &self,
        market: Option<&str>,
        engine: Option<&str>,
        known_by: NaiveDate,
    ) -> Result<Vec<StoredOutcome>, StoreError>;
    /// Decisions of a market dated on any of `dates`, by date, engine and config: the few
    /// dates a day's measuring reads, not the month between them.
    async fn decisions_on(
        &self,
        market: &str,
        dates: &[NaiveDate],
    ) -> Result<Vec<DecisionRecord>, StoreError>;
    /// Which of the (decision date, horizon) `pairs` of `market` have outcomes stored:
    /// what a day's catch-up need not measure again, one index probe a pair in one read.
    async fn measured(
        &self,
        market: &str,
        pairs: &[(NaiveDate, u32)],
    ) -> Result<std::collections::BTreeSet<(NaiveDate, u32)>, StoreError>;
    /// Stores a proposal unless one with its id exists; returns whether it was new. Its
    /// `proposed` audit row is written in the same transaction.
    async fn insert_proposal(&self, p: &ProposalRecord) -> Result<bool, StoreError>;
    /// Proposals, newest first, optionally in one state.
    async fn proposals(
        &self,
        state: Option<ProposalState>,
    ) -> Result<Vec<ProposalRecord>, StoreError>;
    /// How many proposals are in each state (`/metrics`).
    async fn proposal_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError>;
    /// One proposal.
    async fn proposal(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError>;
    /// Moves a proposal to `to` when its current state allows it, with an audit row, in one
    /// transaction; `gates` (the verdicts, JSON) is stored with it when given. Returns the
    /// proposal as it was before.
    async fn transition_proposal(
        &self,
        id: &str,
        to: ProposalState,
        gates: Option<&str>,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError>;
    /// Promotes a PASSED proposal: in one transaction its state becomes PROMOTED, its config
    /// becomes the engine's active one (stored as a version when new, audited in
    /// `config_changes`) and the audit row is written. Refused while promotion is frozen.
    /// Returns the proposal as it was before.
    async fn promote_proposal(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError>;
    /// Reverts a PROMOTED proposal: in one transaction the config it replaced becomes
    /// active again, the proposal becomes REVERTED and both are audited. Returns the
    /// proposal as it was before.
    async fn revert_proposal(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError>;
    /// The audit trail, oldest first (the last `last` rows).
    async fn kronos_audit(&self, last: u32) -> Result<Vec<KronosAudit>, StoreError>;
    /// The promotion freeze.
    async fn freeze_state(&self) -> Result<FreezeState, StoreError>;
    /// Freezes or unfreezes promotion, audited.
    async fn set_freeze(
        &self,
        frozen: bool,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

const DECISIONS: TableSpec = TableSpec {
    name: "engine_decisions",
    columns: &[
        "engine",
        "market_id",
        "as_of_date",
        "config_id",
        "run_id",
        "output_table",
        "output_key",
        "summary",
    ],
    key: &["engine", "market_id", "as_of_date", "config_id"],
};

const OUTCOMES: TableSpec = TableSpec {
    name: "decision_outcomes",
    columns: &[
        "engine",
        "market_id",
        "as_of_date",
        "config_id",
        "subject",
        "horizon_days",
        "metric",
        "value",
        "regime",
        "known_on",
        "run_id",
    ],
    key: &[
        "engine",
        "market_id",
        "as_of_date",
        "config_id",
        "subject",
        "horizon_days",
        "metric",
    ],
};

pub(super) const PROPOSAL_COLUMNS: &str = "proposal_id, engine, market_id, config_id, base_config_id, body, changes, origin, \
     sweep_id, state, reason, created_at, created_by, updated_at, gates";

pub(super) type ProposalRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    DateTime<Utc>,
    String,
    DateTime<Utc>,
    Option<String>,
);

pub(super) fn to_proposal(r: ProposalRow) -> ProposalRecord {
    ProposalRecord {
        proposal_id: r.0,
        engine: r.1,
        market_id: r.2,
        config_id: r.3,
        base_config_id: r.4,
        body: r.5,
        changes: r.6,
        origin: r.7,
        sweep_id: r.8,
        state: r.9,
        reason: r.10,
        created_at: r.11,
        created_by: r.12,
        updated_at: r.13,
        gates: r.14,
    }
}

pub(super) const INSERT_AUDIT: &str = "INSERT INTO kronos_audit (at, actor, action, proposal_id, engine, detail) \
     VALUES ($1, $2, $3, $4, $5, $6)";

const FREEZE_KEY: &str = "promotion_frozen";

/// Inside `$tx`: the proposal `$id` (or `TransitionError::Unknown`).
macro_rules! proposal_in {
    ($tx:ident, $select:expr, $id:expr) => {{
        let row: Option<ProposalRow> = sqlx::query_as(sqlx::AssertSqlSafe($select.clone()))
            .bind($id)
            .fetch_optional(&mut *$tx)
            .await
            .map_err(StoreError::query("read proposal"))?;
        match row {
            Some(r) => to_proposal(r),
            None => return Err(TransitionError::Unknown($id.to_owned())),
        }
    }};
}

/// Returns `TransitionError::NotAllowed` unless `$before` may become `$to`.
macro_rules! allowed {
    ($before:expr, $id:expr, $to:expr) => {
        if !ProposalState::parse(&$before.state).is_some_and(|s| s.may_become($to)) {
            return Err(TransitionError::NotAllowed {
                id: $id.to_owned(),
                from: $before.state.clone(),
                to: $to.as_str().to_owned(),
            });
        }
    };
}

/// Inside `$tx`: sets the proposal's state (and gates, when given) and writes the audit row.
macro_rules! set_state {
    ($tx:ident, $id:expr, $engine:expr, $to:expr, $gates:expr, $actor:expr, $reason:expr, $at:expr) => {
        sqlx::query(
            "UPDATE kronos_proposals SET state = $1, reason = $2, updated_at = $3, \
             gates = COALESCE($4, gates) WHERE proposal_id = $5",
        )
        .bind($to.as_str())
        .bind($reason)
        .bind($at)
        .bind($gates)
        .bind($id)
        .execute(&mut *$tx)
        .await
        .map_err(StoreError::query("change proposal state"))?;
        sqlx::query(INSERT_AUDIT)
            .bind($at)
            .bind($actor)
            .bind($to.as_str().to_ascii_lowercase())
            .bind($id)
            .bind($engine)
            .bind($reason)
            .execute(&mut *$tx)
            .await
            .map_err(StoreError::query("audit proposal"))?;
    };
}

pub(super) use {allowed, proposal_in, set_state};

/// The columns a [`DecisionRecord`] is read from, in [`DecisionRow`] order.
const DECISION_COLUMNS: &str =
    "engine, market_id, as_of_date, config_id, run_id, output_table, output_key, summary";

/// A row of [`DECISION_COLUMNS`].
type DecisionRow = (
    String,
    String,
    NaiveDate,
    String,
    String,
    String,
    String,
    String,
);

fn to_decision(r: DecisionRow) -> DecisionRecord {
    DecisionRecord {
        engine: r.0,
        market_id: r.1,
        as_of: r.2,
        config_id: r.3,
        run_id: r.4,
        output_table: r.5,
        output_key: r.6,
        summary: r.7,
    }
}

#[async_trait]
impl KronosStore for RuntimeDb {
    async fn write_decisions(&self, rows: &[DecisionRecord]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let cells: Vec<_> = rows
            .iter()
            .map(|r| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.text(&r.engine);
                    k.text(&r.market_id);
                    k.date(r.as_of);
                    k.text(&r.config_id);
                    k.text(&r.run_id);
                    k.text(&r.output_table);
                    k.text(&r.output_key);
                    k.text(&r.summary);
                })
            })
            .collect();
        let what = "write decisions";
        // Through the batching writer, as the engines' outputs they point at.
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.write_rows(&DECISIONS, &cells, WriteMode::Upsert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }

    async fn decisions(
        &self,
        market: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM engine_decisions WHERE market_id = $1 \
             AND as_of_date >= $2 AND as_of_date <= $3 ORDER BY as_of_date, engine, config_id"
        );
        let rows: Vec<DecisionRow> = on_pool!(&self.pool, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(market).bind(from).bind(to)
            .fetch_all(p).await.map_err(StoreError::query("read decisions"))?);
        Ok(rows.into_iter().map(to_decision).collect())
    }

    async fn decisions_on(
        &self,
        market: &str,
        dates: &[NaiveDate],
    ) -> Result<Vec<DecisionRecord>, StoreError> {
        if dates.is_empty() {
            return Ok(Vec::new());
        }
        let list = (2..dates.len() + 2)
            .map(|i| format!("${i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {DECISION_COLUMNS} FROM engine_decisions WHERE market_id = $1 \
             AND as_of_date IN ({list}) ORDER BY as_of_date, engine, config_id"
        );
        let rows: Vec<DecisionRow> = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone())).bind(market);
            for d in dates {
                q = q.bind(*d);
            }
            q.fetch_all(p).await.map_err(StoreError::query("read decisions"))?
        });
        Ok(rows.into_iter().map(to_decision).collect())
    }

    async fn latest_decision_date(&self, market: &str) -> Result<Option<NaiveDate>, StoreError> {
        const SQL: &str = "SELECT as_of_date FROM engine_decisions WHERE market_id = $1 \
             ORDER BY as_of_date DESC LIMIT 1";
        let row: Option<(NaiveDate,)> = self
            .reads()
            .query_as(SQL)
            .bind(market)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read latest decision"))?;
        Ok(row.map(|(d,)| d))
    }

    async fn write_outcomes(&self, rows: &[StoredOutcome]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let cells: Vec<_> = rows
            .iter()
            .map(|o| {
                CellsRow(move |k: &mut dyn CellSink| {
                    let r = &o.record;
                    k.text(&r.engine);
                    k.text(&r.market_id);
                    k.date(r.as_of);
                    k.text(&r.config_id);
                    k.text(&r.subject);
                    k.int(i64::from(r.horizon_days));
                    k.text(&r.metric);
                    k.real(Some(r.value));
                    k.opt_text(r.regime.as_deref());
                    k.date(o.known_on);
                    k.text(&o.run_id);
                })
            })
            .collect();
        let what = "write outcomes";
        // Through the batching writer: Kronos measures outcomes every session.
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.write_rows(&OUTCOMES, &cells, WriteMode::Upsert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }

    async fn outcomes(
        &self,
        market: Option<&str>,
        engine: Option<&str>,
        known_by: NaiveDate,
    ) -> Result<Vec<StoredOutcome>, StoreError> {
        type Row = (
            String,
            String,
            NaiveDate,
            String,
            String,
            i64,
            String,
            f64,
            Option<String>,
            NaiveDate,
            String,
        );
        const SQL: &str = "SELECT engine, market_id, as_of_date, config_id, subject, horizon_days, metric, value, \
             regime, known_on, run_id FROM decision_outcomes \
             WHERE known_on <= $1 AND ($2 IS NULL OR market_id = $2) AND ($3 IS NULL OR engine = $3) \
             ORDER BY as_of_date, engine, config_id, subject, horizon_days, metric";
        let rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(known_by)
            .bind(market)
            .bind(engine)
            .fetch_all()
            .await
            .map_err(StoreError::query("read outcomes"))?;
        Ok(rows
            .into_iter()
            .map(|r| StoredOutcome {
                record: OutcomeRecord {
                    engine: r.0,
                    market_id: r.1,
                    as_of: r.2,
                    config_id: r.3,
                    subject: r.4,
                    horizon_days: u32::try_from(r.5).unwrap_or(0),
                    metric: r.6,
                    value: r.7,
                    regime: r.8,
                },
                known_on: r.9,
                run_id: r.10,
            })
            .collect())
    }

    async fn measured(
        &self,
        market: &str,
        pairs: &[(NaiveDate, u32)],
    ) -> Result<std::collections::BTreeSet<(NaiveDate, u32)>, StoreError> {
        if pairs.is_empty() {
            return Ok(std::collections::BTreeSet::new());
        }
        // One arm a pair, answering with the pair's index when an outcome exists: an index
        // probe each, where a DISTINCT over the span read every outcome of a month.
        let sql = (0..pairs.len())
            .map(|i| {
                format!(
                    "SELECT {i} AS k WHERE EXISTS (SELECT 1 FROM decision_outcomes \
                     WHERE market_id = $1 AND as_of_date = ${} AND horizon_days = ${})",
                    2 * i + 2,
                    2 * i + 3
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let found: Vec<i32> = on_pool!(&self.pool, p => {
            let mut q = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone())).bind(market);
            for (d, h) in pairs {
                q = q.bind(*d).bind(i64::from(*h));
            }
            q.fetch_all(p).await.map_err(StoreError::query("look up outcomes"))?
        });
        Ok(found
            .into_iter()
            .filter_map(|k| pairs.get(usize::try_from(k).ok()?).copied())
            .collect())
    }

    async fn insert_proposal(&self, p: &ProposalRecord) -> Result<bool, StoreError> {
        let what = "store proposal";
        let sql = format!(
            "INSERT INTO kronos_proposals ({PROPOSAL_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) ON CONFLICT (proposal_id) DO NOTHING"
        );
        let inserted = on_pool!(&self.pool, pool => {
            let mut tx = pool.begin_write().await.map_err(StoreError::query(what))?;
            let n = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&p.proposal_id).bind(&p.engine).bind(&p.market_id).bind(&p.config_id)
                .bind(&p.base_config_id).bind(&p.body).bind(&p.changes).bind(&p.origin)
                .bind(&p.sweep_id).bind(&p.state).bind(&p.reason).bind(p.created_at)
                .bind(&p.created_by).bind(p.updated_at).bind(&p.gates)
                .execute(&mut *tx).await.map_err(StoreError::query(what))?
                .rows_affected();
            if n > 0 {
                sqlx::query(INSERT_AUDIT)
                    .bind(p.created_at).bind(&p.created_by).bind("proposed")
                    .bind(&p.proposal_id).bind(&p.engine)
                    .bind(format!("{} ({}): {}", p.state, p.origin, p.reason))
                    .execute(&mut *tx).await.map_err(StoreError::query(what))?;
            }
            tx.commit().await.map_err(StoreError::query(what))?;
            n > 0
        });
        Ok(inserted)
    }

    async fn proposals(
        &self,
        state: Option<ProposalState>,
    ) -> Result<Vec<ProposalRecord>, StoreError> {
        let sql = format!(
            "SELECT {PROPOSAL_COLUMNS} FROM kronos_proposals WHERE ($1 IS NULL OR state = $1) \
             ORDER BY created_at DESC, proposal_id"
        );
        let rows: Vec<ProposalRow> = on_pool!(&self.pool, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(state.map(ProposalState::as_str))
            .fetch_all(p).await.map_err(StoreError::query("read proposals"))?);
        Ok(rows.into_iter().map(to_proposal).collect())
    }

    async fn proposal_counts(&self) -> Result<std::collections::BTreeMap<String, u64>, StoreError> {
        super::pool::counts_by_state(&self.pool, "kronos_proposals").await
    }

    async fn proposal(&self, id: &str) -> Result<Option<ProposalRecord>, StoreError> {
        let sql = format!("SELECT {PROPOSAL_COLUMNS} FROM kronos_proposals WHERE proposal_id = $1");
        let row: Option<ProposalRow> = on_pool!(&self.pool, p => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(id)
            .fetch_optional(p).await.map_err(StoreError::query("read proposal"))?);
        Ok(row.map(to_proposal))
    }

    async fn transition_proposal(
        &self,
        id: &str,
        to: ProposalState,
        gates: Option<&str>,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError> {
        let what = "change proposal state";
        let select =
            format!("SELECT {PROPOSAL_COLUMNS} FROM kronos_proposals WHERE proposal_id = $1");
        let before = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            let before = proposal_in!(tx, select, id);
            allowed!(before, id, to);
            set_state!(tx, id, &before.engine, to, gates, actor, reason, at);
            tx.commit().await.map_err(StoreError::query(what))?;
            before
        });
        Ok(before)
    }

    async fn promote_proposal(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError> {
        let what = "promote proposal";
        let select =
            format!("SELECT {PROPOSAL_COLUMNS} FROM kronos_proposals WHERE proposal_id = $1");
        let before = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            let frozen: Option<(String,)> = sqlx::query_as("SELECT value FROM kronos_state WHERE key = $1")
                .bind(FREEZE_KEY)
                .fetch_optional(&mut *tx).await.map_err(StoreError::query(what))?;
            if let Some((v,)) = frozen.filter(|(v,)| v.starts_with("frozen")) {
                return Err(TransitionError::Frozen(
                    v.split_once(':').map_or("", |(_, r)| r).trim().to_owned(),
                ));
            }
            let before = proposal_in!(tx, select, id);
            allowed!(before, id, ProposalState::Promoted);
            let config_id = ConfigId::new(before.config_id.clone());
            let audit = format!("promoted proposal {id}: {reason}");
            let _ = activated!(tx, before.engine.as_str(), config_id, before.body.as_str(), actor, audit.as_str(), at);
            set_state!(tx, id, &before.engine, ProposalState::Promoted, None::<&str>, actor, reason, at);
            tx.commit().await.map_err(StoreError::query(what))?;
            before
        });
        Ok(before)
    }

    async fn revert_proposal(
        &self,
        id: &str,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<ProposalRecord, TransitionError> {
        let what = "revert proposal";
        let select =
            format!("SELECT {PROPOSAL_COLUMNS} FROM kronos_proposals WHERE proposal_id = $1");
        let before = on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            let before = proposal_in!(tx, select, id);
            allowed!(before, id, ProposalState::Reverted);
            let base: Option<ConfigTuple> = sqlx::query_as(SELECT_CONFIG_BY_ID)
                .bind(&before.base_config_id)
                .fetch_optional(&mut *tx).await.map_err(StoreError::query(what))?;
            let Some(base) = base.map(to_stored) else {
                return Err(TransitionError::MissingBase(before.base_config_id.clone()));
            };
            let audit = format!("reverted proposal {id}: {reason}");
            let _ = activated!(tx, before.engine.as_str(), base.config_id, base.body.as_str(), actor, audit.as_str(), at);
            set_state!(tx, id, &before.engine, ProposalState::Reverted, None::<&str>, actor, reason, at);
            tx.commit().await.map_err(StoreError::query(what))?;
            before
        });
        Ok(before)
    }

    async fn kronos_audit(&self, last: u32) -> Result<Vec<KronosAudit>, StoreError> {
        type Row = (
            i64,
            DateTime<Utc>,
            String,
            String,
            Option<String>,
            Option<String>,
            String,
        );
        const SQL: &str = "SELECT audit_id, at, actor, action, proposal_id, engine, detail FROM kronos_audit \
             ORDER BY audit_id DESC LIMIT $1";
        let mut rows: Vec<Row> = self
            .reads()
            .query_as(SQL)
            .bind(i64::from(last))
            .fetch_all()
            .await
            .map_err(StoreError::query("read kronos audit"))?;
        rows.reverse();
        Ok(rows
            .into_iter()
            .map(|r| KronosAudit {
                audit_id: r.0,
                at: r.1,
                actor: r.2,
                action: r.3,
                proposal_id: r.4,
                engine: r.5,
                detail: r.6,
            })
            .collect())
    }

    async fn freeze_state(&self) -> Result<FreezeState, StoreError> {
        type Row = (String, DateTime<Utc>, String);
        const SQL: &str = "SELECT value, updated_at, updated_by FROM kronos_state WHERE key = $1";
        let row: Option<Row> = self
            .reads()
            .query_as(SQL)
            .bind(FREEZE_KEY)
            .fetch_optional()
            .await
            .map_err(StoreError::query("read freeze state"))?;
        Ok(match row {
            None => FreezeState {
                frozen: false,
                reason: String::new(),
                by: String::new(),
                at: None,
            },
            Some((value, at, by)) => {
                let (flag, reason) = value.split_once(':').unwrap_or((value.as_str(), ""));
                FreezeState {
                    frozen: flag == "frozen",
                    reason: reason.trim().to_owned(),
                    by,
                    at: Some(at),
                }
            }
        })
    }

    async fn set_freeze(
        &self,
        frozen: bool,
        actor: &str,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let what = "set freeze";
        let flag = if frozen { "frozen" } else { "open" };
        let value = format!("{flag}: {reason}");
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            sqlx::query("INSERT INTO kronos_state (key, value, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at, \
                 updated_by = excluded.updated_by")
                .bind(FREEZE_KEY).bind(&value).bind(at).bind(actor)
                .execute(&mut *tx).await.map_err(StoreError::query(what))?;
            sqlx::query(INSERT_AUDIT)
                .bind(at).bind(actor).bind(if frozen { "freeze" } else { "unfreeze" })
                .bind(None::<String>).bind(None::<String>).bind(reason)
                .execute(&mut *tx).await.map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))?;
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::ProposalState::*;

    #[test]
    fn proposals_move_only_forward() {
        assert!(Proposed.may_become(Passed));
        assert!(Passed.may_become(Promoted));
        assert!(Passed.may_become(Shadow) && Shadow.may_become(Promoted));
        assert!(!Shadow.may_become(Passed) && !Failed.may_become(Shadow));
        assert!(Promoted.may_become(Reverted));
        assert!(!Failed.may_become(Promoted));
        assert!(!Proposed.may_become(Promoted));
        assert!(!Reverted.may_become(Promoted));
        assert!(!Refused.may_become(Passed));
        assert_eq!(super::ProposalState::parse("passed"), Some(Passed));
    }
}

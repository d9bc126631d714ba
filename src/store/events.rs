//! Actor life-cycle events: starts, restarts, escalations, reconfigurations.

use super::RuntimeDb;
use super::bulk::{BulkTuning, BulkWriter, CellSink, CellsRow, TableSpec, WriteMode};
use super::error::StoreError;
use super::pool::on_pool;
use super::writer::BeginBatch;
use crate::domain::EventKind;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// One event in an actor's life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The actor's name.
    pub actor: String,
    /// What happened.
    pub event: EventKind,
    /// Free text (reason, config id, attempt…).
    pub detail: String,
}

/// The event log's columns (the id is assigned in insertion order).
const ACTOR_EVENTS: TableSpec = TableSpec {
    name: "actor_events",
    columns: &["at", "actor", "event", "detail"],
    key: &[],
};

/// Append-only event log.
#[async_trait]
pub trait EventLog {
    /// Appends events in the order given (one transaction).
    async fn append_events(&self, events: &[ActorEvent]) -> Result<(), StoreError>;
    /// Appends one event.
    async fn append_event(&self, event: &ActorEvent) -> Result<(), StoreError> {
        self.append_events(std::slice::from_ref(event)).await
    }
    /// The latest `last` events (of one actor, or all), oldest first.
    async fn events(&self, actor: Option<&str>, last: u32) -> Result<Vec<ActorEvent>, StoreError>;
}

#[async_trait]
impl EventLog for RuntimeDb {
    async fn append_events(&self, events: &[ActorEvent]) -> Result<(), StoreError> {
        let what = "append actor events";
        let rows: Vec<_> = events
            .iter()
            .map(|e| {
                CellsRow(move |k: &mut dyn CellSink| {
                    k.timestamp(Some(e.at));
                    k.text(&e.actor);
                    k.text(e.event.as_str());
                    k.text(&e.detail);
                })
            })
            .collect();
        // In a write transaction so it takes its turn with the process's other writers.
        on_pool!(&self.pool, p => {
            let mut tx = self.writes.begin(p).await.map_err(StoreError::query(what))?;
            tx.write_rows(&ACTOR_EVENTS, &rows, WriteMode::Insert, &BulkTuning::default()).await?;
            tx.commit().await.map_err(StoreError::query(what))
        })
    }

    async fn events(&self, actor: Option<&str>, last: u32) -> Result<Vec<ActorEvent>, StoreError> {
        const SQL: &str = "SELECT at, actor, event, detail FROM (\
             SELECT event_id, at, actor, event, detail FROM actor_events \
             WHERE ($1 IS NULL OR actor = $1) ORDER BY event_id DESC LIMIT $2) e ORDER BY event_id";
        let rows: Vec<(DateTime<Utc>, String, String, String)> = self
            .reads()
            .query_as(SQL)
            .bind(actor)
            .bind(i64::from(last))
            .fetch_all()
            .await
            .map_err(StoreError::query("read actor events"))?;
        rows.into_iter()
            .map(|(at, actor, event, detail)| {
                Ok(ActorEvent {
                    at,
                    actor,
                    event: EventKind::parse(&event).ok_or_else(|| StoreError::Corrupt {
                        what: "actor_events.event",
                        detail: format!("unknown event `{event}`"),
                    })?,
                    detail,
                })
            })
            .collect()
    }
}

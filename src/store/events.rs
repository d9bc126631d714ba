//! Actor life-cycle events: starts, restarts, escalations, reconfigurations.

use super::RuntimeDb;
use super::error::StoreError;
use super::pool::on_pool;
use super::tx::BeginWrite;
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

/// Append-only event log.
#[async_trait]
pub trait EventLog {
    /// Appends one event.
    async fn append_event(&self, event: &ActorEvent) -> Result<(), StoreError>;
    /// The latest `last` events (of one actor, or all), oldest first.
    async fn events(&self, actor: Option<&str>, last: u32) -> Result<Vec<ActorEvent>, StoreError>;
}

#[async_trait]
impl EventLog for RuntimeDb {
    async fn append_event(&self, e: &ActorEvent) -> Result<(), StoreError> {
        const SQL: &str =
            "INSERT INTO actor_events (at, actor, event, detail) VALUES ($1, $2, $3, $4)";
        let what = "append actor event";
        // In a write transaction so it takes its turn with the process's other writers.
        on_pool!(&self.pool, p => {
            let mut tx = p.begin_write().await.map_err(StoreError::query(what))?;
            sqlx::query(SQL)
                .bind(e.at)
                .bind(&e.actor)
                .bind(e.event.as_str())
                .bind(&e.detail)
                .execute(&mut *tx)
                .await
                .map_err(StoreError::query(what))?;
            tx.commit().await.map_err(StoreError::query(what))
        })
    }

    async fn events(&self, actor: Option<&str>, last: u32) -> Result<Vec<ActorEvent>, StoreError> {
        const SQL: &str = "SELECT at, actor, event, detail FROM (\
             SELECT event_id, at, actor, event, detail FROM actor_events \
             WHERE ($1 IS NULL OR actor = $1) ORDER BY event_id DESC LIMIT $2) e ORDER BY event_id";
        let rows: Vec<(DateTime<Utc>, String, String, String)> = on_pool!(&self.pool, p => sqlx::query_as(SQL)
            .bind(actor)
            .bind(i64::from(last))
            .fetch_all(p)
            .await
            .map_err(StoreError::query("read actor events"))?);
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

//! Supervision: restart budgets, actor life cycles, and the event recorder that makes every
//! start, restart, escalation and reconfiguration an `actor_events` row and a tracing event.

use crate::monitor::telemetry::Telemetry;
use crate::spine::linger::{Queued, next_batch};
use chrono::{DateTime, Utc};
use prometheus::config::RestartPolicy;
use prometheus::domain::{Clock, EventKind};
use prometheus::store::{ActorEvent, EventLog, RuntimeDb};
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Where an actor is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Created, `started` not yet run.
    Starting,
    /// Serving jobs.
    Running,
    /// Restarting after a failure (waiting for its backoff).
    Restarting,
    /// Past its restart limit: refuses jobs until an operator resets it.
    Degraded,
    /// Stopped for good (shutdown).
    Stopped,
}

impl Lifecycle {
    /// The upper-case name operators see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Starting => "STARTING",
            Self::Running => "RUNNING",
            Self::Restarting => "RESTARTING",
            Self::Degraded => "DEGRADED",
            Self::Stopped => "STOPPED",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What to do after a failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartDecision {
    /// Restart after this delay.
    Restart(Duration),
    /// Too many restarts within the window: escalate.
    Escalate,
}

/// Counts restarts within the policy's sliding window.
#[derive(Clone, Debug)]
pub struct RestartBudget {
    policy: RestartPolicy,
    recent: VecDeque<Instant>,
}

impl RestartBudget {
    /// A fresh budget.
    pub fn new(policy: RestartPolicy) -> Self {
        Self {
            policy,
            recent: VecDeque::new(),
        }
    }

    /// Records a failure at `now` and decides: restart (with exponential backoff over the
    /// restarts still in the window) or escalate.
    pub fn on_failure(&mut self, now: Instant) -> RestartDecision {
        let window = Duration::from_secs_f64(self.policy.window_secs);
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) > window)
        {
            self.recent.pop_front();
        }
        if self.recent.len() as u32 >= self.policy.max_restarts {
            return RestartDecision::Escalate;
        }
        let exp = (self.recent.len() as u32).min(20);
        self.recent.push_back(now);
        let ms = self
            .policy
            .backoff_ms
            .saturating_mul(1u64 << exp)
            .min(self.policy.backoff_max_ms);
        RestartDecision::Restart(Duration::from_millis(ms))
    }

    /// Restarts counted in the current window.
    pub fn recent(&self) -> usize {
        self.recent.len()
    }

    /// Forgets every restart (an operator reset a DEGRADED actor).
    pub fn clear(&mut self) {
        self.recent.clear();
    }
}

/// Records actor events in order: a tracing event at once, an `actor_events` row by a
/// single background writer (so rows keep the order the events happened in), in lingering
/// batches ([`super::linger`]): a row may be written up to 50 ms after its event unless
/// someone flushes. A write that
/// fails because the database is down or busy is retried with backoff until it succeeds: an
/// outage delays the record, it never loses an event.
#[derive(Clone)]
pub struct EventRecorder {
    tx: mpsc::UnboundedSender<Queued<ActorEvent>>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
}

impl fmt::Debug for EventRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EventRecorder")
    }
}

/// Most events written in one transaction.
const EVENT_BATCH_MAX: usize = 500;

/// Writes `batch` in order; a write that fails because the database is down or busy is
/// retried with backoff until it succeeds; of a batch the database refuses, each event is
/// tried alone and only the refused one is dropped, with an error.
async fn write_events(db: &RuntimeDb, batch: &[ActorEvent]) {
    if batch.is_empty() {
        return;
    }
    let mut wait = Duration::from_millis(50);
    while let Err(err) = db.append_events(batch).await {
        if !err.class().is_retried() {
            if batch.len() > 1 {
                // Find the one the database refuses; keep the others.
                for e in batch {
                    Box::pin(write_events(db, std::slice::from_ref(e))).await;
                }
            } else {
                tracing::error!(actor = %batch[0].actor, event = %batch[0].event, error = %err, "actor event refused by the database; dropped");
            }
            return;
        }
        tracing::error!(events = batch.len(), error = %err, retry_ms = wait.as_millis() as u64, "cannot record actor events; retrying");
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(5));
    }
}

impl EventRecorder {
    /// Starts the writer task on the current runtime.
    pub fn start(db: RuntimeDb, clock: Arc<dyn Clock>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Queued<ActorEvent>>();
        tokio::spawn(async move {
            // Events queued close together share one transaction (a backfill records ~10
            // a session); a flush is answered once everything recorded before it is
            // written.
            while let Some(first) = rx.recv().await {
                let batch = next_batch(&mut rx, first, EVENT_BATCH_MAX).await;
                write_events(&db, &batch.items).await;
                for done in batch.flushes {
                    let _ = done.send(());
                }
            }
        });
        Self {
            tx,
            clock,
            telemetry: Arc::new(Telemetry::default()),
        }
    }

    /// The live feed and counters every recorded event also goes to (and the orchestrator's
    /// run log, which shares them).
    pub fn telemetry(&self) -> Arc<Telemetry> {
        Arc::clone(&self.telemetry)
    }

    /// Records `event` of `actor` with a detail text.
    pub fn record(&self, actor: &str, event: EventKind, detail: impl Into<String>) {
        let detail = detail.into();
        let name = event.as_str();
        if event.is_alarm() {
            tracing::error!(actor, event = name, %detail, "actor event");
        } else if event.is_warning() {
            tracing::warn!(actor, event = name, %detail, "actor event");
        } else {
            tracing::info!(actor, event = name, %detail, "actor event");
        }
        let e = ActorEvent {
            at: self.now(),
            actor: actor.to_owned(),
            event,
            detail,
        };
        self.telemetry.actor_event(&e);
        let _ = self.tx.send(Queued::Item(e));
    }

    /// Waits until every event recorded so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Queued::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }

    /// The recorder's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::domain::FixedClock;
    use prometheus::store::EventLog;

    /// Events recorded faster than they are written go out in batches, every one of them,
    /// in the order recorded; a flush waits for all of them.
    #[tokio::test]
    async fn recorder_batches_keep_every_event_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("runtime.db").display());
        let db = RuntimeDb::open(&url, 2).await.unwrap();
        let at = chrono::DateTime::parse_from_rfc3339("2024-01-02T21:00:00Z")
            .unwrap()
            .to_utc();
        let recorder = EventRecorder::start(db.clone(), Arc::new(FixedClock(at)));
        for i in 0..1_234 {
            recorder.record("tester", EventKind::Started, format!("event {i}"));
        }
        recorder.flush().await;
        let events = db.events(Some("tester"), 5_000).await.unwrap();
        let details: Vec<String> = events.into_iter().map(|e| e.detail).collect();
        let expected: Vec<String> = (0..1_234).map(|i| format!("event {i}")).collect();
        assert_eq!(details, expected);
    }

    #[test]
    fn budget_backs_off_then_escalates_and_forgets_old_restarts() {
        let mut b = RestartBudget::new(RestartPolicy {
            max_restarts: 2,
            window_secs: 10.0,
            backoff_ms: 100,
            backoff_max_ms: 150,
        });
        let t0 = Instant::now();
        assert_eq!(
            b.on_failure(t0),
            RestartDecision::Restart(Duration::from_millis(100))
        );
        assert_eq!(
            b.on_failure(t0 + Duration::from_secs(1)),
            RestartDecision::Restart(Duration::from_millis(150))
        );
        assert_eq!(
            b.on_failure(t0 + Duration::from_secs(2)),
            RestartDecision::Escalate
        );
        assert_eq!(
            b.on_failure(t0 + Duration::from_secs(12)),
            RestartDecision::Restart(Duration::from_millis(100))
        );
        assert_eq!(b.recent(), 1);
    }
}

//! The orchestrator's durable record: DAG runs and job attempts written in the order the
//! orchestrator decided them, by one background writer that groups whatever is queued into
//! one transaction — deciding never waits for the database, the record never goes back in
//! time, and a burst of decisions costs one commit. A batch the database refuses (an
//! outage, a busy file) is retried with backoff until it is written: the record may lag,
//! it never loses an entry, and flush waiters wait for it.

use super::dispatch::attempt_record;
use super::{JobSummary, Orchestrator, RunSummary};
use crate::monitor::telemetry::Telemetry;
use crate::spine::linger::{Queued, next_batch};
use actix::prelude::*;
use prometheus::dag::JobStatus;
use prometheus::domain::{AttemptState, EventKind, RunStatus};
use prometheus::store::{DagRunRecord, JobRunRecord, RunRecord, RunStore, RuntimeDb};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Writes one batch: retried with backoff while the database is busy or unreachable (the
/// record lags, nothing is lost); a batch the database refuses for what it contains is
/// written record by record, and only a record refused on its own is dropped, with an error
/// in the log — one bad record never blocks the rest.
async fn write_batch(db: &RuntimeDb, batch: &[RunRecord]) {
    let mut wait = std::time::Duration::from_millis(50);
    loop {
        match db.record_runs(batch).await {
            Ok(()) => return,
            Err(e) if e.class().is_retried() => {
                tracing::error!(records = batch.len(), error = %e, retry_ms = wait.as_millis() as u64, "cannot record run state; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(records = batch.len(), error = %e, "a run record was refused; writing the batch one record at a time");
                for r in batch {
                    if let Err(e) = db.record_runs(std::slice::from_ref(r)).await {
                        tracing::error!(record = ?r, error = %e, "run record dropped");
                    }
                }
                return;
            }
        }
    }
}

/// The most records one transaction writes.
const MAX_BATCH: usize = 512;

/// A handle to the ordered writer.
#[derive(Clone, Debug)]
pub struct RunLog {
    tx: mpsc::UnboundedSender<Queued<RunRecord>>,
    telemetry: Arc<Telemetry>,
}

impl RunLog {
    /// Starts the writer on the current runtime; every record queued is also told to
    /// `telemetry` (the dashboard's live feed and `/metrics`).
    pub fn start(db: RuntimeDb, telemetry: Arc<Telemetry>) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Queued<RunRecord>>();
        tokio::spawn(async move {
            // A run's attempts are written together (a backfill wrote ~16 small
            // transactions a session, two records each); a crash within the linger loses
            // only records of attempts whose outputs are idempotent: the run resumes them.
            while let Some(first) = rx.recv().await {
                let batch = next_batch(&mut rx, first, MAX_BATCH).await;
                if !batch.items.is_empty() {
                    write_batch(&db, &batch.items).await;
                }
                for done in batch.flushes {
                    let _ = done.send(());
                }
            }
        });
        Self { tx, telemetry }
    }

    /// Queues a DAG run upsert.
    pub fn run(&self, r: DagRunRecord) {
        self.telemetry.run(&r);
        let _ = self.tx.send(Queued::Item(RunRecord::Run(r)));
    }

    /// Queues a job attempt upsert.
    pub fn job(&self, j: JobRunRecord) {
        self.telemetry.job(&j);
        let _ = self.tx.send(Queued::Item(RunRecord::Job(j)));
    }

    /// Resolves when everything queued before it is written.
    pub fn flushed(&self) -> oneshot::Receiver<()> {
        let (done, wait) = oneshot::channel();
        let _ = self.tx.send(Queued::Flush(done));
        wait
    }
}

/// How many finished runs [`super::WaitRun`] still answers for.
const REMEMBERED_RUNS: usize = 1024;

fn status_name(s: &JobStatus) -> &'static str {
    match s {
        JobStatus::Pending => "PENDING",
        JobStatus::Running { .. } => "RUNNING",
        JobStatus::RetryWait { .. } => "RETRY_WAIT",
        JobStatus::Succeeded { .. } => "SUCCEEDED",
        JobStatus::Failed { .. } => "FAILED",
        JobStatus::Skipped { .. } => "SKIPPED",
        JobStatus::Blocked { .. } => "BLOCKED",
    }
}

impl Orchestrator {
    /// Persists and reports every run that reached a final state.
    pub(super) fn finish_runs(&mut self) {
        let finished: Vec<String> = self
            .runs
            .iter()
            .filter(|(_, r)| r.state.status() != RunStatus::Running)
            .map(|(id, _)| id.clone())
            .collect();
        for run_id in finished {
            let Some(run) = self.runs.remove(&run_id) else {
                continue;
            };
            let status = run.state.status();
            let jobs: Vec<JobSummary> = run
                .state
                .dag()
                .jobs
                .iter()
                .enumerate()
                .map(|(j, def)| {
                    let s = run.state.job(j);
                    let error = match s {
                        JobStatus::Failed { error } | JobStatus::Skipped { error } => {
                            Some(error.clone())
                        }
                        JobStatus::Blocked { reason } => Some(reason.clone()),
                        _ => None,
                    };
                    let attempts = match s {
                        JobStatus::Succeeded { attempt, .. } => *attempt,
                        _ => 0,
                    };
                    JobSummary {
                        job_id: def.id.clone(),
                        attempts,
                        status: status_name(s),
                        error,
                    }
                })
                .collect();
            let error = jobs
                .iter()
                .find_map(|s| s.error.as_ref().map(|e| format!("{}: {e}", s.job_id)));
            let record = DagRunRecord {
                state: status,
                finished_at: Some(run.now(self.clock.as_ref())),
                error,
                ..run.record
            };
            self.log.run(record);
            self.events.record(
                "orchestrator",
                EventKind::RunFinished,
                format!("{run_id} {status}"),
            );
            let summary = RunSummary {
                run_id: run_id.clone(),
                state: status,
                jobs,
            };
            self.remember(summary.clone());
            let waiters = self.waiters.remove(&run_id).unwrap_or_default();
            let flushed = self.log.flushed();
            tokio::spawn(async move {
                let _ = flushed.await;
                for w in waiters {
                    let _ = w.send(summary.clone());
                }
            });
        }
        self.check_drained();
    }

    /// Keeps a finished run's summary for waiters that ask late.
    fn remember(&mut self, summary: RunSummary) {
        self.next_seq += 1;
        self.finished
            .insert(summary.run_id.clone(), (self.next_seq, summary));
        if self.finished.len() > REMEMBERED_RUNS
            && let Some(oldest) = self
                .finished
                .iter()
                .min_by_key(|(_, (seq, _))| *seq)
                .map(|(id, _)| id.clone())
        {
            self.finished.remove(&oldest);
        }
    }

    /// Answers drain waiters once nothing runs and the record is written.
    pub(super) fn check_drained(&mut self) {
        if !self.accepting && self.running == 0 && !self.drained.is_empty() {
            let flushed = self.log.flushed();
            let events = self.events.clone();
            let waiters = std::mem::take(&mut self.drained);
            tokio::spawn(async move {
                let _ = flushed.await;
                events.flush().await;
                for w in waiters {
                    let _ = w.send(());
                }
            });
        }
    }

    /// Records every running attempt as interrupted (drain timeout).
    pub(super) fn interrupt_all(&mut self, ctx: &mut Context<Self>) {
        let mut records = Vec::new();
        for (run_id, run) in &mut self.runs {
            let now = run.now(self.clock.as_ref());
            for (j, (attempt, started, timer)) in std::mem::take(&mut run.running) {
                ctx.cancel_future(timer);
                let def = &run.state.dag().jobs[j];
                let mut r = attempt_record(
                    run_id,
                    &def.id,
                    &def.actor,
                    attempt,
                    AttemptState::Interrupted,
                    started,
                );
                r.finished_at = Some(now);
                r.error = Some("shutdown drain timed out; resumed at next start".into());
                records.push(r);
            }
        }
        for r in records {
            self.events.record(
                "orchestrator",
                EventKind::JobInterrupted,
                format!("{} {} attempt {}", r.run_id, r.job_id, r.attempt),
            );
            self.log.job(r);
        }
        self.running = 0;
        self.check_drained();
    }
}

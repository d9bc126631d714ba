//! The orchestrator's durable record: DAG runs and job attempts written in the order the
//! orchestrator decided them, by one background writer that groups whatever is queued into
//! one transaction — deciding never waits for the database, the record never goes back in
//! time, and a burst of decisions costs one commit.

use prometheus::store::{DagRunRecord, JobRunRecord, RunRecord, RunStore, RuntimeDb};
use tokio::sync::{mpsc, oneshot};

enum Entry {
    Run(DagRunRecord),
    Job(JobRunRecord),
    Flush(oneshot::Sender<()>),
}

/// A handle to the ordered writer.
#[derive(Clone, Debug)]
pub struct RunLog {
    tx: mpsc::UnboundedSender<Entry>,
}

impl RunLog {
    /// Starts the writer on the current runtime.
    pub fn start(db: RuntimeDb) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Entry>();
        tokio::spawn(async move {
            let mut batch: Vec<RunRecord> = Vec::new();
            let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
            while let Some(first) = rx.recv().await {
                // Everything already queued goes into the same transaction.
                let mut next = Some(first);
                while let Some(entry) = next.take().or_else(|| rx.try_recv().ok()) {
                    match entry {
                        Entry::Run(r) => batch.push(RunRecord::Run(r)),
                        Entry::Job(j) => batch.push(RunRecord::Job(j)),
                        Entry::Flush(done) => flushes.push(done),
                    }
                    if batch.len() >= 512 {
                        break;
                    }
                }
                if !batch.is_empty() {
                    if let Err(e) = db.record_runs(&batch).await {
                        tracing::error!(records = batch.len(), error = %e, "cannot record run state");
                    }
                    batch.clear();
                }
                for done in flushes.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Self { tx }
    }

    /// Queues a DAG run upsert.
    pub fn run(&self, r: DagRunRecord) {
        let _ = self.tx.send(Entry::Run(r));
    }

    /// Queues a job attempt upsert.
    pub fn job(&self, j: JobRunRecord) {
        let _ = self.tx.send(Entry::Job(j));
    }

    /// Resolves when everything queued before it is written.
    pub fn flushed(&self) -> oneshot::Receiver<()> {
        let (done, wait) = oneshot::channel();
        let _ = self.tx.send(Entry::Flush(done));
        wait
    }
}

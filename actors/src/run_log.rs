//! The orchestrator's durable record: DAG runs and job attempts written in the order the
//! orchestrator decided them, by one background writer, so deciding never waits for the
//! database and the record never goes back in time.

use prometheus::store::{DagRunRecord, JobRunRecord, RunStore, RuntimeDb};
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
            while let Some(entry) = rx.recv().await {
                let res = match entry {
                    Entry::Run(r) => db
                        .upsert_dag_run(&r)
                        .await
                        .map_err(|e| (r.run_id.clone(), e)),
                    Entry::Job(j) => db
                        .upsert_job_run(&j)
                        .await
                        .map_err(|e| (j.run_id.clone(), e)),
                    Entry::Flush(done) => {
                        let _ = done.send(());
                        Ok(())
                    }
                };
                if let Err((run_id, e)) = res {
                    tracing::error!(%run_id, error = %e, "cannot record run state");
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

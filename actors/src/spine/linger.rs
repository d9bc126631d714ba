//! Lingering batches: the background writers of the run record and the actor-event log
//! take what is queued, wait a little for more, and write it in one transaction. A record
//! nobody waits for may be written up to [`LINGER`] late; a flush (a finished run's waiters,
//! a drain, a shutdown) or a full batch writes at once. A backfill session queues a few
//! records at a time; written as they came they cost a transaction each.

use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// How long a queued record may wait for others to share its transaction when nobody waits
/// for it.
pub const LINGER: Duration = Duration::from_millis(50);

/// What a lingering writer's queue carries.
pub enum Queued<T> {
    /// A record to write.
    Item(T),
    /// Answered once everything queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// One batch to write, with the flushes it answers.
pub struct Batch<T> {
    /// The records, in the order they were queued.
    pub items: Vec<T>,
    /// Flushes to answer once `items` are written.
    pub flushes: Vec<oneshot::Sender<()>>,
}

/// Collects the next batch, starting with `first`: what arrives until a flush is queued,
/// `max` records are collected or [`LINGER`] has passed since `first` (a flush takes what
/// is already queued behind it too).
pub async fn next_batch<T>(
    rx: &mut mpsc::UnboundedReceiver<Queued<T>>,
    first: Queued<T>,
    max: usize,
) -> Batch<T> {
    let until = tokio::time::Instant::now() + LINGER;
    let mut batch = Batch {
        items: Vec::new(),
        flushes: Vec::new(),
    };
    let mut next = Some(first);
    loop {
        while let Some(entry) = next.take().or_else(|| rx.try_recv().ok()) {
            match entry {
                Queued::Item(item) => batch.items.push(item),
                Queued::Flush(done) => batch.flushes.push(done),
            }
            if batch.items.len() >= max {
                break;
            }
        }
        if !batch.flushes.is_empty() || batch.items.len() >= max {
            return batch;
        }
        match tokio::time::timeout_at(until, rx.recv()).await {
            Ok(Some(entry)) => next = Some(entry),
            Ok(None) | Err(_) => return batch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_waits_for_company_until_a_flush_a_full_batch_or_the_linger() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        // Records queued a little apart share a batch; the linger ends it.
        tx.send(Queued::Item(2)).unwrap();
        let sender = tx.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            sender.send(Queued::Item(3)).unwrap();
        });
        let first = rx.recv().await.unwrap();
        let start = tokio::time::Instant::now();
        let b = next_batch(&mut rx, first, 10).await;
        assert_eq!(b.items, vec![2, 3]);
        assert!(start.elapsed() >= LINGER, "{:?}", start.elapsed());
        // A flush ends the batch at once, with what is queued by then.
        tx.send(Queued::Item(4)).unwrap();
        let (done, _wait) = oneshot::channel();
        tx.send(Queued::Flush(done)).unwrap();
        tx.send(Queued::Item(5)).unwrap();
        let first = rx.recv().await.unwrap();
        let start = tokio::time::Instant::now();
        let b = next_batch(&mut rx, first, 10).await;
        assert_eq!((b.items, b.flushes.len()), (vec![4, 5], 1));
        assert!(start.elapsed() < LINGER, "{:?}", start.elapsed());
        // A full batch ends at once too; the rest waits for the next one.
        for i in 6..9 {
            tx.send(Queued::Item(i)).unwrap();
        }
        let first = rx.recv().await.unwrap();
        let b = next_batch(&mut rx, first, 2).await;
        assert_eq!(b.items, vec![6, 7]);
        let first = rx.recv().await.unwrap();
        let b = next_batch(&mut rx, first, 2).await;
        assert_eq!(b.items, vec![8]);
    }
}

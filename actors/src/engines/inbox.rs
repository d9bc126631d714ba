//! Upstream messages kept for the job of their run. A message is a shortcut, never the
//! only copy: a job uses it when it came (and belongs to its own run) and reads or rebuilds
//! the same inputs from the store when it did not — after a restart the inbox is empty.

use prometheus::domain::RunId;
use std::collections::VecDeque;
use std::sync::Mutex;

/// At most this many messages are kept: a message whose job never came must not pile up.
const CAPACITY: usize = 64;

/// Messages by the run they belong to, oldest first.
pub struct Inbox<T> {
    items: Mutex<VecDeque<(RunId, T)>>,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Self {
            items: Mutex::new(VecDeque::new()),
        }
    }
}

impl<T> Inbox<T> {
    /// Keeps `item` for the job of `run`, dropping the oldest message when full.
    pub fn put(&self, run: RunId, item: T) {
        if let Ok(mut items) = self.items.lock() {
            while items.len() >= CAPACITY {
                items.pop_front();
            }
            items.push_back((run, item));
        }
    }

    /// Takes the messages of `run`, oldest first.
    pub fn take(&self, run: &RunId) -> Vec<T> {
        let Ok(mut items) = self.items.lock() else {
            return Vec::new();
        };
        let (mine, rest): (VecDeque<_>, VecDeque<_>) = std::mem::take(&mut *items)
            .into_iter()
            .partition(|(r, _)| r == run);
        *items = rest;
        mine.into_iter().map(|(_, t)| t).collect()
    }

    /// Forgets everything (after a restart).
    pub fn clear(&self) {
        if let Ok(mut items) = self.items.lock() {
            items.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_taken_by_their_run_only() {
        let inbox = Inbox::default();
        let (a, b) = (
            RunId::new("engines:US_EQ:2024-01-02"),
            RunId::new("engines:US_EQ:2024-01-02:r2"),
        );
        inbox.put(a.clone(), 1);
        inbox.put(b.clone(), 2);
        inbox.put(a.clone(), 3);
        assert_eq!(inbox.take(&a), [1, 3]);
        assert!(inbox.take(&a).is_empty());
        assert_eq!(inbox.take(&b), [2]);
        for i in 0..100 {
            inbox.put(a.clone(), i);
        }
        assert_eq!(inbox.take(&a).len(), CAPACITY);
    }
}

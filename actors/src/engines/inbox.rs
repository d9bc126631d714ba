//! Upstream messages kept for the job of their (market, date): a job uses the message
//! when it came and falls back to the store when it did not (after a restart the message
//! is gone; the data is not).

use chrono::NaiveDate;
use prometheus::domain::MarketId;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// At most this many (market, date) keys are kept: a message whose job never came must not
/// pile up.
const CAPACITY: usize = 64;

/// Messages by (market, date), several per key (one per upstream actor).
pub struct Inbox<T> {
    items: Mutex<BTreeMap<(MarketId, NaiveDate), Vec<T>>>,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Self {
            items: Mutex::new(BTreeMap::new()),
        }
    }
}

impl<T> Inbox<T> {
    /// Keeps `item` for (market, date), dropping the oldest key when full.
    pub fn put(&self, market: MarketId, as_of: NaiveDate, item: T) {
        if let Ok(mut items) = self.items.lock() {
            let key = (market, as_of);
            if !items.contains_key(&key) {
                while items.len() >= CAPACITY {
                    let Some(oldest) = items.keys().next().cloned() else {
                        break;
                    };
                    items.remove(&oldest);
                }
            }
            items.entry(key).or_default().push(item);
        }
    }

    /// Takes the messages of (market, date).
    pub fn take(&self, market: &MarketId, as_of: NaiveDate) -> Vec<T> {
        self.items
            .lock()
            .map(|mut items| items.remove(&(market.clone(), as_of)).unwrap_or_default())
            .unwrap_or_default()
    }

    /// Forgets everything (after a restart).
    pub fn clear(&self) {
        if let Ok(mut items) = self.items.lock() {
            items.clear();
        }
    }
}

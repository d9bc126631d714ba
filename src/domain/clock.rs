//! Time as an input. The core never reads the system clock: whoever needs "now" (to stamp
//! an ingest batch, say) is handed a [`Clock`]. The binary passes the system clock; tests
//! and the time machine pass fixed or simulated ones.

use chrono::{DateTime, Utc};

/// A source of the current instant.
pub trait Clock: Send + Sync {
    /// The current instant, UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// A clock stopped at one instant (tests, reproducible runs).
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub DateTime<Utc>);

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

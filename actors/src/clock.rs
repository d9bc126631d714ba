//! The system clock, read only here at the edge and handed to the core as a [`Clock`].

use chrono::{DateTime, Utc};
use prometheus::domain::Clock;

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

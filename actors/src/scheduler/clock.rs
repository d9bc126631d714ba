//! The clocks a scheduler can follow: the system clock, or a simulated one that jumps from
//! event to event (backfills and tests).

use chrono::{DateTime, Utc};
use prometheus::domain::Clock;
use std::sync::{Arc, Mutex};

/// A clock that only moves when told to: the time machine behind backfills and tests.
#[derive(Debug)]
pub struct SimulatedClock(Mutex<DateTime<Utc>>);

impl SimulatedClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    /// Moves the clock to `t` (never backwards).
    pub fn advance_to(&self, t: DateTime<Utc>) {
        if let Ok(mut now) = self.0.lock() {
            *now = (*now).max(t);
        }
    }
}

impl Clock for SimulatedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map_or_else(|p| *p.into_inner(), |t| *t)
    }
}

/// Which clock the scheduler follows.
#[derive(Clone)]
pub enum SchedulerClock {
    /// Wall-clock time: wait for each event.
    Real(Arc<dyn Clock>),
    /// Simulated: jump to each event at once.
    Simulated(Arc<SimulatedClock>),
}

impl SchedulerClock {
    pub(super) fn now(&self) -> DateTime<Utc> {
        match self {
            Self::Real(c) => c.now(),
            Self::Simulated(c) => c.now(),
        }
    }
}

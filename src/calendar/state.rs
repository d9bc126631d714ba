//! The market state machine: where a market stands at any instant, and the ordered
//! transitions between instants that the scheduler turns into DAG activations.

use super::exchange::{ExchangeCalendar, Session};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The state of a market at an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MarketState {
    /// A day without a session (weekend or holiday).
    Holiday,
    /// From `open − pre_open` to the open.
    PreOpen,
    /// From the open to the close (lunch breaks included).
    Session,
    /// From the close to `close + post_close`.
    PostClose,
    /// Any other time of a session day.
    Overnight,
}

impl MarketState {
    /// Upper-case name, as in configuration and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Holiday => "HOLIDAY",
            Self::PreOpen => "PRE_OPEN",
            Self::Session => "SESSION",
            Self::PostClose => "POST_CLOSE",
            Self::Overnight => "OVERNIGHT",
        }
    }
}

impl fmt::Display for MarketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A market's state at an instant, with the session it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateAt {
    /// The state.
    pub state: MarketState,
    /// The session the state refers to (none for HOLIDAY and OVERNIGHT).
    pub session: Option<NaiveDate>,
    /// True during a lunch break (the state is still SESSION).
    pub in_break: bool,
}

/// The moment a market enters a state for a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Transition {
    /// When.
    pub at: DateTime<Utc>,
    /// The state entered.
    pub state: MarketState,
    /// The session it belongs to.
    pub session: NaiveDate,
}

impl ExchangeCalendar {
    /// The state at instant `t`. Boundaries belong to the state they start: at exactly the
    /// open the market is in SESSION, at exactly the close in POST_CLOSE. Where windows of
    /// adjacent sessions overlap (FX), SESSION wins over POST_CLOSE over PRE_OPEN.
    pub fn state_at(&self, t: DateTime<Utc>) -> StateAt {
        let pre = self.spec().pre_open;
        let post = self.spec().post_close;
        let mut best: Option<(MarketState, &Session)> = None;
        for s in self.windows_at(t) {
            let state = if t >= s.open && t < s.close {
                MarketState::Session
            } else if t >= s.close && t < s.close + post {
                MarketState::PostClose
            } else if t >= s.open - pre && t < s.open {
                MarketState::PreOpen
            } else {
                continue;
            };
            let rank = |m: MarketState| match m {
                MarketState::Session => 0,
                MarketState::PostClose => 1,
                _ => 2,
            };
            if best.is_none_or(|(b, _)| rank(state) < rank(b)) {
                best = Some((state, s));
            }
        }
        if let Some((state, s)) = best {
            let in_break = state == MarketState::Session
                && matches!((s.break_start, s.break_end), (Some(a), Some(b)) if t >= a && t < b);
            return StateAt {
                state,
                session: Some(s.date),
                in_break,
            };
        }
        let local_date = t.with_timezone(&self.tz()).date_naive();
        let state = if self.is_session(local_date) {
            MarketState::Overnight
        } else {
            MarketState::Holiday
        };
        StateAt {
            state,
            session: None,
            in_break: false,
        }
    }

    /// When the market enters `state` for the session `date`: the instant a job that
    /// requires that state may start. `None` when `date` is not a session, or for HOLIDAY
    /// (never entered at an instant).
    pub fn state_begins(&self, date: NaiveDate, state: MarketState) -> Option<DateTime<Utc>> {
        let s = self.session(date)?;
        let spec = self.spec();
        match state {
            MarketState::PreOpen => Some(s.open - spec.pre_open),
            MarketState::Session => Some(s.open),
            MarketState::PostClose => Some(s.close),
            MarketState::Overnight => Some(s.close + spec.post_close),
            MarketState::Holiday => None,
        }
    }

    /// Every session transition with `from < at <= to`, in time order: entering PRE_OPEN,
    /// SESSION, POST_CLOSE and OVERNIGHT for each session.
    pub fn transitions(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Transition> {
        let pre = self.spec().pre_open;
        let post = self.spec().post_close;
        let first = self
            .all_sessions()
            .partition_point(|s| s.close + post <= from);
        let mut out = Vec::new();
        for s in &self.all_sessions()[first..] {
            if s.open - pre > to {
                break;
            }
            for (at, state) in [
                (s.open - pre, MarketState::PreOpen),
                (s.open, MarketState::Session),
                (s.close, MarketState::PostClose),
                (s.close + post, MarketState::Overnight),
            ] {
                if at > from && at <= to {
                    out.push(Transition {
                        at,
                        state,
                        session: s.date,
                    });
                }
            }
        }
        out.sort();
        out
    }
}

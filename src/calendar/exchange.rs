//! An exchange calendar: every session in its range, precomputed once, with open, close and
//! break instants in UTC, and the queries engines and the scheduler ask of it.

use super::spec::{CalendarSpec, RuleSet};
use super::{fx, lse, nyse, tse};
use chrono::{
    DateTime, Datelike, Days, NaiveDate, NaiveTime, Offset, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One trading session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The trading date.
    pub date: NaiveDate,
    /// Opening instant.
    pub open: DateTime<Utc>,
    /// Closing instant.
    pub close: DateTime<Utc>,
    /// Start of the lunch break, if the exchange has one.
    pub break_start: Option<DateTime<Utc>>,
    /// End of the lunch break.
    pub break_end: Option<DateTime<Utc>>,
    /// True when the session closes earlier than regular hours.
    pub early_close: bool,
}

/// Why a calendar could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// A local time does not exist or is ambiguous in the exchange's zone.
    #[error("{date} {time} does not map to one instant in {tz}")]
    LocalTime {
        /// The date.
        date: NaiveDate,
        /// The local time.
        time: NaiveTime,
        /// The zone.
        tz: Tz,
    },
    /// The year range is empty or unreasonable.
    #[error("calendar years {0}..={1} are not a valid range (1970..=2100)")]
    Years(i32, i32),
}

/// A built calendar.
#[derive(Clone, Debug)]
pub struct ExchangeCalendar {
    spec: CalendarSpec,
    sessions: Vec<Session>,
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

/// Regular local hours of `date`: open, close, optional break.
fn regular_hours(
    rules: RuleSet,
    date: NaiveDate,
) -> (NaiveTime, NaiveTime, Option<(NaiveTime, NaiveTime)>) {
    match rules {
        RuleSet::Nyse => (hm(9, 30), hm(16, 0), None),
        RuleSet::Lse => (hm(8, 0), hm(16, 30), None),
        RuleSet::Tse => (
            hm(9, 0),
            tse::regular_close(date),
            Some((hm(11, 30), hm(12, 30))),
        ),
        RuleSet::Fx => (hm(17, 0), hm(17, 0), None),
    }
}

impl ExchangeCalendar {
    /// Builds every session of the spec's years.
    ///
    /// # Errors
    /// An invalid year range, or a session time that does not exist locally.
    pub fn build(spec: CalendarSpec) -> Result<Self, CalendarError> {
        let (first, last) = spec.years;
        if !(1970..=2100).contains(&first) || !(first..=2100).contains(&last) {
            return Err(CalendarError::Years(first, last));
        }
        let mut closed: BTreeSet<NaiveDate> = BTreeSet::new();
        let mut early: BTreeMap<NaiveDate, NaiveTime> = BTreeMap::new();
        for year in first..=last {
            match spec.rules {
                RuleSet::Nyse => {
                    closed.extend(nyse::holidays(year));
                    early.extend(nyse::early_closes(year));
                }
                RuleSet::Lse => {
                    closed.extend(lse::holidays(year));
                    early.extend(lse::early_closes(year));
                }
                RuleSet::Tse => {
                    closed.extend(tse::national_holidays(
                        year,
                        &spec.holidays_added,
                        &spec.holidays_removed,
                    ));
                    closed.extend(tse::exchange_closures(year));
                }
                RuleSet::Fx => closed.extend(fx::holidays(year)),
            }
        }
        if spec.rules != RuleSet::Tse {
            for d in &spec.holidays_removed {
                closed.remove(d);
            }
            closed.extend(spec.holidays_added.iter().copied());
        }
        closed.extend(spec.closures.iter().copied());
        early.extend(spec.early_closes.iter().map(|e| (e.date, e.close)));

        let start =
            NaiveDate::from_ymd_opt(first, 1, 1).ok_or(CalendarError::Years(first, last))?;
        let end = NaiveDate::from_ymd_opt(last, 12, 31).ok_or(CalendarError::Years(first, last))?;
        let mut sessions = Vec::with_capacity(((last - first + 1) * 262) as usize);
        for date in start.iter_days().take_while(|d| *d <= end) {
            if matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || closed.contains(&date) {
                continue;
            }
            sessions.push(Self::build_session(&spec, date, early.get(&date).copied())?);
        }
        Ok(Self { spec, sessions })
    }

    fn build_session(
        spec: &CalendarSpec,
        date: NaiveDate,
        early: Option<NaiveTime>,
    ) -> Result<Session, CalendarError> {
        let (open, regular_close, brk) = regular_hours(spec.rules, date);
        // DST switches happen in the small hours of a Sunday; at 12:00 UTC of any day the
        // zone is already on the offset that holds for that day's exchange hours (and for
        // FX's Sunday-evening open), so one lookup by UTC instant serves the whole day.
        let offset_of = |d: NaiveDate| -> Result<TimeDelta, CalendarError> {
            let noon_utc = d.and_time(hm(12, 0)).and_utc();
            Ok(TimeDelta::seconds(i64::from(
                spec.tz
                    .offset_from_utc_datetime(&noon_utc.naive_utc())
                    .fix()
                    .local_minus_utc(),
            )))
        };
        let offset = offset_of(date)?;
        let at = |d: NaiveDate, t: NaiveTime, off: TimeDelta| {
            Utc.from_utc_datetime(&(d.and_time(t) - off))
        };
        let close_time = early.unwrap_or(regular_close);
        let (open_at, close_at) = if spec.rules == RuleSet::Fx {
            let prev = date - Days::new(1);
            (
                at(prev, open, offset_of(prev)?),
                at(date, close_time, offset),
            )
        } else {
            (at(date, open, offset), at(date, close_time, offset))
        };
        let (break_start, break_end) = match brk {
            Some((bs, be)) if early.is_none_or(|c| c > be) => {
                (Some(at(date, bs, offset)), Some(at(date, be, offset)))
            }
            _ => (None, None),
        };
        Ok(Session {
            date,
            open: open_at,
            close: close_at,
            break_start,
            break_end,
            early_close: early.is_some_and(|c| c < regular_close),
        })
    }

    /// The spec it was built from.
    pub fn spec(&self) -> &CalendarSpec {
        &self.spec
    }

    /// The exchange's time zone.
    pub fn tz(&self) -> Tz {
        self.spec.tz
    }

    /// First and last covered dates (sessions exist only within).
    pub fn range(&self) -> (NaiveDate, NaiveDate) {
        let (a, b) = self.spec.years;
        (
            NaiveDate::from_ymd_opt(a, 1, 1).unwrap_or_default(),
            NaiveDate::from_ymd_opt(b, 12, 31).unwrap_or_default(),
        )
    }

    /// Every session, in date order.
    pub fn all_sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// Sessions with `from <= date <= to`.
    pub fn sessions(&self, from: NaiveDate, to: NaiveDate) -> &[Session] {
        let a = self.sessions.partition_point(|s| s.date < from);
        let b = self.sessions.partition_point(|s| s.date <= to);
        &self.sessions[a..b.max(a)]
    }

    fn index(&self, date: NaiveDate) -> Result<usize, usize> {
        self.sessions.binary_search_by_key(&date, |s| s.date)
    }

    /// True when `date` is a trading date.
    pub fn is_session(&self, date: NaiveDate) -> bool {
        self.index(date).is_ok()
    }

    /// The session of `date`.
    pub fn session(&self, date: NaiveDate) -> Option<&Session> {
        self.index(date).ok().map(|i| &self.sessions[i])
    }

    /// The `n`-th session after `date` (`n` ≥ 1; `date` itself need not be a session).
    pub fn next_session(&self, date: NaiveDate, n: usize) -> Option<&Session> {
        let after = self.sessions.partition_point(|s| s.date <= date);
        self.sessions.get(after + n.max(1) - 1)
    }

    /// The `n`-th session before `date` (`n` ≥ 1).
    pub fn previous_session(&self, date: NaiveDate, n: usize) -> Option<&Session> {
        let before = self.sessions.partition_point(|s| s.date < date);
        before.checked_sub(n.max(1)).map(|i| &self.sessions[i])
    }

    /// The session open at instant `t` (open ≤ t < close), breaks included.
    pub fn session_at(&self, t: DateTime<Utc>) -> Option<&Session> {
        let i = self.sessions.partition_point(|s| s.open <= t);
        i.checked_sub(1)
            .map(|i| &self.sessions[i])
            .filter(|s| t < s.close)
    }

    /// Sessions whose state window `[open − pre_open, close + post_close)` contains `t`.
    pub(crate) fn windows_at(&self, t: DateTime<Utc>) -> impl Iterator<Item = &Session> {
        let i = self
            .sessions
            .partition_point(|s| s.open - self.spec.pre_open <= t);
        let lo = i.saturating_sub(2);
        self.sessions[lo..i]
            .iter()
            .filter(move |s| t < s.close + self.spec.post_close)
    }
}

//! New York Stock Exchange rules (regular hours 09:30–16:00 America/New_York).

use super::dates::{easter_sunday, nearest_workday, nth_weekday, sunday_to_monday, ymd};
use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};

/// Rule-based full-day holidays of `year` (ad-hoc closures come from configuration).
pub(super) fn holidays(year: i32) -> Vec<NaiveDate> {
    let mut h = Vec::with_capacity(11);
    // New Year's Day: a Sunday moves to Monday; a Saturday is not made up (no Friday close).
    let new_year = ymd(year, 1, 1);
    if new_year.weekday() != Weekday::Sat {
        h.push(sunday_to_monday(new_year));
    }
    if year >= 1998 {
        h.push(nth_weekday(year, 1, Weekday::Mon, 3)); // Martin Luther King Jr. Day
    }
    h.push(nth_weekday(year, 2, Weekday::Mon, 3)); // Washington's Birthday
    h.push(easter_sunday(year) - Days::new(2)); // Good Friday
    h.push(nth_weekday(year, 5, Weekday::Mon, 0)); // Memorial Day
    if year >= 2022 {
        h.push(nearest_workday(ymd(year, 6, 19))); // Juneteenth
    }
    h.push(nearest_workday(ymd(year, 7, 4))); // Independence Day
    h.push(nth_weekday(year, 9, Weekday::Mon, 1)); // Labor Day
    h.push(nth_weekday(year, 11, Weekday::Thu, 4)); // Thanksgiving
    h.push(nearest_workday(ymd(year, 12, 25))); // Christmas
    h
}

/// Rule-based early closes of `year` with their closing time.
pub(super) fn early_closes(year: i32) -> Vec<(NaiveDate, NaiveTime)> {
    let one = NaiveTime::from_hms_opt(13, 0, 0).unwrap_or_default();
    let two = NaiveTime::from_hms_opt(14, 0, 0).unwrap_or_default();
    let mut e = Vec::new();
    let july3 = ymd(year, 7, 3);
    if year >= 1995 && matches!(july3.weekday(), Weekday::Mon | Weekday::Tue | Weekday::Thu) {
        e.push((july3, one));
    }
    // July 4 on a Thursday: the Friday after until 2012, the Wednesday before from 2013.
    let july5 = ymd(year, 7, 5);
    if (1995..=2012).contains(&year) && july5.weekday() == Weekday::Fri {
        e.push((july5, one));
    }
    if year >= 2013 && july3.weekday() == Weekday::Wed {
        e.push((july3, one));
    }
    let black_friday = nth_weekday(year, 11, Weekday::Thu, 4) + Days::new(1);
    let christmas_eve = ymd(year, 12, 24);
    let eve_weekday = matches!(
        christmas_eve.weekday(),
        Weekday::Mon | Weekday::Tue | Weekday::Wed | Weekday::Thu
    );
    if year >= 1993 {
        e.push((black_friday, one));
        if eve_weekday {
            e.push((christmas_eve, one));
        }
    } else {
        // Before 1993 the day after Thanksgiving (from 1992) and Christmas Eve closed at 14:00.
        if year == 1992 {
            e.push((black_friday, two));
        }
        if eve_weekday {
            e.push((christmas_eve, two));
        }
    }
    e
}

//! Tokyo Stock Exchange rules (09:00–15:00 Asia/Tokyo, 15:30 from 5 November 2024, lunch
//! break 11:30–12:30): Japan's national holidays under the Public Holiday Act — including
//! the equinoxes, the "Happy Monday" moves, substitute holidays (振替休日) and citizens'
//! holidays (国民の休日) — plus the exchange's 31 Dec – 3 Jan closure.

use super::dates::{nth_weekday, ymd};
use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};
use std::collections::BTreeSet;

/// Vernal equinox day (春分の日), from the standard approximation valid 1980–2099.
pub fn vernal_equinox(year: i32) -> NaiveDate {
    equinox(year, 3, 20.8431)
}

/// Autumnal equinox day (秋分の日), from the standard approximation valid 1980–2099.
pub fn autumnal_equinox(year: i32) -> NaiveDate {
    equinox(year, 9, 23.2488)
}

fn equinox(year: i32, month: u32, base: f64) -> NaiveDate {
    let y = f64::from(year - 1980);
    let day = (base + 0.242_194 * y).floor() - (y / 4.0).floor();
    ymd(year, month, day as u32)
}

/// The national holidays defined by date rules (before substitute and citizens' holidays).
fn statutory(year: i32) -> Vec<NaiveDate> {
    let mut h = vec![
        ymd(year, 1, 1),
        if year <= 1999 {
            ymd(year, 1, 15)
        } else {
            nth_weekday(year, 1, Weekday::Mon, 2)
        },
        ymd(year, 2, 11),
        vernal_equinox(year),
        ymd(year, 4, 29),
        ymd(year, 5, 3),
        ymd(year, 5, 5),
        autumnal_equinox(year),
        ymd(year, 11, 3),
        ymd(year, 11, 23),
    ];
    if (1989..=2018).contains(&year) {
        h.push(ymd(year, 12, 23)); // Emperor Akihito's birthday
    }
    if year >= 2020 {
        h.push(ymd(year, 2, 23)); // Emperor Naruhito's birthday
    }
    if year >= 2007 {
        h.push(ymd(year, 5, 4)); // Greenery Day (before 2007 a citizens' holiday)
    }
    if (1996..=2002).contains(&year) {
        h.push(ymd(year, 7, 20)); // Marine Day
    } else if year >= 2003 {
        h.push(nth_weekday(year, 7, Weekday::Mon, 3));
    }
    if year >= 2016 {
        h.push(ymd(year, 8, 11)); // Mountain Day
    }
    h.push(if year <= 2002 {
        ymd(year, 9, 15)
    } else {
        nth_weekday(year, 9, Weekday::Mon, 3)
    }); // Respect for the Aged
    h.push(if year <= 1999 {
        ymd(year, 10, 10)
    } else {
        nth_weekday(year, 10, Weekday::Mon, 2)
    }); // Sports Day
    h
}

/// National holidays of `year`: the statutory dates minus `removed`, plus `added` (one-off
/// holidays and moved ones), then substitute holidays and citizens' holidays.
pub(super) fn national_holidays(
    year: i32,
    added: &[NaiveDate],
    removed: &[NaiveDate],
) -> BTreeSet<NaiveDate> {
    let mut national: BTreeSet<NaiveDate> = statutory(year)
        .into_iter()
        .filter(|d| !removed.contains(d))
        .collect();
    national.extend(added.iter().copied().filter(|d| d.year() == year));
    let mut all = national.clone();
    // Substitute holiday: a holiday on a Sunday gives the next day off — from 2007 the
    // next day that is not itself a holiday.
    for d in &national {
        if d.weekday() == Weekday::Sun {
            let mut s = *d + Days::new(1);
            if year >= 2007 {
                while national.contains(&s) {
                    s = s + Days::new(1);
                }
            }
            all.insert(s);
        }
    }
    // Citizens' holiday: a day between two national holidays is a holiday itself.
    for d in &national {
        let gap = *d + Days::new(1);
        if national.contains(&(gap + Days::new(1))) && !national.contains(&gap) {
            all.insert(gap);
        }
    }
    all
}

/// The exchange's own year-end closure: 31 Dec and 1–3 Jan.
pub(super) fn exchange_closures(year: i32) -> [NaiveDate; 4] {
    [
        ymd(year, 1, 1),
        ymd(year, 1, 2),
        ymd(year, 1, 3),
        ymd(year, 12, 31),
    ]
}

/// The regular close of `date`: 15:00, 15:30 from 5 November 2024.
pub(super) fn regular_close(date: NaiveDate) -> NaiveTime {
    if date >= ymd(2024, 11, 5) {
        NaiveTime::from_hms_opt(15, 30, 0).unwrap_or_default()
    } else {
        NaiveTime::from_hms_opt(15, 0, 0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equinoxes_on_known_years() {
        for (y, v, a) in [
            (1990, 21, 23),
            (2000, 20, 23),
            (2012, 20, 22),
            (2016, 20, 22),
            (2024, 20, 22),
            (2025, 20, 23),
            (2035, 21, 23),
        ] {
            assert_eq!(
                (vernal_equinox(y).day(), autumnal_equinox(y).day()),
                (v, a),
                "{y}"
            );
        }
    }

    #[test]
    fn substitute_and_citizens_holidays() {
        // 2008: Greenery Day (Sun 4 May) → substitute on Tue 6 May (5 May is Children's Day).
        assert!(national_holidays(2008, &[], &[]).contains(&ymd(2008, 5, 6)));
        // 2015 Silver Week: Respect for the Aged (21 Sep) and the equinox (23 Sep) sandwich 22 Sep.
        assert!(national_holidays(2015, &[], &[]).contains(&ymd(2015, 9, 22)));
        // 2019: the enthronement day (1 May, a one-off holiday) makes 30 Apr and 2 May holidays.
        let h = national_holidays(2019, &[ymd(2019, 5, 1)], &[]);
        assert!(h.contains(&ymd(2019, 4, 30)) && h.contains(&ymd(2019, 5, 2)));
        // Before 2007 a substitute is only the next day: 3 May 1998 (Sunday) → 4 May.
        let h = national_holidays(1998, &[], &[]);
        assert!(h.contains(&ymd(1998, 5, 4)) && !h.contains(&ymd(1998, 5, 6)));
    }
}

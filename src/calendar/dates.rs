//! Date arithmetic the holiday rules are written in: Easter, n-th weekdays, and the
//! observance shifts exchanges apply when a holiday falls on a weekend.

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// A date known to be valid (rules only build real dates).
pub(crate) fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or(NaiveDate::MIN)
}

/// Western (Gregorian) Easter Sunday — the anonymous Gregorian algorithm.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    ymd(year, month as u32, day as u32)
}

/// The `n`-th (1-based) `weekday` of `month`, or the last one when `n` is 0.
pub fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    if n == 0 {
        let next_month = if month == 12 {
            ymd(year + 1, 1, 1)
        } else {
            ymd(year, month + 1, 1)
        };
        let mut d = next_month.pred_opt().unwrap_or(next_month);
        while d.weekday() != weekday {
            d = d.pred_opt().unwrap_or(d);
        }
        return d;
    }
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).unwrap_or(NaiveDate::MIN)
}

/// True on Saturday and Sunday.
pub fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Saturday → Friday, Sunday → Monday (US "nearest workday").
pub fn nearest_workday(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Days::new(1),
        Weekday::Sun => d + Days::new(1),
        _ => d,
    }
}

/// Sunday → Monday; Saturday stays (and so is no trading-day holiday).
pub fn sunday_to_monday(d: NaiveDate) -> NaiveDate {
    if d.weekday() == Weekday::Sun {
        d + Days::new(1)
    } else {
        d
    }
}

/// Saturday or Sunday → the following Monday (UK bank-holiday substitution).
pub fn weekend_to_monday(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d + Days::new(2),
        Weekday::Sun => d + Days::new(1),
        _ => d,
    }
}

/// Saturday or Sunday → the preceding Friday.
pub fn previous_friday(d: NaiveDate) -> NaiveDate {
    match d.weekday() {
        Weekday::Sat => d - Days::new(1),
        Weekday::Sun => d - Days::new(2),
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_on_known_years() {
        for (y, m, d) in [
            (1990, 4, 15),
            (2000, 4, 23),
            (2008, 3, 23),
            (2011, 4, 24),
            (2019, 4, 21),
            (2024, 3, 31),
            (2035, 3, 25),
        ] {
            assert_eq!(easter_sunday(y), ymd(y, m, d), "{y}");
        }
    }

    #[test]
    fn nth_and_last_weekdays() {
        assert_eq!(nth_weekday(2024, 1, Weekday::Mon, 3), ymd(2024, 1, 15));
        assert_eq!(nth_weekday(2024, 11, Weekday::Thu, 4), ymd(2024, 11, 28));
        assert_eq!(nth_weekday(2024, 5, Weekday::Mon, 0), ymd(2024, 5, 27));
        assert_eq!(nth_weekday(2021, 8, Weekday::Mon, 0), ymd(2021, 8, 30));
        assert_eq!(nth_weekday(2024, 12, Weekday::Tue, 0), ymd(2024, 12, 31));
    }

    #[test]
    fn observance_shifts() {
        let sat = ymd(2021, 12, 25);
        let sun = ymd(2022, 12, 25);
        assert_eq!(
            (nearest_workday(sat), nearest_workday(sun)),
            (ymd(2021, 12, 24), ymd(2022, 12, 26))
        );
        assert_eq!(
            (weekend_to_monday(sat), weekend_to_monday(sun)),
            (ymd(2021, 12, 27), ymd(2022, 12, 26))
        );
        assert_eq!(sunday_to_monday(sat), sat);
        assert_eq!(previous_friday(sun), ymd(2022, 12, 23));
    }
}

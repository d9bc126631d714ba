//! London Stock Exchange rules (regular hours 08:00–16:30 Europe/London). Bank holidays
//! that moved in particular years (VE Day 1995 and 2020, the jubilees) are configuration:
//! the rule date is removed and the actual one added in `markets.toml`.

use super::dates::{
    easter_sunday, is_weekend, nth_weekday, previous_friday, weekend_to_monday, ymd,
};
use chrono::{Days, NaiveDate, NaiveTime, Weekday};

/// Rule-based full-day holidays of `year`.
pub(super) fn holidays(year: i32) -> Vec<NaiveDate> {
    let easter = easter_sunday(year);
    let mut h = vec![
        weekend_to_monday(ymd(year, 1, 1)),
        easter - Days::new(2),                 // Good Friday
        easter + Days::new(1),                 // Easter Monday
        nth_weekday(year, 5, Weekday::Mon, 1), // Early May bank holiday
        nth_weekday(year, 5, Weekday::Mon, 0), // Spring bank holiday
        nth_weekday(year, 8, Weekday::Mon, 0), // Summer bank holiday
    ];
    // Christmas and Boxing Day; when either falls on a weekend, the 27th or 28th is
    // given instead.
    let (christmas, boxing) = (ymd(year, 12, 25), ymd(year, 12, 26));
    h.push(if is_weekend(christmas) {
        ymd(year, 12, 27)
    } else {
        christmas
    });
    h.push(if is_weekend(boxing) {
        ymd(year, 12, 28)
    } else {
        boxing
    });
    h
}

/// Rule-based early closes (12:30) of `year`: Christmas Eve and New Year's Eve, or the
/// Friday before when they fall on a weekend.
pub(super) fn early_closes(year: i32) -> Vec<(NaiveDate, NaiveTime)> {
    let half = NaiveTime::from_hms_opt(12, 30, 0).unwrap_or_default();
    vec![
        (previous_friday(ymd(year, 12, 24)), half),
        (previous_friday(ymd(year, 12, 31)), half),
    ]
}

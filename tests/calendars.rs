//! Calendars against the reference: every weekday of 1990–2035 (Tokyo: 1997–2035) compared
//! with Python's `exchange_calendars` (fixtures from `scripts/calendar-fixtures`), plus known
//! dates of every rule type, DST weeks, exact state boundaries and early closes.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use prometheus::calendar::{ExchangeCalendar, MarketState};
use prometheus::config::ConfigSource;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn calendar(market: &str) -> ExchangeCalendar {
    let src = ConfigSource::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("config"),
        Vec::new(),
    )
    .unwrap();
    let markets = src.load_markets().unwrap();
    markets
        .markets
        .iter()
        .find(|m| m.id == market)
        .unwrap()
        .calendar()
        .unwrap()
}

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

struct Reference {
    first: NaiveDate,
    last: NaiveDate,
    regular: (String, String, String, String),
    closed: BTreeSet<NaiveDate>,
    hours: BTreeMap<NaiveDate, (String, String, String, String)>,
}

fn reference(market: &str) -> Reference {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/fixtures/calendars/{market}.csv")),
    )
    .unwrap();
    let mut lines = text.lines();
    let range = lines
        .next()
        .unwrap()
        .rsplit("sessions ")
        .next()
        .unwrap()
        .to_owned();
    let (first, last) = range.split_once("..").unwrap();
    let regular_line = lines.next().unwrap();
    let words: Vec<&str> = regular_line.split_whitespace().collect();
    let open = words[words.iter().position(|w| *w == "open").unwrap() + 1].to_owned();
    let close = words[words.iter().position(|w| *w == "close").unwrap() + 1].to_owned();
    let brk = words[words.iter().position(|w| *w == "break").unwrap() + 1];
    let (bs, be) = if brk == "---" {
        ("", "")
    } else {
        brk.split_once('-').unwrap()
    };
    let clean = |x: &str| x.to_owned();
    let mut r = Reference {
        first: d(first),
        last: d(last),
        regular: (open, close, clean(bs), clean(be)),
        closed: BTreeSet::new(),
        hours: BTreeMap::new(),
    };
    for line in lines.skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        match f[0] {
            "closed" => {
                r.closed.insert(d(f[1]));
            }
            "hours" => {
                r.hours.insert(
                    d(f[1]),
                    (f[2].into(), f[3].into(), f[4].into(), f[5].into()),
                );
            }
            _ => panic!("bad fixture line {line}"),
        }
    }
    r
}

fn local_hm(cal: &ExchangeCalendar, t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.with_timezone(&cal.tz()).format("%H:%M").to_string())
        .unwrap_or_default()
}

/// Every difference between our calendar and the reference, one line each.
fn differences(market: &str) -> Vec<String> {
    let cal = calendar(market);
    let r = reference(market);
    let mut diffs = Vec::new();
    for day in r.first.iter_days().take_while(|x| *x <= r.last) {
        if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            continue;
        }
        let expected_open = !r.closed.contains(&day);
        match (expected_open, cal.session(day)) {
            (true, None) => diffs.push(format!("{day}: reference has a session, we are closed")),
            (false, Some(_)) => {
                diffs.push(format!("{day}: reference is closed, we have a session"))
            }
            (true, Some(s)) => {
                let ours = (
                    local_hm(&cal, Some(s.open)),
                    local_hm(&cal, Some(s.close)),
                    local_hm(&cal, s.break_start),
                    local_hm(&cal, s.break_end),
                );
                let want = r
                    .hours
                    .get(&day)
                    .cloned()
                    .unwrap_or_else(|| r.regular.clone());
                if ours != want {
                    diffs.push(format!("{day}: hours {ours:?}, reference {want:?}"));
                }
            }
            (false, None) => {}
        }
    }
    diffs
}

#[test]
fn nyse_matches_the_reference_on_every_day_1990_2035() {
    assert_eq!(differences("US_EQ"), Vec::<String>::new());
}

#[test]
fn lse_matches_the_reference_on_every_day_1990_2035() {
    assert_eq!(differences("EU_EQ"), Vec::<String>::new());
}

/// Days where the reference is wrong and we follow the law. 1998: the Public Holiday Act
/// then gave a Sunday holiday's substitute to the next day only (3 May → Monday 4 May); the
/// "next non-holiday day" rule that moves it to 6 May applies from 2007. The reference
/// applies the 2007 rule to every year.
const REFERENCE_ERRORS: &[&str] = &["1998-05-06: reference is closed, we have a session"];

#[test]
fn tse_matches_the_reference_on_every_day_1997_2035() {
    assert_eq!(differences("JP_EQ"), REFERENCE_ERRORS);
}

fn closed(cal: &ExchangeCalendar, days: &[&str]) {
    for day in days {
        assert!(!cal.is_session(d(day)), "{day} should be closed");
    }
}

fn open(cal: &ExchangeCalendar, days: &[&str]) {
    for day in days {
        assert!(cal.is_session(d(day)), "{day} should be a session");
    }
}

#[test]
fn us_rules_on_known_dates() {
    let us = calendar("US_EQ");
    closed(
        &us,
        &[
            "2024-03-29",
            "2022-06-20",
            "2023-06-19",
            "2021-12-24",
            "2022-12-26",
            "2023-01-16",
            "1998-01-19",
            "2001-09-11",
            "2001-09-14",
            "2012-10-29",
            "2025-01-09",
        ],
    );
    // Juneteenth's first observed year is 2022; MLK day from 1998; a Saturday New Year is not made up.
    open(
        &us,
        &[
            "2021-06-18",
            "1997-01-20",
            "2021-12-31",
            "2001-09-17",
            "2012-10-31",
        ],
    );
    let close = |day: &str| {
        us.session(d(day))
            .unwrap()
            .close
            .with_timezone(&us.tz())
            .time()
    };
    assert_eq!(
        close("2024-07-03"),
        NaiveTime::from_hms_opt(13, 0, 0).unwrap()
    );
    assert_eq!(
        close("2024-11-29"),
        NaiveTime::from_hms_opt(13, 0, 0).unwrap()
    );
    assert_eq!(
        close("2024-12-24"),
        NaiveTime::from_hms_opt(13, 0, 0).unwrap()
    );
    assert_eq!(
        close("1991-12-24"),
        NaiveTime::from_hms_opt(14, 0, 0).unwrap()
    );
    assert!(us.session(d("2024-12-24")).unwrap().early_close);
    assert!(!us.session(d("2024-12-23")).unwrap().early_close);
    // 2019: July 4 a Thursday → early close on Wednesday 3 July (the rule since 2013).
    assert_eq!(
        close("2019-07-03"),
        NaiveTime::from_hms_opt(13, 0, 0).unwrap()
    );
    assert_eq!(
        close("2019-07-05"),
        NaiveTime::from_hms_opt(16, 0, 0).unwrap()
    );
}

#[test]
fn uk_rules_on_known_dates() {
    let uk = calendar("EU_EQ");
    // 2020: the early May bank holiday moved from Monday 4 May to Friday 8 May (VE Day 75).
    closed(
        &uk,
        &[
            "2020-05-08",
            "2020-04-10",
            "2020-04-13",
            "2011-04-29",
            "2022-09-19",
            "2023-05-08",
            "1999-12-31",
        ],
    );
    open(&uk, &["2020-05-04"]);
    // 2021: Christmas on Saturday, Boxing Day on Sunday → Monday 27 and Tuesday 28 closed.
    closed(&uk, &["2021-12-27", "2021-12-28"]);
    // 2022: Christmas on Sunday → Monday 26 (Boxing Day) and Tuesday 27 (substitute).
    closed(&uk, &["2022-12-26", "2022-12-27"]);
    open(&uk, &["2022-12-28"]);
    // New Year's Day on a Saturday → Monday 3 January.
    closed(&uk, &["2022-01-03"]);
    let s = uk.session(d("2024-12-24")).unwrap();
    assert!(s.early_close);
    assert_eq!(s.close, t("2024-12-24T12:30:00Z"));
    // Christmas Eve on a Sunday → the early close is Friday 22 December.
    assert!(uk.session(d("2023-12-22")).unwrap().early_close);
}

#[test]
fn japan_rules_on_known_dates() {
    let jp = calendar("JP_EQ");
    closed(
        &jp,
        &[
            "2024-03-20", // vernal equinox
            "2024-09-23", // autumnal equinox (22nd, a Sunday) → substitute Monday
            "2024-01-08", // Coming of Age Day, second Monday (Happy Monday)
            "1999-01-15", // Coming of Age Day, fixed date before 2000
            "2015-09-22", // citizens' holiday between two holidays
            "2019-04-30",
            "2019-05-01",
            "2019-05-02", // accession and its citizens' holidays
            "2020-07-23",
            "2020-07-24", // Olympic moves
            "2021-08-09", // substitute of the moved Mountain Day (Sunday 8 August)
            "2024-12-31",
            "2024-01-02",
            "2024-01-03",
            "2023-01-02", // year-end closure
            "2020-10-01", // system failure
            "1990-11-12",
            "1993-06-09", // one-off holidays before the reference starts
            "1990-12-24", // Emperor's Birthday (Sunday 23rd) → substitute Monday
            "2020-02-24", // the new Emperor's Birthday (Sunday 23rd) → substitute Monday
        ],
    );
    open(
        &jp,
        &[
            "2020-07-20",
            "2020-10-12",
            "2019-12-23",
            "1998-05-06",
            "2024-01-04",
            "2023-12-29",
        ],
    );
    // Hours: 09:00–15:00 with an 11:30–12:30 break, closing 15:30 from 5 November 2024.
    let s = jp.session(d("2024-11-01")).unwrap();
    assert_eq!(
        (s.open, s.close),
        (t("2024-11-01T00:00:00Z"), t("2024-11-01T06:00:00Z"))
    );
    assert_eq!(
        (s.break_start, s.break_end),
        (
            Some(t("2024-11-01T02:30:00Z")),
            Some(t("2024-11-01T03:30:00Z"))
        )
    );
    assert_eq!(
        jp.session(d("2024-11-05")).unwrap().close,
        t("2024-11-05T06:30:00Z")
    );
}

#[test]
fn fx_runs_sunday_to_friday_and_closes_for_christmas_and_new_year() {
    let fx = calendar("FX_GLOB");
    let mon = fx.session(d("2024-03-11")).unwrap();
    // Monday's session opens Sunday 17:00 New York (EDT from 10 March: 21:00 UTC).
    assert_eq!(
        (mon.open, mon.close),
        (t("2024-03-10T21:00:00Z"), t("2024-03-11T21:00:00Z"))
    );
    let fri = fx.session(d("2024-03-08")).unwrap();
    assert_eq!(
        (fri.open, fri.close),
        (t("2024-03-07T22:00:00Z"), t("2024-03-08T22:00:00Z"))
    );
    closed(
        &fx,
        &["2024-12-25", "2025-01-01", "2024-03-09", "2024-03-10"],
    );
    assert_eq!(
        fx.session(d("2024-12-26")).unwrap().open,
        t("2024-12-25T22:00:00Z")
    );
    assert_eq!(
        fx.state_at(t("2024-03-09T12:00:00Z")).state,
        MarketState::Holiday
    );
    assert_eq!(
        fx.state_at(t("2024-03-10T21:00:00Z")).state,
        MarketState::Session
    );
    assert_eq!(
        fx.state_at(t("2024-03-10T20:59:59Z")).state,
        MarketState::Holiday
    );
}

#[test]
fn dst_weeks_shift_utc_hours_on_each_side_of_the_atlantic() {
    let (us, uk) = (calendar("US_EQ"), calendar("EU_EQ"));
    // The US moves to summer time on 10 March 2024, the UK on 31 March.
    assert_eq!(
        us.session(d("2024-03-08")).unwrap().open,
        t("2024-03-08T14:30:00Z")
    );
    assert_eq!(
        us.session(d("2024-03-11")).unwrap().open,
        t("2024-03-11T13:30:00Z")
    );
    assert_eq!(
        uk.session(d("2024-03-28")).unwrap().open,
        t("2024-03-28T08:00:00Z")
    );
    assert_eq!(
        uk.session(d("2024-04-02")).unwrap().open,
        t("2024-04-02T07:00:00Z")
    );
    // Back: UK on 27 October, US on 3 November 2024.
    assert_eq!(
        uk.session(d("2024-10-25")).unwrap().close,
        t("2024-10-25T15:30:00Z")
    );
    assert_eq!(
        uk.session(d("2024-10-28")).unwrap().close,
        t("2024-10-28T16:30:00Z")
    );
    assert_eq!(
        us.session(d("2024-11-01")).unwrap().close,
        t("2024-11-01T20:00:00Z")
    );
    assert_eq!(
        us.session(d("2024-11-04")).unwrap().close,
        t("2024-11-04T21:00:00Z")
    );
}

#[test]
fn states_are_exact_at_boundaries() {
    let us = calendar("US_EQ");
    // 2024-07-03: 09:30–13:00 EDT (13:30–17:00 UTC); pre-open 60 min, post-close 120 min.
    let at = |s: &str| us.state_at(t(s));
    assert_eq!(at("2024-07-03T12:29:59Z").state, MarketState::Overnight);
    assert_eq!(at("2024-07-03T12:30:00Z").state, MarketState::PreOpen);
    assert_eq!(at("2024-07-03T13:29:59Z").state, MarketState::PreOpen);
    assert_eq!(at("2024-07-03T13:30:00Z").state, MarketState::Session);
    assert_eq!(at("2024-07-03T16:59:59Z").state, MarketState::Session);
    assert_eq!(
        at("2024-07-03T17:00:00Z").state,
        MarketState::PostClose,
        "early close"
    );
    assert_eq!(at("2024-07-03T19:00:00Z").state, MarketState::Overnight);
    assert_eq!(at("2024-07-04T15:00:00Z").state, MarketState::Holiday);
    assert_eq!(
        at("2024-07-06T15:00:00Z").state,
        MarketState::Holiday,
        "Saturday"
    );
    assert_eq!(at("2024-07-03T17:00:00Z").session, Some(d("2024-07-03")));
    let jp = calendar("JP_EQ");
    let lunch = jp.state_at(t("2024-11-01T03:00:00Z"));
    assert_eq!((lunch.state, lunch.in_break), (MarketState::Session, true));
    assert!(
        !jp.state_at(t("2024-11-01T03:30:00Z")).in_break,
        "the break ends at 12:30 sharp"
    );
}

#[test]
fn session_navigation() {
    let us = calendar("US_EQ");
    assert_eq!(
        us.next_session(d("2024-07-03"), 1).unwrap().date,
        d("2024-07-05")
    );
    assert_eq!(
        us.next_session(d("2024-07-04"), 1).unwrap().date,
        d("2024-07-05")
    );
    assert_eq!(
        us.next_session(d("2024-07-03"), 3).unwrap().date,
        d("2024-07-09")
    );
    assert_eq!(
        us.previous_session(d("2024-07-05"), 1).unwrap().date,
        d("2024-07-03")
    );
    assert_eq!(
        us.previous_session(d("2024-07-08"), 2).unwrap().date,
        d("2024-07-03")
    );
    assert_eq!(
        us.sessions(d("2024-12-23"), d("2025-01-03"))
            .iter()
            .map(|s| s.date.to_string())
            .collect::<Vec<_>>(),
        [
            "2024-12-23",
            "2024-12-24",
            "2024-12-26",
            "2024-12-27",
            "2024-12-30",
            "2024-12-31",
            "2025-01-02",
            "2025-01-03"
        ]
    );
    assert_eq!(
        us.session_at(t("2024-07-05T14:00:00Z")).unwrap().date,
        d("2024-07-05")
    );
    assert!(us.session_at(t("2024-07-05T21:00:00Z")).is_none());
    assert_eq!(us.all_sessions().first().unwrap().date, d("1990-01-02"));
    assert_eq!(us.all_sessions().last().unwrap().date, d("2035-12-31"));
}

#[test]
fn transitions_are_ordered_and_complete() {
    let us = calendar("US_EQ");
    let tr = us.transitions(t("2024-07-02T00:00:00Z"), t("2024-07-06T00:00:00Z"));
    let got: Vec<(String, MarketState)> = tr
        .iter()
        .map(|x| (x.at.format("%m-%d %H:%M").to_string(), x.state))
        .collect();
    use MarketState::*;
    let want = [
        ("07-02 12:30", PreOpen),
        ("07-02 13:30", Session),
        ("07-02 20:00", PostClose),
        ("07-02 22:00", Overnight),
        ("07-03 12:30", PreOpen),
        ("07-03 13:30", Session),
        ("07-03 17:00", PostClose),
        ("07-03 19:00", Overnight),
        ("07-05 12:30", PreOpen),
        ("07-05 13:30", Session),
        ("07-05 20:00", PostClose),
        ("07-05 22:00", Overnight),
    ];
    assert_eq!(got, want.map(|(a, b)| (a.to_owned(), b)));
    assert!(tr.windows(2).all(|w| w[0].at <= w[1].at));
}

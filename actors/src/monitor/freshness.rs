//! The freshness watchdog: a market's prices for a session are due a set time after its
//! close (`daemon.data_due_minutes`); when the latest session due by now has no prices, an
//! alert is raised (an `alert` actor event, the dashboard, `pv2_alerts_total`), `/readyz`
//! says why, and the alert resolves itself once the data is in. Time is the daemon's clock,
//! so a simulated clock drives it in tests exactly as the real one does in production.
//!
//! A market with no prices at all is not watched: nothing was ever imported for it, so
//! nothing is late.

use super::telemetry::{Alert, MarketFreshness, Telemetry};
use crate::spine::system::Spine;
use chrono::{DateTime, Duration, Utc};
use prometheus::calendar::ExchangeCalendar;
use prometheus::domain::{Clock, EventKind};
use prometheus::store::PriceStore;
use std::sync::Arc;

/// The kind of the alerts this watchdog raises.
pub const FRESHNESS: &str = "freshness";

/// How fresh `market`'s data is at `now`, given its latest priced session: the latest
/// session whose data was due (close + `due`) at or before `now`, and whether it is missing.
pub fn assess(
    market: &str,
    calendar: &ExchangeCalendar,
    latest: Option<chrono::NaiveDate>,
    now: DateTime<Utc>,
    due: Duration,
) -> MarketFreshness {
    let today = now.date_naive();
    let expected = calendar
        .sessions(today - Duration::days(21), today)
        .iter()
        .rev()
        .map(|s| (s.date, s.close + due))
        .find(|(_, at)| *at <= now);
    let overdue = match (latest, expected) {
        (Some(have), Some((want, _))) => have < want,
        _ => false,
    };
    MarketFreshness {
        market: market.to_owned(),
        latest,
        expected: expected.map(|(d, _)| d),
        due_at: expected.map(|(_, at)| at),
        overdue,
    }
}

/// Every configured market's freshness now, read from the historical database.
///
/// # Errors
/// The database cannot be read.
pub async fn check_all(
    spine: &Spine,
    now: DateTime<Utc>,
    due: Duration,
) -> Result<Vec<MarketFreshness>, prometheus::store::StoreError> {
    let mut out = Vec::with_capacity(spine.calendars.len());
    for (market, calendar) in spine.calendars.iter() {
        let latest = spine.stores.historical.latest_price_date(market).await?;
        out.push(assess(market, calendar, latest, now, due));
    }
    Ok(out)
}

/// What an overdue market's alert says.
fn describe(f: &MarketFreshness) -> String {
    let latest = f
        .latest
        .map_or_else(|| "none".to_owned(), |d| d.to_string());
    let due = f.due_at.map_or_else(String::new, |t| {
        format!(" (due {})", t.format("%Y-%m-%d %H:%M UTC"))
    });
    let expected = f.expected.map_or_else(String::new, |d| d.to_string());
    format!(
        "{} prices for {expected} are not in{due}; the latest session with prices is {latest}. \
         Check the ingest (pv2 runs, the inbox) or import the file",
        f.market
    )
}

/// Raises an alert for each overdue market not yet alerted, resolves the alerts of markets
/// whose data came in; returns how many were raised.
pub fn apply(
    telemetry: &Telemetry,
    events: &crate::spine::supervision::EventRecorder,
    now: DateTime<Utc>,
    markets: &[MarketFreshness],
) -> usize {
    let mut raised = 0;
    for f in markets {
        if f.overdue {
            let alert = Alert {
                kind: FRESHNESS.into(),
                subject: f.market.clone(),
                detail: describe(f),
                raised_at: now,
            };
            let detail = alert.detail.clone();
            if telemetry.raise(alert) {
                events.record("watchdog", EventKind::Alert, detail);
                raised += 1;
            }
        } else if telemetry.resolve(FRESHNESS, &f.market) {
            events.record(
                "watchdog",
                EventKind::Alert,
                format!(
                    "{} data is in again (latest {:?}); resolved",
                    f.market, f.latest
                ),
            );
        }
    }
    raised
}

/// Runs the watchdog until the task is dropped: looks at start, then every `every`.
pub async fn run(
    spine: Arc<Spine>,
    clock: Arc<dyn Clock>,
    due: Duration,
    every: std::time::Duration,
) {
    let telemetry = spine.events.telemetry();
    loop {
        let now = clock.now();
        match check_all(&spine, now, due).await {
            Ok(markets) => {
                apply(&telemetry, &spine.events, now, &markets);
            }
            Err(e) => {
                tracing::warn!(error = %e, "freshness watchdog cannot read prices; next look in {every:?}")
            }
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use prometheus::config::MarketsConfig;

    fn nyse() -> ExchangeCalendar {
        let markets: MarketsConfig =
            toml::from_str(include_str!("../../../config/markets.toml")).unwrap();
        markets
            .markets
            .iter()
            .find(|m| m.id == "US_EQ")
            .unwrap()
            .calendar()
            .unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Wednesday 2024-07-03 closes early (13:00 New York = 17:00 UTC); Thursday is a holiday.
    /// Two hours after a close the day's data is due; before that the previous session is.
    #[test]
    fn data_is_due_a_set_time_after_each_close_on_the_calendar() {
        let cal = nyse();
        let assess_at = |latest: Option<&str>, now: &str| {
            assess(
                "US_EQ",
                &cal,
                latest.map(d),
                at(now),
                Duration::minutes(120),
            )
        };
        // Tuesday 2024-07-02 closed 20:00 UTC: due 22:00.
        let f = assess_at(Some("2024-07-01"), "2024-07-02T21:59:00Z");
        assert_eq!(f.expected, Some(d("2024-07-01")));
        assert!(!f.overdue);
        let f = assess_at(Some("2024-07-01"), "2024-07-02T22:00:00Z");
        assert_eq!(f.expected, Some(d("2024-07-02")));
        assert!(f.overdue);
        assert_eq!(f.due_at, Some(at("2024-07-02T22:00:00Z")));
        // The early close: due at 19:00 UTC, and the holiday after it expects nothing new.
        let f = assess_at(Some("2024-07-03"), "2024-07-05T12:00:00Z");
        assert_eq!(f.expected, Some(d("2024-07-03")));
        assert!(!f.overdue);
        let f = assess_at(Some("2024-07-02"), "2024-07-03T19:00:00Z");
        assert!(f.overdue, "{f:?}");
        // Nothing ever imported: not watched.
        let f = assess_at(None, "2024-07-03T19:00:00Z");
        assert!(!f.overdue);
    }

    /// Raised once while overdue (one `alert` actor event), resolved with another when the
    /// data is in, on the telemetry the dashboard and `/metrics` read.
    #[tokio::test]
    async fn an_overdue_market_raises_one_alert_and_resolves_when_its_data_arrives() {
        use prometheus::store::{EventLog, RuntimeDb};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("runtime.db").display());
        let db = RuntimeDb::open(&url, 2).await.unwrap();
        let now = at("2024-07-02T22:30:00Z");
        let events = crate::spine::supervision::EventRecorder::start(
            db.clone(),
            Arc::new(prometheus::domain::FixedClock(now)),
        );
        let telemetry = events.telemetry();
        let late = MarketFreshness {
            market: "US_EQ".into(),
            latest: Some(d("2024-07-01")),
            expected: Some(d("2024-07-02")),
            due_at: Some(at("2024-07-02T22:00:00Z")),
            overdue: true,
        };
        assert_eq!(
            apply(&telemetry, &events, now, std::slice::from_ref(&late)),
            1
        );
        assert_eq!(
            apply(&telemetry, &events, now, std::slice::from_ref(&late)),
            0
        );
        let open = telemetry.open_alerts();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].kind.as_str(), open[0].subject.as_str()),
            (FRESHNESS, "US_EQ")
        );
        let fresh = MarketFreshness {
            latest: Some(d("2024-07-02")),
            overdue: false,
            ..late
        };
        assert_eq!(apply(&telemetry, &events, now, &[fresh]), 0);
        assert!(telemetry.open_alerts().is_empty());
        events.flush().await;
        let mut logged: Vec<String> = db
            .events(Some("watchdog"), 10)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.event == EventKind::Alert)
            .map(|e| e.detail)
            .collect();
        logged.sort_by_key(|d| d.contains("resolved"));
        assert_eq!(logged.len(), 2, "{logged:?}");
        assert!(logged[0].contains("are not in"), "{logged:?}");
        assert!(logged[1].contains("resolved"), "{logged:?}");
    }

    #[test]
    fn an_overdue_alert_names_the_missing_session_the_latest_and_what_to_do() {
        let late = MarketFreshness {
            market: "US_EQ".into(),
            latest: Some(d("2024-07-01")),
            expected: Some(d("2024-07-02")),
            due_at: Some(at("2024-07-02T22:00:00Z")),
            overdue: true,
        };
        let text = describe(&late);
        assert!(
            text.starts_with("US_EQ prices for 2024-07-02 are not in (due 2024-07-02 22:00 UTC)"),
            "{text}"
        );
        assert!(
            text.contains("latest session with prices is 2024-07-01"),
            "{text}"
        );
        assert!(text.contains("import"), "{text}");
    }
}

//! The scheduler actor on a simulated clock, through the real orchestrator and actors:
//! exact follow-the-sun activations across DST changes, restarts that re-fire nothing,
//! catch-up policies, required market states, and `pv2 backfill` with a crash in the middle.

mod common;

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use common::{Env, events, in_system};
use prometheus::domain::{Clock, MarketId};
use prometheus::store::{RunStore, ScheduleStore};
use prometheus_actors::orchestrator::{Submit, WaitRun, Wake};
use prometheus_actors::scheduler::{
    SchedulerClock, SchedulerOptions, SchedulerReport, SimulatedClock, WhenFinished,
};
use prometheus_actors::spine::faults::FaultPlan;
use prometheus_actors::spine::system::Spine;
use std::sync::Arc;
use std::time::Duration;

/// Two DAGs on every market: one when the session opens, one when it closes.
const OPEN_CLOSE_DAGS: &str = r#"
[[dag]]
id = "close"
markets = ["US_EQ", "EU_EQ", "JP_EQ", "FX_GLOB"]
[dag.trigger]
on = "POST_CLOSE"
catch_up = "all"
[[dag.job]]
id = "mark"
actor = "noop"
required_state = "POST_CLOSE"
timeout_secs = 30

[[dag]]
id = "open"
markets = ["US_EQ", "EU_EQ", "JP_EQ", "FX_GLOB"]
[dag.trigger]
on = "SESSION"
catch_up = "all"
[[dag.job]]
id = "mark"
actor = "noop"
required_state = "SESSION"
timeout_secs = 30
"#;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

async fn spine_on(env: &Env, clock: &Arc<SimulatedClock>) -> Spine {
    let ctx = env.context();
    let stores = ctx.open_stores().await.unwrap();
    let faults = FaultPlan::parse("", prometheus_actors::spine::ACTOR_NAMES).unwrap();
    let clock: Arc<dyn Clock> = Arc::clone(clock) as Arc<dyn Clock>;
    Spine::start(&ctx, stores, faults, clock).await.unwrap()
}

fn options(
    clock: &Arc<SimulatedClock>,
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    catch_up: bool,
) -> SchedulerOptions {
    SchedulerOptions {
        scheduler_id: "sim".into(),
        clock: SchedulerClock::Simulated(Arc::clone(clock)),
        start: Some(start),
        until: Some(until),
        wait_for_runs: true,
        dates_in_flight: 1,
        resubmit_recorded: false,
        catch_up,
        on_activation: None,
    }
}

/// Starts a spine and a scheduler on `clock`, waits for it to pass `until`, shuts down.
async fn schedule(
    env: &Env,
    clock: &Arc<SimulatedClock>,
    opts: SchedulerOptions,
) -> SchedulerReport {
    let spine = spine_on(env, clock).await;
    let scheduler = spine.start_scheduler(opts, None, None).unwrap();
    let done = scheduler.send(WhenFinished).await.unwrap();
    let report = tokio::time::timeout(Duration::from_secs(300), done)
        .await
        .expect("the scheduler reached the end")
        .unwrap();
    spine.shutdown(Duration::from_secs(5)).await;
    spine.stores.close().await;
    report
}

/// The activations expected in `(from, to]`, built from hand-written session lists and
/// local opening hours (not from the calendar code under test), in firing order.
fn expected(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(DateTime<Utc>, String)> {
    struct M {
        id: &'static str,
        tz: Tz,
        open: (u32, u32),
        close: (u32, u32),
        /// The session opens the evening before (FX).
        opens_day_before: bool,
        closed: &'static [&'static str],
    }
    let markets = [
        M {
            id: "JP_EQ",
            tz: chrono_tz::Asia::Tokyo,
            open: (9, 0),
            close: (15, 0),
            opens_day_before: false,
            closed: &["2024-03-20"], // Vernal Equinox Day
        },
        M {
            id: "EU_EQ",
            tz: chrono_tz::Europe::London,
            open: (8, 0),
            close: (16, 30),
            opens_day_before: false,
            closed: &["2024-03-29", "2024-04-01"], // Good Friday, Easter Monday
        },
        M {
            id: "US_EQ",
            tz: chrono_tz::America::New_York,
            open: (9, 30),
            close: (16, 0),
            opens_day_before: false,
            closed: &["2024-03-29"], // Good Friday
        },
        M {
            id: "FX_GLOB",
            tz: chrono_tz::America::New_York,
            open: (17, 0),
            close: (17, 0),
            opens_day_before: true,
            closed: &[],
        },
    ];
    let local = |tz: Tz, d: NaiveDate, (h, m): (u32, u32)| {
        tz.from_local_datetime(&d.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap()))
            .single()
            .unwrap()
            .with_timezone(&Utc)
    };
    let mut out = Vec::new();
    let mut d = from.date_naive() - TimeDelta::days(3);
    while d <= to.date_naive() + TimeDelta::days(3) {
        for m in &markets {
            let weekend = matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
            if weekend || m.closed.contains(&d.to_string().as_str()) {
                continue;
            }
            // An FX session opens the evening before (Monday's on Sunday).
            let open_day = if m.opens_day_before {
                d - TimeDelta::days(1)
            } else {
                d
            };
            for (dag, at, state) in [
                ("open", local(m.tz, open_day, m.open), "SESSION"),
                ("close", local(m.tz, d, m.close), "POST_CLOSE"),
            ] {
                if at > from && at <= to {
                    let offset = {
                        use chrono::Offset;
                        m.tz.offset_from_utc_datetime(&at.naive_utc())
                            .fix()
                            .local_minus_utc()
                    };
                    out.push((at, -offset, dag, format!("{dag}:{}:{d}:{state}", m.id)));
                }
            }
        }
        d += TimeDelta::days(1);
    }
    out.sort();
    out.into_iter().map(|(at, _, _, id)| (at, id)).collect()
}

/// The activation ids the scheduler reported as fired, in the order it fired them.
async fn fired_in_order(env: &Env) -> Vec<String> {
    let ctx = env.context();
    let stores = ctx.open_stores().await.unwrap();
    let out = events(&stores.runtime)
        .await
        .into_iter()
        .filter(|(actor, event, _)| actor == "scheduler" && event == "activated")
        .map(|(_, _, detail)| detail.split(" -> ").next().unwrap().to_owned())
        .collect();
    stores.close().await;
    out
}

/// A month across both DST changes, in two halves with a restart in between.
async fn month_across_dst_with_a_restart(env: &Env) {
    {
        let start = utc("2024-03-01T00:00:00Z");
        let middle = utc("2024-03-15T12:00:00Z");
        let end = utc("2024-04-05T23:59:59Z");
        let want = expected(start, end);
        // Independent sanity of the expectation: sessions per market, ×2 DAGs, minus the
        // opening of the FX session of 1 March (the evening before the window) and Tokyo's
        // opening on 1 March, at 00:00 UTC exactly: the window's start is exclusive.
        assert_eq!(want.len(), 25 * 2 + 24 * 2 + 25 * 2 + 26 * 2 - 2);
        // US clocks move on 10 March, UK clocks on 31 March: closes shift by an hour in UTC.
        for (at, id) in [
            ("2024-03-08T21:00:00Z", "close:US_EQ:2024-03-08:POST_CLOSE"),
            ("2024-03-11T20:00:00Z", "close:US_EQ:2024-03-11:POST_CLOSE"),
            ("2024-03-28T16:30:00Z", "close:EU_EQ:2024-03-28:POST_CLOSE"),
            ("2024-04-02T15:30:00Z", "close:EU_EQ:2024-04-02:POST_CLOSE"),
            ("2024-03-10T21:00:00Z", "open:FX_GLOB:2024-03-11:SESSION"),
        ] {
            assert!(want.contains(&(utc(at), id.to_owned())), "{id} at {at}");
        }

        // First half, then a new spine and scheduler that start from the month's beginning
        // again: the stored watermark and activations keep them from re-firing anything.
        let clock = Arc::new(SimulatedClock::new(start));
        let first = schedule(env, &clock, options(&clock, start, middle, false)).await;
        let clock = Arc::new(SimulatedClock::new(start));
        let second = schedule(env, &clock, options(&clock, start, end, false)).await;
        let in_first = want.iter().filter(|(at, _)| *at <= middle).count();
        assert_eq!(first.fired, in_first);
        assert_eq!(second.fired, want.len() - in_first);
        assert_eq!(second.already_recorded, 0, "the watermark was honoured");
        assert!(first.failed_runs.is_empty() && second.failed_runs.is_empty());

        let ids: Vec<String> = want.iter().map(|(_, id)| id.clone()).collect();
        assert_eq!(fired_in_order(env).await, ids, "exact ids in firing order");

        let ctx = env.context();
        let stores = ctx.open_stores().await.unwrap();
        let recorded = stores.runtime.activations(start, end).await.unwrap();
        assert_eq!(recorded.len(), want.len());
        for a in &recorded {
            assert_eq!(a.outcome, "fired");
            assert_eq!(
                a.fired_at, a.due_at,
                "the simulated clock stands at the due time"
            );
            let run_id = format!("{}:{}:{}", a.dag_id, a.market_id, a.as_of_date);
            assert_eq!(a.run_id.as_deref(), Some(run_id.as_str()));
            let run = stores.runtime.dag_run(&run_id).await.unwrap().unwrap();
            assert_eq!(run.state.as_str(), "SUCCEEDED", "{run_id}");
        }
        assert_eq!(
            stores.runtime.watermark("sim").await.unwrap(),
            Some(end),
            "the watermark reaches the end of the window"
        );
        stores.close().await;
    }
}

#[test]
fn a_month_across_both_dst_changes_fires_exactly_the_expected_activations_and_a_restart_refires_none()
 {
    let env = Env::with(None, OPEN_CLOSE_DAGS, "");
    in_system(month_across_dst_with_a_restart(&env));
}

#[test]
fn the_same_month_on_postgres() {
    in_system(async {
        let env = Env::postgres("scheduler_month", OPEN_CLOSE_DAGS, "").await;
        month_across_dst_with_a_restart(&env).await;
        env.cleanup().await;
    });
}

#[test]
fn catch_up_policies_after_downtime() {
    // The daemon was down from Monday 4 March to Thursday 7 March 12:00 UTC.
    let down_from = utc("2024-03-04T00:00:00Z");
    let back_at = utc("2024-03-07T12:00:00Z");
    let until = utc("2024-03-07T23:59:59Z");
    for (policy, want_fired, want_skipped) in [
        // Missed: JP 4, 5, 6 and 7 March closes; EU and US 4, 5, 6. After coming back,
        // EU and US 7 March close normally.
        ("all", 4 + 3 + 3 + 2, 0),
        ("latest", 3 + 2, 3 + 2 + 2),
        ("none", 2, 4 + 3 + 3),
    ] {
        let dags = format!(
            r#"
[[dag]]
id = "close"
markets = ["US_EQ", "EU_EQ", "JP_EQ"]
[dag.trigger]
on = "POST_CLOSE"
catch_up = "{policy}"
[[dag.job]]
id = "mark"
actor = "noop"
"#
        );
        let env = Env::with(None, &dags, "");
        in_system(async {
            let ctx = env.context();
            let stores = ctx.open_stores().await.unwrap();
            stores
                .runtime
                .set_watermark("sim", down_from)
                .await
                .unwrap();
            stores.close().await;
            let clock = Arc::new(SimulatedClock::new(back_at));
            let report = schedule(&env, &clock, options(&clock, down_from, until, true)).await;
            assert_eq!(
                (report.fired, report.skipped),
                (want_fired, want_skipped),
                "catch_up = {policy}: {report:?}"
            );
            let ctx = env.context();
            let stores = ctx.open_stores().await.unwrap();
            let all = stores.runtime.activations(down_from, until).await.unwrap();
            assert_eq!(all.len(), want_fired + want_skipped);
            if policy == "latest" {
                let fired: Vec<&str> = all
                    .iter()
                    .filter(|a| a.outcome == "fired")
                    .map(|a| a.activation_id.as_str())
                    .collect();
                assert_eq!(
                    fired,
                    [
                        "close:EU_EQ:2024-03-06:POST_CLOSE",
                        "close:US_EQ:2024-03-06:POST_CLOSE",
                        "close:JP_EQ:2024-03-07:POST_CLOSE",
                        "close:EU_EQ:2024-03-07:POST_CLOSE",
                        "close:US_EQ:2024-03-07:POST_CLOSE",
                    ]
                );
            }
            for a in all.iter().filter(|a| a.outcome == "skipped") {
                assert!(a.run_id.is_none());
                let run = format!("{}:{}:{}", a.dag_id, a.market_id, a.as_of_date);
                assert!(stores.runtime.dag_run(&run).await.unwrap().is_none());
            }
            stores.close().await;
        });
    }
}

#[test]
fn jobs_wait_for_their_market_state_and_closed_days_are_refused() {
    let dags = r#"
[[dag]]
id = "close"
markets = ["US_EQ"]
[[dag.job]]
id = "mark"
actor = "noop"
required_state = "POST_CLOSE"
timeout_secs = 30
"#;
    let env = Env::with(None, dags, "");
    in_system(async {
        // 11 March 2024, 11:00 in New York: the session has not closed yet.
        let clock = Arc::new(SimulatedClock::new(utc("2024-03-11T15:00:00Z")));
        let spine = spine_on(&env, &clock).await;
        let submit = |date: &str| Submit {
            dag_id: "close".into(),
            market: MarketId::from("US_EQ"),
            as_of: day(date),
            trigger: "test".into(),
            rerun: false,
            run_key: None,
            stands_at: None,
        };
        let refused = spine
            .orchestrator
            .send(submit("2024-03-29"))
            .await
            .unwrap()
            .unwrap_err();
        assert!(
            refused.contains("2024-03-29 is not a US_EQ session"),
            "{refused}"
        );
        let s = spine
            .orchestrator
            .send(submit("2024-03-11"))
            .await
            .unwrap()
            .unwrap();
        let rx = spine
            .orchestrator
            .send(WaitRun(s.run_id.clone()))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        spine.orchestrator.send(Wake).await.unwrap();
        let attempts = spine.stores.runtime.job_runs(&s.run_id).await.unwrap();
        assert!(
            attempts.is_empty(),
            "nothing ran before the close: {attempts:?}"
        );
        // One minute before the close: still waiting.
        clock.advance_to(utc("2024-03-11T19:59:00Z"));
        spine.orchestrator.send(Wake).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            spine
                .stores
                .runtime
                .job_runs(&s.run_id)
                .await
                .unwrap()
                .is_empty()
        );
        // At the close (20:00 UTC after the US DST change) the job starts.
        clock.advance_to(utc("2024-03-11T20:00:00Z"));
        spine.orchestrator.send(Wake).await.unwrap();
        let summary = tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(summary.state.as_str(), "SUCCEEDED");
        let attempts = spine.stores.runtime.job_runs(&s.run_id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].started_at, utc("2024-03-11T20:00:00Z"));
        spine.shutdown(Duration::from_secs(5)).await;
        spine.stores.close().await;
    });
}

/// The daily chain, activated at each US close.
const DAILY_AT_CLOSE: &str = r#"
[[dag]]
id = "daily"
markets = ["US_EQ"]
[dag.trigger]
on = "POST_CLOSE"
[[dag.job]]
id = "ingest"
actor = "ingest"
required_state = "POST_CLOSE"
timeout_secs = 60
[[dag.job]]
id = "derive"
actor = "derived"
depends_on = ["ingest"]
required_state = "POST_CLOSE"
timeout_secs = 60
"#;

async fn succeeded_runs(env: &Env) -> Vec<String> {
    let ctx = env.context();
    let stores = ctx.open_stores().await.unwrap();
    let mut runs: Vec<String> = stores
        .runtime
        .dag_runs(100_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.state.as_str() == "SUCCEEDED")
        .map(|r| r.run_id)
        .collect();
    stores.close().await;
    runs.sort();
    runs
}

#[test]
fn backfill_over_a_year_runs_one_daily_dag_per_session_and_resumes_after_a_kill() {
    let env = Env::with(None, DAILY_AT_CLOSE, "");
    std::fs::write(
        env.config_dir().join("engines/ingest.toml"),
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 12\nseed = 11\nhistory_start = \"2022-12-01\"\n",
    )
    .unwrap();
    let args = [
        "backfill",
        "--market",
        "US_EQ",
        "--from",
        "2023-01-01",
        "--to",
        "2023-12-31",
    ];
    // The NYSE sessions of 2023, as `pv2 calendar sessions` lists them.
    let out = env
        .pv2()
        .args(["calendar", "sessions", "--market", "US_EQ"])
        .args([
            "--from",
            "2023-01-01",
            "--to",
            "2023-12-31",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let sessions: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_owned())
        .collect();
    assert_eq!(sessions.len(), 250, "NYSE had 250 sessions in 2023");

    // Kill the backfill (SIGKILL, no cleanup) once some runs are done.
    let mut child = env
        .pv2()
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let done_before_kill = in_system(async {
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let n = succeeded_runs(&env).await.len();
            if n >= 40 {
                return n;
            }
            assert!(child.try_wait().unwrap().is_none(), "backfill ended early");
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(done_before_kill < 250);

    // The same command again finishes the year.
    let out = env.pv2().args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("250 activations recorded for the range"),
        "{text}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("resuming backfill:*:US_EQ:2023-01-01:2023-12-31"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    in_system(async {
        let want: Vec<String> = sessions
            .iter()
            .map(|d| format!("daily:US_EQ:{d}"))
            .collect();
        assert_eq!(
            succeeded_runs(&env).await,
            want,
            "one run per session, none twice"
        );
        let ctx = env.context();
        let stores = ctx.open_stores().await.unwrap();
        let all = stores.runtime.dag_runs(100_000).await.unwrap();
        assert_eq!(all.len(), 250, "no extra or re-run ids");
        let acts = stores
            .runtime
            .activations(utc("2023-01-01T00:00:00Z"), utc("2024-01-01T12:00:00Z"))
            .await
            .unwrap();
        assert_eq!(acts.len(), 250);
        assert!(acts.iter().all(|a| a.outcome == "fired"));
        // Every job ran at its session's close on the simulated clock.
        for run in [
            "daily:US_EQ:2023-03-10",
            "daily:US_EQ:2023-03-13",
            "daily:US_EQ:2023-11-24",
        ] {
            let jobs = stores.runtime.job_runs(run).await.unwrap();
            let close = acts
                .iter()
                .find(|a| a.run_id.as_deref() == Some(run))
                .unwrap()
                .due_at;
            assert!(
                jobs.iter().all(|j| j.started_at >= close),
                "{run}: {jobs:?}"
            );
        }
        // The day after Thanksgiving closed at 13:00 New York time.
        let friday = acts
            .iter()
            .find(|a| a.as_of_date == day("2023-11-24"))
            .unwrap();
        assert_eq!(friday.due_at, utc("2023-11-24T18:00:00Z"));
        // The data the runs loaded: one price date per session.
        let dates: Vec<(NaiveDate,)> = match stores.historical.pool() {
            prometheus::store::Pool::Sqlite(p) => {
                sqlx::query_as("SELECT DISTINCT trade_date FROM prices_daily ORDER BY trade_date")
                    .fetch_all(p)
                    .await
                    .unwrap()
            }
            prometheus::store::Pool::Postgres(_) => unreachable!(),
        };
        let dates: Vec<String> = dates.into_iter().map(|(d,)| d.to_string()).collect();
        assert_eq!(dates, sessions);
        stores.close().await;
    });
    // A third pass has nothing left to do.
    let out = env.pv2().args(args).output().unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is complete"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn equal_instants_fire_east_to_west() {
    // In winter, New York's OVERNIGHT (18:00 EST) is Tokyo's PRE_OPEN (08:00 JST) and
    // Tokyo's OVERNIGHT (17:00 JST) is London's opening (08:00 GMT).
    let dags = r#"
[[dag]]
id = "a_evening"
markets = ["US_EQ", "JP_EQ"]
[dag.trigger]
on = "OVERNIGHT"
[[dag.job]]
id = "x"
actor = "noop"

[[dag]]
id = "b_morning"
markets = ["JP_EQ"]
[dag.trigger]
on = "PRE_OPEN"
[[dag.job]]
id = "x"
actor = "noop"

[[dag]]
id = "c_open"
markets = ["EU_EQ"]
[dag.trigger]
on = "SESSION"
[[dag.job]]
id = "x"
actor = "noop"
"#;
    let env = Env::with(None, dags, "");
    let ctx = env.context();
    let dags = prometheus_actors::spine::system::load_dags(&ctx).unwrap();
    let calendars = prometheus_actors::scheduler::calendars(&ctx.markets).unwrap();
    let bindings = prometheus_actors::scheduler::bindings(&dags, &calendars, None, None).unwrap();
    let plan = prometheus_actors::scheduler::plan(
        &bindings,
        utc("2024-01-16T22:59:59Z"),
        utc("2024-01-17T08:00:00Z"),
    );
    let got: Vec<(String, String)> = plan
        .iter()
        .map(|p| (p.at.format("%H:%M").to_string(), p.activation_id.clone()))
        .collect();
    let want = [
        ("23:00", "b_morning:JP_EQ:2024-01-17:PRE_OPEN"),
        ("23:00", "a_evening:US_EQ:2024-01-16:OVERNIGHT"),
        ("08:00", "a_evening:JP_EQ:2024-01-17:OVERNIGHT"),
        ("08:00", "c_open:EU_EQ:2024-01-17:SESSION"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b)| (a.to_owned(), b.to_owned())),
        "Tokyo before London before New York at the same instant"
    );
}

/// A chain (`follow` after `close`) on EU_EQ whose root run takes two seconds, and a
/// `close` run on US_EQ later the same day.
const CHAIN_DAGS: &str = r#"
[[dag]]
id = "close"
markets = ["US_EQ", "EU_EQ"]
[dag.trigger]
on = "POST_CLOSE"
catch_up = "all"
[[dag.job]]
id = "mark"
actor = "noop"
timeout_secs = 30

[[dag]]
id = "follow"
markets = ["EU_EQ"]
[dag.trigger]
after = "close"
catch_up = "all"
[[dag.job]]
id = "mark"
actor = "noop"
timeout_secs = 30
"#;

#[test]
fn the_scheduler_stops_at_once_and_other_markets_go_on_while_a_chain_waits() {
    in_system(async {
        let env = Env::with(None, CHAIN_DAGS, "");
        std::fs::write(
            env.config_dir().join("engines/noop.toml"),
            "work_ms = 2000\n",
        )
        .unwrap();
        let start = utc("2024-03-05T00:00:00Z");
        let until = utc("2024-03-05T23:00:00Z");
        let clock = Arc::new(SimulatedClock::new(start));
        let spine = spine_on(&env, &clock).await;
        // As in the daemon: runs are not awaited, chains wait beside the scheduler.
        let opts = SchedulerOptions {
            wait_for_runs: false,
            dates_in_flight: 1,
            ..options(&clock, start, until, false)
        };
        let scheduler = spine.start_scheduler(opts.clone(), None, None).unwrap();
        let rt = &spine.stores.runtime;
        let recorded = |id: &'static str| async move { rt.activation_exists(id).await.unwrap() };
        tokio::time::sleep(Duration::from_millis(700)).await;
        // EU's chain waits for its two-second root run; US's later close has fired anyway.
        assert!(recorded("close:EU_EQ:2024-03-05:POST_CLOSE").await);
        assert!(recorded("close:US_EQ:2024-03-05:POST_CLOSE").await);
        assert!(!recorded("follow:EU_EQ:2024-03-05:POST_CLOSE").await);
        // Stop is handled at once, while the chain still waits.
        let t = std::time::Instant::now();
        tokio::time::timeout(
            Duration::from_millis(500),
            scheduler.send(prometheus_actors::scheduler::Stop),
        )
        .await
        .expect("Stop answered while a chain waits")
        .unwrap();
        assert!(t.elapsed() < Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert!(
            !recorded("follow:EU_EQ:2024-03-05:POST_CLOSE").await,
            "a stopped scheduler fires nothing"
        );
        // The watermark stayed before the waiting chain: a restarted scheduler fires it.
        let restarted = spine.start_scheduler(opts, None, None).unwrap();
        let done = restarted.send(WhenFinished).await.unwrap();
        let report = tokio::time::timeout(Duration::from_secs(60), done)
            .await
            .expect("the scheduler reached the end")
            .unwrap();
        assert_eq!(report.fired, 1, "{report:?}");
        // The orchestrator knows the run at once (its record is written behind).
        let rx = spine
            .orchestrator
            .send(WaitRun("follow:EU_EQ:2024-03-05".into()))
            .await
            .unwrap()
            .expect("the follow run was submitted");
        assert_eq!(rx.await.unwrap().state.as_str(), "SUCCEEDED");
        spine.shutdown(Duration::from_secs(5)).await;
        let runs: Vec<String> = rt
            .dag_runs(10)
            .await
            .unwrap()
            .into_iter()
            .map(|r| format!("{} {}", r.run_id, r.state))
            .collect();
        assert_eq!(runs.len(), 3, "each run once: {runs:?}");
        assert!(runs.iter().all(|r| r.ends_with("SUCCEEDED")), "{runs:?}");
        env.cleanup().await;
    });
}

//! What the daemon tells its operator while it runs: every run, job attempt and actor event
//! is broadcast to live subscribers (the dashboard's server-sent events) and counted for
//! `/metrics`; open alerts are kept until what raised them is resolved.
//!
//! It is fed at the two places every state change already passes through — the event
//! recorder and the orchestrator's run log — so nothing can change state without being seen
//! here, and nothing here can slow a decision: publishing is a lock held for a map update
//! and a non-blocking broadcast (a subscriber that falls behind loses the oldest events and
//! is told so, it never holds up the daemon).

use chrono::{DateTime, NaiveDate, Utc};
use prometheus::domain::{AttemptState, EventKind, RunStatus};
use prometheus::store::{ActorEvent, DagRunRecord, JobRunRecord};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Upper bounds (seconds) of the job-duration histogram's buckets.
const DURATION_BUCKETS: [f64; 13] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Live events a slow subscriber may fall behind by before it loses the oldest.
const LIVE_BUFFER: usize = 1024;

/// Runs whose DAG is remembered for labelling their jobs (the oldest are forgotten first).
const REMEMBERED_RUNS: usize = 4096;

/// An alert an operator must see: raised, shown on the dashboard, counted, and resolved
/// when its cause goes away.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Alert {
    /// What kind of problem (`freshness`, `escalation`…): the `kind` label of
    /// `pv2_alerts_total`.
    pub kind: String,
    /// What it is about (a market, an actor).
    pub subject: String,
    /// What is wrong and what to do, in one sentence.
    pub detail: String,
    /// When it was raised, on the daemon's clock.
    pub raised_at: DateTime<Utc>,
}

/// One live update, as the dashboard receives it (`data:` of an SSE message, its `type`
/// the SSE event name).
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Live {
    /// A DAG run was created or changed state.
    Run {
        /// Run id.
        run_id: String,
        /// Its DAG.
        dag: String,
        /// Its market.
        market: Option<String>,
        /// Its session.
        as_of: Option<NaiveDate>,
        /// `RUNNING`, `SUCCEEDED`, `FAILED`…
        state: String,
        /// Why it failed.
        error: Option<String>,
    },
    /// A job attempt started or ended.
    Job {
        /// Run id.
        run_id: String,
        /// The job within the DAG.
        job_id: String,
        /// The actor that runs it.
        actor: String,
        /// 1-based attempt.
        attempt: u32,
        /// `RUNNING`, `SUCCEEDED`, `FAILED`…
        state: String,
        /// When it started.
        started_at: DateTime<Utc>,
        /// When it ended.
        finished_at: Option<DateTime<Utc>>,
        /// Why it failed.
        error: Option<String>,
    },
    /// An actor's life event (start, restart, escalation, reconfiguration…).
    Actor {
        /// Actor name.
        actor: String,
        /// The event's stored name.
        event: String,
        /// Its detail text.
        detail: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// An alert was raised (`open`) or resolved.
    Alert {
        /// The alert.
        alert: Alert,
        /// Raised (true) or resolved (false).
        open: bool,
    },
}

impl Live {
    /// The SSE event name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Run { .. } => "run",
            Self::Job { .. } => "job",
            Self::Actor { .. } => "actor",
            Self::Alert { .. } => "alert",
        }
    }
}

/// A histogram of durations in seconds.
#[derive(Clone, Debug, Default)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (b, upper) in self.buckets.iter_mut().zip(DURATION_BUCKETS) {
            if secs <= upper {
                *b += 1;
            }
        }
        self.count += 1;
        self.sum += secs;
    }
}

/// The counters behind `/metrics` (gauges are read when scraped).
#[derive(Debug, Default)]
struct Counters {
    /// run id → DAG id, for labelling job metrics, with insertion order for forgetting.
    run_dag: HashMap<String, (u64, String)>,
    seq: u64,
    job_seconds: BTreeMap<(String, String), Histogram>,
    job_attempts: BTreeMap<(String, String, &'static str), u64>,
    retries: BTreeMap<(String, String), u64>,
    runs: BTreeMap<(String, &'static str), u64>,
    restarts: BTreeMap<String, u64>,
    escalations: BTreeMap<String, u64>,
    actor_events: BTreeMap<&'static str, u64>,
    alerts: BTreeMap<String, u64>,
    rows: BTreeMap<String, u64>,
}

impl Counters {
    fn dag_of(&self, run_id: &str) -> String {
        self.run_dag
            .get(run_id)
            .map_or_else(|| "unknown".to_owned(), |(_, d)| d.clone())
    }

    fn remember(&mut self, run_id: &str, dag: &str) {
        if self.run_dag.contains_key(run_id) {
            return;
        }
        self.seq += 1;
        self.run_dag
            .insert(run_id.to_owned(), (self.seq, dag.to_owned()));
        if self.run_dag.len() > REMEMBERED_RUNS {
            let cutoff = self.seq - (REMEMBERED_RUNS as u64) / 2;
            self.run_dag.retain(|_, (s, _)| *s > cutoff);
        }
    }
}

/// Figures read when `/metrics` is scraped, from the orchestrator, the actors and the stores.
#[derive(Clone, Debug, Default)]
pub struct Gauges {
    /// DAG runs in flight.
    pub active_runs: usize,
    /// Job attempts in flight.
    pub running_jobs: usize,
    /// Per actor: jobs queued or running in its mailbox, and whether it is DEGRADED.
    pub actors: Vec<(String, usize, bool)>,
    /// Per market: the latest session with prices, seconds since its data was due, and
    /// whether it is overdue now.
    pub freshness: Vec<MarketFreshness>,
    /// Kronos experiments by state.
    pub kronos_experiments: BTreeMap<String, u64>,
    /// Kronos proposals by state.
    pub kronos_proposals: BTreeMap<String, u64>,
}

/// How fresh one market's data is.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MarketFreshness {
    /// Market id.
    pub market: String,
    /// The latest session with prices in the database.
    pub latest: Option<NaiveDate>,
    /// The latest session whose data should be in by now.
    pub expected: Option<NaiveDate>,
    /// When that session's data was due.
    pub due_at: Option<DateTime<Utc>>,
    /// Whether the expected session's data is missing past its due time.
    pub overdue: bool,
}

/// The daemon's live feed, counters and open alerts (one per spine, shared by `Arc`).
#[derive(Debug)]
pub struct Telemetry {
    live: broadcast::Sender<Live>,
    counters: Mutex<Counters>,
    alerts: Mutex<BTreeMap<(String, String), Alert>>,
}

impl Default for Telemetry {
    fn default() -> Self {
        let (live, _) = broadcast::channel(LIVE_BUFFER);
        Self {
            live,
            counters: Mutex::new(Counters::default()),
            alerts: Mutex::new(BTreeMap::new()),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while counting leaves counts that are still counts; keep serving them.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn attempt_final(s: AttemptState) -> bool {
    !matches!(s, AttemptState::Running)
}

impl Telemetry {
    /// A receiver of every live event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Live> {
        self.live.subscribe()
    }

    fn send(&self, e: Live) {
        // No subscriber is not an error: nobody is watching.
        let _ = self.live.send(e);
    }

    /// A DAG run record was written (created, or reached a state).
    pub fn run(&self, r: &DagRunRecord) {
        {
            let mut c = lock(&self.counters);
            c.remember(&r.run_id, &r.dag_id);
            if r.state != RunStatus::Running {
                *c.runs
                    .entry((r.dag_id.clone(), r.state.as_str()))
                    .or_default() += 1;
            }
        }
        self.send(Live::Run {
            run_id: r.run_id.clone(),
            dag: r.dag_id.clone(),
            market: r.market_id.clone(),
            as_of: r.as_of_date,
            state: r.state.as_str().to_owned(),
            error: r.error.clone(),
        });
    }

    /// A job attempt record was written (started, or ended).
    pub fn job(&self, j: &JobRunRecord) {
        {
            let mut c = lock(&self.counters);
            let dag = c.dag_of(&j.run_id);
            let key = (dag, j.job_id.clone());
            if attempt_final(j.state) {
                *c.job_attempts
                    .entry((key.0.clone(), key.1.clone(), j.state.as_str()))
                    .or_default() += 1;
                if let Some(end) = j.finished_at {
                    let secs = (end - j.started_at).num_microseconds().unwrap_or(0) as f64 / 1e6;
                    c.job_seconds.entry(key).or_default().observe(secs.max(0.0));
                }
            } else if j.attempt > 1 {
                *c.retries.entry(key).or_default() += 1;
            }
        }
        self.send(Live::Job {
            run_id: j.run_id.clone(),
            job_id: j.job_id.clone(),
            actor: j.actor.clone(),
            attempt: j.attempt,
            state: j.state.as_str().to_owned(),
            started_at: j.started_at,
            finished_at: j.finished_at,
            error: j.error.clone(),
        });
    }

    /// An actor event was recorded.
    pub fn actor_event(&self, e: &ActorEvent) {
        {
            let mut c = lock(&self.counters);
            *c.actor_events.entry(e.event.as_str()).or_default() += 1;
            match e.event {
                EventKind::Restarted => *c.restarts.entry(e.actor.clone()).or_default() += 1,
                EventKind::Escalated => *c.escalations.entry(e.actor.clone()).or_default() += 1,
                _ => {}
            }
        }
        self.send(Live::Actor {
            actor: e.actor.clone(),
            event: e.event.as_str().to_owned(),
            detail: e.detail.clone(),
            at: e.at,
        });
    }

    /// A successful attempt of `actor` wrote `rows` rows.
    pub fn rows_written(&self, actor: &str, rows: u64) {
        *lock(&self.counters)
            .rows
            .entry(actor.to_owned())
            .or_default() += rows;
    }

    /// Raises an alert (once: raising the same kind and subject again while it is open
    /// changes nothing). True when it is new.
    pub fn raise(&self, alert: Alert) -> bool {
        let key = (alert.kind.clone(), alert.subject.clone());
        {
            let mut open = lock(&self.alerts);
            if open.contains_key(&key) {
                return false;
            }
            open.insert(key, alert.clone());
        }
        *lock(&self.counters)
            .alerts
            .entry(alert.kind.clone())
            .or_default() += 1;
        self.send(Live::Alert { alert, open: true });
        true
    }

    /// Resolves the open alert of `kind` about `subject`, if any. True when one was open.
    pub fn resolve(&self, kind: &str, subject: &str) -> bool {
        let removed = lock(&self.alerts).remove(&(kind.to_owned(), subject.to_owned()));
        match removed {
            Some(alert) => {
                self.send(Live::Alert { alert, open: false });
                true
            }
            None => false,
        }
    }

    /// The open alerts, oldest first.
    pub fn open_alerts(&self) -> Vec<Alert> {
        let mut v: Vec<Alert> = lock(&self.alerts).values().cloned().collect();
        v.sort_by(|a, b| {
            a.raised_at
                .cmp(&b.raised_at)
                .then(a.subject.cmp(&b.subject))
        });
        v
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, g: &Gauges) -> String {
        let c = lock(&self.counters);
        let mut m = Exposition::default();
        m.family(
            "pv2_job_duration_seconds",
            "histogram",
            "Wall time of finished job attempts, by DAG and job.",
        );
        for ((dag, job), h) in &c.job_seconds {
            let labels = [("dag", dag.as_str()), ("job", job.as_str())];
            for (upper, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
                m.sample_le(
                    "pv2_job_duration_seconds_bucket",
                    &labels,
                    &upper.to_string(),
                    n as f64,
                );
            }
            m.sample_le(
                "pv2_job_duration_seconds_bucket",
                &labels,
                "+Inf",
                h.count as f64,
            );
            m.sample("pv2_job_duration_seconds_sum", &labels, h.sum);
            m.sample("pv2_job_duration_seconds_count", &labels, h.count as f64);
        }
        m.family(
            "pv2_job_attempts_total",
            "counter",
            "Finished job attempts, by DAG, job and final state.",
        );
        for ((dag, job, state), n) in &c.job_attempts {
            m.sample(
                "pv2_job_attempts_total",
                &[("dag", dag), ("job", job), ("state", state)],
                *n as f64,
            );
        }
        m.family(
            "pv2_job_retries_total",
            "counter",
            "Job attempts after the first (retries), by DAG and job.",
        );
        for ((dag, job), n) in &c.retries {
            m.sample(
                "pv2_job_retries_total",
                &[("dag", dag), ("job", job)],
                *n as f64,
            );
        }
        m.family(
            "pv2_runs_total",
            "counter",
            "DAG runs that reached a final state, by DAG and state.",
        );
        for ((dag, state), n) in &c.runs {
            m.sample(
                "pv2_runs_total",
                &[("dag", dag), ("state", state)],
                *n as f64,
            );
        }
        let count = |map: &BTreeMap<String, u64>| {
            map.iter()
                .map(|(k, n)| (k.clone(), *n as f64))
                .collect::<Vec<_>>()
        };
        m.by_label(
            "pv2_actor_restarts_total",
            "counter",
            "Actor restarts after a panic, by actor.",
            "actor",
            count(&c.restarts),
        );
        m.by_label(
            "pv2_actor_escalations_total",
            "counter",
            "Actors that ran out of restarts and became DEGRADED, by actor.",
            "actor",
            count(&c.escalations),
        );
        m.by_label(
            "pv2_actor_events_total",
            "counter",
            "Actor events recorded, by event.",
            "event",
            c.actor_events
                .iter()
                .map(|(e, n)| ((*e).to_owned(), *n as f64)),
        );
        m.by_label(
            "pv2_rows_written_total",
            "counter",
            "Rows written by successful job attempts, by actor.",
            "actor",
            count(&c.rows),
        );
        m.by_label(
            "pv2_alerts_total",
            "counter",
            "Alerts raised, by kind.",
            "kind",
            count(&c.alerts),
        );
        drop(c);
        let mut open: BTreeMap<String, u64> = BTreeMap::new();
        for a in self.open_alerts() {
            *open.entry(a.kind).or_default() += 1;
        }
        m.by_label(
            "pv2_alerts_open",
            "gauge",
            "Alerts open now, by kind.",
            "kind",
            count(&open),
        );
        m.family("pv2_active_runs", "gauge", "DAG runs in flight.");
        m.sample("pv2_active_runs", &[], g.active_runs as f64);
        m.family("pv2_running_jobs", "gauge", "Job attempts in flight.");
        m.sample("pv2_running_jobs", &[], g.running_jobs as f64);
        m.by_label(
            "pv2_actor_queue_depth",
            "gauge",
            "Jobs queued or running in an actor's mailbox.",
            "actor",
            g.actors
                .iter()
                .map(|(a, depth, _)| (a.clone(), *depth as f64)),
        );
        m.by_label(
            "pv2_actor_degraded",
            "gauge",
            "1 while an actor is DEGRADED (refusing jobs until reset).",
            "actor",
            g.actors
                .iter()
                .map(|(a, _, degraded)| (a.clone(), f64::from(u8::from(*degraded)))),
        );
        m.by_label(
            "pv2_data_latest_session_timestamp_seconds",
            "gauge",
            "Unix time (midnight UTC) of the latest session with prices, by market.",
            "market",
            g.freshness.iter().filter_map(|f| {
                let t = f.latest?.and_hms_opt(0, 0, 0)?.and_utc().timestamp();
                Some((f.market.clone(), t as f64))
            }),
        );
        m.by_label(
            "pv2_data_overdue",
            "gauge",
            "1 while a market's latest session's data is missing past its due time.",
            "market",
            g.freshness
                .iter()
                .map(|f| (f.market.clone(), f64::from(u8::from(f.overdue)))),
        );
        m.by_label(
            "pv2_kronos_experiments",
            "gauge",
            "Kronos experiments by state (QUEUED is the queue length).",
            "state",
            count(&g.kronos_experiments),
        );
        m.by_label(
            "pv2_kronos_proposals",
            "gauge",
            "Kronos proposals by state.",
            "state",
            count(&g.kronos_proposals),
        );
        m.text
    }
}

/// Builds exposition text.
#[derive(Default)]
struct Exposition {
    text: String,
}

/// A label value with `\`, `"` and newlines escaped as the format requires.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.text, "{{{}}}", inner.join(","));
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A family with one label: its header, then one sample per (label value, value).
    fn by_label(
        &mut self,
        name: &str,
        kind: &str,
        help: &str,
        label: &str,
        values: impl IntoIterator<Item = (String, f64)>,
    ) {
        self.family(name, kind, help);
        for (v, x) in values {
            self.sample(name, &[(label, &v)], x);
        }
    }

    fn sample_le(&mut self, name: &str, labels: &[(&str, &str)], le: &str, value: f64) {
        let mut all: Vec<(&str, &str)> = labels.to_vec();
        all.push(("le", le));
        self.sample(name, &all, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::domain::ErrorClass;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn run(id: &str, state: RunStatus) -> DagRunRecord {
        DagRunRecord {
            run_id: id.into(),
            dag_id: "daily".into(),
            market_id: Some("US_EQ".into()),
            as_of_date: NaiveDate::from_ymd_opt(2024, 1, 2),
            state,
            trigger: "test".into(),
            created_at: at("2024-01-02T21:00:00Z"),
            finished_at: None,
            error: None,
        }
    }

    fn job(attempt: u32, state: AttemptState, secs: i64) -> JobRunRecord {
        let started = at("2024-01-02T21:00:00Z");
        JobRunRecord {
            run_id: "r1".into(),
            job_id: "portfolio".into(),
            attempt,
            actor: "portfolio".into(),
            state,
            error_class: (state == AttemptState::Failed).then_some(ErrorClass::Transient),
            config_id: None,
            started_at: started,
            finished_at: (state != AttemptState::Running)
                .then(|| started + chrono::Duration::seconds(secs)),
            error: None,
        }
    }

    /// Attempts are counted by final state under their run's DAG, durations land in the
    /// right buckets, a second attempt counts as a retry, and a finished run is counted.
    #[test]
    fn counts_attempts_durations_retries_and_runs_in_the_exposition_format() {
        let t = Telemetry::default();
        let mut rx = t.subscribe();
        t.run(&run("r1", RunStatus::Running));
        t.job(&job(1, AttemptState::Running, 0));
        t.job(&job(1, AttemptState::Failed, 3));
        t.job(&job(2, AttemptState::Running, 0));
        t.job(&job(2, AttemptState::Succeeded, 20));
        t.run(&run("r1", RunStatus::Succeeded));
        t.rows_written("portfolio", 19);
        t.rows_written("portfolio", 20);
        let text = t.render(&Gauges::default());
        for line in [
            "pv2_job_attempts_total{dag=\"daily\",job=\"portfolio\",state=\"FAILED\"} 1",
            "pv2_job_attempts_total{dag=\"daily\",job=\"portfolio\",state=\"SUCCEEDED\"} 1",
            "pv2_job_retries_total{dag=\"daily\",job=\"portfolio\"} 1",
            "pv2_job_duration_seconds_bucket{dag=\"daily\",job=\"portfolio\",le=\"2.5\"} 0",
            "pv2_job_duration_seconds_bucket{dag=\"daily\",job=\"portfolio\",le=\"5\"} 1",
            "pv2_job_duration_seconds_bucket{dag=\"daily\",job=\"portfolio\",le=\"30\"} 2",
            "pv2_job_duration_seconds_bucket{dag=\"daily\",job=\"portfolio\",le=\"+Inf\"} 2",
            "pv2_job_duration_seconds_sum{dag=\"daily\",job=\"portfolio\"} 23",
            "pv2_runs_total{dag=\"daily\",state=\"SUCCEEDED\"} 1",
            "pv2_rows_written_total{actor=\"portfolio\"} 39",
            "# TYPE pv2_job_duration_seconds histogram",
        ] {
            assert!(text.contains(line), "missing `{line}` in\n{text}");
        }
        // Every sample line is `name{labels} value` with a pv2_ name.
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(l.starts_with("pv2_"), "{l}");
            let value = l.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{l}");
        }
        let kinds: Vec<&str> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| e.kind())
            .collect();
        assert_eq!(kinds, ["run", "job", "job", "job", "job", "run"]);
    }

    /// An alert is raised once while open, counted, listed, and resolved with an event.
    #[test]
    fn alerts_are_raised_once_counted_and_resolved() {
        let t = Telemetry::default();
        let mut rx = t.subscribe();
        let a = Alert {
            kind: "freshness".into(),
            subject: "US_EQ".into(),
            detail: "late".into(),
            raised_at: at("2024-01-02T23:00:00Z"),
        };
        assert!(t.raise(a.clone()));
        assert!(!t.raise(a.clone()), "raised twice while open");
        assert_eq!(t.open_alerts(), vec![a]);
        let text = t.render(&Gauges::default());
        assert!(
            text.contains("pv2_alerts_total{kind=\"freshness\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("pv2_alerts_open{kind=\"freshness\"} 1"),
            "{text}"
        );
        assert!(t.resolve("freshness", "US_EQ"));
        assert!(!t.resolve("freshness", "US_EQ"));
        assert!(t.open_alerts().is_empty());
        let opens: Vec<bool> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| match e {
                Live::Alert { open, .. } => open,
                _ => panic!("not an alert"),
            })
            .collect();
        assert_eq!(opens, [true, false]);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}

//! The operator's window on a daemon built by `pv2 demo`: the API's contract (every route of
//! the OpenAPI document, its answer's shape and who may call it), `/metrics`, the freshness
//! watchdog and `/readyz`, live events over SSE, a listener others can reach refused without
//! a read token, and the dashboard itself in a real browser (Playwright driving Debian's
//! chromium, both installed by `scripts/fetch-ui --browser`, which the test command runs).

mod common;

use prometheus::store::RuntimeDb;
use prometheus_actors::monitor::client::request;
use prometheus_actors::monitor::openapi::{Auth, In, ROUTES};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONTROL: &str = "control-token-for-the-dashboard-test";
const READ: &str = "read-token-for-the-dashboard-test";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A demo database in a temp dir and a daemon on it, killed when dropped.
struct Demo {
    dir: tempfile::TempDir,
    listen: String,
    daemon: Option<Child>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Some(mut c) = self.daemon.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn pv2(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pv2"));
    c.current_dir(dir)
        .arg("--config")
        .arg(repo().join("config"))
        .env_remove("PV2_HISTORICAL_DB")
        .env_remove("PV2_RUNTIME_DB")
        .env_remove("PV2_FAULTS")
        .env("PV2_CONTROL_TOKEN", CONTROL)
        .env("PV2_DAEMON__STATE_DIR", dir.join("state"))
        .env("PV2_DAEMON__SCHEDULER", "false");
    c
}

impl Demo {
    /// `pv2 demo` on 40 names over 3 years, a PASSED proposal to approve, and the daemon
    /// started with a read token (the watchdog on: the demo's data ends in 2025, so it is
    /// overdue today).
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// As [`Demo::start`], the daemon with extra environment variables.
    async fn start_with(daemon_env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let out = pv2(dir.path())
            .args(["demo", "--instruments", "40", "--years", "3"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "demo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let runtime = format!("sqlite://{}", dir.path().join("data/runtime.db").display());
        let db = RuntimeDb::open(&runtime, 2).await.unwrap();
        common::passed_proposal(&db, "kp-dashboard").await;
        drop(db);
        let listen = format!("127.0.0.1:{}", common::free_port());
        let daemon = pv2(dir.path())
            .args(["daemon", "--listen", &listen])
            .env("PV2_READ_TOKEN", READ)
            .envs(daemon_env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut demo = Self {
            dir,
            listen,
            daemon: Some(daemon),
        };
        demo.wait_healthy().await;
        // The watchdog's first look (at start) has raised the overdue data.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !demo
            .get("/alerts", Some(READ))
            .await
            .is_ok_and(|r| r.body.contains("freshness"))
        {
            assert!(Instant::now() < deadline, "no freshness alert");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        demo
    }

    async fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(c) = self.daemon.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("daemon exited early: {status}");
            }
            if let Ok(r) = self.get("/healthz", None).await
                && r.status == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "daemon did not become healthy");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> anyhow::Result<prometheus_actors::monitor::client::Response> {
        request(
            &self.listen,
            "GET",
            path,
            token,
            "",
            Duration::from_secs(30),
        )
        .await
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: &str,
    ) -> prometheus_actors::monitor::client::Response {
        request(
            &self.listen,
            "POST",
            path,
            token,
            body,
            Duration::from_secs(120),
        )
        .await
        .unwrap()
    }
}

/// A path of the route with its parameters filled in for this demo.
fn concrete(path: &str, backtest: &str) -> String {
    path.replace("{file}", "app.js")
        .replace("{engine}", "portfolio")
        .replace("{name}", "portfolio")
        .replace("{what}", "regime")
        .replace("{action}", "approve")
        .replace(
            "{id}",
            if path.starts_with("/api/backtests") {
                backtest
            } else {
                "kp-dashboard"
            },
        )
}

/// Every documented route is served; reads need the read (or control) token, mutations the
/// control token — none, a wrong one or the read token is refused; each answers with the
/// type the document names.
#[test]
fn every_documented_route_answers_its_shape_and_refuses_missing_or_wrong_tokens() {
    common::in_system(async {
        let demo = Demo::start().await;
        let backtests = demo.get("/api/backtests", Some(READ)).await.unwrap();
        let list: serde_json::Value = serde_json::from_str(&backtests.body).unwrap();
        let backtest = list[0]["backtest_id"]
            .as_str()
            .expect("the demo ran backtests")
            .to_owned();
        let doc: serde_json::Value =
            serde_json::from_str(&demo.get("/openapi.json", Some(READ)).await.unwrap().body)
                .unwrap();
        assert_eq!(doc["paths"].as_object().unwrap().len(), {
            let mut paths: Vec<&str> = ROUTES.iter().map(|r| r.path).collect();
            paths.sort_unstable();
            paths.dedup();
            paths.len()
        });
        for r in ROUTES {
            let mut path = concrete(r.path, &backtest);
            let required: Vec<&str> = r
                .params
                .iter()
                .filter(|p| p.1 == In::Query && p.2)
                .map(|p| p.0)
                .collect();
            if !required.is_empty() {
                let q: Vec<String> = required.iter().map(|k| format!("{k}=US_EQ")).collect();
                path = format!("{path}?{}", q.join("&"));
            }
            let what = format!("{} {path}", r.method);
            assert!(
                doc["paths"][r.path][r.method.to_lowercase()].is_object(),
                "{what} undocumented"
            );
            match r.auth {
                Auth::Public => {
                    let a = demo.get(&path, None).await.unwrap();
                    assert_eq!(a.status, 200, "{what}: {}", a.body);
                }
                Auth::Read => {
                    for bad in [None, Some("wrong-token")] {
                        let a = demo.get(&path, bad).await.unwrap();
                        assert_eq!(a.status, 401, "{what} with {bad:?}: {}", a.body);
                    }
                    if path == "/events" {
                        continue; // a stream: read below
                    }
                    for good in [READ, CONTROL] {
                        let a = demo.get(&path, Some(good)).await.unwrap();
                        // Not ready is an answer too: the demo's data is overdue today.
                        let ok = a.status == 200 || (path == "/readyz" && a.status == 503);
                        assert!(ok, "{what}: {} {}", a.status, a.body);
                        match r.answers {
                            "object" | "array" => {
                                let v: serde_json::Value = serde_json::from_str(&a.body)
                                    .unwrap_or_else(|e| {
                                        panic!("{what}: not JSON ({e}): {}", a.body)
                                    });
                                assert_eq!(
                                    v.is_array(),
                                    r.answers == "array",
                                    "{what}: {}",
                                    a.body
                                );
                                assert_eq!(
                                    v.is_object(),
                                    r.answers == "object",
                                    "{what}: {}",
                                    a.body
                                );
                            }
                            _ => assert!(!a.body.is_empty(), "{what}: empty"),
                        }
                    }
                }
                Auth::Control => {
                    for bad in [None, Some("wrong-token"), Some(READ)] {
                        let a = demo.post(&path, bad, "").await;
                        assert_eq!(a.status, 401, "{what} with {bad:?}: {}", a.body);
                    }
                }
            }
        }
        // The pipeline of a day a backtest rebalanced shows the daemon's DAGs only.
        let runtime = format!(
            "sqlite://{}",
            demo.dir.path().join("data/runtime.db").display()
        );
        let db = RuntimeDb::open(&runtime, 2).await.unwrap();
        let bt_day = prometheus::store::RunStore::dag_runs(&db, 5000)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.dag_id.starts_with("bt-"))
            .and_then(|r| r.as_of_date)
            .expect("the demo's backtests recorded runs");
        drop(db);
        let p = demo
            .get(
                &format!("/api/pipeline?market=US_EQ&date={bt_day}"),
                Some(READ),
            )
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
        assert!(
            v["runs"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| !r["dag"].as_str().unwrap().starts_with("bt-")),
            "{}",
            p.body
        );
        // Refused mutations changed nothing.
        let p = demo
            .get("/kronos/proposals/kp-dashboard", Some(READ))
            .await
            .unwrap();
        assert!(p.body.contains("\"state\":\"PASSED\""), "{}", p.body);
    });
}

/// Reads `/events` until an event containing every needle arrives (or the deadline).
async fn sse_until(
    listen: &str,
    token: &str,
    needles: &[&str],
    start: tokio::sync::oneshot::Sender<()>,
) -> String {
    let mut s = tokio::net::TcpStream::connect(listen).await.unwrap();
    let req =
        format!("GET /events HTTP/1.1\r\nHost: {listen}\r\nAuthorization: Bearer {token}\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buf = vec![0u8; 8192];
    let mut start = Some(start);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let n = tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf))
            .await
            .expect("no event or keep-alive within 20 s")
            .unwrap();
        assert!(n > 0, "the stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        if seen.contains("event: hello")
            && let Some(tx) = start.take()
        {
            let _ = tx.send(());
        }
        if let Some(m) = seen
            .split("\n\n")
            .find(|m| needles.iter().all(|n| m.contains(n)))
        {
            return m.to_owned();
        }
        assert!(Instant::now() < deadline, "never saw {needles:?} in {seen}");
    }
}

/// The watchdog raised the demo's overdue data (alert, `/readyz` 503 with the reason,
/// `/metrics`); a run submitted over HTTP is seen live on `/events` and counted in
/// `/metrics` job durations.
#[test]
fn metrics_alerts_readiness_and_live_events_follow_what_the_daemon_does() {
    common::in_system(async {
        let demo = Demo::start().await;
        let ready = demo.get("/readyz", Some(READ)).await.unwrap();
        assert_eq!(ready.status, 503, "{}", ready.body);
        let v: serde_json::Value = serde_json::from_str(&ready.body).unwrap();
        assert_eq!(v["data_overdue"], serde_json::json!(["US_EQ"]));
        let reason = v["reasons"][0].as_str().unwrap();
        assert!(
            reason.contains("latest session with prices is 2025-12-31"),
            "{reason}"
        );
        let alerts: serde_json::Value =
            serde_json::from_str(&demo.get("/alerts", Some(READ)).await.unwrap().body).unwrap();
        assert_eq!(alerts[0]["kind"], "freshness");
        assert_eq!(alerts[0]["subject"], "US_EQ");

        let (tx, rx) = tokio::sync::oneshot::channel();
        let listen = demo.listen.clone();
        let watcher = tokio::spawn(async move {
            sse_until(
                &listen,
                READ,
                &[
                    "event: run",
                    "\"dag\":\"engines\"",
                    "\"state\":\"SUCCEEDED\"",
                ],
                tx,
            )
            .await
        });
        rx.await.unwrap();
        let run = demo
            .post(
                "/runs",
                Some(CONTROL),
                r#"{"market":"US_EQ","date":"2025-12-31","dag":"engines","rerun":true,"wait":true}"#,
            )
            .await;
        assert_eq!(run.status, 200, "{}", run.body);
        assert!(run.body.contains("SUCCEEDED"), "{}", run.body);
        let event = watcher.await.unwrap();
        let data: serde_json::Value = serde_json::from_str(
            event
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data["type"], "run");
        assert_eq!(data["market"], "US_EQ");
        assert_eq!(data["as_of"], "2025-12-31");

        let metrics = demo.get("/metrics", Some(READ)).await.unwrap();
        assert_eq!(metrics.status, 200);
        let m = metrics.body;
        for line in [
            "pv2_data_overdue{market=\"US_EQ\"} 1",
            "pv2_alerts_total{kind=\"freshness\"} 1",
            "pv2_alerts_open{kind=\"freshness\"} 1",
            "pv2_runs_total{dag=\"engines\",state=\"SUCCEEDED\"} 1",
            "pv2_job_attempts_total{dag=\"engines\",job=\"portfolio\",state=\"SUCCEEDED\"} 1",
            "pv2_job_duration_seconds_count{dag=\"engines\",job=\"portfolio\"} 1",
            "pv2_actor_degraded{actor=\"portfolio\"} 0",
            "pv2_active_runs 0",
            // The engines run wrote the demo's 40 names' stability rows, among others.
            "pv2_rows_written_total{actor=\"stability\"} 40",
            "pv2_data_latest_session_timestamp_seconds{market=\"US_EQ\"} 1767139200",
        ] {
            assert!(m.contains(line), "missing `{line}` in\n{m}");
        }
        assert!(m.contains("pv2_kronos_experiments{state="), "{m}");
        assert!(
            m.contains("pv2_kronos_proposals{state=\"PASSED\"} 1"),
            "{m}"
        );

        // A regime config applied now does not hide the history made under the one in
        // force then: the table reads the config the scheduled runs used on its last day.
        let table = || async {
            let r = demo
                .get(
                    "/api/table/regime?market=US_EQ&to=2025-12-31&sessions=5",
                    Some(READ),
                )
                .await
                .unwrap();
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()["rows"].clone()
        };
        let before = table().await;
        assert_eq!(before.as_array().unwrap().len(), 5, "{before}");
        let body = std::fs::read_to_string(repo().join("config/engines/regime.toml"))
            .unwrap()
            .replace("min_duration = 5", "min_duration = 6");
        let applied = demo.post("/config/regime", Some(CONTROL), &body).await;
        assert_eq!(applied.status, 200, "{}", applied.body);
        assert!(
            applied.body.contains("\"changed\":true"),
            "{}",
            applied.body
        );
        assert_eq!(table().await, before);
    });
}

/// A daemon told to listen on every interface without a read token refuses to start, and
/// says what to set.
#[test]
fn a_listener_other_hosts_can_reach_is_refused_without_a_read_token() {
    let dir = tempfile::tempdir().unwrap();
    let port = common::free_port();
    let out = pv2(dir.path())
        .args(["daemon", "--listen", &format!("0.0.0.0:{port}")])
        .env_remove("PV2_READ_TOKEN")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0"), "{err}");
    assert!(err.contains("read_token"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "it started before refusing"
    );
}

/// The dashboard in Chromium: every view renders with data, the as-of picker changes what
/// is shown, a finished run redraws the pipeline through SSE, and a Kronos approval and the
/// reset of a DEGRADED actor work with the control token and are refused without it
/// (ui/tests/dashboard.mjs). Screenshots go
/// to target/dashboard-screenshots.
#[test]
fn the_dashboard_works_in_a_real_browser() {
    let ui = repo().join("ui");
    let chromium = std::env::var("PV2_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    for (what, path) in [
        ("playwright-core", ui.join("node_modules/playwright-core")),
        (
            "lightweight-charts",
            ui.join("node_modules/lightweight-charts"),
        ),
        ("chromium", PathBuf::from(&chromium)),
    ] {
        assert!(
            path.exists(),
            "{what} is not installed at {}: run scripts/fetch-ui --browser (the test command does)",
            path.display()
        );
    }
    let shots = repo().join("target/dashboard-screenshots");
    common::in_system(async {
        // One panic of the noop actor with no restart allowed: DEGRADED, for the reset check.
        let demo = Demo::start_with(&[
            ("PV2_FAULTS", "noop:panic@1"),
            ("PV2_SUPERVISION__MAX_RESTARTS", "0"),
        ])
        .await;
        let out = tokio::process::Command::new("node")
            .arg(ui.join("tests/dashboard.mjs"))
            .current_dir(&ui)
            .env("PV2_URL", format!("http://{}", demo.listen))
            .env("PV2_READ_TOKEN", READ)
            .env("PV2_CONTROL_TOKEN", CONTROL)
            .env("PV2_MARKET", "US_EQ")
            .env("PV2_PROPOSAL", "kp-dashboard")
            .env("PV2_SCREENSHOTS", &shots)
            .env("PV2_CHROMIUM", &chromium)
            .output()
            .await
            .expect("running node (install Node.js)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "browser test failed:\n{stdout}\n{stderr}"
        );
        assert!(stdout.contains("every check passed"), "{stdout}");
        // The approval reached the database and the running engine.
        let runtime = format!(
            "sqlite://{}",
            demo.dir.path().join("data/runtime.db").display()
        );
        let db = RuntimeDb::open(&runtime, 2).await.unwrap();
        let p = prometheus::store::KronosStore::proposal(&db, "kp-dashboard")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(p.state, "PROMOTED");
        for view in [
            "overview",
            "overview-as-of",
            "pipeline",
            "regime",
            "assessment",
            "portfolio",
            "backtests",
            "actors",
            "kronos-refused",
            "kronos",
        ] {
            assert!(
                shots.join(format!("{view}.png")).is_file(),
                "no screenshot of {view}"
            );
        }
    });
}

//! The daemon as a process: hot reconfiguration over the HTTP API, crash recovery after
//! SIGKILL, and a clean drain on SIGTERM.

mod common;

use common::{DATES, Env};
use prometheus::store::{RunStore, RuntimeDb};
use prometheus_actors::monitor::client::request;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A daemon process, killed if the test fails before stopping it.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl std::ops::Deref for Daemon {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Daemon {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

fn spawn_daemon(env: &Env, faults: Option<&str>) -> Daemon {
    let mut c = env.pv2();
    c.arg("daemon").stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(f) = faults {
        c.env("PV2_FAULTS", f);
    }
    Daemon(c.spawn().unwrap())
}

async fn wait_healthy(env: &Env, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("daemon exited early: {status}");
        }
        if let Ok(r) = request(
            &env.listen,
            "GET",
            "/healthz",
            None,
            "",
            Duration::from_secs(2),
        )
        .await
            && r.status == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "daemon did not become healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn token(env: &Env) -> String {
    std::fs::read_to_string(env.state_dir().join("control.token"))
        .unwrap()
        .trim()
        .to_owned()
}

fn pv2(env: &Env, args: &[&str]) -> std::process::Output {
    env.pv2().args(args).output().unwrap()
}

async fn runtime(env: &Env) -> RuntimeDb {
    RuntimeDb::open(&env.runtime, 2).await.unwrap()
}

/// Polls until `run_id` has an attempt of `job` in `state`.
async fn wait_attempt(db: &RuntimeDb, run_id: &str, job: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if db
            .job_runs(run_id)
            .await
            .unwrap()
            .iter()
            .any(|j| j.job_id == job && j.state.as_str() == state)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{run_id}: no {job} attempt in {state}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_run_state(db: &RuntimeDb, run_id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if db
            .dag_run(run_id)
            .await
            .unwrap()
            .is_some_and(|r| r.state.as_str() == state)
        {
            return;
        }
        assert!(Instant::now() < deadline, "{run_id} never reached {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn returns_config_ids(env: &Env, date: &str) -> Vec<String> {
    let h = prometheus::store::HistoricalDb::open(&env.historical, 2, Default::default())
        .await
        .unwrap();
    let prometheus::store::Pool::Sqlite(p) = h.pool() else {
        panic!("sqlite expected")
    };
    sqlx::query_scalar("SELECT DISTINCT config_id FROM returns_daily WHERE trade_date = $1")
        .bind(date)
        .fetch_all(p)
        .await
        .unwrap()
}

fn stop(child: &mut Child, signal: &str) -> (std::process::ExitStatus, Duration) {
    let t = Instant::now();
    let ok = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, t.elapsed());
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not exit after {signal}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hot_reconfiguration_of_a_running_daemon() {
    let env = Env::sqlite();
    let mut daemon = spawn_daemon(&env, None);
    wait_healthy(&env, &mut daemon).await;
    let pid = daemon.id();
    // The session before, so DATES[0] has a one-day return.
    for date in ["2023-12-29", DATES[0]] {
        let o = pv2(&env, &["run", "--market", "US_EQ", "--date", date]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let before = returns_config_ids(&env, DATES[0]).await;
    assert_eq!(before.len(), 1);

    let new_cfg = env.dir.path().join("derived-new.toml");
    std::fs::write(
        &new_cfg,
        "return_horizons = [1, 2, 5]\nvol_windows = [10, 21]\n",
    )
    .unwrap();
    let o = pv2(
        &env,
        &["config", "apply", "derived", new_cfg.to_str().unwrap()],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success() && out.contains(&format!("running daemon (pid {pid})")),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = pv2(&env, &["run", "--market", "US_EQ", "--date", DATES[1]]);
    assert!(o.status.success());
    let after = returns_config_ids(&env, DATES[1]).await;
    assert_eq!(after.len(), 1);
    assert_ne!(after, before, "the next run's rows carry the new config_id");

    let bad = env.dir.path().join("derived-bad.toml");
    std::fs::write(
        &bad,
        "return_horizons = [5]\nvol_windows = [1]\nsurprise = true\n",
    )
    .unwrap();
    let o = pv2(&env, &["config", "apply", "derived", bad.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success() && err.contains("rejected") && err.contains("surprise"),
        "{err}"
    );
    let bad2 = env.dir.path().join("derived-bad2.toml");
    std::fs::write(&bad2, "return_horizons = [5]\nvol_windows = [1]\n").unwrap();
    let o = pv2(
        &env,
        &["config", "apply", "derived", bad2.to_str().unwrap()],
    );
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        !o.status.success() && err.contains("return_horizons") && err.contains("vol_windows"),
        "every reason: {err}"
    );
    let o = pv2(&env, &["run", "--market", "US_EQ", "--date", DATES[2]]);
    assert!(o.status.success());
    assert_eq!(
        returns_config_ids(&env, DATES[2]).await,
        after,
        "the old config keeps being used"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.state_dir().join("control.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the generated token is private");
    }
    // Without the token the API refuses changes.
    let r = request(
        &env.listen,
        "POST",
        "/config/derived",
        Some("wrong"),
        "vol_windows = [5]",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401);
    let r = request(
        &env.listen,
        "GET",
        "/readyz",
        None,
        "",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(daemon.try_wait().unwrap(), None, "same process throughout");
    let info: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.state_dir().join("daemon.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(info["pid"], pid);

    let o = pv2(&env, &["config", "history", "derived"]);
    let hist = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(hist.matches("rejected").count(), 2, "{hist}");
    assert!(
        hist.contains("bootstrap") && hist.contains("activated"),
        "{hist}"
    );
    // Changes over HTTP are recorded with who asked, not a constant.
    assert!(
        hist.contains("by cli:") && hist.contains("via http from 127.0.0.1"),
        "{hist}"
    );
    let o = pv2(&env, &["config", "show", "derived"]);
    let shown = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        shown.contains(&after[0]) && shown.contains("vol_windows = [") && shown.contains("10"),
        "{shown}"
    );
    let (status, _) = stop(&mut daemon, "TERM");
    assert!(status.success());
    // `pv2 runs` reads the record without a daemon.
    let o = pv2(&env, &["runs", "--format", "json"]);
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert!(
        runs.iter()
            .all(|r| r["state"] == "SUCCEEDED" && r["attempts"].as_array().unwrap().len() == 2)
    );
    // With no daemon, `config apply` writes to the store; a bad file is still rejected.
    let o = pv2(
        &env,
        &["config", "apply", "derived", bad2.to_str().unwrap()],
    );
    assert!(!o.status.success());
    let o = pv2(
        &env,
        &["config", "apply", "derived", new_cfg.to_str().unwrap()],
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("already active (no daemon running"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_then_restart_completes_without_duplicates() {
    let env = Env::with(None, &common::dags(30.0, 60.0, 3), "");
    // Reference: the same run without interruption, in another environment.
    let reference = Env::with(None, &common::dags(30.0, 60.0, 3), "");
    let o = pv2(
        &reference,
        &["run", "--market", "US_EQ", "--date", DATES[0]],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let mut daemon = spawn_daemon(&env, Some("derived:hang@1"));
    wait_healthy(&env, &mut daemon).await;
    let body = format!(r#"{{"market":"US_EQ","date":"{}"}}"#, DATES[0]);
    let r = request(
        &env.listen,
        "POST",
        "/runs",
        Some(&token(&env)),
        &body,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let run_id = format!("daily:US_EQ:{}", DATES[0]);
    let db = runtime(&env).await;
    wait_attempt(&db, &run_id, "derive", "RUNNING").await;
    daemon.kill().unwrap();
    daemon.wait().unwrap();

    let mut daemon = spawn_daemon(&env, None);
    wait_healthy(&env, &mut daemon).await;
    wait_run_state(&db, &run_id, "SUCCEEDED").await;
    let attempts: Vec<(String, u32, String)> = db
        .job_runs(&run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| (j.job_id, j.attempt, j.state.to_string()))
        .collect();
    assert_eq!(
        attempts,
        [
            ("derive".to_owned(), 1, "INTERRUPTED".to_owned()),
            ("derive".to_owned(), 2, "SUCCEEDED".to_owned()),
            ("ingest".to_owned(), 1, "SUCCEEDED".to_owned()),
        ]
    );
    let (status, _) = stop(&mut daemon, "TERM");
    assert!(status.success());
    let h = prometheus::store::HistoricalDb::open(&env.historical, 2, Default::default())
        .await
        .unwrap();
    let r = prometheus::store::HistoricalDb::open(&reference.historical, 2, Default::default())
        .await
        .unwrap();
    assert_eq!(
        common::outputs(h.pool()).await,
        common::outputs(r.pool()).await,
        "no duplicate or missing rows"
    );
    env.cleanup().await;
    reference.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_zero_leaving_nothing_running() {
    let env = Env::with(None, &common::dags(30.0, 60.0, 3), "");
    let mut daemon = spawn_daemon(&env, Some("derived:hang@1"));
    wait_healthy(&env, &mut daemon).await;
    let body = format!(r#"{{"market":"US_EQ","date":"{}"}}"#, DATES[0]);
    let r = request(
        &env.listen,
        "POST",
        "/runs",
        Some(&token(&env)),
        &body,
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let run_id = format!("daily:US_EQ:{}", DATES[0]);
    let db = runtime(&env).await;
    wait_attempt(&db, &run_id, "derive", "RUNNING").await;
    let (status, took) = stop(&mut daemon, "TERM");
    assert!(status.success(), "exit code 0, got {status}");
    assert!(
        took < Duration::from_secs(10),
        "exited within 10 s: {took:?}"
    );
    let states: Vec<String> = db
        .job_runs(&run_id)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.state.to_string())
        .collect();
    assert!(!states.iter().any(|s| s == "RUNNING"), "{states:?}");
    assert!(states.iter().any(|s| s == "INTERRUPTED"), "{states:?}");
    assert!(
        !env.state_dir().join("daemon.json").exists(),
        "state file removed on a clean exit"
    );
    // The interrupted run is picked up by the next start.
    let mut daemon = spawn_daemon(&env, None);
    wait_healthy(&env, &mut daemon).await;
    wait_run_state(&db, &run_id, "SUCCEEDED").await;
    let (status, _) = stop(&mut daemon, "INT");
    assert!(status.success());
    env.cleanup().await;
}

/// A global DAG fired every second by cron, with no catch-up after downtime.
const EVERY_SECOND: &str = r#"
[[dag]]
id = "tick"
[dag.trigger]
cron = "* * * * * *"
timezone = "Asia/Tokyo"
catch_up = "none"
[[dag.job]]
id = "first"
actor = "noop"
timeout_secs = 30
"#;

async fn activations(db: &RuntimeDb) -> Vec<prometheus::store::Activation> {
    use prometheus::store::ScheduleStore;
    let t = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    db.activations(t("2000-01-01T00:00:00Z"), t("2100-01-01T00:00:00Z"))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_scheduler_fires_cron_dags_on_the_real_clock_and_skips_missed_ones_after_a_restart()
 {
    let env = Env::with(None, EVERY_SECOND, "");
    let db = runtime(&env).await;
    let mut daemon = spawn_daemon(&env, None);
    wait_healthy(&env, &mut daemon).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while activations(&db).await.len() < 3 {
        assert!(Instant::now() < deadline, "no cron activations");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = stop(&mut daemon, "TERM");
    assert!(status.success());
    let before = activations(&db).await;
    assert!(before.iter().all(|a| a.outcome == "fired"), "{before:?}");
    // Down for a while: the seconds missed are recorded as skipped, not run.
    std::thread::sleep(Duration::from_millis(2500));
    let mut daemon = spawn_daemon(&env, None);
    wait_healthy(&env, &mut daemon).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = activations(&db).await;
        let fired_after = now
            .iter()
            .filter(|a| a.outcome == "fired" && a.due_at > before.last().unwrap().due_at)
            .count();
        if fired_after >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no cron activations after restart"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = stop(&mut daemon, "TERM");
    assert!(status.success());
    let after = activations(&db).await;
    let skipped: Vec<_> = after.iter().filter(|a| a.outcome == "skipped").collect();
    assert!(skipped.len() >= 2, "the downtime was skipped: {after:?}");
    assert!(skipped.iter().all(|a| a.run_id.is_none()));
    // Seconds are consecutive: every second from the first to the last activation was
    // either fired or skipped, exactly once.
    let first = after.first().unwrap().due_at;
    let last = after.last().unwrap().due_at;
    assert_eq!(after.len() as i64, (last - first).num_seconds() + 1);
    for a in after.iter().filter(|a| a.outcome == "fired") {
        assert_eq!(a.market_id, "GLOBAL");
        let run_id = a.run_id.as_deref().unwrap();
        assert_eq!(
            run_id,
            format!(
                "tick:GLOBAL:{}",
                a.due_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            )
        );
        // Fired runs either finished or were interrupted by the stop and resumed.
        let run = db.dag_run(run_id).await.unwrap().unwrap();
        assert_ne!(run.state.as_str(), "FAILED", "{run:?}");
        // The as-of date is the date in Tokyo.
        assert_eq!(
            a.as_of_date,
            a.due_at.with_timezone(&chrono_tz::Asia::Tokyo).date_naive()
        );
    }
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_with_the_scheduler_off_fires_nothing() {
    let env = Env::with(None, EVERY_SECOND, "");
    std::fs::write(
        env.config_dir().join("default.toml"),
        std::fs::read_to_string(env.config_dir().join("default.toml"))
            .unwrap()
            .replace("[daemon]\n", "[daemon]\nscheduler = false\n"),
    )
    .unwrap();
    let db = runtime(&env).await;
    let mut daemon = spawn_daemon(&env, None);
    wait_healthy(&env, &mut daemon).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, _) = stop(&mut daemon, "TERM");
    assert!(status.success());
    assert!(activations(&db).await.is_empty());
    assert!(db.dag_runs(10).await.unwrap().is_empty());
    env.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_a_degraded_actor_and_resets_it_without_a_restart() {
    let env = Env::with(
        None,
        &common::dags(30.0, 30.0, 3),
        "[supervision.actor.derived]\nmax_restarts = 2\nwindow_secs = 600\nbackoff_ms = 10\nbackoff_max_ms = 20\n",
    );
    // Three panics: two restarts, then DEGRADED.
    let mut daemon = spawn_daemon(
        &env,
        Some("derived:panic@1,derived:panic@2,derived:panic@3"),
    );
    wait_healthy(&env, &mut daemon).await;
    let o = pv2(&env, &["run", "--market", "US_EQ", "--date", DATES[0]]);
    assert!(!o.status.success(), "the run fails with its actor DEGRADED");
    let o = pv2(&env, &["actors", "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let actors: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let derived = actors
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["actor"] == "derived")
        .unwrap()
        .clone();
    assert_eq!(derived["state"], "DEGRADED", "{derived}");
    assert_eq!(derived["restarts"], 3, "{derived}");
    assert!(
        derived["last_error"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("panicked")),
        "{derived}"
    );
    let text = String::from_utf8_lossy(&pv2(&env, &["actors"]).stdout).into_owned();
    assert!(
        text.contains("derived") && text.contains("DEGRADED"),
        "{text}"
    );
    // The control token is required.
    let r = request(
        &env.listen,
        "POST",
        "/actors/derived/reset",
        Some("wrong"),
        "",
        Duration::from_secs(5),
    )
    .await
    .unwrap();
    assert_eq!(r.status, 401);
    let o = pv2(&env, &["actors", "reset", "derived"]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success() && out.contains("DEGRADED -> RUNNING") && out.contains("cli:"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = pv2(&env, &["actors", "reset", "nonesuch"]);
    assert!(!o.status.success());
    // Back in service: the next date's run succeeds, in the same process.
    let o = pv2(&env, &["run", "--market", "US_EQ", "--date", DATES[1]]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let (status, _) = stop(&mut daemon, "TERM");
    assert!(status.success());
    let ev = common::events(&runtime(&env).await).await;
    assert!(
        ev.iter().any(|(a, e, d)| a == "derived"
            && e == "reset"
            && d.contains("requested by cli:")
            && d.contains("via http")),
        "{ev:?}"
    );
    // Without a daemon, `pv2 actors` shows each actor's last recorded event.
    let text = String::from_utf8_lossy(&pv2(&env, &["actors"]).stdout).into_owned();
    assert!(
        text.contains("no daemon is running") && text.contains("derived"),
        "{text}"
    );
    env.cleanup().await;
}

/// The running portfolio actor's config id.
fn running_portfolio_config(env: &Env) -> String {
    let o = pv2(env, &["actors", "--format", "json"]);
    let actors: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    actors
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["actor"] == "portfolio")
        .unwrap()["config_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kronos_over_http_promotes_into_the_running_engine_and_reverts_with_the_token_only() {
    let env = Env::sqlite();
    let mut daemon = spawn_daemon(&env, None);
    wait_healthy(&env, &mut daemon).await;
    let db = runtime(&env).await;
    let (candidate, old) = common::passed_proposal(&db, "kp-http").await;
    assert_eq!(running_portfolio_config(&env), old);
    let post = |path: &str, token: Option<&str>, body: &str| {
        let (listen, path, token, body) = (
            env.listen.clone(),
            path.to_owned(),
            token.map(str::to_owned),
            body.to_owned(),
        );
        async move {
            request(
                &listen,
                "POST",
                &path,
                token.as_deref(),
                &body,
                Duration::from_secs(30),
            )
            .await
            .unwrap()
        }
    };
    let get = |path: &str| {
        let (listen, path) = (env.listen.clone(), path.to_owned());
        async move {
            let r = request(&listen, "GET", &path, None, "", Duration::from_secs(30))
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            serde_json::from_str::<serde_json::Value>(&r.body).unwrap()
        }
    };
    let token = token(&env);
    let listed = get("/kronos/proposals?state=passed").await;
    assert_eq!(listed[0]["proposal_id"], "kp-http");
    // No token, a wrong token: refused, nothing changes.
    for t in [None, Some("wrong")] {
        let r = post("/kronos/proposals/kp-http/approve", t, "").await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    // Frozen: refused with the reason.
    let r = post("/kronos/freeze", Some(&token), "drill").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post("/kronos/proposals/kp-http/approve", Some(&token), "go").await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("frozen"), "{}", r.body);
    let r = post("/kronos/unfreeze", Some(&token), "drill over").await;
    assert_eq!(r.status, 200);
    // Approved: the store and the running actor switch, in the same process.
    let r = post(
        "/kronos/proposals/kp-http/approve",
        Some(&token),
        "better risk",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(running_portfolio_config(&env), candidate);
    let shown = get("/kronos/proposals/kp-http").await;
    assert_eq!(shown["state"], "PROMOTED");
    let promoted_by = shown["audit"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "promoted")
        .unwrap()["actor"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(promoted_by.contains("via http from"), "{promoted_by}");
    // A second approval is a conflict; revert restores the old config in the running actor.
    let r = post("/kronos/proposals/kp-http/approve", Some(&token), "").await;
    assert_eq!(r.status, 409, "{}", r.body);
    let r = post("/kronos/proposals/kp-http/revert", Some(&token), "drill").await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(running_portfolio_config(&env), old);
    let r = post("/kronos/proposals/nope/approve", Some(&token), "").await;
    assert_eq!(r.status, 404);
    let audit = get("/kronos/audit").await;
    let actions: Vec<&str> = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec![
            "proposed", "passed", "freeze", "unfreeze", "promoted", "reverted"
        ]
    );
    assert!(
        get("/kronos/experiments")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(daemon.try_wait().unwrap(), None, "same process throughout");
    let (status, _) = stop(&mut daemon, "TERM");
    assert!(status.success());
}

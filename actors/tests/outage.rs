//! A database outage in the middle of a backfill: PostgreSQL is stopped for 20 seconds
//! while the whole daily chain is being backfilled, then started again. What is in flight
//! meets it: a job fails as `unavailable`, is retried and completes, or the run record and
//! the event log wait for the database instead of losing entries; every output equals an uninterrupted backfill's, and
//! every run exists once. The server is a private one (scripts/pg-instance), so stopping it
//! disturbs no other test.

mod common;

use common::backfill::{backfill_over, chain_env, first_difference, preload};
use common::in_system;
use prometheus::store::{RunStore, RuntimeDb, admin};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A private PostgreSQL server, destroyed when dropped.
struct Server {
    url: String,
    dir: String,
}

fn pg_instance(args: &[&str]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-instance");
    let out = Command::new(script).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "pg-instance {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Server {
    fn start() -> Self {
        let line = pg_instance(&["start"]);
        let (url, dir) = line.trim().split_once(' ').unwrap();
        Self {
            url: url.to_owned(),
            dir: dir.to_owned(),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-instance"))
            .args(["destroy", &self.dir])
            .output();
    }
}

/// Nine months of the chain: long enough to be mid-way when the outage begins.
fn backfill(env: &common::Env) -> Command {
    backfill_over(env, "2023-01-03", "2023-09-29")
}

async fn database(server: &Server, name: &str) -> (String, String, String) {
    let url = admin::create_database(&server.url, name).await.unwrap();
    (url, server.url.clone(), name.to_owned())
}

#[test]
fn postgres_stopped_for_20_seconds_mid_backfill_loses_and_duplicates_nothing() {
    // Run by scripts/test, which installs PostgreSQL (and sets this variable).
    std::env::var("PV2_TEST_PG_URL").expect("PV2_TEST_PG_URL is not set: run scripts/test");
    let server = Server::start();
    let (reference, outage) = in_system(async {
        (
            chain_env(Some(database(&server, "outage_reference").await)),
            chain_env(Some(database(&server, "outage_run").await)),
        )
    });
    preload(&reference);
    let out = backfill(&reference).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    preload(&outage);
    let mut child = backfill(&outage)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still backfilling when the outage begins"
    );
    pg_instance(&["halt", &server.dir]);
    std::thread::sleep(Duration::from_secs(20));
    pg_instance(&["resume", &server.dir]);
    let deadline = Instant::now() + Duration::from_secs(900);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the backfill never finished");
        std::thread::sleep(Duration::from_millis(200));
    };
    let stderr = {
        use std::io::Read;
        let mut s = String::new();
        child.stderr.take().unwrap().read_to_string(&mut s).unwrap();
        s
    };
    assert!(
        status.success(),
        "the backfill completes after the outage: {stderr}"
    );
    in_system(async {
        if let Some((db, d)) = first_difference(&reference, &outage).await {
            panic!(
                "{db}.{} differs at {}: {:?} vs {:?}",
                d.table, d.at, d.left, d.right
            );
        }
        let rt = RuntimeDb::open(&outage.runtime, 2).await.unwrap();
        let runs = rt.dag_runs(100_000).await.unwrap();
        assert!(runs.iter().all(|r| !r.run_id.contains(":r")), "no re-runs");
        assert!(runs.iter().all(|r| r.state.as_str() == "SUCCEEDED"));
        let mut unavailable = 0;
        for r in &runs {
            unavailable += rt
                .job_runs(&r.run_id)
                .await
                .unwrap()
                .iter()
                .filter(|j| j.error_class.map(|c| c.as_str()) == Some("unavailable"))
                .count();
        }
        // What was in flight when the server stopped met the outage: a job (its attempt
        // fails as unavailable and is retried), or the run record or the event log
        // between jobs (they wait for the database and say so). Which one is chance.
        let waited = [
            "cannot record run state; retrying",
            "cannot record actor events; retrying",
            "retried by the next tick",
            "fired again",
        ]
        .iter()
        .any(|m| stderr.contains(m));
        assert!(
            unavailable > 0 || waited,
            "something met the outage: a job failed as unavailable and was retried, or the \
             run record or the event log waited for the database; stderr: {stderr}"
        );
        let reference_runs = RuntimeDb::open(&reference.runtime, 2)
            .await
            .unwrap()
            .dag_runs(100_000)
            .await
            .unwrap();
        assert_eq!(runs.len(), reference_runs.len(), "every run once");
        rt.pool().close().await;
    });
    drop(server);
}

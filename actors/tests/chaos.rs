//! The chaos drill as an operator runs it, on the demo's databases: the day's whole chain
//! (daily → features → profiles → engines) once clean and once per fault — every actor ×
//! panic (inside its computation), error and hang on its first job — and every output table
//! of every faulted chain must equal the clean run's, with the restarts and retries
//! recorded. A permanent error is attempted once and fails the chain at once; a panic on
//! the actor's thread is the same supervised event as one in a computation.

mod common;

use common::Env;
use serde_json::Value;

/// A 60-name, two-year demo market whose daily ingest reads an (empty) inbox.
fn demo_env() -> Env {
    common::shipped_demo(Env::with(None, "", ""))
}

fn drill(env: &Env, faults: &str) -> (bool, Value) {
    let out = env
        .pv2()
        .args(["--faults", faults])
        .args([
            "drill",
            "chaos",
            "--market",
            "US_EQ",
            "--date",
            "2025-12-31",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

fn rows(report: &Value) -> &Vec<Value> {
    report["rows"].as_array().unwrap()
}

#[test]
fn every_fault_on_every_actor_of_the_chain_leaves_every_output_identical() {
    let env = demo_env();
    let (ok, report) = drill(&env, "all");
    assert_eq!(
        report["chain"],
        serde_json::json!(["daily", "features", "profiles", "engines", "kronos_daily"])
    );
    let actors = report["actors"].as_array().unwrap().len();
    assert_eq!(actors, 15, "{report}");
    let rows = rows(&report);
    assert_eq!(rows.len(), actors * 3, "every actor × panic, error, hang");
    for r in rows {
        let fault = r["fault"].as_str().unwrap();
        assert_eq!(r["verdict"]["result"], "identical", "{fault}: {r}");
        assert_eq!(r["runs"].as_array().unwrap().len(), 5, "{fault}");
        let (restarts, retries) = (
            r["restarts"].as_u64().unwrap(),
            r["retries"].as_u64().unwrap(),
        );
        assert!(
            retries >= 1,
            "{fault}: the faulted attempt was retried: {r}"
        );
        if fault.contains(":panic@") {
            assert!(restarts >= 1, "{fault}: a panic restarts its actor: {r}");
        } else {
            assert_eq!(restarts, 0, "{fault}: only panics restart: {r}");
        }
    }
    assert!(ok, "the command succeeds when every chain is identical");
    // The clean reference wrote a complete risk report; the faulted runs equal it, so the
    // portfolio's retry after a panic (its scenario set gone with the restarted actor)
    // wrote the scenario block too.
    assert_eq!(report["clean"]["failures"], serde_json::json!([]));
}

#[test]
fn a_permanent_error_fails_the_chain_at_once_and_an_actor_thread_panic_is_supervised() {
    let env = demo_env();
    let (ok, report) = drill(
        &env,
        "regime:permanent@1,portfolio:actor-panic@1,assessment:actor-panic@1",
    );
    assert!(!ok, "a chain that ends differently fails the drill");
    let rows = rows(&report);
    let by = |f: &str| rows.iter().find(|r| r["fault"] == f).unwrap();
    let permanent = by("regime:permanent@1");
    assert_eq!(permanent["verdict"]["result"], "runs_differ", "{permanent}");
    assert_eq!(permanent["retries"], 0, "attempted once: {permanent}");
    let failures = permanent["failures"].as_array().unwrap();
    assert!(
        failures.iter().any(|f| f
            .as_str()
            .unwrap()
            .contains("injected fault regime:permanent@1")),
        "{permanent}"
    );
    for f in ["portfolio:actor-panic@1", "assessment:actor-panic@1"] {
        let r = by(f);
        assert_eq!(r["verdict"]["result"], "identical", "{f}: {r}");
        assert_eq!(
            (r["restarts"].as_u64(), r["retries"].as_u64()),
            (Some(1), Some(1))
        );
    }
}

#[test]
fn the_drill_runs_on_postgres_copies_too() {
    let env = common::in_system(Env::postgres("chaos_drill", "", ""));
    let env = common::shipped_demo(env);
    let (ok, report) = drill(&env, "portfolio:panic@1,derived:error@1");
    for r in rows(&report) {
        assert_eq!(r["verdict"]["result"], "identical", "{r}");
    }
    assert!(ok, "{report}");
    // No copy is left on the server.
    common::in_system(async {
        let server = std::env::var("PV2_TEST_PG_URL").unwrap();
        let pool = prometheus::store::Pool::connect(&server, 1).await.unwrap();
        let prometheus::store::Pool::Postgres(p) = &pool else {
            unreachable!()
        };
        let left: Vec<String> =
            sqlx::query_scalar("SELECT datname::text FROM pg_database WHERE datname LIKE 'drill%'")
                .fetch_all(p)
                .await
                .unwrap();
        assert!(left.is_empty(), "{left:?}");
        pool.close().await;
        env.cleanup().await;
    });
}

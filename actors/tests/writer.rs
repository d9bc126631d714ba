//! The batching writer's promise, tested by crashing the process inside it: `pv2 run` of
//! the engines DAG aborts in the writer after a group's statements ran and before the
//! group's commit (`--faults writer:abort@K`), at several K. After each crash every job
//! recorded SUCCEEDED has its rows in the database; the next `pv2 run` resumes the run and
//! ends with every output equal to an uninterrupted run's.

mod common;

use common::Env;
use prometheus::store::{Pool, RunStore, RuntimeDb, compare};
use std::path::Path;

const DATE: &str = "2025-12-29";

/// The day's rows of what each engine job writes through the writer.
const OUTPUTS: &[(&str, &str)] = &[
    ("regime", "regimes"),
    ("stability", "stability_vectors"),
    ("scenarios", "scenario_sets"),
    ("fragility", "fragility_measures"),
    ("assessment", "instrument_scores"),
    ("universe", "universe_members"),
    ("portfolio", "portfolio_risk_reports"),
];

async fn open(path: &Path) -> RuntimeDb {
    RuntimeDb::open(&format!("sqlite://{}", path.display()), 2)
        .await
        .unwrap()
}

/// A consistent copy of the SQLite database at `from` (its WAL included).
async fn copy(from: &Path, to: &Path) {
    let db = open(from).await;
    let Pool::Sqlite(p) = db.pool() else {
        unreachable!()
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "VACUUM INTO '{}'",
        to.display()
    )))
    .execute(p)
    .await
    .unwrap();
    p.close().await;
}

/// The day's rows in `table`.
async fn day_rows(db: &RuntimeDb, table: &str) -> i64 {
    let Pool::Sqlite(p) = db.pool() else {
        unreachable!()
    };
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE market_id = 'US_EQ' AND as_of_date = $1"
    )))
    .bind(DATE)
    .fetch_one(p)
    .await
    .unwrap()
}

/// `pv2 run` of the engines DAG on the runtime database at `db`, with `faults`; the
/// writer's groups are logged.
fn run_engines(env: &Env, db: &Path, faults: Option<&str>) -> std::process::Output {
    let mut c = env.pv2();
    c.env("PV2_LOG", "warn,prometheus::store::writer=debug");
    c.args(["--runtime-db", &format!("sqlite://{}", db.display())]);
    if let Some(f) = faults {
        c.args(["--faults", f]);
    }
    c.args([
        "run", "--market", "US_EQ", "--date", DATE, "--dag", "engines",
    ])
    .output()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_enqueue_and_commit_never_leaves_a_succeeded_job_without_its_rows() {
    let env = common::shipped_demo(Env::with(None, "", ""));
    for dag in ["daily", "features", "profiles"] {
        common::pv2_ok(
            &env,
            &["run", "--market", "US_EQ", "--date", DATE, "--dag", dag],
        );
    }
    let dir = env.dir.path();
    let before = dir.join("before-engines.db");
    copy(&dir.join("r.db"), &before).await;
    let reference = dir.join("reference.db");
    copy(&before, &reference).await;
    let out = run_engines(&env, &reference, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The groups the runtime database's writer committed in the whole run: where the
    // crashes are spread, from the first to the last (the run records come last when the
    // jobs are quicker than the run log's linger). How many groups a run commits depends on
    // how its writes meet, so a crashing run may commit fewer than `k` and finish.
    let groups = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains("group committed") && l.contains("reference.db"))
        .count();
    assert!(groups >= 8, "the run committed {groups} groups");
    let reference_db = open(&reference).await;
    let reference_digests = compare::digest_tables(reference_db.pool()).await.unwrap();

    let run_id = format!("engines:US_EQ:{DATE}");
    let (mut succeeded_at_crash, mut unfinished_at_crash) = (0, 0);
    let mut crash_at = vec![
        1,
        groups / 3,
        2 * groups / 3,
        groups - 2,
        groups - 1,
        groups,
    ];
    crash_at.dedup();
    let mut crashes = 0;
    for k in crash_at {
        let crashed = dir.join(format!("crash-{k}.db"));
        copy(&before, &crashed).await;
        let out = run_engines(&env, &crashed, Some(&format!("writer:abort@{k}")));
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            // Fewer groups than `k` this time: a whole run, which must equal the reference.
            let db = open(&crashed).await;
            let diff = compare::compare_with(reference_db.pool(), &reference_digests, db.pool())
                .await
                .unwrap();
            assert_eq!(diff, None, "group {k}: an uncrashed run differs");
            continue;
        }
        crashes += 1;
        assert!(
            stderr.contains("injected fault: the batching writer aborts the process"),
            "group {k}: {stderr}"
        );

        let db = open(&crashed).await;
        let jobs = db.job_runs(&run_id).await.unwrap();
        for (job, table) in OUTPUTS {
            let done = jobs
                .iter()
                .any(|j| j.job_id == *job && j.state.to_string() == "SUCCEEDED");
            if done {
                succeeded_at_crash += 1;
                assert!(
                    day_rows(&db, table).await > 0,
                    "group {k}: {job} is SUCCEEDED but {table} has no rows for {DATE}"
                );
            } else {
                unfinished_at_crash += 1;
            }
        }

        let out = run_engines(&env, &crashed, None);
        assert!(
            out.status.success(),
            "group {k}: the resumed run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let diff = compare::compare_with(reference_db.pool(), &reference_digests, db.pool())
            .await
            .unwrap();
        assert_eq!(
            diff, None,
            "group {k}: outputs differ from the uninterrupted run"
        );
    }
    assert!(crashes >= 4, "only {crashes} runs crashed");
    assert!(
        succeeded_at_crash > 0 && unfinished_at_crash > 0,
        "the crashes fell both between and inside jobs \
         ({succeeded_at_crash} succeeded, {unfinished_at_crash} unfinished)"
    );
    env.cleanup().await;
}

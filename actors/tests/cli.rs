//! The `pv2` binary driven as a user would: exit codes, one-line errors, summaries.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
    }

    fn sqlite_urls(&self) -> [String; 2] {
        let url = |n: &str| format!("sqlite://{}", self.dir.path().join(n).display());
        [url("h.db"), url("r.db")]
    }

    fn pv2_on(&self, urls: &[String; 2], args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_pv2"))
            .current_dir(self.dir.path())
            .arg("--config")
            .arg(Self::config_dir())
            .args(["--historical-db", &urls[0], "--runtime-db", &urls[1]])
            .args(args)
            .env_remove("PV2_HISTORICAL_DB")
            .env_remove("PV2_RUNTIME_DB")
            .output()
            .unwrap()
    }

    fn pv2(&self, args: &[&str]) -> Output {
        self.pv2_on(&self.sqlite_urls(), args)
    }

    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn init_is_idempotent() {
    let s = Sandbox::new();
    for _ in 0..2 {
        let o = s.pv2(&["init"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("migrated"));
        assert!(stdout(&o).contains("US_EQ, EU_EQ, JP_EQ, FX_GLOB"));
    }
}

#[test]
fn import_prints_a_summary_and_quarantines_bad_rows() {
    let s = Sandbox::new();
    let f = s.file(
        "aaa.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,11,9,10.5,10.4,1000\n2024-01-03,10,11,9,12,10.4,5\n2024-01-04,10,11,9,10.5,10.5,7\n",
    );
    let o = s.pv2(&[
        "import", "prices", "--format", "yahoo", "--symbol", "AAA", &f,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ok 2, rejected 1"), "{out}");
    assert!(out.contains("close_outside_range 1"), "{out}");
    assert!(out.contains("registered instruments: US_EQ:AAA"), "{out}");
    assert!(out.contains("derived: 1 instruments"), "{out}");
    let o = s.pv2(&[
        "import", "prices", "--format", "yahoo", "--symbol", "AAA", "--output", "json", &f,
    ]);
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["rows"]["unchanged"], 2);
    assert_eq!(doc["rejected_by_reason"]["close_outside_range"], 1);
}

#[test]
fn a_batch_is_replayed_from_the_archive_after_its_file_is_gone() {
    let s = Sandbox::new();
    let f = s.file(
        "aaa.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\n2024-01-02,10,11,9,10.5,10.4,1000\n2024-01-03,10,11,9,12,10.4,5\n",
    );
    let o = s.pv2(&[
        "import", "prices", "--format", "yahoo", "--symbol", "AAA", "--output", "json", &f,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let first: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let batch = first["batch_id"].as_str().unwrap().to_owned();
    std::fs::remove_file(&f).unwrap();
    let o = s.pv2(&["import", "replay", "--output", "json", &batch]);
    assert!(o.status.success(), "{}", stderr(&o));
    let replayed: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(replayed["batch_id"], first["batch_id"], "the same batch");
    assert_eq!(replayed["file"], first["file"], "under its recorded name");
    assert_eq!(replayed["rows"]["unchanged"], 1, "{replayed}");
    assert_eq!(replayed["rejected_by_reason"], first["rejected_by_reason"]);
    let archived = std::fs::read_dir(s.dir.path().join("data/archive/sha256"))
        .unwrap()
        .count();
    assert_eq!(archived, 1, "one file, stored once");

    let o = s.pv2(&["import", "replay", "b-0000"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("no batch `b-0000`"), "{err}");
}

#[test]
fn bad_files_exit_non_zero_with_one_line() {
    let s = Sandbox::new();
    let f = s.file(
        "bad.csv",
        "Date,Open,High,Low,Close,Adj Close,Volume\nnope,1,1,1,1,1,1\n",
    );
    for args in [
        vec![
            "import",
            "prices",
            "--format",
            "yahoo",
            "--symbol",
            "AAA",
            f.as_str(),
        ],
        vec![
            "import",
            "prices",
            "--format",
            "wide",
            "/nonexistent/file.csv",
        ],
        vec!["import", "news", "/nonexistent/news.jsonl"],
    ] {
        let o = s.pv2(&args);
        assert!(!o.status.success(), "{args:?}");
        let err = stderr(&o);
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.starts_with("error: "), "{err}");
    }
    let o = s.pv2(&[
        "import", "prices", "--format", "yahoo", "--symbol", "AAA", &f,
    ]);
    assert!(
        stderr(&o).contains("all 1 rows rejected (most common: unparseable_date)"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn configuration_errors_name_file_and_key() {
    let s = Sandbox::new();
    let cfg = s.dir.path().join("cfg");
    std::fs::create_dir_all(&cfg).unwrap();
    std::fs::write(
        cfg.join("default.toml"),
        "[ingest]\nsqlite_rows_per_statement = 0\n",
    )
    .unwrap();
    std::fs::copy(
        Sandbox::config_dir().join("markets.toml"),
        cfg.join("markets.toml"),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_pv2"))
        .arg("--config")
        .arg(&cfg)
        .arg("init")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("default.toml") && err.contains("ingest.sqlite_rows_per_statement"),
        "{err}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_pv2"))
        .arg("--config")
        .arg(Sandbox::config_dir())
        .arg("init")
        .env("PV2_ENGINES__DERIVED__VOL_WINDOWS", "[0]")
        .env("PV2_HISTORICAL_DB", s.sqlite_urls()[0].clone())
        .env("PV2_RUNTIME_DB", s.sqlite_urls()[1].clone())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "init does not load engine configs: {}",
        stderr(&o)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_pv2"))
        .arg("--config")
        .arg(Sandbox::config_dir())
        .arg("derive")
        .env("PV2_ENGINES__DERIVED__VOL_WINDOWS", "[0]")
        .env("PV2_HISTORICAL_DB", s.sqlite_urls()[0].clone())
        .env("PV2_RUNTIME_DB", s.sqlite_urls()[1].clone())
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(
        !o.status.success()
            && err.contains("env PV2_ENGINES__DERIVED__VOL_WINDOWS")
            && err.contains("vol_windows"),
        "{err}"
    );
}

fn demo_json(s: &Sandbox, urls: &[String; 2]) -> Value {
    let o = s.pv2_on(
        urls,
        &[
            "demo",
            "--instruments",
            "60",
            "--years",
            "2",
            "--seed",
            "3",
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&stdout(&o)).unwrap()
}

fn check_demo(s: &Sandbox, urls: &[String; 2]) {
    let first = demo_json(s, urls);
    assert_eq!(first["instruments"], 60);
    let sessions = first["sessions"].as_u64().unwrap();
    assert!((515..=525).contains(&sessions), "{sessions}");
    assert_eq!(first["price_rows"]["inserted"], 60 * sessions);
    assert!(first["derived"]["returns"].as_u64().unwrap() > 0);
    let shares: f64 = ["calm", "stressed", "crisis"]
        .iter()
        .map(|r| first["regimes"][r]["share"].as_f64().unwrap())
        .sum();
    assert!((shares - 1.0).abs() < 1e-9);
    // The last 10 sessions went through the features, profiles and engines DAGs.
    let reps = &first["representations"];
    assert_eq!(reps["sessions"], 10, "{reps}");
    assert_eq!(reps["failed_runs"], serde_json::json!([]), "{reps}");
    assert_eq!(reps["numeric"]["instruments"], 60, "{reps}");
    assert_eq!(reps["numeric"]["dim"], 8, "{reps}");
    assert!(reps["profiles"]["issuers"].as_u64() == Some(60), "{reps}");
    let spaces: Vec<&str> = reps["joint"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["space"].as_str().unwrap())
        .collect();
    assert_eq!(
        spaces,
        ["regime_context", "profile_core", "stability", "assessment"]
    );
    // The engines DAG left a target; both strategies were backtested after the warm-up year.
    let decisions = &first["decisions"];
    assert!(
        decisions["current_target"]["weights"]
            .as_array()
            .is_some_and(|w| !w.is_empty()),
        "{decisions}"
    );
    for strategy in ["core_long_eq", "equal_weight"] {
        let b = &decisions["backtests"][strategy];
        assert!(b["error"].is_null(), "{strategy}: {b}");
        assert!(
            b["metrics"]["overall"]["days"].as_u64().unwrap() > 200,
            "{strategy}: {b}"
        );
    }
    assert!(
        !decisions["regime_timeline"].as_array().unwrap().is_empty(),
        "{decisions}"
    );
    // Running it again changes nothing and recomputes nothing.
    let again = demo_json(s, urls);
    assert_eq!(
        again["decisions"]["backtests"]["core_long_eq"]["metrics"],
        decisions["backtests"]["core_long_eq"]["metrics"],
        "the same backtest from the same data"
    );
    assert_eq!(
        again["representations"]["numeric"]["model_id"], reps["numeric"]["model_id"],
        "the same model from the same data"
    );
    assert_eq!(again["price_rows"]["unchanged"], 60 * sessions);
    assert_eq!(again["derived"]["instruments"], 0);
    assert_eq!(again["price_rows"]["stored_total"], 60 * sessions);
}

#[test]
fn demo_runs_on_sqlite_and_is_idempotent() {
    let s = Sandbox::new();
    check_demo(&s, &s.sqlite_urls());
}

#[tokio::test]
async fn demo_runs_on_postgres() {
    let server =
        std::env::var("PV2_TEST_PG_URL").expect("PV2_TEST_PG_URL is not set: run scripts/test");
    let name = format!("cli_demo_{}", std::process::id());
    let url = prometheus::store::admin::create_database(&server, &name)
        .await
        .unwrap();
    let s = Sandbox::new();
    let urls = [url.clone(), url];
    tokio::task::spawn_blocking(move || check_demo(&s, &urls))
        .await
        .unwrap();
    prometheus::store::admin::drop_database(&server, &name)
        .await
        .unwrap();
}

#[test]
fn the_sample_files_import_as_the_readme_says() {
    let s = Sandbox::new();
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samples");
    let sample = |f: &str| samples.join(f).display().to_string();
    let cases: [(Vec<String>, u64, u64); 5] = [
        (vec!["instruments".into(), sample("instruments.csv")], 4, 1),
        (
            vec![
                "prices".into(),
                "--format".into(),
                "yahoo".into(),
                "--symbol".into(),
                "ACME".into(),
                sample("ACME.csv"),
            ],
            8,
            5,
        ),
        (
            vec![
                "prices".into(),
                "--format".into(),
                "wide".into(),
                sample("closes-wide.csv"),
            ],
            11,
            2,
        ),
        (vec!["news".into(), sample("news.jsonl")], 3, 2),
        (
            vec!["fundamentals".into(), sample("fundamentals.csv")],
            9,
            1,
        ),
    ];
    for (args, ok, rejected) in cases {
        let mut full: Vec<&str> = vec!["import"];
        full.extend(args.iter().map(String::as_str));
        full.extend(["--output", "json"]);
        let o = s.pv2(&full);
        assert!(o.status.success(), "{full:?}: {}", stderr(&o));
        let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(
            (doc["ok"].as_u64(), doc["rejected"].as_u64()),
            (Some(ok), Some(rejected)),
            "{full:?}"
        );
    }
}

#[test]
fn calendar_sessions_print_utc_opens_closes_and_early_closes() {
    let s = Sandbox::new();
    // Thanksgiving week 2024 in New York: the holiday, then the 13:00 early close.
    let o = s.pv2(&[
        "calendar",
        "sessions",
        "--market",
        "US_EQ",
        "--from",
        "2024-11-26",
        "--to",
        "2024-12-02",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "date,open_utc,close_utc,early_close\n\
         2024-11-26,2024-11-26T14:30:00Z,2024-11-26T21:00:00Z,false\n\
         2024-11-27,2024-11-27T14:30:00Z,2024-11-27T21:00:00Z,false\n\
         2024-11-29,2024-11-29T14:30:00Z,2024-11-29T18:00:00Z,true\n\
         2024-12-02,2024-12-02T14:30:00Z,2024-12-02T21:00:00Z,false\n"
    );
    // London around the 2024 clock change (31 March) and Easter.
    let o = s.pv2(&[
        "calendar",
        "sessions",
        "--market",
        "EU_EQ",
        "--from",
        "2024-03-28",
        "--to",
        "2024-04-02",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["date"].as_str().unwrap().to_owned(),
                r["open_utc"].as_str().unwrap().to_owned(),
                r["close_utc"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (
                "2024-03-28".into(),
                "2024-03-28T08:00:00Z".into(),
                "2024-03-28T16:30:00Z".into()
            ),
            (
                "2024-04-02".into(),
                "2024-04-02T07:00:00Z".into(),
                "2024-04-02T15:30:00Z".into()
            ),
        ]
    );
    // Tokyo lists its lunch break in the text format.
    let o = s.pv2(&[
        "calendar",
        "sessions",
        "--market",
        "JP_EQ",
        "--from",
        "2024-11-05",
        "--to",
        "2024-11-05",
    ]);
    assert!(
        stdout(&o).contains("2024-11-05  Tue  09:00–15:30  break 11:30–12:30"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn calendar_state_at_boundaries_and_errors() {
    let s = Sandbox::new();
    let state = |market: &str, at: &str| {
        let o = s.pv2(&[
            "calendar", "state", "--market", market, "--at", at, "--format", "json",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<Value>(&o.stdout).unwrap()
    };
    // Exactly at the open: SESSION; one second before: PRE_OPEN; at the close: POST_CLOSE.
    let v = state("US_EQ", "2024-03-11T13:30:00Z");
    assert_eq!(
        (v["state"].as_str(), v["session"].as_str()),
        (Some("SESSION"), Some("2024-03-11"))
    );
    assert_eq!(v["next"]["state"], "POST_CLOSE");
    assert_eq!(v["next"]["at"], "2024-03-11T20:00:00Z");
    assert_eq!(state("US_EQ", "2024-03-11T13:29:59Z")["state"], "PRE_OPEN");
    assert_eq!(
        state("US_EQ", "2024-03-11T20:00:00Z")["state"],
        "POST_CLOSE"
    );
    assert_eq!(state("US_EQ", "2024-03-29T15:00:00Z")["state"], "HOLIDAY");
    // A local offset is accepted: 12:00 in Tokyo is the lunch break.
    let v = state("JP_EQ", "2024-11-05T12:00:00+09:00");
    assert_eq!(
        (v["state"].as_str(), v["in_break"].as_bool()),
        (Some("SESSION"), Some(true))
    );
    let o = s.pv2(&[
        "calendar",
        "state",
        "--market",
        "US_EQ",
        "--at",
        "2024-03-11T13:30:00Z",
    ]);
    assert_eq!(
        stdout(&o),
        "US_EQ at 2024-03-11T13:30:00Z (2024-03-11 09:30 EDT): SESSION of the 2024-03-11 session\n\
         next: POST_CLOSE of the 2024-03-11 session at 2024-03-11T20:00:00Z (2024-03-11 16:00 EDT)\n"
    );
    for (args, want) in [
        (
            vec![
                "calendar",
                "sessions",
                "--market",
                "NOPE",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-02",
            ],
            "unknown market `NOPE`",
        ),
        (
            vec![
                "calendar",
                "sessions",
                "--market",
                "US_EQ",
                "--from",
                "1980-01-01",
                "--to",
                "1980-01-02",
            ],
            "the calendars cover 1990-01-01 to 2035-12-31",
        ),
        (
            vec![
                "calendar",
                "sessions",
                "--market",
                "US_EQ",
                "--from",
                "2024-02-01",
                "--to",
                "2024-01-01",
            ],
            "is after --to",
        ),
        (
            vec![
                "backfill",
                "--market",
                "FX_GLOB",
                "--from",
                "2024-01-01",
                "--to",
                "2024-01-31",
            ],
            "no DAG is triggered by a state of FX_GLOB",
        ),
    ] {
        let o = s.pv2(&args);
        assert!(!o.status.success());
        assert!(stderr(&o).contains(want), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o).lines().count(), 1, "{}", stderr(&o));
    }
}

/// Follow the sun (Tokyo, London, New York), DST (New York closes an hour earlier in UTC
/// after 10 March), `after` chains (daily, then features, profiles, engines and Kronos's
/// daily jobs, per market) and Kronos's weekly cron DAG.
#[test]
fn calendar_plan_lists_activations_following_the_sun() {
    let s = Sandbox::new();
    let o = s.pv2(&[
        "calendar",
        "plan",
        "--from",
        "2024-03-08T00:00:00Z",
        "--to",
        "2024-03-12T00:00:00Z",
        "--format",
        "csv",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "at,dag,market,as_of,trigger,activation_id\n\
         2024-03-08T06:00:00Z,daily,JP_EQ,2024-03-08,POST_CLOSE,daily:JP_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T06:00:00Z,features,JP_EQ,2024-03-08,after daily,features:JP_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T06:00:00Z,profiles,JP_EQ,2024-03-08,after features,profiles:JP_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T06:00:00Z,engines,JP_EQ,2024-03-08,after profiles,engines:JP_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T06:00:00Z,kronos_daily,JP_EQ,2024-03-08,after engines,kronos_daily:JP_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T16:30:00Z,daily,EU_EQ,2024-03-08,POST_CLOSE,daily:EU_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T16:30:00Z,features,EU_EQ,2024-03-08,after daily,features:EU_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T16:30:00Z,profiles,EU_EQ,2024-03-08,after features,profiles:EU_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T16:30:00Z,engines,EU_EQ,2024-03-08,after profiles,engines:EU_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T16:30:00Z,kronos_daily,EU_EQ,2024-03-08,after engines,kronos_daily:EU_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T21:00:00Z,daily,US_EQ,2024-03-08,POST_CLOSE,daily:US_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T21:00:00Z,features,US_EQ,2024-03-08,after daily,features:US_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T21:00:00Z,profiles,US_EQ,2024-03-08,after features,profiles:US_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T21:00:00Z,engines,US_EQ,2024-03-08,after profiles,engines:US_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-08T21:00:00Z,kronos_daily,US_EQ,2024-03-08,after engines,kronos_daily:US_EQ:2024-03-08:POST_CLOSE\n\
         2024-03-09T06:00:00Z,kronos_weekly,GLOBAL,2024-03-09,cron 0 0 6 * * Sat,kronos_weekly:cron:2024-03-09T06:00:00Z\n\
         2024-03-11T06:00:00Z,daily,JP_EQ,2024-03-11,POST_CLOSE,daily:JP_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T06:00:00Z,features,JP_EQ,2024-03-11,after daily,features:JP_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T06:00:00Z,profiles,JP_EQ,2024-03-11,after features,profiles:JP_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T06:00:00Z,engines,JP_EQ,2024-03-11,after profiles,engines:JP_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T06:00:00Z,kronos_daily,JP_EQ,2024-03-11,after engines,kronos_daily:JP_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T16:30:00Z,daily,EU_EQ,2024-03-11,POST_CLOSE,daily:EU_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T16:30:00Z,features,EU_EQ,2024-03-11,after daily,features:EU_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T16:30:00Z,profiles,EU_EQ,2024-03-11,after features,profiles:EU_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T16:30:00Z,engines,EU_EQ,2024-03-11,after profiles,engines:EU_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T16:30:00Z,kronos_daily,EU_EQ,2024-03-11,after engines,kronos_daily:EU_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T20:00:00Z,daily,US_EQ,2024-03-11,POST_CLOSE,daily:US_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T20:00:00Z,features,US_EQ,2024-03-11,after daily,features:US_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T20:00:00Z,profiles,US_EQ,2024-03-11,after features,profiles:US_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T20:00:00Z,engines,US_EQ,2024-03-11,after profiles,engines:US_EQ:2024-03-11:POST_CLOSE\n\
         2024-03-11T20:00:00Z,kronos_daily,US_EQ,2024-03-11,after engines,kronos_daily:US_EQ:2024-03-11:POST_CLOSE\n"
    );
}

/// `pv2` started in `dir` with no configuration named anywhere.
fn bare_pv2(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pv2"));
    c.current_dir(dir)
        .env_remove("PV2_CONFIG")
        .env_remove("PV2_HISTORICAL_DB")
        .env_remove("PV2_RUNTIME_DB");
    c
}

#[test]
fn the_binary_finds_its_config_outside_the_repository() {
    let s = Sandbox::new();
    // No --config, no PV2_CONFIG, no ./config: the built-in defaults.
    let o = bare_pv2(s.dir.path())
        .args([
            "calendar",
            "sessions",
            "--market",
            "US_EQ",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-05",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("4 sessions"), "{}", stdout(&o));
    // `config init` writes them out; a second init refuses to overwrite.
    let o = bare_pv2(s.dir.path())
        .args(["config", "init", "mine"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(s.dir.path().join("mine/engines/portfolio.toml")).unwrap(),
        std::fs::read_to_string(Sandbox::config_dir().join("engines/portfolio.toml")).unwrap()
    );
    let o = bare_pv2(s.dir.path())
        .args(["config", "init", "mine"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    // PV2_CONFIG names it; an edit there is what the binary reads.
    let markets = s.dir.path().join("mine/markets.toml");
    let text = std::fs::read_to_string(&markets).unwrap();
    std::fs::write(
        &markets,
        text.replacen("id = \"US_EQ\"", "id = \"US_XX\"", 1),
    )
    .unwrap();
    let o = bare_pv2(s.dir.path())
        .env("PV2_CONFIG", s.dir.path().join("mine"))
        .args([
            "calendar",
            "sessions",
            "--market",
            "US_XX",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-05",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    // A directory that does not exist is one line saying what to do.
    let o = bare_pv2(s.dir.path())
        .args([
            "--config",
            "nowhere",
            "calendar",
            "sessions",
            "--market",
            "US_EQ",
            "--from",
            "2024-01-02",
            "--to",
            "2024-01-05",
        ])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("pv2 config init DIR"), "{err}");
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::Read;
    let s = Sandbox::new();
    // Thousands of lines through println!, and a table through a buffered writer.
    for args in [
        vec![
            "calendar",
            "sessions",
            "--market",
            "US_EQ",
            "--from",
            "1995-01-02",
            "--to",
            "2030-12-31",
        ],
        vec![
            "calendar",
            "sessions",
            "--market",
            "US_EQ",
            "--from",
            "1995-01-02",
            "--to",
            "2030-12-31",
            "--format",
            "csv",
        ],
    ] {
        let mut child = bare_pv2(s.dir.path())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = [0u8; 64];
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_exact(&mut first)
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn an_unknown_asset_class_is_rejected_and_an_index_is_registered_as_one() {
    let s = Sandbox::new();
    let f = s.file(
        "instruments.csv",
        "symbol,name,sector,industry,country,market,asset_class\nSPX,S&P 500,,,US,US_EQ,Index\nXYZ,X,,,US,US_EQ,crypto\n",
    );
    let o = s.pv2(&["import", "instruments", &f, "--output", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["ok"], 1);
    assert_eq!(doc["rejected_by_reason"]["unknown_asset_class"], 1, "{doc}");
}

/// `storage.share_one_cpu` (on by default) moves the process's waiting threads to one CPU
/// when there are several; switched off, nothing is moved.
#[test]
fn waiting_threads_share_one_cpu_unless_switched_off() {
    let sb = Sandbox::new();
    let urls = sb.sqlite_urls();
    let run = |share: &str| {
        Command::new(env!("CARGO_BIN_EXE_pv2"))
            .current_dir(sb.dir.path())
            .arg("--config")
            .arg(Sandbox::config_dir())
            .args([
                "--historical-db",
                &urls[0],
                "--runtime-db",
                &urls[1],
                "runs",
            ])
            .env("PV2_LOG", "prometheus_actors::commands=debug")
            .env("PV2_STORAGE__SHARE_ONE_CPU", share)
            .output()
            .unwrap()
    };
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let on = run("true");
    assert!(on.status.success(), "{}", stderr(&on));
    // Without the terminal colours tracing adds around field names.
    let said: String = stderr(&on)
        .split('\u{1b}')
        .map(|part| part.split_once('m').map_or(part, |(_, rest)| rest))
        .collect();
    assert!(said.contains("waiting threads share one CPU"), "{said}");
    if cpus > 1 {
        assert!(said.contains("cpu=Some("), "{said}");
    }
    let off = run("false");
    assert!(off.status.success(), "{}", stderr(&off));
    assert!(!stderr(&off).contains("share one CPU"), "{}", stderr(&off));
}

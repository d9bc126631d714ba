//! A two-year backfill of the whole daily chain (daily → features → profiles → engines)
//! on a small synthetic market with the shipped DAGs and engine configs: what the soak and
//! outage tests interrupt, and compare with an uninterrupted run.

use super::Env;
use prometheus::store::Pool;
use prometheus::store::compare::{RowDifference, compare_with, digest_tables};
use std::path::Path;

/// The range the interrupted backfill covers (two years of NYSE sessions).
pub const FROM: &str = "2023-01-03";
/// Its last session.
pub const TO: &str = "2024-12-31";

/// Shipped DAGs and engine configs (their caps hold a 24-name universe: the name cap is
/// relative to N); a 24-name synthetic feed from 2022; no turnover limit; 200 scenario
/// paths; retries capped at 4 s.
pub fn chain_env(pg: Option<(String, String, String)>) -> Env {
    let env = Env::with(pg, "", "");
    // A query gives up waiting for a connection after 3 s (the job fails as unavailable
    // and is retried), so an outage meets the retry policy, not just the pool's patience.
    let default = env.config_dir().join("default.toml");
    let text = std::fs::read_to_string(&default)
        .unwrap()
        .replace("\n\n[daemon]", "\nacquire_timeout_secs = 3\n\n[daemon]");
    std::fs::write(&default, text).unwrap();
    let cfg = env.config_dir();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    let dags = std::fs::read_to_string(repo.join("dags.toml"))
        .unwrap()
        .replace(
            "backoff_ms = 1000\n",
            "backoff_ms = 1000\nbackoff_max_ms = 4000\n",
        );
    std::fs::write(cfg.join("dags.toml"), dags).unwrap();
    super::copy_shipped_engines(&cfg);
    std::fs::write(
        cfg.join("engines/ingest.toml"),
        "source = \"synthetic\"\n[synthetic]\nmarket = \"US_EQ\"\ninstruments = 24\nseed = 3\nhistory_start = \"2022-01-03\"\n",
    )
    .unwrap();
    let edit = |file: &str, from: &str, to: &str| {
        let p = cfg.join("engines").join(file);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains(from), "{file} has no `{from}`");
        std::fs::write(&p, text.replace(from, to)).unwrap();
    };
    edit(
        "portfolio.toml",
        "turnover_limit = 0.5",
        "# no turnover limit",
    );
    edit("scenarios.toml", "paths = 1000", "paths = 200");
    env
}

/// The year of daily data before the range (ingest and derive only), so the engines have
/// history from the range's first session.
pub fn preload(env: &Env) {
    super::pv2_ok(
        env,
        &[
            "backfill",
            "--market",
            "US_EQ",
            "--from",
            "2022-01-03",
            "--to",
            "2022-12-30",
            "--dag",
            "daily",
        ],
    );
}

/// `pv2 backfill` of every DAG over the range.
pub fn backfill(env: &Env) -> std::process::Command {
    backfill_over(env, FROM, TO)
}

/// `pv2 backfill` of every DAG from `from` to `to`.
pub fn backfill_over(env: &Env, from: &str, to: &str) -> std::process::Command {
    let mut c = env.pv2();
    c.args(["backfill", "--market", "US_EQ", "--from", from, "--to", to]);
    c
}

/// The first output that differs between two environments' databases, if any.
pub async fn first_difference(a: &Env, b: &Env) -> Option<(String, RowDifference)> {
    for (name, x, y) in [
        ("historical", &a.historical, &b.historical),
        ("runtime", &a.runtime, &b.runtime),
    ] {
        let (px, py) = (
            Pool::connect(x, 2).await.unwrap(),
            Pool::connect(y, 2).await.unwrap(),
        );
        let digests = digest_tables(&px).await.unwrap();
        let diff = compare_with(&px, &digests, &py).await.unwrap();
        px.close().await;
        py.close().await;
        if let Some(d) = diff {
            return Some((name.to_owned(), d));
        }
    }
    None
}

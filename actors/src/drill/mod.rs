//! The chaos drill: supervision tested on the operator's own data. The day's DAG chain of a
//! market (every DAG its calendar triggers for that session, in firing order) runs on
//! scratch copies of the databases — once clean, then once per fault — and every output
//! table of each faulted run is compared with the clean run's. A fault-free result is the
//! design's promise made visible: an actor that panics, errors or hangs is restarted, the
//! attempt retried, and nothing it writes differs.
//!
//! - [`matrix`] — which faults (every actor of the chain × kind, or given specs);
//! - [`scenario`] — one chain on one scratch copy, in an actor system of its own;
//! - this module — the snapshot, the clean reference, the comparisons, the report.

mod matrix;
mod scenario;

pub use matrix::{FaultSelection, chain_faults};
pub use scenario::{ScenarioRun, Tuning};

use crate::context::Context;
use crate::scheduler::{bindings, calendars, plan, start_of_day};
use anyhow::{Context as _, anyhow, bail};
use chrono::{Days, NaiveDate};
use prometheus::domain::MarketId;
use prometheus::store::admin::{clone_snapshot, remove_copy, snapshot};
use prometheus::store::compare::{
    RowDifference, TableDigest, compare_tracked, compare_with, digest_tables, track_changes,
};
use prometheus::store::{Pool, redact_url};
use serde::Serialize;
use std::path::PathBuf;

/// What to drill.
#[derive(Clone, Debug)]
pub struct ChaosRequest {
    /// The market.
    pub market: MarketId,
    /// The session whose chain runs.
    pub date: NaiveDate,
    /// The faults.
    pub faults: FaultSelection,
    /// Where scratch copies go.
    pub scratch: PathBuf,
}

/// How one faulted chain compares with the clean one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Verdict {
    /// Every output table equals the clean run's, and every run ended as it did there.
    Identical,
    /// A run ended differently from the clean run.
    RunsDiffer {
        /// `run: state` of each run, clean then faulted.
        clean: Vec<String>,
        /// The faulted chain's.
        faulted: Vec<String>,
    },
    /// An output differs: the first table (by name) and its first differing row.
    Differs {
        /// The table.
        table: String,
        /// Which database.
        database: String,
        /// Where in the table (its key, or its position in key order).
        at: String,
        /// The clean run's row.
        clean: Option<String>,
        /// The faulted run's row.
        faulted: Option<String>,
    },
}

/// One line of the matrix.
#[derive(Clone, Debug, Serialize)]
pub struct ChaosRow {
    /// The fault (`None` for the clean reference).
    pub fault: Option<String>,
    /// What the chain did.
    #[serde(flatten)]
    pub run: ScenarioRun,
    /// How it compares.
    pub verdict: Option<Verdict>,
}

/// The drill's report.
#[derive(Clone, Debug, Serialize)]
pub struct ChaosReport {
    /// The market.
    pub market: String,
    /// The session.
    pub date: NaiveDate,
    /// The DAGs of the chain, in order.
    pub chain: Vec<String>,
    /// The actors of the chain.
    pub actors: Vec<String>,
    /// Timeouts and backoffs the faulted runs used.
    pub tuning: Tuning,
    /// The clean reference.
    pub clean: ChaosRow,
    /// One row per fault.
    pub rows: Vec<ChaosRow>,
}

impl ChaosReport {
    /// True when every faulted chain came out identical.
    pub fn all_identical(&self) -> bool {
        self.rows
            .iter()
            .all(|r| r.verdict == Some(Verdict::Identical))
    }
}

/// Removes every copy whose name starts with `prefix`: files in `scratch` for a SQLite
/// source, databases on the server of a PostgreSQL one.
async fn remove_copies(
    source: &str,
    scratch: &std::path::Path,
    prefix: &str,
) -> anyhow::Result<()> {
    if source.starts_with("sqlite:") {
        if let Ok(entries) = std::fs::read_dir(scratch) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(prefix) {
                    std::fs::remove_file(e.path())?;
                }
            }
        }
        return Ok(());
    }
    let server = prometheus::store::admin::with_database(source, "postgres")?;
    let pool = Pool::connect(&server, 1).await?;
    let names: Vec<String> = match &pool {
        Pool::Postgres(p) => {
            sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE starts_with(datname, $1)",
            )
            .bind(prefix)
            .fetch_all(p)
            .await?
        }
        Pool::Sqlite(_) => Vec::new(),
    };
    pool.close().await;
    for name in names {
        prometheus::store::admin::drop_database(&server, &name).await?;
    }
    Ok(())
}

/// The DAGs the calendar triggers for `market` on `date`, in firing order.
///
/// # Errors
/// Invalid DAG configuration, no calendar, or nothing triggered that day.
pub fn day_chain(ctx: &Context, market: &MarketId, date: NaiveDate) -> anyhow::Result<Vec<String>> {
    let dags = crate::spine::system::load_dags(ctx)?;
    let cals = calendars(&ctx.markets).map_err(|e| anyhow!("markets.toml: {e}"))?;
    let binds = bindings(&dags, &cals, Some(market.as_str()), None)
        .map_err(|e| anyhow!("dags.toml: {e}"))?;
    // Two days either side in UTC cover every zone's activations of the session.
    let from = start_of_day(
        chrono_tz::UTC,
        date.checked_sub_days(Days::new(2)).unwrap_or(date),
    );
    let to = start_of_day(
        chrono_tz::UTC,
        date.checked_add_days(Days::new(4)).unwrap_or(date),
    );
    let mut chain: Vec<String> = Vec::new();
    for a in plan(&binds, from, to) {
        if a.as_of == date && a.market == *market && !chain.contains(&a.dag_id) {
            chain.push(a.dag_id);
        }
    }
    if chain.is_empty() {
        bail!(
            "no DAG is triggered for {market} on {date}: is it a session of {market}, and is a DAG bound to it in dags.toml?"
        );
    }
    Ok(chain)
}

fn states(run: &ScenarioRun) -> Vec<String> {
    run.runs
        .iter()
        .map(|(id, s)| format!("{id}: {s}"))
        .collect()
}

/// Runs the drill.
///
/// # Errors
/// The chain cannot be worked out, the databases cannot be copied, or the clean run did not
/// succeed (there is nothing to compare with).
pub async fn chaos(ctx: &Context, req: &ChaosRequest) -> anyhow::Result<ChaosReport> {
    let prefix = format!("drill{}_", std::process::id());
    let result = drill(ctx, req, &prefix).await;
    // Whatever happened, no copy is left behind (each is as large as the databases).
    for url in [&ctx.app.storage.historical_db, &ctx.app.storage.runtime_db] {
        if let Err(e) = remove_copies(url, &req.scratch, &prefix).await {
            tracing::error!(error = %e, "cannot remove the drill's scratch copies");
        }
    }
    let inbox = req.scratch.join("inbox");
    if inbox.exists() {
        let _ = std::fs::remove_dir_all(&inbox);
    }
    result
}

async fn drill(ctx: &Context, req: &ChaosRequest, prefix: &str) -> anyhow::Result<ChaosReport> {
    let chain = day_chain(ctx, &req.market, req.date)?;
    let dags = crate::spine::system::load_dags(ctx)?;
    let actors: Vec<String> = chain
        .iter()
        .filter_map(|d| dags.get(d))
        .flat_map(|d| d.jobs.iter().map(|j| j.actor.clone()))
        .fold(Vec::new(), |mut v, a| {
            if !v.contains(&a) {
                v.push(a);
            }
            v
        });
    let faults = req.faults.expand(&actors)?;
    std::fs::create_dir_all(&req.scratch)
        .with_context(|| format!("creating {}", req.scratch.display()))?;
    let storage = &ctx.app.storage;
    let same = storage.historical_db == storage.runtime_db;
    // One consistent snapshot of the user's databases; every run starts from a copy of it.
    let base_h = snapshot(
        &storage.historical_db,
        &req.scratch,
        &format!("{prefix}base_historical"),
    )
    .await
    .with_context(|| format!("snapshot of {}", redact_url(&storage.historical_db)))?;
    let base_r = if same {
        base_h.clone()
    } else {
        snapshot(
            &storage.runtime_db,
            &req.scratch,
            &format!("{prefix}base_runtime"),
        )
        .await
        .with_context(|| format!("snapshot of {}", redact_url(&storage.runtime_db)))?
    };
    // SQLite copies record which rows each run touches, so only those are compared.
    let tracked = {
        let mut all = true;
        for url in if same {
            vec![&base_h]
        } else {
            vec![&base_h, &base_r]
        } {
            let pool = Pool::connect(url, 1).await?;
            all &= track_changes(&pool).await?;
            pool.close().await;
        }
        all
    };
    let copy = |name: String| {
        let (base_h, base_r, scratch) = (base_h.clone(), base_r.clone(), req.scratch.clone());
        async move {
            let h = clone_snapshot(&base_h, &scratch, &format!("{name}_historical")).await?;
            let r = if same {
                h.clone()
            } else {
                clone_snapshot(&base_r, &scratch, &format!("{name}_runtime")).await?
            };
            Ok::<_, anyhow::Error>((h, r))
        }
    };
    let (clean_h, clean_r) = copy(format!("{prefix}clean")).await?;
    let clean_run = scenario::run(
        ctx,
        (&clean_h, &clean_r),
        &chain,
        (&req.market, req.date),
        &req.scratch,
        None,
        None,
    )
    .await?;
    if !clean_run.succeeded() {
        bail!(
            "the clean run of the chain did not succeed ({}); fix that first — a drill compares faulted runs with a clean one",
            clean_run.failures.join("; ")
        );
    }
    let tuning = Tuning::calibrated(&clean_run);
    let mut databases = vec![Reference::open("historical", &clean_h, tracked).await?];
    if !same {
        databases.push(Reference::open("runtime", &clean_r, tracked).await?);
    }
    let mut rows = Vec::new();
    for (i, fault) in faults.iter().enumerate() {
        let (h, r) = copy(format!("{prefix}f{i}")).await?;
        let outcome = scenario::run(
            ctx,
            (&h, &r),
            &chain,
            (&req.market, req.date),
            &req.scratch,
            Some(fault.clone()),
            Some(&tuning),
        )
        .await;
        let row = match outcome {
            Err(e) => ChaosRow {
                fault: Some(fault.to_string()),
                run: ScenarioRun::failed(format!("{e:#}")),
                verdict: None,
            },
            Ok(run) => ChaosRow {
                fault: Some(fault.to_string()),
                verdict: Some(verdict(&clean_run, &run, &databases, &[&h, &r]).await?),
                run,
            },
        };
        remove_copy(&h).await?;
        if !same {
            remove_copy(&r).await?;
        }
        rows.push(row);
    }
    for d in &databases {
        d.pool.close().await;
    }
    for url in [&clean_h, &clean_r, &base_h, &base_r] {
        remove_copy(url).await?;
    }
    Ok(ChaosReport {
        market: req.market.to_string(),
        date: req.date,
        chain,
        actors,
        tuning,
        clean: ChaosRow {
            fault: None,
            run: clean_run,
            verdict: None,
        },
        rows,
    })
}

/// One clean database a faulted copy is compared with.
struct Reference {
    name: &'static str,
    pool: Pool,
    /// Digests of every table, when changes are not tracked (PostgreSQL).
    digests: Option<Vec<TableDigest>>,
}

impl Reference {
    async fn open(name: &'static str, url: &str, tracked: bool) -> anyhow::Result<Self> {
        let pool = Pool::connect(url, 2).await?;
        let digests = if tracked {
            None
        } else {
            Some(digest_tables(&pool).await?)
        };
        Ok(Self {
            name,
            pool,
            digests,
        })
    }

    /// The first difference of the faulted copy at `url` from this clean database.
    async fn difference(&self, url: &str) -> anyhow::Result<Option<RowDifference>> {
        if let Some(digests) = &self.digests {
            let pool = Pool::connect(url, 2).await?;
            let diff = compare_with(&self.pool, digests, &pool).await;
            pool.close().await;
            return Ok(diff?);
        }
        let file = url
            .strip_prefix("sqlite://")
            .ok_or_else(|| anyhow!("tracked comparison of a non-SQLite copy {url}"))?;
        Ok(compare_tracked(&self.pool, std::path::Path::new(file)).await?)
    }
}

/// Compares a faulted chain with the clean one: run states first, then every output table
/// of each database (`urls` in the order of `databases`).
async fn verdict(
    clean: &ScenarioRun,
    faulted: &ScenarioRun,
    databases: &[Reference],
    urls: &[&String],
) -> anyhow::Result<Verdict> {
    if clean.runs != faulted.runs {
        return Ok(Verdict::RunsDiffer {
            clean: states(clean),
            faulted: states(faulted),
        });
    }
    for (reference, url) in databases.iter().zip(urls) {
        if let Some(RowDifference {
            table,
            at,
            left,
            right,
        }) = reference.difference(url).await?
        {
            return Ok(Verdict::Differs {
                table,
                database: reference.name.to_owned(),
                at,
                clean: left,
                faulted: right,
            });
        }
    }
    Ok(Verdict::Identical)
}

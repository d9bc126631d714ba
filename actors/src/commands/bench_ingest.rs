//! `pv2 bench ingest`: bulk-load synthetic daily OHLCV through the real import path
//! (`PriceStore::write_prices`) and report rows per second, against `psql \copy` of the same
//! rows into the same table on PostgreSQL.

use crate::cli::{BenchBackend, BenchIngestArgs, OutputFormat};
use crate::context::Context;
use crate::progress;
use anyhow::{Context as _, anyhow, bail};
use chrono::NaiveDate;
use prometheus::domain::{InstrumentSeries, MarketId};
use prometheus::store::{BulkTuning, HistoricalDb, Pool, PriceStore, ReferenceStore, admin};
use prometheus::synthetic_market::{SyntheticMarket, SyntheticMarketParams, generate, weekdays};
use serde_json::json;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// One timed contender.
struct Measurement {
    backend: &'static str,
    contender: &'static str,
    rows: u64,
    seconds: f64,
}

impl Measurement {
    fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.seconds
    }
}

async fn register(db: &HistoricalDb, ctx: &Context, m: &SyntheticMarket) -> anyhow::Result<()> {
    db.upsert_markets(&ctx.markets.to_markets()).await?;
    db.upsert_issuers(&m.issuers).await?;
    db.upsert_instruments(&m.instruments).await?;
    Ok(())
}

/// Removes a scratch SQLite database with its WAL and shared-memory files.
pub(super) fn remove_sqlite(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

async fn bench_sqlite(
    ctx: &Context,
    args: &BenchIngestArgs,
    m: &SyntheticMarket,
    rows: u64,
) -> anyhow::Result<Vec<Measurement>> {
    std::fs::create_dir_all(&args.sqlite_dir)
        .with_context(|| format!("creating {}", args.sqlite_dir.display()))?;
    let path = args.sqlite_dir.join("bench-ingest.db");
    let mut out = Vec::new();
    for rep in 0..args.repeat {
        remove_sqlite(&path);
        let db =
            HistoricalDb::open(&format!("sqlite://{}", path.display()), 2, ctx.tuning()).await?;
        register(&db, ctx, m).await?;
        let t = Instant::now();
        let s = db.write_prices("bench", &m.series).await?;
        let seconds = t.elapsed().as_secs_f64();
        if s.inserted != rows {
            bail!(
                "sqlite run {rep}: inserted {} rows, expected {rows}",
                s.inserted
            );
        }
        db.pool().close().await;
        out.push(Measurement {
            backend: "sqlite",
            contender: "pv2 write_prices",
            rows,
            seconds,
        });
    }
    remove_sqlite(&path);
    Ok(out)
}

const COPY_COLUMNS: &str =
    "instrument_id, trade_date, open, high, low, close, adj_close, volume, batch_id";

/// Writes the rows in `COPY` text format for `psql \copy`.
fn write_copy_file(path: &Path, series: &[InstrumentSeries]) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let opt = |v: Option<f64>| v.map_or_else(|| "\\N".to_owned(), |x| format!("{x:?}"));
    let mut line = String::new();
    for s in series {
        for b in &s.bars {
            line.clear();
            let _ = writeln!(
                line,
                "{}\t{}\t{}\t{}\t{}\t{}\t{:?}\t{}\tbench",
                s.instrument_id,
                b.trade_date,
                opt(b.open),
                opt(b.high),
                opt(b.low),
                opt(b.close),
                b.adj_close,
                opt(b.volume)
            );
            w.write_all(line.as_bytes())?;
        }
    }
    w.flush()?;
    Ok(())
}

async fn truncate(db: &HistoricalDb) -> anyhow::Result<()> {
    let Pool::Postgres(p) = db.pool() else {
        bail!("not a PostgreSQL pool")
    };
    sqlx::query("TRUNCATE prices_daily, derive_marks")
        .execute(p)
        .await
        .context("truncating prices")?;
    sqlx::query("CHECKPOINT")
        .execute(p)
        .await
        .context("checkpoint")?;
    Ok(())
}

async fn bench_postgres(
    ctx: &Context,
    args: &BenchIngestArgs,
    server: &str,
    m: &SyntheticMarket,
    rows: u64,
) -> anyhow::Result<Vec<Measurement>> {
    let name = format!("pv2_bench_{}", std::process::id());
    let url = admin::create_database(server, &name).await?;
    let result = async {
        let db = HistoricalDb::open(&url, 2, ctx.tuning()).await?;
        register(&db, ctx, m).await?;
        let file = std::env::temp_dir().join(format!("{name}.tsv"));
        write_copy_file(&file, &m.series)?;
        let mut out = Vec::new();
        for rep in 0..args.repeat {
            truncate(&db).await?;
            let t = Instant::now();
            let s = db.write_prices("bench", &m.series).await?;
            let seconds = t.elapsed().as_secs_f64();
            if s.inserted != rows {
                bail!(
                    "postgres run {rep}: inserted {} rows, expected {rows}",
                    s.inserted
                );
            }
            out.push(Measurement {
                backend: "postgres",
                contender: "pv2 write_prices (COPY)",
                rows,
                seconds,
            });
            truncate(&db).await?;
            let t = Instant::now();
            let status = std::process::Command::new("psql")
                .arg(&url)
                .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
                .arg(format!(
                    "\\copy prices_daily ({COPY_COLUMNS}) FROM '{}'",
                    file.display()
                ))
                .status()
                .context("running psql (is the PostgreSQL client installed?)")?;
            let seconds = t.elapsed().as_secs_f64();
            if !status.success() {
                bail!("psql \\copy failed with {status}");
            }
            out.push(Measurement {
                backend: "postgres",
                contender: "psql \\copy",
                rows,
                seconds,
            });
        }
        let _ = std::fs::remove_file(&file);
        db.pool().close().await;
        Ok(out)
    }
    .await;
    admin::drop_database(server, &name).await?;
    result
}

fn best<'a>(ms: &'a [Measurement], contender: &str) -> Option<&'a Measurement> {
    ms.iter()
        .filter(|m| m.contender == contender)
        .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
}

/// Runs `pv2 bench ingest`.
///
/// # Errors
/// Missing PostgreSQL URL, database or psql failures.
pub async fn run(ctx: &Context, args: &BenchIngestArgs) -> anyhow::Result<()> {
    if args.repeat == 0 {
        bail!("--repeat must be at least 1");
    }
    let pg_url = match args.backend {
        BenchBackend::Sqlite => None,
        _ => Some(args.postgres_url.clone().ok_or_else(|| {
            anyhow!("PostgreSQL benchmark needs --postgres-url URL (or PV2_BENCH_PG_URL); scripts/bench-ingest starts a throwaway server")
        })?),
    };
    let end = NaiveDate::from_ymd_opt(2025, 12, 31).ok_or_else(|| anyhow!("bad end date"))?;
    let start = NaiveDate::from_ymd_opt(2025 - i32::try_from(args.years)?, 12, 31)
        .ok_or_else(|| anyhow!("bad --years"))?;
    let sessions = weekdays(start.succ_opt().unwrap_or(start), end);
    let mut params = SyntheticMarketParams::new(args.instruments, 42, MarketId::from("US_EQ"));
    params.news_rate = 0.0;
    let params = params.check()?;
    let pb = progress::bar(1, "generating");
    let market = tokio::task::spawn_blocking(move || generate(&params, &sessions)).await?;
    pb.finish_and_clear();
    let rows: u64 = market.series.iter().map(|s| s.bars.len() as u64).sum();
    eprintln!(
        "generated {} instruments × {} sessions = {rows} rows",
        args.instruments,
        market.regime_path.len()
    );
    let mut ms = Vec::new();
    if matches!(args.backend, BenchBackend::Sqlite | BenchBackend::Both) {
        ms.extend(bench_sqlite(ctx, args, &market, rows).await?);
    }
    if let Some(url) = &pg_url {
        ms.extend(bench_postgres(ctx, args, url, &market, rows).await?);
    }
    report(&ms, args, rows, &ctx.tuning());
    Ok(())
}

fn report(ms: &[Measurement], args: &BenchIngestArgs, rows: u64, tuning: &BulkTuning) {
    let ours_sqlite = best(ms, "pv2 write_prices");
    let ours_pg = best(ms, "pv2 write_prices (COPY)");
    let psql = best(ms, "psql \\copy");
    let ratio = ours_pg
        .zip(psql)
        .map(|(o, p)| o.rows_per_sec() / p.rows_per_sec());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    match args.format {
        OutputFormat::Json => {
            let runs: Vec<_> = ms
                .iter()
                .map(|m| json!({"backend": m.backend, "contender": m.contender, "rows": m.rows, "seconds": m.seconds, "rows_per_sec": m.rows_per_sec()}))
                .collect();
            println!(
                "{}",
                json!({
                    "rows": rows, "cores": cores, "runs": runs,
                    "best_rows_per_sec": {
                        "sqlite": ours_sqlite.map(Measurement::rows_per_sec),
                        "postgres": ours_pg.map(Measurement::rows_per_sec),
                        "psql_copy": psql.map(Measurement::rows_per_sec),
                    },
                    "postgres_vs_psql": ratio,
                    "sqlite_rows_per_statement": tuning.sqlite_rows_per_statement,
                })
            );
        }
        OutputFormat::Text => {
            println!(
                "bulk OHLCV load: {rows} rows ({} instruments × {} years), {cores} cores, best of {}",
                args.instruments, args.years, args.repeat
            );
            for m in ms {
                println!(
                    "  {:<9} {:<26} {:>8.2} s  {:>12.0} rows/s",
                    m.backend,
                    m.contender,
                    m.seconds,
                    m.rows_per_sec()
                );
            }
            if let Some(s) = ours_sqlite {
                println!(
                    "  sqlite best:   {:.0} rows/s (target ≥ 200000)",
                    s.rows_per_sec()
                );
            }
            if let (Some(o), Some(p), Some(r)) = (ours_pg, psql, ratio) {
                println!(
                    "  postgres best: {:.0} rows/s vs psql \\copy {:.0} rows/s = {r:.2}× (target ≥ 0.8×)",
                    o.rows_per_sec(),
                    p.rows_per_sec()
                );
            }
        }
    }
}

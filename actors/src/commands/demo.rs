//! `pv2 demo`: generate a synthetic market, load it into the configured databases (SQLite
//! by default) and derive its series, run the daily DAGs (features, profiles, engines)
//! through the actors over its last sessions, backtest `core_long_eq` through the whole
//! engine chain against `equal_weight` over the history after a warm-up year, and print a
//! summary.

use super::derive::{derive_marked, describe};
use crate::cli::{DemoArgs, OutputFormat};
use crate::clock::SystemClock;
use crate::context::Context;
use crate::progress;
use anyhow::{Context as _, anyhow};
use chrono::{Datelike, NaiveDate};
use prometheus::config::{DemoConfig, EngineConfig, Issues};
use prometheus::derived::FactorMembership;
use prometheus::domain::{Clock, MarketId, RunId, date_floor};
use prometheus::ingest::batch_id;
use prometheus::ingest::daily::{DailyIngestConfig, DailySource, SyntheticSourceConfig};
use prometheus::store::{
    ConfigStore, DerivedStore, HistoricalDb, IngestBatch, IngestLog, NewsStore, PriceStore,
    PriceWriteSummary, ReferenceStore, Stores, SyntheticTruthStore, redact_url,
};
use prometheus::synthetic_market::{
    HiddenRegime, SyntheticMarket, SyntheticMarketParams, generate, weekdays,
};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Instant;

/// Sessions of history before the demo's backtests start: the universe admits names with a
/// year of prices.
const WARM_UP_SESSIONS: usize = 260;

/// The demo's effective settings: `[demo]` with command-line overrides, validated.
fn settings(ctx: &Context, args: &DemoArgs) -> anyhow::Result<(DemoConfig, NaiveDate)> {
    let mut d = ctx.app.demo.clone();
    if let Some(n) = args.encode_sessions {
        d.encode_sessions = n;
    }
    if let Some(n) = args.instruments {
        d.instruments = n;
    }
    if let Some(y) = args.years {
        d.years = y;
    }
    if let Some(s) = args.seed {
        d.seed = s;
    }
    let mut issues = Issues::new();
    d.validate(&mut issues);
    if !issues.is_empty() {
        let msgs: Vec<String> = issues
            .into_pairs()
            .into_iter()
            .map(|(k, r)| format!("{k}: {r}"))
            .collect();
        return Err(anyhow!("invalid demo settings: {}", msgs.join("; ")));
    }
    let end = NaiveDate::parse_from_str(&d.end_date, "%Y-%m-%d").context("demo.end_date")?;
    Ok((d, end))
}

/// Per-regime statistics of the stored market factor.
struct RegimeStats {
    share: f64,
    episodes: usize,
    ann_return: f64,
    ann_vol: f64,
}

fn regime_stats(
    m: &SyntheticMarket,
    factor: &BTreeMap<NaiveDate, f64>,
) -> BTreeMap<HiddenRegime, RegimeStats> {
    let mut out = BTreeMap::new();
    let n = m.regime_path.len().max(1) as f64;
    for regime in [
        HiddenRegime::Calm,
        HiddenRegime::Stressed,
        HiddenRegime::Crisis,
    ] {
        let days: Vec<f64> = m
            .regime_path
            .iter()
            .filter(|(_, r)| *r == regime)
            .filter_map(|(d, _)| factor.get(d).copied())
            .collect();
        let count = m.regime_path.iter().filter(|(_, r)| *r == regime).count();
        let episodes = m
            .regime_path
            .iter()
            .enumerate()
            .filter(|(i, (_, r))| *r == regime && (*i == 0 || m.regime_path[i - 1].1 != regime))
            .count();
        let k = days.len().max(1) as f64;
        let mean = days.iter().sum::<f64>() / k;
        let var = days.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (k - 1.0).max(1.0);
        out.insert(
            regime,
            RegimeStats {
                share: count as f64 / n,
                episodes,
                ann_return: mean * 252.0,
                ann_vol: (var * 252.0).sqrt(),
            },
        );
    }
    out
}

async fn load(
    db: &HistoricalDb,
    m: &SyntheticMarket,
    market: &MarketId,
    seed: u64,
    batch: &str,
) -> anyhow::Result<PriceWriteSummary> {
    db.upsert_issuers(&m.issuers).await?;
    db.upsert_instruments(&m.instruments).await?;
    let pb = progress::bar(m.series.len() as u64, "loading");
    let mut total = PriceWriteSummary::default();
    for chunk in m.series.chunks(100) {
        let s = db.write_prices(batch, chunk).await?;
        total.inserted += s.inserted;
        total.updated += s.updated;
        total.unchanged += s.unchanged;
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    db.write_news(batch, &m.news, &m.news_links).await?;
    let path: Vec<(NaiveDate, String)> = m
        .regime_path
        .iter()
        .map(|(d, r)| (*d, r.as_str().to_owned()))
        .collect();
    db.write_regime_path(market, seed, &path).await?;
    Ok(total)
}

/// Loads a generated market over `sessions` and records the load in the ingest log (as
/// an import would), returning the write summary and the batch id.
///
/// # Errors
/// Storage failures.
pub(super) async fn load_recorded(
    db: &HistoricalDb,
    m: &SyntheticMarket,
    market: &MarketId,
    seed: u64,
    sessions: &[NaiveDate],
) -> anyhow::Result<(PriceWriteSummary, String)> {
    let (first, last) = match (sessions.first(), sessions.last()) {
        (Some(a), Some(b)) => (*a, *b),
        _ => return Err(anyhow!("a synthetic market needs at least one session")),
    };
    prometheus::ingest::provenance::ensure_synthetic_allowed(db).await?;
    let instruments = m.instruments.len();
    let batch = batch_id(
        "synthetic",
        &format!("{market}/{seed}/{instruments}/{first}/{last}"),
        b"",
    );
    let clock = SystemClock;
    let began = clock.now();
    let written = load(db, m, market, seed, &batch).await?;
    db.record_batch(
        &IngestBatch {
            batch_id: batch.clone(),
            source: "synthetic".into(),
            file: format!("synthetic:{market}:seed={seed}:instruments={instruments}"),
            target: market.to_string(),
            archive_sha256: None,
            rows_ok: written.inserted + written.updated + written.unchanged,
            rows_rejected: 0,
            started_at: began,
            finished_at: Some(clock.now()),
        },
        &[],
    )
    .await?;
    Ok((written, batch))
}

/// Makes the demo database's daily ingest the synthetic feed that continues the generated
/// market (same seed, size and first session), so `pv2 run` and the daemon keep publishing
/// its sessions there. The shipped ingest config reads the inbox: a database of real data
/// never receives invented prices.
async fn activate_synthetic_feed(
    stores: &Stores,
    d: &DemoConfig,
    start: NaiveDate,
) -> anyhow::Result<()> {
    let config = DailyIngestConfig {
        source: DailySource::Synthetic,
        synthetic: SyntheticSourceConfig {
            market: d.market.clone(),
            instruments: d.instruments,
            seed: d.seed,
            history_start: start.to_string(),
        },
        ..DailyIngestConfig::default()
    };
    let id = config.config_id();
    let runtime = &stores.runtime;
    let active = runtime.active_config(DailyIngestConfig::ENGINE).await?;
    if active.is_none_or(|a| a.config_id != id) {
        runtime
            .activate_config(
                DailyIngestConfig::ENGINE,
                &id,
                &config.canonical_body(),
                "demo",
                "pv2 demo: the daily ingest continues the synthetic market",
                SystemClock.now(),
            )
            .await
            .context("activating the synthetic feed for the demo database")?;
    }
    Ok(())
}

/// Runs `pv2 demo`.
///
/// # Errors
/// Invalid settings, storage failures.
pub async fn run(ctx: &Context, args: &DemoArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (d, end) = settings(ctx, args)?;
    let start =
        NaiveDate::from_ymd_opt(end.year() - d.years as i32, end.month(), end.day().min(28))
            .ok_or_else(|| anyhow!("demo.years {} reaches before year 1", d.years))?
            .succ_opt()
            .unwrap_or(end);
    let sessions = weekdays(start, end);
    let market = MarketId::new(&d.market);
    if !ctx.markets.markets.iter().any(|m| m.id == d.market) {
        return Err(anyhow!("demo.market `{}` is not in markets.toml", d.market));
    }
    let params = SyntheticMarketParams::new(d.instruments, d.seed, market.clone()).check()?;
    let t = Instant::now();
    let generated = {
        let sessions = sessions.clone();
        tokio::task::spawn_blocking(move || generate(&params, &sessions))
            .await
            .context("generator task")?
    };
    let t_generate = t.elapsed();

    let stores = ctx.open_stores().await?;
    let db = &stores.historical;
    let t = Instant::now();
    let (written, batch) = load_recorded(db, &generated, &market, d.seed, &sessions).await?;
    activate_synthetic_feed(&stores, &d, start).await?;
    let t_load = t.elapsed();
    let rows = written.inserted + written.updated + written.unchanged;
    let t = Instant::now();
    let derived = derive_marked(ctx, db, &RunId::new(format!("demo-{batch}"))).await?;
    let t_derive = t.elapsed();

    let t = Instant::now();
    let reps = super::demo_represent::run(ctx, &stores, &market, end, d.encode_sessions).await?;
    let t_represent = t.elapsed();

    // The backtests start after a year of history (the universe's minimum history).
    let t = Instant::now();
    let bt_from = sessions.get(WARM_UP_SESSIONS).copied().unwrap_or(start);
    let decisions = super::demo_decide::run(ctx, &market, bt_from, end).await?;
    let t_backtest = t.elapsed();
    let t = Instant::now();
    let kronos = super::demo_kronos::run(ctx, &stores, &market, end).await?;
    let t_kronos = t.elapsed();

    let paper = paper_account(&stores, &market).await?;
    let factor_id = FactorMembership::market_factor(market.as_str());
    let factor: BTreeMap<NaiveDate, f64> = db
        .factor(&factor_id, date_floor(), end)
        .await?
        .into_iter()
        .map(|f| (f.trade_date, f.value))
        .collect();
    let stats = regime_stats(&generated, &factor);
    let news = db.news_count().await?;
    let stored_rows = db.price_row_count().await?;
    let s = &ctx.app.storage;
    match args.format {
        OutputFormat::Json => {
            let regimes: BTreeMap<&str, _> = stats
                .iter()
                .map(|(r, s)| (r.as_str(), json!({"share": s.share, "episodes": s.episodes, "market_ann_return": s.ann_return, "market_ann_vol": s.ann_vol})))
                .collect();
            println!(
                "{}",
                json!({
                    "market": market.as_str(), "seed": d.seed, "instruments": d.instruments,
                    "sessions": sessions.len(), "from": start.to_string(), "to": end.to_string(),
                    "price_rows": {"inserted": written.inserted, "updated": written.updated, "unchanged": written.unchanged, "stored_total": stored_rows},
                    "news_articles": generated.news.len(), "news_stored_total": news,
                    "regimes": regimes,
                    "derived": {"instruments": derived.instruments, "returns": derived.returns, "volatility": derived.volatility, "factor_values": derived.factor_values},
                    "representations": reps.json(),
                    "decisions": decisions.json(),
                    "kronos": kronos.json(),
                    "paper_account": paper,
                    "seconds": {"generate": t_generate.as_secs_f64(), "load": t_load.as_secs_f64(), "derive": t_derive.as_secs_f64(), "daily_dags": t_represent.as_secs_f64(), "backtests": t_backtest.as_secs_f64(), "kronos": t_kronos.as_secs_f64(), "total": started.elapsed().as_secs_f64()},
                })
            );
        }
        OutputFormat::Text => {
            println!(
                "Prometheus v2 demo — synthetic market {market}, seed {}",
                d.seed
            );
            println!(
                "  instruments     {} in {} sectors",
                d.instruments,
                params_sectors(&generated)
            );
            println!(
                "  sessions        {} ({} … {}, weekdays)",
                sessions.len(),
                start,
                end
            );
            println!(
                "  price rows      {rows} ({} new, {} updated, {} unchanged); {stored_rows} stored in total",
                written.inserted, written.updated, written.unchanged
            );
            println!(
                "  news articles   {} ({news} stored in total)",
                generated.news.len()
            );
            println!("  hidden regimes and the stored market factor {factor_id} in each:");
            for (r, s) in &stats {
                println!(
                    "    {:<9} {:>5.1}% of days, {:>3} episodes, market {:>+7.1}%/yr, vol {:>5.1}%",
                    r.as_str(),
                    s.share * 100.0,
                    s.episodes,
                    s.ann_return * 100.0,
                    s.ann_vol * 100.0
                );
            }
            println!("  derived         {}", describe(&derived));
            reps.print();
            decisions.print();
            kronos.print();
            if let Some(a) = &paper {
                println!(
                    "  paper account   {}/{}: {} sessions {} … {}, equity {:.0} ({:+.2}%), costs {:.0}, {} positions; orders {} (pv2 show orders|fills|positions|pnl)",
                    a["account"].as_str().unwrap_or_default(),
                    a["market"].as_str().unwrap_or_default(),
                    a["sessions"],
                    a["from"].as_str().unwrap_or_default(),
                    a["to"].as_str().unwrap_or_default(),
                    a["equity"].as_f64().unwrap_or_default(),
                    100.0 * a["return"].as_f64().unwrap_or_default(),
                    a["costs"].as_f64().unwrap_or_default(),
                    a["positions"],
                    a["orders_by_state"]
                        .as_object()
                        .map(|m| m
                            .iter()
                            .map(|(k, v)| format!("{v} {}", k.to_lowercase()))
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
            println!(
                "  databases       {} · {}",
                redact_url(&s.historical_db),
                redact_url(&s.runtime_db)
            );
            println!(
                "  time            generate {:.1}s, load {:.1}s, derive {:.1}s, daily DAGs {:.1}s, backtests {:.1}s, kronos {:.1}s, total {:.1}s",
                t_generate.as_secs_f64(),
                t_load.as_secs_f64(),
                t_derive.as_secs_f64(),
                t_represent.as_secs_f64(),
                t_backtest.as_secs_f64(),
                t_kronos.as_secs_f64(),
                started.elapsed().as_secs_f64()
            );
        }
    }
    stores.close().await;
    Ok(())
}

fn params_sectors(m: &SyntheticMarket) -> usize {
    let mut s: Vec<&str> = m.traits.iter().map(|t| t.sector.as_str()).collect();
    s.sort_unstable();
    s.dedup();
    s.len()
}

/// The paper account the daily runs traded in `market`: its sessions, equity, costs,
/// positions and orders by state (`None` when the execution job never ran).
async fn paper_account(
    stores: &prometheus::store::Stores,
    market: &MarketId,
) -> anyhow::Result<Option<serde_json::Value>> {
    use prometheus::store::ExecutionStore;
    let r = &stores.runtime;
    let Some(key) = r
        .accounts()
        .await?
        .into_iter()
        .find(|k| k.market_id == market.as_str())
    else {
        return Ok(None);
    };
    let (from, to) = (
        date_floor(),
        NaiveDate::from_ymd_opt(2200, 12, 31).unwrap_or(NaiveDate::MAX),
    );
    let days = r.account_days(&key, from, to).await?;
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return Ok(None);
    };
    let start = first.equity - first.pnl;
    let mut by_state: BTreeMap<&'static str, u64> = BTreeMap::new();
    for o in r.orders(&key, from, to).await? {
        *by_state.entry(o.state.as_str()).or_default() += 1;
    }
    let positions = r.positions(&key, last.as_of).await?.len();
    Ok(Some(json!({
        "account": key.account_id, "market": key.market_id, "sessions": days.len(),
        "from": first.as_of, "to": last.as_of, "equity": last.equity,
        "return": last.equity / start - 1.0,
        "costs": days.iter().map(|d| d.costs).sum::<f64>(),
        "positions": positions, "orders_by_state": by_state,
    })))
}

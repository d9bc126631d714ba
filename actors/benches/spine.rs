//! Criterion benchmarks of the actor spine:
//! - typed messages per second along one actor → actor edge (`PanelUpdated` into the real
//!   derived-data actor), target ≥ 1 M/s;
//! - orchestrator overhead per job: DAG runs of no-op jobs, including dispatch, result
//!   handling and the durable run record on SQLite, target ≤ 1 ms.

use actix::prelude::*;
use chrono::{Days, NaiveDate};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prometheus::domain::{Clock, MarketId, PanelUpdated, RunId};
use prometheus_actors::clock::SystemClock;
use prometheus_actors::orchestrator::{Submit, WaitRun};
use prometheus_actors::spine::edge::Edge;
use prometheus_actors::spine::faults::FaultPlan;
use prometheus_actors::spine::job_actor::Status;
use prometheus_actors::spine::system::Spine;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Sends `n` messages to a recipient from inside an actor.
struct Pump {
    to: Recipient<Edge<PanelUpdated>>,
    msg: PanelUpdated,
}

impl Actor for Pump {
    type Context = Context<Self>;
}

struct Go(u64);

impl Message for Go {
    type Result = ();
}

impl Handler<Go> for Pump {
    type Result = ();
    fn handle(&mut self, go: Go, _ctx: &mut Context<Self>) {
        for _ in 0..go.0 {
            self.to.do_send(Edge(self.msg.clone()));
        }
    }
}

fn spine(dir: &Path) -> (actix::SystemRunner, Spine) {
    let cfg = dir.join("config");
    std::fs::create_dir_all(cfg.join("engines")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config");
    for f in [
        "markets.toml",
        "dags.toml",
        "engines/derived.toml",
        "engines/ingest.toml",
        "engines/noop.toml",
    ] {
        std::fs::copy(repo.join(f), cfg.join(f)).unwrap();
    }
    std::fs::write(
        cfg.join("default.toml"),
        format!(
            "[storage]\nhistorical_db = \"sqlite://{0}/h.db\"\nruntime_db = \"sqlite://{0}/r.db\"\n[daemon]\nmax_concurrent_jobs = 8\n",
            dir.display()
        ),
    )
    .unwrap();
    let global = prometheus_actors::cli::GlobalArgs {
        config: Some(cfg),
        historical_db: None,
        runtime_db: None,
        log_format: prometheus_actors::cli::LogFormat::Text,
        faults: None,
    };
    let ctx = prometheus_actors::context::Context::load(&global).unwrap();
    let sys = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
    });
    let spine = sys.block_on(async {
        let stores = ctx.open_stores().await.unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Spine::start(&ctx, stores, FaultPlan::default(), clock)
            .await
            .unwrap()
    });
    (sys, spine)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let (sys, spine) = spine(dir.path());
    let msg = PanelUpdated {
        run_id: RunId::from("bench"),
        market: MarketId::from("US_EQ"),
        as_of: NaiveDate::from_ymd_opt(2024, 1, 2).unwrap(),
        instruments: Vec::new(),
        rows_changed: 0,
        articles: 0,
    };
    let derived = spine.actors.derived.clone();
    let pump = sys.block_on(async {
        Pump {
            to: derived.clone().recipient(),
            msg,
        }
        .start()
    });

    let mut g = c.benchmark_group("spine");
    const N: u64 = 100_000;
    g.throughput(Throughput::Elements(N));
    g.sample_size(20);
    g.bench_function("edge PanelUpdated ingest->derived (messages)", |b| {
        b.iter_custom(|iters| {
            sys.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    pump.send(Go(N)).await.unwrap();
                    // Status is answered after every message queued before it.
                    derived.send(Status).await.unwrap();
                }
                t.elapsed()
            })
        });
    });

    let mut day = 0u64;
    g.throughput(Throughput::Elements(2));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("orchestrator per drill run of 2 no-op jobs (jobs)", |b| {
        b.iter_custom(|iters| {
            sys.block_on(async {
                let t = Instant::now();
                for _ in 0..iters {
                    day += 1;
                    let date = NaiveDate::from_ymd_opt(2000, 1, 1)
                        .unwrap()
                        .checked_add_days(Days::new(day))
                        .unwrap();
                    let submit = Submit {
                        dag_id: "drill".into(),
                        market: MarketId::from("US_EQ"),
                        as_of: date,
                        trigger: "bench".into(),
                        rerun: false,
                        run_key: None,
                        stands_at: None,
                    };
                    let s = spine.orchestrator.send(submit).await.unwrap().unwrap();
                    let rx = spine
                        .orchestrator
                        .send(WaitRun(s.run_id))
                        .await
                        .unwrap()
                        .unwrap();
                    assert_eq!(rx.await.unwrap().state.as_str(), "SUCCEEDED");
                }
                t.elapsed()
            })
        });
    });
    g.finish();
    sys.block_on(spine.shutdown(Duration::from_secs(5)));
}

criterion_group!(benches, bench);
criterion_main!(benches);

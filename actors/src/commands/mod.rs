//! One module per `pv2` command; [`run`] dispatches.

mod actors;
mod backfill;
pub(crate) mod backtest;
mod bench_dag;
mod bench_gmm;
mod bench_ingest;
mod bench_kronos;
mod bench_minilm;
pub(crate) mod calendar;
mod config;
mod daemon;
mod demo;
mod demo_decide;
mod demo_kronos;
mod demo_represent;
mod derive;
mod drill;
mod embed;
mod export;
mod import;
mod init;
mod kronos;
mod percent;
mod run;
mod runs;
mod show;
pub(crate) mod show_decisions;
pub(crate) mod show_ledger;
pub(crate) mod show_timeline;
mod trading;

use crate::cli::{
    ActorsCommand, BenchCommand, CalendarCommand, Cli, Command, ConfigCommand, DrillCommand,
    EmbedCommand,
};
use crate::context::Context;
use crate::spine::faults::FaultPlan;
use prometheus::domain::TradingMode;

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command reports; `main` prints it as one line and exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Writing the defaults out needs no configuration to load.
    if let Command::Config {
        what: ConfigCommand::Init { dir },
    } = &cli.command
    {
        return config::init(dir);
    }
    let ctx = Context::load(&cli.global)?;
    if ctx.app.storage.share_one_cpu {
        match crate::affinity::share_one_cpu() {
            Ok(cpu) => {
                tracing::debug!(?cpu, "waiting threads share one CPU");
                prometheus::store::on_checkpointer_start(crate::affinity::widen_for_compute);
            }
            Err(e) => tracing::warn!(error = %e, "threads left on every CPU"),
        }
    }
    // A drill takes `--faults` as what to drill (`all` or specs), not as faults of its own
    // process.
    let faults = match &cli.command {
        Command::Drill { .. } => FaultPlan::default(),
        _ => FaultPlan::parse(
            cli.global.faults.as_deref().unwrap_or(""),
            crate::spine::ACTOR_NAMES,
        )
        .map_err(anyhow::Error::msg)?,
    };
    match cli.command {
        Command::Daemon { listen } => daemon::run(&ctx, listen, faults).await,
        Command::Run {
            market,
            date,
            dag,
            rerun,
        } => {
            run::run(
                &ctx,
                run::RunArgs {
                    market,
                    date,
                    dag,
                    rerun,
                },
                faults,
            )
            .await
        }
        Command::Backfill(args) => backfill::run(&ctx, &args, faults).await,
        Command::Backtest(args) => backtest::run(&ctx, &args, faults).await,
        Command::Calendar {
            what:
                CalendarCommand::Sessions {
                    market,
                    from,
                    to,
                    format,
                },
        } => calendar::sessions(&ctx, &market, from, to, format),
        Command::Calendar {
            what: CalendarCommand::State { market, at, format },
        } => calendar::state(&ctx, &market, at, format),
        Command::Calendar {
            what: CalendarCommand::Plan { from, to, format },
        } => calendar::plan(&ctx, from, to, format),
        Command::Runs { last, format } => runs::run(&ctx, last, format).await,
        Command::Actors { what: None, format } => actors::list(&ctx, format).await,
        Command::Actors {
            what: Some(ActorsCommand::Reset { name }),
            format,
        } => actors::reset(&ctx, &name, format).await,
        Command::Drill {
            what: DrillCommand::Chaos(args),
        } => drill::chaos_command(&ctx, &args, cli.global.faults.as_deref()).await,
        Command::Show(args) => show::run(&ctx, &args).await,
        Command::Halt(a) => trading::switch(&ctx, TradingMode::Halted, &a).await,
        Command::ReduceOnly(a) => trading::switch(&ctx, TradingMode::ReduceOnly, &a).await,
        Command::Flatten(a) => trading::switch(&ctx, TradingMode::Flatten, &a).await,
        Command::Resume(a) => trading::switch(&ctx, TradingMode::Active, &a).await,
        Command::Trading { last, format } => trading::status(&ctx, last, format).await,
        Command::Kronos { what } => kronos::run(&ctx, what).await,
        Command::Config {
            what: ConfigCommand::Show { engine },
        } => config::show(&ctx, &engine).await,
        Command::Config {
            what: ConfigCommand::History { engine },
        } => config::history(&ctx, &engine).await,
        Command::Config {
            what:
                ConfigCommand::Apply {
                    engine,
                    file,
                    loosen_limits,
                },
        } => config::apply(&ctx, &engine, &file, loosen_limits.as_deref()).await,
        Command::Config {
            what: ConfigCommand::Init { dir },
        } => config::init(&dir),
        Command::Embed {
            what:
                EmbedCommand::Text {
                    model,
                    models_dir,
                    threads,
                    format,
                    sentences,
                },
        } => embed::text(&ctx, model, models_dir, threads, format, sentences),
        Command::Init => init::run(&ctx).await,
        Command::Import { what } => import::run(&ctx, what).await,
        Command::Derive => derive::run(&ctx).await,
        Command::Export(args) => export::run(&ctx, &args).await,
        Command::Demo(args) => demo::run(&ctx, &args).await,
        Command::Bench {
            what: BenchCommand::Ingest(args),
        } => bench_ingest::run(&ctx, &args).await,
        Command::Bench {
            what: BenchCommand::Minilm(args),
        } => bench_minilm::run(&args),
        Command::Bench {
            what: BenchCommand::Gmm(args),
        } => bench_gmm::run(&args),
        Command::Bench {
            what: BenchCommand::Dag(args),
        } => bench_dag::run(&ctx, &args).await,
        Command::Bench {
            what: BenchCommand::Kronos(args),
        } => bench_kronos::run(&ctx, &args).await,
    }
}

//! One module per `pv2` command; [`run`] dispatches.

mod bench_ingest;
mod demo;
mod derive;
mod import;
mod init;

use crate::cli::{BenchCommand, Cli, Command};
use crate::context::Context;

/// Runs the parsed command line.
///
/// # Errors
/// Whatever the command reports; `main` prints it as one line and exits non-zero.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Context::load(&cli.global)?;
    match cli.command {
        Command::Init => init::run(&ctx).await,
        Command::Import { what } => import::run(&ctx, what).await,
        Command::Derive => derive::run(&ctx).await,
        Command::Demo(args) => demo::run(&ctx, &args).await,
        Command::Bench {
            what: BenchCommand::Ingest(args),
        } => bench_ingest::run(&ctx, &args).await,
    }
}

//! `pv2`, the Prometheus v2 command line. Parses arguments, sets up logging, runs the
//! command and turns any error into a one-line reason and a non-zero exit code.

use clap::Parser;
use prometheus_actors::cli::{Cli, LogFormat};
use prometheus_actors::commands;
use std::process::ExitCode;

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("PV2_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.global.log_format);
    // actix needs a System; it runs on a multi-threaded tokio runtime so blocking work and
    // database drivers get threads of their own.
    let system = actix::System::with_tokio_rt(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| {
                eprintln!("error: cannot start the async runtime: {e}");
                std::process::exit(1)
            })
    });
    match system.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

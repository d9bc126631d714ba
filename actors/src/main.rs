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

/// Panics become one log line (a closed stdout pipe ends the process quietly): in the actors they are supervised events (the actor restarts,
/// the attempt is retried), and a fire drill injects dozens of them; the backtrace is kept
/// for `PV2_LOG=debug`.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic payload".to_owned());
        // `pv2 show … | head`: the reader went away, which is how a pipe ends, not a
        // failure. `println!` reports it as this panic; end quietly, as cat and grep do.
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        tracing::error!(%location, %thread, "panic: {message}");
        tracing::debug!(
            backtrace = %std::backtrace::Backtrace::force_capture(),
            "panic backtrace"
        );
    }));
}

/// Whether `e` is, at bottom, a write to a closed pipe.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.downcast_ref::<csv::Error>().is_some_and(|ce| {
                matches!(ce.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::BrokenPipe)
            })
            || c.downcast_ref::<serde_json::Error>()
                .and_then(|je| je.io_error_kind())
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The process's allocator. The daemon's hot paths (decoding database rows, building engine
/// outputs, the writer's statements) allocate and free millions of small buffers; glibc's
/// allocator spent ~19% of a backfill's CPU in `malloc`/`free`/`malloc_consolidate`
/// (measured with `perf`, README "Performance"), mimalloc's thread-local free lists far less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Before any connection opens: SQLite's allocations go through mimalloc too.
    let sqlite_alloc = prometheus_sqlite_ext::use_mimalloc();
    let cli = Cli::parse();
    init_logging(cli.global.log_format);
    log_panics();
    if let Err(e) = sqlite_alloc {
        tracing::warn!(error = %e, "SQLite keeps its own allocator");
    }
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
        // The reader of our output went away (`| head`): how a pipe ends, not a failure.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

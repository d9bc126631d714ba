//! # Prometheus v2 — the actor shell and the `pv2` command line
//!
//! The core (`prometheus`) computes; this crate coordinates: it reads the clock, loads
//! configuration from disk and the environment, opens the databases, shows progress, and
//! (as the spine grows) runs the supervised actors.
//!
//! - [`cli`] — the command-line grammar; [`commands`] — one module per `pv2` command.
//! - [`context`] — configuration + stores for one command.
//! - [`spine`] — the supervised actors: the registry (the one list of actors), the job
//!   actor, supervision, dataflow edges, configuration at start and while running, fault
//!   injection, and starting/stopping it all; [`engines`] — the jobs the actors run.
//! - [`orchestrator`] — DAG runs: dispatch, retry policy, the durable run record.
//! - [`scheduler`] — market-state and cron activations on a real or simulated clock.
//! - [`daemon`] — the long-running process; [`monitor`] — its HTTP API and client.
//! - [`drill`] — the chaos drill: the day's chain with every fault, compared with a clean
//!   run on scratch copies of the databases.
//! - [`panel_cache`] — the in-memory price panels the engines read, checked before use.
//! - [`backtest`] — strategies through the same actors on a simulated clock, then the
//!   simulated broker and metrics.
//! - [`clock`] — the system clock handed to the core; [`progress`] — progress bars;
//!   [`affinity`] — the waiting threads share one CPU, computation gets them all.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod affinity;
pub mod backtest;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod context;
pub mod daemon;
pub mod drill;
pub mod engines;
pub mod kronos;
pub mod monitor;
pub mod orchestrator;
pub mod panel_cache;
pub mod progress;
pub mod scheduler;
pub mod spine;

//! # Prometheus v2 — the actor shell and the `pv2` command line
//!
//! The core (`prometheus`) computes; this crate coordinates: it reads the clock, loads
//! configuration from disk and the environment, opens the databases, shows progress, and
//! (as the spine grows) runs the supervised actors.
//!
//! - [`cli`] — the command-line grammar.
//! - [`context`] — configuration + stores for one command.
//! - [`commands`] — one module per `pv2` command.
//! - [`clock`] — the system clock handed to the core.
//! - [`progress`] — progress bars on a terminal, silence elsewhere.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cli;
pub mod clock;
pub mod commands;
pub mod context;
pub mod progress;

//! # Prometheus v2 — the functional core
//!
//! This crate computes; the actor shell in `prometheus-actors` coordinates. Nothing here
//! reads the clock, holds global state or draws unseeded randomness: the same inputs, the
//! same configuration and the same seed give the same bytes.
//!
//! Responsibilities, from the bottom up:
//! - [`domain`] — identifiers and market-data types every other module speaks.
//! - [`config`] — typed configuration from `config/*.toml` with `PV2_…` overrides,
//!   validation that reports every bad key, and content-hashed engine configs (`config_id`).
//! - [`store`] — the historical and runtime databases behind storage traits, on SQLite
//!   (embedded default) and PostgreSQL (production), with point-in-time reads.
//! - [`dag`] — DAG definitions and the state machine of a run (ready jobs, retries,
//!   timeouts, blocking), executed by the orchestrator actor.
//! - [`files`] — the raw-file archive every import writes to first, and the Parquet
//!   catalog that `pv2 export` writes and backtests may read their prices from.
//! - [`ingest`] — parsers and validators for user files; bad rows are quarantined, good rows
//!   kept, and loads are idempotent.
//! - [`derived`] — returns, realised volatility and market/sector factors, computed
//!   incrementally for the dates that changed.
//! - [`features`] — point-in-time features of trailing windows of market data.
//! - [`encoders`] — text and market-window encoders that produce the vectors the engines
//!   compare.
//! - [`profiles`] — issuer snapshots with risk flags in [0,1].
//! - [`engines`] — the engines' core models: regime, stability & soft targets, scenarios,
//!   fragility, assessment, universe, portfolio & risk.
//! - [`backtest`] — strategies, the simulated broker and performance metrics.
//! - [`execution`] — the daemon's trading: pre-trade checks, the ledger's records and their
//!   reconciliation, broker adapters and statements, sharing the backtest broker's rules.
//! - [`synthetic_market`] — a seeded market generator with a hidden regime path, used by the
//!   demo, the benchmarks and the engine tests.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backtest;
pub mod calendar;
pub mod config;
pub mod dag;
pub mod derived;
pub mod domain;
pub mod encoders;
pub mod engines;
pub mod execution;
pub mod features;
pub mod files;
pub mod ingest;
pub mod kronos;
pub mod profiles;
pub mod store;
pub mod synthetic_market;

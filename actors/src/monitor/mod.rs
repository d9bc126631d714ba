//! The daemon's HTTP API — dashboard, metrics, live events, control — and the client the
//! CLI uses to talk to it.

pub mod access;
pub mod client;
mod dashboard;
pub mod freshness;
pub mod http;
mod kronos_api;
mod live;
mod metrics_api;
pub mod openapi;
pub mod telemetry;
pub mod token;
mod trading_api;
mod views;

pub use dashboard::{UI_DIR_ENV, ui_dirs};

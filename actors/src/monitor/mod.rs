//! The daemon's local HTTP API and the client the CLI uses to talk to it.

pub mod client;
pub mod http;
mod kronos_api;
pub mod token;

//! The spine: the supervised actors every engine runs in, and how they are started, wired
//! and stopped.
//!
//! - [`registry`] — the one list of job actors (names, start, controls, offline apply).
//! - [`job`] — what an engine implements ([`job::Job`]) and what an attempt gets
//!   ([`job::JobContext`]); [`job_actor`] — the supervised actor around a job, with its
//!   messages;
//!   [`job_error`] — how an attempt fails, with the class that decides its retry.
//! - [`supervision`] — restart budgets, life cycles and the actor event recorder.
//! - [`edge`] — the message types of the dataflow edges; [`dataflow`] — who sends what to
//!   whom.
//! - [`engine_config`] — the configuration an engine starts with; [`reconfig`] — validated
//!   changes while it runs.
//! - [`faults`] — fault injection for tests and drills; [`calendars`] — the markets' built
//!   exchange calendars, shared by an actor's attempts.
//! - [`system`] — starting the spine ([`Spine`]), routing control messages, shutdown.

pub mod calendars;
pub mod dataflow;
pub mod edge;
pub mod engine_config;
pub mod faults;
pub mod job;
pub mod job_actor;
pub mod job_error;
pub mod linger;
pub mod read_audit;
pub mod reconfig;
pub mod registry;
pub mod shadow;
pub mod supervision;
pub mod system;

pub use registry::ACTOR_NAMES;
pub use system::{Spine, SpineOptions};

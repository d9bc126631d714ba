//! The store conformance suite: every test body runs against SQLite and PostgreSQL through
//! the same storage traits (PostgreSQL from `PV2_TEST_PG_URL`, set by `scripts/test`).

mod harness;

mod catalog;
mod compare;

mod decisions;
mod derived;
mod embeddings;
mod execution;
mod fundamentals;
mod ingest;
mod kronos;
mod news;
mod point_in_time;
mod prices;
mod reference;
mod runtime;
mod schedule;
mod world_state;

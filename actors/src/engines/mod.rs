//! The jobs that run in [`crate::job_actor::JobActor`]s, one module per engine. Each issue
//! that adds an engine adds its module here and its edges in [`crate::edges`].

pub mod derived;
pub mod ingest;
pub mod noop;

/// Every actor that can run jobs, by name (DAG `actor` fields and fault specs use these).
pub const ACTOR_NAMES: &[&str] = &[
    ingest::IngestJob::NAME_STR,
    derived::DerivedJob::NAME_STR,
    noop::NoopJob::NAME_STR,
];

//! The jobs that run in [`crate::job_actor::JobActor`]s, one module per engine. Each issue
//! that adds an engine adds its module here and its edges in [`crate::edges`].

pub mod derived;
pub mod inbox;
pub mod ingest;
pub mod joint_encoder;
pub mod noop;
pub mod numeric_encoder;
pub mod profiles;
pub mod session_window;
pub mod text_encoder;

/// Every actor that can run jobs, by name (DAG `actor` fields and fault specs use these).
pub const ACTOR_NAMES: &[&str] = &[
    ingest::IngestJob::NAME_STR,
    derived::DerivedJob::NAME_STR,
    numeric_encoder::NumericEncoderJob::NAME_STR,
    text_encoder::TextEncoderJob::NAME_STR,
    profiles::ProfilesJob::NAME_STR,
    joint_encoder::JointEncoderJob::NAME_STR,
    noop::NoopJob::NAME_STR,
];

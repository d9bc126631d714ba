//! The jobs that run in [`crate::job_actor::JobActor`]s, one module per engine. Each issue
//! that adds an engine adds its module here and its edges in [`crate::edges`].

pub mod assessment;
pub mod blocking;
pub mod derived;
pub mod fragility;
pub mod inbox;
pub mod ingest;
pub mod joint_encoder;
pub mod noop;
pub mod numeric_encoder;
pub mod portfolio;
pub mod profiles;
pub mod regime;
pub mod scenarios;
pub mod session_window;
pub mod stability;
pub mod text_encoder;
pub mod universe;
pub mod weakness;

/// Every actor that can run jobs, by name (DAG `actor` fields and fault specs use these).
pub const ACTOR_NAMES: &[&str] = &[
    ingest::IngestJob::NAME_STR,
    derived::DerivedJob::NAME_STR,
    numeric_encoder::NumericEncoderJob::NAME_STR,
    text_encoder::TextEncoderJob::NAME_STR,
    profiles::ProfilesJob::NAME_STR,
    joint_encoder::JointEncoderJob::NAME_STR,
    regime::RegimeJob::NAME_STR,
    stability::StabilityJob::NAME_STR,
    scenarios::ScenariosJob::NAME_STR,
    fragility::FragilityJob::NAME_STR,
    assessment::AssessmentJob::NAME_STR,
    universe::UniverseJob::NAME_STR,
    portfolio::PortfolioJob::NAME_STR,
    noop::NoopJob::NAME_STR,
];

/// The `EncoderOutput` a representation job sends downstream after persisting its rows.
pub fn encoder_output(
    ctx: &crate::job_actor::JobContext,
    engine: &str,
    config_id: &prometheus::domain::ConfigId,
    model_id: Option<String>,
    entities: usize,
) -> prometheus::domain::EncoderOutput {
    prometheus::domain::EncoderOutput {
        run_id: ctx.run.run_id.clone(),
        engine: engine.to_owned(),
        market: ctx.run.market.clone(),
        as_of: ctx.run.as_of,
        config_id: config_id.clone(),
        model_id,
        entities,
    }
}

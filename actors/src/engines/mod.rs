//! The jobs that run in [`crate::spine::job_actor::JobActor`]s, one module per engine. An
//! engine is added here, in the registry ([`crate::spine::registry`]) and, when it has
//! edges, in [`crate::spine::dataflow`].

pub mod assessment;
pub mod derived;
pub mod execution;
pub mod fragility;
pub mod inbox;
pub mod ingest;
pub mod joint_encoder;
pub mod noop;
pub mod numeric_encoder;
pub mod portfolio;
pub mod profiles;
pub mod regime;
pub mod scenario_set;
pub mod scenarios;
pub mod session_window;
pub mod stability;
pub mod text_encoder;
pub mod universe;
pub mod weakness;

/// The `EncoderOutput` a representation job sends downstream after persisting its rows.
pub fn encoder_output(
    ctx: &crate::spine::job_actor::JobContext,
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

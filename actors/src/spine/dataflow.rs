//! The dataflow edges: which actor sends which typed message to whom. This module is the
//! one place that wires them, and reads like the diagram in DESIGN §1:
//!
//! ```text
//!  files/feeds ─► Ingest ──PanelUpdated──► Derived ──DerivedUpdated──► Numeric encoder ─┐
//!                   └──────PanelUpdated──► Text encoder ─────────────────EncoderOutput──┼─► Joint encoder
//!                 Derived ──DerivedUpdated──► Profiles ────────────────────EncoderOutput──┘
//!  Joint ──EncoderOutput──► Regime ──RegimeState──► Stability ──StabilityReport──►
//!        Scenarios ──ScenarioSet──► Fragility ──FragilityReport──► Assessment
//!        ──InstrumentScores──► Universe ──EffectiveUniverse──► Portfolio ──TargetPortfolio──►
//!        Execution ──orders──► broker adapter (paper broker / live outbox)
//!  Scenarios ──ScenarioSet──► Portfolio (scenario VaR/ES of the target)
//!  Regime, Stability, Fragility, Assessment, Universe, Portfolio ──(their outputs)──► Kronos
//!  Orchestrator ──RunJob──► every actor ──JobDone──► Orchestrator
//!  CLI / Kronos ──ApplyConfig──► any engine
//! ```
//!
//! Edges are a fast path, not the record: every message is a claim check for rows already
//! stored, so a job whose message was lost in a restart reads the same inputs from the store.

use super::edge::Subscribe;
use super::registry::EngineActors;

/// Wires the spine's dataflow edges between started actors.
pub fn wire(actors: &EngineActors) {
    // Ingest ──PanelUpdated──► Derived
    actors
        .ingest
        .do_send(Subscribe(actors.derived.clone().recipient()));
    // Ingest ──PanelUpdated──► Text encoder
    actors
        .ingest
        .do_send(Subscribe(actors.text_encoder.clone().recipient()));
    // Derived ──DerivedUpdated──► Numeric encoder, Profiles
    actors
        .derived
        .do_send(Subscribe(actors.numeric_encoder.clone().recipient()));
    actors
        .derived
        .do_send(Subscribe(actors.profiles.clone().recipient()));
    // Numeric, Text, Profiles ──EncoderOutput──► Joint encoder
    for upstream in [
        actors.numeric_encoder.clone().recipient::<Subscribe<_>>(),
        actors.text_encoder.clone().recipient(),
        actors.profiles.clone().recipient(),
    ] {
        upstream.do_send(Subscribe(actors.joint_encoder.clone().recipient()));
    }
    // Joint ──EncoderOutput──► Regime ──RegimeState──► Stability ──StabilityReport──►
    // Scenarios ──ScenarioSet──► Fragility
    actors
        .joint_encoder
        .do_send(Subscribe(actors.regime.clone().recipient()));
    actors
        .regime
        .do_send(Subscribe(actors.stability.clone().recipient()));
    actors
        .stability
        .do_send(Subscribe(actors.scenarios.clone().recipient()));
    actors
        .scenarios
        .do_send(Subscribe(actors.fragility.clone().recipient()));
    // Fragility ──FragilityReport──► Assessment ──InstrumentScores──► Universe
    // ──EffectiveUniverse──► Portfolio ◄──ScenarioSet── Scenarios
    actors
        .fragility
        .do_send(Subscribe(actors.assessment.clone().recipient()));
    actors
        .assessment
        .do_send(Subscribe(actors.universe.clone().recipient()));
    actors
        .universe
        .do_send(Subscribe(actors.portfolio.clone().recipient()));
    actors
        .scenarios
        .do_send(Subscribe(actors.portfolio.clone().recipient()));
    // Portfolio ──TargetPortfolio──► Execution
    actors
        .portfolio
        .do_send(Subscribe(actors.execution.clone().recipient()));
    // Every decision engine ──its output──► Kronos
    let kronos = &actors.kronos;
    actors.regime.do_send(Subscribe(kronos.clone().recipient()));
    actors
        .stability
        .do_send(Subscribe(kronos.clone().recipient()));
    actors
        .fragility
        .do_send(Subscribe(kronos.clone().recipient()));
    actors
        .assessment
        .do_send(Subscribe(kronos.clone().recipient()));
    actors
        .universe
        .do_send(Subscribe(kronos.clone().recipient()));
    actors
        .portfolio
        .do_send(Subscribe(kronos.clone().recipient()));
}

//! Candidate configs of the decision engines, made concrete: the active body each sweep
//! starts from, validation of a candidate as its engine's config, and the stored proposal
//! (PROPOSED, or REFUSED with every reason when it loosens a hard limit, strays outside the
//! declared bounds or is not a valid config).

use crate::context::Context;
use crate::spine::engine_config::resolve_config;
use chrono::{DateTime, Utc};
use prometheus::config::tunable::{HardLimit, Tunable};
use prometheus::config::{
    ConfigError, EngineConfig, Issues, canonical_json, content_hash, parse_engine_text,
};
use prometheus::domain::{Clock, ConfigId};
use prometheus::engines::{
    assessment::AssessmentConfig, fragility::FragilityConfig, portfolio::PortfolioConfig,
    regime::RegimeConfig, scenarios::ScenarioEngineConfig, stability::StabilityConfig,
    universe::UniverseConfig,
};
use prometheus::kronos::proposals::{Candidate, Origin, admissibility, diff};
use prometheus::store::{ProposalRecord, ProposalState, RuntimeDb};
use serde_json::Value;

/// The engines Kronos can propose configs for: the decision engines a strategy runs.
pub const ENGINES: [&str; 7] = prometheus::kronos::config::DECISION_ENGINES;

/// What Kronos needs to know about one engine's config type.
#[derive(Clone, Copy)]
pub struct EngineSpec {
    /// The engine.
    pub engine: &'static str,
    /// Its tunable keys.
    pub tunable: &'static [Tunable],
    /// Its hard limits.
    pub limits: &'static [HardLimit],
    check_json: fn(&Value) -> Checked,
    check_toml: fn(&str, &str) -> Checked,
}

/// A validated candidate: its config id and canonical body, or every reason it is not valid.
type Checked = Result<(ConfigId, Value), String>;

fn issues_text(issues: Issues) -> String {
    issues
        .into_pairs()
        .into_iter()
        .map(|(k, r)| format!("{k}: {r}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn check_json<C: EngineConfig>(body: &Value) -> Result<(ConfigId, Value), String> {
    let cfg: C = serde_json::from_value(body.clone())
        .map_err(|e| format!("not a valid {} config: {e}", C::ENGINE))?;
    let mut issues = Issues::new();
    cfg.validate(&mut issues);
    if !issues.is_empty() {
        return Err(issues_text(issues));
    }
    let canonical: Value =
        serde_json::from_str(&cfg.canonical_body()).map_err(|e| format!("canonical body: {e}"))?;
    Ok((cfg.config_id(), canonical))
}

fn check_toml<C: EngineConfig>(origin: &str, text: &str) -> Result<(ConfigId, Value), String> {
    match parse_engine_text::<C>(origin, text) {
        Ok(v) => {
            let canonical: Value = serde_json::from_str(&v.config.canonical_body())
                .map_err(|e| format!("canonical body: {e}"))?;
            Ok((v.config_id, canonical))
        }
        Err(ConfigError::Invalid(issues)) => Err(issues
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ")),
        Err(e) => Err(e.to_string()),
    }
}

fn spec_of<C: EngineConfig>() -> EngineSpec {
    EngineSpec {
        engine: C::ENGINE,
        tunable: C::TUNABLE,
        limits: C::HARD_LIMITS,
        check_json: check_json::<C>,
        check_toml: check_toml::<C>,
    }
}

/// The spec of `engine`, if Kronos proposes configs for it.
pub fn spec(engine: &str) -> Option<EngineSpec> {
    Some(match engine {
        "regime" => spec_of::<RegimeConfig>(),
        "stability" => spec_of::<StabilityConfig>(),
        "scenarios" => spec_of::<ScenarioEngineConfig>(),
        "fragility" => spec_of::<FragilityConfig>(),
        "assessment" => spec_of::<AssessmentConfig>(),
        "universe" => spec_of::<UniverseConfig>(),
        "portfolio" => spec_of::<PortfolioConfig>(),
        _ => return None,
    })
}

/// The error for an engine Kronos does not configure.
pub fn unknown_engine(engine: &str) -> String {
    format!(
        "Kronos proposes configs for {}, not `{engine}`",
        ENGINES.join(", ")
    )
}

impl EngineSpec {
    /// Validates a candidate body: its config id and canonical body.
    ///
    /// # Errors
    /// Every reason it is not a valid config of the engine.
    pub fn check(&self, body: &Value) -> Result<(ConfigId, Value), String> {
        (self.check_json)(body)
    }

    /// Validates a TOML text as the engine's config (`origin` names it in errors).
    ///
    /// # Errors
    /// Syntax errors, unknown keys, every failed validation.
    pub fn check_text(&self, origin: &str, text: &str) -> Result<(ConfigId, Value), String> {
        (self.check_toml)(origin, text)
    }
}

/// The engine's active config (activating the shipped file on first use, as a start
/// does): its id and canonical body.
///
/// # Errors
/// Unknown engine, a config that no longer parses, storage failures.
pub async fn active(
    source: &prometheus::config::ConfigSource,
    db: &RuntimeDb,
    clock: &dyn Clock,
    engine: &str,
) -> anyhow::Result<(ConfigId, Value)> {
    async fn of<C: EngineConfig>(
        source: &prometheus::config::ConfigSource,
        db: &RuntimeDb,
        clock: &dyn Clock,
    ) -> anyhow::Result<(ConfigId, Value)> {
        let v = resolve_config::<C>(source, db, clock).await?;
        Ok((
            v.config_id,
            serde_json::from_str(&v.config.canonical_body())?,
        ))
    }
    match engine {
        "regime" => of::<RegimeConfig>(source, db, clock).await,
        "stability" => of::<StabilityConfig>(source, db, clock).await,
        "scenarios" => of::<ScenarioEngineConfig>(source, db, clock).await,
        "fragility" => of::<FragilityConfig>(source, db, clock).await,
        "assessment" => of::<AssessmentConfig>(source, db, clock).await,
        "universe" => of::<UniverseConfig>(source, db, clock).await,
        "portfolio" => of::<PortfolioConfig>(source, db, clock).await,
        other => anyhow::bail!(unknown_engine(other)),
    }
}

/// The engine's active config from a CLI context.
///
/// # Errors
/// As [`active`].
pub async fn active_in(
    ctx: &Context,
    db: &RuntimeDb,
    engine: &str,
) -> anyhow::Result<(ConfigId, Value)> {
    active(&ctx.source, db, &crate::clock::SystemClock, engine).await
}

/// Who and where a proposal is stored for.
pub struct Provenance<'a> {
    /// The market its experiments run on.
    pub market: &'a str,
    /// The active config it departs from.
    pub base: &'a ConfigId,
    /// The active config's body.
    pub base_body: &'a Value,
    /// The search it belongs to.
    pub sweep_id: &'a str,
    /// Who proposes it.
    pub by: &'a str,
    /// When.
    pub at: DateTime<Utc>,
}

/// The stored form of `candidate`: PROPOSED, or REFUSED with every reason (an invalid
/// config, a loosened hard limit, a sweep step outside its bounds). Negative controls are
/// always PROPOSED: they exist to be refused by the gates.
///
/// # Errors
/// A candidate body that does not serialise (never for JSON values).
pub fn proposal(
    spec: &EngineSpec,
    candidate: &Candidate,
    p: &Provenance<'_>,
) -> anyhow::Result<ProposalRecord> {
    let is_control = matches!(
        candidate.origin,
        prometheus::kronos::proposals::Origin::Control { .. }
    );
    let (config_id, body, mut refusals) = match spec.check(&candidate.body) {
        Ok((id, canonical)) => (id, canonical, Vec::new()),
        Err(why) => (
            ConfigId::new(format!(
                "{}-invalid-{}",
                spec.engine,
                &content_hash(&canonical_json(&candidate.body)?)[..16]
            )),
            candidate.body.clone(),
            vec![format!("not a valid config: {why}")],
        ),
    };
    if !is_control {
        refusals.extend(admissibility(
            candidate,
            p.base_body,
            spec.tunable,
            spec.limits,
        ));
    }
    let changes = diff(p.base_body, &body);
    let origin = serde_json::to_string(&candidate.origin)?;
    // Per search: a search's controls and candidates are tried again in the next one.
    let id_text = canonical_json(&serde_json::json!({
        "engine": spec.engine, "market": p.market, "config": config_id.as_str(),
        "base": p.base.as_str(), "origin": candidate.origin.label(), "search": p.sweep_id,
    }))?;
    let describe = |c: &prometheus::kronos::proposals::Change| {
        let show = |v: &Option<Value>| v.as_ref().map_or_else(|| "absent".into(), Value::to_string);
        format!("{} {} → {}", c.key, show(&c.from), show(&c.to))
    };
    let (state, reason) = if refusals.is_empty() {
        (
            ProposalState::Proposed,
            if let Some(l) = match &candidate.origin {
                Origin::Control { control } => control.look_ahead(),
                _ => None,
            } {
                format!(
                    "the active config, its price reads shown {} sessions ahead: a config that reads the future",
                    l.sessions
                )
            } else if changes.is_empty() {
                "identical to the active config".to_owned()
            } else {
                changes.iter().map(describe).collect::<Vec<_>>().join(", ")
            },
        )
    } else {
        (ProposalState::Refused, refusals.join("; "))
    };
    Ok(ProposalRecord {
        proposal_id: format!("kp-{}", &content_hash(&id_text)[..12]),
        engine: spec.engine.to_owned(),
        market_id: p.market.to_owned(),
        config_id: config_id.to_string(),
        base_config_id: p.base.to_string(),
        body: canonical_json(&body)?,
        changes: serde_json::to_string(&changes)?,
        origin,
        sweep_id: p.sweep_id.to_owned(),
        state: state.as_str().to_owned(),
        reason,
        created_at: p.at,
        created_by: p.by.to_owned(),
        updated_at: p.at,
        gates: None,
    })
}

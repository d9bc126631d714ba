//! Auto-promotion: the `[promotion]` policy of Kronos's config, applied by the daemon.
//!
//! Off by default — then every promotion is a person's `approve`. When on, the daemon
//! promotes, for each engine and search, the passed *sweep* candidate with the best
//! in-sample Sharpe ratio (the smallest drop below the active config's, as its gate
//! measured it; the holdout is never used to choose), provided the config it was compared
//! with is still the engine's active one. Promotion is the same transaction as a person's
//! approval (state, audit, activation; refused while frozen), followed by `ApplyConfig` to
//! the running engine, so the next job uses it.

use crate::spine::system::Spine;
use chrono::{DateTime, Utc};
use prometheus::domain::ApplyConfig;
use prometheus::kronos::config::PromotionPolicy;
use prometheus::kronos::gates::GateResult;
use prometheus::kronos::proposals::Origin;
use prometheus::store::{ConfigStore, KronosStore, ProposalRecord, ProposalState};
use std::collections::BTreeMap;

/// Who the audit trail names for a promotion by policy.
pub const POLICY_ACTOR: &str = "kronos:policy";

/// How far the candidate's in-sample Sharpe ratio fell below the active config's (negative:
/// it rose), from its stored gate verdicts.
fn in_sample_drop(p: &ProposalRecord) -> Option<f64> {
    let gates: Vec<GateResult> = serde_json::from_str(p.gates.as_deref()?).ok()?;
    gates
        .iter()
        .find(|g| g.gate == "in_sample_sharpe")
        .map(|g| g.value)
        .filter(|v| v.is_finite())
}

/// The proposals the policy promotes among `passed`: sweeps of covered engines whose base
/// is still active (`active` maps an engine to its active config id), the best of each
/// engine and search, in a stable order.
pub fn choose<'a>(
    passed: &'a [ProposalRecord],
    policy: &PromotionPolicy,
    active: &BTreeMap<String, String>,
) -> Vec<&'a ProposalRecord> {
    let mut best: BTreeMap<(&str, &str), (&ProposalRecord, f64)> = BTreeMap::new();
    for p in passed {
        let sweep = serde_json::from_str::<Origin>(&p.origin).is_ok_and(|o| o == Origin::Sweep);
        if p.state != ProposalState::Passed.as_str()
            || !sweep
            || !policy.covers(&p.engine)
            || active.get(&p.engine) != Some(&p.base_config_id)
        {
            continue;
        }
        let Some(drop) = in_sample_drop(p) else {
            continue;
        };
        let key = (p.engine.as_str(), p.sweep_id.as_str());
        let better = best
            .get(&key)
            .is_none_or(|(b, d)| drop < *d || (drop == *d && p.proposal_id < b.proposal_id));
        if better {
            best.insert(key, (p, drop));
        }
    }
    // One promotion per engine per pass (an engine's active config is global): the search
    // that sorts last (ids end with the search's date).
    let mut per_engine: BTreeMap<&str, &ProposalRecord> = BTreeMap::new();
    for ((engine, _), (p, _)) in best {
        per_engine.insert(engine, p);
    }
    per_engine.into_values().collect()
}

/// Applies the policy once: promotes what [`choose`] picks and switches the running
/// engines. Returns the promoted proposal ids.
///
/// # Errors
/// Storage failures. A promotion refused (frozen, already moved on) or an engine that
/// refuses the config is logged and skipped.
pub async fn auto_promote(
    spine: &Spine,
    policy: &PromotionPolicy,
    at: DateTime<Utc>,
) -> anyhow::Result<Vec<String>> {
    if !policy.auto {
        return Ok(Vec::new());
    }
    let db = &spine.stores.runtime;
    let passed = db.proposals(Some(ProposalState::Passed)).await?;
    if passed.is_empty() {
        return Ok(Vec::new());
    }
    let mut active = BTreeMap::new();
    for p in &passed {
        if !active.contains_key(&p.engine)
            && let Some(c) = db.active_config(&p.engine).await?
        {
            active.insert(p.engine.clone(), c.config_id.as_str().to_owned());
        }
    }
    let mut promoted = Vec::new();
    for p in choose(&passed, policy, &active) {
        let reason = format!(
            "auto-promoted by the [promotion] policy: the best passed sweep of search {}",
            p.sweep_id
        );
        match db
            .promote_proposal(&p.proposal_id, POLICY_ACTOR, &reason, at)
            .await
        {
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(proposal = %p.proposal_id, error = %e, "auto-promotion refused");
                continue;
            }
        }
        let applied = spine
            .apply(ApplyConfig {
                engine: p.engine.clone(),
                body: p.body.clone(),
                requested_by: POLICY_ACTOR.to_owned(),
                loosen_limits: None,
            })
            .await;
        if let Err(e) = applied {
            tracing::error!(proposal = %p.proposal_id, error = %e, "auto-promoted, but the running engine refused the config; it is active from the next start");
        }
        tracing::info!(proposal = %p.proposal_id, engine = %p.engine, "auto-promoted");
        promoted.push(p.proposal_id.clone());
    }
    Ok(promoted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus::kronos::proposals::Control;

    fn proposal(
        id: &str,
        engine: &str,
        search: &str,
        origin: &Origin,
        drop: f64,
    ) -> ProposalRecord {
        let gate = GateResult {
            gate: "in_sample_sharpe".into(),
            passed: true,
            value: drop,
            threshold: 0.1,
            detail: String::new(),
        };
        ProposalRecord {
            proposal_id: id.into(),
            engine: engine.into(),
            market_id: "US_EQ".into(),
            config_id: format!("{engine}-{id}"),
            base_config_id: format!("{engine}-active"),
            body: "{}".into(),
            changes: "[]".into(),
            origin: serde_json::to_string(origin).unwrap(),
            sweep_id: search.into(),
            state: "PASSED".into(),
            reason: String::new(),
            created_at: DateTime::<Utc>::UNIX_EPOCH,
            created_by: "kronos".into(),
            updated_at: DateTime::<Utc>::UNIX_EPOCH,
            gates: Some(serde_json::to_string(&vec![gate]).unwrap()),
        }
    }

    fn active() -> BTreeMap<String, String> {
        ["portfolio", "regime"]
            .into_iter()
            .map(|e| (e.to_owned(), format!("{e}-active")))
            .collect()
    }

    #[test]
    fn the_policy_picks_the_best_sweep_per_engine_and_nothing_a_person_proposed() {
        let user = Origin::User { by: "ana".into() };
        let control = Origin::Control {
            control: Control::CapsRemoved,
        };
        let passed = vec![
            proposal("a", "portfolio", "s1", &Origin::Sweep, 0.05),
            proposal("b", "portfolio", "s1", &Origin::Sweep, -0.20),
            proposal("c", "portfolio", "s1", &user, -0.90),
            proposal("d", "portfolio", "s1", &control, -0.90),
            proposal("e", "regime", "s1", &Origin::Sweep, 0.0),
            proposal("f", "universe", "s1", &Origin::Sweep, -0.5),
        ];
        let all = PromotionPolicy {
            auto: true,
            engines: vec![],
        };
        let ids = |v: Vec<&ProposalRecord>| -> Vec<String> {
            v.into_iter().map(|p| p.proposal_id.clone()).collect()
        };
        // universe's base is not the active config: skipped.
        assert_eq!(ids(choose(&passed, &all, &active())), vec!["b", "e"]);
        let portfolio_only = PromotionPolicy {
            auto: true,
            engines: vec!["portfolio".into()],
        };
        assert_eq!(ids(choose(&passed, &portfolio_only, &active())), vec!["b"]);
        assert!(choose(&passed, &PromotionPolicy::default(), &active()).is_empty());
        let mut failed = passed.clone();
        for p in &mut failed {
            p.state = "FAILED".into();
        }
        assert!(choose(&failed, &all, &active()).is_empty());
    }
}

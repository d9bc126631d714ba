//! Kronos over HTTP: proposals, experiments and the audit trail to read; approve, reject,
//! revert, shadow, freeze and unfreeze with the control token. The identity recorded with a change
//! is the requester the API derives from the request (client name header and peer address),
//! never anything in the body; the body is only the reason.

use super::http::{ApiState, requester, unauthorised};
use crate::kronos::proposal_json;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;
use prometheus::domain::{ApplyConfig, ConfigId};
use prometheus::kronos::config::KronosConfig;
use prometheus::store::{
    ConfigStore, ExperimentStore, KronosStore, ProposalState, ShadowStore, TransitionError,
};
use serde::Deserialize;
use serde_json::{Value, json};

fn store_error(e: impl std::fmt::Display) -> HttpResponse {
    HttpResponse::InternalServerError().json(json!({"error": e.to_string()}))
}

fn transition_error(e: &TransitionError) -> HttpResponse {
    let status = match e {
        TransitionError::Unknown(_) => StatusCode::NOT_FOUND,
        TransitionError::NotAllowed { .. } | TransitionError::Frozen(_) => StatusCode::CONFLICT,
        TransitionError::MissingBase(_) | TransitionError::Store(_) => {
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    HttpResponse::build(status).json(json!({"error": e.to_string()}))
}

/// `?state=` of the proposals list.
#[derive(Deserialize)]
pub(super) struct StateQuery {
    state: Option<String>,
}

pub(super) async fn proposals(
    state: web::Data<ApiState>,
    q: web::Query<StateQuery>,
) -> HttpResponse {
    let filter = match q.state.as_deref().map(ProposalState::parse) {
        Some(None) => {
            return HttpResponse::BadRequest().json(json!({
                "error": format!("unknown state; use {}", ProposalState::ALL.map(ProposalState::as_str).join(", "))
            }));
        }
        Some(Some(s)) => Some(s),
        None => None,
    };
    match state.spine.stores.runtime.proposals(filter).await {
        Ok(ps) => HttpResponse::Ok().json(ps.iter().map(proposal_json).collect::<Vec<_>>()),
        Err(e) => store_error(e),
    }
}

pub(super) async fn proposal(state: web::Data<ApiState>, id: web::Path<String>) -> HttpResponse {
    let db = &state.spine.stores.runtime;
    match db.proposal(&id).await {
        Ok(Some(p)) => {
            let mut doc = proposal_json(&p);
            doc["body"] = serde_json::from_str(&p.body).unwrap_or(Value::Null);
            match db.kronos_audit(10_000).await {
                Ok(audit) => {
                    doc["audit"] = audit
                        .iter()
                        .filter(|a| a.proposal_id.as_deref() == Some(id.as_str()))
                        .map(|a| json!({"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail}))
                        .collect();
                    HttpResponse::Ok().json(doc)
                }
                Err(e) => store_error(e),
            }
        }
        Ok(None) => HttpResponse::NotFound().json(json!({"error": format!("no proposal `{id}`")})),
        Err(e) => store_error(e),
    }
}

pub(super) async fn experiments(state: web::Data<ApiState>) -> HttpResponse {
    match state.spine.stores.runtime.experiments(None).await {
        Ok(list) => HttpResponse::Ok().json(
            list.iter()
                .map(|e| {
                    json!({
                        "experiment_id": e.experiment_id, "search": e.sweep_id,
                        "proposal_id": e.proposal_id, "priority": e.priority, "state": e.state,
                        "attempts": e.attempts, "lease_owner": e.lease_owner,
                        "lease_expires": e.lease_expires, "error": e.error,
                        "created_at": e.created_at, "finished_at": e.finished_at,
                    })
                })
                .collect::<Vec<_>>(),
        ),
        Err(e) => store_error(e),
    }
}

pub(super) async fn audit(state: web::Data<ApiState>) -> HttpResponse {
    let db = &state.spine.stores.runtime;
    match (db.freeze_state().await, db.kronos_audit(500).await) {
        (Ok(f), Ok(rows)) => HttpResponse::Ok().json(json!({
            "frozen": f.frozen, "freeze_reason": f.reason, "frozen_by": f.by,
            "audit": rows.iter().map(|a| json!({
                "id": a.audit_id, "at": a.at, "actor": a.actor, "action": a.action,
                "proposal_id": a.proposal_id, "engine": a.engine, "detail": a.detail,
            })).collect::<Vec<_>>(),
        })),
        (Err(e), _) | (_, Err(e)) => store_error(e),
    }
}

/// The reason in a mutation's body (plain text), or `default`.
fn reason(body: &str, default: &str) -> String {
    let r: String = body.chars().filter(|c| !c.is_control()).take(500).collect();
    if r.trim().is_empty() {
        default.to_owned()
    } else {
        r.trim().to_owned()
    }
}

/// Switches the running engine to `body` (already active in the store).
async fn switch(state: &ApiState, engine: &str, body: String, who: &str) -> Result<Value, String> {
    let applied = state
        .spine
        .apply(ApplyConfig {
            engine: engine.to_owned(),
            body,
            requested_by: who.to_owned(),
            loosen_limits: None,
        })
        .await?;
    Ok(json!({"engine": applied.engine, "config_id": applied.config_id.as_str()}))
}

/// `?sessions=` of a shadow start.
#[derive(Deserialize)]
pub(super) struct ActQuery {
    sessions: Option<u32>,
}

/// Kronos's config as the store has it active (the daemon activated it at start).
async fn kronos_config(state: &ApiState) -> KronosConfig {
    match state.spine.stores.runtime.active_config("kronos").await {
        Ok(Some(c)) => serde_json::from_str(&c.body).unwrap_or_default(),
        _ => KronosConfig::default(),
    }
}

pub(super) async fn act(
    req: HttpRequest,
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    query: web::Query<ActQuery>,
    body: String,
) -> HttpResponse {
    if !state.access.may_change(&req) {
        return unauthorised();
    }
    let (id, action) = path.into_inner();
    let who = requester(&req);
    let db = &state.spine.stores.runtime;
    let now = Utc::now();
    let result = match action.as_str() {
        "shadow" => {
            let cfg = kronos_config(&state).await;
            let sessions = query.sessions.unwrap_or(cfg.shadow_sessions);
            if !(1..=252).contains(&sessions) {
                return HttpResponse::BadRequest().json(json!({
                    "error": format!("sessions = {sessions} must be 1 to 252")
                }));
            }
            db.start_shadow(
                &id,
                &cfg.decision_dag,
                sessions,
                &who,
                &reason(&body, "shadow before promotion"),
                now,
            )
            .await
        }
        "approve" => {
            db.promote_proposal(&id, &who, &reason(&body, "approved"), now)
                .await
        }
        "revert" => {
            db.revert_proposal(&id, &who, &reason(&body, "reverted"), now)
                .await
        }
        "reject" => {
            db.transition_proposal(
                &id,
                ProposalState::Rejected,
                None,
                &who,
                &reason(&body, "rejected"),
                now,
            )
            .await
        }
        other => {
            return HttpResponse::NotFound().json(json!({
                "error": format!("no action `{other}`; use approve, reject, revert or shadow")
            }));
        }
    };
    let before = match result {
        Ok(p) => p,
        Err(e) => return transition_error(&e),
    };
    // A shadow that starts or is turned down changes what the engine runs after each job
    // (a promotion reaches it with the config below).
    if (action == "shadow" || (action == "reject" && before.state == "SHADOW"))
        && let Err(e) = state.spine.refresh_shadows(&before.engine).await
    {
        return HttpResponse::build(StatusCode::UNPROCESSABLE_ENTITY).json(json!({
            "error": format!("{action} stored, but the running engine did not take it: {e}")
        }));
    }
    // The running engine switches to what is now active.
    let running = match action.as_str() {
        "approve" => Some(before.body.clone()),
        "revert" => match db
            .config(&ConfigId::new(before.base_config_id.clone()))
            .await
        {
            Ok(Some(c)) => Some(c.body),
            Ok(None) => None,
            Err(e) => return store_error(e),
        },
        _ => None,
    };
    let switched = match running {
        Some(body) => match switch(&state, &before.engine, body, &who).await {
            Ok(v) => v,
            Err(e) => {
                return HttpResponse::build(StatusCode::UNPROCESSABLE_ENTITY).json(json!({
                    "error": format!("{action} stored, but the running engine refused it: {e}")
                }));
            }
        },
        None => Value::Null,
    };
    match db.proposal(&id).await {
        Ok(Some(p)) => HttpResponse::Ok().json(json!({
            "proposal": proposal_json(&p), "was": before.state, "engine": switched,
        })),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(e) => store_error(e),
    }
}

pub(super) async fn freeze(
    req: HttpRequest,
    state: web::Data<ApiState>,
    what: web::Path<String>,
    body: String,
) -> HttpResponse {
    if !state.access.may_change(&req) {
        return unauthorised();
    }
    let frozen = match what.as_str() {
        "freeze" => true,
        "unfreeze" => false,
        _ => return HttpResponse::NotFound().finish(),
    };
    let why = reason(
        &body,
        if frozen {
            "frozen over HTTP"
        } else {
            "unfrozen over HTTP"
        },
    );
    match state
        .spine
        .stores
        .runtime
        .set_freeze(frozen, &requester(&req), &why, Utc::now())
        .await
    {
        Ok(()) => HttpResponse::Ok().json(json!({"frozen": frozen, "reason": why})),
        Err(e) => store_error(e),
    }
}

//! The kill switch over HTTP: `GET /trading` (the mode and its latest changes) and
//! `POST /trading/{halt|reduce-only|flatten|resume}` with the control token. The same
//! persisted record as `pv2 halt …`, stamped with the daemon's clock, so the execution
//! actor's check immediately before every order sees it at once.

use super::http::{ApiState, requester, unauthorised};
use actix_web::{HttpRequest, HttpResponse, web};
use prometheus::domain::TradingMode;
use prometheus::store::{TradingModeChange, TradingStore};
use serde_json::{Value, json};

fn change(c: &TradingModeChange) -> Value {
    json!({"mode": c.mode.as_str(), "previous": c.previous.as_str(), "at": c.at,
           "actor": c.actor, "reason": c.reason})
}

/// The mode a path segment names.
fn mode_of(action: &str) -> Option<TradingMode> {
    match action {
        "halt" => Some(TradingMode::Halted),
        "reduce-only" => Some(TradingMode::ReduceOnly),
        "flatten" => Some(TradingMode::Flatten),
        "resume" => Some(TradingMode::Active),
        _ => None,
    }
}

/// `GET /trading`.
pub(super) async fn status(state: web::Data<ApiState>) -> HttpResponse {
    let db = &state.spine.stores.runtime;
    match (db.trading_mode().await, db.trading_mode_changes(20).await) {
        (Ok((mode, _)), Ok(changes)) => HttpResponse::Ok().json(json!({
            "mode": mode.as_str(),
            "changes": changes.iter().map(change).collect::<Vec<_>>(),
        })),
        (Err(e), _) | (_, Err(e)) => {
            HttpResponse::InternalServerError().json(json!({"error": e.to_string()}))
        }
    }
}

/// `POST /trading/{action}`: the body (plain text, optional) is the reason.
pub(super) async fn switch(
    req: HttpRequest,
    state: web::Data<ApiState>,
    action: web::Path<String>,
    body: String,
) -> HttpResponse {
    if !state.access.may_change(&req) {
        return unauthorised();
    }
    let Some(mode) = mode_of(&action) else {
        return HttpResponse::NotFound().json(json!({
            "error": format!("no kill-switch action `{action}`; use halt, reduce-only, flatten or resume"),
        }));
    };
    let reason: String = body.chars().filter(|c| !c.is_control()).take(500).collect();
    let reason = if reason.trim().is_empty() {
        "set over HTTP, no reason given".to_owned()
    } else {
        reason.trim().to_owned()
    };
    let db = &state.spine.stores.runtime;
    match db
        .set_trading_mode(mode, &requester(&req), &reason, state.spine.events.now())
        .await
    {
        Ok(c) => HttpResponse::Ok().json(change(&c)),
        Err(e) => HttpResponse::InternalServerError().json(json!({"error": e.to_string()})),
    }
}

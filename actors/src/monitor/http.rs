//! The daemon's HTTP API, loopback by default: the dashboard and its reads, liveness,
//! readiness, metrics, live events, actor and run state, Kronos's proposals, experiments
//! and audit trail, and — with the control token — activating runs, applying
//! configurations, resetting a DEGRADED actor and Kronos's approve / reject / revert /
//! freeze / unfreeze. Reads need the read token when one is set ([`super::access`]). Every
//! change is recorded with who asked: the client's `X-PV2-Requested-By` header (the CLI
//! sends `cli:USER@HOST`) and the peer address. The routes are listed, with who may call
//! them, in [`super::openapi::ROUTES`] and served as `/openapi.json`.

use super::access::{Access, is_public};
use super::client::REQUESTED_BY_HEADER;
use super::{dashboard, freshness, kronos_api, live, metrics_api, openapi, trading_api, views};
use crate::orchestrator::{Snapshot, Submit, WaitRun};
use crate::spine::job_actor::ActorStatus;
use crate::spine::system::Spine;
use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::NaiveDate;
use prometheus::domain::{ApplyConfig, MarketId, RunStatus};
use prometheus::store::RunStore;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// What every route handler shares.
pub(super) struct ApiState {
    /// The running spine (its stores, actors, orchestrator).
    pub(super) spine: Arc<Spine>,
    /// The tokens reads and mutations need.
    pub(super) access: Access,
    daily_dag: String,
    /// How long after a close a session's prices are due.
    pub(super) data_due: chrono::Duration,
}

/// How the API is served, beside the spine it serves.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The tokens.
    pub access: Access,
    /// The DAG `POST /runs` activates when the request names none.
    pub daily_dag: String,
    /// How long after a close a session's prices are due (`daemon.data_due_minutes`).
    pub data_due: chrono::Duration,
    /// Where the dashboard's chart library is looked for ([`dashboard::ui_dirs`]).
    pub ui_dirs: Vec<std::path::PathBuf>,
}

/// Refuses reads without the read token (when one is set) before any handler runs.
async fn read_guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let allowed = is_public(req.path())
        || req
            .app_data::<web::Data<ApiState>>()
            .is_some_and(|s| s.access.may_read(req.request()));
    if allowed {
        next.call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body)
    } else {
        Ok(req.into_response(HttpResponse::Unauthorized().json(
            json!({"error": "missing or wrong read token (Authorization: Bearer …); set by daemon.read_token or PV2_READ_TOKEN"}),
        )))
    }
}

/// Who asked for a change, for the audit trail: the client's own name and its address.
pub(super) fn requester(req: &HttpRequest) -> String {
    let peer = req
        .peer_addr()
        .map_or_else(|| "unknown peer".to_owned(), |a| a.ip().to_string());
    let named = req
        .headers()
        .get(REQUESTED_BY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.chars()
                .filter(|c| !c.is_control())
                .take(128)
                .collect::<String>()
        })
        .filter(|v| !v.trim().is_empty());
    match named {
        Some(who) => format!("{} via http from {peer}", who.trim()),
        None => format!("http client at {peer}"),
    }
}

/// The answer to a mutation without the right token.
pub(super) fn unauthorised() -> HttpResponse {
    HttpResponse::Unauthorized()
        .json(json!({"error": "missing or wrong control token (Authorization: Bearer …)"}))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

async fn readyz(state: web::Data<ApiState>) -> HttpResponse {
    let snap = match state.spine.orchestrator.send(Snapshot).await {
        Ok(s) => s,
        Err(e) => {
            return HttpResponse::ServiceUnavailable()
                .json(json!({"ready": false, "reason": e.to_string()}));
        }
    };
    let store_ok = state.spine.stores.runtime.dag_runs(1).await.is_ok();
    let overdue: Vec<_> = state
        .spine
        .events
        .telemetry()
        .open_alerts()
        .into_iter()
        .filter(|a| a.kind == freshness::FRESHNESS)
        .collect();
    let ready = snap.accepting && store_ok && overdue.is_empty();
    let mut reasons: Vec<String> = Vec::new();
    if !snap.accepting {
        reasons.push("not accepting runs (draining)".into());
    }
    if !store_ok {
        reasons.push("the runtime database is unreachable".into());
    }
    reasons.extend(overdue.iter().map(|a| a.detail.clone()));
    let body = json!({
        "ready": ready,
        "reasons": reasons,
        "accepting_runs": snap.accepting,
        "runtime_db": if store_ok { "ok" } else { "unreachable" },
        "data_overdue": overdue.iter().map(|a| a.subject.clone()).collect::<Vec<_>>(),
        "running_jobs": snap.running_jobs,
        "active_runs": snap.active_runs,
        "degraded_actors": snap.degraded,
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

async fn actors(state: web::Data<ApiState>) -> HttpResponse {
    let list: Vec<_> = state
        .spine
        .statuses()
        .await
        .iter()
        .map(actor_json)
        .collect();
    HttpResponse::Ok().json(list)
}

/// One actor's supervision state, as `GET /actors` and `pv2 actors` show it.
pub fn actor_json(s: &ActorStatus) -> serde_json::Value {
    json!({
        "actor": s.name,
        "state": s.lifecycle.as_str(),
        "config_id": s.config_id.as_str(),
        "jobs": s.jobs,
        "in_flight": s.in_flight,
        "restarts": s.restarts,
        "recent_restarts": s.recent_restarts,
        "last_error": s.last_error.as_ref().map(|(at, e)| json!({"at": at, "error": e})),
    })
}

async fn reset_actor(
    req: HttpRequest,
    state: web::Data<ApiState>,
    name: web::Path<String>,
) -> HttpResponse {
    if !state.access.may_change(&req) {
        return unauthorised();
    }
    let name = name.into_inner();
    let by = requester(&req);
    match state.spine.reset(&name, &by).await {
        Ok(outcome) => HttpResponse::Ok().json(json!({
            "actor": name,
            "was": outcome.was.as_str(),
            "reset": outcome.changed,
            "requested_by": by,
        })),
        Err(e) => HttpResponse::NotFound().json(json!({"error": e})),
    }
}

#[derive(Deserialize)]
struct RunsQuery {
    last: Option<u32>,
}

async fn list_runs(state: web::Data<ApiState>, q: web::Query<RunsQuery>) -> HttpResponse {
    match state.spine.stores.runtime.dag_runs(q.last.unwrap_or(20)).await {
        Ok(runs) => HttpResponse::Ok().json(
            runs.iter()
                .map(|r| json!({"run_id": r.run_id, "dag": r.dag_id, "market": r.market_id, "as_of": r.as_of_date, "state": r.state.as_str(), "error": r.error}))
                .collect::<Vec<_>>(),
        ),
        Err(e) => HttpResponse::InternalServerError().json(json!({"error": e.to_string()})),
    }
}

#[derive(Deserialize)]
struct RunRequest {
    market: String,
    date: NaiveDate,
    dag: Option<String>,
    #[serde(default)]
    rerun: bool,
    #[serde(default)]
    wait: bool,
}

async fn submit_run(req: HttpRequest, state: web::Data<ApiState>, body: String) -> HttpResponse {
    if !state.access.may_change(&req) {
        return unauthorised();
    }
    let r: RunRequest = match serde_json::from_str(&body) {
        Ok(r) => r,
        Err(e) => {
            return HttpResponse::BadRequest()
                .json(json!({"error": format!("bad run request: {e}")}));
        }
    };
    let submit = Submit {
        dag_id: r.dag.unwrap_or_else(|| state.daily_dag.clone()),
        market: MarketId::new(&r.market),
        as_of: r.date,
        trigger: "http".into(),
        rerun: r.rerun,
        run_key: None,
        stands_at: None,
    };
    let submitted = match state.spine.orchestrator.send(submit).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return HttpResponse::UnprocessableEntity().json(json!({"error": e})),
        Err(e) => return HttpResponse::ServiceUnavailable().json(json!({"error": e.to_string()})),
    };
    if r.wait
        && submitted.finished.is_none()
        && let Ok(Some(rx)) = state
            .spine
            .orchestrator
            .send(WaitRun(submitted.run_id.clone()))
            .await
        && let Ok(summary) = rx.await
    {
        return HttpResponse::Ok()
            .json(json!({"run_id": summary.run_id, "state": summary.state.as_str()}));
    }
    let state = submitted.finished.unwrap_or(RunStatus::Running);
    HttpResponse::Ok().json(json!({"run_id": submitted.run_id, "state": state.as_str()}))
}

/// `?loosen_limits=` of a config change.
#[derive(Deserialize)]
struct ApplyQuery {
    loosen_limits: Option<String>,
}

async fn apply_config(
    req: HttpRequest,
    state: web::Data<ApiState>,
    engine: web::Path<String>,
    q: web::Query<ApplyQuery>,
    body: String,
) -> HttpResponse {
    if !state.access.may_change(&req) {
        return unauthorised();
    }
    let apply = ApplyConfig {
        engine: engine.into_inner(),
        body,
        requested_by: requester(&req),
        loosen_limits: q.into_inner().loosen_limits,
    };
    match state.spine.apply(apply).await {
        Ok(a) => HttpResponse::Ok().json(
            json!({"engine": a.engine, "config_id": a.config_id.as_str(), "changed": a.changed}),
        ),
        Err(e) => HttpResponse::build(StatusCode::UNPROCESSABLE_ENTITY).json(json!({"error": e})),
    }
}

async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi::document())
}

/// Starts the API server on `listen`; returns its handle (to stop it) once bound.
///
/// # Errors
/// The address cannot be bound, or is reachable from other hosts while reads need no token.
pub fn serve(listen: &str, spine: Arc<Spine>, opts: ServeOptions) -> anyhow::Result<ServerHandle> {
    super::access::check_listener(listen, opts.access.read.as_deref())
        .map_err(|e| anyhow::anyhow!(e))?;
    let charts = web::Data::new(dashboard::chart_library(&opts.ui_dirs));
    let state = web::Data::new(ApiState {
        spine,
        access: opts.access,
        daily_dag: opts.daily_dag,
        data_due: opts.data_due,
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(charts.clone())
            .wrap(from_fn(read_guard))
            .route("/", web::get().to(dashboard::index))
            .route("/assets/{file}", web::get().to(dashboard::asset))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics_api::metrics))
            .route("/alerts", web::get().to(metrics_api::alerts))
            .route("/events", web::get().to(live::events))
            .route("/openapi.json", web::get().to(openapi_json))
            .route("/actors", web::get().to(actors))
            .route("/runs", web::get().to(list_runs))
            .route("/runs", web::post().to(submit_run))
            .route("/config/{engine}", web::post().to(apply_config))
            .route("/actors/{name}/reset", web::post().to(reset_actor))
            .route("/trading", web::get().to(trading_api::status))
            .route("/trading/{action}", web::post().to(trading_api::switch))
            .route("/api/markets", web::get().to(views::markets))
            .route("/api/overview", web::get().to(views::overview))
            .route("/api/table/{what}", web::get().to(views::table))
            .route("/api/pipeline", web::get().to(views::pipeline))
            .route("/api/backtests", web::get().to(views::backtests))
            .route("/api/backtests/{id}", web::get().to(views::backtest))
            .route(
                "/api/configs/{engine}",
                web::get().to(views::config_history),
            )
            .route("/kronos/proposals", web::get().to(kronos_api::proposals))
            .route(
                "/kronos/proposals/{id}",
                web::get().to(kronos_api::proposal),
            )
            .route(
                "/kronos/proposals/{id}/{action}",
                web::post().to(kronos_api::act),
            )
            .route(
                "/kronos/experiments",
                web::get().to(kronos_api::experiments),
            )
            .route("/kronos/audit", web::get().to(kronos_api::audit))
            .route("/kronos/{what}", web::post().to(kronos_api::freeze))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(2)
    .bind(listen)
    .map_err(|e| anyhow::anyhow!("cannot listen on {listen}: {e}"))?
    .run();
    let handle = server.handle();
    actix::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok(handle)
}

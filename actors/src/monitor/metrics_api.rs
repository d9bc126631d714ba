//! `GET /metrics` (Prometheus text format) and `GET /alerts`: the counters the live feed
//! keeps, and the gauges read when scraped — runs and jobs in flight, each actor's queue and
//! state, each market's data freshness, Kronos's queue.

use super::freshness;
use super::http::ApiState;
use super::telemetry::{Gauges, MarketFreshness};
use crate::orchestrator::Snapshot;
use crate::spine::supervision::Lifecycle;
use actix_web::{HttpResponse, web};
use prometheus::store::{ExperimentStore, KronosStore};
use serde_json::json;

/// Every market's freshness on the daemon's clock now.
pub(super) async fn freshness_now(state: &ApiState) -> Result<Vec<MarketFreshness>, String> {
    let now = state.spine.events.now();
    freshness::check_all(&state.spine, now, state.data_due)
        .await
        .map_err(|e| e.to_string())
}

async fn gauges(state: &ApiState) -> Result<Gauges, String> {
    let snap = state
        .spine
        .orchestrator
        .send(Snapshot)
        .await
        .map_err(|e| e.to_string())?;
    let actors = state
        .spine
        .statuses()
        .await
        .iter()
        .map(|s| {
            (
                s.name.to_owned(),
                s.in_flight,
                s.lifecycle == Lifecycle::Degraded,
            )
        })
        .collect();
    let r = &state.spine.stores.runtime;
    let kronos_experiments = r.experiment_counts().await.map_err(|e| e.to_string())?;
    let kronos_proposals = r.proposal_counts().await.map_err(|e| e.to_string())?;
    Ok(Gauges {
        active_runs: snap.active_runs.len(),
        running_jobs: snap.running_jobs,
        actors,
        freshness: freshness_now(state).await?,
        kronos_experiments,
        kronos_proposals,
    })
}

pub(super) async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    match gauges(&state).await {
        Ok(g) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(state.spine.events.telemetry().render(&g)),
        Err(e) => HttpResponse::ServiceUnavailable().json(json!({"error": e})),
    }
}

pub(super) async fn alerts(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok().json(state.spine.events.telemetry().open_alerts())
}

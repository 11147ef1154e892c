//! `GET /healthz` (liveness), `GET /readyz` (readiness) and `GET /metrics` (Prometheus).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{AppState, Phase};
use crate::cache::CacheHealth;

/// 200 while the process serves.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// 200 `ready` or `degraded` (Redis down: the service still answers from connectors); 503
/// while starting or draining.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let cache = match state.cache.health().await {
        CacheHealth::InProcess => "in_process",
        CacheHealth::Up => "ok",
        CacheHealth::Down => "down",
    };
    let snapshot = state.registry.snapshot();
    let enabled = snapshot
        .entries()
        .iter()
        .filter(|e| e.instance.is_some())
        .count();
    let mut checks = json!({
        "cache": cache,
        "connectors": {"configured": snapshot.entries().len(), "enabled": enabled},
    });
    if cache == "down"
        && let Some(failure) = state.cache.failure()
    {
        checks["cache_error"] = json!(failure);
    }
    match state.phase() {
        Phase::Starting => {
            HttpResponse::ServiceUnavailable().json(json!({"status": "starting", "checks": checks}))
        }
        Phase::Draining => {
            HttpResponse::ServiceUnavailable().json(json!({"status": "draining", "checks": checks}))
        }
        Phase::Ready => {
            let status = if cache == "down" { "degraded" } else { "ready" };
            HttpResponse::Ok().json(json!({"status": status, "checks": checks}))
        }
    }
}

/// The Prometheus text exposition.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode())
}

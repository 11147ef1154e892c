//! `GET /healthz` (liveness), `GET /readyz` (readiness) and `GET /metrics` (Prometheus).

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AppState, Phase};
use crate::cache::CacheHealth;

/// 200 while the process serves.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "operations",
    summary = "Liveness: 200 while the process serves.",
    responses((status = 200, description = "Alive.", body = inline(Liveness))),
    security(),
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Liveness { status: "ok" })
}

/// The answer of `GET /healthz`.
#[derive(Serialize, ToSchema)]
struct Liveness {
    /// Always `ok`.
    status: &'static str,
}

/// 200 `ready` or `degraded` (Redis down: the service still answers from connectors); 503
/// while starting (also: until the suppression list is loaded) or draining.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "operations",
    summary = "Readiness: ready or degraded (Redis down); 503 while starting or draining.",
    responses(
        (status = 200, description = "Ready or degraded.", body = Readiness),
        (status = 503, description = "Starting (or the suppression list not loaded yet) or draining.", body = Readiness),
    ),
    security(),
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let cache = match state.cache.health().await {
        CacheHealth::InProcess => CacheCheck::InProcess,
        CacheHealth::Up => CacheCheck::Ok,
        CacheHealth::Down => CacheCheck::Down,
    };
    let snapshot = state.registry.snapshot();
    let enabled = snapshot
        .entries()
        .iter()
        .filter(|e| e.instance.is_some())
        .count();
    // A required connector that is enabled but failing its health checks, or whose circuit
    // is open: enrichments needing it fail, so the replica says it is degraded.
    let required_unhealthy: Vec<String> = snapshot
        .entries()
        .iter()
        .filter(|e| e.config.required && e.instance.is_some())
        .filter(|e| {
            e.stats.health().status == "unhealthy"
                || e.guard.breaker.state() == crate::resilience::CircuitState::Open
        })
        .map(|e| e.name.clone())
        .collect();
    let checks = ReadinessChecks {
        cache_error: if cache == CacheCheck::Down {
            state.cache.failure()
        } else {
            None
        },
        cache,
        connectors: ConnectorCounts {
            configured: snapshot.entries().len(),
            enabled,
        },
        required_unhealthy,
        suppressions: if state.suppressions.hasher().is_none() {
            SuppressionsCheck::Off
        } else if state.suppressions.is_loaded() {
            SuppressionsCheck::Loaded
        } else {
            SuppressionsCheck::Loading
        },
    };
    let (mut response, status) = match state.phase() {
        Phase::Starting => (
            HttpResponse::ServiceUnavailable(),
            ReadinessStatus::Starting,
        ),
        Phase::Draining => (
            HttpResponse::ServiceUnavailable(),
            ReadinessStatus::Draining,
        ),
        // Enrichment is refused until the suppression list is known.
        Phase::Ready if checks.suppressions == SuppressionsCheck::Loading => (
            HttpResponse::ServiceUnavailable(),
            ReadinessStatus::Starting,
        ),
        Phase::Ready
            if checks.cache == CacheCheck::Down || !checks.required_unhealthy.is_empty() =>
        {
            (HttpResponse::Ok(), ReadinessStatus::Degraded)
        }
        Phase::Ready => (HttpResponse::Ok(), ReadinessStatus::Ready),
    };
    response.json(Readiness { status, checks })
}

/// The answer of `GET /readyz`.
#[derive(Serialize, ToSchema)]
struct Readiness {
    #[schema(inline)]
    status: ReadinessStatus,
    #[schema(inline)]
    checks: ReadinessChecks,
}

/// `degraded`: ready, but the shared cache is down (answers still come from the connectors),
/// or a required connector is unhealthy (enrichments needing it fail).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum ReadinessStatus {
    Ready,
    Degraded,
    Starting,
    Draining,
}

/// What readiness was judged on.
#[derive(Serialize, ToSchema)]
struct ReadinessChecks {
    #[schema(inline)]
    cache: CacheCheck,
    /// Why the shared cache is down (only while it is).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    cache_error: Option<String>,
    #[schema(inline)]
    connectors: ConnectorCounts,
    #[schema(inline)]
    suppressions: SuppressionsCheck,
    /// Connectors configured `required: true` that fail their health checks or whose circuit
    /// is open (the replica is then `degraded`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(nullable = false)]
    required_unhealthy: Vec<String>,
}

/// The suppression list: `loaded`; `loading` (not read yet: Redis or `privacy.state_file`
/// could not be read, and enrichment is refused meanwhile); `off` without `privacy.hash_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum SuppressionsCheck {
    Off,
    Loaded,
    Loading,
}

/// The shared cache: `ok`, `down`, or `in_process` when no Redis is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum CacheCheck {
    InProcess,
    Ok,
    Down,
}

/// How many connectors are configured, and how many of them enabled.
#[derive(Serialize, ToSchema)]
struct ConnectorCounts {
    configured: usize,
    enabled: usize,
}

/// The Prometheus text exposition.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus text exposition.",
    responses((status = 200, description = "Metrics.", body = String, content_type = "text/plain")),
    security(),
)]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode())
}

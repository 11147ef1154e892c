//! `/v1/connectors`: the connector list and detail (API key), and the runtime lifecycle —
//! enable, disable, reload, discover (admin token).
//!
//! The answers are typed views ([`ConnectorView`], [`ConnectorDetail`]) so that the OpenAPI
//! document (`Connector`, `ConnectorDetail`) is derived from what is actually serialized.

use actix_web::{HttpResponse, web};
use enrichd_sdk::{Capability, Category, ConfigSchema, Identifier};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{
    AppState, Caller,
    auth::{AdminCaller, ApiCaller},
    error::ApiError,
    schemas::{ErrorResponse, FORBIDDEN, UNAUTHORIZED},
};
use crate::{
    config::CostConfig,
    connectors::{ConnectorEntry, DiscoverReport, Health, LifecycleError, Origin, Usage},
    resilience::CircuitState,
};

/// Every connector: what it is, whether enabled, health, circuit and usage.
#[utoipa::path(
    get,
    path = "/v1/connectors",
    operation_id = "listConnectors",
    tag = "connectors",
    summary = "Every connector: kind, category, version, enabled, health, circuit state, usage.",
    responses(
        (status = 200, description = "The connectors.", body = inline(ConnectorList)),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn list(_caller: ApiCaller, state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.registry.snapshot();
    let connectors = snapshot
        .entries()
        .iter()
        .map(|e| ConnectorView::of(e))
        .collect();
    HttpResponse::Ok().json(ConnectorList { connectors })
}

/// One connector in detail; sensitive settings are shown as `"***"`.
#[utoipa::path(
    get,
    path = "/v1/connectors/{name}",
    operation_id = "getConnector",
    tag = "connectors",
    summary = "One connector in detail; sensitive settings are shown as \"***\".",
    params(("name" = String, Path, description = "The connector's configured name.")),
    responses(
        (status = 200, description = "The connector.", body = ConnectorDetail),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = "No such connector.", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn detail(
    _caller: ApiCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.registry.snapshot();
    let entry = snapshot
        .get(&name)
        .ok_or_else(|| ApiError::ConnectorNotFound(name.to_string()))?;
    Ok(HttpResponse::Ok().json(ConnectorDetail::of(entry)))
}

/// Enable a connector on every replica, durably.
#[utoipa::path(
    post,
    path = "/v1/connectors/{name}/enable",
    operation_id = "enableConnector",
    tag = "connectors",
    summary = "Enable a connector on every replica, durably.",
    params(("name" = String, Path, description = "The connector's configured name.")),
    responses(LifecycleAnswers),
    security(("adminToken" = [])),
)]
pub async fn enable(
    AdminCaller(caller): AdminCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let done = state.lifecycle.set_enabled(&name, true).await;
    audited(&state, &caller, "connector.enable", &name, done).await
}

/// Disable a connector on every replica, durably.
#[utoipa::path(
    post,
    path = "/v1/connectors/{name}/disable",
    operation_id = "disableConnector",
    tag = "connectors",
    summary = "Disable a connector on every replica, durably.",
    params(("name" = String, Path, description = "The connector's configured name.")),
    responses(LifecycleAnswers),
    security(("adminToken" = [])),
)]
pub async fn disable(
    AdminCaller(caller): AdminCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let done = state.lifecycle.set_enabled(&name, false).await;
    audited(&state, &caller, "connector.disable", &name, done).await
}

/// Rebuild a connector's instance from its configuration.
#[utoipa::path(
    post,
    path = "/v1/connectors/{name}/reload",
    operation_id = "reloadConnector",
    tag = "connectors",
    summary = "Rebuild a connector's instance from its configuration.",
    params(("name" = String, Path, description = "The connector's configured name.")),
    responses(LifecycleAnswers),
    security(("adminToken" = [])),
)]
pub async fn reload(
    AdminCaller(caller): AdminCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let done = state.lifecycle.reload(&name).await;
    audited(&state, &caller, "connector.reload", &name, done).await
}

/// Rescan `connectors_dir`: what was added, changed, removed or refused (and why).
#[utoipa::path(
    post,
    path = "/v1/connectors/discover",
    operation_id = "discoverConnectors",
    tag = "connectors",
    summary = "Rescan connectors_dir on every replica: added, changed, removed, refused.",
    responses(
        (status = 200, description = "What the scan found and did.", body = DiscoverReport),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 403, description = FORBIDDEN, body = ErrorResponse),
    ),
    security(("adminToken" = [])),
)]
pub async fn discover(
    AdminCaller(caller): AdminCaller,
    state: web::Data<AppState>,
) -> HttpResponse {
    let report = state.lifecycle.discover().await;
    state
        .record(&caller, "connectors.discover", Vec::new(), "ok")
        .await;
    HttpResponse::Ok().json(report)
}

/// Record a lifecycle action in the audit trail (the connector named only when it exists:
/// the path is the caller's), then answer with the connector or the error.
async fn audited(
    state: &AppState,
    caller: &Caller,
    action: &str,
    name: &str,
    done: Result<(), LifecycleError>,
) -> Result<HttpResponse, ApiError> {
    let target = if state.registry.snapshot().contains(name) {
        format!("connector:{name}")
    } else {
        "connector:unknown".to_owned()
    };
    let outcome = match &done {
        Ok(()) => "ok".to_owned(),
        Err(err) => err.to_string(),
    };
    state.record(caller, action, vec![target], &outcome).await;
    done?;
    changed(state, name)
}

fn changed(state: &AppState, name: &str) -> Result<HttpResponse, ApiError> {
    let snapshot = state.registry.snapshot();
    let entry = snapshot
        .get(name)
        .ok_or_else(|| ApiError::ConnectorNotFound(name.to_owned()))?;
    Ok(HttpResponse::Ok().json(ConnectorDetail::of(entry)))
}

/// What enable, disable and reload may answer.
#[derive(utoipa::IntoResponses)]
#[allow(
    dead_code,
    reason = "a schema only: the handlers answer with `ConnectorDetail` or `ApiError`"
)]
enum LifecycleAnswers {
    /// The connector after the change.
    #[response(status = 200)]
    Changed(Box<ConnectorDetail<'static>>),
    /// No valid bearer key or token.
    #[response(status = 401)]
    Unauthorized(ErrorResponse),
    /// An API key, not an admin token.
    #[response(status = 403)]
    Forbidden(ErrorResponse),
    /// No such connector (`connector_not_found`).
    #[response(status = 404)]
    NotFound(ErrorResponse),
    /// Its settings cannot work (`invalid_config`, `details.issues`).
    #[response(status = 422)]
    InvalidConfig(ErrorResponse),
    /// The runtime state could not be saved (`state_unavailable`).
    #[response(status = 503)]
    StateUnavailable(ErrorResponse),
}

/// The answer of `GET /v1/connectors`.
#[derive(Serialize, ToSchema)]
struct ConnectorList<'a> {
    connectors: Vec<ConnectorView<'a>>,
}

/// One connector as `GET /v1/connectors` lists it.
#[derive(Serialize, ToSchema)]
#[schema(as = Connector)]
struct ConnectorView<'a> {
    /// The configured name (the key under `connectors:`, or the manifest's file stem).
    name: &'a str,
    /// The implementation it runs (`hubspot`, `http`, ...).
    kind: &'a str,
    category: Category,
    version: &'a str,
    description: &'a str,
    enabled: bool,
    /// `"config"` (configured in `config.yaml`) or `{"connectors_dir": "<file>"}` (a manifest).
    #[schema(value_type = Value)]
    origin: Value,
    // Inline types carry their description themselves: a doc comment here would wrap them
    // in an `allOf`.
    #[schema(inline)]
    health: HealthView,
    #[schema(inline)]
    circuit: Circuit,
    #[schema(inline, value_type = UsageSchema)]
    usage: Usage,
    /// What its calls cost, in credits (`connectors.<name>.cost`): `per_call`, `per_not_found`.
    #[schema(value_type = Object, example = json!({"per_call": 1.0, "per_not_found": 0.0}))]
    cost: &'a CostConfig,
}

impl<'a> ConnectorView<'a> {
    fn of(entry: &'a ConnectorEntry) -> ConnectorView<'a> {
        let enabled = entry.instance.is_some();
        ConnectorView {
            name: &entry.name,
            kind: &entry.config.kind,
            category: entry.metadata.category,
            version: &entry.metadata.version,
            description: &entry.metadata.description,
            enabled,
            origin: match &entry.origin {
                Origin::Config => json!("config"),
                Origin::Manifest { file, .. } => json!({"connectors_dir": file}),
            },
            health: HealthView::of(entry.stats.health(), enabled),
            circuit: entry.guard.breaker.state().into(),
            usage: entry.stats.usage(),
            cost: &entry.config.cost,
        }
    }
}

/// One connector in detail (`GET /v1/connectors/{name}` and the lifecycle routes).
#[derive(Serialize, ToSchema)]
struct ConnectorDetail<'a> {
    #[serde(flatten)]
    summary: ConnectorView<'a>,
    capabilities: &'a [Capability],
    /// The subject identifiers it needs (`email`, `handles.github`, ...).
    #[schema(value_type = Vec<String>)]
    required_identifiers: &'a [Identifier],
    /// Its configuration; sensitive settings are `"***"`.
    #[schema(value_type = Object)]
    config: Value,
    /// Its `settings` keys, with the sensitive ones marked.
    #[schema(value_type = Object)]
    config_schema: &'a ConfigSchema,
}

impl<'a> ConnectorDetail<'a> {
    fn of(entry: &'a ConnectorEntry) -> ConnectorDetail<'a> {
        let config = &entry.config;
        ConnectorDetail {
            summary: ConnectorView::of(entry),
            capabilities: &entry.metadata.capabilities,
            required_identifiers: &entry.metadata.required_identifiers,
            config: json!({
                "timeout_ms": entry.timeout.as_millis() as u64,
                "confidence": entry.confidence,
                "ttl_seconds": entry.ttl.as_secs(),
                "retry": config.retry,
                "rate_limit": config.rate_limit,
                "circuit_breaker": config.circuit_breaker,
                "max_response_bytes": config.max_response_bytes,
                // The canary is a real person: shown only as configured or not.
                "canary": config.canary.as_ref().map(|_| "***"),
                "settings": entry.metadata.config_schema.redact(&config.settings),
            }),
            config_schema: &entry.metadata.config_schema,
        }
    }
}

/// The background health checks' latest result.
#[derive(Serialize, ToSchema)]
struct HealthView {
    // A string of `ConnectorStats`, or `disabled`: documented by `HealthStatus`.
    #[schema(inline, value_type = HealthStatus)]
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    last_check: Option<String>,
    consecutive_failures: u32,
    /// What the last failed check said.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    last_error: Option<String>,
}

impl HealthView {
    fn of(health: Health, enabled: bool) -> HealthView {
        HealthView {
            status: if enabled { health.status } else { "disabled" },
            last_check: health.last_check,
            consecutive_failures: health.consecutive_failures,
            last_error: health.last_error,
        }
    }
}

// The schema of `HealthView::status`, which is a string of `ConnectorStats`.
/// `unknown` until the first check; `disabled` while the connector is disabled.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(
    dead_code,
    reason = "a schema only: the status is serialized as a string"
)]
enum HealthStatus {
    Healthy,
    Unhealthy,
    Unknown,
    Disabled,
}

/// The circuit breaker's state.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
enum Circuit {
    Closed,
    Open,
    HalfOpen,
}

impl From<CircuitState> for Circuit {
    fn from(state: CircuitState) -> Circuit {
        match state {
            CircuitState::Closed => Circuit::Closed,
            CircuitState::Open => Circuit::Open,
            CircuitState::HalfOpen => Circuit::HalfOpen,
        }
    }
}

// The schema of `Usage` (of `ConnectorStats`), which is serialized as it is.
/// Usage since the process started.
#[derive(ToSchema)]
#[allow(dead_code, reason = "a schema only: `Usage` is what is serialized")]
struct UsageSchema {
    /// Calls made.
    requests: u64,
    /// Share of calls that answered (`ok` or `not_found`); null before the first call.
    success_rate: Option<f64>,
    #[schema(inline)]
    latency_ms: PercentilesSchema,
}

/// Latency percentiles over the last calls, in milliseconds; null before the first call.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "a schema only: `Percentiles` is what is serialized"
)]
struct PercentilesSchema {
    p50: Option<u64>,
    p95: Option<u64>,
    p99: Option<u64>,
}

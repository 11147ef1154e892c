//! `/v1/connectors`: the connector list and detail (API key), and the runtime lifecycle —
//! enable, disable, reload, discover (admin token).

use actix_web::{HttpResponse, web};
use serde_json::{Value, json};

use super::{
    AppState,
    auth::{AdminCaller, ApiCaller},
    error::ApiError,
};
use crate::connectors::{ConnectorEntry, Origin};

/// Every connector: what it is, whether enabled, health, circuit and usage.
pub async fn list(_caller: ApiCaller, state: web::Data<AppState>) -> HttpResponse {
    let snapshot = state.registry.snapshot();
    let connectors: Vec<Value> = snapshot.entries().iter().map(|e| summary(e)).collect();
    HttpResponse::Ok().json(json!({"connectors": connectors}))
}

/// One connector in detail; sensitive settings are shown as `"***"`.
pub async fn detail(
    _caller: ApiCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let snapshot = state.registry.snapshot();
    let entry = snapshot
        .get(&name)
        .ok_or_else(|| ApiError::ConnectorNotFound(name.to_string()))?;
    Ok(HttpResponse::Ok().json(detailed(entry)))
}

pub async fn enable(
    _caller: AdminCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.lifecycle.set_enabled(&name, true).await?;
    changed(&state, &name)
}

pub async fn disable(
    _caller: AdminCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.lifecycle.set_enabled(&name, false).await?;
    changed(&state, &name)
}

pub async fn reload(
    _caller: AdminCaller,
    name: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.lifecycle.reload(&name).await?;
    changed(&state, &name)
}

/// Rescan `connectors_dir`: what was added, changed, removed or refused (and why).
pub async fn discover(_caller: AdminCaller, state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(state.lifecycle.discover().await)
}

fn changed(state: &AppState, name: &str) -> Result<HttpResponse, ApiError> {
    let snapshot = state.registry.snapshot();
    let entry = snapshot
        .get(name)
        .ok_or_else(|| ApiError::ConnectorNotFound(name.to_owned()))?;
    Ok(HttpResponse::Ok().json(detailed(entry)))
}

fn summary(entry: &ConnectorEntry) -> Value {
    let enabled = entry.instance.is_some();
    let mut health = serde_json::to_value(entry.stats.health()).unwrap_or(Value::Null);
    if !enabled {
        health["status"] = json!("disabled");
    }
    json!({
        "name": entry.name,
        "kind": entry.config.kind,
        "category": entry.metadata.category,
        "version": entry.metadata.version,
        "description": entry.metadata.description,
        "enabled": enabled,
        "origin": match &entry.origin {
            Origin::Config => json!("config"),
            Origin::Manifest { file, .. } => json!({"connectors_dir": file}),
        },
        "health": health,
        "circuit": entry.guard.breaker.state().as_str(),
        "usage": entry.stats.usage(),
    })
}

fn detailed(entry: &ConnectorEntry) -> Value {
    let mut view = summary(entry);
    let config = &entry.config;
    view["capabilities"] = json!(entry.metadata.capabilities);
    view["required_identifiers"] = json!(entry.metadata.required_identifiers);
    view["config"] = json!({
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
    });
    view["config_schema"] = json!(entry.metadata.config_schema);
    view
}

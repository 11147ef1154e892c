//! `GET /openapi.json`: the OpenAPI 3.1 description of the API, built once. The black-box
//! tests check it against the live routes (every documented route answers, every route is
//! documented) and live responses against its schemas' required fields.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use serde_json::{Value, json};

/// Every route, as (method, path): the one list the document and the tests are checked against.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/enrich"),
    ("post", "/v1/enrich/batch"),
    ("get", "/v1/profiles/{user_id}"),
    ("delete", "/v1/profiles/{user_id}"),
    ("get", "/v1/connectors"),
    ("post", "/v1/connectors/discover"),
    ("get", "/v1/connectors/{name}"),
    ("post", "/v1/connectors/{name}/enable"),
    ("post", "/v1/connectors/{name}/disable"),
    ("post", "/v1/connectors/{name}/reload"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// The `operationId` of each route of [`ROUTES`], in the same order.
const OPERATION_IDS: &[&str] = &[
    "enrich",
    "enrichBatch",
    "getProfile",
    "deleteProfile",
    "listConnectors",
    "discoverConnectors",
    "getConnector",
    "enableConnector",
    "disableConnector",
    "reloadConnector",
    "healthz",
    "readyz",
    "metrics",
    "openapi",
];

/// The pattern of a user id (PRODUCT.md §3), as the document states it.
const USER_ID_PATTERN: &str = "^[A-Za-z0-9._:@-]{1,128}$";

pub async fn openapi() -> HttpResponse {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    let body =
        DOCUMENT.get_or_init(|| serde_json::to_vec(&document()).expect("the document serializes"));
    HttpResponse::Ok()
        .content_type("application/json")
        .body(body.clone())
}

fn schema(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn json_body(schema: Value) -> Value {
    json!({"content": {"application/json": {"schema": schema}}})
}

/// A response with a JSON body of `schema`.
fn answer(description: &str, body: Value) -> Value {
    let mut response = json_body(body);
    response["description"] = json!(description);
    response
}

fn error(description: &str) -> Value {
    answer(description, schema("Error"))
}

fn path_parameter(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "description": description, "schema": {"type": "string"}})
}

/// The error answers every authenticated route may give.
fn with_common_errors(mut responses: Value, admin: bool) -> Value {
    responses["401"] = error("No valid bearer key or token.");
    if admin {
        responses["403"] = error("An API key, not an admin token.");
    }
    responses
}

fn operation(summary: &str, tag: &str, responses: Value, admin: bool) -> Value {
    let security = if admin {
        json!([{"adminToken": []}])
    } else {
        json!([{"apiKey": []}, {"adminToken": []}])
    };
    json!({
        "summary": summary,
        "tags": [tag],
        "security": security,
        "responses": with_common_errors(responses, admin),
    })
}

fn lifecycle(summary: &str) -> Value {
    let mut op = operation(
        summary,
        "connectors",
        json!({
            "200": answer("The connector after the change.", schema("ConnectorDetail")),
            "404": error("No such connector (`connector_not_found`)."),
            "422": error("Its settings cannot work (`invalid_config`, `details.issues`)."),
            "503": error("The runtime state could not be saved (`state_unavailable`)."),
        }),
        true,
    );
    op["parameters"] = json!([path_parameter("name", "The connector's configured name.")]);
    op
}

/// The whole document, each operation with its `operationId`.
pub fn document() -> Value {
    let mut document = paths_and_schemas();
    for ((method, path), id) in ROUTES.iter().zip(OPERATION_IDS) {
        document["paths"][*path][*method]["operationId"] = json!(id);
    }
    document
}

fn paths_and_schemas() -> Value {
    let mut user_id = path_parameter("user_id", "1-128 characters of A-Za-z0-9._:@-");
    user_id["schema"]["pattern"] = json!(USER_ID_PATTERN);
    let mut get_profile = operation(
        "The cached profile (fresh or stale); `?refresh=true` re-enriches it first.",
        "profiles",
        json!({
            "200": answer("The profile.", schema("Profile")),
            "400": error("A malformed user id or query parameter."),
            "404": error("Nothing cached for this user (`profile_not_found`)."),
            "502": error("Refresh only: every source failed."),
        }),
        false,
    );
    get_profile["parameters"] = json!([user_id, {"name": "refresh", "in": "query", "required": false, "schema": {"type": "boolean"}}]);
    let mut delete_profile = operation(
        "Erase everything held about the user, on every tier and replica.",
        "profiles",
        json!({
            "204": {"description": "Erased (or nothing was held)."},
            "400": error("A malformed user id."),
            "503": error("Redis is down; nothing was pretended (`cache_unavailable`)."),
        }),
        false,
    );
    delete_profile["parameters"] = json!([user_id]);
    let mut detail = operation(
        "One connector in detail; sensitive settings are shown as \"***\".",
        "connectors",
        json!({
            "200": answer("The connector.", schema("ConnectorDetail")),
            "404": error("No such connector."),
        }),
        false,
    );
    detail["parameters"] = json!([path_parameter("name", "The connector's configured name.")]);
    let mut enrich = operation(
        "Enrich one subject; served from cache when fresh.",
        "enrichment",
        json!({
            "200": answer("The merged profile.", schema("Profile")),
            "400": error("Malformed JSON (`invalid_json`) or a bad field (`invalid_request`, `details.field`)."),
            "408": error("The body did not arrive within server.body_timeout_ms (`request_timeout`)."),
            "413": error("The body is larger than server.max_body_bytes."),
            "415": error("The body is not sent as application/json."),
            "502": error("Every source failed (`all_sources_failed`, `details.sources`)."),
            "504": error("An identical enrichment in flight did not finish in time."),
        }),
        false,
    );
    enrich["requestBody"] =
        json!({"required": true, "content": {"application/json": {"schema": schema("Subject")}}});
    let mut batch = operation(
        "Enrich up to 100 subjects; results in order, each a profile or an error.",
        "enrichment",
        json!({
            "200": answer("One result per subject.", schema("BatchResults")),
            "400": error("Malformed JSON, or more than 100 subjects (`details.field` = `subjects`)."),
            "408": error("The body did not arrive within server.body_timeout_ms (`request_timeout`)."),
            "413": error("The body is larger than server.max_body_bytes."),
            "415": error("The body is not sent as application/json."),
        }),
        false,
    );
    batch["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
        "type": "object", "additionalProperties": false, "required": ["subjects"],
        "properties": {"subjects": {"type": "array", "maxItems": 100, "items": schema("Subject")}}
    }}}});
    let open = |summary: &str, responses: Value| json!({"summary": summary, "tags": ["operations"], "security": [], "responses": responses});

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "enrichd",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "User-profile enrichment: one subject in, one merged profile with per-field provenance out.",
        },
        "paths": {
            "/v1/enrich": {"post": enrich},
            "/v1/enrich/batch": {"post": batch},
            "/v1/profiles/{user_id}": {"get": get_profile, "delete": delete_profile},
            "/v1/connectors": {"get": operation(
                "Every connector: kind, category, version, enabled, health, circuit state, usage.",
                "connectors",
                json!({"200": answer("The connectors.", json!({"type": "object", "required": ["connectors"], "properties": {"connectors": {"type": "array", "items": schema("Connector")}}}))}),
                false,
            )},
            "/v1/connectors/discover": {"post": operation(
                "Rescan connectors_dir on every replica: added, changed, removed, refused.",
                "connectors",
                json!({"200": answer("What the scan found and did.", schema("DiscoverReport"))}),
                true,
            )},
            "/v1/connectors/{name}": {"get": detail},
            "/v1/connectors/{name}/enable": {"post": lifecycle("Enable a connector on every replica, durably.")},
            "/v1/connectors/{name}/disable": {"post": lifecycle("Disable a connector on every replica, durably.")},
            "/v1/connectors/{name}/reload": {"post": lifecycle("Rebuild a connector's instance from its configuration.")},
            "/healthz": {"get": open("Liveness: 200 while the process serves.", json!({"200": answer("Alive.", json!({"type": "object", "required": ["status"]}))}))},
            "/readyz": {"get": open("Readiness: ready or degraded (Redis down); 503 while starting or draining.", json!({
                "200": answer("Ready or degraded.", schema("Readiness")),
                "503": answer("Starting or draining.", schema("Readiness")),
            }))},
            "/metrics": {"get": open("Prometheus text exposition.", json!({"200": {"description": "Metrics.", "content": {"text/plain": {"schema": {"type": "string"}}}}}))},
            "/openapi.json": {"get": open("This document.", json!({"200": {"description": "OpenAPI 3.1.", "content": {"application/json": {"schema": {"type": "object"}}}}}))},
        },
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "A key of auth.api_keys."},
                "adminToken": {"type": "http", "scheme": "bearer", "description": "A token of auth.admin_tokens."},
            },
            "schemas": schemas(),
        },
    })
}

fn schemas() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let string = json!({"type": "string"});
    json!({
        "Subject": {
            "type": "object", "additionalProperties": false, "required": ["user_id"],
            "properties": {
                "user_id": {"type": "string", "pattern": USER_ID_PATTERN},
                "email": {"type": "string", "format": "email"},
                "phone": {"type": "string", "pattern": "^\\+[1-9][0-9]{6,14}$"},
                "handles": {"type": "object", "maxProperties": crate::domain::MAX_HANDLES, "additionalProperties": {"type": "string"}},
                "connectors": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "refresh": {"type": "boolean"},
                "timeout_ms": {"type": "integer", "minimum": 1},
            },
        },
        "Profile": {
            "type": "object",
            "required": ["user_id", "profile", "provenance", "sources", "confidence", "partial", "cache", "enriched_at", "expires_at"],
            "properties": {
                "user_id": string,
                "profile": schema("ProfileBody"),
                "provenance": {"type": "object", "additionalProperties": schema("Provenance")},
                "sources": {"type": "array", "items": schema("SourceReport")},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "partial": {"type": "boolean"},
                "cache": {"type": "string", "enum": ["hit", "stale", "miss", "bypass"]},
                "enriched_at": {"type": "string", "format": "date-time"},
                "expires_at": {"type": "string", "format": "date-time"},
            },
        },
        "ProfileBody": {
            "type": "object",
            "required": ["identity", "demographics", "interests", "social", "behavior", "contextual"],
            "properties": {
                "identity": {"type": "object", "required": ["emails", "handles"], "properties": {
                    "name": string, "emails": strings, "handles": {"type": "object", "additionalProperties": {"type": "string"}},
                    "avatar_url": string, "bio": string, "company": string, "job_title": string,
                }},
                "demographics": {"type": "object", "properties": {
                    "age": {"type": "integer"}, "gender": string, "location": string, "country": string,
                    "city": string, "education": string, "occupation": string,
                }},
                "interests": strings,
                "social": {"type": "object", "required": ["platforms", "communities"], "properties": {
                    "platforms": strings, "connections": {"type": "integer"},
                    "influence": {"type": "number"}, "communities": strings,
                }},
                "behavior": {"type": "object", "required": ["purchase_history", "preferred_channels", "engagement"], "properties": {
                    "purchase_history": {"type": "array", "items": {}}, "preferred_channels": strings,
                    "engagement": {"type": "object"},
                }},
                "contextual": {"type": "object", "additionalProperties": {"type": "object"}},
            },
        },
        "Provenance": {
            "type": "object", "required": ["source", "confidence", "fetched_at"],
            "properties": {"source": string, "confidence": {"type": "number"}, "fetched_at": {"type": "string", "format": "date-time"}, "sources": strings},
        },
        "SourceReport": {
            "type": "object", "required": ["connector", "status", "latency_ms"],
            "properties": {
                "connector": string,
                "status": {"type": "string", "enum": ["ok", "not_found", "timeout", "error", "rate_limited", "circuit_open", "skipped", "disabled"]},
                "latency_ms": {"type": "integer"}, "confidence": {"type": "number"},
                "error": string, "retry_after_ms": {"type": "integer"},
            },
        },
        "BatchResults": {
            "type": "object", "required": ["results"],
            "properties": {"results": {"type": "array", "items": {"oneOf": [
                schema("Profile"),
                {"type": "object", "required": ["user_id", "error"], "properties": {"user_id": {}, "error": schema("ErrorBody")}},
            ]}}},
        },
        "Error": {"type": "object", "required": ["error"], "properties": {"error": schema("ErrorBody")}},
        "ErrorBody": {
            "type": "object", "required": ["code", "message", "details"],
            "properties": {"code": string, "message": string, "details": {}},
        },
        "Connector": {
            "type": "object",
            "required": ["name", "kind", "category", "version", "enabled", "health", "circuit", "usage"],
            "properties": {
                "name": string, "kind": string, "category": {"type": "string", "enum": ["crm", "social", "other"]},
                "version": string, "description": string, "enabled": {"type": "boolean"}, "origin": {},
                "health": {"type": "object", "required": ["status", "consecutive_failures"], "properties": {
                    "status": {"type": "string", "enum": ["healthy", "unhealthy", "unknown", "disabled"]},
                    "last_check": {"type": "string", "format": "date-time"},
                    "consecutive_failures": {"type": "integer"}, "last_error": string,
                }},
                "circuit": {"type": "string", "enum": ["closed", "open", "half_open"]},
                "usage": {"type": "object", "required": ["requests", "latency_ms"], "properties": {
                    "requests": {"type": "integer"}, "success_rate": {"type": ["number", "null"]},
                    "latency_ms": {"type": "object", "properties": {"p50": {}, "p95": {}, "p99": {}}},
                }},
            },
        },
        "ConnectorDetail": {
            "allOf": [schema("Connector"), {"type": "object", "required": ["capabilities", "required_identifiers", "config", "config_schema"], "properties": {
                "capabilities": strings, "required_identifiers": strings,
                "config": {"type": "object", "description": "Its configuration; sensitive settings are \"***\"."},
                "config_schema": {"type": "object"},
            }}],
        },
        "DiscoverReport": {
            "type": "object", "required": ["added", "changed", "removed", "refused"],
            "properties": {
                "added": strings, "changed": strings, "removed": strings,
                "refused": {"type": "array", "items": {"type": "object", "required": ["file", "reasons"], "properties": {"file": string, "reasons": strings}}},
            },
        },
        "Readiness": {
            "type": "object", "required": ["status", "checks"],
            "properties": {"status": {"type": "string", "enum": ["ready", "degraded", "starting", "draining"]}, "checks": {"type": "object"}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_an_operation_id() {
        assert_eq!(ROUTES.len(), OPERATION_IDS.len());
        let doc = document();
        for (method, path) in ROUTES {
            assert!(
                doc["paths"][*path][*method]["operationId"].is_string(),
                "{method} {path}"
            );
        }
    }
}

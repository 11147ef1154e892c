//! The shapes the API answers with that have no Rust type of their own — the error body (built
//! by [`super::ApiError`]), the batch results (written piece by piece) — as schema-only types,
//! with the examples and descriptions the handlers' OpenAPI annotations share.

use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{
    ToSchema,
    openapi::{ObjectBuilder, Type},
};

use crate::{domain::MAX_HANDLES, enrichment::profile::Profile};

/// The 401 every authenticated route may answer.
pub const UNAUTHORIZED: &str = "No valid bearer key or token.";
/// The 403 every admin route may answer.
pub const FORBIDDEN: &str = "An API key, not an admin token.";

// Written by `ApiError::error_response`.
/// Every error answer.
#[derive(ToSchema)]
#[schema(as = Error)]
pub struct ErrorResponse {
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable and machine-readable: `invalid_request`, `profile_not_found`, ...
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// More for programs (`field`, `line` and `column`, `sources`, `issues`), or null.
    pub details: Value,
}

// Written piece by piece by `enrich::enrich_batch`.
/// The answer of `POST /v1/enrich/batch`.
#[derive(ToSchema)]
pub struct BatchResults {
    /// One result per subject, in the order of the request.
    pub results: Vec<BatchResult>,
}

/// One subject's result: its profile, or why it failed.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchResult {
    Profile(Box<Profile>),
    Failed {
        /// The subject's `user_id` as sent (null when it had none).
        user_id: Value,
        error: ErrorBody,
    },
}

/// The schema of `Subject.handles`: handles by platform, at most [`MAX_HANDLES`].
pub(crate) fn handles_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .max_properties(Some(MAX_HANDLES))
        .additional_properties(Some(ObjectBuilder::new().schema_type(Type::String)))
        .property_names(Some(ObjectBuilder::new().schema_type(Type::String)))
}

/// The example subject of PRODUCT.md §3.
pub fn subject_example() -> Value {
    json!({
        "user_id": "u-42", "email": "ada@example.com", "phone": "+442071838750",
        "handles": {"github": "octocat", "x": "jack", "mastodon": "Gargron@mastodon.social"},
        "connectors": ["hubspot", "github"], "refresh": false, "timeout_ms": 500,
    })
}

/// The example profile of PRODUCT.md §3.
pub fn profile_example() -> Value {
    let fetched_at = "2026-11-22T10:00:00Z";
    json!({
        "user_id": "u-42",
        "profile": {
            "identity": {
                "name": "Ada Lovelace", "emails": ["ada@example.com"],
                "handles": {"github": "octocat"}, "company": "Analytical Engines Ltd",
            },
            "demographics": {"location": "London, United Kingdom", "country": "United Kingdom", "city": "London"},
            "interests": ["mathematics"],
            "social": {"platforms": ["github"], "connections": 120, "influence": 0.4, "communities": []},
            "behavior": {"purchase_history": [], "preferred_channels": ["email"], "engagement": {"lead_score": 61}},
            "contextual": {"hubspot": {"lifecycle_stage": "customer", "lead_score": 61}},
        },
        "provenance": {
            "identity.name": {"source": "hubspot", "confidence": 0.9, "fetched_at": fetched_at},
            "social.platforms": {"source": "github", "confidence": 0.8, "fetched_at": fetched_at, "sources": ["github"]},
        },
        "sources": [
            {"connector": "hubspot", "status": "ok", "latency_ms": 41, "confidence": 0.9, "cost": 1.0},
            {"connector": "github", "status": "ok", "latency_ms": 87, "confidence": 0.8, "cost": 0.0},
            {"connector": "x", "status": "timeout", "latency_ms": 500, "error": "no answer within 500 ms", "cost": 0.0},
        ],
        "confidence": 0.86,
        "partial": true,
        "cache": "miss",
        "cost": 1.0,
        "enriched_at": fetched_at,
        "expires_at": "2026-11-22T11:00:00Z",
    })
}

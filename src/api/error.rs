//! Every error the API answers with, mapped to its status and JSON body in one place:
//! `{"error": {"code": "...", "message": "...", "details": ...}}`.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use serde_json::{Value, json};

use crate::{
    connectors::LifecycleError,
    domain::FieldError,
    enrichment::{EnrichError, profile::SourceReport},
    privacy::SuppressError,
    redis_link::RedisError,
};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("The request body is not valid JSON: {message}")]
    InvalidJson {
        message: String,
        line: usize,
        column: usize,
    },
    #[error("`{}` {}", .0.field, .0.message)]
    InvalidField(FieldError),
    #[error("The request body is larger than {limit} bytes.")]
    PayloadTooLarge { limit: usize },
    #[error("The request body must be JSON, sent with `Content-Type: application/json`.")]
    UnsupportedMediaType,
    #[error("A job is sent as `Content-Type: application/json` or `application/x-ndjson`.")]
    UnsupportedJobMediaType,
    #[error("A valid `Authorization: Bearer <key>` header is required.")]
    Unauthorized,
    #[error("This route needs an admin token; the key given is not one.")]
    Forbidden,
    #[error(
        "Only admin tokens choose a tenant with x-enrichd-tenant; this key belongs to another one."
    )]
    TenantNotAllowed,
    #[error("There is no route {method} {path}.")]
    RouteNotFound { method: String, path: String },
    #[error("This route does not accept {method}; it accepts {allow}.")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("The request body did not arrive within {after_ms} ms.")]
    RequestTimeout { after_ms: u64 },

    #[error("No profile is cached for this user.")]
    ProfileNotFound,
    #[error("Every source failed; see `details.sources`.")]
    AllSourcesFailed { sources: Vec<SourceReport> },
    #[error("A required source failed; see `details.sources`.")]
    RequiredSourceFailed { sources: Vec<SourceReport> },
    #[error(
        "Every connector that could answer would pass the tenant's daily budget or the request's max_cost, so none was called; see `details.sources` and GET /v1/usage."
    )]
    BudgetExhausted { sources: Vec<SourceReport> },
    #[error("There is no connector `{0}`.")]
    ConnectorNotFound(String),
    #[error("{0}")]
    Lifecycle(#[from] LifecycleError),
    #[error("An identical enrichment in flight did not finish within this request's deadline.")]
    DeadlineExceeded,
    #[error("The cache (Redis) is unavailable, so nothing was done; retry later.")]
    CacheUnavailable(#[source] RedisError),
    #[error("An identifier of this subject is suppressed: it is not enriched, stored or served.")]
    SubjectSuppressed,
    #[error("The suppression list is not loaded yet (Redis was unreachable); retry later.")]
    SuppressionsUnknown,
    #[error("{0}")]
    Suppression(#[from] SuppressError),
    #[error("No job has this id (for this tenant).")]
    JobNotFound,
    #[error("The job holds more than {limit} subjects (jobs.max_subjects); split it.")]
    TooManySubjects { limit: usize },
    #[error(
        "Too many subjects are waiting in jobs already (jobs.max_queued_subjects); retry once they have drained."
    )]
    JobQueueFull,
    #[error("{0}")]
    JobConflict(&'static str),
    #[error("Too many jobs are being submitted at once; retry in a moment.")]
    JobsBusy,
}

impl ApiError {
    /// The stable, machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson { .. } => "invalid_json",
            ApiError::InvalidField(_) => "invalid_request",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType | ApiError::UnsupportedJobMediaType => {
                "unsupported_media_type"
            }
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden | ApiError::TenantNotAllowed => "forbidden",
            ApiError::RouteNotFound { .. } => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::RequestTimeout { .. } => "request_timeout",
            ApiError::ProfileNotFound => "profile_not_found",
            ApiError::AllSourcesFailed { .. } => "all_sources_failed",
            ApiError::RequiredSourceFailed { .. } => "required_source_failed",
            ApiError::BudgetExhausted { .. } => "budget_exhausted",
            ApiError::ConnectorNotFound(_) => "connector_not_found",
            ApiError::Lifecycle(err) => match err {
                LifecycleError::UnknownConnector(_) => "connector_not_found",
                LifecycleError::InvalidSettings(_) => "invalid_config",
                LifecycleError::State(_) => "state_unavailable",
                LifecycleError::ManifestGone(_) => "manifest_not_found",
            },
            ApiError::DeadlineExceeded => "deadline_exceeded",
            ApiError::CacheUnavailable(_) => "cache_unavailable",
            ApiError::SubjectSuppressed => "subject_suppressed",
            ApiError::SuppressionsUnknown => "suppressions_unavailable",
            ApiError::Suppression(err) => match err {
                SuppressError::Unconfigured => "suppression_not_configured",
                SuppressError::Full(_) => "suppression_list_full",
                SuppressError::Store(_) => "state_unavailable",
            },
            ApiError::JobNotFound => "job_not_found",
            ApiError::TooManySubjects { .. } => "too_many_subjects",
            ApiError::JobQueueFull => "job_queue_full",
            ApiError::JobConflict(_) => "job_conflict",
            ApiError::JobsBusy => "jobs_busy",
        }
    }

    fn details(&self) -> Value {
        match self {
            ApiError::InvalidJson { line, column, .. } => json!({"line": line, "column": column}),
            ApiError::InvalidField(field) => json!({"field": field.field}),
            ApiError::PayloadTooLarge { limit } => json!({"limit_bytes": limit}),
            ApiError::TooManySubjects { limit } => json!({"limit_subjects": limit}),
            ApiError::AllSourcesFailed { sources }
            | ApiError::RequiredSourceFailed { sources }
            | ApiError::BudgetExhausted { sources } => json!({"sources": sources}),
            ApiError::Lifecycle(LifecycleError::InvalidSettings(issues)) => json!({
                "issues": issues.iter().map(|i| json!({"path": i.path, "message": i.message})).collect::<Vec<_>>()
            }),
            _ => Value::Null,
        }
    }

    /// The error as a JSON value, for embedding (batch results).
    pub fn to_json(&self) -> Value {
        json!({"code": self.code(), "message": self.to_string(), "details": self.details()})
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson { .. } | ApiError::InvalidField(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } | ApiError::TooManySubjects { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            ApiError::JobNotFound => StatusCode::NOT_FOUND,
            ApiError::JobQueueFull => StatusCode::TOO_MANY_REQUESTS,
            ApiError::JobConflict(_) => StatusCode::CONFLICT,
            ApiError::UnsupportedMediaType | ApiError::UnsupportedJobMediaType => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::TenantNotAllowed => StatusCode::FORBIDDEN,
            ApiError::RouteNotFound { .. } | ApiError::ProfileNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::RequestTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ApiError::AllSourcesFailed { .. } | ApiError::RequiredSourceFailed { .. } => {
                StatusCode::BAD_GATEWAY
            }
            ApiError::BudgetExhausted { .. } => StatusCode::PAYMENT_REQUIRED,
            ApiError::ConnectorNotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Lifecycle(err) => match err {
                LifecycleError::UnknownConnector(_) | LifecycleError::ManifestGone(_) => {
                    StatusCode::NOT_FOUND
                }
                LifecycleError::InvalidSettings(_) => StatusCode::UNPROCESSABLE_ENTITY,
                LifecycleError::State(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            ApiError::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            ApiError::CacheUnavailable(_) | ApiError::SuppressionsUnknown | ApiError::JobsBusy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::SubjectSuppressed => StatusCode::UNAVAILABLE_FOR_LEGAL_REASONS,
            ApiError::Suppression(err) => match err {
                SuppressError::Unconfigured => StatusCode::NOT_IMPLEMENTED,
                SuppressError::Full(_) => StatusCode::INSUFFICIENT_STORAGE,
                SuppressError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::Unauthorized => {
                response.insert_header(("www-authenticate", "Bearer"));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                response.insert_header(("allow", *allow));
            }
            // The rest of the body may still be on its way: do not wait for it.
            ApiError::RequestTimeout { .. } => {
                response.force_close();
            }
            _ => {}
        }
        response.json(json!({"error": self.to_json()}))
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> ApiError {
        ApiError::InvalidField(error)
    }
}

impl From<EnrichError> for ApiError {
    fn from(error: EnrichError) -> ApiError {
        match error {
            EnrichError::AllSourcesFailed { sources } => ApiError::AllSourcesFailed { sources },
            EnrichError::RequiredSourceFailed { sources } => {
                ApiError::RequiredSourceFailed { sources }
            }
            EnrichError::BudgetExhausted { sources } => ApiError::BudgetExhausted { sources },
            EnrichError::DeadlineExceeded => ApiError::DeadlineExceeded,
            EnrichError::SubjectSuppressed => ApiError::SubjectSuppressed,
            EnrichError::SuppressionsUnknown => ApiError::SuppressionsUnknown,
        }
    }
}

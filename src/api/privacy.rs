//! `POST /v1/suppressions`, `POST /v1/suppressions/lift` and `GET /v1/audit` (PRODUCT.md §9).

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use enrichd_sdk::Subject;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    AppState,
    auth::{AdminCaller, ApiCaller},
    body,
    error::ApiError,
    query,
    schemas::{ErrorResponse, UNAUTHORIZED},
};
use crate::{
    domain::{FieldError, UserId, add_identifiers},
    privacy::{AuditEntry, audit},
};

/// The identifiers to suppress (or whose suppression to lift); at least one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionBody {
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    user_id: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, format = Email)]
    email: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, pattern = "^\\+[1-9][0-9]{6,14}$")]
    phone: Option<String>,
    /// Platform → handle, as in an enrichment request.
    #[serde(default)]
    #[schema(nullable = false)]
    handles: Option<BTreeMap<String, String>>,
}

impl SuppressionBody {
    /// The identifiers, validated as an enrichment request's are.
    fn subject(self) -> Result<Subject, FieldError> {
        let user_id = match self.user_id {
            Some(id) => UserId::parse(&id)
                .map_err(|m| FieldError::new("user_id", m))?
                .into_string(),
            None => String::new(),
        };
        let mut subject = Subject::new(user_id);
        add_identifiers(&mut subject, self.email, self.phone, self.handles)?;
        if subject.user_id.is_empty() && !subject.has_identifiers() {
            return Err(FieldError::new(
                "body",
                "names no identifier; give at least one of user_id, email, phone, handles",
            ));
        }
        Ok(subject)
    }
}

/// Suppress identifiers: no subject carrying one of them is enriched again (451).
#[utoipa::path(
    post,
    path = "/v1/suppressions",
    operation_id = "suppress",
    tag = "privacy",
    summary = "Suppress identifiers of the caller's tenant: subjects carrying any of them answer 451.",
    request_body(content = SuppressionBody, example = json!({"email": "ada@example.com"})),
    responses(
        (status = 204, description = "Suppressed, on every replica, with no expiry."),
        (status = 400, description = "A malformed identifier, or none.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 501, description = "privacy.hash_key is not configured (`suppression_not_configured`).", body = ErrorResponse),
        (status = 503, description = "The list could not be saved; nothing changed (`state_unavailable`).", body = ErrorResponse),
        (status = 507, description = "privacy.max_suppressions is reached (`suppression_list_full`).", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn suppress(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change(caller, request, payload, state, false).await
}

/// Lift the suppression of identifiers.
#[utoipa::path(
    post,
    path = "/v1/suppressions/lift",
    operation_id = "liftSuppression",
    tag = "privacy",
    summary = "Lift the suppression of identifiers of the caller's tenant.",
    request_body(content = SuppressionBody, example = json!({"email": "ada@example.com"})),
    responses(
        (status = 204, description = "Lifted (or was not suppressed)."),
        (status = 400, description = "A malformed identifier, or none.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 501, description = "privacy.hash_key is not configured (`suppression_not_configured`).", body = ErrorResponse),
        (status = 503, description = "The list could not be saved; nothing changed (`state_unavailable`).", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn lift(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    change(caller, request, payload, state, true).await
}

async fn change(
    caller: super::Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    lift: bool,
) -> Result<HttpResponse, ApiError> {
    let body: SuppressionBody = body::json_body(&request, payload, &state.body).await?;
    let subject = body.subject()?;
    let result = if lift {
        state.suppressions.lift(&caller.tenant, &subject).await
    } else {
        state.suppressions.suppress(&caller.tenant, &subject).await
    };
    let action = if lift { "lift" } else { "suppress" };
    match result {
        Ok(targets) => {
            state.record(&caller, action, targets, "ok").await;
            Ok(HttpResponse::NoContent().finish())
        }
        Err(err) => {
            state
                .record(&caller, action, Vec::new(), err.to_string().as_str())
                .await;
            Err(err.into())
        }
    }
}

/// A page of the audit trail.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    entries: Vec<AuditEntry>,
    /// The `before` of the next (older) page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_before: Option<String>,
}

/// The audit trail, newest first.
#[utoipa::path(
    get,
    path = "/v1/audit",
    operation_id = "audit",
    tag = "privacy",
    summary = "The audit trail (erasures, suppressions, lifts, lifecycle actions), newest first.",
    params(
        ("limit" = Option<usize>, Query, description = "Entries per page, 1-1000 (default 100)."),
        ("before" = Option<String>, Query, description = "Only entries older than this id (a previous page's `next_before`)."),
    ),
    responses(
        (status = 200, description = "A page of entries.", body = AuditPage),
        (status = 400, description = "A malformed `limit` or `before`.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 403, description = "An API key, not an admin token.", body = ErrorResponse),
        (status = 503, description = "Redis is down (`cache_unavailable`).", body = ErrorResponse),
    ),
    security(("adminToken" = [])),
)]
pub async fn read_audit(
    _caller: AdminCaller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut limit = 100;
    let mut before = None;
    for (name, value) in query::pairs(&request, &["limit", "before"])? {
        match name.as_str() {
            "limit" => {
                limit = query::limit(&value, audit::MAX_READ)?;
            }
            _ => {
                if !audit::is_entry_id(&value) {
                    return Err(FieldError::new(
                        "before",
                        "must be an entry id (`<unix ms>-<sequence>`)",
                    )
                    .into());
                }
                before = Some(value);
            }
        }
    }
    let entries = state
        .audit
        .read(limit, before.as_deref())
        .await
        .map_err(ApiError::CacheUnavailable)?;
    let next_before = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.id.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries,
        next_before,
    }))
}

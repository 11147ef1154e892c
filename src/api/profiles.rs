//! `GET` and `DELETE /v1/profiles/{user_id}`, and `GET`/`PUT .../overrides`, in the caller's
//! tenant.

use actix_web::{HttpRequest, HttpResponse, http::header::ContentType, web};

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    AppState, Caller,
    auth::ApiCaller,
    body,
    error::ApiError,
    query,
    schemas::{ErrorResponse, UNAUTHORIZED},
};
use crate::{
    domain::{FieldError, Overrides, UserId, UserKey},
    enrichment::profile::Profile,
};

/// The cached profile (fresh or stale); `?refresh=true` re-enriches it first.
#[utoipa::path(
    get,
    path = "/v1/profiles/{user_id}",
    operation_id = "getProfile",
    tag = "profiles",
    summary = "The cached profile (fresh or stale); `?refresh=true` re-enriches it first.",
    params(
        ("user_id" = String, Path, description = "1-128 characters of A-Za-z0-9._:@-", pattern = "^[A-Za-z0-9._:@-]{1,128}$"),
        ("refresh" = Option<bool>, Query, description = "Re-enrich with the identifiers remembered for the user first."),
    ),
    responses(
        (status = 200, description = "The profile.", body = Profile, example = json!(super::schemas::profile_example())),
        (status = 400, description = "A malformed user id or query parameter.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = "Nothing cached for this user in the caller's tenant (`profile_not_found`).", body = ErrorResponse),
        (status = 451, description = "The user or an identifier remembered for them is suppressed (`subject_suppressed`).", body = ErrorResponse),
        (status = 502, description = "Refresh only: every source failed.", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn get_profile(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    user_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_key(&caller, &user_id)?;
    let refresh = query::flag(&request, "refresh", &["refresh"])?;
    let mut response = HttpResponse::Ok();
    response.content_type(ContentType::json());
    let profile = if refresh {
        state
            .enricher
            .refresh(&user)
            .await
            .transpose()?
            .map(|answer| {
                response.insert_header(("server-timing", answer.server_timing));
                answer.body
            })
    } else {
        state.enricher.cached(&user).await?
    };
    Ok(response.body(profile.ok_or(ApiError::ProfileNotFound)?))
}

/// Erase everything held about the user (`?suppress=true`: and suppress the user id and every
/// identifier remembered for them). 204 even when nothing was held.
#[utoipa::path(
    delete,
    path = "/v1/profiles/{user_id}",
    operation_id = "deleteProfile",
    tag = "profiles",
    summary = "Erase everything held about the user, on every tier and replica; `?suppress=true` also suppresses their identifiers.",
    params(
        ("user_id" = String, Path, description = "1-128 characters of A-Za-z0-9._:@-", pattern = "^[A-Za-z0-9._:@-]{1,128}$"),
        ("suppress" = Option<bool>, Query, description = "Also suppress the user id and every identifier remembered for the user (451 from then on)."),
    ),
    responses(
        (status = 204, description = "Erased (or nothing was held)."),
        (status = 400, description = "A malformed user id or query parameter.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 501, description = "`suppress=true` without privacy.hash_key (`suppression_not_configured`); nothing was erased.", body = ErrorResponse),
        (status = 503, description = "Redis is down; nothing was pretended (`cache_unavailable`, `state_unavailable`).", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn delete_profile(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    user_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_key(&caller, &user_id)?;
    let suppress = query::flag(&request, "suppress", &["suppress"])?;
    if suppress {
        // Suppressed first: no enrichment that starts while the erasure runs stores anything.
        let remembered = state.enricher.remembered(&user).await;
        let suppressed = state
            .suppressions
            .suppress(&caller.tenant, &remembered)
            .await;
        match suppressed {
            Ok(targets) => state.record(&caller, "suppress", targets, "ok").await,
            Err(err) => {
                let outcome = err.to_string();
                let targets = vec![state.audit.user_target(&user)];
                state.record(&caller, "suppress", targets, &outcome).await;
                return Err(err.into());
            }
        }
    }
    // Jobs first: their index of the user goes with the user's other keys.
    let erased = match state.jobs.erase(&user).await {
        Ok(()) => state.enricher.erase(&user).await,
        Err(err) => Err(err),
    };
    let outcome = match &erased {
        Ok(()) => "ok".to_owned(),
        Err(err) => format!("failed: {err}"),
    };
    let targets = vec![state.audit.user_target(&user)];
    state.record(&caller, "erase", targets, &outcome).await;
    erased.map_err(ApiError::CacheUnavailable)?;
    Ok(HttpResponse::NoContent().finish())
}

/// The user the path names, in the caller's tenant.
fn user_key(caller: &Caller, raw: &str) -> Result<UserKey, ApiError> {
    let user_id = UserId::parse(raw).map_err(|message| FieldError::new("user_id", message))?;
    Ok(UserKey::new(&caller.tenant, user_id.as_str()))
}

/// The body of `PUT /v1/profiles/{user_id}/overrides`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverridesBody {
    /// Field path → value (`null` hides the field); replaces every override held before (`{}`
    /// removes them all).
    #[schema(value_type = Object, example = json!({"identity.company": "Acme", "demographics.city": null}))]
    fields: BTreeMap<String, Value>,
}

/// The user's overrides.
#[utoipa::path(
    get,
    path = "/v1/profiles/{user_id}/overrides",
    operation_id = "getOverrides",
    tag = "profiles",
    summary = "The values asserted for the user that win every merge.",
    params(
        ("user_id" = String, Path, description = "1-128 characters of A-Za-z0-9._:@-", pattern = "^[A-Za-z0-9._:@-]{1,128}$"),
    ),
    responses(
        (status = 200, description = "The overrides (`fields` empty when there are none).", body = Overrides),
        (status = 400, description = "A malformed user id.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn get_overrides(
    ApiCaller(caller): ApiCaller,
    user_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_key(&caller, &user_id)?;
    Ok(HttpResponse::Ok().json(state.enricher.overrides(&user).await))
}

/// Replace the user's overrides; the cached profile is rebuilt with them.
#[utoipa::path(
    put,
    path = "/v1/profiles/{user_id}/overrides",
    operation_id = "putOverrides",
    tag = "profiles",
    summary = "Replace the values asserted for the user: they win every merge (`source: override`) until changed; null hides a field.",
    params(
        ("user_id" = String, Path, description = "1-128 characters of A-Za-z0-9._:@-", pattern = "^[A-Za-z0-9._:@-]{1,128}$"),
    ),
    request_body(content = OverridesBody),
    responses(
        (status = 200, description = "The overrides now held.", body = Overrides),
        (status = 400, description = "A field that cannot be overridden, or a value of the wrong type (`details.field` names it).", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 413, description = "The body is larger than server.max_body_bytes.", body = ErrorResponse),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorResponse),
        (status = 451, description = "The user id is suppressed (`subject_suppressed`).", body = ErrorResponse),
        (status = 503, description = "Redis is down; nothing changed (`cache_unavailable`).", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn put_overrides(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    user_id: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user = user_key(&caller, &user_id)?;
    let body: OverridesBody = body::json_body(&request, payload, &state.body).await?;
    let fields = Overrides::parse(body.fields)?;
    let mut targets = vec![state.audit.user_target(&user)];
    targets.extend(fields.keys().map(|path| format!("field:{path}")));
    let stored = state.enricher.set_overrides(&user, fields).await?;
    let outcome = match &stored {
        Ok(_) => "ok".to_owned(),
        Err(err) => format!("failed: {err}"),
    };
    state
        .record(&caller, "overrides.set", targets, &outcome)
        .await;
    Ok(HttpResponse::Ok().json(stored.map_err(ApiError::CacheUnavailable)?))
}

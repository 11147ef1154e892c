//! `GET /v1/profiles/{user_id}` and `DELETE /v1/profiles/{user_id}`.

use actix_web::{HttpRequest, HttpResponse, http::header::ContentType, web};

use super::{
    AppState,
    auth::ApiCaller,
    error::ApiError,
    openapi::{ErrorResponse, UNAUTHORIZED},
};
use crate::{
    domain::{FieldError, UserId},
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
        (status = 200, description = "The profile.", body = Profile, example = json!(super::openapi::profile_example())),
        (status = 400, description = "A malformed user id or query parameter.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = "Nothing cached for this user (`profile_not_found`).", body = ErrorResponse),
        (status = 502, description = "Refresh only: every source failed.", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn get_profile(
    _caller: ApiCaller,
    request: HttpRequest,
    user_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user_id = parse_user_id(&user_id)?;
    let refresh = refresh_flag(&request)?;
    let profile = if refresh {
        state.enricher.refresh(user_id.as_str()).await.transpose()?
    } else {
        state.enricher.cached(user_id.as_str()).await
    };
    let profile = profile.ok_or(ApiError::ProfileNotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(profile))
}

/// Erase everything held about the user. 204 even when nothing was held.
#[utoipa::path(
    delete,
    path = "/v1/profiles/{user_id}",
    operation_id = "deleteProfile",
    tag = "profiles",
    summary = "Erase everything held about the user, on every tier and replica.",
    params(
        ("user_id" = String, Path, description = "1-128 characters of A-Za-z0-9._:@-", pattern = "^[A-Za-z0-9._:@-]{1,128}$"),
    ),
    responses(
        (status = 204, description = "Erased (or nothing was held)."),
        (status = 400, description = "A malformed user id.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 503, description = "Redis is down; nothing was pretended (`cache_unavailable`).", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn delete_profile(
    _caller: ApiCaller,
    user_id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let user_id = parse_user_id(&user_id)?;
    state
        .enricher
        .erase(user_id.as_str())
        .await
        .map_err(ApiError::CacheUnavailable)?;
    Ok(HttpResponse::NoContent().finish())
}

fn parse_user_id(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|message| FieldError::new("user_id", message).into())
}

/// `?refresh=true|false`; anything else is a 400 naming the parameter.
fn refresh_flag(request: &HttpRequest) -> Result<bool, ApiError> {
    let query = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map_err(|err| FieldError::new("query", format!("cannot be parsed: {err}")))?;
    let mut refresh = false;
    for (name, value) in query.into_inner() {
        match (name.as_str(), value.as_str()) {
            ("refresh", "true") => refresh = true,
            ("refresh", "false") => refresh = false,
            ("refresh", _) => {
                return Err(FieldError::new("refresh", "must be `true` or `false`").into());
            }
            (other, _) => {
                return Err(FieldError::new(
                    other,
                    "is not a query parameter of this route; only `refresh` is",
                )
                .into());
            }
        }
    }
    Ok(refresh)
}

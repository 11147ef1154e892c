//! `GET /v1/profiles/{user_id}` and `DELETE /v1/profiles/{user_id}`.

use actix_web::{HttpRequest, HttpResponse, http::header::ContentType, web};

use super::{AppState, auth::ApiCaller, error::ApiError};
use crate::domain::{FieldError, UserId};

/// The cached profile (fresh or stale); `?refresh=true` re-enriches it first.
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

//! `GET /v1/usage`: what the caller's tenant spent today (PRODUCT.md §11).

use actix_web::{HttpRequest, HttpResponse, web};

use super::{
    AppState,
    auth::ApiCaller,
    error::ApiError,
    query,
    schemas::{ErrorResponse, UNAUTHORIZED},
};
use crate::spend::Usage;

/// Today's spend of the caller's tenant (an admin names one with `x-enrichd-tenant`).
#[utoipa::path(
    get,
    path = "/v1/usage",
    operation_id = "usage",
    tag = "enrichment",
    summary = "Today's spend (UTC day) of the caller's tenant: credits, calls per connector, the budget left.",
    responses(
        (status = 200, description = "Today's spend; `spent` counts calls still running at their most.", body = Usage,
            example = json!({"tenant": "default", "day": "2026-11-30", "spent": 12.5, "budget": 5000.0, "remaining": 4987.5,
                "connectors": {"hubspot": {"calls": 10, "cost": 10.0}, "github": {"calls": 25, "cost": 0.0}, "pdl": {"calls": 5, "cost": 2.5}}})),
        (status = 400, description = "A query parameter (this route takes none).", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 503, description = "Redis could not be asked (`cache_unavailable`).", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn usage(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    query::pairs(&request, &[])?;
    let usage = state
        .ledger
        .usage(&caller.tenant)
        .await
        .map_err(ApiError::CacheUnavailable)?;
    Ok(HttpResponse::Ok().json(usage))
}

//! `POST /v1/enrich` and `POST /v1/enrich/batch`.

use actix_web::{HttpRequest, HttpResponse, http::header::ContentType, web};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{
    AppState,
    auth::ApiCaller,
    body,
    error::ApiError,
    query,
    schemas::{BatchResults, ErrorResponse, UNAUTHORIZED},
};
use crate::{
    domain::{EnrichRequestBody, FieldError, Tenant},
    enrichment::profile::Profile,
};

/// Most subjects one batch may carry.
pub const MAX_BATCH: usize = 100;

/// Enrich one subject.
#[utoipa::path(
    post,
    path = "/v1/enrich",
    operation_id = "enrich",
    tag = "enrichment",
    summary = "Enrich one subject; served from cache when fresh.",
    params(("dry_run" = Option<bool>, Query, description = "Answer what would be done (a `DryRun`), calling and storing nothing.")),
    request_body(content = EnrichRequestBody, example = json!(super::schemas::subject_example())),
    responses(
        (status = 200, description = "The merged profile; with `?dry_run=true`, a `DryRun` instead: which connectors would be called and why not the others, the cache's state and the projected cost (nothing is called or stored).", body = Profile,
            headers(("server-timing" = String, description = "Where the time went: `cache;desc=\"miss\", hubspot;dur=21, github;dur=19, total;dur=24.3` (one entry per connector called).")),
            example = json!(super::schemas::profile_example())),
        (status = 400, description = "Malformed JSON (`invalid_json`) or a bad field (`invalid_request`, `details.field`).", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 408, description = "The body did not arrive within server.body_timeout_ms (`request_timeout`).", body = ErrorResponse),
        (status = 413, description = "The body is larger than server.max_body_bytes.", body = ErrorResponse),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorResponse),
        (status = 402, description = "Every connector that could answer would pass the tenant's daily budget or the request's `max_cost` (`budget_exhausted`); none was called.", body = ErrorResponse),
        (status = 451, description = "An identifier of the subject (sent, or remembered for the user) is suppressed (`subject_suppressed`); nothing was called or stored.", body = ErrorResponse),
        (status = 502, description = "Every source failed (`all_sources_failed`), or a required one did (`required_source_failed`); `details.sources` says how.", body = ErrorResponse),
        (status = 504, description = "An identical enrichment in flight did not finish in time.", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn enrich(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // The hit path parses no query string when there is none.
    let dry_run =
        !request.query_string().is_empty() && query::flag(&request, "dry_run", &["dry_run"])?;
    let body: EnrichRequestBody = body::json_body(&request, payload, &state.body).await?;
    let request = state.enrich_request(body, &caller.tenant)?;
    if dry_run {
        let plan = state.enricher.dry_run(request).await?;
        return Ok(HttpResponse::Ok().json(plan));
    }
    let answer = state.enricher.enrich(request).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .insert_header(("server-timing", answer.server_timing))
        .body(answer.body))
}

/// The subjects of a batch, each validated on its own: a bad subject fails only its own result.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    // `maxItems` is `MAX_BATCH` (a unit test of `openapi` checks they agree).
    /// At most 100.
    #[schema(value_type = Vec<EnrichRequestBody>, max_items = 100)]
    subjects: Vec<Value>,
}

/// Enrich up to [`MAX_BATCH`] subjects; each result is a profile or an error, in order.
#[utoipa::path(
    post,
    path = "/v1/enrich/batch",
    operation_id = "enrichBatch",
    tag = "enrichment",
    summary = "Enrich up to 100 subjects; results in order, each a profile or an error.",
    request_body(content = inline(BatchBody)),
    responses(
        (status = 200, description = "One result per subject.", body = BatchResults),
        (status = 400, description = "Malformed JSON, or more than 100 subjects (`details.field` = `subjects`).", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 408, description = "The body did not arrive within server.body_timeout_ms (`request_timeout`).", body = ErrorResponse),
        (status = 413, description = "The body is larger than server.max_body_bytes.", body = ErrorResponse),
        (status = 415, description = "The body is not sent as application/json.", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn enrich_batch(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let batch: BatchBody = body::json_body(&request, payload, &state.body).await?;
    if batch.subjects.len() > MAX_BATCH {
        return Err(FieldError::new(
            "subjects",
            format!(
                "holds {} subjects; at most {MAX_BATCH} are allowed per batch",
                batch.subjects.len()
            ),
        )
        .into());
    }
    let results: Vec<Bytes> = stream::iter(batch.subjects)
        .map(|subject| enrich_one(&state, &caller.tenant, subject))
        .buffered(state.batch_concurrency)
        .collect()
        .await;
    let mut out = BytesMut::with_capacity(results.iter().map(Bytes::len).sum::<usize>() + 16);
    out.put_slice(b"{\"results\":[");
    for (index, result) in results.iter().enumerate() {
        if index > 0 {
            out.put_u8(b',');
        }
        out.put_slice(result);
    }
    out.put_slice(b"]}");
    Ok(json(out.freeze()))
}

/// One batch item: its profile JSON, or `{"user_id": ..., "error": {...}}`.
async fn enrich_one(state: &AppState, tenant: &Tenant, subject: Value) -> Bytes {
    let user_id = subject.get("user_id").cloned().unwrap_or(Value::Null);
    let result = async {
        let body: EnrichRequestBody = body::from_value(subject)?;
        let request = state.enrich_request(body, tenant)?;
        Ok::<_, ApiError>(state.enricher.enrich(request).await?)
    }
    .await;
    match result {
        Ok(answer) => answer.body,
        Err(err) => {
            let item = json!({"user_id": user_id, "error": err.to_json()});
            Bytes::from(serde_json::to_vec(&item).expect("JSON values serialize"))
        }
    }
}

fn json(body: Bytes) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

//! `POST /v1/enrich` and `POST /v1/enrich/batch`.

use actix_web::{HttpRequest, HttpResponse, http::header::ContentType, web};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, auth::ApiCaller, body, error::ApiError};
use crate::domain::{EnrichRequestBody, FieldError};

/// Most subjects one batch may carry.
pub const MAX_BATCH: usize = 100;

/// Enrich one subject.
pub async fn enrich(
    _caller: ApiCaller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: EnrichRequestBody = body::json_body(&request, payload, &state.body).await?;
    let request = state.enrich_request(body)?;
    let profile = state.enricher.enrich(request).await?;
    Ok(json(profile))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchBody {
    subjects: Vec<Value>,
}

/// Enrich up to [`MAX_BATCH`] subjects; each result is a profile or an error, in order.
pub async fn enrich_batch(
    _caller: ApiCaller,
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
        .map(|subject| enrich_one(&state, subject))
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
async fn enrich_one(state: &AppState, subject: Value) -> Bytes {
    let user_id = subject.get("user_id").cloned().unwrap_or(Value::Null);
    let result = async {
        let body: EnrichRequestBody = body::from_value(subject)?;
        let request = state.enrich_request(body)?;
        Ok::<_, ApiError>(state.enricher.enrich(request).await?)
    }
    .await;
    match result {
        Ok(profile) => profile,
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

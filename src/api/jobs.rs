//! `/v1/jobs`: bulk jobs (PRODUCT.md §12) — submit (JSON or NDJSON), status, results
//! (streamed NDJSON), cancel, and the webhook's delivery log and redelivery. A job belongs
//! to the caller's tenant; another tenant's job is "not found".

use std::collections::BTreeSet;

use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use futures_util::TryStreamExt;
use serde::Deserialize;
use serde_json::{Value, json, value::RawValue};
use utoipa::ToSchema;

use super::{
    AppState,
    auth::{ApiCaller, Caller},
    body::{self, BodyLimits},
    error::ApiError,
    query,
    schemas::{ErrorResponse, UNAUTHORIZED},
};
use crate::{
    domain::{EnrichRequest, EnrichRequestBody, FieldError, Tenant, UserId, UserKey},
    jobs::{Line, Meta, StoreError, SubjectError, Submission},
};

/// The 404 of every route naming a job.
const NO_JOB: &str = "No such job for this tenant (`job_not_found`).";
/// Their 503.
const REDIS_DOWN: &str = "Redis is down (`cache_unavailable`).";

/// The media type of an NDJSON body (and of the results).
const NDJSON: &str = "application/x-ndjson";

/// The JSON form of a job.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobBody {
    /// The subjects, each as `POST /v1/enrich` takes it; at most `jobs.max_subjects`.
    #[schema(value_type = Vec<EnrichRequestBody>)]
    #[serde(deserialize_with = "bounded::subjects")]
    subjects: Vec<Box<RawValue>>,
    /// Where to POST the signed notice when the job ends.
    #[serde(default)]
    webhook: Option<WebhookBody>,
    /// Skip the cache for every subject.
    #[serde(default)]
    refresh: bool,
    /// Ask only these connectors, for every subject.
    #[serde(default)]
    connectors: Option<Vec<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// An http(s) URL whose host is in `jobs.webhook_allowed_hosts`.
    url: String,
}

/// The options of a job, from the JSON body or the NDJSON body's query.
struct Options {
    webhook: Option<String>,
    refresh: bool,
    connectors: Option<Vec<String>>,
}

/// Submit a job.
#[utoipa::path(
    post,
    path = "/v1/jobs",
    operation_id = "submitJob",
    tag = "jobs",
    summary = "Submit a bulk job: subjects as JSON or NDJSON (one a line); enriched in the background.",
    params(
        ("webhook_url" = Option<String>, Query, description = "NDJSON bodies: the webhook URL."),
        ("refresh" = Option<bool>, Query, description = "NDJSON bodies: skip the cache for every subject."),
        ("connectors" = Option<String>, Query, description = "NDJSON bodies: comma-separated connectors to ask."),
    ),
    request_body(content = JobBody, description = "Or `application/x-ndjson`: one subject a line."),
    responses(
        (status = 202, description = "Queued; `Location` names the job. Invalid lines are reported in the results, not refused.",
            example = json!({"job_id": "0f8fad5bd9cb469fa16570867728950e", "status": "queued", "total": 2})),
        (status = 400, description = "A body that is not a job (`invalid_json`, `invalid_request`): no subjects, a bad webhook URL or connector.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 408, description = "The body did not arrive within server.body_timeout_ms.", body = ErrorResponse),
        (status = 413, description = "Over jobs.max_body_bytes (`payload_too_large`) or jobs.max_subjects (`too_many_subjects`).", body = ErrorResponse),
        (status = 415, description = "Neither application/json nor application/x-ndjson.", body = ErrorResponse),
        (status = 429, description = "jobs.max_queued_subjects are waiting already (`job_queue_full`).", body = ErrorResponse),
        (status = 503, description = "Redis is down (`cache_unavailable`), or too many jobs are being submitted at once.", body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn submit(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let media = body::media_type(&request);
    let ndjson = media == NDJSON;
    if !ndjson && !body::is_json(&request) {
        return Err(ApiError::UnsupportedJobMediaType);
    }
    // Jobs' bodies are large: a few at a time, so that memory stays bounded.
    let Ok(_permit) =
        tokio::time::timeout(state.body.timeout, state.job_submissions.acquire()).await
    else {
        return Err(ApiError::JobsBusy);
    };
    let limits = BodyLimits {
        max_bytes: state.jobs.config().max_body_bytes,
        timeout: state.body.timeout,
    };
    let options = if ndjson {
        ndjson_options(&request)?
    } else {
        query::pairs(&request, &[])?;
        Options {
            webhook: None,
            refresh: false,
            connectors: None,
        }
    };
    let raw = body::bytes(&request, payload, &limits).await?.freeze();
    let max = state.jobs.config().max_subjects;
    let snapshot = state.registry.snapshot();
    let tenant = caller.tenant.clone();
    // Up to jobs.max_body_bytes of parsing: on the blocking pool, not on an HTTP worker.
    let (lines, options) = web::block(move || {
        read_job(
            &raw,
            ndjson,
            options,
            max,
            &|name| snapshot.contains(name),
            &tenant,
        )
    })
    .await
    .map_err(|_| ApiError::JobsBusy)??;
    if lines.is_empty() {
        return Err(FieldError::new("subjects", "must hold at least one subject").into());
    }
    if let Some(url) = &options.webhook {
        let allowed = reqwest::Url::parse(url).is_ok_and(|u| state.jobs.webhook_allowed(&u));
        if !allowed {
            return Err(FieldError::new(
                if ndjson { "webhook_url" } else { "webhook.url" },
                "must be an http(s) URL whose host is in jobs.webhook_allowed_hosts",
            )
            .into());
        }
    }
    let connectors = checked_connectors(&state, options.connectors)?;
    let submission = Submission {
        tenant: caller.tenant.clone(),
        lines,
        webhook: options.webhook,
        refresh: options.refresh,
        connectors,
    };
    let meta = state
        .jobs
        .submit(submission)
        .await
        .map_err(|err| match err {
            StoreError::Full => ApiError::JobQueueFull,
            StoreError::Redis(err) => ApiError::CacheUnavailable(err),
        })?;
    state
        .record(
            &caller,
            "job.submit",
            vec![format!("job:{}", meta.id)],
            "ok",
        )
        .await;
    Ok(HttpResponse::Accepted()
        .insert_header(("location", format!("/v1/jobs/{}", meta.id)))
        .json(json!({"job_id": meta.id, "status": meta.status, "total": meta.counts.total})))
}

/// The lines of a job body, each a subject or the reason it is not, and the job's options.
fn read_job(
    raw: &Bytes,
    ndjson: bool,
    options: Options,
    max: usize,
    is_connector: &dyn Fn(&str) -> bool,
    tenant: &Tenant,
) -> Result<(Vec<Line>, Options), ApiError> {
    if ndjson {
        let lines = split_lines(raw, max).ok_or(ApiError::TooManySubjects { limit: max })?;
        let lines = lines
            .into_iter()
            .map(|line| ndjson_line(is_connector, tenant, line))
            .collect();
        return Ok((lines, options));
    }
    let job: JobBody = bounded::within(max, || body::parse(raw))
        .ok_or(ApiError::TooManySubjects { limit: max })??;
    let options = Options {
        webhook: job.webhook.map(|w| w.url),
        refresh: job.refresh,
        connectors: job.connectors,
    };
    let lines = job
        .subjects
        .into_iter()
        .map(|subject| {
            let line = Bytes::copy_from_slice(subject.get().as_bytes());
            ndjson_line(is_connector, tenant, line)
        })
        .collect();
    Ok((lines, options))
}

/// The non-empty lines of an NDJSON body (a `\r` before the `\n` is dropped); `None` past
/// `max` (told before they are all split: a body of empty-ish lines must not become millions
/// of slices).
fn split_lines(raw: &Bytes, max: usize) -> Option<Vec<Bytes>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for end in memchr_newlines(raw).chain(std::iter::once(raw.len())) {
        let mut line = raw.slice(start..end);
        if line.ends_with(b"\r") {
            line.truncate(line.len() - 1);
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            if lines.len() == max {
                return None;
            }
            lines.push(line);
        }
        start = end + 1;
    }
    Some(lines)
}

/// The `subjects` of a JSON job, refused past `jobs.max_subjects` while they are read: a
/// body of `[1,1,1,…]` must not become millions of values first.
mod bounded {
    use std::{cell::Cell, fmt};

    use serde::de::{Deserializer, Error, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    thread_local! {
        /// The most subjects the parse on this thread may read, and whether it had more.
        static LIMIT: Cell<(usize, bool)> = const { Cell::new((usize::MAX, false)) };
    }

    /// `parse` with at most `max` subjects; `None` when the body had more.
    pub fn within<T>(max: usize, parse: impl FnOnce() -> T) -> Option<T> {
        LIMIT.set((max, false));
        let parsed = parse();
        let (_, over) = LIMIT.replace((usize::MAX, false));
        (!over).then_some(parsed)
    }

    pub fn subjects<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Box<RawValue>>, D::Error> {
        struct Subjects;
        impl<'de> Visitor<'de> for Subjects {
            type Value = Vec<Box<RawValue>>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of subjects")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let (max, _) = LIMIT.get();
                let mut subjects = Vec::new();
                while let Some(subject) = seq.next_element::<Box<RawValue>>()? {
                    if subjects.len() == max {
                        LIMIT.set((max, true));
                        return Err(A::Error::custom("too many subjects"));
                    }
                    subjects.push(subject);
                }
                Ok(subjects)
            }
        }
        d.deserialize_seq(Subjects)
    }
}

fn memchr_newlines(raw: &[u8]) -> impl Iterator<Item = usize> + '_ {
    raw.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
}

fn ndjson_options(request: &HttpRequest) -> Result<Options, ApiError> {
    let mut options = Options {
        webhook: None,
        refresh: false,
        connectors: None,
    };
    for (name, value) in query::pairs(request, &["webhook_url", "refresh", "connectors"])? {
        match name.as_str() {
            "webhook_url" => options.webhook = Some(value),
            "refresh" => {
                options.refresh = match value.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(FieldError::new("refresh", "must be `true` or `false`").into()),
                }
            }
            _ => {
                options.connectors = Some(value.split(',').map(|c| c.trim().to_owned()).collect());
            }
        }
    }
    Ok(options)
}

/// The job's `connectors`, each configured, without repeats.
fn checked_connectors(
    state: &AppState,
    connectors: Option<Vec<String>>,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(connectors) = connectors else {
        return Ok(None);
    };
    let snapshot = state.registry.snapshot();
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    for name in connectors {
        if !snapshot.contains(&name) {
            return Err(FieldError::new(
                "connectors",
                format!("`{name}` is not a configured connector"),
            )
            .into());
        }
        if seen.insert(name.clone()) {
            kept.push(name);
        }
    }
    if kept.is_empty() {
        return Err(FieldError::new("connectors", "must name at least one connector").into());
    }
    Ok(Some(kept))
}

/// One subject's JSON: a valid subject, or the error that makes it invalid.
fn ndjson_line(is_connector: &dyn Fn(&str) -> bool, tenant: &Tenant, line: Bytes) -> Line {
    let invalid = |error: ApiError, line: &Bytes| {
        let value: Option<Value> = serde_json::from_slice(line).ok();
        Line::Invalid {
            user: value.as_ref().and_then(|v| user_of(tenant, v)),
            error: error.to_json(),
        }
    };
    let body = match body::parse::<EnrichRequestBody>(&line) {
        Ok(body) => body,
        Err(err) => return invalid(err, &line),
    };
    let user_id = body.user_id.clone();
    match EnrichRequest::parse(body, is_connector) {
        Ok(_) => Line::Valid {
            user: UserKey::new(tenant, &user_id),
            subject: line,
        },
        Err(err) => invalid(ApiError::InvalidField(err), &line),
    }
}

/// The user a line names, when its `user_id` is valid.
fn user_of(tenant: &Tenant, subject: &Value) -> Option<UserKey> {
    let id = UserId::parse(subject.get("user_id")?.as_str()?).ok()?;
    Some(UserKey::new(tenant, id.as_str()))
}

/// How a subject's error reads in its result line: as the API would answer it.
pub fn describe(error: SubjectError) -> Value {
    match error {
        SubjectError::Field(field) => ApiError::InvalidField(field).to_json(),
        SubjectError::Enrich(err) => ApiError::from(err).to_json(),
    }
}

/// The job `id` of the caller's tenant, for a route that takes no query parameter.
async fn job_of(
    state: &AppState,
    caller: &Caller,
    request: &HttpRequest,
    id: &str,
) -> Result<Meta, ApiError> {
    query::pairs(request, &[])?;
    find_job(state, caller, id).await
}

/// The job `id` of the caller's tenant.
async fn find_job(state: &AppState, caller: &Caller, id: &str) -> Result<Meta, ApiError> {
    state
        .jobs
        .get(Some(&caller.tenant), id)
        .await
        .map_err(ApiError::CacheUnavailable)?
        .ok_or(ApiError::JobNotFound)
}

/// The jobs listed when `limit` is not given.
const LISTED_BY_DEFAULT: usize = 20;

/// The tenant's jobs, newest first.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    operation_id = "listJobs",
    tag = "jobs",
    summary = "The caller's tenant's jobs still kept, newest first (what `GET /v1/jobs/{id}` answers for each).",
    params(("limit" = Option<u64>, Query, description = "At most this many jobs, 1-1000 (default 20).")),
    responses(
        (status = 200, description = "The jobs.", example = json!({"jobs": [{"job_id": "0f8fad5bd9cb469fa16570867728950e", "status": "running",
            "counts": {"total": 1000, "done": 420, "ok": 400, "partial": 12, "failed": 5, "suppressed": 3},
            "created_at": "2026-12-01T10:00:00Z", "started_at": "2026-12-01T10:00:01Z", "finished_at": null, "eta_seconds": 14,
            "refresh": false, "connectors": null, "webhook": {"configured": true}}]})),
        (status = 400, description = "A bad `limit`.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 503, description = REDIS_DOWN, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn list(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut limit = LISTED_BY_DEFAULT;
    for (_, value) in query::pairs(&request, &["limit"])? {
        limit = query::limit(&value, crate::jobs::LISTED)?;
    }
    let jobs = state
        .jobs
        .recent(&caller.tenant, limit)
        .await
        .map_err(ApiError::CacheUnavailable)?;
    let now = crate::clock::unix_ms(std::time::SystemTime::now());
    let views: Vec<Value> = jobs.iter().map(|meta| meta.view(now)).collect();
    Ok(HttpResponse::Ok().json(json!({ "jobs": views })))
}

/// A job's status and counts.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    operation_id = "getJob",
    tag = "jobs",
    summary = "A job's status, counts and ETA.",
    params(("id" = String, Path, description = "The job id (32 hex digits).")),
    responses(
        (status = 200, description = "The job.", example = json!({"job_id": "0f8fad5bd9cb469fa16570867728950e", "status": "running",
            "counts": {"total": 1000, "done": 420, "ok": 400, "partial": 12, "failed": 5, "suppressed": 3},
            "created_at": "2026-12-01T10:00:00Z", "started_at": "2026-12-01T10:00:01Z", "finished_at": null, "eta_seconds": 14,
            "refresh": false, "connectors": null, "webhook": {"configured": true}})),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = NO_JOB, body = ErrorResponse),
        (status = 503, description = REDIS_DOWN, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn status(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let meta = job_of(&state, &caller, &request, &id).await?;
    Ok(HttpResponse::Ok().json(meta.view(crate::clock::unix_ms(std::time::SystemTime::now()))))
}

/// Cancel a job.
#[utoipa::path(
    delete,
    path = "/v1/jobs/{id}",
    operation_id = "cancelJob",
    tag = "jobs",
    summary = "Cancel a job: subjects not started are not enriched; the webhook says `cancelled`.",
    params(("id" = String, Path, description = "The job id.")),
    responses(
        (status = 200, description = "The job after the cancellation (a job already over is left as it was)."),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = NO_JOB, body = ErrorResponse),
        (status = 503, description = REDIS_DOWN, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn cancel(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let meta = job_of(&state, &caller, &request, &id).await?;
    let cancelled = state
        .jobs
        .cancel(&meta.id)
        .await
        .map_err(ApiError::CacheUnavailable)?;
    if cancelled {
        state
            .record(
                &caller,
                "job.cancel",
                vec![format!("job:{}", meta.id)],
                "ok",
            )
            .await;
    }
    let meta = find_job(&state, &caller, &id).await?;
    Ok(HttpResponse::Ok().json(meta.view(crate::clock::unix_ms(std::time::SystemTime::now()))))
}

/// A job's results.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/results",
    operation_id = "jobResults",
    tag = "jobs",
    summary = "A job's results as NDJSON, in input order: `{index, user_id, profile | error}` per recorded subject.",
    params(
        ("id" = String, Path, description = "The job id."),
        ("after" = Option<u64>, Query, description = "Only subjects after this index."),
        ("limit" = Option<u64>, Query, description = "At most this many indexes (≥ 1)."),
    ),
    responses(
        (status = 200, description = "NDJSON, streamed; subjects not recorded yet are left out.", content_type = "application/x-ndjson", body = String),
        (status = 400, description = "A bad `after` or `limit`.", body = ErrorResponse),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = NO_JOB, body = ErrorResponse),
        (status = 503, description = REDIS_DOWN, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn results(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (mut after, mut limit) = (None, u64::MAX);
    for (name, value) in query::pairs(&request, &["after", "limit"])? {
        let number = value.parse::<u64>().ok();
        match (name.as_str(), number) {
            ("after", Some(n)) => after = Some(n),
            ("limit", Some(n)) if n >= 1 => limit = n,
            _ => {
                return Err(FieldError::new(
                    name.as_str(),
                    "must be a whole number (limit: at least 1)",
                )
                .into());
            }
        }
    }
    let meta = find_job(&state, &caller, &id).await?;
    let lines = state
        .jobs
        .results(&meta, after, limit)
        .map_err(|err| std::io::Error::other(err.to_string()));
    Ok(HttpResponse::Ok().content_type(NDJSON).streaming(lines))
}

/// A job's webhook deliveries.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/webhook",
    operation_id = "jobWebhook",
    tag = "jobs",
    summary = "The job's webhook attempts: when, the receiver's status, whether delivered.",
    params(("id" = String, Path, description = "The job id.")),
    responses(
        (status = 200, description = "The attempts, oldest first (the last 100).",
            example = json!({"job_id": "0f8fad5bd9cb469fa16570867728950e", "configured": true, "attempts": [
                {"attempt": 1, "at": "2026-12-01T10:01:00Z", "status": 500, "delivered": false, "error": "answered 500", "duration_ms": 12},
                {"attempt": 2, "at": "2026-12-01T10:01:01Z", "status": 204, "delivered": true, "error": null, "duration_ms": 9}]})),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = NO_JOB, body = ErrorResponse),
        (status = 503, description = REDIS_DOWN, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn webhook(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let meta = job_of(&state, &caller, &request, &id).await?;
    let attempts = state
        .jobs
        .attempts(&meta.id)
        .await
        .map_err(ApiError::CacheUnavailable)?;
    Ok(HttpResponse::Ok().json(json!({
        "job_id": meta.id,
        "configured": meta.webhook.is_some(),
        "attempts": attempts,
    })))
}

/// Send a job's webhook again.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/webhook/redeliver",
    operation_id = "redeliverJobWebhook",
    tag = "jobs",
    summary = "Send the job's webhook again (new attempts, logged).",
    params(("id" = String, Path, description = "The job id.")),
    responses(
        (status = 202, description = "Sending, in the background."),
        (status = 401, description = UNAUTHORIZED, body = ErrorResponse),
        (status = 404, description = NO_JOB, body = ErrorResponse),
        (status = 409, description = "The job has no webhook, or is not over yet (`job_conflict`).", body = ErrorResponse),
        (status = 503, description = REDIS_DOWN, body = ErrorResponse),
    ),
    security(("apiKey" = []), ("adminToken" = [])),
)]
pub async fn redeliver(
    ApiCaller(caller): ApiCaller,
    request: HttpRequest,
    id: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let meta = job_of(&state, &caller, &request, &id).await?;
    if meta.webhook.is_none() {
        return Err(ApiError::JobConflict("the job has no webhook"));
    }
    if meta.status.is_open() {
        return Err(ApiError::JobConflict(
            "the job is not over yet; its webhook is sent when it ends",
        ));
    }
    state.jobs.notify(&meta.id);
    Ok(HttpResponse::Accepted().json(json!({"job_id": meta.id, "redelivering": true})))
}

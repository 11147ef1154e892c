//! Helpers that make every connector behave the same towards its upstream: a deadline on each
//! request, a cap on response size, one mapping from HTTP status to [`ErrorCode`], `Retry-After`
//! parsing, error messages that never carry the request URL (it may hold an email), and the
//! processing of a large answer off enrichd's HTTP workers ([`UpstreamResponse::process`]).

use std::{
    error::Error as _,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::{Bytes, BytesMut};
use reqwest::{RequestBuilder, StatusCode, Url, header::HeaderMap};
use serde::de::DeserializeOwned;

use crate::{ConnectorError, EnrichContext, ErrorCode};

/// Bodies at least this large are taken apart off the HTTP worker by
/// [`UpstreamResponse::process`] (smaller ones cost less to parse than to hand over).
pub const OFF_WORKER_BYTES: usize = 64 * 1024;

/// A complete upstream answer whose body fitted under the size cap.
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl UpstreamResponse {
    /// A response from its parts (for tests of a connector's status mapping).
    pub fn from_parts(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(name), Ok(value)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                map.append(name, value);
            }
        }
        UpstreamResponse {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            headers: map,
            body: Bytes::from(body.to_owned()),
        }
    }

    /// Parse the body as JSON into `T`. A body that is not the expected JSON is a
    /// `bad_response` naming where it went wrong; the offending value is never quoted (it may
    /// be personal data).
    ///
    /// In `enrich`, prefer [`json_async`](Self::json_async): a large body is then parsed off
    /// the HTTP worker.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        parse_json(&self.body)
    }

    /// [`json`](Self::json), off the HTTP worker when the body is large (see
    /// [`process`](Self::process)).
    pub async fn json_async<T: DeserializeOwned + Send + 'static>(
        self,
    ) -> Result<T, ConnectorError> {
        self.process(|response| response.json()).await
    }

    /// Run `work` on this answer: at once when the body is small, on tokio's blocking pool when
    /// it is at least [`OFF_WORKER_BYTES`]. enrichd's HTTP workers also serve cache hits and
    /// `/healthz`; parsing and mapping a megabyte of JSON (100,000 tags, say) on one would hold
    /// it for a long while — on the blocking pool it holds nobody, and the request's deadline
    /// still fires on time. Put all CPU-heavy handling of an answer in `work`.
    pub async fn process<T, F>(self, work: F) -> Result<T, ConnectorError>
    where
        T: Send + 'static,
        F: FnOnce(UpstreamResponse) -> Result<T, ConnectorError> + Send + 'static,
    {
        if self.body.len() < OFF_WORKER_BYTES {
            return work(self);
        }
        tokio::task::spawn_blocking(move || work(self))
            .await
            .unwrap_or_else(|_| {
                Err(ConnectorError::bad_response(
                    "taking the response apart failed (the connector panicked)",
                ))
            })
    }

    /// The response when its status is a success (2xx), else the error `error` makes of it
    /// (usually the connector's own status mapping, or [`status_error`]):
    ///
    /// ```no_run
    /// # async fn example(request: reqwest::RequestBuilder, ctx: &enrichd_sdk::EnrichContext) -> Result<(), enrichd_sdk::ConnectorError> {
    /// use enrichd_sdk::http::{send, status_error};
    ///
    /// let response = send(request, ctx)
    ///     .await?
    ///     .success_or_else(|response| status_error("Acme", response))?;
    /// # Ok(()) }
    /// ```
    pub fn success_or_else(
        self,
        error: impl FnOnce(&UpstreamResponse) -> ConnectorError,
    ) -> Result<UpstreamResponse, ConnectorError> {
        if self.status.is_success() {
            Ok(self)
        } else {
            Err(error(&self))
        }
    }

    /// A header's value as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

/// `base` with `segments` appended as path segments, each percent-encoded exactly once (an
/// email keeps its `@`; a `/` inside a segment cannot change the path).
pub fn endpoint(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

/// Send `request` within the context's deadline, with the context's trace headers (W3C
/// `traceparent`, when enrichd traces), and read the body under its size cap.
///
/// Any status is returned as a response; it is the connector's job to decide what a status
/// means for its API (usually with [`status_error`]).
pub async fn send(
    request: RequestBuilder,
    ctx: &EnrichContext,
) -> Result<UpstreamResponse, ConnectorError> {
    send_with(request, ctx, transport_error).await
}

/// [`send`], with `on_transport` deciding what a transport failure becomes (the host named by
/// the subject hides its cause: see [`crate::hosts::send`]).
pub(crate) async fn send_with(
    request: RequestBuilder,
    ctx: &EnrichContext,
    on_transport: fn(reqwest::Error) -> ConnectorError,
) -> Result<UpstreamResponse, ConnectorError> {
    let remaining = ctx.remaining();
    if remaining.is_zero() {
        return Err(ConnectorError::timeout(
            "the deadline passed before the request was sent",
        ));
    }
    let mut request = request.timeout(remaining);
    if !ctx.trace_headers().is_empty() {
        request = request.headers(ctx.trace_headers().clone());
    }
    let response = request.send().await.map_err(on_transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped_with(response, ctx.max_response_bytes(), on_transport).await?;
    Ok(UpstreamResponse {
        status,
        headers,
        body,
    })
}

/// Read a response body, refusing it as soon as it grows past `max_bytes`.
pub async fn read_capped(
    response: reqwest::Response,
    max_bytes: usize,
) -> Result<Bytes, ConnectorError> {
    read_capped_with(response, max_bytes, transport_error).await
}

/// [`read_capped`], with `on_transport` deciding what a failure while reading becomes.
async fn read_capped_with(
    mut response: reqwest::Response,
    max_bytes: usize,
    on_transport: fn(reqwest::Error) -> ConnectorError,
) -> Result<Bytes, ConnectorError> {
    let too_large =
        || ConnectorError::bad_response(format!("response body exceeds {max_bytes} bytes"));
    if let Some(length) = response.content_length()
        && length > max_bytes as u64
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(on_transport)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parse JSON into `T`, describing a failure by position and path only.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ConnectorError> {
    // Plainly first: tracking the path costs on every value and only describes a failure,
    // which the same parse, tracked, then meets at the same place.
    if let Ok(value) = T::deserialize(&mut serde_json::Deserializer::from_slice(body)) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.inner();
        let what = match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "is not valid JSON"
            }
            _ => "does not have the expected shape",
        };
        let at = if path == "." {
            String::new()
        } else {
            format!(" at `{path}`")
        };
        ConnectorError::bad_response(format!(
            "response body {what}{at} (line {}, column {})",
            inner.line(),
            inner.column()
        ))
    })
}

/// Map a transport failure to a connector error, without the URL reqwest would print.
pub fn transport_error(err: reqwest::Error) -> ConnectorError {
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    if err.is_timeout() {
        ConnectorError::timeout(message)
    } else {
        ConnectorError::connection(message)
    }
}

/// The usual meaning of a non-success status, for an upstream called `upstream`.
///
/// 401/403 → `authentication`, 404/410 → `not_found`, 408 → `timeout`, 429 → `rate_limited`
/// (with `Retry-After`), 5xx → `connection` (retryable), anything else → `bad_response`.
/// Override it where a vendor differs (Salesforce signals its quota with a 403, say).
pub fn status_error(upstream: &str, response: &UpstreamResponse) -> ConnectorError {
    let status = response.status;
    let message = status_message(upstream, status.as_u16(), None);
    match status.as_u16() {
        401 | 403 => ConnectorError::authentication(message),
        404 | 410 => ConnectorError {
            message,
            ..ConnectorError::not_found()
        },
        408 => ConnectorError::timeout(message),
        429 => {
            ConnectorError::rate_limited(message, retry_after(&response.headers, SystemTime::now()))
        }
        500..=599 => ConnectorError {
            retry_after: retry_after(&response.headers, SystemTime::now()),
            ..ConnectorError::connection(message)
        },
        _ => ConnectorError::new(ErrorCode::BadResponse, message),
    }
}

/// How an error message about an upstream's answer begins: `HTTP {status} from {upstream}`,
/// followed by ` ({code})` when the vendor named an error code.
///
/// Pass a code only once [`is_error_code`] accepted it: a message never carries the vendor's
/// free text, which may quote the email or handle looked up.
///
/// ```
/// use enrichd_sdk::http::status_message;
///
/// assert_eq!(status_message("HubSpot", 404, Some("OBJECT_NOT_FOUND")), "HTTP 404 from HubSpot (OBJECT_NOT_FOUND)");
/// assert_eq!(status_message("HubSpot", 502, None), "HTTP 502 from HubSpot");
/// ```
pub fn status_message(upstream: &str, status: u16, code: Option<&str>) -> String {
    match code {
        Some(code) => format!("HTTP {status} from {upstream} ({code})"),
        None => format!("HTTP {status} from {upstream}"),
    }
}

/// How a vendor spells its error codes, for [`is_error_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeStyle {
    /// Upper-case letters, digits and `_`: `OBJECT_NOT_FOUND`, `INVALID_SESSION_ID`.
    UpperSnake,
    /// Lower-case letters, digits and `_`: `rate_limit_exceeded`.
    LowerSnake,
    /// Lower-case letters, digits and `-`: `usage-capped`.
    LowerKebab,
}

impl CodeStyle {
    fn allows(self, byte: u8) -> bool {
        byte.is_ascii_digit()
            || match self {
                CodeStyle::UpperSnake => byte.is_ascii_uppercase() || byte == b'_',
                CodeStyle::LowerSnake => byte.is_ascii_lowercase() || byte == b'_',
                CodeStyle::LowerKebab => byte.is_ascii_lowercase() || byte == b'-',
            }
    }
}

/// Whether `text` looks like one of the vendor's error codes, spelt in `style`, and so is safe
/// to show in a message (see [`status_message`]): 1 to 64 characters, all of the style. An
/// email, a URL or a sentence never passes.
pub fn is_error_code(text: &str, style: CodeStyle) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| style.allows(b))
}

/// The wait a rate-limited answer asks for, read in the order every connector uses: the
/// standard `Retry-After` header when present and readable, else what `vendor_wait` reads from
/// the vendor's own headers (a reset time, the seconds left in a window), else `fallback`.
///
/// ```
/// use std::time::{Duration, SystemTime};
///
/// use enrichd_sdk::http::{UpstreamResponse, rate_limit_wait, until_epoch_reset};
///
/// let response = UpstreamResponse::from_parts(429, &[("retry-after", "7")], "");
/// let now = SystemTime::now();
/// let wait = rate_limit_wait(
///     &response.headers,
///     now,
///     || until_epoch_reset(&response.headers, "x-ratelimit-reset", now),
///     Duration::from_secs(60),
/// );
/// assert_eq!(wait, Duration::from_secs(7));
/// ```
pub fn rate_limit_wait(
    headers: &HeaderMap,
    now: SystemTime,
    vendor_wait: impl FnOnce() -> Option<Duration>,
    fallback: Duration,
) -> Duration {
    retry_after(headers, now)
        .or_else(vendor_wait)
        .unwrap_or(fallback)
}

/// The wait asked for by a `Retry-After` header: delay-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// The wait until a reset time given in Unix epoch seconds, as in `x-ratelimit-reset`.
pub fn until_epoch_reset(headers: &HeaderMap, name: &str, now: SystemTime) -> Option<Duration> {
    let epoch: u64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(epoch);
    Some(at.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        UpstreamResponse::from_parts(status, headers, body)
    }

    #[test]
    fn endpoints_encode_each_segment_once() {
        let base = Url::parse("https://api.example.com/v1/").unwrap();
        let url = endpoint(&base, &["users", "ada+x@example.com", "a/b"]);
        assert_eq!(url.path(), "/v1/users/ada+x@example.com/a%2Fb");
    }

    #[test]
    fn statuses_map_to_their_error_codes() {
        let cases = [
            (401, ErrorCode::Authentication, false),
            (403, ErrorCode::Authentication, false),
            (404, ErrorCode::NotFound, false),
            (408, ErrorCode::Timeout, true),
            (429, ErrorCode::RateLimited, false),
            (500, ErrorCode::Connection, true),
            (503, ErrorCode::Connection, true),
            (418, ErrorCode::BadResponse, false),
        ];
        for (status, code, retryable) in cases {
            let err = status_error("test", &response(status, &[], ""));
            assert_eq!(
                (err.code, err.retryable),
                (code, retryable),
                "HTTP {status}"
            );
            assert_eq!(err.message, format!("HTTP {status} from test"));
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let seconds = response(429, &[("retry-after", "7")], "");
        assert_eq!(
            retry_after(&seconds.headers, now),
            Some(Duration::from_secs(7))
        );

        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        let dated = response(429, &[("retry-after", &date)], "");
        assert_eq!(
            retry_after(&dated.headers, now),
            Some(Duration::from_secs(30))
        );

        let garbage = response(429, &[("retry-after", "soon")], "");
        assert_eq!(retry_after(&garbage.headers, now), None);
        let err = status_error("test", &seconds);
        assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    }

    #[test]
    fn epoch_resets_become_waits() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let r = response(429, &[("x-rate-limit-reset", "1060")], "");
        assert_eq!(
            until_epoch_reset(&r.headers, "x-rate-limit-reset", now),
            Some(Duration::from_secs(60))
        );
        let past = response(429, &[("x-rate-limit-reset", "10")], "");
        assert_eq!(
            until_epoch_reset(&past.headers, "x-rate-limit-reset", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn only_successes_pass_and_the_rest_become_their_error() {
        let ok = response(204, &[], "").success_or_else(|r| status_error("test", r));
        assert_eq!(ok.unwrap().status.as_u16(), 204);
        let err = response(503, &[], "")
            .success_or_else(|r| status_error("test", r))
            .unwrap_err();
        assert_eq!(err.message, "HTTP 503 from test");
        assert_eq!(err.code, ErrorCode::Connection);
    }

    #[test]
    fn status_messages_name_the_upstream_the_status_and_a_code() {
        assert_eq!(status_message("X", 429, None), "HTTP 429 from X");
        assert_eq!(
            status_message("X", 429, Some("usage-capped")),
            "HTTP 429 from X (usage-capped)"
        );
    }

    #[test]
    fn only_code_like_text_of_the_vendors_style_is_an_error_code() {
        let cases = [
            ("OBJECT_NOT_FOUND", CodeStyle::UpperSnake, true),
            ("INVALID_SESSION_ID2", CodeStyle::UpperSnake, true),
            ("object_not_found", CodeStyle::UpperSnake, false),
            ("rate_limit_exceeded", CodeStyle::LowerSnake, true),
            ("RATE_LIMIT", CodeStyle::LowerSnake, false),
            ("usage-capped", CodeStyle::LowerKebab, true),
            ("usage_capped", CodeStyle::LowerKebab, false),
            ("ada@example.com", CodeStyle::LowerSnake, false),
            ("ada@example.com is bad", CodeStyle::UpperSnake, false),
            ("", CodeStyle::UpperSnake, false),
        ];
        for (text, style, expected) in cases {
            assert_eq!(is_error_code(text, style), expected, "{text} {style:?}");
        }
        assert!(is_error_code(&"A".repeat(64), CodeStyle::UpperSnake));
        assert!(!is_error_code(&"A".repeat(65), CodeStyle::UpperSnake));
    }

    #[test]
    fn rate_limit_waits_prefer_retry_after_then_the_vendor_then_the_fallback() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let fallback = Duration::from_secs(60);
        let vendor = || Some(Duration::from_secs(30));
        let both = response(429, &[("retry-after", "7")], "");
        assert_eq!(
            rate_limit_wait(&both.headers, now, vendor, fallback),
            Duration::from_secs(7)
        );
        let unreadable = response(429, &[("retry-after", "soon")], "");
        assert_eq!(
            rate_limit_wait(&unreadable.headers, now, vendor, fallback),
            Duration::from_secs(30)
        );
        assert_eq!(
            rate_limit_wait(&unreadable.headers, now, || None, fallback),
            fallback
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn large_answers_are_taken_apart_off_the_calling_thread() {
        let here = std::thread::current().id();
        let small = response(200, &[], "{}");
        let thread = small
            .process(|_| Ok(std::thread::current().id()))
            .await
            .unwrap();
        assert_eq!(thread, here, "a small body is parsed at once");

        let large = response(200, &[], &format!("[{}1]", "1,".repeat(OFF_WORKER_BYTES)));
        let (thread, items) = large
            .process(|r| {
                let items: Vec<u8> = r.json()?;
                Ok((std::thread::current().id(), items.len()))
            })
            .await
            .unwrap();
        assert_ne!(thread, here, "a large body is parsed elsewhere");
        assert_eq!(items, OFF_WORKER_BYTES + 1);

        let failing = response(200, &[], &" ".repeat(OFF_WORKER_BYTES))
            .json_async::<Vec<u8>>()
            .await
            .unwrap_err();
        assert_eq!(failing.code, ErrorCode::BadResponse);
        let panicked = response(200, &[], &" ".repeat(OFF_WORKER_BYTES))
            .process(|_| -> Result<(), ConnectorError> { panic!("boom") })
            .await
            .unwrap_err();
        assert_eq!(panicked.code, ErrorCode::BadResponse);
    }

    #[test]
    fn malformed_json_is_a_bad_response_that_quotes_no_value() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Person {
            age: u32,
        }
        let err = parse_json::<Person>(br#"{"age": "ada@example.com"}"#).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadResponse);
        assert!(err.message.contains("`age`"), "{}", err.message);
        assert!(!err.message.contains("ada@example.com"), "{}", err.message);

        let err = parse_json::<Person>(b"<html>").unwrap_err();
        assert!(err.message.contains("is not valid JSON"), "{}", err.message);
    }
}

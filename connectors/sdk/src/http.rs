//! Helpers that make every connector behave the same towards its upstream: a deadline on each
//! request, a cap on response size, one mapping from HTTP status to [`ErrorCode`], `Retry-After`
//! parsing, and error messages that never carry the request URL (it may hold an email).

use std::{
    error::Error as _,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::{Bytes, BytesMut};
use reqwest::{RequestBuilder, StatusCode, Url, header::HeaderMap};
use serde::de::DeserializeOwned;

use crate::{ConnectorError, EnrichContext, ErrorCode};

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
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        parse_json(&self.body)
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

/// Send `request` within the context's deadline and read the body under its size cap.
///
/// Any status is returned as a response; it is the connector's job to decide what a status
/// means for its API (usually with [`status_error`]).
pub async fn send(
    request: RequestBuilder,
    ctx: &EnrichContext,
) -> Result<UpstreamResponse, ConnectorError> {
    let remaining = ctx.remaining();
    if remaining.is_zero() {
        return Err(ConnectorError::timeout(
            "the deadline passed before the request was sent",
        ));
    }
    let response = request
        .timeout(remaining)
        .send()
        .await
        .map_err(transport_error)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = read_capped(response, ctx.max_response_bytes()).await?;
    Ok(UpstreamResponse {
        status,
        headers,
        body,
    })
}

/// Read a response body, refusing it as soon as it grows past `max_bytes`.
pub async fn read_capped(
    mut response: reqwest::Response,
    max_bytes: usize,
) -> Result<Bytes, ConnectorError> {
    let too_large =
        || ConnectorError::bad_response(format!("response body exceeds {max_bytes} bytes"));
    if let Some(length) = response.content_length()
        && length > max_bytes as u64
    {
        return Err(too_large());
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        if body.len() + chunk.len() > max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Parse JSON into `T`, describing a failure by position and path only.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ConnectorError> {
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
    let message = format!("HTTP {} from {upstream}", status.as_u16());
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

//! How Gravatar's error answers become [`ConnectorError`]s, with the wait of a 429 read from
//! its rate-limit headers.
//!
//! Messages name the status and Gravatar's error `code` (such as `rate_limit_exceeded`) when
//! it looks like one, never its `error` text.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    ConnectorError,
    http::{
        CodeStyle, UpstreamResponse, is_error_code, rate_limit_wait, status_error, status_message,
        until_epoch_reset,
    },
};
use serde::Deserialize;

const UPSTREAM: &str = "Gravatar";

/// The wait after a 429 whose `X-RateLimit-Reset` is missing or unreadable. Gravatar's window
/// is an hour; a minute keeps probes rare without idling for a whole window.
pub(crate) const FALLBACK_WAIT: Duration = Duration::from_secs(60);

/// Gravatar's error body, `{"error": "...", "code"?: "..."}`, as far as it is safe to show.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    code: Option<String>,
}

/// The error for a non-success answer from Gravatar, `now` being the time it arrived.
///
/// 401 and 403 are `authentication` (a bad API key), 404 `not_found` (no profile for the
/// hash), 429 `rate_limited` waiting `Retry-After` if present, else until `X-RateLimit-Reset`
/// (epoch seconds), else [`FALLBACK_WAIT`]; the rest as [`status_error`] maps it (5xx is a
/// retryable `connection` error).
pub(crate) fn from_response(response: &UpstreamResponse, now: SystemTime) -> ConnectorError {
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let status = response.status.as_u16();
    let code = body
        .code
        .as_deref()
        .filter(|c| is_error_code(c, CodeStyle::LowerSnake));
    let message = status_message(UPSTREAM, status, code);
    match status {
        401 | 403 => ConnectorError::authentication(message),
        404 => ConnectorError {
            message,
            ..ConnectorError::not_found()
        },
        429 => {
            let wait = rate_limit_wait(
                &response.headers,
                now,
                || until_epoch_reset(&response.headers, "x-ratelimit-reset", now),
                FALLBACK_WAIT,
            );
            ConnectorError::rate_limited(message, Some(wait))
        }
        _ => ConnectorError {
            message,
            ..status_error(UPSTREAM, response)
        },
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use enrichd_sdk::ErrorCode;

    use super::*;

    const NOW_SECS: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_SECS)
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        UpstreamResponse::from_parts(status, headers, body)
    }

    #[test]
    fn a_429_prefers_retry_after_then_the_reset_then_a_minute() {
        let reset = (NOW_SECS + 1800).to_string();
        let both = from_response(
            &response(
                429,
                &[("retry-after", "9"), ("x-ratelimit-reset", &reset)],
                "",
            ),
            now(),
        );
        assert_eq!(both.retry_after, Some(Duration::from_secs(9)));
        let reset_only = from_response(&response(429, &[("x-ratelimit-reset", &reset)], ""), now());
        assert_eq!(reset_only.code, ErrorCode::RateLimited);
        assert_eq!(reset_only.retry_after, Some(Duration::from_secs(1800)));
        let neither = from_response(&response(429, &[], ""), now());
        assert_eq!(neither.retry_after, Some(FALLBACK_WAIT));
    }

    #[test]
    fn only_code_like_codes_are_shown() {
        let shown = from_response(
            &response(400, &[], r#"{"error":"x","code":"invalid_hash"}"#),
            now(),
        );
        assert_eq!(shown.message, "HTTP 400 from Gravatar (invalid_hash)");
        assert_eq!(shown.code, ErrorCode::BadResponse);
        let hidden = from_response(
            &response(400, &[], r#"{"error":"x","code":"ada@example.com"}"#),
            now(),
        );
        assert_eq!(hidden.message, "HTTP 400 from Gravatar");
    }
}

//! How GitHub's error answers become [`ConnectorError`]s, telling its rate limits apart from
//! refused credentials (both can be a 403).
//!
//! Messages name the status and the kind of limit, never GitHub's own `message` text.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    ConnectorError,
    http::{UpstreamResponse, retry_after, status_error, status_message, until_epoch_reset},
};
use serde::Deserialize;

const UPSTREAM: &str = "GitHub";

/// The wait after a secondary rate limit that names no wait: GitHub asks for "at least one
/// minute".
pub(crate) const SECONDARY_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// GitHub's `basic-error` body, as far as it helps to classify a 403.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
}

/// The error for a non-success answer from GitHub, `now` being the time it arrived.
///
/// Following GitHub's guidance, a 403 or 429 is a rate limit when `retry-after` is present
/// (wait that long), when `x-ratelimit-remaining` is `0` (wait until `x-ratelimit-reset`), or
/// — a secondary limit without headers — when it is a 429 or its message mentions a rate
/// limit (wait [`SECONDARY_LIMIT_WAIT`]). Any other 403 is refused credentials or access.
pub(crate) fn from_response(response: &UpstreamResponse, now: SystemTime) -> ConnectorError {
    let status = response.status.as_u16();
    let message = status_message(UPSTREAM, status, None);
    match status {
        401 => ConnectorError::authentication(format!("{message}: bad credentials")),
        403 | 429 => {
            if let Some(wait) = retry_after(&response.headers, now) {
                return ConnectorError::rate_limited(
                    format!("{message}: secondary rate limit"),
                    Some(wait),
                );
            }
            let exhausted = response
                .header("x-ratelimit-remaining")
                .is_some_and(|v| v.trim() == "0");
            if exhausted {
                let wait = until_epoch_reset(&response.headers, "x-ratelimit-reset", now)
                    .unwrap_or(SECONDARY_LIMIT_WAIT);
                return ConnectorError::rate_limited(
                    format!("{message}: primary rate limit exhausted"),
                    Some(wait),
                );
            }
            if status == 429 || mentions_rate_limit(response) {
                return ConnectorError::rate_limited(
                    format!("{message}: secondary rate limit"),
                    Some(SECONDARY_LIMIT_WAIT),
                );
            }
            ConnectorError::authentication(format!("{message}: access refused"))
        }
        404 => ConnectorError {
            message,
            ..ConnectorError::not_found()
        },
        _ => status_error(UPSTREAM, response),
    }
}

/// Whether this is GitHub Enterprise Server's answer to `/rate_limit` when rate limiting is
/// turned off (a 404 saying "Rate limiting is not enabled."), which is a healthy server.
pub(crate) fn is_rate_limiting_disabled(response: &UpstreamResponse) -> bool {
    response.status.as_u16() == 404
        && error_message(response).is_some_and(|m| {
            m.to_ascii_lowercase()
                .contains("rate limiting is not enabled")
        })
}

/// GitHub's error `message`, if the body is its JSON error.
fn error_message(response: &UpstreamResponse) -> Option<String> {
    serde_json::from_slice::<ErrorBody>(&response.body)
        .ok()
        .and_then(|body| body.message)
}

/// Whether the error body says "rate limit" ("You have exceeded a secondary rate limit...").
fn mentions_rate_limit(response: &UpstreamResponse) -> bool {
    error_message(response).is_some_and(|m| m.to_ascii_lowercase().contains("rate limit"))
}

#[cfg(test)]
mod tests {
    use enrichd_sdk::ErrorCode;

    use super::*;

    const NOW_SECS: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_SECS)
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        UpstreamResponse::from_parts(status, headers, body)
    }

    #[test]
    fn an_exhausted_primary_limit_waits_until_the_reset() {
        let reset = (NOW_SECS + 1234).to_string();
        for status in [403, 429] {
            let err = from_response(
                &response(
                    status,
                    &[
                        ("x-ratelimit-remaining", "0"),
                        ("x-ratelimit-reset", &reset),
                    ],
                    r#"{"message":"API rate limit exceeded for 203.0.113.7."}"#,
                ),
                now(),
            );
            assert_eq!(err.code, ErrorCode::RateLimited, "HTTP {status}");
            assert_eq!(err.retry_after, Some(Duration::from_secs(1234)));
            assert!(!err.message.contains("203.0.113.7"), "{}", err.message);
        }
    }

    #[test]
    fn retry_after_comes_first() {
        let reset = (NOW_SECS + 1234).to_string();
        let err = from_response(
            &response(
                403,
                &[
                    ("retry-after", "30"),
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", &reset),
                ],
                "",
            ),
            now(),
        );
        assert_eq!(err.retry_after, Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_secondary_limit_without_headers_waits_a_minute() {
        let body = r#"{"message":"You have exceeded a secondary rate limit and have been temporarily blocked from content creation. Please retry your request again later.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#;
        for (status, body) in [(403, body), (429, ""), (429, body)] {
            let err = from_response(&response(status, &[], body), now());
            assert_eq!(err.code, ErrorCode::RateLimited, "HTTP {status}");
            assert_eq!(err.retry_after, Some(SECONDARY_LIMIT_WAIT));
        }
    }

    #[test]
    fn a_remaining_allowance_without_a_reset_falls_back_to_a_minute() {
        let err = from_response(&response(429, &[("x-ratelimit-remaining", "0")], ""), now());
        assert_eq!(err.retry_after, Some(SECONDARY_LIMIT_WAIT));
    }

    #[test]
    fn other_403s_are_refused_access() {
        let err = from_response(
            &response(
                403,
                &[("x-ratelimit-remaining", "4999")],
                r#"{"message":"Resource not accessible by personal access token"}"#,
            ),
            now(),
        );
        assert_eq!(err.code, ErrorCode::Authentication);
        assert_eq!(err.message, "HTTP 403 from GitHub: access refused");
    }
}

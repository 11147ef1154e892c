//! How X's answers become [`ConnectorError`]s: statuses, its two kinds of 429 (a rate limit
//! and a usage cap), and the "not found" X reports inside an HTTP 200.
//!
//! Messages name the status and, at most, the kind of X problem (the last segment of its
//! `type`, such as `usage-capped`). X's `detail` and `value` quote the username looked up, so
//! they are never copied.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    ConnectorError,
    http::{
        CodeStyle, UpstreamResponse, is_error_code, rate_limit_wait, status_error, status_message,
        until_epoch_reset,
    },
};
use serde::Deserialize;

const UPSTREAM: &str = "X";

/// The wait after a 429 whose `x-rate-limit-reset` is missing or unreadable. X's windows are
/// 15 minutes long; a minute keeps the probes rare without idling a whole window for nothing
/// (a refused call does not count against the limit).
pub(crate) const FALLBACK_WAIT: Duration = Duration::from_secs(60);
/// The wait after a usage cap: the cap lasts until the billing period rolls over, which no
/// header tells, so enrichd probes at most once an hour.
pub(crate) const USAGE_CAP_PROBE: Duration = Duration::from_secs(3600);

/// One X API problem, top-level or inside `errors[]`, as far as it is safe and useful to read.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Problem {
    #[serde(default)]
    title: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    resource_type: Option<String>,
}

impl Problem {
    /// The kind of problem, when `type` is one of X's problem URIs
    /// (`https://api.x.com/2/problems/usage-capped` → `usage-capped`; api.twitter.com too).
    pub(crate) fn code(&self) -> Option<&str> {
        let (_, code) = self.kind.as_deref()?.rsplit_once("/2/problems/")?;
        is_error_code(code, CodeStyle::LowerKebab).then_some(code)
    }

    /// Whether this says the user does not exist: the title `Not Found Error` of the documented
    /// body, or the `resource-not-found` type of newer answers.
    pub(crate) fn is_not_found(&self) -> bool {
        self.title.as_deref() == Some("Not Found Error")
            || self.code() == Some("resource-not-found")
    }

    /// Whether the problem concerns a user resource (a suspended user is a `Forbidden` problem
    /// about the user, for instance).
    pub(crate) fn is_about_a_user(&self) -> bool {
        self.resource_type.as_deref() == Some("user")
    }
}

/// The error for a non-success answer from X, `now` being the time it arrived.
///
/// - 401 and 403: `authentication` (a bad or revoked token, an app outside a project, a
///   missing scope).
/// - 404: `not_found` (the documented answer for a missing or suspended user).
/// - 429 whose problem type is `usage-capped`: `quota_exceeded`, not retryable, probed again
///   after [`USAGE_CAP_PROBE`].
/// - any other 429: `rate_limited`, waiting `Retry-After` if X ever sends it, else until
///   `x-rate-limit-reset` (epoch seconds), else [`FALLBACK_WAIT`]. The two known 429 bodies (the
///   documented v1.1-style one and the observed problem+json one) are not told apart: only the
///   status and headers count.
/// - anything else as [`status_error`] maps it (5xx is a retryable `connection` error).
pub(crate) fn from_response(response: &UpstreamResponse, now: SystemTime) -> ConnectorError {
    // A body that is not X's JSON (a proxy's HTML page) still maps by status.
    let problem: Problem = serde_json::from_slice(&response.body).unwrap_or_default();
    let status = response.status.as_u16();
    let message = status_message(UPSTREAM, status, problem.code());
    match status {
        401 | 403 => ConnectorError::authentication(message),
        404 => ConnectorError {
            message,
            ..ConnectorError::not_found()
        },
        429 if problem.code() == Some("usage-capped") => ConnectorError {
            retry_after: Some(USAGE_CAP_PROBE),
            ..ConnectorError::quota_exceeded(format!("{message}: the usage cap is reached"))
        },
        429 => {
            let wait = rate_limit_wait(
                &response.headers,
                now,
                || until_epoch_reset(&response.headers, "x-rate-limit-reset", now),
                FALLBACK_WAIT,
            );
            ConnectorError::rate_limited(format!("{message}: rate limit reached"), Some(wait))
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
    fn a_429_waits_until_the_reset() {
        let reset = (NOW_SECS + 600).to_string();
        let err = from_response(
            &response(429, &[("x-rate-limit-reset", &reset)], "{}"),
            now(),
        );
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.retry_after, Some(Duration::from_secs(600)));
    }

    #[test]
    fn retry_after_wins_and_a_missing_reset_falls_back_to_a_minute() {
        let reset = (NOW_SECS + 600).to_string();
        let both = response(
            429,
            &[("retry-after", "5"), ("x-rate-limit-reset", &reset)],
            "",
        );
        assert_eq!(
            from_response(&both, now()).retry_after,
            Some(Duration::from_secs(5))
        );
        for headers in [vec![], vec![("x-rate-limit-reset", "soon")]] {
            let err = from_response(&response(429, &headers, ""), now());
            assert_eq!(err.retry_after, Some(FALLBACK_WAIT), "{headers:?}");
        }
    }

    #[test]
    fn a_usage_cap_is_a_quota_on_either_host() {
        for host in ["api.x.com", "api.twitter.com"] {
            let body = format!(
                r#"{{"title":"UsageCapExceeded","type":"https://{host}/2/problems/usage-capped","period":"Monthly","scope":"Product"}}"#
            );
            let err = from_response(&response(429, &[], &body), now());
            assert_eq!(err.code, ErrorCode::QuotaExceeded, "{host}");
            assert!(!err.retryable);
            assert_eq!(err.retry_after, Some(USAGE_CAP_PROBE));
            assert_eq!(
                err.message,
                "HTTP 429 from X (usage-capped): the usage cap is reached"
            );
        }
    }

    #[test]
    fn only_problem_uris_give_a_code() {
        let code = |kind: &str| {
            Problem {
                kind: Some(kind.into()),
                ..Problem::default()
            }
            .code()
            .map(str::to_owned)
        };
        assert_eq!(
            code("https://api.x.com/2/problems/client-forbidden").as_deref(),
            Some("client-forbidden")
        );
        assert_eq!(code("about:blank"), None);
        assert_eq!(code("https://api.x.com/2/problems/Jack Dorsey"), None);
        assert_eq!(code("https://api.x.com/2/problems/"), None);
    }

    #[test]
    fn not_found_problems_are_recognised_by_title_or_type() {
        let titled: Problem = serde_json::from_str(r#"{"title":"Not Found Error"}"#).unwrap();
        assert!(titled.is_not_found());
        let typed: Problem = serde_json::from_str(
            r#"{"title":"Forbidden","type":"https://api.twitter.com/2/problems/resource-not-found"}"#,
        )
        .unwrap();
        assert!(typed.is_not_found());
        let other: Problem = serde_json::from_str(r#"{"title":"Forbidden"}"#).unwrap();
        assert!(!other.is_not_found());
    }
}

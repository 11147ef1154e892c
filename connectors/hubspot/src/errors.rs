//! How HubSpot's error answers become [`ConnectorError`]s, including the waits derived from
//! its rate-limit policies.
//!
//! Messages name the status and HubSpot's error `category` (an upper-case code such as
//! `OBJECT_NOT_FOUND`) and nothing else: HubSpot's own `message` and `context` may quote the
//! email being looked up, so they are never copied.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use enrichd_sdk::{
    ConnectorError,
    http::{
        CodeStyle, UpstreamResponse, is_error_code, rate_limit_wait, status_error, status_message,
    },
};
use serde::Deserialize;

const UPSTREAM: &str = "HubSpot";

/// The wait after a `SECONDLY` limit: the window is one second.
pub(crate) const SECONDLY_WAIT: Duration = Duration::from_secs(1);
/// The wait after a `TEN_SECONDLY_ROLLING` (burst) limit, or an unnamed one, when HubSpot sends
/// no `X-HubSpot-RateLimit-Interval-Milliseconds`: the burst window is ten seconds.
pub(crate) const BURST_WAIT: Duration = Duration::from_secs(10);

/// The fields of HubSpot's error body that are safe and useful to act on.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    category: Option<String>,
    #[serde(default, rename = "policyName")]
    policy_name: Option<String>,
}

/// The error for a non-success answer from HubSpot, `now` being the time it arrived.
pub(crate) fn from_response(response: &UpstreamResponse, now: SystemTime) -> ConnectorError {
    // An error body that is not HubSpot's JSON (a proxy's HTML page, say) still maps by status.
    let body: ErrorBody = serde_json::from_slice(&response.body).unwrap_or_default();
    let status = response.status.as_u16();
    let category = body
        .category
        .as_deref()
        .filter(|c| is_error_code(c, CodeStyle::UpperSnake));
    let message = status_message(UPSTREAM, status, category);
    match status {
        401 | 403 => ConnectorError::authentication(message),
        // HubSpot says OBJECT_NOT_FOUND for an unknown email; any 404 means the same here.
        404 => ConnectorError {
            message,
            ..ConnectorError::not_found()
        },
        429 => rate_limited(response, body.policy_name.as_deref(), message, now),
        _ => ConnectorError {
            message,
            ..status_error(UPSTREAM, response)
        },
    }
}

/// A 429, by the limit HubSpot says was hit.
///
/// - `DAILY` (or no policy but `X-HubSpot-RateLimit-Daily-Remaining: 0`): the account's daily
///   allowance is used up, so `quota_exceeded`, not retryable. HubSpot resets it at midnight
///   in the account's time zone, which the connector does not know; every time zone's midnight
///   falls on a full UTC hour (or half or quarter hour), so the wait is until the next full UTC
///   hour: at most one probe an hour, and at most an hour late.
/// - `SECONDLY`: one second.
/// - `TEN_SECONDLY_ROLLING` or anything else: `X-HubSpot-RateLimit-Interval-Milliseconds` when
///   sent, else ten seconds.
///
/// A `Retry-After` header, should HubSpot send one, wins over all of these.
fn rate_limited(
    response: &UpstreamResponse,
    policy: Option<&str>,
    message: String,
    now: SystemTime,
) -> ConnectorError {
    // `Retry-After`, else what HubSpot's own header says, else the policy's wait.
    let wait = |vendor_wait: Option<Duration>, fallback: Duration| {
        rate_limit_wait(&response.headers, now, || vendor_wait, fallback)
    };
    let daily_used_up = response
        .header("x-hubspot-ratelimit-daily-remaining")
        .is_some_and(|v| v.trim() == "0");
    match policy {
        Some("DAILY") => daily_quota(message, wait(None, until_next_utc_hour(now))),
        None if daily_used_up => daily_quota(message, wait(None, until_next_utc_hour(now))),
        Some("SECONDLY") => ConnectorError::rate_limited(
            format!("{message}: per-second limit reached"),
            Some(wait(None, SECONDLY_WAIT)),
        ),
        _ => {
            let interval = response
                .header("x-hubspot-ratelimit-interval-milliseconds")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis);
            ConnectorError::rate_limited(
                format!("{message}: burst limit reached"),
                Some(wait(interval, BURST_WAIT)),
            )
        }
    }
}

fn daily_quota(message: String, wait: Duration) -> ConnectorError {
    ConnectorError {
        retry_after: Some(wait),
        ..ConnectorError::quota_exceeded(format!("{message}: daily API limit reached"))
    }
}

/// The time from `now` to the next full hour, UTC (a full hour when `now` is on one).
pub(crate) fn until_next_utc_hour(now: SystemTime) -> Duration {
    let since_epoch = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let into_hour = Duration::from_nanos((since_epoch.as_nanos() % 3_600_000_000_000) as u64);
    Duration::from_secs(3600) - into_hour
}

#[cfg(test)]
mod tests {
    use enrichd_sdk::ErrorCode;

    use super::*;

    /// 2023-11-14T22:13:20Z, 13 min 20 s past the hour.
    const NOW_SECS: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_SECS)
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        UpstreamResponse::from_parts(status, headers, body)
    }

    fn policy_body(policy: &str) -> String {
        format!(r#"{{"status":"error","errorType":"RATE_LIMIT","policyName":"{policy}"}}"#)
    }

    #[test]
    fn the_next_full_hour_is_computed_in_utc() {
        assert_eq!(
            until_next_utc_hour(now()),
            Duration::from_secs(46 * 60 + 40)
        );
        let on_the_hour = UNIX_EPOCH + Duration::from_secs(3600 * 10);
        assert_eq!(until_next_utc_hour(on_the_hour), Duration::from_secs(3600));
    }

    #[test]
    fn each_policy_gets_its_wait() {
        let daily = from_response(&response(429, &[], &policy_body("DAILY")), now());
        assert_eq!(daily.code, ErrorCode::QuotaExceeded);
        assert!(!daily.retryable);
        assert_eq!(daily.retry_after, Some(Duration::from_secs(2800)));

        let secondly = from_response(&response(429, &[], &policy_body("SECONDLY")), now());
        assert_eq!(secondly.code, ErrorCode::RateLimited);
        assert_eq!(secondly.retry_after, Some(SECONDLY_WAIT));

        let burst = from_response(
            &response(429, &[], &policy_body("TEN_SECONDLY_ROLLING")),
            now(),
        );
        assert_eq!(burst.code, ErrorCode::RateLimited);
        assert_eq!(burst.retry_after, Some(BURST_WAIT));
    }

    #[test]
    fn the_interval_header_sets_the_burst_wait() {
        let err = from_response(
            &response(
                429,
                &[("x-hubspot-ratelimit-interval-milliseconds", "2000")],
                &policy_body("TEN_SECONDLY_ROLLING"),
            ),
            now(),
        );
        assert_eq!(err.retry_after, Some(Duration::from_secs(2)));
    }

    #[test]
    fn retry_after_wins_over_the_policy() {
        let err = from_response(
            &response(429, &[("retry-after", "3")], &policy_body("DAILY")),
            now(),
        );
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn an_exhausted_daily_header_means_the_quota_without_a_body() {
        let err = from_response(
            &response(429, &[("x-hubspot-ratelimit-daily-remaining", "0")], ""),
            now(),
        );
        assert_eq!(err.code, ErrorCode::QuotaExceeded);
    }

    #[test]
    fn a_429_without_body_or_headers_waits_one_burst_window() {
        let err = from_response(&response(429, &[], "<html>busy</html>"), now());
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.retry_after, Some(BURST_WAIT));
    }

    #[test]
    fn only_code_like_categories_are_shown() {
        let shown = from_response(
            &response(404, &[], r#"{"category":"OBJECT_NOT_FOUND"}"#),
            now(),
        );
        assert_eq!(shown.message, "HTTP 404 from HubSpot (OBJECT_NOT_FOUND)");
        let hidden = from_response(
            &response(400, &[], r#"{"category":"ada@example.com is bad"}"#),
            now(),
        );
        assert_eq!(hidden.message, "HTTP 400 from HubSpot");
        assert_eq!(hidden.code, ErrorCode::BadResponse);
    }
}

//! How a Mastodon server's error answers become [`ConnectorError`]s, with the wait of a 429
//! read from `X-RateLimit-Reset` (an ISO 8601 time, or epoch seconds).
//!
//! Messages name the status only: Mastodon's `error` text is translated prose, and the
//! instance is part of the subject's handle.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    ConnectorError,
    http::{UpstreamResponse, rate_limit_wait, status_error, status_message, until_epoch_reset},
};
use reqwest::header::HeaderMap;

const UPSTREAM: &str = "Mastodon";

/// The wait after a 429 whose `X-RateLimit-Reset` is missing or unreadable. Mastodon's windows
/// are five minutes long; a minute keeps probes rare without idling a whole window.
pub(crate) const FALLBACK_WAIT: Duration = Duration::from_secs(60);

/// The error for a non-success answer from a Mastodon server, `now` being the time it arrived.
///
/// 401 and 403 are `authentication` (a bad token, or an instance in secure mode refusing
/// anonymous calls), 404 and 410 `not_found`, 429 `rate_limited` waiting `Retry-After` if
/// present, else until `X-RateLimit-Reset`, else [`FALLBACK_WAIT`]; the rest as
/// [`status_error`] maps it (5xx is a retryable `connection` error).
pub(crate) fn from_response(response: &UpstreamResponse, now: SystemTime) -> ConnectorError {
    let status = response.status.as_u16();
    let message = status_message(UPSTREAM, status, None);
    match status {
        401 | 403 => ConnectorError::authentication(message),
        404 | 410 => ConnectorError {
            message,
            ..ConnectorError::not_found()
        },
        429 => {
            let wait = rate_limit_wait(
                &response.headers,
                now,
                || until_reset(&response.headers, now),
                FALLBACK_WAIT,
            );
            ConnectorError::rate_limited(format!("{message}: rate limit reached"), Some(wait))
        }
        _ => status_error(UPSTREAM, response),
    }
}

/// The wait until `X-RateLimit-Reset`. Mastodon documents it as a timestamp and sends ISO 8601
/// (`2026-11-22T10:05:00.000000Z`); epoch seconds are read too. A reset in the past is no wait.
pub(crate) fn until_reset(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    const NAME: &str = "x-ratelimit-reset";
    let value = headers.get(NAME)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return until_epoch_reset(headers, NAME, now);
    }
    let at = parse_iso8601(value)?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// An ISO 8601 date-time with `Z`, a numeric offset (`+02:00`, `-05:00`) or no zone (UTC).
fn parse_iso8601(value: &str) -> Option<SystemTime> {
    let bytes = value.as_bytes();
    let has_offset = bytes.len() > 6
        && matches!(bytes[bytes.len() - 6], b'+' | b'-')
        && bytes[bytes.len() - 3] == b':'
        && !value.ends_with("+00:00");
    if !has_offset {
        return humantime::parse_rfc3339_weak(value).ok();
    }
    let (local, offset) = value.split_at(value.len() - 6);
    let hours: u64 = offset[1..3].parse().ok()?;
    let minutes: u64 = offset[4..6].parse().ok()?;
    let shift = Duration::from_secs(hours * 3600 + minutes * 60);
    let local = humantime::parse_rfc3339_weak(local).ok()?;
    // `+02:00` is two hours ahead of UTC: UTC is the local time minus the offset.
    if offset.starts_with('+') {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use enrichd_sdk::ErrorCode;

    use super::*;

    /// 2023-11-14T22:13:20Z.
    const NOW_SECS: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW_SECS)
    }

    fn wait_for(reset: &str) -> Option<Duration> {
        let response = UpstreamResponse::from_parts(429, &[("x-ratelimit-reset", reset)], "");
        until_reset(&response.headers, now())
    }

    #[test]
    fn iso_8601_resets_in_every_zone_form_become_waits() {
        let ninety = Some(Duration::from_secs(90));
        for reset in [
            "2023-11-14T22:14:50Z",
            "2023-11-14T22:14:50.000000Z",
            "2023-11-14T22:14:50.000+00:00",
            "2023-11-14T22:14:50",
            "2023-11-15T00:14:50.000+02:00",
            "2023-11-14T17:14:50-05:00",
            "2023-11-14T22:14:50.000Z",
        ] {
            assert_eq!(wait_for(reset), ninety, "{reset}");
        }
    }

    #[test]
    fn epoch_resets_are_read_too_and_the_past_is_no_wait() {
        assert_eq!(
            wait_for(&(NOW_SECS + 30).to_string()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(wait_for("2019-12-11T23:35:00.420Z"), Some(Duration::ZERO));
        assert_eq!(wait_for("soon"), None);
        assert_eq!(wait_for("2023-13-45T99:00:00Z"), None);
    }

    #[test]
    fn a_429_prefers_retry_after_then_the_reset_then_a_minute() {
        let response = |headers: &[(&str, &str)]| UpstreamResponse::from_parts(429, headers, "");
        let reset = "2023-11-14T22:18:20Z";
        let both = from_response(
            &response(&[("retry-after", "7"), ("x-ratelimit-reset", reset)]),
            now(),
        );
        assert_eq!(both.code, ErrorCode::RateLimited);
        assert_eq!(both.retry_after, Some(Duration::from_secs(7)));
        let reset_only = from_response(&response(&[("x-ratelimit-reset", reset)]), now());
        assert_eq!(reset_only.retry_after, Some(Duration::from_secs(300)));
        let neither = from_response(&response(&[]), now());
        assert_eq!(neither.retry_after, Some(FALLBACK_WAIT));
    }
}

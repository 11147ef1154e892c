//! How Pipedrive's error answers become [`ConnectorError`]s, including the wait after its
//! 429s.
//!
//! Messages name the upstream, the status and which call failed, never Pipedrive's `error`
//! text (free text that may echo what was searched for) nor the URL (it may carry the
//! `api_token`).

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    ConnectorError,
    http::{UpstreamResponse, rate_limit_wait, status_error, status_message},
};

const UPSTREAM: &str = "Pipedrive";

/// The wait after a 429 that says nothing about when to come back: Pipedrive's request limit
/// counts over a two-second window.
pub(crate) const WINDOW_WAIT: Duration = Duration::from_secs(2);

/// Which call got the answer: a 404 means something different for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// `GET /v1/persons/search`: answers 200 with no items for an unknown email.
    Search,
    /// `GET /v1/persons/{id}`: 404 when the person is gone.
    Person,
    /// `GET /v1/users/me`.
    Health,
}

/// The error for a non-success answer from Pipedrive, `now` being the time it arrived.
///
/// - 401: `authentication` (a wrong or revoked token); 403: `authentication` (the token may
///   not read persons); 402: `authentication`, Pipedrive's answer when the company account is
///   not open (trial ended, unpaid).
/// - 404 or 410 on the person: `not_found` (deleted since the search). A 404 on the search or
///   `/users/me` means the API is not where `base_url` says: `invalid_config`.
/// - 429: `rate_limited`, waiting `Retry-After` when sent, else `x-ratelimit-reset` (seconds
///   left in the current window), else two seconds.
/// - 5xx: retryable `connection`; anything else `bad_response`.
pub(crate) fn from_response(
    response: &UpstreamResponse,
    call: Call,
    now: SystemTime,
) -> ConnectorError {
    let status = response.status.as_u16();
    let message = status_message(UPSTREAM, status, None);
    match (status, call) {
        (401, _) => ConnectorError::authentication(format!("{message}: the token was refused")),
        (402, _) => ConnectorError::authentication(format!(
            "{message}: the company account is not open (trial ended or unpaid)"
        )),
        (403, _) => ConnectorError::authentication(format!("{message}: access refused")),
        (404 | 410, Call::Person) => ConnectorError {
            message: format!("{message}: the person is gone"),
            ..ConnectorError::not_found()
        },
        (404, Call::Search | Call::Health) => ConnectorError::invalid_config(format!(
            "{message}: no Pipedrive API at `base_url` (https://api.pipedrive.com or \
             https://<company>.pipedrive.com/api)"
        )),
        (429, _) => ConnectorError::rate_limited(
            format!("{message}: request limit reached"),
            Some(rate_limit_wait(
                &response.headers,
                now,
                || seconds_left(response),
                WINDOW_WAIT,
            )),
        ),
        _ => status_error(UPSTREAM, response),
    }
}

/// `x-ratelimit-reset`: the seconds left in the current rate-limit window (not an epoch).
fn seconds_left(response: &UpstreamResponse) -> Option<Duration> {
    let seconds: f64 = response.header("x-ratelimit-reset")?.trim().parse().ok()?;
    (0.0..86_400.0)
        .contains(&seconds)
        .then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use enrichd_sdk::ErrorCode;

    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> UpstreamResponse {
        UpstreamResponse::from_parts(status, headers, r#"{"success":false,"error":"x"}"#)
    }

    #[test]
    fn a_429_waits_retry_after_then_the_window_reset_then_two_seconds() {
        let both = response(429, &[("retry-after", "5"), ("x-ratelimit-reset", "1")]);
        assert_eq!(
            from_response(&both, Call::Search, now()).retry_after,
            Some(Duration::from_secs(5))
        );
        let reset = response(429, &[("x-ratelimit-reset", "1.5")]);
        assert_eq!(
            from_response(&reset, Call::Person, now()).retry_after,
            Some(Duration::from_millis(1500))
        );
        let bare = response(429, &[("x-ratelimit-reset", "soon")]);
        let err = from_response(&bare, Call::Search, now());
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.retry_after, Some(WINDOW_WAIT));
    }

    #[test]
    fn a_404_depends_on_the_call() {
        let gone = from_response(&response(404, &[]), Call::Person, now());
        assert_eq!(gone.code, ErrorCode::NotFound);
        for call in [Call::Search, Call::Health] {
            let wrong = from_response(&response(404, &[]), call, now());
            assert_eq!(wrong.code, ErrorCode::InvalidConfig, "{call:?}");
        }
    }

    #[test]
    fn refusals_are_authentication_errors() {
        for status in [401, 402, 403] {
            let err = from_response(&response(status, &[]), Call::Search, now());
            assert_eq!(err.code, ErrorCode::Authentication, "HTTP {status}");
            assert!(!err.retryable);
        }
    }
}

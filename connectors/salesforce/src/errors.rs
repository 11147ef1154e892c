//! How Salesforce's error answers become [`ConnectorError`]s: its limits come as a 403, and a
//! 404 means a wrong URL, never an unknown person.
//!
//! Messages name the status and Salesforce's `errorCode` (an upper-case code such as
//! `INVALID_SESSION_ID`) and nothing else: Salesforce's own `message` may quote the query, and
//! so the email, which is why it is read only to tell two limits apart and never copied.

use std::time::Duration;

use enrichd_sdk::{
    ConnectorError,
    http::{CodeStyle, UpstreamResponse, is_error_code, status_error, status_message},
};
use serde::Deserialize;

const UPSTREAM: &str = "Salesforce";

/// The wait after the concurrent long-transaction limit (`ConcurrentPerOrgLongTxn`): it frees up
/// as soon as one of the org's running requests of 20 s or more ends.
pub(crate) const CONCURRENT_LIMIT_WAIT: Duration = Duration::from_secs(10);
/// How long to leave Salesforce alone once the org's API request allowance is used up. The
/// allowance is counted over a rolling 24 hours, so capacity comes back gradually, at a time
/// Salesforce does not say: probe again after a quarter of an hour (at most 96 probes a day).
pub(crate) const DAILY_LIMIT_WAIT: Duration = Duration::from_secs(15 * 60);

/// One entry of Salesforce's error array.
#[derive(Debug, Default, Deserialize)]
struct ErrorEntry {
    #[serde(default, rename = "errorCode")]
    error_code: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

/// Salesforce answers errors as an array of entries; an object is tolerated too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ErrorBody {
    Many(Vec<ErrorEntry>),
    One(ErrorEntry),
}

/// The first error entry of a body, or an empty one when the body is not Salesforce's JSON.
fn first_error(body: &[u8]) -> ErrorEntry {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody::Many(entries)) => entries.into_iter().next().unwrap_or_default(),
        Ok(ErrorBody::One(entry)) => entry,
        Err(_) => ErrorEntry::default(),
    }
}

/// The error for a non-success answer from Salesforce.
///
/// - 401 (`INVALID_SESSION_ID`): `authentication`.
/// - 403 `REQUEST_LIMIT_EXCEEDED`: `rate_limited` for ten seconds when the message names the
///   concurrent long-transaction limit, else the daily allowance is used up: `quota_exceeded`,
///   not retryable, probed again after [`DAILY_LIMIT_WAIT`]. Salesforce sends no `Retry-After`.
/// - Any other 403 (`INSUFFICIENT_ACCESS`, `API_DISABLED_FOR_ORG`, ...): `authentication`.
/// - 400 `MALFORMED_QUERY`, `INVALID_FIELD`, `INVALID_TYPE`: `invalid_config`. The email
///   travels escaped, so what can make the query wrong is the configured `fields` or `objects`
///   (a field or object that does not exist, or that the user may not see). Another 400 is a
///   `bad_response`.
/// - 404 (`NOT_FOUND`): `invalid_config`. A query never answers 404 for an unknown person, so
///   the URL is wrong: the instance (`base_url`) or the `api_version`.
/// - 5xx: retryable `connection`.
pub(crate) fn from_response(response: &UpstreamResponse) -> ConnectorError {
    let error = first_error(&response.body);
    let status = response.status.as_u16();
    let code = error
        .error_code
        .as_deref()
        .filter(|c| is_error_code(c, CodeStyle::UpperSnake));
    let message = status_message(UPSTREAM, status, code);
    match (status, code) {
        (401, _) => ConnectorError::authentication(format!("{message}: the token was refused")),
        (403, Some("REQUEST_LIMIT_EXCEEDED")) => limit_exceeded(response, &error, message),
        (403, _) => ConnectorError::authentication(format!("{message}: access refused")),
        (400, Some("MALFORMED_QUERY" | "INVALID_FIELD" | "INVALID_TYPE")) => {
            ConnectorError::invalid_config(format!(
                "{message}: check the `objects` and `fields` settings against the org"
            ))
        }
        (404, _) => ConnectorError::invalid_config(format!(
            "{message}: check `base_url` (the org's instance URL) and `api_version`"
        )),
        _ => ConnectorError {
            message,
            ..status_error(UPSTREAM, response)
        },
    }
}

/// A 403 `REQUEST_LIMIT_EXCEEDED`: the concurrent limit or the org's daily allowance.
fn limit_exceeded(
    response: &UpstreamResponse,
    error: &ErrorEntry,
    message: String,
) -> ConnectorError {
    let concurrent = error
        .message
        .as_deref()
        .is_some_and(|m| m.contains("ConcurrentPerOrgLongTxn"));
    if concurrent {
        return ConnectorError::rate_limited(
            format!("{message}: concurrent long-running request limit"),
            Some(CONCURRENT_LIMIT_WAIT),
        );
    }
    let usage = api_usage(response)
        .map(|(used, limit)| format!(" (api-usage {used}/{limit})"))
        .unwrap_or_default();
    ConnectorError {
        retry_after: Some(DAILY_LIMIT_WAIT),
        ..ConnectorError::quota_exceeded(format!(
            "{message}: the org's API request allowance is used up{usage}"
        ))
    }
}

/// The org's API usage from `Sforce-Limit-Info: api-usage=<used>/<limit>[; ...]`, which
/// Salesforce puts on every REST answer.
pub(crate) fn api_usage(response: &UpstreamResponse) -> Option<(u64, u64)> {
    let header = response.header("sforce-limit-info")?;
    let usage = header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
}

#[cfg(test)]
mod tests {
    use enrichd_sdk::ErrorCode;

    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        UpstreamResponse::from_parts(status, headers, body)
    }

    #[test]
    fn api_usage_is_read_from_old_and_new_header_forms() {
        let old = response(200, &[("sforce-limit-info", "api-usage=18/5000")], "");
        assert_eq!(api_usage(&old), Some((18, 5000)));
        let new = response(
            200,
            &[(
                "sforce-limit-info",
                "api-usage=10018/100000; api-bursts=1/750",
            )],
            "",
        );
        assert_eq!(api_usage(&new), Some((10018, 100000)));
        let garbage = response(200, &[("sforce-limit-info", "api-usage=many")], "");
        assert_eq!(api_usage(&garbage), None);
    }

    #[test]
    fn the_two_request_limits_are_told_apart_by_message() {
        let concurrent = from_response(&response(
            403,
            &[],
            r#"[{"message":"ConcurrentPerOrgLongTxn Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        ));
        assert_eq!(concurrent.code, ErrorCode::RateLimited);
        assert_eq!(concurrent.retry_after, Some(CONCURRENT_LIMIT_WAIT));

        let daily = from_response(&response(
            403,
            &[("sforce-limit-info", "api-usage=15001/15000")],
            r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#,
        ));
        assert_eq!(daily.code, ErrorCode::QuotaExceeded);
        assert!(!daily.retryable);
        assert_eq!(daily.retry_after, Some(DAILY_LIMIT_WAIT));
        assert_eq!(
            daily.message,
            "HTTP 403 from Salesforce (REQUEST_LIMIT_EXCEEDED): the org's API request \
             allowance is used up (api-usage 15001/15000)"
        );
    }

    #[test]
    fn an_object_body_and_a_non_json_body_are_tolerated() {
        let object = from_response(&response(401, &[], r#"{"errorCode":"INVALID_SESSION_ID"}"#));
        assert_eq!(
            object.message,
            "HTTP 401 from Salesforce (INVALID_SESSION_ID): the token was refused"
        );
        let html = from_response(&response(403, &[], "<html>denied</html>"));
        assert_eq!(html.code, ErrorCode::Authentication);
        assert_eq!(html.message, "HTTP 403 from Salesforce: access refused");
    }

    #[test]
    fn only_code_like_error_codes_are_shown() {
        let err = from_response(&response(
            400,
            &[],
            r#"[{"message":"x","errorCode":"ada@example.com"}]"#,
        ));
        assert_eq!(err.message, "HTTP 400 from Salesforce");
        assert_eq!(err.code, ErrorCode::BadResponse);
    }
}

//! What an upstream answer means: the manifest's not-found rules, and the mapping of every
//! other status into a [`ConnectorError`].
//!
//! Messages name the upstream (the manifest's `name`) and the status, never the URL, a body or
//! a header: the URL may carry the subject's email, the headers carry credentials.

use enrichd_sdk::{
    ConnectorError,
    http::{UpstreamResponse, status_error, status_message},
};
use serde_json::Value;

/// When an answer means "the upstream does not know this person".
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NotFoundRules {
    /// Statuses that mean not found, whatever the body.
    pub(crate) statuses: Vec<u16>,
    /// A 2xx whose value here is absent, null or an empty array is not found.
    pub(crate) when_missing: Option<String>,
    /// A 2xx whose value at the pointer equals the value is not found.
    pub(crate) when_equals: Option<(String, Value)>,
}

impl NotFoundRules {
    /// Which rule, if any, says that a 2xx `body` is a miss.
    fn miss_in(&self, body: &Value) -> Option<&'static str> {
        if let Some(pointer) = &self.when_missing {
            let missing = match body.pointer(pointer) {
                None | Some(Value::Null) => true,
                Some(Value::Array(items)) => items.is_empty(),
                Some(_) => false,
            };
            if missing {
                return Some("not_found.when_missing");
            }
        }
        if let Some((pointer, expected)) = &self.when_equals
            && body.pointer(pointer) == Some(expected)
        {
            return Some("not_found.when_equals");
        }
        None
    }
}

/// The statuses at which reqwest follows redirects; reaching the connector, one was refused.
const REDIRECTS: [u16; 5] = [301, 302, 303, 307, 308];

/// The JSON body of a successful answer, or the error it stands for.
///
/// In order: a status listed in `not_found.statuses` is `not_found`; another non-2xx is mapped
/// by [`error_for_status`]; a 2xx body that is not JSON is `bad_response`; a 2xx matching
/// `when_missing` or `when_equals` is `not_found`.
pub(crate) fn interpret(
    upstream: &str,
    rules: &NotFoundRules,
    response: &UpstreamResponse,
) -> Result<Value, ConnectorError> {
    let status = response.status.as_u16();
    if rules.statuses.contains(&status) {
        return Err(not_found(status_message(upstream, status, None)));
    }
    if !response.status.is_success() {
        return Err(error_for_status(upstream, response));
    }
    let body: Value = response.json()?;
    match rules.miss_in(&body) {
        Some(rule) => Err(not_found(format!(
            "HTTP {status} from {upstream} matched {rule}"
        ))),
        None => Ok(body),
    }
}

/// A non-2xx status not listed in `not_found.statuses`.
///
/// A redirect reaching the connector is one its client refused to follow (outside
/// `allowed_hosts`, a downgrade to http, or past the 5th hop): `bad_response`. A 404 or 410
/// that the manifest does not list is `bad_response` too — the manifest says what "not found"
/// looks like, so an unlisted 404 means a wrong URL, not an unknown person. Everything else is
/// the SDK's [`status_error`]: 401/403 `authentication`, 408 `timeout`, 429 `rate_limited` and
/// 5xx `connection` (both with `Retry-After` honoured), anything else `bad_response`.
pub(crate) fn error_for_status(upstream: &str, response: &UpstreamResponse) -> ConnectorError {
    let status = response.status.as_u16();
    if REDIRECTS.contains(&status) {
        return ConnectorError::bad_response(format!(
            "HTTP {status} from {upstream}: redirect not followed (its target is outside \
             allowed_hosts, downgrades https to http, or is past the 5th hop)"
        ));
    }
    if matches!(status, 404 | 410) {
        return ConnectorError::bad_response(format!(
            "HTTP {status} from {upstream}, which not_found.statuses does not list: \
             check request.url"
        ));
    }
    status_error(upstream, response)
}

fn not_found(message: String) -> ConnectorError {
    ConnectorError {
        message,
        ..ConnectorError::not_found()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use enrichd_sdk::ErrorCode;
    use serde_json::json;

    use super::*;

    fn rules() -> NotFoundRules {
        NotFoundRules {
            statuses: vec![404],
            when_missing: Some("/person".into()),
            when_equals: Some(("/status".into(), json!("no_match"))),
        }
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> UpstreamResponse {
        UpstreamResponse::from_parts(status, headers, body)
    }

    fn code(status: u16, body: &str) -> Result<Value, ErrorCode> {
        interpret("acme", &rules(), &response(status, &[], body)).map_err(|e| e.code)
    }

    #[test]
    fn listed_statuses_are_not_found_whatever_the_body() {
        assert_eq!(code(404, "<html>"), Err(ErrorCode::NotFound));
        let err = interpret("acme", &rules(), &response(404, &[], "")).unwrap_err();
        assert_eq!(err.message, "HTTP 404 from acme");
        assert!(!err.retryable);
    }

    #[test]
    fn the_body_rules_apply_to_2xx_answers() {
        assert_eq!(code(200, r#"{"status": "ok"}"#), Err(ErrorCode::NotFound));
        assert_eq!(code(200, r#"{"person": null}"#), Err(ErrorCode::NotFound));
        assert_eq!(code(200, r#"{"person": []}"#), Err(ErrorCode::NotFound));
        assert_eq!(
            code(200, r#"{"person": {}, "status": "no_match"}"#),
            Err(ErrorCode::NotFound)
        );
        assert_eq!(
            code(200, r#"{"person": {"a": 1}, "status": "match"}"#),
            Ok(json!({"person": {"a": 1}, "status": "match"}))
        );
        assert_eq!(code(200, r#"{"person": 0}"#).map(drop), Ok(()));
        let err =
            interpret("acme", &rules(), &response(200, &[], r#"{"person": null}"#)).unwrap_err();
        assert_eq!(
            err.message,
            "HTTP 200 from acme matched not_found.when_missing"
        );
    }

    #[test]
    fn a_2xx_that_is_not_json_is_a_bad_response() {
        assert_eq!(code(200, "<html>hi</html>"), Err(ErrorCode::BadResponse));
        assert_eq!(code(200, ""), Err(ErrorCode::BadResponse));
    }

    #[test]
    fn other_statuses_follow_the_sdk_except_redirects_and_unlisted_404s() {
        let cases = [
            (302, ErrorCode::BadResponse),
            (307, ErrorCode::BadResponse),
            (401, ErrorCode::Authentication),
            (403, ErrorCode::Authentication),
            (410, ErrorCode::BadResponse),
            (429, ErrorCode::RateLimited),
            (500, ErrorCode::Connection),
            (503, ErrorCode::Connection),
            (400, ErrorCode::BadResponse),
        ];
        for (status, expected) in cases {
            assert_eq!(code(status, ""), Err(expected), "HTTP {status}");
        }
        let unlisted = NotFoundRules {
            statuses: vec![],
            when_missing: None,
            when_equals: None,
        };
        let err = interpret("acme", &unlisted, &response(404, &[], "")).unwrap_err();
        assert_eq!(err.code, ErrorCode::BadResponse);
    }

    #[test]
    fn retry_after_is_honoured() {
        let err = interpret(
            "acme",
            &rules(),
            &response(429, &[("retry-after", "12")], ""),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.retry_after, Some(Duration::from_secs(12)));
        let err = interpret(
            "acme",
            &rules(),
            &response(503, &[("retry-after", "3")], ""),
        )
        .unwrap_err();
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
        assert!(err.retryable);
    }
}

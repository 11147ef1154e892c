//! How a connector says what went wrong, in terms enrichd can act on.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

/// The kind of failure. enrichd decides from it whether to retry, whether the answer means
/// "unknown person" (`not_found`) and which `status` the source gets in the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The upstream could not be reached or answered 5xx.
    Connection,
    /// The credentials were refused (401, most 403s).
    Authentication,
    /// The upstream asked us to slow down (429 and vendor equivalents).
    RateLimited,
    /// The upstream does not know this person.
    NotFound,
    /// The connector's settings cannot work (found at call time, e.g. a missing scope).
    InvalidConfig,
    /// The upstream did not answer in time.
    Timeout,
    /// A usage allowance is used up and waiting a little will not help.
    QuotaExceeded,
    /// The upstream answered something we cannot use (malformed JSON, too large, odd status).
    BadResponse,
}

impl ErrorCode {
    /// The code as it appears in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Connection => "connection",
            ErrorCode::Authentication => "authentication",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::NotFound => "not_found",
            ErrorCode::InvalidConfig => "invalid_config",
            ErrorCode::Timeout => "timeout",
            ErrorCode::QuotaExceeded => "quota_exceeded",
            ErrorCode::BadResponse => "bad_response",
        }
    }

    /// Whether a failure of this kind is worth retrying by default.
    pub fn retryable_by_default(self) -> bool {
        matches!(self, ErrorCode::Connection | ErrorCode::Timeout)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A connector failure: a code, a message for operators and whether retrying may help.
///
/// The message ends up in logs and in the profile's `sources` list: it must never contain an
/// email, a phone number, a token or a URL carrying them. Say "HTTP 401 from HubSpot", not the
/// request URL.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[error("{code}: {message}")]
pub struct ConnectorError {
    pub code: ErrorCode,
    pub message: String,
    pub retryable: bool,
    /// How long the upstream asked us to wait (from `Retry-After` or a vendor header).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "duration_ms")]
    pub retry_after: Option<Duration>,
    /// The failure says something about the subject, not about the connector: the subject named
    /// the host that failed (a Mastodon instance that is down, refuses, rate-limits or answers
    /// garbage). Set it with [`ConnectorError::caused_by_subject`].
    ///
    /// enrichd does not feed such a failure to the connector's circuit breaker, does not honour
    /// its `retry_after` for other subjects, and does not retry it: otherwise a caller could
    /// open a connector's circuit, or make it wait for everyone, by naming hosts that fail.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub subject_caused: bool,
}

impl ConnectorError {
    /// An error of `code`, retryable as the code is by default.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ConnectorError {
        ConnectorError {
            code,
            message: message.into(),
            retryable: code.retryable_by_default(),
            retry_after: None,
            subject_caused: false,
        }
    }

    /// The upstream does not know this person.
    pub fn not_found() -> ConnectorError {
        ConnectorError::new(
            ErrorCode::NotFound,
            "the upstream does not know this subject",
        )
    }

    pub fn connection(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorCode::Connection, message)
    }

    pub fn authentication(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorCode::Authentication, message)
    }

    pub fn bad_response(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorCode::BadResponse, message)
    }

    pub fn timeout(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorCode::Timeout, message)
    }

    pub fn invalid_config(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorCode::InvalidConfig, message)
    }

    pub fn quota_exceeded(message: impl Into<String>) -> ConnectorError {
        ConnectorError::new(ErrorCode::QuotaExceeded, message)
    }

    /// The upstream asked us to wait `retry_after` (when it said how long).
    ///
    /// Rate limits are not retried within a request: enrichd stops calling the upstream until
    /// the time has passed instead.
    pub fn rate_limited(
        message: impl Into<String>,
        retry_after: Option<Duration>,
    ) -> ConnectorError {
        ConnectorError {
            retry_after,
            ..ConnectorError::new(ErrorCode::RateLimited, message)
        }
    }

    /// Override whether retrying may help.
    pub fn with_retryable(mut self, retryable: bool) -> ConnectorError {
        self.retryable = retryable;
        self
    }

    /// Mark the failure as [caused by the subject](ConnectorError::subject_caused), and so not
    /// retryable: a call to a host the subject named failed, which says nothing about the
    /// connector's health. [`crate::hosts::unreachable_host`] is already marked.
    pub fn caused_by_subject(mut self) -> ConnectorError {
        self.subject_caused = true;
        self.retryable = false;
        self
    }
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_failures_are_retryable_by_default() {
        assert!(ConnectorError::connection("HTTP 503").retryable);
        assert!(ConnectorError::timeout("slow").retryable);
        assert!(!ConnectorError::not_found().retryable);
        assert!(!ConnectorError::authentication("HTTP 401").retryable);
        assert!(!ConnectorError::bad_response("not JSON").retryable);
        assert!(!ConnectorError::rate_limited("429", None).retryable);
    }

    #[test]
    fn errors_display_their_code_and_message() {
        let err = ConnectorError::rate_limited("HTTP 429", Some(Duration::from_secs(3)));
        assert_eq!(err.to_string(), "rate_limited: HTTP 429");
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
    }

    #[test]
    fn no_constructor_blames_the_subject() {
        for err in [
            ConnectorError::new(ErrorCode::BadResponse, "x"),
            ConnectorError::not_found(),
            ConnectorError::connection("HTTP 503"),
            ConnectorError::authentication("HTTP 401"),
            ConnectorError::bad_response("not JSON"),
            ConnectorError::timeout("slow"),
            ConnectorError::invalid_config("scope"),
            ConnectorError::quota_exceeded("daily"),
            ConnectorError::rate_limited("HTTP 429", Some(Duration::from_secs(3))),
        ] {
            assert!(!err.subject_caused, "{err}");
        }
    }

    #[test]
    fn a_failure_caused_by_the_subject_is_never_retried_and_keeps_the_rest() {
        let err = ConnectorError::rate_limited("HTTP 429", Some(Duration::from_secs(3)))
            .with_retryable(true)
            .caused_by_subject();
        assert!(err.subject_caused);
        assert!(!err.retryable);
        assert_eq!(err.code, ErrorCode::RateLimited);
        assert_eq!(err.message, "HTTP 429");
        assert_eq!(err.retry_after, Some(Duration::from_secs(3)));
        assert!(
            !ConnectorError::connection("HTTP 503")
                .caused_by_subject()
                .retryable
        );
    }

    #[test]
    fn the_subject_mark_is_serialised_only_when_set() {
        let plain = serde_json::to_value(ConnectorError::connection("HTTP 503")).unwrap();
        assert_eq!(plain.get("subject_caused"), None);
        let old: ConnectorError = serde_json::from_value(plain).unwrap();
        assert!(!old.subject_caused);

        let marked = ConnectorError::connection("HTTP 503").caused_by_subject();
        let json = serde_json::to_value(&marked).unwrap();
        assert_eq!(json["subject_caused"], serde_json::json!(true));
        assert_eq!(
            serde_json::from_value::<ConnectorError>(json).unwrap(),
            marked
        );
    }
}

//! Local stand-ins of upstream APIs, for `enrichd demo` and for tests that want an upstream
//! answering like the real one.
//!
//! A connector crate may offer one through [`crate::ConnectorFactory::stand_in`]: a plain
//! function from request to response, built from the vendor's real example responses. enrichd
//! serves it over HTTP on loopback; the stand-in itself needs no server code.

use crate::Subject;

/// An HTTP request as a stand-in sees it.
#[derive(Debug, Clone, Default)]
pub struct StandInRequest {
    pub method: String,
    /// The path, percent-decoded (`/crm/v3/objects/contacts/ada@example.com`).
    pub path: String,
    /// Query parameters, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers with lower-case names.
    pub headers: Vec<(String, String)>,
}

impl StandInRequest {
    /// The first value of a query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a header (name in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }
}

/// The stand-in's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct StandInResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl StandInResponse {
    /// A JSON answer.
    pub fn json(status: u16, body: impl Into<String>) -> StandInResponse {
        StandInResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// Builder-style: add a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> StandInResponse {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// The first value of a header (name as it was added, lower case by convention).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A local imitation of one upstream API.
pub trait StandIn: Send + Sync {
    /// Answer one request as the real API would.
    fn answer(&self, request: &StandInRequest) -> StandInResponse;

    /// The connector settings that point it at this stand-in, served at `base_url`, with the
    /// credentials the stand-in accepts.
    fn settings(&self, base_url: &str) -> serde_json::Value;

    /// Add the identifiers of a person this stand-in knows to the demo's sample subject.
    fn sample(&self, subject: &mut Subject);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_by_name_first_value_first() {
        let response = StandInResponse::json(429, "{}")
            .with_header("x-ratelimit-reset", "60")
            .with_header("x-ratelimit-reset", "120");
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("x-ratelimit-reset"), Some("60"));
        assert_eq!(response.header("retry-after"), None);
    }
}

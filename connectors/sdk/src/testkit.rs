//! Test helpers for connector crates: fixtures, a ready [`EnrichContext`], canned upstream
//! answers for wiremock, and a conformance check every connector should pass.
//!
//! Enable with `enrichd-sdk = { ..., features = ["testkit"] }` under `[dev-dependencies]`.

use std::time::Duration;

use std::sync::Arc;

use percent_encoding::percent_decode_str;
pub use wiremock;
use wiremock::{Mock, MockServer, Request, ResponseTemplate, matchers::any};

use crate::{
    ConnectorFactory, EnrichContext, ErrorCode,
    stand_in::{StandIn, StandInRequest},
};

/// The text of `fixtures/<name>` in the crate under test.
pub fn fixture(name: &str) -> String {
    let dir = std::env::var("CARGO_MANIFEST_DIR")
        .expect("CARGO_MANIFEST_DIR is set by cargo when it runs tests");
    let path = std::path::Path::new(&dir).join("fixtures").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read fixture {}: {err}", path.display()))
}

/// A wiremock answer with `status` and the fixture `name` as a JSON body.
pub fn fixture_response(status: u16, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_raw(fixture(name).into_bytes(), "application/json")
}

/// A mock server answering every request through `stand_in`, as `enrichd demo` serves it.
pub async fn serve_stand_in(stand_in: Arc<dyn StandIn>) -> MockServer {
    let server = MockServer::start().await;
    let respond = move |request: &Request| {
        let answer = stand_in.answer(&stand_in_request(request));
        let mut template = ResponseTemplate::new(answer.status);
        let mut content_type = "application/octet-stream".to_owned();
        for (name, value) in &answer.headers {
            if name == "content-type" {
                content_type = value.clone();
            } else {
                template = template.append_header(name.as_str(), value.as_str());
            }
        }
        template.set_body_raw(answer.body.into_bytes(), &content_type)
    };
    Mock::given(any())
        .respond_with(respond)
        .mount(&server)
        .await;
    server
}

/// What a stand-in sees of a request: percent-decoded path and query, lower-case headers.
pub fn stand_in_request(request: &Request) -> StandInRequest {
    StandInRequest {
        method: request.method.to_string(),
        path: percent_decode_str(request.url.path())
            .decode_utf8_lossy()
            .into_owned(),
        query: request.url.query_pairs().into_owned().collect(),
        headers: request
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value.to_str().unwrap_or_default().to_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
    }
}

/// An HTTP client like enrichd's (pooled, short connect timeout).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .expect("the test HTTP client builds")
}

/// A context with a generous deadline (5 s).
pub fn context() -> EnrichContext {
    context_with_deadline(Duration::from_secs(5))
}

/// A context whose deadline is `within` from now.
pub fn context_with_deadline(within: Duration) -> EnrichContext {
    EnrichContext::new(http_client(), tokio::time::Instant::now() + within)
}

/// Assert that `result` failed with `code`, and return the error for further checks.
#[track_caller]
pub fn expect_error<T: std::fmt::Debug>(
    result: Result<T, crate::ConnectorError>,
    code: ErrorCode,
) -> crate::ConnectorError {
    match result {
        Err(err) if err.code == code => err,
        Err(err) => panic!(
            "expected a `{code}` error, got `{}`: {}",
            err.code, err.message
        ),
        Ok(value) => panic!("expected a `{code}` error, got success: {value:?}"),
    }
}

/// Check what every connector must satisfy, whatever its upstream: sane metadata, a schema
/// with every secret marked, settings validation that names keys, and a built connector of the
/// factory's version (a declarative connector may describe itself from its manifest). `valid_settings` must build.
#[track_caller]
pub fn assert_conformance(factory: &dyn ConnectorFactory, valid_settings: serde_json::Value) {
    let mut problems = Vec::new();
    let meta = factory.metadata();
    if meta.name.is_empty() || meta.name != meta.name.to_lowercase() {
        problems.push(format!("name `{}` must be non-empty lower case", meta.name));
    }
    let semver = meta.version.split('.').count() == 3
        && meta.version.split('.').all(|p| p.parse::<u32>().is_ok());
    if !semver {
        problems.push(format!(
            "version `{}` must be MAJOR.MINOR.PATCH",
            meta.version
        ));
    }
    if meta.description.is_empty() {
        problems.push("description is empty".into());
    }
    if meta.capabilities.is_empty() {
        problems.push("capabilities are empty".into());
    }
    if meta.required_identifiers.is_empty() {
        problems
            .push("required_identifiers are empty: the connector could never be skipped".into());
    }
    if !(meta.default_confidence > 0.0 && meta.default_confidence <= 1.0) {
        problems.push(format!(
            "default_confidence {} must be in (0, 1]",
            meta.default_confidence
        ));
    }
    if meta.default_ttl_seconds == 0 {
        problems.push("default_ttl_seconds must be positive".into());
    }
    if !meta.config_schema.properties.contains_key("base_url") {
        problems.push(
            "settings must include `base_url` so tests and demos can point it at loopback".into(),
        );
    }
    for (key, property) in &meta.config_schema.properties {
        let looks_secret = ["token", "secret", "password", "api_key"]
            .iter()
            .any(|word| key.contains(word));
        if looks_secret && !property.sensitive {
            problems.push(format!(
                "settings key `{key}` looks like a secret but is not marked sensitive"
            ));
        }
    }
    match factory.build(&valid_settings) {
        Ok(connector) if connector.metadata().version != meta.version => {
            problems.push("the built connector's version differs from its factory's".into());
        }
        Ok(_) => {}
        Err(issues) => problems.push(format!("valid_settings do not build: {issues:?}")),
    }
    let mut unknown_key = valid_settings.clone();
    if let Some(map) = unknown_key.as_object_mut() {
        map.insert("no_such_key".into(), serde_json::Value::Bool(true));
    }
    let issues = factory.validate(&unknown_key);
    if !issues.iter().any(|i| i.path == "no_such_key") {
        problems.push(format!(
            "an unknown settings key is not reported by name: {issues:?}"
        ));
    }
    assert!(
        problems.is_empty(),
        "connector `{}` does not conform:\n- {}",
        meta.name,
        problems.join("\n- ")
    );
}

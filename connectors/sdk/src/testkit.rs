//! Test helpers for connector crates: fixtures, a ready [`EnrichContext`], canned upstream
//! answers for wiremock, a connector pointed at a mock server, checks that error messages stay
//! private, stand-in requests and round trips, and a conformance check every connector should
//! pass.
//!
//! Enable with `enrichd-sdk = { ..., features = ["testkit"] }` under `[dev-dependencies]`.
//!
//! A typical `tests/<kind>/helpers.rs` arranges a mock upstream with [`mock_upstream`], answers
//! its lookups with [`answer_get`], reads what was sent with [`single_request`] and checks
//! messages with [`assert_private`]; `stand_in.rs` asks the stand-in with [`stand_in_get`],
//! reads its answers with [`json_body`], and runs the demo's round trip with
//! [`stand_in_round_trip`].

use std::time::Duration;

use std::sync::Arc;

use percent_encoding::percent_decode_str;
use serde_json::Value;
pub use wiremock;
use wiremock::{
    Match, Mock, MockServer, Request, ResponseTemplate,
    matchers::{any, method},
};

use crate::{
    Connector, ConnectorError, ConnectorFactory, EnrichContext, ErrorCode, SettingsIssue, Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
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

/// The fixture `name` parsed as JSON, to compare with what a connector or stand-in answers.
pub fn fixture_json(name: &str) -> Value {
    let text = fixture(name);
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("fixture {name} is not JSON: {err}"))
}

/// A fresh mock server and a connector of `factory` built from `settings` with `base_url` set
/// to the server. The settings must be valid.
///
/// ```no_run
/// # async fn example(factory: &dyn enrichd_sdk::ConnectorFactory) {
/// use enrichd_sdk::testkit::mock_upstream;
///
/// let (server, connector) = mock_upstream(factory, serde_json::json!({"token": "t"})).await;
/// # }
/// ```
pub async fn mock_upstream(
    factory: &dyn ConnectorFactory,
    mut settings: Value,
) -> (MockServer, Arc<dyn Connector>) {
    let server = MockServer::start().await;
    settings["base_url"] = Value::String(server.uri());
    let connector = factory.build(&settings).expect("valid settings build");
    (server, connector)
}

/// Answer every `GET` that `matcher` accepts (a path, say) with `response`.
pub async fn answer_get(
    server: &MockServer,
    matcher: impl Match + 'static,
    response: ResponseTemplate,
) {
    Mock::given(method("GET"))
        .and(matcher)
        .respond_with(response)
        .mount(server)
        .await;
}

/// The only request `server` received; fails when it received none or several.
pub async fn single_request(server: &MockServer) -> Request {
    let mut requests = server
        .received_requests()
        .await
        .expect("the mock server records requests");
    assert_eq!(requests.len(), 1, "expected exactly one upstream call");
    requests.remove(0)
}

/// A header of a request the mock server received, as text; fails when it is not text.
#[track_caller]
pub fn request_header<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request
        .headers
        .get(name)
        .map(|value| value.to_str().expect("the header is text"))
}

/// The Unix time `wait` from now, in whole seconds, as rate-limit reset headers carry it
/// (`x-ratelimit-reset: 1700000060`).
pub fn epoch_in(wait: Duration) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is past 1970");
    (now + wait).as_secs().to_string()
}

/// A base URL where nothing listens, for "the upstream is unreachable" tests. (wiremock pools
/// its servers, so a dropped one still listens: this frees a port instead.)
pub fn unreachable_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let uri = format!("http://{}", listener.local_addr().expect("a bound address"));
    drop(listener);
    uri
}

/// Fail if `err`, as displayed or debugged, carries any of `private`: the emails, handles,
/// tokens, hosts and paths a message must never show.
#[track_caller]
pub fn assert_private(err: &ConnectorError, private: &[&str]) {
    let shown = format!("{err} {err:?}");
    for secret in private {
        assert!(!shown.contains(secret), "`{secret}` leaked into: {shown}");
    }
}

/// The issues `factory` finds in `settings`, which must be refused.
#[track_caller]
pub fn settings_issues(factory: &dyn ConnectorFactory, settings: &Value) -> Vec<SettingsIssue> {
    let issues = factory.validate(settings);
    assert!(!issues.is_empty(), "{settings} should be refused");
    issues
}

/// The keys `issues` name, in order, to compare with the keys a test expects.
pub fn issue_paths(issues: &[SettingsIssue]) -> Vec<&str> {
    issues.iter().map(|i| i.path.as_str()).collect()
}

/// A `GET` of `path` as a stand-in sees it, with `query` in order and, given a `bearer` token,
/// an `authorization: Bearer <token>` header.
pub fn stand_in_get(path: &str, query: &[(&str, &str)], bearer: Option<&str>) -> StandInRequest {
    StandInRequest {
        method: "GET".into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect(),
        headers: bearer
            .map(|t| vec![("authorization".to_owned(), format!("Bearer {t}"))])
            .unwrap_or_default(),
    }
}

/// The body of a stand-in's answer as JSON; fails unless it is JSON and says so in its
/// `content-type`.
#[track_caller]
pub fn json_body(response: &StandInResponse) -> Value {
    assert_eq!(response.header("content-type"), Some("application/json"));
    serde_json::from_str(&response.body).expect("the stand-in answers JSON")
}

/// A connector talking to its stand-in served over HTTP, as `enrichd demo` sets it up.
///
/// The stand-in is served for as long as this value lives: keep it in a variable and borrow
/// its parts (`let StandInRoundTrip { connector, subject, .. } = &trip;`). Destructuring it by
/// value with `..` drops the server at once, and wiremock hands its port to another test.
pub struct StandInRoundTrip {
    /// The stand-in, served by [`Self::server`].
    pub stand_in: Arc<dyn StandIn>,
    pub server: MockServer,
    /// The stand-in's settings for [`Self::server`], which built [`Self::connector`].
    pub settings: Value,
    pub connector: Arc<dyn Connector>,
    /// `Subject::new("demo")` with the stand-in's sample identifiers.
    pub subject: Subject,
}

/// Serve the stand-in of `factory` (which must offer one), build a connector from the
/// stand-in's settings and take its sample subject: the demo's round trip, ready for a test to
/// enrich the sample and check health, unknown people and refused credentials.
///
/// ```no_run
/// # async fn example(factory: &dyn enrichd_sdk::ConnectorFactory) {
/// use enrichd_sdk::testkit::{StandInRoundTrip, context, stand_in_round_trip};
///
/// let trip = stand_in_round_trip(factory).await;
/// let StandInRoundTrip { connector, subject, .. } = &trip;
/// let enrichment = connector.enrich(subject, &context()).await.unwrap();
/// connector.health(&context()).await.unwrap();
/// # }
/// ```
pub async fn stand_in_round_trip(factory: &dyn ConnectorFactory) -> StandInRoundTrip {
    let stand_in = factory
        .stand_in()
        .unwrap_or_else(|| panic!("`{}` offers no stand-in", factory.kind()));
    let server = serve_stand_in(stand_in.clone()).await;
    let settings = stand_in.settings(&server.uri());
    let connector = factory
        .build(&settings)
        .unwrap_or_else(|issues| panic!("the stand-in's settings do not build: {issues:?}"));
    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    StandInRoundTrip {
        stand_in,
        server,
        settings,
        connector,
        subject,
    }
}

/// Assert that `connector` (built with a wrong credential) is refused with `authentication`
/// both when it enriches `subject` and when it checks health.
pub async fn expect_refused(connector: &Arc<dyn Connector>, subject: &Subject) {
    expect_error(
        connector.enrich(subject, &context()).await,
        ErrorCode::Authentication,
    );
    expect_error(
        connector.health(&context()).await,
        ErrorCode::Authentication,
    );
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

/// Enrich `subject` with `connector` and return the quota it reported (the last one), if
/// any, whatever the outcome of the call.
pub async fn reported_quota(
    connector: &Arc<dyn Connector>,
    subject: &Subject,
) -> Option<crate::quota::Quota> {
    let slot = crate::QuotaSlot::default();
    let ctx = context().with_quota_slot(slot.clone());
    let _ = connector.enrich(subject, &ctx).await;
    *slot.lock().unwrap()
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use wiremock::matchers::path;

    use super::*;
    use crate::{
        Capability, Category, ConfigProperty, ConfigSchema, ConnectorMetadata, Enrichment,
        Identifier, PropertyType, async_trait, http,
    };

    /// A connector of a tiny upstream: `GET {base_url}/me` with a bearer token.
    struct Echo {
        base_url: reqwest::Url,
        token: String,
        metadata: ConnectorMetadata,
    }

    impl Echo {
        async fn me(&self) -> Result<(), ConnectorError> {
            let ctx = context();
            let request = ctx
                .http()
                .get(http::endpoint(&self.base_url, &["me"]))
                .bearer_auth(&self.token);
            let response = http::send(request, &ctx).await?;
            if response.status.is_success() {
                Ok(())
            } else {
                Err(http::status_error("Echo", &response))
            }
        }
    }

    #[async_trait]
    impl Connector for Echo {
        fn metadata(&self) -> &ConnectorMetadata {
            &self.metadata
        }

        async fn enrich(
            &self,
            _subject: &Subject,
            _ctx: &EnrichContext,
        ) -> Result<Enrichment, ConnectorError> {
            self.me().await.map(|()| Enrichment::default())
        }

        async fn health(&self, _ctx: &EnrichContext) -> Result<(), ConnectorError> {
            self.me().await
        }
    }

    /// Answers `/me` to the token `good` only, and knows the email `ada@example.com`.
    struct EchoStandIn;

    impl StandIn for EchoStandIn {
        fn answer(&self, request: &StandInRequest) -> StandInResponse {
            match request.bearer_token() {
                Some("good") => StandInResponse::json(200, r#"{"me":true}"#),
                _ => StandInResponse::json(401, r#"{"error":"bad token"}"#),
            }
        }

        fn settings(&self, base_url: &str) -> Value {
            json!({"base_url": base_url, "token": "good"})
        }

        fn sample(&self, subject: &mut Subject) {
            subject
                .email
                .get_or_insert_with(|| "ada@example.com".into());
        }
    }

    struct EchoFactory;

    impl ConnectorFactory for EchoFactory {
        fn kind(&self) -> &'static str {
            "echo"
        }

        fn metadata(&self) -> ConnectorMetadata {
            ConnectorMetadata {
                name: "echo".into(),
                version: "1.0.0".into(),
                category: Category::Other,
                description: "Echoes".into(),
                capabilities: vec![Capability::Identity],
                required_identifiers: vec![Identifier::Email],
                config_schema: ConfigSchema::new()
                    .property("base_url", ConfigProperty::new(PropertyType::Url, "Root"))
                    .property("token", ConfigProperty::secret("Token")),
                default_confidence: 0.5,
                default_ttl_seconds: 60,
            }
        }

        fn build(&self, settings: &Value) -> Result<Arc<dyn Connector>, Vec<SettingsIssue>> {
            let mut issues = Vec::new();
            let base_url = settings["base_url"].as_str().unwrap_or_default();
            let base_url = crate::check_base_url("base_url", base_url, &mut issues);
            let token = settings["token"].as_str().unwrap_or_default().to_owned();
            if token.is_empty() {
                issues.push(SettingsIssue::new("token", "is required"));
            }
            crate::finish_settings(
                issues,
                base_url.map(|base_url| -> Arc<dyn Connector> {
                    Arc::new(Echo {
                        base_url,
                        token,
                        metadata: self.metadata(),
                    })
                }),
            )
        }

        fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
            Some(Arc::new(EchoStandIn))
        }
    }

    #[test]
    fn stand_in_gets_carry_the_query_in_order_and_the_bearer_token() {
        let request = stand_in_get("/v1/people", &[("b", "2"), ("a", "1")], Some("t0k"));
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, "/v1/people");
        assert_eq!(
            request.query,
            [
                ("b".to_owned(), "2".to_owned()),
                ("a".to_owned(), "1".to_owned())
            ]
        );
        assert_eq!(request.bearer_token(), Some("t0k"));
        let anonymous = stand_in_get("/", &[], None);
        assert!(anonymous.query.is_empty() && anonymous.headers.is_empty());
    }

    #[test]
    fn json_bodies_are_parsed() {
        let response = StandInResponse::json(200, r#"{"id": 7}"#);
        assert_eq!(json_body(&response), json!({"id": 7}));
    }

    #[test]
    #[should_panic]
    fn a_body_not_said_to_be_json_is_refused() {
        let response = StandInResponse {
            status: 200,
            headers: vec![("content-type".into(), "text/html".into())],
            body: "{}".into(),
        };
        json_body(&response);
    }

    #[test]
    fn private_values_absent_from_a_message_pass() {
        let err = ConnectorError::connection("HTTP 503 from Echo");
        assert_private(&err, &["ada@example.com", "t0k", "/v1/"]);
    }

    #[test]
    #[should_panic(expected = "`ada@example.com` leaked")]
    fn a_private_value_in_a_message_fails() {
        let err = ConnectorError::connection("no person ada@example.com");
        assert_private(&err, &["t0k", "ada@example.com"]);
    }

    #[test]
    fn refused_settings_name_their_keys() {
        let issues = settings_issues(&EchoFactory, &json!({"base_url": "echo"}));
        assert_eq!(issue_paths(&issues), ["base_url", "token"]);
    }

    #[test]
    #[should_panic(expected = "should be refused")]
    fn valid_settings_have_no_issues_to_list() {
        settings_issues(
            &EchoFactory,
            &json!({"base_url": "https://echo.example", "token": "t"}),
        );
    }

    #[test]
    fn epoch_resets_are_whole_seconds_from_now() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let reset: u64 = epoch_in(Duration::from_secs(60)).parse().unwrap();
        assert!((now + 60..=now + 61).contains(&reset), "{reset} vs {now}");
    }

    #[test]
    fn nothing_listens_at_the_unreachable_base_url() {
        let uri = unreachable_base_url();
        let address = uri.strip_prefix("http://").expect("an http URL");
        assert!(address.starts_with("127.0.0.1:"), "{uri}");
        assert!(std::net::TcpStream::connect(address).is_err());
    }

    #[tokio::test]
    async fn a_mock_upstream_records_what_the_connector_sent() {
        let (server, connector) = mock_upstream(&EchoFactory, json!({"token": "good"})).await;
        answer_get(&server, path("/me"), ResponseTemplate::new(200)).await;

        connector.health(&context()).await.unwrap();

        let request = single_request(&server).await;
        assert_eq!(request.url.path(), "/me");
        assert_eq!(
            request_header(&request, "authorization"),
            Some("Bearer good")
        );
        assert_eq!(request_header(&request, "x-absent"), None);
    }

    #[tokio::test]
    async fn the_round_trip_serves_the_stand_in_to_a_connector_built_from_its_settings() {
        let trip = stand_in_round_trip(&EchoFactory).await;
        let StandInRoundTrip {
            server,
            settings,
            connector,
            subject,
            ..
        } = &trip;
        assert_eq!(settings["base_url"], json!(server.uri()));
        assert_eq!(subject.email.as_deref(), Some("ada@example.com"));
        connector.enrich(subject, &context()).await.unwrap();
        connector.health(&context()).await.unwrap();

        let wrong = EchoFactory
            .build(&json!({"base_url": server.uri(), "token": "bad"}))
            .unwrap();
        expect_refused(&wrong, subject).await;
    }
}

//! Shared arrangements: a manifest pointed at a fresh mock server, a connector built from it,
//! subjects, and checks that error messages stay free of personal data and credentials.

use std::sync::Arc;

use enrichd_http::HttpFactory;
use enrichd_sdk::{
    Connector, ConnectorError, ConnectorFactory, Enrichment, SettingsIssue, Subject,
    testkit::{
        self, answer_get, context,
        wiremock::{
            Mock, MockServer, Request, ResponseTemplate,
            matchers::{any, path},
        },
    },
};
use serde_json::{Value, json};

/// The bearer token of the test manifest.
pub const TOKEN: &str = "acme_live_4f1e8c0b9a7d6e5f";
/// A second credential, sent as `X-Api-Key`.
pub const API_KEY: &str = "k-7d1c0ffee0ddba11";
/// The demo person's email, whom `fixtures/person-bcooper.json` describes.
pub const EMAIL: &str = "bcooper@biglytics.net";
/// The path the test manifest calls.
pub const PEOPLE_PATH: &str = "/v1/people";

/// The manifest of the tests, calling `server` (its `host:port` is the only allowed host):
/// `GET /v1/people?email={email}&uid={user_id}` with two credentials, the mapping of the
/// example manifest, and the default not-found rules.
pub fn manifest(server: &MockServer) -> Value {
    json!({
        "name": "acme-people",
        "description": "People API of ACME",
        "version": "1.0.0",
        "category": "crm",
        "requires": ["email"],
        "allowed_hosts": [host_port(server)],
        "request": {
            "method": "GET",
            "url": format!("{}{PEOPLE_PATH}?email={{email}}&uid={{user_id}}", server.uri()),
            "headers": {
                "Authorization": format!("Bearer {TOKEN}"),
                "X-Api-Key": API_KEY,
                "Accept": "application/json",
            },
        },
        "mapping": {
            "identity.name": "/person/full_name",
            "identity.emails": "/person/emails",
            "identity.avatar_url": "/person/avatar",
            "identity.company": "/person/employment/company",
            "identity.job_title": "/person/employment/title",
            "identity.handles.github": "/person/github",
            "demographics.city": "/person/geo/city",
            "demographics.country": "/person/geo/country",
            "interests": "/person/tags",
            "social.connections": "/person/followers",
            "behavior.preferred_channels": "/person/channels",
            "behavior.engagement.acme_score": "/person/score",
            "contextual.person_id": "/person/id",
            "contextual.plan": "/person/plan",
        },
    })
}

/// `127.0.0.1:<port>` of `server`.
pub fn host_port(server: &MockServer) -> String {
    server.address().to_string()
}

/// A mock ACME API and a connector built from a manifest pointed at it.
pub struct TestApi {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestApi {
    /// A connector with the test manifest.
    pub async fn start() -> TestApi {
        TestApi::start_with(|_, _| {}).await
    }

    /// A connector with the test manifest as `change` leaves it.
    pub async fn start_with(change: impl FnOnce(&mut Value, &MockServer)) -> TestApi {
        let server = MockServer::start().await;
        let mut settings = manifest(&server);
        change(&mut settings, &server);
        let connector = build(&settings);
        TestApi { server, connector }
    }

    /// Answer every `GET /v1/people` with `response`.
    pub async fn answer_lookups(&self, response: ResponseTemplate) {
        answer_get(&self.server, path(PEOPLE_PATH), response).await;
    }

    /// Answer any request with `response`.
    pub async fn answer_all(&self, response: ResponseTemplate) {
        Mock::given(any())
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    /// Enrich a subject carrying `email`.
    pub async fn enrich(&self, email: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(email), &context()).await
    }

    /// Every request the server received.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap()
    }

    /// The only request the server received.
    pub async fn single_request(&self) -> Request {
        testkit::single_request(&self.server).await
    }
}

/// Build a connector from `settings`, which must be valid.
pub fn build(settings: &Value) -> Arc<dyn Connector> {
    HttpFactory
        .build(settings)
        .unwrap_or_else(|issues| panic!("the manifest should build: {issues:#?}"))
}

/// The issues of `settings`, which must be refused.
#[track_caller]
pub fn issues(settings: &Value) -> Vec<SettingsIssue> {
    testkit::settings_issues(&HttpFactory, settings)
}

pub fn subject(email: &str) -> Subject {
    Subject::new("u-42").with_email(email)
}

/// Fail if `err`'s message carries a credential, the email or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, server: &MockServer) {
    testkit::assert_private(
        err,
        &[
            TOKEN,
            API_KEY,
            EMAIL,
            "bcooper",
            &server.uri(),
            "127.0.0.1",
            PEOPLE_PATH,
        ],
    );
}

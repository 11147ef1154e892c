//! Shared arrangements: a connector pointed at a fresh mock server, the two calls' answers,
//! and checks that error messages stay free of personal data, tokens and URLs.

use std::sync::Arc;

use enrichd_pipedrive::PipedriveFactory;
use enrichd_sdk::{
    Connector, ConnectorError, Enrichment, Subject,
    testkit::{
        self, answer_get, context, mock_upstream,
        wiremock::{
            MockServer, Request, ResponseTemplate,
            matchers::{path, path_regex},
        },
    },
};
use serde_json::{Value, json};

/// A token shaped like a Pipedrive personal API token (40 hex digits).
pub const API_TOKEN: &str = "0123456789abcdef0123456789abcdef01234567";
/// A token shaped like a Pipedrive OAuth access token.
pub const ACCESS_TOKEN: &str = "v1u:AQIBAHj+LzTNK2yuuuaLqifzhWb9crUNKTpk4FlQ9rjnXqp";
/// The demo person's email.
pub const EMAIL: &str = "bcooper@biglytics.net";
pub const SEARCH_PATH: &str = "/v1/persons/search";

/// A mock Pipedrive and a connector pointed at it.
pub struct TestPipedrive {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestPipedrive {
    /// A connector with [`API_TOKEN`].
    pub async fn start() -> TestPipedrive {
        TestPipedrive::start_with(json!({"api_token": API_TOKEN})).await
    }

    /// A connector with `settings`, its `base_url` set to the mock server.
    pub async fn start_with(settings: Value) -> TestPipedrive {
        let (server, connector) = mock_upstream(&PipedriveFactory, settings).await;
        TestPipedrive { server, connector }
    }

    /// Answer every search with `response`.
    pub async fn answer_search(&self, response: ResponseTemplate) {
        answer_get(&self.server, path(SEARCH_PATH), response).await;
    }

    /// Answer every `GET /v1/persons/{id}` with `response`.
    pub async fn answer_person(&self, response: ResponseTemplate) {
        answer_get(&self.server, path_regex(r"^/v1/persons/\d+$"), response).await;
    }

    /// Enrich a subject carrying `email`.
    pub async fn enrich(&self, email: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(email), &context()).await
    }

    /// Every request the server received, in order.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap()
    }
}

/// A search answer whose one hit is person `id`.
pub fn search_hit(id: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "success": true,
        "data": {"items": [{"result_score": 1.0, "item": {"id": id, "type": "person", "name": "Someone"}}]},
        "additional_data": {"pagination": {"start": 0, "limit": 1, "more_items_in_collection": false}},
    }))
}

/// The search answer for an unknown email.
pub fn no_hits() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "success": true,
        "data": {"items": []},
        "additional_data": {"pagination": {"start": 0, "limit": 1, "more_items_in_collection": false}},
    }))
}

/// A person answer holding `data`.
pub fn person(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": data}))
}

/// Pipedrive's error body.
pub fn pipedrive_error(status: u16, error: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "success": false,
        "error": error,
        "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
        "data": null,
        "additional_data": null,
    }))
}

/// The decoded query parameters of `request`, in order.
pub fn query(request: &Request) -> Vec<(String, String)> {
    request.url.query_pairs().into_owned().collect()
}

pub fn subject(email: &str) -> Subject {
    Subject::new("u-42").with_email(email)
}

/// Fail if `err`'s message carries the email, a token or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, email: &str, server: &MockServer) {
    testkit::assert_private(
        err,
        &[
            email,
            API_TOKEN,
            ACCESS_TOKEN,
            &server.uri(),
            "127.0.0.1",
            "/v1/",
            "api_token=",
        ],
    );
}

//! Shared arrangements: a connector pointed at a fresh mock server, subjects, and checks that
//! error messages stay free of the email, its hash, the key and the URL.

use std::sync::Arc;

use enrichd_gravatar::GravatarFactory;
use enrichd_sdk::{
    Connector, ConnectorError, Enrichment, Subject,
    testkit::{
        self, answer_get, context, mock_upstream,
        wiremock::{MockServer, Request, ResponseTemplate, matchers::path_regex},
    },
};
use serde_json::json;

/// A key shaped like a Gravatar API key.
pub const API_KEY: &str = "gk_8f2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d";
/// The demo person's email.
pub const EMAIL: &str = "bcooper@biglytics.net";
/// Its SHA-256, the profile identifier (computed independently of the crate).
pub const EMAIL_HASH: &str = "4c73fcbf969ed25df23853b19f5da337724a60817813a321290874293c607bde";

/// A mock Gravatar and a connector pointed at it.
pub struct TestGravatar {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestGravatar {
    /// A connector without an API key.
    pub async fn start() -> TestGravatar {
        TestGravatar::start_with(json!({})).await
    }

    /// A connector with `settings` (its `base_url` set to the mock server).
    pub async fn start_with(settings: serde_json::Value) -> TestGravatar {
        let (server, connector) = mock_upstream(&GravatarFactory, settings).await;
        TestGravatar { server, connector }
    }

    /// Answer every profile lookup with `response`.
    pub async fn answer_lookups(&self, response: ResponseTemplate) {
        answer_get(&self.server, path_regex("^/v3/profiles/[^/]+$"), response).await;
    }

    /// Enrich a subject carrying `email`.
    pub async fn enrich(&self, email: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(email), &context()).await
    }

    /// The only request the server received.
    pub async fn single_request(&self) -> Request {
        testkit::single_request(&self.server).await
    }
}

pub fn subject(email: &str) -> Subject {
    Subject::new("u-42").with_email(email)
}

/// Fail if `err`'s message carries the email, its hash, the key or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, server: &MockServer) {
    testkit::assert_private(
        err,
        &[
            EMAIL,
            EMAIL_HASH,
            API_KEY,
            &server.uri(),
            "127.0.0.1",
            "/v3/",
        ],
    );
}

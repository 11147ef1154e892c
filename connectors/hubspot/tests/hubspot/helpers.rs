//! Shared arrangements: a connector pointed at a fresh mock server, subjects, and checks that
//! error messages stay free of personal data and credentials.

use std::sync::Arc;

use enrichd_hubspot::HubSpotFactory;
use enrichd_sdk::{
    Connector, ConnectorError, ConnectorFactory, Subject,
    testkit::{
        self, answer_get, mock_upstream,
        wiremock::{MockServer, Request, ResponseTemplate, matchers::path_regex},
    },
};
use serde_json::json;

/// A token shaped like a private-app token.
pub const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
/// The email of HubSpot's example contact (`fixtures/contact-by-email.json`).
pub const EMAIL: &str = "bcooper@biglytics.net";
/// The path of the lookup of [`EMAIL`].
pub const CONTACT_PATH: &str = "/crm/v3/objects/contacts/bcooper@biglytics.net";

/// A mock HubSpot and a connector pointed at it.
pub struct TestHubSpot {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestHubSpot {
    pub async fn start() -> TestHubSpot {
        let (server, connector) =
            mock_upstream(&HubSpotFactory, json!({"access_token": TOKEN})).await;
        TestHubSpot { server, connector }
    }

    /// Answer every contact lookup with `response`.
    pub async fn answer_lookups(&self, response: ResponseTemplate) {
        answer_get(
            &self.server,
            path_regex("^/crm/v3/objects/contacts/.+"),
            response,
        )
        .await;
    }

    /// Enrich a subject carrying `email`.
    pub async fn enrich(&self, email: &str) -> Result<enrichd_sdk::Enrichment, ConnectorError> {
        self.connector
            .enrich(&subject(email), &enrichd_sdk::testkit::context())
            .await
    }

    /// The only request the server received.
    pub async fn single_request(&self) -> Request {
        testkit::single_request(&self.server).await
    }
}

/// A connector with [`TOKEN`] and default settings, calling `base_url`.
pub fn connector(base_url: &str) -> Arc<dyn Connector> {
    HubSpotFactory
        .build(&json!({"base_url": base_url, "access_token": TOKEN}))
        .expect("valid settings build")
}

pub fn subject(email: &str) -> Subject {
    Subject::new("u-42").with_email(email)
}

/// Fail if `err`'s message carries the email, the token or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, email: &str, server: &MockServer) {
    testkit::assert_private(err, &[email, TOKEN, &server.uri(), "127.0.0.1", "/crm/"]);
}

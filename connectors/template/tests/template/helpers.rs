//! Shared arrangements: a mock Acme API with a connector pointed at it, and a check that error
//! messages stay free of personal data and credentials.

use std::sync::Arc;

use enrichd_connector_template::TemplateFactory;
use enrichd_sdk::{
    Connector, ConnectorError, Enrichment, Subject,
    testkit::{
        self, answer_get, context, mock_upstream,
        wiremock::{MockServer, ResponseTemplate, matchers::path},
    },
};
use serde_json::json;

pub const API_KEY: &str = "acme_live_0123456789abcdef";
pub const EMAIL: &str = "bcooper@biglytics.net";

/// A mock Acme API and a connector pointed at it.
pub struct TestAcme {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestAcme {
    pub async fn start() -> TestAcme {
        let (server, connector) =
            mock_upstream(&TemplateFactory, json!({"api_key": API_KEY})).await;
        TestAcme { server, connector }
    }

    /// Answer every person lookup with `response`.
    pub async fn answer_lookups(&self, response: ResponseTemplate) {
        answer_get(&self.server, path("/v1/people"), response).await;
    }

    pub async fn enrich(&self, email: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(email), &context()).await
    }
}

pub fn subject(email: &str) -> Subject {
    Subject::new("u-42").with_email(email)
}

/// Fail if `err`'s message carries the email, the key or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, server: &MockServer) {
    testkit::assert_private(err, &[EMAIL, API_KEY, &server.uri(), "/v1/"]);
}

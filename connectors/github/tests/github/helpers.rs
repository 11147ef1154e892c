//! Shared arrangements: a connector pointed at a fresh mock server, subjects, and checks that
//! error messages stay free of credentials and URLs.

use std::sync::Arc;

use enrichd_github::GitHubFactory;
use enrichd_sdk::{
    Connector, ConnectorError, Enrichment, Subject,
    testkit::{
        self, answer_get, context, mock_upstream,
        wiremock::{MockServer, Request, ResponseTemplate, matchers::path_regex},
    },
};
use serde_json::json;

/// A token shaped like a fine-grained personal access token.
pub const TOKEN: &str = "github_pat_11AAAAAAA0123456789_abcdefghijklmnopqrstuvwxyz";

/// A mock GitHub and a connector pointed at it.
pub struct TestGitHub {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestGitHub {
    /// A connector without a token.
    pub async fn start() -> TestGitHub {
        TestGitHub::start_with(json!({})).await
    }

    /// A connector with `settings` (its `base_url` set to the mock server).
    pub async fn start_with(settings: serde_json::Value) -> TestGitHub {
        let (server, connector) = mock_upstream(&GitHubFactory, settings).await;
        TestGitHub { server, connector }
    }

    /// Answer every user lookup with `response`.
    pub async fn answer_users(&self, response: ResponseTemplate) {
        answer_get(&self.server, path_regex("^/users/[^/]+$"), response).await;
    }

    /// Enrich a subject whose github handle is `login`.
    pub async fn enrich(&self, login: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(login), &context()).await
    }

    /// The only request the server received.
    pub async fn single_request(&self) -> Request {
        testkit::single_request(&self.server).await
    }
}

pub fn subject(login: &str) -> Subject {
    Subject::new("u-42")
        .with_email("ada@example.com")
        .with_handle("github", login)
}

/// Fail if `err`'s message carries the token, the subject's email or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, server: &MockServer) {
    testkit::assert_private(
        err,
        &[
            TOKEN,
            "ada@example.com",
            &server.uri(),
            "127.0.0.1",
            "/users/",
        ],
    );
}

//! Shared arrangements: a connector pointed at a fresh mock server (through `base_url`),
//! subjects, and checks that error messages stay free of credentials, handles and URLs.

use std::sync::Arc;

use enrichd_mastodon::MastodonFactory;
use enrichd_sdk::{
    Connector, ConnectorError, Enrichment, Subject,
    testkit::{
        self, answer_get, context, mock_upstream,
        wiremock::{MockServer, Request, ResponseTemplate, matchers::path},
    },
};
use serde_json::json;

/// A token shaped like a Mastodon access token.
pub const TOKEN: &str = "ZA-Yj3aBD8U8Cm7lKUp-lm9O9BmDgdhHzDeqsY8tlL0";
/// The handle of Mastodon's example local account.
pub const HANDLE: &str = "Gargron@mastodon.social";
pub const LOOKUP_PATH: &str = "/api/v1/accounts/lookup";

/// A mock Mastodon server and a connector whose `base_url` points at it.
pub struct TestMastodon {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestMastodon {
    /// A connector without a token.
    pub async fn start() -> TestMastodon {
        TestMastodon::start_with(json!({})).await
    }

    /// A connector with `settings` (its `base_url` set to the mock server).
    pub async fn start_with(settings: serde_json::Value) -> TestMastodon {
        let (server, connector) = mock_upstream(&MastodonFactory, settings).await;
        TestMastodon { server, connector }
    }

    /// Answer every account lookup with `response`.
    pub async fn answer_lookups(&self, response: ResponseTemplate) {
        answer_get(&self.server, path(LOOKUP_PATH), response).await;
    }

    /// Enrich a subject whose mastodon handle is `handle`.
    pub async fn enrich(&self, handle: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(handle), &context()).await
    }

    /// The only request the server received.
    pub async fn single_request(&self) -> Request {
        testkit::single_request(&self.server).await
    }
}

pub fn subject(handle: &str) -> Subject {
    Subject::new("u-42")
        .with_email("ada@example.com")
        .with_handle("mastodon", handle)
}

/// Fail if `err`'s message carries the token, the email, the handle (or its parts) or where the
/// request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, handle: &str, server: &MockServer) {
    let (user, instance) = handle
        .trim_start_matches('@')
        .split_once('@')
        .unwrap_or((handle, handle));
    testkit::assert_private(
        err,
        &[
            TOKEN,
            "ada@example.com",
            handle,
            user,
            instance,
            &server.uri(),
            "127.0.0.1",
            "/api/",
        ],
    );
}

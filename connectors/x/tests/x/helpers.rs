//! Shared arrangements: a connector pointed at a fresh mock server, subjects, and checks that
//! error messages stay free of credentials, handles and URLs.

use std::sync::Arc;

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorFactory, Enrichment, Subject,
    testkit::{
        self, answer_get, context, mock_upstream,
        wiremock::{MockServer, Request, ResponseTemplate, matchers::path_regex},
    },
};
use enrichd_x::XFactory;
use serde_json::json;

/// A token shaped like an app-only bearer token.
pub const TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAMLheAAAAAAA0%2BuSeid%2BULvsea4JtiGRiSDSJSI%3DEUifiRBkKG5E2XzMDjRfl76ZC9Ub0wnz4XsNiRVBChTYbJcE3F";
/// The username of X's example user.
pub const USERNAME: &str = "XDevelopers";

/// A mock X and a connector pointed at it.
pub struct TestX {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestX {
    pub async fn start() -> TestX {
        let (server, connector) = mock_upstream(&XFactory, json!({"bearer_token": TOKEN})).await;
        TestX { server, connector }
    }

    /// Answer every user lookup with `response`.
    pub async fn answer_lookups(&self, response: ResponseTemplate) {
        answer_get(
            &self.server,
            path_regex("^/2/users/by/username/[^/]+$"),
            response,
        )
        .await;
    }

    /// Enrich a subject whose x handle is `handle`.
    pub async fn enrich(&self, handle: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(handle), &context()).await
    }

    /// The only request the server received.
    pub async fn single_request(&self) -> Request {
        testkit::single_request(&self.server).await
    }
}

/// A connector with [`TOKEN`], calling `base_url`.
pub fn connector(base_url: &str) -> Arc<dyn Connector> {
    XFactory
        .build(&json!({"base_url": base_url, "bearer_token": TOKEN}))
        .expect("valid settings build")
}

pub fn subject(handle: &str) -> Subject {
    Subject::new("u-42")
        .with_email("ada@example.com")
        .with_handle("x", handle)
}

/// Fail if `err`'s message carries the token, the email, the handle or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, handle: &str, server: &MockServer) {
    testkit::assert_private(
        err,
        &[
            TOKEN,
            "ada@example.com",
            handle,
            &server.uri(),
            "127.0.0.1",
            "/2/users",
        ],
    );
}

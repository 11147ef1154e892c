//! Shared arrangements: a connector pointed at a fresh mock server, canned query results, and
//! checks that error messages stay free of personal data and credentials.

use std::sync::Arc;

use enrichd_salesforce::SalesforceFactory;
use enrichd_sdk::{
    Connector, ConnectorError, Enrichment, Subject,
    testkit::{
        self, context, mock_upstream,
        wiremock::{
            Mock, MockServer, Request, ResponseTemplate,
            matchers::{method, path, query_param_contains},
        },
    },
};
use serde_json::{Value, json};

/// A token shaped like a Salesforce session id.
pub const TOKEN: &str = "00DRO000000AbCd!AQ4AQGf3xL9.fake.session.token";
/// The demo person's email.
pub const EMAIL: &str = "bcooper@biglytics.net";
/// The query resource at the default API version.
pub const QUERY_PATH: &str = "/services/data/v66.0/query";

/// A mock Salesforce org and a connector pointed at it.
pub struct TestSalesforce {
    pub server: MockServer,
    pub connector: Arc<dyn Connector>,
}

impl TestSalesforce {
    /// A connector with the default settings.
    pub async fn start() -> TestSalesforce {
        TestSalesforce::start_with(json!({})).await
    }

    /// A connector with `settings`, its `base_url` set to the mock server and [`TOKEN`] unless
    /// the settings name a token.
    pub async fn start_with(mut settings: Value) -> TestSalesforce {
        if settings.get("access_token").is_none() {
            settings["access_token"] = json!(TOKEN);
        }
        let (server, connector) = mock_upstream(&SalesforceFactory, settings).await;
        TestSalesforce { server, connector }
    }

    /// Answer every query on `object` (`Contact`, `Lead`) with `response`.
    pub async fn answer(&self, object: &str, response: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path(QUERY_PATH))
            .and(query_param_contains("q", format!(" FROM {object} ")))
            .respond_with(response)
            .mount(&self.server)
            .await;
    }

    /// Enrich a subject carrying `email`.
    pub async fn enrich(&self, email: &str) -> Result<Enrichment, ConnectorError> {
        self.connector.enrich(&subject(email), &context()).await
    }

    /// Every request the server received, in order.
    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap()
    }

    /// The `q` parameter of every request, decoded, in order.
    pub async fn queries(&self) -> Vec<String> {
        self.requests().await.iter().map(soql).collect()
    }
}

/// The decoded `q` parameter of `request`.
pub fn soql(request: &Request) -> String {
    request
        .url
        .query_pairs()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.into_owned())
        .expect("a query request carries q")
}

/// A 200 query result holding `records`.
pub fn query_result(records: Value) -> ResponseTemplate {
    let total = records.as_array().map_or(0, Vec::len);
    ResponseTemplate::new(200).set_body_json(json!({
        "totalSize": total,
        "done": true,
        "records": records,
    }))
}

/// What Salesforce answers when no record matches.
pub fn no_records() -> ResponseTemplate {
    query_result(json!([]))
}

/// Salesforce's error array with one entry.
pub fn salesforce_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!([{"message": message, "errorCode": code}]))
}

pub fn subject(email: &str) -> Subject {
    Subject::new("u-42").with_email(email)
}

/// Fail if `err`'s message carries the email, the token or where the request went.
#[track_caller]
pub fn assert_private(err: &ConnectorError, email: &str, server: &MockServer) {
    testkit::assert_private(
        err,
        &[
            email,
            TOKEN,
            &server.uri(),
            "127.0.0.1",
            "/services/",
            "SELECT",
        ],
    );
}

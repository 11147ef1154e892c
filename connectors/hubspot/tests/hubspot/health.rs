//! The health check: one cheap authenticated call.

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, expect_error,
        wiremock::{
            Mock, ResponseTemplate,
            matchers::{header, method, path, query_param},
        },
    },
};
use serde_json::json;

use crate::helpers::{TOKEN, TestHubSpot};

#[tokio::test]
async fn health_lists_one_contact_with_the_token() {
    let hubspot = TestHubSpot::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .and(query_param("limit", "1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"results": []})))
        .expect(1)
        .mount(&hubspot.server)
        .await;

    hubspot.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn health_reports_a_refused_token() {
    for status in [401, 403] {
        let hubspot = TestHubSpot::start().await;
        Mock::given(method("GET"))
            .and(path("/crm/v3/objects/contacts"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "status": "error",
                "message": "Authentication credentials not found.",
                "correlationId": "bc05f85b-9acb-4442-a9d0-935b4405f248",
                "category": "INVALID_AUTHENTICATION",
            })))
            .mount(&hubspot.server)
            .await;

        let err = expect_error(
            hubspot.connector.health(&context()).await,
            ErrorCode::Authentication,
        );

        assert!(!err.message.contains(TOKEN));
    }
}

#[tokio::test]
async fn health_reports_an_unavailable_hubspot() {
    let hubspot = TestHubSpot::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&hubspot.server)
        .await;

    expect_error(
        hubspot.connector.health(&context()).await,
        ErrorCode::Connection,
    );
}

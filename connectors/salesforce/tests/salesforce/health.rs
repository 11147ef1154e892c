//! The health check: `GET /services/data/{version}/limits`, one cheap authenticated call.

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, expect_error, fixture_response,
        wiremock::{
            Mock, ResponseTemplate,
            matchers::{header, method, path},
        },
    },
};
use serde_json::json;

use crate::helpers::{TOKEN, TestSalesforce, salesforce_error};

const LIMITS_PATH: &str = "/services/data/v66.0/limits";

fn limits(remaining: i64) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("sforce-limit-info", "api-usage=14/15000")
        .set_body_json(json!({
            "DailyApiRequests": {"Max": 15000, "Remaining": remaining},
            "DailyBulkApiBatches": {"Max": 15000, "Remaining": 15000},
        }))
}

#[tokio::test]
async fn health_reads_the_limits_with_the_token() {
    let salesforce = TestSalesforce::start().await;
    Mock::given(method("GET"))
        .and(path(LIMITS_PATH))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(limits(14986))
        .expect(1)
        .mount(&salesforce.server)
        .await;

    salesforce.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn health_reports_a_used_up_daily_allowance() {
    let salesforce = TestSalesforce::start().await;
    Mock::given(path(LIMITS_PATH))
        .respond_with(limits(0))
        .mount(&salesforce.server)
        .await;

    expect_error(
        salesforce.connector.health(&context()).await,
        ErrorCode::QuotaExceeded,
    );
}

#[tokio::test]
async fn health_reports_a_refused_token() {
    let salesforce = TestSalesforce::start().await;
    Mock::given(path(LIMITS_PATH))
        .respond_with(salesforce_error(
            401,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ))
        .mount(&salesforce.server)
        .await;

    let err = expect_error(
        salesforce.connector.health(&context()).await,
        ErrorCode::Authentication,
    );

    assert!(!err.message.contains(TOKEN));
}

#[tokio::test]
async fn health_reports_a_wrong_version_or_instance_as_configuration() {
    let salesforce = TestSalesforce::start().await;
    Mock::given(method("GET"))
        .respond_with(fixture_response(404, "404.json"))
        .mount(&salesforce.server)
        .await;

    let err = expect_error(
        salesforce.connector.health(&context()).await,
        ErrorCode::InvalidConfig,
    );

    assert!(err.message.contains("`base_url`"), "{}", err.message);
}

#[tokio::test]
async fn health_reports_an_unavailable_salesforce() {
    let salesforce = TestSalesforce::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&salesforce.server)
        .await;

    expect_error(
        salesforce.connector.health(&context()).await,
        ErrorCode::Connection,
    );
}

//! The health check: `GET /v1/users/me`, one cheap authenticated call.

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

use crate::helpers::{ACCESS_TOKEN, API_TOKEN, TestPipedrive, pipedrive_error};

fn me() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "success": true,
        "data": {"id": 123, "name": "Jane Doe", "email": "jane@pipedrive.com", "active_flag": true},
    }))
}

#[tokio::test]
async fn health_reads_the_tokens_user_with_either_credential() {
    let pipedrive = TestPipedrive::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .and(query_param("api_token", API_TOKEN))
        .respond_with(me())
        .expect(1)
        .mount(&pipedrive.server)
        .await;
    pipedrive.connector.health(&context()).await.unwrap();

    let oauth = TestPipedrive::start_with(json!({"access_token": ACCESS_TOKEN})).await;
    Mock::given(method("GET"))
        .and(path("/v1/users/me"))
        .and(header(
            "authorization",
            format!("Bearer {ACCESS_TOKEN}").as_str(),
        ))
        .respond_with(me())
        .expect(1)
        .mount(&oauth.server)
        .await;
    oauth.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn health_reports_a_refused_token() {
    let pipedrive = TestPipedrive::start().await;
    Mock::given(path("/v1/users/me"))
        .respond_with(pipedrive_error(401, "unauthorized access"))
        .mount(&pipedrive.server)
        .await;

    let err = expect_error(
        pipedrive.connector.health(&context()).await,
        ErrorCode::Authentication,
    );

    assert!(!err.message.contains(API_TOKEN));
}

#[tokio::test]
async fn health_reports_a_wrong_base_url() {
    let pipedrive = TestPipedrive::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>no</html>"))
        .mount(&pipedrive.server)
        .await;

    expect_error(
        pipedrive.connector.health(&context()).await,
        ErrorCode::InvalidConfig,
    );
}

#[tokio::test]
async fn health_reports_an_unavailable_pipedrive() {
    let pipedrive = TestPipedrive::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&pipedrive.server)
        .await;

    expect_error(
        pipedrive.connector.health(&context()).await,
        ErrorCode::Connection,
    );
}

//! The health check: `GET /rate_limit`, which costs nothing against the limit.

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, expect_error,
        wiremock::{
            Mock, ResponseTemplate,
            matchers::{header, method, path},
        },
    },
};
use serde_json::json;

use crate::helpers::{TOKEN, TestGitHub};

#[tokio::test]
async fn health_reads_the_rate_limit_with_githubs_headers() {
    let github = TestGitHub::start_with(json!({"token": TOKEN})).await;
    Mock::given(method("GET"))
        .and(path("/rate_limit"))
        .and(header("accept", "application/vnd.github+json"))
        .and(header("x-github-api-version", "2022-11-28"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resources": {"core": {"limit": 5000, "remaining": 4999, "reset": 1_700_000_000, "used": 1, "resource": "core"}},
            "rate": {"limit": 5000, "remaining": 4999, "reset": 1_700_000_000, "used": 1, "resource": "core"},
        })))
        .expect(1)
        .mount(&github.server)
        .await;

    github.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn health_reports_a_bad_token() {
    let github = TestGitHub::start_with(json!({"token": TOKEN})).await;
    Mock::given(path("/rate_limit"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        })))
        .mount(&github.server)
        .await;

    let err = expect_error(
        github.connector.health(&context()).await,
        ErrorCode::Authentication,
    );

    assert!(!err.message.contains(TOKEN));
}

#[tokio::test]
async fn an_enterprise_server_without_rate_limiting_is_healthy() {
    let github = TestGitHub::start().await;
    Mock::given(path("/rate_limit"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "message": "Rate limiting is not enabled.",
            "documentation_url": "https://docs.github.com/enterprise-server@3.14/rest/rate-limit/rate-limit#get-rate-limit-status-for-the-authenticated-user",
        })))
        .mount(&github.server)
        .await;

    github.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn a_404_from_something_else_is_a_bad_base_url() {
    let github = TestGitHub::start().await;
    Mock::given(path("/rate_limit"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>nope</html>"))
        .mount(&github.server)
        .await;

    let err = expect_error(
        github.connector.health(&context()).await,
        ErrorCode::BadResponse,
    );

    assert!(err.message.contains("base_url"), "{}", err.message);
}

//! The health check: `health.url` with the request's fixed headers, or healthy without one.

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

use crate::helpers::{API_KEY, TOKEN, TestApi, assert_private};

/// A connector with `health: {url: <server>/v1/status, expect_status}` and a header holding a
/// placeholder (which the health call, having no subject, leaves out).
async fn with_health(expect_status: Option<u16>) -> TestApi {
    TestApi::start_with(|manifest, server| {
        let mut health = json!({"url": format!("{}/v1/status", server.uri())});
        if let Some(status) = expect_status {
            health["expect_status"] = json!(status);
        }
        manifest["health"] = health;
        manifest["request"]["headers"]["X-Email"] = json!("{email}");
    })
    .await
}

#[tokio::test]
async fn without_a_health_section_the_connector_is_healthy_without_a_call() {
    let api = TestApi::start().await;
    api.answer_all(ResponseTemplate::new(500)).await;

    api.connector.health(&context()).await.unwrap();

    assert!(api.requests().await.is_empty());
}

#[tokio::test]
async fn health_gets_its_url_with_the_fixed_headers() {
    let api = with_health(None).await;
    Mock::given(method("GET"))
        .and(path("/v1/status"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("x-api-key", API_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok"})))
        .expect(1)
        .mount(&api.server)
        .await;

    api.connector.health(&context()).await.unwrap();

    let request = api.single_request().await;
    assert!(request.headers.get("x-email").is_none());
}

#[tokio::test]
async fn health_wants_its_expected_status() {
    let api = with_health(Some(204)).await;
    api.answer_all(ResponseTemplate::new(204)).await;
    api.connector.health(&context()).await.unwrap();

    let api = with_health(Some(204)).await;
    api.answer_all(ResponseTemplate::new(200)).await;
    let err = expect_error(
        api.connector.health(&context()).await,
        ErrorCode::BadResponse,
    );
    assert_eq!(
        err.message,
        "HTTP 200 from acme-people (health check, expected HTTP 204)"
    );
}

#[tokio::test]
async fn health_reports_refused_credentials_and_outages() {
    let cases = [
        (401, ErrorCode::Authentication),
        (403, ErrorCode::Authentication),
        (404, ErrorCode::BadResponse),
        (429, ErrorCode::RateLimited),
        (503, ErrorCode::Connection),
    ];
    for (status, code) in cases {
        let api = with_health(None).await;
        api.answer_all(ResponseTemplate::new(status)).await;

        let err = expect_error(api.connector.health(&context()).await, code);

        assert!(err.message.contains("health check"), "{}", err.message);
        assert_private(&err, &api.server);
    }
}

#[tokio::test]
async fn health_follows_the_same_redirect_rules() {
    let api = with_health(None).await;
    api.answer_all(
        ResponseTemplate::new(302).insert_header("location", "http://localhost:1/status"),
    )
    .await;

    expect_error(
        api.connector.health(&context()).await,
        ErrorCode::BadResponse,
    );
}

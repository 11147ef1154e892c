//! The health check: a lookup of X's own developer account, which costs one request.

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

use crate::helpers::{TOKEN, TestX};

#[tokio::test]
async fn health_looks_up_x_developers_with_the_token_and_default_fields() {
    let x = TestX::start().await;
    Mock::given(method("GET"))
        .and(path("/2/users/by/username/XDevelopers"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(fixture_response(200, "user-by-username-default.json"))
        .expect(1)
        .mount(&x.server)
        .await;

    x.connector.health(&context()).await.unwrap();

    let request = x.single_request().await;
    assert_eq!(request.url.query(), None, "the default fields are enough");
}

#[tokio::test]
async fn health_reports_a_refused_token() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(401).set_body_raw(
        r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#,
        "application/json",
    ))
    .await;

    let err = expect_error(
        x.connector.health(&context()).await,
        ErrorCode::Authentication,
    );

    assert!(!err.message.contains(TOKEN));
}

#[tokio::test]
async fn health_reports_a_rate_limit_and_an_outage() {
    let limited = TestX::start().await;
    limited
        .answer_lookups(fixture_response(429, "429-observed.json"))
        .await;
    expect_error(
        limited.connector.health(&context()).await,
        ErrorCode::RateLimited,
    );

    let down = TestX::start().await;
    down.answer_lookups(ResponseTemplate::new(503)).await;
    expect_error(
        down.connector.health(&context()).await,
        ErrorCode::Connection,
    );
}

#[tokio::test]
async fn a_404_means_the_base_url_is_wrong() {
    let x = TestX::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>nope</html>"))
        .mount(&x.server)
        .await;

    let err = expect_error(x.connector.health(&context()).await, ErrorCode::BadResponse);

    assert!(err.message.contains("base_url"), "{}", err.message);
}

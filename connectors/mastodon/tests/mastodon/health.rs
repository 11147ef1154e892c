//! The health check: the configured server's instance information, or its check of the token;
//! nothing without a base_url.

use enrichd_mastodon::MastodonFactory;
use enrichd_sdk::{
    ConnectorFactory, ErrorCode,
    testkit::{
        context, expect_error,
        wiremock::{
            Mock, ResponseTemplate,
            matchers::{header, method, path},
        },
    },
};
use serde_json::json;

use crate::helpers::{TOKEN, TestMastodon};

#[tokio::test]
async fn without_a_token_health_reads_the_instance() {
    let mastodon = TestMastodon::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"domain": "mastodon.social"})),
        )
        .expect(1)
        .mount(&mastodon.server)
        .await;

    mastodon.connector.health(&context()).await.unwrap();

    let request = mastodon.single_request().await;
    assert!(request.headers.get("authorization").is_none());
}

#[tokio::test]
async fn with_a_token_health_verifies_it() {
    let mastodon = TestMastodon::start_with(json!({"access_token": TOKEN})).await;
    Mock::given(method("GET"))
        .and(path("/api/v1/apps/verify_credentials"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"name": "enrichd"})))
        .expect(1)
        .mount(&mastodon.server)
        .await;

    mastodon.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn health_reports_a_refused_token() {
    let mastodon = TestMastodon::start_with(json!({"access_token": TOKEN})).await;
    Mock::given(path("/api/v1/apps/verify_credentials"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "The access token is invalid"})),
        )
        .mount(&mastodon.server)
        .await;

    let err = expect_error(
        mastodon.connector.health(&context()).await,
        ErrorCode::Authentication,
    );

    assert!(!err.message.contains(TOKEN));
}

#[tokio::test]
async fn health_reports_an_outage_and_a_wrong_base_url() {
    let down = TestMastodon::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&down.server)
        .await;
    expect_error(
        down.connector.health(&context()).await,
        ErrorCode::Connection,
    );

    let elsewhere = TestMastodon::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"))
        .mount(&elsewhere.server)
        .await;
    let err = expect_error(
        elsewhere.connector.health(&context()).await,
        ErrorCode::BadResponse,
    );
    assert!(err.message.contains("base_url"), "{}", err.message);
}

#[tokio::test]
async fn without_a_base_url_there_is_nothing_to_check() {
    let connector = MastodonFactory.build(&json!({})).unwrap();

    connector.health(&context()).await.unwrap();
}

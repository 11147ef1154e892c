//! The health check: a profile lookup that is expected to find nothing.

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

use crate::helpers::{API_KEY, TestGravatar};

/// SHA-256 of `healthcheck@enrichd.invalid`, the address health asks for.
const HEALTH_HASH: &str = "6893f7bca5ad63e2cb4bf592fbc500fd6fefce541efbe8d1526cc398ffd0ed3b";

#[tokio::test]
async fn a_404_for_the_health_address_is_healthy() {
    let gravatar = TestGravatar::start_with(json!({"api_key": API_KEY})).await;
    Mock::given(method("GET"))
        .and(path(format!("/v3/profiles/{HEALTH_HASH}")))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(404).insert_header("x-ratelimit-remaining", "999"))
        .expect(1)
        .mount(&gravatar.server)
        .await;

    gravatar.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn a_200_is_healthy_too() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(fixture_response(
            200,
            "profile-unauthenticated-alex-morgan.json",
        ))
        .await;

    gravatar.connector.health(&context()).await.unwrap();
}

#[tokio::test]
async fn health_reports_a_refused_key_a_limit_and_an_outage() {
    let cases = [
        (fixture_response(401, "401.json"), ErrorCode::Authentication),
        (fixture_response(429, "429.json"), ErrorCode::RateLimited),
        (ResponseTemplate::new(503), ErrorCode::Connection),
    ];
    for (response, code) in cases {
        let gravatar = TestGravatar::start_with(json!({"api_key": API_KEY})).await;
        gravatar.answer_lookups(response).await;

        let err = expect_error(gravatar.connector.health(&context()).await, code);

        assert!(!err.message.contains(API_KEY));
    }
}

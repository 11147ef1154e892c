//! How X's failures map into ConnectorErrors, and that none of them leaks the token, the
//! handle or the URL.

use std::time::Duration;

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, context_with_deadline, epoch_in, expect_error, fixture_json, fixture_response,
        unreachable_base_url, wiremock::ResponseTemplate,
    },
};
use serde_json::json;

use crate::helpers::{TOKEN, TestX, USERNAME, assert_private, connector, subject};

/// A valid username nobody has (the fixture's `nonexistent_user` is one character too long).
const MISSING: &str = "no_such_user";

/// X's rate-limit headers for an exhausted window that resets in `wait`.
fn exhausted(status: u16, fixture_name: &str, wait: Duration) -> ResponseTemplate {
    fixture_response(status, fixture_name)
        .insert_header("x-rate-limit-limit", "300")
        .insert_header("x-rate-limit-remaining", "0")
        .insert_header("x-rate-limit-reset", epoch_in(wait))
}

#[tokio::test]
async fn the_documented_not_found_body_is_not_found_as_a_200_and_as_a_404() {
    for status in [200, 404] {
        let x = TestX::start().await;
        x.answer_lookups(
            fixture_response(status, "user-not-found.json")
                .insert_header("x-rate-limit-remaining", "298"),
        )
        .await;

        let err = expect_error(x.enrich(MISSING).await, ErrorCode::NotFound);

        assert!(!err.retryable, "HTTP {status}");
        assert_private(&err, MISSING, &x.server);
    }
}

#[tokio::test]
async fn a_404_without_a_body_is_not_found() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(404)).await;

    let err = expect_error(x.enrich(MISSING).await, ErrorCode::NotFound);

    assert_eq!(err.message, "HTTP 404 from X");
}

#[tokio::test]
async fn a_suspended_user_is_not_found() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({"errors": [{
        "value": "suspended_one",
        "detail": "User has been suspended: [suspended_one].",
        "title": "Forbidden",
        "resource_type": "user",
        "parameter": "username",
        "resource_id": "suspended_one",
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }]})))
    .await;

    let err = expect_error(x.enrich("suspended_one").await, ErrorCode::NotFound);

    assert_private(&err, "suspended_one", &x.server);
}

#[tokio::test]
async fn a_problem_about_the_user_without_a_not_found_type_is_not_found() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({"errors": [{
        "title": "Forbidden", "resource_type": "user", "detail": "User has been suspended: [ghost].",
    }]})))
    .await;

    let err = expect_error(x.enrich("ghost").await, ErrorCode::NotFound);

    assert!(err.message.contains("suspended"), "{}", err.message);
}

#[tokio::test]
async fn a_refused_token_is_an_authentication_error() {
    let bodies = [
        (
            401,
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
        ),
        (
            403,
            json!({
                "client_id": "123",
                "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens from a Twitter developer App that is attached to a Project.",
                "registration_url": "https://developer.twitter.com/en/docs/projects/overview",
                "title": "Client Forbidden",
                "required_enrollment": "Appropriate Level of API Access",
                "reason": "client-not-enrolled",
                "type": "https://api.twitter.com/2/problems/client-forbidden",
            }),
        ),
    ];
    for (status, body) in bodies {
        let x = TestX::start().await;
        x.answer_lookups(ResponseTemplate::new(status).set_body_json(body))
            .await;

        let err = expect_error(x.enrich(USERNAME).await, ErrorCode::Authentication);

        assert!(!err.retryable);
        assert_private(&err, USERNAME, &x.server);
    }
}

#[tokio::test]
async fn both_recorded_429_bodies_wait_until_the_reset() {
    for fixture_name in ["429-docs.json", "429-observed.json"] {
        let x = TestX::start().await;
        x.answer_lookups(exhausted(429, fixture_name, Duration::from_secs(600)))
            .await;

        let err = expect_error(x.enrich(USERNAME).await, ErrorCode::RateLimited);

        let wait = err.retry_after.expect("a wait until the reset");
        assert!(
            wait > Duration::from_secs(590) && wait <= Duration::from_secs(600),
            "{fixture_name}: {wait:?}"
        );
        assert!(!err.retryable);
        assert_eq!(err.message, "HTTP 429 from X: rate limit reached");
        assert_private(&err, USERNAME, &x.server);
    }
}

#[tokio::test]
async fn a_429_without_a_reset_waits_a_minute() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(429, "429-observed.json"))
        .await;

    let err = expect_error(x.enrich(USERNAME).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn a_usage_capped_429_is_a_quota_that_is_not_retried() {
    // The observed 429 body, retyped as X types a usage cap.
    let mut body = fixture_json("429-observed.json");
    body["title"] = json!("UsageCapExceeded");
    body["detail"] = json!("Usage cap exceeded: Monthly product cap");
    body["type"] = json!("https://api.x.com/2/problems/usage-capped");
    body["period"] = json!("Monthly");
    body["scope"] = json!("Product");
    let x = TestX::start().await;
    x.answer_lookups(
        ResponseTemplate::new(429)
            .insert_header("x-rate-limit-reset", epoch_in(Duration::from_secs(60)))
            .set_body_json(body),
    )
    .await;

    let err = expect_error(x.enrich(USERNAME).await, ErrorCode::QuotaExceeded);

    assert!(!err.retryable);
    assert_eq!(err.retry_after, Some(Duration::from_secs(3600)));
    assert_eq!(
        err.message,
        "HTTP 429 from X (usage-capped): the usage cap is reached"
    );
    assert_private(&err, USERNAME, &x.server);
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let x = TestX::start().await;
        x.answer_lookups(ResponseTemplate::new(status).set_body_json(json!({
            "title": "Service Unavailable", "detail": "Service Unavailable",
            "type": "https://api.x.com/2/problems/service-unavailable",
        })))
        .await;

        let err = expect_error(x.enrich(USERNAME).await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(
            err.message,
            format!("HTTP {status} from X (service-unavailable)")
        );
    }
}

#[tokio::test]
async fn an_invalid_request_is_a_bad_response() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(400).set_body_json(json!({
        "errors": [{"parameters": {"user.fields": ["bogus"]}, "message": "The `user.fields` query parameter value [bogus] is not one of [...]"}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.x.com/2/problems/invalid-request",
    })))
    .await;

    let err = expect_error(x.enrich(USERNAME).await, ErrorCode::BadResponse);

    assert_eq!(err.message, "HTTP 400 from X (invalid-request)");
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_that_quotes_nothing() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(200).set_body_raw(
        r#"{"data": {"username": "XDevelopers", "name": "X Dev"#,
        "application/json",
    ))
    .await;

    let err = expect_error(x.enrich(USERNAME).await, ErrorCode::BadResponse);

    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    assert_private(&err, USERNAME, &x.server);
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(200, "user-by-id-with-fields.json"))
        .await;
    let ctx = context().with_max_response_bytes(100);

    let err = expect_error(
        x.connector.enrich(&subject(USERNAME), &ctx).await,
        ErrorCode::BadResponse,
    );

    assert!(err.message.contains("exceeds 100 bytes"), "{}", err.message);
}

#[tokio::test]
async fn a_slow_x_times_out_at_the_deadline() {
    let x = TestX::start().await;
    x.answer_lookups(
        fixture_response(200, "user-by-id-with-fields.json").set_delay(Duration::from_secs(3)),
    )
    .await;
    let ctx = context_with_deadline(Duration::from_millis(200));

    let err = expect_error(
        x.connector.enrich(&subject(USERNAME), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(err.retryable);
    assert_private(&err, USERNAME, &x.server);
}

#[tokio::test]
async fn an_unreachable_x_is_a_connection_error_without_the_url() {
    let uri = unreachable_base_url();

    let err = expect_error(
        connector(&uri).enrich(&subject(USERNAME), &context()).await,
        ErrorCode::Connection,
    );

    assert!(err.retryable);
    for secret in [uri.as_str(), USERNAME, TOKEN] {
        assert!(!err.message.contains(secret), "{}", err.message);
    }
}

//! How Gravatar's failures map into ConnectorErrors, and that none of them leaks the email, its
//! hash, the key or the URL.

use std::time::Duration;

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, context_with_deadline, epoch_in, expect_error, fixture_response,
        wiremock::ResponseTemplate,
    },
};
use serde_json::json;

use crate::helpers::{API_KEY, EMAIL, TestGravatar, assert_private, subject};

#[tokio::test]
async fn a_missing_profile_is_not_found() {
    // The spec defines no 404 body: an empty one, and one in the Error schema.
    for response in [
        ResponseTemplate::new(404),
        ResponseTemplate::new(404)
            .set_body_json(json!({"error": "Profile not found", "code": "not_found"})),
    ] {
        let gravatar = TestGravatar::start().await;
        gravatar
            .answer_lookups(
                response
                    .insert_header("x-ratelimit-limit", "100")
                    .insert_header("x-ratelimit-remaining", "99")
                    .insert_header("x-ratelimit-reset", epoch_in(Duration::from_secs(3000))),
            )
            .await;

        let err = expect_error(gravatar.enrich(EMAIL).await, ErrorCode::NotFound);

        assert!(!err.retryable);
        assert!(err.retry_after.is_none());
        assert_private(&err, &gravatar.server);
    }
}

#[tokio::test]
async fn the_specs_401_is_an_authentication_error() {
    for status in [401, 403] {
        let gravatar = TestGravatar::start_with(json!({"api_key": API_KEY})).await;
        gravatar
            .answer_lookups(fixture_response(status, "401.json"))
            .await;

        let err = expect_error(gravatar.enrich(EMAIL).await, ErrorCode::Authentication);

        assert!(!err.retryable);
        assert_eq!(err.message, format!("HTTP {status} from Gravatar"));
        assert_private(&err, &gravatar.server);
    }
}

#[tokio::test]
async fn the_specs_429_waits_until_the_reset() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(
            fixture_response(429, "429.json")
                .insert_header("x-ratelimit-limit", "100")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", epoch_in(Duration::from_secs(1500))),
        )
        .await;

    let err = expect_error(gravatar.enrich(EMAIL).await, ErrorCode::RateLimited);

    let wait = err.retry_after.expect("a wait until the reset");
    assert!(
        wait > Duration::from_secs(1490) && wait <= Duration::from_secs(1500),
        "{wait:?}"
    );
    assert!(!err.retryable);
    assert_eq!(err.message, "HTTP 429 from Gravatar (rate_limit_exceeded)");
    assert_private(&err, &gravatar.server);
}

#[tokio::test]
async fn a_429_without_headers_waits_a_minute() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(fixture_response(429, "429.json"))
        .await;

    let err = expect_error(gravatar.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let gravatar = TestGravatar::start().await;
        gravatar
            .answer_lookups(ResponseTemplate::new(status).set_body_string("<html>oops</html>"))
            .await;

        let err = expect_error(gravatar.enrich(EMAIL).await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(err.message, format!("HTTP {status} from Gravatar"));
    }
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_that_quotes_nothing() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(ResponseTemplate::new(200).set_body_raw(
            r#"{"hash": "4c73fcbf969ed25df23853b19f5da337724a60817813a321290874293c607bde", "display_name": "John"#,
            "application/json",
        ))
        .await;

    let err = expect_error(gravatar.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    assert_private(&err, &gravatar.server);
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(fixture_response(200, "profile-full-sdk-fixture.json"))
        .await;
    let ctx = context().with_max_response_bytes(1024);

    let err = expect_error(
        gravatar.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::BadResponse,
    );

    assert!(
        err.message.contains("exceeds 1024 bytes"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_slow_gravatar_times_out_at_the_deadline() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(
            fixture_response(200, "profile-full-sdk-fixture.json")
                .set_delay(Duration::from_secs(3)),
        )
        .await;
    let ctx = context_with_deadline(Duration::from_millis(200));

    let err = expect_error(
        gravatar.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(err.retryable);
    assert_private(&err, &gravatar.server);
}

//! How HubSpot's failures map into ConnectorErrors, and that none of them leaks the email, the
//! token or the URL.

use std::time::Duration;

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, context_with_deadline, expect_error, fixture_json, fixture_response,
        unreachable_base_url, wiremock::ResponseTemplate,
    },
};
use serde_json::json;

use crate::helpers::{EMAIL, TestHubSpot, assert_private, connector, subject};

/// HubSpot's error body with `category`.
fn hubspot_error(status: u16, category: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "status": "error",
        "message": format!("The lookup of {EMAIL} failed"),
        "correlationId": "aeb5f871-7f07-4993-9211-075dc63e7cbf",
        "category": category,
        "context": {"id": [EMAIL]},
    }))
}

#[tokio::test]
async fn a_refused_token_is_an_authentication_error() {
    for (status, category) in [(401, "INVALID_AUTHENTICATION"), (403, "MISSING_SCOPES")] {
        let hubspot = TestHubSpot::start().await;
        hubspot
            .answer_lookups(hubspot_error(status, category))
            .await;

        let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::Authentication);

        assert!(!err.retryable);
        assert_eq!(
            err.message,
            format!("HTTP {status} from HubSpot ({category})")
        );
        assert_private(&err, EMAIL, &hubspot.server);
    }
}

#[tokio::test]
async fn an_unknown_contact_is_not_found_without_echoing_the_email() {
    // HubSpot echoes the id it was asked for in `context.id`; put the subject's email there.
    let mut body = fixture_json("404.json");
    body["context"]["id"] = json!([EMAIL]);
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(ResponseTemplate::new(404).set_body_json(body))
        .await;

    let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::NotFound);

    assert!(!err.retryable);
    assert_eq!(err.message, "HTTP 404 from HubSpot (OBJECT_NOT_FOUND)");
    assert_private(&err, EMAIL, &hubspot.server);
}

#[tokio::test]
async fn any_404_is_not_found() {
    let hubspot = TestHubSpot::start().await;
    hubspot.answer_lookups(ResponseTemplate::new(404)).await;
    expect_error(hubspot.enrich(EMAIL).await, ErrorCode::NotFound);
}

#[tokio::test]
async fn the_recorded_daily_429_is_a_quota_until_the_next_hour() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(fixture_response(429, "429.json"))
        .await;

    let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::QuotaExceeded);

    assert!(
        !err.retryable,
        "waiting a little does not bring a daily allowance back"
    );
    let wait = err.retry_after.expect("a wait until the next probe");
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(3600),
        "{wait:?}"
    );
    assert!(err.message.contains("daily"), "{}", err.message);
    assert_private(&err, EMAIL, &hubspot.server);
}

#[tokio::test]
async fn retry_after_sets_the_wait_of_a_429() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({
                    "status": "error",
                    "message": "You have reached your secondly limit.",
                    "errorType": "RATE_LIMIT",
                    "policyName": "SECONDLY",
                })),
        )
        .await;

    let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    assert!(!err.retryable);
}

#[tokio::test]
async fn a_burst_429_without_retry_after_waits_the_interval() {
    let cases = [
        (None, Duration::from_secs(10)),
        (Some("10000"), Duration::from_secs(10)),
        (Some("2500"), Duration::from_millis(2500)),
    ];
    for (interval, expected) in cases {
        let mut response = ResponseTemplate::new(429).set_body_json(json!({
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
            "policyName": "TEN_SECONDLY_ROLLING",
        }));
        if let Some(ms) = interval {
            response = response.insert_header("x-hubspot-ratelimit-interval-milliseconds", ms);
        }
        let hubspot = TestHubSpot::start().await;
        hubspot.answer_lookups(response).await;

        let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::RateLimited);

        assert_eq!(err.retry_after, Some(expected), "interval {interval:?}");
    }
}

#[tokio::test]
async fn a_secondly_429_waits_a_second() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(ResponseTemplate::new(429).set_body_json(json!({
            "status": "error", "errorType": "RATE_LIMIT", "policyName": "SECONDLY",
        })))
        .await;

    let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let hubspot = TestHubSpot::start().await;
        hubspot
            .answer_lookups(ResponseTemplate::new(status).set_body_string("<html>oops</html>"))
            .await;

        let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(err.message, format!("HTTP {status} from HubSpot"));
    }
}

#[tokio::test]
async fn a_validation_error_is_a_bad_response() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(fixture_response(400, "error-validation.json"))
        .await;

    let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert_eq!(err.message, "HTTP 400 from HubSpot (VALIDATION_ERROR)");
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_that_quotes_nothing() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"id": "512", "properties": {{"email": "{EMAIL}""#),
            "application/json",
        ))
        .await;

    let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    assert_private(&err, EMAIL, &hubspot.server);
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(fixture_response(200, "contact-by-email.json"))
        .await;
    let ctx = context().with_max_response_bytes(100);

    let result = hubspot.connector.enrich(&subject(EMAIL), &ctx).await;

    let err = expect_error(result, ErrorCode::BadResponse);
    assert!(err.message.contains("exceeds 100 bytes"), "{}", err.message);
}

#[tokio::test]
async fn a_slow_hubspot_times_out_at_the_deadline() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(
            fixture_response(200, "contact-by-email.json").set_delay(Duration::from_secs(3)),
        )
        .await;
    let ctx = context_with_deadline(Duration::from_millis(200));

    let err = expect_error(
        hubspot.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(err.retryable);
    assert_private(&err, EMAIL, &hubspot.server);
}

#[tokio::test]
async fn an_unreachable_hubspot_is_a_connection_error_without_the_url() {
    let uri = unreachable_base_url();
    let connector = connector(&uri);

    let err = expect_error(
        connector.enrich(&subject(EMAIL), &context()).await,
        ErrorCode::Connection,
    );

    assert!(err.retryable);
    assert!(!err.message.contains(&uri), "{}", err.message);
    assert!(!err.message.contains(EMAIL), "{}", err.message);
}

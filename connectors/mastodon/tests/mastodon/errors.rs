//! How a Mastodon server's failures map into ConnectorErrors, and that none of them leaks the
//! token, the handle or the URL.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, context_with_deadline, expect_error, fixture_response, wiremock::ResponseTemplate,
    },
};
use serde_json::json;

use crate::helpers::{HANDLE, TOKEN, TestMastodon, assert_private, subject};

/// `at` in ISO 8601 with microseconds, as Mastodon sends `X-RateLimit-Reset`.
fn iso8601(at: SystemTime) -> String {
    humantime::format_rfc3339_micros(at).to_string()
}

#[tokio::test]
async fn the_documented_404_is_not_found() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(404, "404.json"))
        .await;

    let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::NotFound);

    assert!(!err.retryable);
    assert_eq!(err.message, "HTTP 404 from Mastodon");
    assert_private(&err, HANDLE, &mastodon.server);
}

#[tokio::test]
async fn a_410_is_not_found() {
    let mastodon = TestMastodon::start().await;
    mastodon.answer_lookups(ResponseTemplate::new(410)).await;

    expect_error(mastodon.enrich(HANDLE).await, ErrorCode::NotFound);
}

#[tokio::test]
async fn a_refused_token_or_a_secure_mode_instance_is_an_authentication_error() {
    let cases = [
        (401, json!({"error": "The access token is invalid"})),
        (
            401,
            json!({"error": "This method requires an authenticated user"}),
        ),
        (403, json!({"error": "This action is not allowed"})),
    ];
    for (status, body) in cases {
        let mastodon = TestMastodon::start_with(json!({"access_token": TOKEN})).await;
        mastodon
            .answer_lookups(ResponseTemplate::new(status).set_body_json(body))
            .await;

        let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::Authentication);

        assert!(!err.retryable);
        assert_eq!(err.message, format!("HTTP {status} from Mastodon"));
        assert_private(&err, HANDLE, &mastodon.server);
    }
}

#[tokio::test]
async fn a_429_waits_until_the_iso_8601_reset() {
    let reset = iso8601(SystemTime::now() + Duration::from_secs(240));
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(
            ResponseTemplate::new(429)
                .insert_header("x-ratelimit-limit", "300")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", reset.as_str())
                .set_body_json(json!({"error": "Too many requests"})),
        )
        .await;

    let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::RateLimited);

    let wait = err.retry_after.expect("a wait until the reset");
    assert!(
        wait > Duration::from_secs(230) && wait <= Duration::from_secs(240),
        "{reset}: {wait:?}"
    );
    assert!(!err.retryable);
    assert_eq!(err.message, "HTTP 429 from Mastodon: rate limit reached");
    assert_private(&err, HANDLE, &mastodon.server);
}

#[tokio::test]
async fn a_429_reads_an_epoch_reset_and_falls_back_to_a_minute() {
    let epoch = (SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        + Duration::from_secs(120))
    .as_secs()
    .to_string();
    let epoch_reset = TestMastodon::start().await;
    epoch_reset
        .answer_lookups(
            ResponseTemplate::new(429).insert_header("x-ratelimit-reset", epoch.as_str()),
        )
        .await;
    let wait = expect_error(epoch_reset.enrich(HANDLE).await, ErrorCode::RateLimited)
        .retry_after
        .unwrap();
    assert!(
        wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );

    let no_reset = TestMastodon::start().await;
    no_reset
        .answer_lookups(
            ResponseTemplate::new(429).set_body_json(json!({"error": "Too many requests"})),
        )
        .await;
    let err = expect_error(no_reset.enrich(HANDLE).await, ErrorCode::RateLimited);
    assert_eq!(err.retry_after, Some(Duration::from_secs(60)));
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let mastodon = TestMastodon::start().await;
        mastodon
            .answer_lookups(
                ResponseTemplate::new(status).set_body_string("<html>We're sorry</html>"),
            )
            .await;

        let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(err.message, format!("HTTP {status} from Mastodon"));
    }
}

#[tokio::test]
async fn a_redirect_that_reaches_the_connector_is_a_bad_response() {
    // Direct calls follow no redirect at all; here (base_url, shared client) a 3xx without a
    // Location is what reaches the connector.
    let mastodon = TestMastodon::start().await;
    mastodon.answer_lookups(ResponseTemplate::new(302)).await;

    let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::BadResponse);

    assert_eq!(err.message, "HTTP 302 from Mastodon");
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_that_quotes_nothing() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(ResponseTemplate::new(200).set_body_raw(
            r#"{"username": "Gargron", "acct": "Gargron", "note": "<p>Dev"#,
            "application/json",
        ))
        .await;

    let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::BadResponse);

    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    assert_private(&err, HANDLE, &mastodon.server);
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;
    let ctx = context().with_max_response_bytes(1000);

    let err = expect_error(
        mastodon.connector.enrich(&subject(HANDLE), &ctx).await,
        ErrorCode::BadResponse,
    );

    assert!(
        err.message.contains("exceeds 1000 bytes"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_slow_mastodon_times_out_at_the_deadline() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(
            fixture_response(200, "account-get-local-user.json").set_delay(Duration::from_secs(3)),
        )
        .await;
    let ctx = context_with_deadline(Duration::from_millis(200));

    let err = expect_error(
        mastodon.connector.enrich(&subject(HANDLE), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(err.retryable);
    assert_private(&err, HANDLE, &mastodon.server);
}

//! How Acme's failures map into ConnectorErrors, none of them leaking the email, key or URL.

use std::time::Duration;

use enrichd_sdk::{
    ErrorCode,
    testkit::{context_with_deadline, expect_error, fixture_response, wiremock::ResponseTemplate},
};

use crate::helpers::{EMAIL, TestAcme, assert_private, subject};

#[tokio::test]
async fn a_refused_key_is_an_authentication_error() {
    for status in [401, 403] {
        let acme = TestAcme::start().await;
        acme.answer_lookups(ResponseTemplate::new(status)).await;

        let err = expect_error(acme.enrich(EMAIL).await, ErrorCode::Authentication);

        assert_eq!(err.message, format!("HTTP {status} from Acme"));
        assert_private(&err, &acme.server);
    }
}

#[tokio::test]
async fn a_429_waits_retry_after_or_a_minute() {
    for (header, wait) in [(Some("7"), 7), (None, 60)] {
        let acme = TestAcme::start().await;
        let mut response = ResponseTemplate::new(429);
        if let Some(seconds) = header {
            response = response.insert_header("retry-after", seconds);
        }
        acme.answer_lookups(response).await;

        let err = expect_error(acme.enrich(EMAIL).await, ErrorCode::RateLimited);

        assert_eq!(err.retry_after, Some(Duration::from_secs(wait)));
        assert!(!err.retryable);
    }
}

#[tokio::test]
async fn server_errors_are_retryable() {
    let acme = TestAcme::start().await;
    acme.answer_lookups(ResponseTemplate::new(503)).await;

    let err = expect_error(acme.enrich(EMAIL).await, ErrorCode::Connection);

    assert!(err.retryable);
}

#[tokio::test]
async fn a_body_that_is_not_a_person_is_a_bad_response() {
    let acme = TestAcme::start().await;
    acme.answer_lookups(
        ResponseTemplate::new(200).set_body_string(format!("{{\"person\": \"{EMAIL}")),
    )
    .await;

    let err = expect_error(acme.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert_private(&err, &acme.server);
}

#[tokio::test]
async fn a_slow_upstream_times_out_at_the_deadline() {
    let acme = TestAcme::start().await;
    acme.answer_lookups(fixture_response(200, "person.json").set_delay(Duration::from_secs(3)))
        .await;
    let ctx = context_with_deadline(Duration::from_millis(200));

    let err = expect_error(
        acme.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert_private(&err, &acme.server);
}

//! How Pipedrive's failures map into ConnectorErrors, and that none of them leaks the email,
//! a token (which travels in the URL) or the URL.

use std::time::Duration;

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        self, context, context_with_deadline, expect_error, fixture_response, unreachable_base_url,
        wiremock::ResponseTemplate,
    },
};
use serde_json::json;

use crate::helpers::{
    API_TOKEN, EMAIL, TestPipedrive, assert_private, pipedrive_error, search_hit, subject,
};

#[tokio::test]
async fn a_refused_token_is_an_authentication_error() {
    for (status, error) in [
        (401, "unauthorized access"),
        (402, "Company account is not open"),
        (403, "You do not have permission"),
    ] {
        let pipedrive = TestPipedrive::start().await;
        pipedrive
            .answer_search(pipedrive_error(status, error))
            .await;

        let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::Authentication);

        assert!(!err.retryable);
        assert!(
            err.message
                .starts_with(&format!("HTTP {status} from Pipedrive"))
        );
        assert!(!err.message.contains(error), "{}", err.message);
        assert_private(&err, EMAIL, &pipedrive.server);
    }
}

#[tokio::test]
async fn a_person_gone_since_the_search_is_not_found() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(1)).await;
    pipedrive
        .answer_person(fixture_response(404, "404.json"))
        .await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::NotFound);

    assert_eq!(err.message, "HTTP 404 from Pipedrive: the person is gone");
    assert_private(&err, EMAIL, &pipedrive.server);
}

#[tokio::test]
async fn a_404_on_the_search_is_a_wrong_base_url() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(pipedrive_error(404, "Unknown method ."))
        .await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::InvalidConfig);

    assert!(err.message.contains("`base_url`"), "{}", err.message);
}

#[tokio::test]
async fn retry_after_sets_the_wait_of_a_429() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(
            pipedrive_error(429, "Too many requests")
                .insert_header("retry-after", "7")
                .insert_header("x-ratelimit-limit", "40")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1"),
        )
        .await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(7)));
    assert!(!err.retryable);
    assert_private(&err, EMAIL, &pipedrive.server);
}

#[tokio::test]
async fn without_retry_after_a_429_waits_for_the_window_to_reset() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(1)).await;
    pipedrive
        .answer_person(
            pipedrive_error(429, "Too many requests")
                .insert_header("x-ratelimit-limit", "40")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1"),
        )
        .await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_bare_429_waits_one_window() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(ResponseTemplate::new(429).set_body_string("{\"succ"))
        .await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(2)));
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let pipedrive = TestPipedrive::start().await;
        pipedrive
            .answer_search(ResponseTemplate::new(status).set_body_string("<html>oops</html>"))
            .await;

        let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(err.message, format!("HTTP {status} from Pipedrive"));
    }
}

#[tokio::test]
async fn a_400_is_a_bad_response() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(pipedrive_error(400, &format!("Bad term {EMAIL}")))
        .await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert_private(&err, EMAIL, &pipedrive.server);
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_that_quotes_nothing() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(1)).await;
    pipedrive
        .answer_person(ResponseTemplate::new(200).set_body_raw(
            format!(r#"{{"success": true, "data": {{"primary_email": "{EMAIL}""#),
            "application/json",
        ))
        .await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    assert_private(&err, EMAIL, &pipedrive.server);
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(1)).await;
    pipedrive
        .answer_person(fixture_response(200, "person-get.json"))
        .await;
    let ctx = context().with_max_response_bytes(1000);

    let result = pipedrive.connector.enrich(&subject(EMAIL), &ctx).await;

    let err = expect_error(result, ErrorCode::BadResponse);
    assert!(
        err.message.contains("exceeds 1000 bytes"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn a_slow_pipedrive_times_out_at_the_deadline_across_both_calls() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(search_hit(1).set_delay(Duration::from_millis(150)))
        .await;
    pipedrive
        .answer_person(fixture_response(200, "person-get.json").set_delay(Duration::from_secs(3)))
        .await;
    let ctx = context_with_deadline(Duration::from_millis(300));
    let started = std::time::Instant::now();

    let err = expect_error(
        pipedrive.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(err.retryable);
    assert_private(&err, EMAIL, &pipedrive.server);
}

#[tokio::test]
async fn an_unreachable_pipedrive_is_a_connection_error_without_the_url_or_token() {
    let uri = unreachable_base_url();
    let connector = enrichd_sdk::ConnectorFactory::build(
        &enrichd_pipedrive::PipedriveFactory,
        &json!({"base_url": uri, "api_token": API_TOKEN}),
    )
    .unwrap();

    let err = expect_error(
        connector.enrich(&subject(EMAIL), &context()).await,
        ErrorCode::Connection,
    );

    assert!(err.retryable);
    testkit::assert_private(&err, &[&uri, EMAIL, API_TOKEN, "api_token"]);
}

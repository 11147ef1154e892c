//! How failures map into ConnectorErrors, and that none of them leaks a credential from the
//! headers, the email or the URL.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        self, context, context_with_deadline, expect_error, fixture_response, unreachable_base_url,
        wiremock::ResponseTemplate,
    },
};
use serde_json::json;

use crate::helpers::{EMAIL, TOKEN, TestApi, assert_private, build, manifest, subject};

#[tokio::test]
async fn refused_credentials_are_authentication_errors() {
    for status in [401, 403] {
        let api = TestApi::start().await;
        api.answer_lookups(fixture_response(status, "401.json").insert_header(
            "www-authenticate",
            format!("Bearer realm=\"acme\", error=\"invalid_token\", token=\"{TOKEN}\""),
        ))
        .await;

        let err = expect_error(api.enrich(EMAIL).await, ErrorCode::Authentication);

        assert!(!err.retryable);
        assert_eq!(err.message, format!("HTTP {status} from acme-people"));
        assert_private(&err, &api.server);
    }
}

#[tokio::test]
async fn a_429_waits_as_retry_after_says() {
    let api = TestApi::start().await;
    api.answer_lookups(
        ResponseTemplate::new(429)
            .insert_header("retry-after", "17")
            .set_body_json(json!({"error": {"code": "rate_limited"}})),
    )
    .await;

    let err = expect_error(api.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(17)));
    assert!(!err.retryable);
    assert_private(&err, &api.server);
}

#[tokio::test]
async fn a_retry_after_date_becomes_a_wait() {
    let at = httpdate_in(Duration::from_secs(120));
    let api = TestApi::start().await;
    api.answer_lookups(ResponseTemplate::new(429).insert_header("retry-after", at.as_str()))
        .await;

    let err = expect_error(api.enrich(EMAIL).await, ErrorCode::RateLimited);

    let wait = err.retry_after.expect("a wait");
    assert!(
        wait > Duration::from_secs(110) && wait <= Duration::from_secs(120),
        "{wait:?}"
    );
}

/// An HTTP date `after` from now.
fn httpdate_in(after: Duration) -> String {
    httpdate::fmt_http_date(SystemTime::now() + after)
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let api = TestApi::start().await;
        api.answer_lookups(
            ResponseTemplate::new(status)
                .insert_header("retry-after", "4")
                .set_body_string(format!("<html>upstream for {EMAIL} failed</html>")),
        )
        .await;

        let err = expect_error(api.enrich(EMAIL).await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(err.retry_after, Some(Duration::from_secs(4)));
        assert_eq!(err.message, format!("HTTP {status} from acme-people"));
        assert_private(&err, &api.server);
    }
}

#[tokio::test]
async fn other_statuses_are_bad_responses() {
    for status in [400, 405, 418, 422] {
        let api = TestApi::start().await;
        api.answer_lookups(ResponseTemplate::new(status)).await;

        let err = expect_error(api.enrich(EMAIL).await, ErrorCode::BadResponse);

        assert!(!err.retryable, "HTTP {status}");
        assert_private(&err, &api.server);
    }
}

#[tokio::test]
async fn a_manifest_without_a_name_calls_its_upstream_the_upstream() {
    let api = TestApi::start_with(|manifest, _| {
        manifest.as_object_mut().unwrap().remove("name");
    })
    .await;
    api.answer_lookups(ResponseTemplate::new(503)).await;

    let err = expect_error(api.enrich(EMAIL).await, ErrorCode::Connection);

    assert_eq!(err.message, "HTTP 503 from the upstream");
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let api = TestApi::start().await;
    api.answer_lookups(fixture_response(200, "person-bcooper.json"))
        .await;
    let ctx = context().with_max_response_bytes(200);

    let err = expect_error(
        api.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::BadResponse,
    );

    assert!(err.message.contains("exceeds 200 bytes"), "{}", err.message);
}

#[tokio::test]
async fn a_slow_upstream_times_out_at_the_deadline() {
    let api = TestApi::start().await;
    api.answer_lookups(
        fixture_response(200, "person-bcooper.json").set_delay(Duration::from_secs(3)),
    )
    .await;
    let ctx = context_with_deadline(Duration::from_millis(200));
    let started = std::time::Instant::now();

    let err = expect_error(
        api.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(err.retryable);
    assert_private(&err, &api.server);
}

#[tokio::test]
async fn a_passed_deadline_sends_nothing() {
    let api = TestApi::start().await;
    api.answer_lookups(fixture_response(200, "person-bcooper.json"))
        .await;
    let ctx = context_with_deadline(Duration::ZERO);

    expect_error(
        api.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(api.requests().await.is_empty());
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_connection_error_without_the_url() {
    let base_url = unreachable_base_url();
    let address = base_url.trim_start_matches("http://");
    let api = TestApi::start().await;
    let mut settings = manifest(&api.server);
    settings["allowed_hosts"] = json!([address]);
    settings["request"]["url"] = json!(format!("http://{address}/v1/people?email={{email}}"));
    let connector = build(&settings);

    let err = expect_error(
        connector.enrich(&subject(EMAIL), &context()).await,
        ErrorCode::Connection,
    );

    assert!(err.retryable);
    testkit::assert_private(&err, &[address, EMAIL, TOKEN, "/v1/people"]);
}

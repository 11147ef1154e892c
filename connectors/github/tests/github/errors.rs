//! How GitHub's failures map into ConnectorErrors, and that none of them leaks the token or
//! the URL.

use std::time::Duration;

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, context_with_deadline, epoch_in, expect_error, fixture_response,
        wiremock::ResponseTemplate,
    },
};
use serde_json::json;

use crate::helpers::{TOKEN, TestGitHub, assert_private, subject};

#[tokio::test]
async fn both_recorded_404s_are_not_found() {
    for fixture in ["404.json", "404-without-status.json"] {
        let github = TestGitHub::start().await;
        github.answer_users(fixture_response(404, fixture)).await;

        let err = expect_error(github.enrich("no-such-user").await, ErrorCode::NotFound);

        assert!(!err.retryable);
        assert_eq!(err.message, "HTTP 404 from GitHub");
        assert_private(&err, &github.server);
    }
}

#[tokio::test]
async fn a_bad_token_is_an_authentication_error() {
    let github = TestGitHub::start_with(json!({"token": TOKEN})).await;
    github
        .answer_users(ResponseTemplate::new(401).set_body_json(json!({
            "message": "Bad credentials",
            "documentation_url": "https://docs.github.com/rest",
            "status": "401",
        })))
        .await;

    let err = expect_error(github.enrich("octocat").await, ErrorCode::Authentication);

    assert!(!err.retryable);
    assert_private(&err, &github.server);
}

#[tokio::test]
async fn an_exhausted_primary_limit_waits_until_the_reset() {
    for status in [403, 429] {
        let github = TestGitHub::start_with(json!({"token": TOKEN})).await;
        github
            .answer_users(
                ResponseTemplate::new(status)
                    .insert_header("x-ratelimit-limit", "5000")
                    .insert_header("x-ratelimit-remaining", "0")
                    .insert_header("x-ratelimit-used", "5000")
                    .insert_header("x-ratelimit-reset", epoch_in(Duration::from_secs(1800)))
                    .insert_header("x-ratelimit-resource", "core")
                    .set_body_json(json!({
                        "message": "API rate limit exceeded for user ID 1.",
                        "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                        "status": status.to_string(),
                    })),
            )
            .await;

        let err = expect_error(github.enrich("octocat").await, ErrorCode::RateLimited);

        let wait = err.retry_after.expect("a wait until the reset");
        assert!(
            wait > Duration::from_secs(1790) && wait <= Duration::from_secs(1800),
            "HTTP {status}: {wait:?}"
        );
        assert!(!err.retryable);
        assert!(
            err.message.contains("primary rate limit"),
            "{}",
            err.message
        );
        assert_private(&err, &github.server);
    }
}

#[tokio::test]
async fn retry_after_sets_the_wait_of_a_secondary_limit() {
    let github = TestGitHub::start().await;
    github
        .answer_users(
            ResponseTemplate::new(403)
                .insert_header("retry-after", "45")
                .set_body_json(json!({"message": "You have exceeded a secondary rate limit."})),
        )
        .await;

    let err = expect_error(github.enrich("octocat").await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(45)));
}

#[tokio::test]
async fn a_secondary_limit_without_headers_waits_a_minute() {
    let body = json!({
        "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
        "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
    });
    for status in [403, 429] {
        let github = TestGitHub::start().await;
        github
            .answer_users(ResponseTemplate::new(status).set_body_json(body.clone()))
            .await;

        let err = expect_error(github.enrich("octocat").await, ErrorCode::RateLimited);

        assert_eq!(
            err.retry_after,
            Some(Duration::from_secs(60)),
            "HTTP {status}"
        );
    }
}

#[tokio::test]
async fn another_403_is_an_authentication_error() {
    let github = TestGitHub::start_with(json!({"token": TOKEN})).await;
    github
        .answer_users(
            ResponseTemplate::new(403)
                .insert_header("x-ratelimit-remaining", "4321")
                .set_body_json(json!({
                    "message": "Resource not accessible by personal access token",
                    "documentation_url": "https://docs.github.com/rest/users/users#get-a-user",
                    "status": "403",
                })),
        )
        .await;

    let err = expect_error(github.enrich("octocat").await, ErrorCode::Authentication);

    assert_private(&err, &github.server);
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let github = TestGitHub::start().await;
        github
            .answer_users(ResponseTemplate::new(status).set_body_string("unicorn"))
            .await;

        let err = expect_error(github.enrich("octocat").await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(err.message, format!("HTTP {status} from GitHub"));
    }
}

#[tokio::test]
async fn malformed_json_is_a_bad_response() {
    let github = TestGitHub::start().await;
    github
        .answer_users(
            ResponseTemplate::new(200)
                .set_body_raw(r#"{"login": "octocat", "name": "mona"#, "application/json"),
        )
        .await;

    let err = expect_error(github.enrich("octocat").await, ErrorCode::BadResponse);

    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    assert!(!err.message.contains("mona"), "{}", err.message);
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let github = TestGitHub::start().await;
    github
        .answer_users(fixture_response(200, "user-octocat.json"))
        .await;
    let ctx = context().with_max_response_bytes(512);

    let result = github.connector.enrich(&subject("octocat"), &ctx).await;

    let err = expect_error(result, ErrorCode::BadResponse);
    assert!(err.message.contains("exceeds 512 bytes"), "{}", err.message);
}

#[tokio::test]
async fn a_slow_github_times_out_at_the_deadline() {
    let github = TestGitHub::start().await;
    github
        .answer_users(fixture_response(200, "user-octocat.json").set_delay(Duration::from_secs(3)))
        .await;
    let ctx = context_with_deadline(Duration::from_millis(200));

    let err = expect_error(
        github.connector.enrich(&subject("octocat"), &ctx).await,
        ErrorCode::Timeout,
    );

    assert_private(&err, &github.server);
}

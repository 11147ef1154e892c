//! The exact request the connector sends for a lookup.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, request_header},
};
use serde_json::json;

use crate::helpers::{TOKEN, TestGitHub};

#[tokio::test]
async fn an_anonymous_lookup_sends_githubs_headers_and_no_authorization() {
    let github = TestGitHub::start().await;
    github
        .answer_users(fixture_response(200, "user-octocat.json"))
        .await;

    github.enrich("octocat").await.unwrap();

    let request = github.single_request().await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/users/octocat");
    assert_eq!(request.url.query(), None);
    assert_eq!(
        request_header(&request, "accept"),
        Some("application/vnd.github+json")
    );
    assert_eq!(
        request_header(&request, "x-github-api-version"),
        Some("2022-11-28")
    );
    let user_agent = request_header(&request, "user-agent").unwrap();
    assert_eq!(user_agent, concat!("enrichd/", env!("CARGO_PKG_VERSION")));
    assert_eq!(request_header(&request, "authorization"), None);
}

#[tokio::test]
async fn a_configured_token_is_sent_as_bearer() {
    let github = TestGitHub::start_with(json!({"token": TOKEN})).await;
    github
        .answer_users(fixture_response(200, "user-octocat.json"))
        .await;

    github.enrich("octocat").await.unwrap();

    let request = github.single_request().await;
    let expected = format!("Bearer {TOKEN}");
    assert_eq!(
        request_header(&request, "authorization"),
        Some(expected.as_str())
    );
    assert_eq!(
        request_header(&request, "accept"),
        Some("application/vnd.github+json")
    );
}

#[tokio::test]
async fn an_empty_token_means_anonymous() {
    let github = TestGitHub::start_with(json!({"token": ""})).await;
    github
        .answer_users(fixture_response(200, "user-octocat.json"))
        .await;

    github.enrich("octocat").await.unwrap();

    assert_eq!(
        request_header(&github.single_request().await, "authorization"),
        None
    );
}

#[tokio::test]
async fn grandfathered_logins_are_looked_up_as_they_are() {
    for login in ["foo-", "-Jerry-", "0----0", "Mona-Lisa"] {
        let github = TestGitHub::start().await;
        github
            .answer_users(fixture_response(200, "user-octocat.json"))
            .await;

        github.enrich(login).await.unwrap();

        assert_eq!(
            github.single_request().await.url.path(),
            format!("/users/{login}")
        );
    }
}

#[tokio::test]
async fn a_handle_that_cannot_be_a_login_is_not_found_without_a_call() {
    for handle in [
        "octo cat",
        "ada@example.com",
        "../rate_limit",
        "a/b",
        "",
        &"a".repeat(40),
    ] {
        let github = TestGitHub::start().await;
        github
            .answer_users(fixture_response(200, "user-octocat.json"))
            .await;

        let err = expect_error(github.enrich(handle).await, ErrorCode::NotFound);

        assert!(!err.retryable);
        assert!(
            github.server.received_requests().await.unwrap().is_empty(),
            "{handle:?}"
        );
        if !handle.is_empty() {
            assert!(!err.message.contains(handle), "{}", err.message);
        }
    }
}

#[tokio::test]
async fn an_enterprise_base_url_keeps_its_path() {
    let github = TestGitHub::start().await;
    let connector = enrichd_sdk::ConnectorFactory::build(
        &enrichd_github::GitHubFactory,
        &json!({"base_url": format!("{}/api/v3/", github.server.uri())}),
    )
    .unwrap();
    enrichd_sdk::testkit::wiremock::Mock::given(enrichd_sdk::testkit::wiremock::matchers::any())
        .respond_with(fixture_response(200, "user-octocat.json"))
        .mount(&github.server)
        .await;

    connector
        .enrich(
            &crate::helpers::subject("octocat"),
            &enrichd_sdk::testkit::context(),
        )
        .await
        .unwrap();

    assert_eq!(
        github.single_request().await.url.path(),
        "/api/v3/users/octocat"
    );
}

//! The quota that GitHub's `x-ratelimit-remaining` and `x-ratelimit-reset` (epoch seconds) report.

use std::time::{Duration, UNIX_EPOCH};

use enrichd_sdk::{
    quota::Quota,
    testkit::{fixture_response, reported_quota},
};

use crate::helpers::{TestGitHub, subject};

#[tokio::test]
async fn the_rate_limit_headers_are_reported_as_the_quota() {
    let github = TestGitHub::start().await;
    github
        .answer_users(
            fixture_response(200, "user-octocat.json")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "1800000000"),
        )
        .await;

    let quota = reported_quota(&github.connector, &subject("octocat")).await;

    assert_eq!(
        quota,
        Some(Quota {
            remaining: 0,
            resets_at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        })
    );
}

#[tokio::test]
async fn an_answer_without_them_reports_nothing() {
    let github = TestGitHub::start().await;
    github
        .answer_users(fixture_response(200, "user-octocat.json"))
        .await;

    assert_eq!(
        reported_quota(&github.connector, &subject("octocat")).await,
        None
    );
}

//! The quota that Gravatar's `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds), sent with a 404 too, report.

use std::time::{Duration, UNIX_EPOCH};

use enrichd_sdk::{
    quota::Quota,
    testkit::{fixture_response, reported_quota},
};

use crate::helpers::{TestGravatar, subject};

#[tokio::test]
async fn the_rate_limit_headers_are_reported_as_the_quota() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(
            fixture_response(404, "401.json")
                .insert_header("X-RateLimit-Remaining", "12")
                .insert_header("X-RateLimit-Reset", "1800000000"),
        )
        .await;

    let quota = reported_quota(&gravatar.connector, &subject("ada@example.com")).await;

    assert_eq!(
        quota,
        Some(Quota {
            remaining: 12,
            resets_at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        })
    );
}

#[tokio::test]
async fn an_answer_without_them_reports_nothing() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(fixture_response(404, "401.json"))
        .await;

    assert_eq!(
        reported_quota(&gravatar.connector, &subject("ada@example.com")).await,
        None
    );
}

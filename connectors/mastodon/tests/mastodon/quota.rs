//! The quota that Mastodon's `X-RateLimit-Remaining` and `X-RateLimit-Reset` (an RFC 3339 timestamp) report.

use std::time::{Duration, UNIX_EPOCH};

use enrichd_sdk::{
    quota::Quota,
    testkit::{fixture_response, reported_quota},
};

use crate::helpers::{HANDLE, TestMastodon, subject};

#[tokio::test]
async fn the_rate_limit_headers_are_reported_as_the_quota() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(
            fixture_response(200, "account-get-local-user.json")
                .insert_header("X-RateLimit-Remaining", "0")
                .insert_header("X-RateLimit-Reset", "2027-01-15T08:00:00.000Z"),
        )
        .await;

    let quota = reported_quota(&mastodon.connector, &subject(HANDLE)).await;

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
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;

    assert_eq!(
        reported_quota(&mastodon.connector, &subject(HANDLE)).await,
        None
    );
}

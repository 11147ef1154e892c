//! The quota that X's `x-rate-limit-remaining` and `x-rate-limit-reset` (epoch seconds) report.

use std::time::{Duration, UNIX_EPOCH};

use enrichd_sdk::{
    quota::Quota,
    testkit::{fixture_response, reported_quota},
};

use crate::helpers::{TestX, subject};

#[tokio::test]
async fn the_rate_limit_headers_are_reported_as_the_quota() {
    let x = TestX::start().await;
    x.answer_lookups(
        fixture_response(200, "user-by-username-default.json")
            .insert_header("x-rate-limit-remaining", "299")
            .insert_header("x-rate-limit-reset", "1800000000"),
    )
    .await;

    let quota = reported_quota(&x.connector, &subject("jack")).await;

    assert_eq!(
        quota,
        Some(Quota {
            remaining: 299,
            resets_at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        })
    );
}

#[tokio::test]
async fn an_answer_without_them_reports_nothing() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(200, "user-by-username-default.json"))
        .await;

    assert_eq!(reported_quota(&x.connector, &subject("jack")).await, None);
}

//! The quota that Pipedrive's `x-ratelimit-remaining` and `x-ratelimit-reset` (seconds left in
//! the 2-second window) report; the last answer of a lookup counts.

use std::time::{Duration, SystemTime};

use enrichd_sdk::testkit::{fixture_response, reported_quota};

use crate::helpers::{TestPipedrive, search_hit, subject};

#[tokio::test]
async fn the_rate_limit_headers_of_the_last_answer_are_reported_as_the_quota() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(
            search_hit(1)
                .insert_header("x-ratelimit-remaining", "5")
                .insert_header("x-ratelimit-reset", "2"),
        )
        .await;
    pipedrive
        .answer_person(
            fixture_response(200, "person-get.json")
                .insert_header("x-ratelimit-limit", "80")
                .insert_header("x-ratelimit-remaining", "0")
                .insert_header("x-ratelimit-reset", "2"),
        )
        .await;

    let before = SystemTime::now();
    let quota = reported_quota(&pipedrive.connector, &subject("ada@example.com"))
        .await
        .unwrap();

    assert_eq!(quota.remaining, 0);
    let reset = quota.resets_at.unwrap();
    assert!(reset >= before + Duration::from_secs(2));
    assert!(reset <= SystemTime::now() + Duration::from_secs(2));
}

#[tokio::test]
async fn an_answer_without_them_reports_nothing() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(1)).await;
    pipedrive
        .answer_person(fixture_response(200, "person-get.json"))
        .await;

    assert_eq!(
        reported_quota(&pipedrive.connector, &subject("ada@example.com")).await,
        None
    );
}

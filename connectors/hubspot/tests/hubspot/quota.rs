//! The quota that HubSpot's `X-HubSpot-RateLimit-Daily-Remaining` (no reset time is sent) report.

use enrichd_sdk::{
    quota::Quota,
    testkit::{fixture_response, reported_quota},
};

use crate::helpers::{TestHubSpot, subject};

#[tokio::test]
async fn the_rate_limit_headers_are_reported_as_the_quota() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(
            fixture_response(200, "contact-by-email.json")
                .insert_header("X-HubSpot-RateLimit-Daily", "250000")
                .insert_header("X-HubSpot-RateLimit-Daily-Remaining", "249000"),
        )
        .await;

    let quota = reported_quota(&hubspot.connector, &subject("bcooper@biglytics.net")).await;

    assert_eq!(
        quota,
        Some(Quota {
            remaining: 249_000,
            resets_at: None,
        })
    );
}

#[tokio::test]
async fn an_answer_without_them_reports_nothing() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(fixture_response(200, "contact-by-email.json"))
        .await;

    assert_eq!(
        reported_quota(&hubspot.connector, &subject("bcooper@biglytics.net")).await,
        None
    );
}

//! The quota a manifest's `quota:` headers report.

use std::time::{Duration, UNIX_EPOCH};

use enrichd_sdk::{
    quota::Quota,
    testkit::{fixture_response, issue_paths, reported_quota},
};
use serde_json::json;

use crate::helpers::{TestApi, issues, manifest, subject};

#[tokio::test]
async fn the_headers_named_under_quota_are_reported() {
    let api = TestApi::start_with(|settings, _| {
        settings["quota"] = json!({
            "remaining": "X-Credits-Remaining",
            "reset": "x-credits-reset",
            "reset_format": "timestamp",
        });
    })
    .await;
    api.answer_lookups(
        fixture_response(200, "person-bcooper.json")
            .insert_header("x-credits-remaining", "0")
            .insert_header("x-credits-reset", "2027-01-15T08:00:00Z"),
    )
    .await;

    let quota = reported_quota(&api.connector, &subject("bcooper@biglytics.net")).await;

    assert_eq!(
        quota,
        Some(Quota {
            remaining: 0,
            resets_at: Some(UNIX_EPOCH + Duration::from_secs(1_800_000_000)),
        })
    );
}

#[tokio::test]
async fn each_reset_format_is_read_and_a_reset_is_optional() {
    for (format, value, expected) in [
        ("epoch_seconds", "1800000000", Some(1_800_000_000)),
        ("timestamp", "1800000000", Some(1_800_000_000)),
    ] {
        let api = TestApi::start_with(|settings, _| {
            settings["quota"] =
                json!({"remaining": "x-left", "reset": "x-back", "reset_format": format});
        })
        .await;
        api.answer_lookups(
            fixture_response(200, "person-bcooper.json")
                .insert_header("x-left", "3")
                .insert_header("x-back", value),
        )
        .await;
        let quota = reported_quota(&api.connector, &subject("bcooper@biglytics.net"))
            .await
            .unwrap();
        let at = expected.map(|s| UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!((quota.remaining, quota.resets_at), (3, at), "{format}");
    }
    let seconds_left = TestApi::start_with(|settings, _| {
        settings["quota"] =
            json!({"remaining": "x-left", "reset": "x-back", "reset_format": "seconds_left"});
    })
    .await;
    seconds_left
        .answer_lookups(
            fixture_response(200, "person-bcooper.json")
                .insert_header("x-left", "3")
                .insert_header("x-back", "30"),
        )
        .await;
    let quota = reported_quota(&seconds_left.connector, &subject("bcooper@biglytics.net"))
        .await
        .unwrap();
    let wait = quota
        .resets_at
        .unwrap()
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(wait > Duration::from_secs(28) && wait <= Duration::from_secs(30));

    let no_reset = TestApi::start_with(|settings, _| {
        settings["quota"] = json!({"remaining": "x-left"});
    })
    .await;
    no_reset
        .answer_lookups(fixture_response(200, "person-bcooper.json").insert_header("x-left", "7"))
        .await;
    assert_eq!(
        reported_quota(&no_reset.connector, &subject("bcooper@biglytics.net")).await,
        Some(Quota {
            remaining: 7,
            resets_at: None
        })
    );
}

#[tokio::test]
async fn without_a_quota_section_nothing_is_reported() {
    let api = TestApi::start().await;
    api.answer_lookups(
        fixture_response(200, "person-bcooper.json").insert_header("x-ratelimit-remaining", "0"),
    )
    .await;
    assert_eq!(
        reported_quota(&api.connector, &subject("bcooper@biglytics.net")).await,
        None
    );
}

#[tokio::test]
async fn bad_quota_sections_are_named() {
    let server = enrichd_sdk::testkit::wiremock::MockServer::start().await;
    let with = |quota: serde_json::Value| {
        let mut settings = manifest(&server);
        settings["quota"] = quota;
        issues(&settings)
    };
    assert_eq!(issue_paths(&with(json!({}))), ["quota.remaining"]);
    assert_eq!(
        issue_paths(&with(json!({"remaining": "bad header", "reset": "x:y"}))),
        ["quota.remaining", "quota.reset"]
    );
    let unknown = with(json!({"remaining": "x", "reset": "y", "reset_format": "iso"}));
    assert_eq!(issue_paths(&unknown), ["quota.reset_format"], "{unknown:?}");
}

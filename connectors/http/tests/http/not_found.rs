//! The manifest's not-found rules: statuses, `when_missing` and `when_equals`.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::json;

use crate::helpers::{EMAIL, TestApi, assert_private};

/// A connector whose manifest has the example's rules: a miss is 200 with `status: no_match`
/// or without a `person`, and 404 is not listed.
async fn with_body_rules() -> TestApi {
    TestApi::start_with(|manifest, _| {
        manifest["not_found"] = json!({
            "statuses": [],
            "when_missing": "/person",
            "when_equals": {"pointer": "/status", "value": "no_match"},
        });
    })
    .await
}

#[tokio::test]
async fn a_404_is_not_found_by_default_whatever_its_body() {
    for response in [
        ResponseTemplate::new(404),
        ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"),
        ResponseTemplate::new(404).set_body_json(json!({"error": {"email": EMAIL}})),
    ] {
        let api = TestApi::start().await;
        api.answer_lookups(response).await;

        let err = expect_error(api.enrich(EMAIL).await, ErrorCode::NotFound);

        assert!(!err.retryable);
        assert_eq!(err.message, "HTTP 404 from acme-people");
        assert_private(&err, &api.server);
    }
}

#[tokio::test]
async fn listed_statuses_replace_the_default() {
    let api = TestApi::start_with(|manifest, _| {
        manifest["not_found"] = json!({"statuses": [204, 422]});
    })
    .await;
    api.answer_lookups(ResponseTemplate::new(422)).await;
    expect_error(api.enrich(EMAIL).await, ErrorCode::NotFound);

    let api = TestApi::start_with(|manifest, _| {
        manifest["not_found"] = json!({"statuses": [204, 422]});
    })
    .await;
    api.answer_lookups(ResponseTemplate::new(204)).await;
    expect_error(api.enrich(EMAIL).await, ErrorCode::NotFound);
}

#[tokio::test]
async fn an_unlisted_404_is_a_wrong_url_not_an_unknown_person() {
    let api = with_body_rules().await;
    api.answer_lookups(ResponseTemplate::new(404)).await;

    let err = expect_error(api.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert!(
        err.message.contains("not_found.statuses"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn when_equals_marks_a_miss() {
    let api = with_body_rules().await;
    api.answer_lookups(fixture_response(200, "no-match.json"))
        .await;

    let err = expect_error(api.enrich(EMAIL).await, ErrorCode::NotFound);

    assert!(
        err.message.contains("HTTP 200 from acme-people"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn when_missing_marks_a_miss_when_absent_null_or_empty() {
    for body in [
        json!({"status": "match"}),
        json!({"status": "match", "person": null}),
        json!({"status": "match", "person": []}),
    ] {
        let api = with_body_rules().await;
        api.answer_lookups(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await;

        let err = expect_error(api.enrich(EMAIL).await, ErrorCode::NotFound);

        assert_eq!(
            err.message, "HTTP 200 from acme-people matched not_found.when_missing",
            "{body}"
        );
    }
}

#[tokio::test]
async fn an_answer_matching_no_rule_is_mapped() {
    let api = with_body_rules().await;
    api.answer_lookups(fixture_response(200, "person-bcooper.json"))
        .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Bryan Cooper"));
}

#[tokio::test]
async fn when_equals_compares_any_json_value() {
    let api = TestApi::start_with(|manifest, _| {
        manifest["not_found"] = json!({"when_equals": {"pointer": "/meta/count", "value": 0}});
    })
    .await;
    api.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({"meta": {"count": 0}})))
        .await;
    expect_error(api.enrich(EMAIL).await, ErrorCode::NotFound);

    let api = TestApi::start_with(|manifest, _| {
        manifest["not_found"] = json!({"when_equals": {"pointer": "/meta/count", "value": 0}});
    })
    .await;
    api.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({"meta": {"count": "0"}})))
        .await;
    api.enrich(EMAIL).await.unwrap();
}

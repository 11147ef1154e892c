//! The request the connector sends and how the answers map into an Enrichment.

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        expect_error, fixture_response, request_header, single_request, wiremock::ResponseTemplate,
    },
};
use serde_json::{Value, json};

use crate::helpers::{API_KEY, EMAIL, TestAcme, assert_private};

#[tokio::test]
async fn a_lookup_gets_the_person_by_email_with_the_key() {
    let acme = TestAcme::start().await;
    acme.answer_lookups(fixture_response(200, "person.json"))
        .await;

    acme.enrich("ada+x@example.com").await.unwrap();

    let request = single_request(&acme.server).await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/v1/people");
    assert_eq!(request.url.query(), Some("email=ada%2Bx%40example.com"));
    let header = |name: &str| request_header(&request, name);
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );
    assert_eq!(header("accept"), Some("application/json"));
}

#[tokio::test]
async fn the_fixture_maps_into_every_section() {
    let acme = TestAcme::start().await;
    acme.answer_lookups(fixture_response(200, "person.json"))
        .await;

    let enrichment = acme.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Bryan Cooper"));
    assert_eq!(enrichment.identity.emails, [EMAIL]);
    assert_eq!(enrichment.identity.company.as_deref(), Some("Biglytics"));
    assert_eq!(
        enrichment.identity.job_title.as_deref(),
        Some("Director of Data Engineering")
    );
    assert_eq!(enrichment.demographics.city.as_deref(), Some("Cambridge"));
    assert_eq!(
        enrichment.demographics.country.as_deref(),
        Some("United States")
    );
    assert_eq!(enrichment.interests, ["data engineering", "analytics"]);
    assert_eq!(enrichment.behavior.engagement["acme_score"], json!(61.0));
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({"person_id": "p_8f14e45f", "created_at": "2019-10-30T03:30:17Z"})
    );
}

#[tokio::test]
async fn nulls_unicode_and_unknown_fields_are_handled() {
    let acme = TestAcme::start().await;
    acme.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({
        "person": {
            "full_name": "Zoë 李", "email": null, "company": " ", "interests": [null, "", "Musik"],
            "score": null, "a_field_acme_adds_later": {"nested": [1]},
        },
        "meta": {"request_id": "r-1"},
    })))
    .await;

    let enrichment = acme.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Zoë 李"));
    assert!(enrichment.identity.emails.is_empty());
    assert_eq!(enrichment.identity.company, None);
    assert_eq!(enrichment.interests, ["Musik"]);
    assert!(enrichment.behavior.is_empty());
    assert!(enrichment.extra.is_empty());
}

#[tokio::test]
async fn an_unknown_email_is_not_found() {
    let acme = TestAcme::start().await;
    acme.answer_lookups(fixture_response(404, "404.json")).await;

    let err = expect_error(acme.enrich(EMAIL).await, ErrorCode::NotFound);

    assert!(!err.retryable);
    assert_private(&err, &acme.server);
}

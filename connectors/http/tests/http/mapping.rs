//! How answers map into an Enrichment: the demo person with concrete values, scalars, lists,
//! numbers, missing pointers, nulls, wrong shapes, unicode and extra fields.

use enrichd_sdk::{
    Enrichment, ErrorCode,
    testkit::{expect_error, fixture_json, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::{EMAIL, TestApi, assert_private};

fn json_response(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn the_demo_person_maps_into_every_section() {
    let api = TestApi::start().await;
    api.answer_lookups(fixture_response(200, "person-bcooper.json"))
        .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("Bryan Cooper"));
    assert_eq!(identity.emails, ["bcooper@biglytics.net"]);
    assert_eq!(
        identity.avatar_url.as_deref(),
        Some("https://cdn.acme.example/avatars/per_7Qx2Lm9K.png")
    );
    assert_eq!(identity.company.as_deref(), Some("Biglytics"));
    assert_eq!(
        identity.job_title.as_deref(),
        Some("Director of Data Engineering")
    );
    assert_eq!(identity.handles["github"], "octocat");
    assert_eq!(identity.bio, None);
    assert_eq!(enrichment.demographics.city.as_deref(), Some("Cambridge"));
    assert_eq!(
        enrichment.demographics.country.as_deref(),
        Some("United States")
    );
    assert_eq!(enrichment.demographics.location, None);
    assert_eq!(
        enrichment.interests,
        ["data engineering", "analytics", "cloud infrastructure"]
    );
    assert_eq!(enrichment.social.connections, Some(1250));
    assert!(enrichment.social.platforms.is_empty());
    assert_eq!(enrichment.behavior.preferred_channels, ["email", "webinar"]);
    assert_eq!(
        Value::Object(enrichment.behavior.engagement.clone()),
        json!({"acme_score": 87})
    );
    assert_eq!(
        Value::Object(enrichment.extra.clone()),
        json!({"person_id": "per_7Qx2Lm9K", "plan": "enterprise"})
    );
    assert_eq!(enrichment.confidence, None);
}

#[tokio::test]
async fn scalars_convert_to_their_fields_type() {
    let api = TestApi::start().await;
    api.answer_lookups(json_response(json!({"person": {
        "full_name": 1234,
        "emails": "  ada@example.com  ",
        "employment": {"company": true, "title": "  "},
        "github": "ada-l",
        "followers": "1200",
        "score": "12.5",
        "tags": ["Chess", "chess", "CHESS", "Go", 3, null, {"x": 1}, ["nested"]],
        "plan": 0,
    }})))
    .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("1234"));
    assert_eq!(enrichment.identity.emails, ["ada@example.com"]);
    assert_eq!(enrichment.identity.company.as_deref(), Some("true"));
    assert_eq!(enrichment.identity.job_title, None);
    assert_eq!(enrichment.social.connections, Some(1200));
    assert_eq!(enrichment.behavior.engagement["acme_score"], json!(12.5));
    assert_eq!(enrichment.interests, ["Chess", "Go", "3"]);
    assert_eq!(enrichment.extra["plan"], json!(0));
}

#[tokio::test]
async fn values_of_the_wrong_shape_are_skipped_and_the_rest_kept() {
    let api = TestApi::start().await;
    api.answer_lookups(json_response(json!({"person": {
        "full_name": {"first": "Bryan", "last": "Cooper"},
        "emails": {"work": EMAIL},
        "followers": -5,
        "score": "very high",
        "tags": [],
        "geo": "Cambridge",
        "employment": {"company": "Biglytics"},
    }})))
    .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    let mut expected = Enrichment::default();
    expected.identity.company = Some("Biglytics".into());
    assert_eq!(enrichment, expected);
}

#[tokio::test]
async fn missing_pointers_and_nulls_fill_nothing() {
    let api = TestApi::start().await;
    api.answer_lookups(json_response(json!({"person": {
        "full_name": null,
        "emails": [null],
        "id": "per_1",
    }})))
    .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    let mut expected = Enrichment::default();
    expected.extra.insert("person_id".into(), json!("per_1"));
    assert_eq!(enrichment, expected);
}

#[tokio::test]
async fn an_answer_that_maps_nothing_is_an_empty_success() {
    // Only the not-found rules say "unknown person"; the default ones do not look at bodies.
    let api = TestApi::start().await;
    api.answer_lookups(json_response(json!({"unexpected": "shape"})))
        .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    assert!(enrichment.is_empty());
}

#[tokio::test]
async fn unicode_and_extra_fields_pass_through() {
    let mut body = fixture_json("person-bcooper.json");
    body["person"]["full_name"] = json!("Zoë Ångström-李");
    body["person"]["geo"]["city"] = json!("Zürich");
    body["person"]["new_field"] = json!({"added": "later"});
    body["meta"] = json!({"api_version": "2024-05"});
    let api = TestApi::start().await;
    api.answer_lookups(json_response(body)).await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Zoë Ångström-李"));
    assert_eq!(enrichment.demographics.city.as_deref(), Some("Zürich"));
    assert!(!enrichment.extra.contains_key("new_field"));
}

#[tokio::test]
async fn a_top_level_array_and_indexed_pointers_work() {
    let api = TestApi::start_with(|manifest, _| {
        manifest["mapping"] = json!({
            "identity.name": "/0/name",
            "identity.emails": "/0/contact~1email",
            "social.influence": "/0/reach",
            "demographics.age": "/0/age",
            "behavior.purchase_history": "/0/orders",
        });
    })
    .await;
    api.answer_lookups(json_response(json!([{
        "name": "Ada",
        "contact/email": "ada@example.com",
        "reach": 0.42,
        "age": 36.0,
        "orders": [{"sku": "A-1", "total": 12.5}, null],
    }])))
    .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Ada"));
    assert_eq!(enrichment.identity.emails, ["ada@example.com"]);
    assert_eq!(enrichment.social.influence, Some(0.42));
    assert_eq!(enrichment.demographics.age, Some(36));
    assert_eq!(
        enrichment.behavior.purchase_history,
        [json!({"sku": "A-1", "total": 12.5})]
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_bad_response_that_quotes_nothing() {
    for body in [
        format!(r#"{{"person": {{"emails": ["{EMAIL}""#),
        "<html>Welcome</html>".to_owned(),
        String::new(),
    ] {
        let api = TestApi::start().await;
        api.answer_lookups(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
            .await;

        let err = expect_error(api.enrich(EMAIL).await, ErrorCode::BadResponse);

        assert!(err.message.contains("not valid JSON"), "{}", err.message);
        assert_private(&err, &api.server);
    }
}

//! How Pipedrive's person records map into an Enrichment.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::{EMAIL, TestPipedrive, assert_private, no_hits, person, search_hit};

#[tokio::test]
async fn pipedrives_example_person_maps_to_identity_engagement_and_crm_facts() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(fixture_response(200, "persons-search.json"))
        .await;
    pipedrive
        .answer_person(fixture_response(200, "person-get.json"))
        .await;

    let enrichment = pipedrive.enrich(EMAIL).await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("Will Smith"));
    assert_eq!(identity.emails, ["12345@email.com"]);
    assert_eq!(identity.company.as_deref(), Some("Organization name"));
    assert_eq!(identity.job_title, None);
    assert_eq!(
        identity.avatar_url.as_deref(),
        Some(
            "https://pipedrive-profile-pics.s3.example.com/f8893852574273f2747bf6ef09d11cfb4ac8f269_512.jpg"
        )
    );
    assert!(identity.handles.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());
    assert!(enrichment.social.is_empty());
    assert!(enrichment.behavior.purchase_history.is_empty());
    assert_eq!(
        Value::Object(enrichment.behavior.engagement),
        json!({
            "open_deals_count": 2,
            "won_deals_count": 3,
            "lost_deals_count": 1,
            "closed_deals_count": 3,
            "activities_count": 1,
            "done_activities_count": 1,
            "email_messages_count": 1,
            "last_activity_date": "2019-11-28",
        })
    );
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "person_id": 1,
            "owner": "Jane Doe",
            "phones": ["12345"],
            "label_ids": [1],
            "marketing_status": "no_consent",
            "next_activity_date": "2019-11-29",
            "created_at": "2017-10-18 13:23:07",
            "updated_at": "2020-05-08 05:30:20",
        })
    );
    assert_eq!(enrichment.confidence, None);
}

#[tokio::test]
async fn a_newer_record_with_unicode_and_unknown_fields_maps_what_it_can() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(4711)).await;
    pipedrive
        .answer_person(person(json!({
            "id": 4711,
            "name": "Zoë Ångström 李",
            "first_name": "Zoë",
            "email": [
                {"value": "zoe@home.example", "primary": false, "label": "home"},
                {"value": "zoe@example.com", "primary": true, "label": "work"},
            ],
            "primary_email": "zoe@example.com",
            "phone": [{"value": "+46 18 471 00 00", "primary": true, "label": "work"}],
            "org_id": {"name": "Ångström AB", "value": 9},
            "org_name": null,
            "owner_id": 123,
            "job_title": "CTO",
            "label_ids": [5, 6],
            "won_deals_count": 0,
            "custom_fields": {"a1b2c3": "ignored"},
            "aFieldPipedriveAddsLater": {"nested": [1, 2, 3]},
        })))
        .await;

    let enrichment = pipedrive.enrich("zoe@example.com").await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Zoë Ångström 李"));
    assert_eq!(
        enrichment.identity.emails,
        ["zoe@example.com", "zoe@home.example"]
    );
    assert_eq!(enrichment.identity.company.as_deref(), Some("Ångström AB"));
    assert_eq!(enrichment.identity.job_title.as_deref(), Some("CTO"));
    assert_eq!(
        Value::Object(enrichment.behavior.engagement),
        json!({"won_deals_count": 0})
    );
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({"person_id": 4711, "phones": ["+46 18 471 00 00"], "label_ids": [5, 6]})
    );
    assert_eq!(pipedrive.requests().await[1].url.path(), "/v1/persons/4711");
}

#[tokio::test]
async fn null_fields_leave_the_profile_empty_but_for_the_id() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(3)).await;
    pipedrive
        .answer_person(person(json!({
            "id": 3, "name": null, "first_name": null, "last_name": "",
            "email": [{"value": "", "primary": true}], "phone": [{"value": "", "primary": true}],
            "primary_email": null, "org_id": null, "org_name": null, "owner_id": null,
            "owner_name": null, "picture_id": null, "label": null, "open_deals_count": null,
            "last_activity_date": null, "add_time": null,
        })))
        .await;

    let enrichment = pipedrive.enrich(EMAIL).await.unwrap();

    assert!(enrichment.identity.is_empty());
    assert!(enrichment.behavior.is_empty());
    assert_eq!(Value::Object(enrichment.extra), json!({"person_id": 3}));
}

#[tokio::test]
async fn an_email_no_person_has_is_not_found() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(no_hits()).await;

    let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::NotFound);

    assert!(!err.retryable);
    assert_eq!(err.message, "no Pipedrive person has this email");
    assert_private(&err, EMAIL, &pipedrive.server);
}

#[tokio::test]
async fn a_person_without_data_is_not_found() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(search_hit(1)).await;
    pipedrive
        .answer_person(
            ResponseTemplate::new(200).set_body_json(json!({"success": true, "data": null})),
        )
        .await;

    expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::NotFound);
}

#[tokio::test]
async fn bodies_that_are_not_pipedrives_are_bad_responses() {
    let searches = [
        json!({"success": false, "error": "Something"}),
        json!({"success": true, "data": {"items": [{"item": {"name": "no id"}}]}}),
        json!([]),
    ];
    for body in searches {
        let pipedrive = TestPipedrive::start().await;
        pipedrive
            .answer_search(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await;
        let err = expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::BadResponse);
        assert!(!err.retryable, "{body}");
    }
    for body in [
        json!({"success": false}),
        json!({"success": true, "data": [1]}),
    ] {
        let pipedrive = TestPipedrive::start().await;
        pipedrive.answer_search(search_hit(1)).await;
        pipedrive
            .answer_person(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await;
        expect_error(pipedrive.enrich(EMAIL).await, ErrorCode::BadResponse);
    }
}

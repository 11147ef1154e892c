//! How HubSpot's answers map into an Enrichment.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::{EMAIL, TestHubSpot};

fn json_response(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

#[tokio::test]
async fn hubspots_example_contact_maps_to_identity_and_contextual_facts() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(fixture_response(200, "contact-by-email.json"))
        .await;

    let enrichment = hubspot.enrich(EMAIL).await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("Bryan Cooper"));
    assert_eq!(identity.emails, ["bcooper@biglytics.net"]);
    assert_eq!(identity.company.as_deref(), Some("Biglytics"));
    assert_eq!(identity.job_title, None);
    assert!(identity.handles.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());
    assert!(enrichment.social.is_empty());
    assert!(enrichment.behavior.is_empty());
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "contact_id": "512",
            "created_at": "2019-10-30T03:30:17.883Z",
            "updated_at": "2019-12-07T16:50:06.678Z",
            "phone": "(877) 929-0687",
            "website": "biglytics.net",
        })
    );
    assert_eq!(enrichment.confidence, None);
}

#[tokio::test]
async fn a_complete_contact_fills_every_section_it_can() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(json_response(json!({
            "id": "901",
            "properties": {
                "email": "zoe@example.com",
                "hs_additional_emails": "zoe@work.example",
                "firstname": "Zoë",
                "lastname": "Ångström 李",
                "company": "Ångström AB",
                "jobtitle": "CTO",
                "city": "Uppsala",
                "state": null,
                "country": "Sweden",
                "industry": "Research",
                "lifecyclestage": "opportunity",
                "hs_lead_status": "IN_PROGRESS",
                "hubspotscore": "87",
                "hs_analytics_source": "REFERRALS",
                "createdate": "2024-01-02T03:04:05.678Z",
                "some_custom_property": "ignored",
            },
            "createdAt": "2024-01-02T03:04:05.678Z",
            "updatedAt": "2024-02-02T03:04:05.678Z",
            "archived": false,
            "propertiesWithHistory": {"firstname": [{"value": "Zoe"}]},
            "associations": {"companies": {"results": [{"id": "1", "type": "contact_to_company"}]}},
            "aFieldHubSpotAddsLater": {"nested": [1, 2, 3]},
        })))
        .await;

    let enrichment = hubspot.enrich("zoe@example.com").await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Zoë Ångström 李"));
    assert_eq!(
        enrichment.identity.emails,
        ["zoe@example.com", "zoe@work.example"]
    );
    assert_eq!(enrichment.identity.company.as_deref(), Some("Ångström AB"));
    assert_eq!(enrichment.identity.job_title.as_deref(), Some("CTO"));
    assert_eq!(enrichment.demographics.city.as_deref(), Some("Uppsala"));
    assert_eq!(enrichment.demographics.country.as_deref(), Some("Sweden"));
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("Uppsala, Sweden")
    );
    assert_eq!(enrichment.interests, ["Research"]);
    assert_eq!(enrichment.behavior.engagement["lead_score"], json!(87));
    assert!(enrichment.behavior.preferred_channels.is_empty());
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "contact_id": "901",
            "lifecycle_stage": "opportunity",
            "lead_status": "IN_PROGRESS",
            "lead_score": 87,
            "original_source": "REFERRALS",
            "created_at": "2024-01-02T03:04:05.678Z",
            "updated_at": "2024-02-02T03:04:05.678Z",
        })
    );
}

#[tokio::test]
async fn null_and_empty_properties_leave_fields_unset() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(json_response(json!({
            "id": "7",
            "properties": {
                "email": null, "firstname": "", "lastname": null, "company": " ",
                "jobtitle": null, "city": null, "country": "", "industry": null,
                "hubspotscore": null, "lifecyclestage": "", "createdate": null,
            },
            "createdAt": null,
            "archived": false,
        })))
        .await;

    let enrichment = hubspot.enrich(EMAIL).await.unwrap();

    assert!(enrichment.identity.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());
    assert!(enrichment.behavior.is_empty());
    assert_eq!(Value::Object(enrichment.extra), json!({"contact_id": "7"}));
}

#[tokio::test]
async fn a_body_that_is_not_a_contact_is_a_bad_response() {
    for body in [json!({"results": []}), json!([]), json!({"id": "1"})] {
        let hubspot = TestHubSpot::start().await;
        hubspot.answer_lookups(json_response(body.clone())).await;
        let err = expect_error(hubspot.enrich(EMAIL).await, ErrorCode::BadResponse);
        assert!(!err.retryable, "{body}");
    }
}

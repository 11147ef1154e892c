//! How Salesforce's query results map into an Enrichment.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::{EMAIL, TestSalesforce, assert_private, no_records, query_result};

#[tokio::test]
async fn salesforces_example_result_maps_to_the_name_and_record() {
    // The recorded page says `done: false` with a `nextRecordsUrl`: the first record is used
    // and no further batch is fetched.
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer("Contact", fixture_response(200, "query-contact.json"))
        .await;

    let enrichment = salesforce.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("John Smith"));
    assert!(enrichment.identity.emails.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());
    assert!(enrichment.social.is_empty());
    assert!(enrichment.behavior.is_empty());
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({"object": "Contact", "record_id": "003RO0000035WQgYAM"})
    );
    assert_eq!(enrichment.confidence, None);
    assert_eq!(salesforce.requests().await.len(), 1);
}

#[tokio::test]
async fn a_complete_contact_fills_every_section_it_can() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            query_result(json!([{
                "attributes": {"type": "Contact", "url": "/services/data/v66.0/sobjects/Contact/003A"},
                "Id": "003A",
                "Name": "Zoë Ångström 李",
                "FirstName": "Zoë",
                "LastName": "Ångström 李",
                "Email": "zoe@example.com",
                "Title": "CTO",
                "Department": "Research & Development",
                "Account": {
                    "attributes": {"type": "Account", "url": "/services/data/v66.0/sobjects/Account/001A"},
                    "Name": "Ångström AB",
                    "Industry": "Biotechnology",
                },
                "MailingCity": "Uppsala",
                "MailingCountry": "Sweden",
                "LeadSource": "Partner Referral",
                "Phone": "+46 18 471 00 00",
                "CreatedDate": "2024-01-02T03:04:05.000+0000",
                "Custom_Score__c": 42.5,
                "SomethingSalesforceAddsLater": {"nested": [1, 2, 3]},
            }])),
        )
        .await;

    let enrichment = salesforce.enrich("zoe@example.com").await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("Zoë Ångström 李"));
    assert_eq!(identity.emails, ["zoe@example.com"]);
    assert_eq!(identity.company.as_deref(), Some("Ångström AB"));
    assert_eq!(identity.job_title.as_deref(), Some("CTO"));
    assert_eq!(enrichment.demographics.city.as_deref(), Some("Uppsala"));
    assert_eq!(enrichment.demographics.country.as_deref(), Some("Sweden"));
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("Uppsala, Sweden")
    );
    assert_eq!(enrichment.demographics.occupation, None);
    assert_eq!(enrichment.interests, ["Biotechnology"]);
    assert!(enrichment.behavior.is_empty());
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "object": "Contact",
            "record_id": "003A",
            "department": "Research & Development",
            "lead_source": "Partner Referral",
            "phone": "+46 18 471 00 00",
            "created_at": "2024-01-02T03:04:05.000+0000",
        })
    );
}

#[tokio::test]
async fn a_lead_maps_its_own_company_industry_and_status() {
    let salesforce = TestSalesforce::start().await;
    salesforce.answer("Contact", no_records()).await;
    salesforce
        .answer(
            "Lead",
            query_result(json!([{
                "attributes": {"type": "Lead", "url": "/services/data/v66.0/sobjects/Lead/00QA"},
                "Id": "00QA",
                "Name": "Ada Lovelace",
                "Email": "ada@example.com",
                "Title": "Analyst",
                "Company": "Analytical Engines Ltd",
                "Industry": "Machinery",
                "City": "London",
                "Country": "United Kingdom",
                "LeadSource": "Web",
                "Status": "Open - Not Contacted",
                "Rating": "Hot",
            }])),
        )
        .await;

    let enrichment = salesforce.enrich("ada@example.com").await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(
        enrichment.identity.company.as_deref(),
        Some("Analytical Engines Ltd")
    );
    assert_eq!(enrichment.identity.job_title.as_deref(), Some("Analyst"));
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("London, United Kingdom")
    );
    assert_eq!(enrichment.interests, ["Machinery"]);
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "object": "Lead",
            "record_id": "00QA",
            "lead_source": "Web",
            "lead_status": "Open - Not Contacted",
            "rating": "Hot",
        })
    );
}

#[tokio::test]
async fn null_fields_and_a_null_account_leave_fields_unset() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            query_result(json!([{
                "attributes": {"type": "Contact"},
                "Id": "003B", "Name": null, "FirstName": null, "LastName": "",
                "Email": null, "Title": " ", "Department": null, "Account": null,
                "MailingCity": null, "MailingCountry": "", "LeadSource": null,
                "Phone": null, "CreatedDate": null,
            }])),
        )
        .await;

    let enrichment = salesforce.enrich(EMAIL).await.unwrap();

    assert!(enrichment.identity.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({"object": "Contact", "record_id": "003B"})
    );
}

#[tokio::test]
async fn no_contact_and_no_lead_is_not_found() {
    let salesforce = TestSalesforce::start().await;
    salesforce.answer("Contact", no_records()).await;
    salesforce.answer("Lead", no_records()).await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::NotFound);

    assert!(!err.retryable);
    assert_eq!(err.message, "no Salesforce Contact or Lead has this email");
    assert_eq!(salesforce.requests().await.len(), 2);
    assert_private(&err, EMAIL, &salesforce.server);
}

#[tokio::test]
async fn a_body_that_is_not_a_query_result_is_a_bad_response() {
    for body in [
        json!({"totalSize": 0, "done": true}),
        json!([]),
        json!({"records": [1]}),
        json!({"records": null}),
    ] {
        let salesforce = TestSalesforce::start().await;
        salesforce
            .answer(
                "Contact",
                ResponseTemplate::new(200).set_body_json(body.clone()),
            )
            .await;
        let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::BadResponse);
        assert!(!err.retryable, "{body}");
    }
}

//! The stand-in: HubSpot's answers for the demo contact, and a round trip through the
//! connector with the stand-in served over HTTP.

use std::sync::Arc;

use enrichd_hubspot::{HubSpotFactory, HubSpotStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::StandIn,
    testkit::{
        StandInRoundTrip, context, expect_error, expect_refused, json_body, stand_in_get,
        stand_in_round_trip,
    },
};
use serde_json::json;

fn stand_in() -> Arc<dyn StandIn> {
    HubSpotFactory
        .stand_in()
        .expect("HubSpot offers a stand-in")
}

#[test]
fn the_known_contact_is_found_by_email_case_insensitively() {
    let request = stand_in_get(
        "/crm/v3/objects/contacts/BCooper@Biglytics.NET",
        &[
            ("idProperty", "email"),
            (
                "properties",
                "email,firstname,lastname,company,phone,jobtitle,mobilephone,no_such_property",
            ),
        ],
        Some(HubSpotStandIn::TOKEN),
    );

    let response = stand_in().answer(&request);

    assert_eq!(response.status, 200);
    let contact = json_body(&response);
    assert_eq!(contact["id"], "512");
    assert_eq!(contact["archived"], false);
    assert_eq!(contact["createdAt"], "2019-10-30T03:30:17.883Z");
    // The recorded values as they are, an addition, a known but empty property as null, the
    // always-returned ones, and no unknown property.
    assert_eq!(
        contact["properties"],
        json!({
            "email": "bcooper@biglytics.net",
            "firstname": "Bryan",
            "lastname": "Cooper",
            "company": "Biglytics",
            "phone": "(877) 929-0687",
            "jobtitle": "Director of Data Engineering",
            "mobilephone": null,
            "createdate": "2019-10-30T03:30:17.883Z",
            "lastmodifieddate": "2019-12-07T16:50:06.678Z",
            "hs_object_id": "512",
        })
    );
}

#[test]
fn without_properties_the_defaults_come_back() {
    let request = stand_in_get(
        "/crm/v3/objects/contacts/bcooper@biglytics.net",
        &[("idProperty", "email")],
        Some(HubSpotStandIn::TOKEN),
    );
    let contact = json_body(&stand_in().answer(&request));
    let mut names: Vec<&String> = contact["properties"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "createdate",
            "email",
            "firstname",
            "hs_object_id",
            "lastmodifieddate",
            "lastname"
        ]
    );
}

#[test]
fn an_unknown_email_is_a_recorded_style_404() {
    let request = stand_in_get(
        "/crm/v3/objects/contacts/nobody@example.com",
        &[("idProperty", "email")],
        Some(HubSpotStandIn::TOKEN),
    );

    let response = stand_in().answer(&request);

    assert_eq!(response.status, 404);
    let error = json_body(&response);
    assert_eq!(error["status"], "error");
    assert_eq!(error["category"], "OBJECT_NOT_FOUND");
    assert_eq!(
        error["message"],
        "Object not found.  objectId are usually numeric."
    );
    assert_eq!(error["context"]["id"], json!(["nobody@example.com"]));
    assert!(
        error["correlationId"]
            .as_str()
            .is_some_and(|id| id.len() == 36)
    );
}

#[test]
fn without_id_property_the_path_is_an_object_id() {
    let by_email = stand_in_get(
        "/crm/v3/objects/contacts/bcooper@biglytics.net",
        &[],
        Some(HubSpotStandIn::TOKEN),
    );
    assert_eq!(stand_in().answer(&by_email).status, 404);
    let by_id = stand_in_get(
        "/crm/v3/objects/contacts/512",
        &[],
        Some(HubSpotStandIn::TOKEN),
    );
    assert_eq!(stand_in().answer(&by_id).status, 200);
}

#[test]
fn a_wrong_or_missing_token_is_refused_like_hubspot() {
    for token in [Some("pat-na1-wrong"), None] {
        let request = stand_in_get(
            "/crm/v3/objects/contacts/bcooper@biglytics.net",
            &[("idProperty", "email")],
            token,
        );

        let response = stand_in().answer(&request);

        assert_eq!(response.status, 401, "{token:?}");
        let error = json_body(&response);
        assert_eq!(error["status"], "error");
        assert_eq!(error["category"], "INVALID_AUTHENTICATION");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("Authentication credentials not found")
        );
        assert!(error["correlationId"].is_string());
    }
}

#[test]
fn the_health_listing_answers_one_contact() {
    let request = stand_in_get(
        "/crm/v3/objects/contacts",
        &[("limit", "1")],
        Some(HubSpotStandIn::TOKEN),
    );

    let response = stand_in().answer(&request);

    assert_eq!(response.status, 200);
    let results = json_body(&response)["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0]["id"], "512");
    assert!(
        response
            .headers
            .iter()
            .any(|(k, _)| k == "x-hubspot-ratelimit-remaining")
    );
}

#[test]
fn other_paths_are_not_found() {
    let request = stand_in_get(
        "/crm/v3/objects/companies/1",
        &[],
        Some(HubSpotStandIn::TOKEN),
    );
    assert_eq!(stand_in().answer(&request).status, 404);
}

#[test]
fn its_settings_build_a_connector_and_its_sample_is_the_known_contact() {
    let stand_in = stand_in();
    let settings = stand_in.settings("http://127.0.0.1:4010");
    assert_eq!(
        settings,
        json!({"base_url": "http://127.0.0.1:4010", "access_token": "demo-hubspot-token"})
    );
    assert!(HubSpotFactory.build(&settings).is_ok());

    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    assert_eq!(subject.email.as_deref(), Some(HubSpotStandIn::KNOWN_EMAIL));
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&HubSpotFactory).await;
    let StandInRoundTrip {
        server,
        connector,
        subject,
        ..
    } = &trip;

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Bryan Cooper"));
    assert_eq!(enrichment.identity.emails, ["bcooper@biglytics.net"]);
    assert_eq!(enrichment.identity.company.as_deref(), Some("Biglytics"));
    assert_eq!(
        enrichment.identity.job_title.as_deref(),
        Some("Director of Data Engineering")
    );
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("Cambridge, Massachusetts, United States")
    );
    assert_eq!(enrichment.interests, ["Computer Software"]);
    assert_eq!(enrichment.extra["lifecycle_stage"], "customer");
    assert_eq!(enrichment.extra["lead_score"], 61);
    assert_eq!(enrichment.extra["contact_id"], "512");

    let unknown = Subject::new("u-1").with_email("nobody@example.com");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );

    let wrong_token = HubSpotFactory
        .build(&json!({"base_url": server.uri(), "access_token": "pat-na1-wrong"}))
        .unwrap();
    expect_refused(&wrong_token, subject).await;
}

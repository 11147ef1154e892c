//! The stand-in: Pipedrive's answers for the demo person, its errors, and a round trip through
//! the connector with the stand-in served over HTTP.

use std::sync::Arc;

use enrichd_pipedrive::{PipedriveFactory, PipedriveStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::{StandIn, StandInRequest},
    testkit::{
        StandInRoundTrip, context, expect_error, expect_refused, fixture, fixture_json, json_body,
        stand_in_get, stand_in_round_trip,
    },
};
use serde_json::json;

fn stand_in() -> Arc<dyn StandIn> {
    PipedriveFactory
        .stand_in()
        .expect("Pipedrive offers a stand-in")
}

/// A GET of `path` with `query` and the demo token as `api_token`.
fn get(path: &str, query: &[(&str, &str)]) -> StandInRequest {
    let mut query = query.to_vec();
    query.push(("api_token", PipedriveStandIn::TOKEN));
    stand_in_get(path, &query, None)
}

fn search(term: &str) -> StandInRequest {
    get(
        "/v1/persons/search",
        &[
            ("term", term),
            ("fields", "email"),
            ("exact_match", "true"),
            ("limit", "1"),
        ],
    )
}

#[test]
fn the_known_email_is_found_case_insensitively_as_a_summary_of_the_record() {
    let response = stand_in().answer(&search("BCooper@Biglytics.NET"));

    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-ratelimit-limit"), Some("40"));
    assert_eq!(response.header("x-ratelimit-reset"), Some("2"));
    let found = json_body(&response);
    assert_eq!(found["success"], true);
    let items = found["data"]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let item = &items[0]["item"];
    assert_eq!(item["id"], 1);
    assert_eq!(item["type"], "person");
    assert_eq!(item["name"], "Will Smith");
    assert_eq!(item["emails"], json!(["bcooper@biglytics.net"]));
    assert_eq!(item["phones"], json!(["12345"]));
    assert_eq!(items[0]["result_score"], 0.5092);
}

#[test]
fn an_unknown_email_finds_no_items() {
    for request in [
        search("nobody@example.com"),
        search("bcooper@biglytics"),
        get(
            "/v1/persons/search",
            &[("term", "bcooper@biglytics.net"), ("fields", "name")],
        ),
    ] {
        let found = json_body(&stand_in().answer(&request));
        assert_eq!(found["success"], true);
        assert_eq!(found["data"]["items"], json!([]));
    }
}

#[test]
fn a_too_short_term_is_refused() {
    let response = stand_in().answer(&get("/v1/persons/search", &[("term", "b")]));
    assert_eq!(response.status, 400);
    assert_eq!(json_body(&response)["success"], false);
}

#[test]
fn the_person_is_the_recorded_example_with_the_demo_email() {
    let response = stand_in().answer(&get("/v1/persons/1", &[]));

    assert_eq!(response.status, 200);
    let mut expected = fixture_json("person-get.json");
    expected["data"]["email"][0]["value"] = json!("bcooper@biglytics.net");
    expected["data"]["primary_email"] = json!("bcooper@biglytics.net");
    assert_eq!(json_body(&response), expected);
}

#[test]
fn another_person_is_the_recorded_404() {
    let response = stand_in().answer(&get("/v1/persons/2", &[]));
    assert_eq!(response.status, 404);
    assert_eq!(response.body, fixture("404.json"));
    assert_eq!(stand_in().answer(&get("/v1/deals", &[])).status, 404);
}

#[test]
fn the_token_may_come_as_bearer_but_nothing_else_is_let_in() {
    let bearer = StandInRequest {
        method: "GET".into(),
        path: "/v1/users/me".into(),
        query: Vec::new(),
        headers: vec![(
            "authorization".into(),
            format!("Bearer {}", PipedriveStandIn::TOKEN),
        )],
    };
    let me = stand_in().answer(&bearer);
    assert_eq!(me.status, 200);
    assert_eq!(json_body(&me)["data"]["name"], "Jane Doe");

    for query in [
        vec![("api_token".to_owned(), "wrong".to_owned())],
        Vec::new(),
    ] {
        let request = StandInRequest {
            query,
            ..search("bcooper@biglytics.net")
        };
        let response = stand_in().answer(&request);
        assert_eq!(response.status, 401);
        let refused = json_body(&response);
        assert_eq!(refused["success"], false);
        assert_eq!(refused["error"], "unauthorized access");
        assert_eq!(refused["errorCode"], 401);
    }
}

#[test]
fn its_settings_build_a_connector_and_its_sample_only_adds_the_email() {
    let stand_in = stand_in();
    let settings = stand_in.settings("http://127.0.0.1:4013");
    assert_eq!(
        settings,
        json!({"base_url": "http://127.0.0.1:4013", "api_token": "demo-pipedrive-token"})
    );
    assert!(PipedriveFactory.build(&settings).is_ok());

    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    assert_eq!(
        subject.email.as_deref(),
        Some(PipedriveStandIn::KNOWN_EMAIL)
    );

    let mut other = Subject::new("demo").with_email("ada@example.com");
    stand_in.sample(&mut other);
    assert_eq!(other.email.as_deref(), Some("ada@example.com"));
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&PipedriveFactory).await;
    let StandInRoundTrip {
        server,
        connector,
        subject,
        ..
    } = &trip;

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Will Smith"));
    assert_eq!(enrichment.identity.emails, ["bcooper@biglytics.net"]);
    assert_eq!(
        enrichment.identity.company.as_deref(),
        Some("Organization name")
    );
    assert_eq!(enrichment.behavior.engagement["won_deals_count"], 3);
    assert_eq!(enrichment.extra["owner"], "Jane Doe");

    let unknown = Subject::new("u-1").with_email("nobody@example.com");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );

    let oauth = PipedriveFactory
        .build(&json!({"base_url": server.uri(), "access_token": PipedriveStandIn::TOKEN}))
        .unwrap();
    oauth.enrich(subject, &context()).await.unwrap();

    let wrong_token = PipedriveFactory
        .build(&json!({"base_url": server.uri(), "api_token": "wrong"}))
        .unwrap();
    expect_refused(&wrong_token, subject).await;
}

//! The stand-in: ACME's People API of the example manifest, its answers for the demo person,
//! and a round trip through a connector built from the stand-in's settings.

use std::sync::Arc;

use enrichd_http::{HttpFactory, HttpStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::StandIn,
    testkit::{
        StandInRoundTrip, context, expect_error, expect_refused, fixture_json, json_body,
        stand_in_get, stand_in_round_trip,
    },
};
use serde_json::json;

fn stand_in() -> Arc<dyn StandIn> {
    HttpFactory
        .stand_in()
        .expect("the http kind offers a stand-in")
}

#[test]
fn the_demo_person_is_found_by_email_case_insensitively() {
    let request = stand_in_get(
        "/v1/people",
        &[("email", "BCooper@Biglytics.NET")],
        Some(HttpStandIn::TOKEN),
    );

    let response = stand_in().answer(&request);

    assert_eq!(response.status, 200);
    assert_eq!(json_body(&response), fixture_json("person-bcooper.json"));
    assert_eq!(response.header("x-ratelimit-limit"), Some("600"));
    assert!(response.header("x-ratelimit-remaining").is_some());
    assert!(
        response
            .header("x-request-id")
            .is_some_and(|id| id.starts_with("req_"))
    );
}

#[test]
fn an_unknown_email_is_a_200_no_match() {
    let request = stand_in_get(
        "/v1/people",
        &[("email", "nobody@example.com")],
        Some(HttpStandIn::TOKEN),
    );

    let response = stand_in().answer(&request);

    assert_eq!(response.status, 200);
    assert_eq!(
        json_body(&response),
        json!({"status": "no_match", "person": null})
    );
}

#[test]
fn a_wrong_or_missing_token_gets_a_401() {
    for token in [Some("wrong"), None] {
        let response = stand_in().answer(&stand_in_get(
            "/v1/people",
            &[("email", HttpStandIn::KNOWN_EMAIL)],
            token,
        ));

        assert_eq!(response.status, 401, "{token:?}");
        assert_eq!(json_body(&response)["error"]["code"], "unauthorized");
        assert_eq!(
            response.header("www-authenticate"),
            Some("Bearer realm=\"acme\"")
        );
    }
}

#[test]
fn status_routes_and_bad_requests_answer_like_the_api() {
    let ok = stand_in().answer(&stand_in_get("/v1/status", &[], Some(HttpStandIn::TOKEN)));
    assert_eq!((ok.status, json_body(&ok)), (200, json!({"status": "ok"})));

    let no_email = stand_in().answer(&stand_in_get("/v1/people", &[], Some(HttpStandIn::TOKEN)));
    assert_eq!(no_email.status, 400);
    assert_eq!(json_body(&no_email)["error"]["code"], "invalid_request");

    let other = stand_in().answer(&stand_in_get(
        "/v1/companies",
        &[],
        Some(HttpStandIn::TOKEN),
    ));
    assert_eq!(other.status, 404);
    assert_eq!(json_body(&other)["error"]["code"], "route_not_found");

    let mut post = stand_in_get("/v1/people", &[], Some(HttpStandIn::TOKEN));
    post.method = "POST".into();
    assert_eq!(stand_in().answer(&post).status, 405);
}

#[test]
fn its_settings_are_the_example_manifest_pointed_at_it() {
    let settings = stand_in().settings("http://127.0.0.1:4010");

    assert_eq!(settings["base_url"], "http://127.0.0.1:4010");
    assert_eq!(settings["allowed_hosts"], json!(["127.0.0.1:4010"]));
    assert_eq!(
        settings["request"]["headers"]["Authorization"],
        "Bearer demo-http-token"
    );
    assert_eq!(settings["request"]["url"], "/v1/people?email={email}");
    assert_eq!(settings["name"], "acme-people");
    assert_eq!(HttpFactory.validate(&settings), []);
}

#[test]
fn its_sample_adds_the_email_only_when_absent() {
    let mut empty = Subject::new("demo");
    stand_in().sample(&mut empty);
    assert_eq!(empty.email.as_deref(), Some(HttpStandIn::KNOWN_EMAIL));

    let mut taken = Subject::new("demo").with_email("someone@example.com");
    stand_in().sample(&mut taken);
    assert_eq!(taken.email.as_deref(), Some("someone@example.com"));
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&HttpFactory).await;
    let StandInRoundTrip {
        settings,
        connector,
        subject,
        ..
    } = &trip;

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Bryan Cooper"));
    assert_eq!(enrichment.identity.emails, ["bcooper@biglytics.net"]);
    assert_eq!(enrichment.identity.company.as_deref(), Some("Biglytics"));
    assert_eq!(enrichment.identity.handles["github"], "octocat");
    assert_eq!(
        enrichment.demographics.country.as_deref(),
        Some("United States")
    );
    assert_eq!(
        enrichment.interests,
        ["data engineering", "analytics", "cloud infrastructure"]
    );
    assert_eq!(enrichment.social.connections, Some(1250));
    assert_eq!(enrichment.behavior.engagement["acme_score"], 87);
    assert_eq!(enrichment.extra["plan"], "enterprise");
    assert_eq!(enrichment.extra["customer_since"], "2019-10-30");

    let unknown = Subject::new("u-1").with_email("nobody@example.com");
    let miss = expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );
    assert!(miss.message.contains("not_found.when_"), "{}", miss.message);

    let mut wrong_token = settings.clone();
    wrong_token["request"]["headers"]["Authorization"] = json!("Bearer wrong");
    let wrong_token = HttpFactory.build(&wrong_token).unwrap();
    expect_refused(&wrong_token, subject).await;
}

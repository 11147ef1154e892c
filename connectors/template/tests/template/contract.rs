//! What every connector owes enrichd: conformance, settings validation by key, a health
//! check, and a stand-in that answers like the upstream.

use enrichd_connector_template::{TemplateFactory, TemplateStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    testkit::{
        StandInRoundTrip, assert_conformance, context, expect_error, issue_paths,
        stand_in_round_trip,
        wiremock::{
            Mock, ResponseTemplate,
            matchers::{method, path},
        },
    },
};
use serde_json::json;

use crate::helpers::{API_KEY, EMAIL, TestAcme};

#[test]
fn the_connector_conforms() {
    assert_conformance(
        &TemplateFactory,
        json!({"base_url": "https://api.acme.example", "api_key": API_KEY}),
    );
}

#[test]
fn settings_problems_are_reported_by_key_and_keys_are_never_quoted() {
    let issues = TemplateFactory.validate(&json!({"base_url": "acme", "api_key": ""}));
    assert_eq!(issue_paths(&issues), ["base_url", "api_key"]);

    let issues = TemplateFactory.validate(&json!({"api_key": 123456789}));
    assert_eq!(issues[0].path, "api_key");
    assert!(!issues[0].message.contains("123456789"));
}

#[tokio::test]
async fn health_calls_me_and_reports_a_refused_key() {
    let acme = TestAcme::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/me"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&acme.server)
        .await;
    acme.connector.health(&context()).await.unwrap();

    let refused = TestAcme::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&refused.server)
        .await;
    expect_error(
        refused.connector.health(&context()).await,
        ErrorCode::Authentication,
    );
}

#[tokio::test]
async fn the_stand_in_serves_the_demo_person_to_the_connector() {
    // The stand-in served on loopback, a connector built from its settings, and its sample
    // person; keep `trip` alive while the connector is used.
    let trip = stand_in_round_trip(&TemplateFactory).await;
    let StandInRoundTrip {
        server,
        connector,
        subject,
        ..
    } = &trip;
    assert_eq!(subject.email.as_deref(), Some(TemplateStandIn::KNOWN_EMAIL));

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.emails, [EMAIL]);
    let unknown = Subject::new("u-1").with_email("nobody@example.com");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );
    let wrong_key = TemplateFactory
        .build(&json!({"base_url": server.uri(), "api_key": "wrong"}))
        .unwrap();
    expect_error(
        wrong_key.enrich(subject, &context()).await,
        ErrorCode::Authentication,
    );
}

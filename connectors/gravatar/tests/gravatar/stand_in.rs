//! The stand-in: Gravatar's answers for the demo person's hash and the spec's example, core
//! or full depending on the key, and a round trip through the connector with the stand-in
//! served over HTTP.

use std::sync::Arc;

use enrichd_gravatar::{GravatarFactory, GravatarStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
    testkit::{
        StandInRoundTrip, context, expect_error, expect_refused, fixture_json, json_body,
        stand_in_get, stand_in_round_trip,
    },
};
use serde_json::json;

use crate::helpers::EMAIL_HASH;

const ALEX_MORGAN_HASH: &str = "31c5543c1734d25c7206f5fd591525d0295bec6fe84ff82f946a34fe970a1e66";

fn stand_in() -> Arc<dyn StandIn> {
    GravatarFactory
        .stand_in()
        .expect("Gravatar offers a stand-in")
}

fn get(path: &str, key: Option<&str>) -> StandInRequest {
    stand_in_get(path, &[], key)
}

fn profile(hash: &str, key: Option<&str>) -> StandInResponse {
    stand_in().answer(&get(&format!("/v3/profiles/{hash}"), key))
}

#[test]
fn with_the_key_the_demo_hash_is_the_full_sdk_profile_under_its_real_hash() {
    let response = profile(EMAIL_HASH, Some(GravatarStandIn::TOKEN));

    assert_eq!(response.status, 200);
    let mut expected = fixture_json("profile-full-sdk-fixture.json");
    expected["hash"] = json!(EMAIL_HASH);
    assert_eq!(json_body(&response), expected);
    assert_eq!(response.header("x-ratelimit-limit"), Some("1000"));
    assert_eq!(response.header("x-ratelimit-remaining"), Some("999"));
    let reset: u64 = response
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 1_700_000_000);
}

#[test]
fn without_a_key_only_the_core_fields_come_back() {
    let response = profile(EMAIL_HASH, None);

    assert_eq!(response.status, 200);
    assert_eq!(response.header("x-ratelimit-limit"), Some("100"));
    let shown = json_body(&response);
    let mut names: Vec<&String> = shown.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(
        names,
        [
            "avatar_alt_text",
            "avatar_url",
            "company",
            "description",
            "display_name",
            "hash",
            "job_title",
            "location",
            "profile_url",
            "pronouns",
            "pronunciation",
            "verified_accounts",
        ]
    );
    assert_eq!(shown["display_name"], "John Appleseed");
}

#[test]
fn the_specs_example_is_known_by_its_hash() {
    let response = profile(ALEX_MORGAN_HASH, None);

    assert_eq!(response.status, 200);
    assert_eq!(
        json_body(&response),
        fixture_json("profile-unauthenticated-alex-morgan.json")
    );
}

#[test]
fn unknown_hashes_and_routes_are_404s_with_rate_limit_headers_on_lookups() {
    let unknown = profile(&"0".repeat(64), None);
    assert_eq!(unknown.status, 404);
    assert_eq!(json_body(&unknown)["error"], "Profile not found");
    assert!(unknown.header("x-ratelimit-remaining").is_some());

    // An MD5 hash is no identifier.
    assert_eq!(
        profile("3ef16690f431896efd5b1fe35c9c7871", None).status,
        404
    );
    assert_eq!(stand_in().answer(&get("/v3/me/avatars", None)).status, 404);
    let post = StandInRequest {
        method: "POST".into(),
        ..get(&format!("/v3/profiles/{EMAIL_HASH}"), None)
    };
    assert_eq!(stand_in().answer(&post).status, 404);
}

#[test]
fn a_wrong_key_is_the_specs_401() {
    let response = profile(EMAIL_HASH, Some("gk_wrong"));

    assert_eq!(response.status, 401);
    assert_eq!(json_body(&response), fixture_json("401.json"));
}

#[test]
fn its_settings_carry_the_demo_key_and_its_sample_only_adds() {
    let stand_in = stand_in();
    let settings = stand_in.settings("http://127.0.0.1:4014");
    assert_eq!(
        settings,
        json!({"base_url": "http://127.0.0.1:4014", "api_key": "demo-gravatar-token"})
    );
    assert!(GravatarFactory.build(&settings).is_ok());

    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    assert_eq!(subject.email.as_deref(), Some(GravatarStandIn::KNOWN_EMAIL));

    let mut taken = Subject::new("demo").with_email("BCooper@Biglytics.net");
    stand_in.sample(&mut taken);
    assert_eq!(taken.email.as_deref(), Some("BCooper@Biglytics.net"));
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&GravatarFactory).await;
    let StandInRoundTrip {
        stand_in,
        server,
        connector,
        ..
    } = &trip;
    // The demo email as another stand-in may have set it: case does not matter.
    let mut subject = Subject::new("demo").with_email("BCooper@Biglytics.NET");
    stand_in.sample(&mut subject);

    let enrichment = connector.enrich(&subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("John Appleseed"));
    assert_eq!(enrichment.identity.job_title.as_deref(), Some("Engineer"));
    assert_eq!(
        enrichment.interests,
        ["Beach Tennis", "Software Engineering", "Music and Audio"]
    );

    let anonymous = GravatarFactory
        .build(&json!({"base_url": server.uri()}))
        .unwrap();
    let core = anonymous.enrich(&subject, &context()).await.unwrap();
    assert_eq!(core.identity.name.as_deref(), Some("John Appleseed"));
    assert!(core.interests.is_empty(), "interests need a key");
    anonymous.health(&context()).await.unwrap();

    let unknown = Subject::new("u-1").with_email("nobody@example.com");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );

    let wrong_key = GravatarFactory
        .build(&json!({"base_url": server.uri(), "api_key": "gk_wrong"}))
        .unwrap();
    expect_refused(&wrong_key, &subject).await;
}

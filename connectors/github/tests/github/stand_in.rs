//! The stand-in: GitHub's answers for octocat, and a round trip through the connector with the
//! stand-in served over HTTP.

use std::sync::Arc;

use enrichd_github::{GitHubFactory, GitHubStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::{StandIn, StandInRequest},
    testkit::{
        StandInRoundTrip, context, expect_error, fixture, fixture_json, json_body, stand_in_get,
        stand_in_round_trip,
    },
};
use serde_json::json;

fn stand_in() -> Arc<dyn StandIn> {
    GitHubFactory.stand_in().expect("GitHub offers a stand-in")
}

fn get(path: &str) -> StandInRequest {
    stand_in_get(path, &[], None)
}

#[test]
fn octocat_is_answered_with_githubs_example_case_insensitively() {
    for login in ["octocat", "OctoCat"] {
        let response = stand_in().answer(&get(&format!("/users/{login}")));

        assert_eq!(response.status, 200);
        assert_eq!(response.body, fixture("user-octocat.json"));
        assert_eq!(response.header("x-ratelimit-limit"), Some("60"));
        assert_eq!(response.header("x-ratelimit-remaining"), Some("59"));
        assert_eq!(response.header("x-ratelimit-resource"), Some("core"));
        let reset: u64 = response
            .header("x-ratelimit-reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > 1_700_000_000);
    }
}

#[test]
fn an_unknown_user_is_githubs_recorded_404() {
    let response = stand_in().answer(&get("/users/no-such-user"));

    assert_eq!(response.status, 404);
    assert_eq!(json_body(&response), fixture_json("404.json"));
}

#[test]
fn the_rate_limit_shows_the_anonymous_or_authenticated_allowance() {
    let anonymous = stand_in().answer(&get("/rate_limit"));
    assert_eq!(anonymous.status, 200);
    let limits = json_body(&anonymous);
    assert_eq!(limits["resources"]["core"]["limit"], 60);
    assert_eq!(limits["resources"]["core"]["remaining"], 60);
    assert_eq!(limits["rate"], limits["resources"]["core"]);
    assert_eq!(limits["resources"]["search"]["limit"], 10);

    let mut authenticated = get("/rate_limit");
    authenticated.headers = vec![("authorization".into(), "Bearer github_pat_x".into())];
    let limits = json_body(&stand_in().answer(&authenticated));
    assert_eq!(limits["resources"]["core"]["limit"], 5000);
}

#[test]
fn other_routes_and_methods_are_not_found() {
    assert_eq!(stand_in().answer(&get("/users/octocat/repos")).status, 404);
    assert_eq!(stand_in().answer(&get("/")).status, 404);
    let post = StandInRequest {
        method: "POST".into(),
        ..get("/users/octocat")
    };
    assert_eq!(stand_in().answer(&post).status, 404);
}

#[test]
fn its_settings_need_no_token_and_its_sample_is_octocat() {
    let stand_in = stand_in();
    let settings = stand_in.settings("http://127.0.0.1:4011");
    assert_eq!(settings, json!({"base_url": "http://127.0.0.1:4011"}));
    assert!(GitHubFactory.build(&settings).is_ok());

    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    assert_eq!(subject.handles["github"], GitHubStandIn::KNOWN_LOGIN);
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&GitHubFactory).await;
    let StandInRoundTrip {
        connector, subject, ..
    } = &trip;

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(
        enrichment.identity.name.as_deref(),
        Some("monalisa octocat")
    );
    assert_eq!(enrichment.identity.handles["github"], "octocat");
    assert_eq!(enrichment.social.connections, Some(20));
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("San Francisco")
    );

    let unknown = Subject::new("u-1").with_handle("github", "no-such-user");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );
}

//! The stand-in: X's answers for XDevelopers, and a round trip through the connector with the
//! stand-in served over HTTP.

use std::sync::Arc;

use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
    testkit::{
        StandInRoundTrip, context, expect_error, expect_refused, fixture_json, json_body,
        stand_in_get, stand_in_round_trip,
    },
};
use enrichd_x::{XFactory, XStandIn};
use serde_json::json;

fn stand_in() -> Arc<dyn StandIn> {
    XFactory.stand_in().expect("X offers a stand-in")
}

fn lookup(username: &str, query: &[(&str, &str)]) -> StandInResponse {
    stand_in().answer(&stand_in_get(
        &format!("/2/users/by/username/{username}"),
        query,
        Some(XStandIn::TOKEN),
    ))
}

#[test]
fn without_fields_the_default_response_comes_back_case_insensitively() {
    for username in ["XDevelopers", "xdevelopers"] {
        let response = lookup(username, &[]);

        assert_eq!(response.status, 200);
        assert_eq!(
            json_body(&response),
            fixture_json("user-by-username-default.json")
        );
        assert_eq!(response.header("x-rate-limit-limit"), Some("300"));
        assert_eq!(response.header("x-rate-limit-remaining"), Some("299"));
        let reset: u64 = response
            .header("x-rate-limit-reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > 1_700_000_000);
    }
}

#[test]
fn requested_fields_come_back_from_the_quickstart_record_with_the_additions() {
    let response = lookup(
        "XDevelopers",
        &[(
            "user.fields",
            "created_at,description,public_metrics,verified,protected,location",
        )],
    );

    assert_eq!(response.status, 200);
    let mut expected = fixture_json("user-by-id-with-fields.json");
    expected["data"]["protected"] = json!(false);
    assert_eq!(json_body(&response), expected);
}

#[test]
fn an_unknown_username_is_the_documented_not_found_body_in_a_200() {
    let response = lookup("no_such_user", &[("user.fields", "description")]);

    assert_eq!(response.status, 200);
    // The documented body, naming the username asked for (the fixture's own
    // `nonexistent_user` is 16 characters: X would refuse it with a 400).
    let mut expected = fixture_json("user-not-found.json");
    expected["errors"][0]["detail"] = json!("Could not find user with username: [no_such_user].");
    assert_eq!(json_body(&response), expected);
}

#[test]
fn malformed_usernames_and_fields_are_invalid_requests() {
    for (username, query) in [
        ("x-dev", vec![]),
        ("@XDevelopers", vec![]),
        ("XDevelopers", vec![("user.fields", "description,bogus")]),
    ] {
        let response = lookup(username, &query);

        assert_eq!(response.status, 400, "{username} {query:?}");
        let problem = json_body(&response);
        assert_eq!(problem["title"], "Invalid Request");
        assert_eq!(
            problem["type"],
            "https://api.x.com/2/problems/invalid-request"
        );
    }
}

#[test]
fn a_wrong_or_missing_token_is_refused_like_x() {
    for token in [Some("AAAA-wrong"), None] {
        let response = stand_in().answer(&stand_in_get(
            "/2/users/by/username/XDevelopers",
            &[],
            token,
        ));

        assert_eq!(response.status, 401, "{token:?}");
        assert_eq!(
            json_body(&response),
            json!({"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"})
        );
    }
}

#[test]
fn other_routes_and_methods_are_not_found() {
    for request in [
        stand_in_get("/2/users/2244994945", &[], Some(XStandIn::TOKEN)),
        stand_in_get(
            "/2/users/by/username/XDevelopers/tweets",
            &[],
            Some(XStandIn::TOKEN),
        ),
        StandInRequest {
            method: "POST".into(),
            ..stand_in_get(
                "/2/users/by/username/XDevelopers",
                &[],
                Some(XStandIn::TOKEN),
            )
        },
    ] {
        assert_eq!(stand_in().answer(&request).status, 404, "{}", request.path);
    }
}

#[test]
fn its_settings_carry_the_demo_token_and_its_sample_only_adds() {
    let stand_in = stand_in();
    let settings = stand_in.settings("http://127.0.0.1:4012");
    assert_eq!(
        settings,
        json!({"base_url": "http://127.0.0.1:4012", "bearer_token": "demo-x-token"})
    );
    assert!(XFactory.build(&settings).is_ok());

    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    assert_eq!(subject.handles["x"], XStandIn::KNOWN_USERNAME);

    let mut taken = Subject::new("demo").with_handle("x", "jack");
    stand_in.sample(&mut taken);
    assert_eq!(taken.handles["x"], "jack", "an existing handle is kept");
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&XFactory).await;
    let StandInRoundTrip {
        server,
        connector,
        subject,
        ..
    } = &trip;

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("X Developers"));
    assert_eq!(enrichment.identity.handles["x"], "XDevelopers");
    assert_eq!(
        enrichment.identity.avatar_url.as_deref(),
        Some("https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg")
    );
    assert_eq!(enrichment.social.connections, Some(583_423));
    assert_eq!(enrichment.social.influence, Some(0.888));
    assert_eq!(enrichment.extra["website"], "https://developer.x.com");
    assert_eq!(enrichment.extra["verified_type"], "business");

    let unknown = Subject::new("u-1").with_handle("x", "no_such_user");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );

    let wrong_token = XFactory
        .build(&json!({"base_url": server.uri(), "bearer_token": "AAAA-wrong"}))
        .unwrap();
    expect_refused(&wrong_token, subject).await;
}

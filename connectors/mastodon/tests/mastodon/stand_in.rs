//! The stand-in: mastodon.social's answers for Gargron and a remote account, and a round trip
//! through the connector with the stand-in served over HTTP.

use std::{sync::Arc, time::SystemTime};

use enrichd_mastodon::{MastodonFactory, MastodonStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
    testkit::{
        StandInRoundTrip, context, expect_error, expect_refused, fixture, json_body, stand_in_get,
        stand_in_round_trip,
    },
};
use serde_json::json;

fn stand_in() -> Arc<dyn StandIn> {
    MastodonFactory
        .stand_in()
        .expect("Mastodon offers a stand-in")
}

fn lookup(acct: &str, token: Option<&str>) -> StandInResponse {
    stand_in().answer(&stand_in_get(
        "/api/v1/accounts/lookup",
        &[("acct", acct)],
        token,
    ))
}

#[test]
fn gargron_is_found_as_a_local_account_in_every_spelling() {
    for acct in [
        "Gargron",
        "gargron",
        "@Gargron",
        "Gargron@mastodon.social",
        "gargron@Mastodon.Social",
    ] {
        let response = lookup(acct, None);

        assert_eq!(response.status, 200, "{acct}");
        assert_eq!(response.body, fixture("account-get-local-user.json"));
        assert_eq!(response.header("x-ratelimit-limit"), Some("300"));
        assert_eq!(response.header("x-ratelimit-remaining"), Some("299"));
        let reset = humantime::parse_rfc3339(response.header("x-ratelimit-reset").unwrap())
            .expect("an ISO 8601 reset");
        let wait = reset.duration_since(SystemTime::now()).unwrap();
        assert!(wait.as_secs() <= 300, "{wait:?}");
    }
}

#[test]
fn the_remote_account_it_has_seen_is_found_with_its_domain() {
    let response = lookup("noiob@awoo.space", Some(MastodonStandIn::TOKEN));
    assert_eq!(response.status, 200);
    assert_eq!(response.body, fixture("account-get-remote-user.json"));

    assert_eq!(lookup("noiob", None).status, 404, "not a local account");
}

#[test]
fn unknown_accounts_are_the_documented_404() {
    for acct in ["nobody", "Gargron@other.example", ""] {
        let response = lookup(acct, None);
        assert_eq!(response.status, 404, "{acct}");
        assert_eq!(json_body(&response), json!({"error": "Record not found"}));
    }
    let without_acct = stand_in().answer(&stand_in_get("/api/v1/accounts/lookup", &[], None));
    assert_eq!(without_acct.status, 404);
}

#[test]
fn a_wrong_token_is_refused_like_doorkeeper() {
    let response = lookup("Gargron", Some("wrong-token"));

    assert_eq!(response.status, 401);
    assert_eq!(
        json_body(&response),
        json!({"error": "The access token is invalid"})
    );
    assert!(
        response
            .header("www-authenticate")
            .unwrap()
            .contains("invalid_token")
    );
}

#[test]
fn the_instance_and_the_token_check_answer() {
    let instance = stand_in().answer(&stand_in_get("/api/v2/instance", &[], None));
    assert_eq!(instance.status, 200);
    assert_eq!(json_body(&instance)["domain"], "mastodon.social");

    let verified = stand_in().answer(&stand_in_get(
        "/api/v1/apps/verify_credentials",
        &[],
        Some(MastodonStandIn::TOKEN),
    ));
    assert_eq!(verified.status, 200);
    assert_eq!(json_body(&verified)["name"], "enrichd demo");

    let anonymous = stand_in().answer(&stand_in_get("/api/v1/apps/verify_credentials", &[], None));
    assert_eq!(anonymous.status, 401);
}

#[test]
fn other_routes_and_methods_are_not_found() {
    assert_eq!(
        stand_in()
            .answer(&stand_in_get("/api/v1/accounts/1", &[], None))
            .status,
        404
    );
    let post = StandInRequest {
        method: "POST".into(),
        ..stand_in_get("/api/v1/accounts/lookup", &[("acct", "Gargron")], None)
    };
    assert_eq!(stand_in().answer(&post).status, 404);
}

#[test]
fn its_settings_carry_the_demo_token_and_its_sample_only_adds() {
    let stand_in = stand_in();
    let settings = stand_in.settings("http://127.0.0.1:4013");
    assert_eq!(
        settings,
        json!({"base_url": "http://127.0.0.1:4013", "access_token": "demo-mastodon-token"})
    );
    assert!(MastodonFactory.build(&settings).is_ok());

    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    assert_eq!(subject.handles["mastodon"], "Gargron@mastodon.social");

    let mut taken = Subject::new("demo").with_handle("mastodon", "noiob@awoo.space");
    stand_in.sample(&mut taken);
    assert_eq!(
        taken.handles["mastodon"], "noiob@awoo.space",
        "an existing handle is kept"
    );
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&MastodonFactory).await;
    let StandInRoundTrip {
        server,
        connector,
        subject,
        ..
    } = &trip;

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Eugen"));
    assert_eq!(
        enrichment.identity.handles["mastodon"],
        "Gargron@mastodon.social"
    );
    assert_eq!(enrichment.social.connections, Some(318_699));
    assert_eq!(enrichment.social.communities, ["mastodon.social"]);

    let remote = Subject::new("u-2").with_handle("mastodon", "noiob@awoo.space");
    let enrichment = connector.enrich(&remote, &context()).await.unwrap();
    assert_eq!(
        enrichment.interests,
        ["awoo", "admin", "bi", "nonbinary", "games"]
    );

    let unknown = Subject::new("u-1").with_handle("mastodon", "nobody@mastodon.social");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );

    let anonymous = MastodonFactory
        .build(&json!({"base_url": server.uri()}))
        .unwrap();
    anonymous.enrich(subject, &context()).await.unwrap();
    anonymous.health(&context()).await.unwrap();

    let wrong_token = MastodonFactory
        .build(&json!({"base_url": server.uri(), "access_token": "wrong-token"}))
        .unwrap();
    expect_refused(&wrong_token, subject).await;
}

//! Identity resolution (PRODUCT.md §10): chained lookups in waves, required connectors, and
//! `Server-Timing`. The upstreams are wiremock servers answering from the connectors'
//! fixtures: HubSpot names a GitHub login (a custom contact property), GitHub names an X
//! handle (`twitter_username`), so an email-only subject reaches all three.

use std::time::Duration;

use enrichd::cache::{SourceToStore, Stored};
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::helpers::{TestAppBuilder, eventually, github_answering, github_calls, octocat, source};

const CONTACT: &str = include_str!("../../connectors/hubspot/fixtures/contact-by-email.json");
const X_USER: &str = include_str!("../../connectors/x/fixtures/user-by-username-default.json");

/// A HubSpot stand-in whose contact carries `github_login: octocat`.
async fn hubspot_naming_github() -> MockServer {
    let mut contact: Value = serde_json::from_str(CONTACT).unwrap();
    contact["properties"]["github_login"] = json!("octocat");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/crm/v3/objects/contacts/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(contact))
        .mount(&server)
        .await;
    server
}

/// An X stand-in answering every username lookup with the fixture's user.
async fn x_answering(delay: Duration) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/2/users/by/username/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(X_USER, "application/json")
                .set_delay(delay),
        )
        .mount(&server)
        .await;
    server
}

async fn calls(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// HubSpot at `hubspot` mapping `github_login` to the GitHub handle.
fn hubspot_yaml(hubspot: &MockServer) -> String {
    format!(
        "kind: hubspot, retry: {{max_attempts: 1}}, settings: {{base_url: \"{}\", access_token: t, \
         handle_properties: {{github: github_login}}}}",
        hubspot.uri()
    )
}

#[tokio::test]
async fn an_email_alone_reaches_github_and_x_through_the_chain_in_one_call() {
    let hubspot = hubspot_naming_github().await;
    let github = github_answering(octocat()).await;
    let x = x_answering(Duration::ZERO).await;
    let app = TestAppBuilder::new()
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream("github", &github.uri())
        .upstream("x", &x.uri())
        .enrichment("max_waves: 3")
        .spawn()
        .await;
    let subject = json!({"user_id": "chain-1", "email": "bcooper@biglytics.net"});

    let first = app.enrich(subject.clone()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let profile = &first.body;
    assert_eq!(source(profile, "hubspot")["status"], "ok");
    assert!(
        source(profile, "hubspot").get("wave").is_none(),
        "wave 1 is implied"
    );
    let github_source = source(profile, "github");
    assert_eq!(github_source["status"], "ok");
    assert_eq!(github_source["wave"], 2);
    assert_eq!(
        github_source["via"],
        json!({"identifier": "handles.github", "from": "hubspot"})
    );
    let x_source = source(profile, "x");
    assert_eq!(x_source["wave"], 3, "{profile}");
    assert_eq!(
        x_source["via"],
        json!({"identifier": "handles.x", "from": "github"})
    );
    // What a later wave contributes is decayed per wave (GitHub's 0.8 once, X's 0.75 twice).
    let github_confidence = github_source["confidence"].as_f64().unwrap();
    assert!(
        (github_confidence - 0.8 * 0.9).abs() < 1e-9,
        "{github_confidence}"
    );
    let x_confidence = x_source["confidence"].as_f64().unwrap();
    assert!((x_confidence - 0.75 * 0.81).abs() < 1e-9, "{x_confidence}");
    // And so is what they contribute to the merge: the bio only GitHub knows.
    let bio = &profile["provenance"]["identity.bio"];
    assert_eq!(bio["source"], "github");
    assert!(
        (bio["confidence"].as_f64().unwrap() - 0.72).abs() < 1e-9,
        "{bio}"
    );
    assert_eq!(
        profile["profile"]["identity"]["handles"]["github"],
        "octocat"
    );
    // GitHub (0.72 after decay) is surer of the X handle than X itself (0.61).
    assert_eq!(
        profile["profile"]["identity"]["handles"]["x"],
        "monatheoctocat"
    );
    assert_eq!(x_source["status"], "ok");
    assert_eq!(
        (
            calls(&hubspot).await,
            github_calls(&github).await,
            calls(&x).await
        ),
        (1, 1, 1)
    );
    let timing = first.headers["server-timing"].to_str().unwrap();
    assert!(timing.starts_with("cache;desc=\"miss\", "), "{timing}");
    for entry in ["hubspot;dur=", "github;dur=", "x;dur=", "total;dur="] {
        assert!(timing.contains(entry), "{entry} missing from {timing}");
    }

    // Within the TTL: served from the cache, no upstream call.
    let second = app.enrich(subject).await;
    assert_eq!(second.body["cache"], "hit");
    let timing = second.headers["server-timing"].to_str().unwrap();
    assert!(
        timing.starts_with("cache;desc=\"hit\", total;dur="),
        "{timing}"
    );
    assert_eq!(
        (
            calls(&hubspot).await,
            github_calls(&github).await,
            calls(&x).await
        ),
        (1, 1, 1)
    );

    // A refresh asks again and re-derives the chain.
    let refreshed = app.get("/v1/profiles/chain-1?refresh=true").await;
    assert_eq!(refreshed.status, 200);
    assert_eq!(source(&refreshed.body, "x")["wave"], 3);
    assert_eq!(
        (
            calls(&hubspot).await,
            github_calls(&github).await,
            calls(&x).await
        ),
        (2, 2, 2)
    );
    // The remembered identifiers are the caller's, not the derived ones.
    let (_, remembered) = app.stored_entry("chain-1").unwrap().profile_json().unwrap();
    let remembered: Value = serde_json::from_slice(&remembered).unwrap();
    assert!(remembered.get("handles").is_none(), "{remembered}");
}

#[tokio::test]
async fn per_source_answers_of_later_waves_are_reused_like_the_first_waves() {
    let hubspot = hubspot_naming_github().await;
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream("github", &github.uri())
        .spawn()
        .await;
    let subject = json!({"user_id": "chain-2", "email": "bcooper@biglytics.net"});
    assert_eq!(app.enrich(subject.clone()).await.status, 200);
    app.wait_for_profile_in_redis("chain-2").await;
    // The profile gone (not erased: the per-source answers stay), a second enrichment
    // rebuilds it from them, GitHub's included.
    let answers: Vec<SourceToStore> = app
        .stored_entry("chain-2")
        .unwrap()
        .sources()
        .iter()
        .map(|answer| SourceToStore {
            connector: answer.connector.clone(),
            json: answer.json.clone(),
            keep_for: Duration::from_secs(600),
        })
        .collect();
    assert_eq!(answers.len(), 2, "hubspot's and github's");
    let without_profile = Stored::default().merged(
        None,
        &answers,
        enrichd::cache::unix_ms(std::time::SystemTime::now()),
    );
    redis::cmd("SET")
        .arg(app.profile_key("chain-2"))
        .arg(without_profile.encode())
        .query::<()>(&mut app.redis().connection())
        .unwrap();
    let replica = TestAppBuilder::new()
        .replica_of(&app)
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream("github", &github.uri())
        .spawn()
        .await;
    let again = replica.enrich(subject).await;
    assert_eq!(again.status, 200);
    assert_eq!(source(&again.body, "github")["wave"], 2);
    assert_eq!((calls(&hubspot).await, github_calls(&github).await), (1, 1));
}

/// With `enrichment` keys, HubSpot's GitHub login starts no second wave: GitHub stays
/// skipped and is never called.
async fn github_not_chained(enrichment: &str, user_id: &str) {
    let hubspot = hubspot_naming_github().await;
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream("github", &github.uri())
        .enrichment(enrichment)
        .spawn()
        .await;
    let answer = app
        .enrich(json!({"user_id": user_id, "email": "bcooper@biglytics.net"}))
        .await;
    assert_eq!(source(&answer.body, "github")["status"], "skipped");
    assert_eq!(github_calls(&github).await, 0);
}

#[tokio::test]
async fn with_one_wave_nothing_is_chained() {
    github_not_chained("max_waves: 1", "chain-3").await;
}

#[tokio::test]
async fn an_answer_below_the_chain_confidence_starts_no_wave() {
    github_not_chained("chain_min_confidence: 0.95", "chain-4").await;
}

#[tokio::test]
async fn a_wave_that_cannot_start_before_the_deadline_is_skipped_as_such() {
    // Gravatar (wave 1, by email) answers after the deadline: the wave that GitHub would be
    // in cannot start in time.
    let hubspot = hubspot_naming_github().await;
    let github = github_answering(octocat()).await;
    let gravatar = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(404).set_delay(Duration::from_millis(600)))
        .mount(&gravatar)
        .await;
    let app = TestAppBuilder::new()
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream("github", &github.uri())
        .upstream_with_timeout("gravatar", &gravatar.uri(), 2000)
        .deadline_ms(300)
        .spawn()
        .await;
    let answer = app
        .enrich(json!({"user_id": "chain-5", "email": "bcooper@biglytics.net"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let github_source = source(&answer.body, "github");
    assert_eq!(github_source["status"], "skipped");
    assert_eq!(github_source["reason"], "deadline");
    assert_eq!(github_source["wave"], 2);
    assert_eq!(github_source["via"]["from"], "hubspot");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(github_calls(&github).await, 0);
}

#[tokio::test]
async fn a_later_wave_still_running_at_the_deadline_is_merged_when_it_answers() {
    let hubspot = hubspot_naming_github().await;
    let github = github_answering(octocat().set_delay(Duration::from_millis(500))).await;
    let app = TestAppBuilder::new()
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream_with_timeout("github", &github.uri(), 2000)
        .deadline_ms(300)
        .spawn()
        .await;
    let subject = json!({"user_id": "chain-6", "email": "bcooper@biglytics.net"});
    let first = app.enrich(subject).await;
    assert_eq!(source(&first.body, "github")["status"], "timeout");
    assert_eq!(source(&first.body, "github")["wave"], 2);
    eventually("GitHub's late answer is merged", async || {
        let read = app.get_profile("chain-6").await;
        read.status == 200 && source(&read.body, "github")["status"] == "ok"
    })
    .await;
    let merged = app.get_profile("chain-6").await;
    assert_eq!(source(&merged.body, "github")["wave"], 2);
    assert_eq!(source(&merged.body, "github")["via"]["from"], "hubspot");
    assert_eq!(
        merged.body["profile"]["identity"]["handles"]["github"],
        "octocat"
    );
}

#[tokio::test]
async fn a_required_connector_that_fails_fails_the_enrichment_and_nothing_is_cached() {
    let github = github_answering(ResponseTemplate::new(500)).await;
    let app = TestAppBuilder::new()
        .connector_yaml(
            "github",
            &format!(
                "kind: github, required: true, retry: {{max_attempts: 1}}, \
                 circuit_breaker: {{failure_threshold: 1, open_seconds: 60}}, \
                 settings: {{base_url: \"{}\"}}",
                github.uri()
            ),
        )
        .spawn()
        .await;
    let answer = app
        .enrich(json!({"user_id": "req-1", "email": "bcooper@biglytics.net", "handles": {"github": "octocat"}}))
        .await;
    assert_eq!(answer.status, 502, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "required_source_failed");
    let hubspot = answer.body["error"]["details"]["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["connector"] == "hubspot")
        .cloned()
        .unwrap();
    assert_eq!(hubspot["status"], "ok", "the others did answer");
    assert_eq!(app.get_profile("req-1").await.status, 404);

    // Its circuit is open now: the replica says it is degraded, and why.
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "degraded");
    assert_eq!(
        ready.body["checks"]["required_unhealthy"],
        json!(["github"])
    );
}

#[tokio::test]
async fn a_required_connector_skipped_for_lack_of_an_identifier_does_not_fail_anything() {
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .connector_yaml(
            "github",
            &format!(
                "kind: github, required: true, settings: {{base_url: \"{}\"}}",
                github.uri()
            ),
        )
        .spawn()
        .await;
    let answer = app
        .enrich(json!({"user_id": "req-2", "email": "bcooper@biglytics.net"}))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(app.get("/readyz").await.body["status"], "ready");
}

#[tokio::test]
async fn provenance_shows_which_sources_disagreed_and_with_what() {
    let app = TestAppBuilder::new().spawn().await;
    let answer = app.enrich(crate::helpers::known_subject("agree-1")).await;
    assert_eq!(answer.status, 200);
    let name = &answer.body["provenance"]["identity.name"];
    assert_eq!(name["source"], "hubspot");
    assert_eq!(answer.body["profile"]["identity"]["name"], "Bryan Cooper");
    let conflicts = name["conflicts"]
        .as_array()
        .expect("GitHub names someone else");
    assert_eq!(conflicts.len(), 1, "{name}");
    assert_eq!(conflicts[0]["source"], "github");
    assert_eq!(conflicts[0]["value"], "monalisa octocat");
    assert!(name.get("agreeing").is_none(), "{name}");
}

async fn put_overrides(
    app: &crate::helpers::TestApp,
    user_id: &str,
    fields: Value,
) -> crate::helpers::Answer {
    app.send(
        app.client
            .put(app.url(&format!("/v1/profiles/{user_id}/overrides")))
            .json(&json!({ "fields": fields })),
    )
    .await
}

#[tokio::test]
async fn overrides_win_every_merge_survive_refreshes_and_ttls_and_are_erased() {
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .cache("ttl_seconds: 1")
        .spawn()
        .await;
    let subject = crate::helpers::github_only("ov-1");
    let first = app.enrich(subject.clone()).await;
    assert_eq!(first.status, 200);
    assert_eq!(
        first.body["profile"]["identity"]["name"],
        "monalisa octocat"
    );

    let set = put_overrides(
        &app,
        "ov-1",
        json!({"identity.company": "Acme", "identity.name": null, "demographics.age": 37}),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    assert_eq!(set.body["fields"]["identity.company"], "Acme");
    assert!(set.body["updated_at"].is_string());
    assert_eq!(
        github_calls(&github).await,
        1,
        "rebuilt from the per-source answer"
    );

    let check = |profile: &Value| {
        assert_eq!(
            profile["profile"]["identity"]["company"], "Acme",
            "{profile}"
        );
        assert!(
            profile["profile"]["identity"].get("name").is_none(),
            "{profile}"
        );
        assert_eq!(profile["profile"]["demographics"]["age"], 37);
        let provenance = &profile["provenance"]["identity.company"];
        assert_eq!(provenance["source"], "override");
        assert_eq!(provenance["confidence"], 1.0);
        assert!(profile["provenance"].get("identity.name").is_none());
    };
    check(&app.get_profile("ov-1").await.body);
    let read = app.get("/v1/profiles/ov-1/overrides").await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["fields"], set.body["fields"]);

    // A refresh, and a new enrichment after the TTL: still overridden.
    let refreshed = app.get("/v1/profiles/ov-1?refresh=true").await;
    check(&refreshed.body);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later = app.enrich(subject).await;
    assert_eq!(later.status, 200);
    check(&later.body);

    // Erased with the user.
    assert_eq!(app.delete_profile("ov-1").await.status, 204);
    let gone = app.get("/v1/profiles/ov-1/overrides").await;
    assert_eq!(gone.body["fields"], json!({}));
    assert!(
        app.keys_of("ov-1")
            .iter()
            .all(|k| !k.ends_with(":overrides")),
        "{:?}",
        app.keys_of("ov-1")
    );
}

#[tokio::test]
async fn overrides_are_checked_against_the_profile_fields_and_kept_per_tenant() {
    let app = TestAppBuilder::new()
        .api_key("k-default")
        .tenant_key("k-sales", "sales-app", "sales")
        .spawn()
        .await;
    for (fields, named) in [
        (
            json!({"identity.emails": ["a@b.co"]}),
            "fields.identity.emails",
        ),
        (
            json!({"identity.nickname": "x"}),
            "fields.identity.nickname",
        ),
        (
            json!({"demographics.age": "old"}),
            "fields.demographics.age",
        ),
    ] {
        let answer = put_overrides(&app, "ov-2", fields.clone()).await;
        assert_eq!(answer.status, 400, "{fields}");
        assert_eq!(answer.body["error"]["details"]["field"], named, "{fields}");
    }
    let unknown = app
        .send(
            app.client
                .put(app.url("/v1/profiles/ov-2/overrides"))
                .json(&json!({"field": {}})),
        )
        .await;
    assert_eq!(unknown.status, 400);

    assert_eq!(
        put_overrides(&app, "ov-2", json!({"identity.company": "Acme"}))
            .await
            .status,
        200
    );
    let other_tenant = app
        .send_as(
            Some("k-sales"),
            app.client.get(app.url("/v1/profiles/ov-2/overrides")),
        )
        .await;
    assert_eq!(other_tenant.body["fields"], json!({}));
    // Cleared with an empty set.
    let cleared = put_overrides(&app, "ov-2", json!({})).await;
    assert_eq!(cleared.status, 200);
    assert_eq!(
        app.get("/v1/profiles/ov-2/overrides").await.body["fields"],
        json!({})
    );
}

#[tokio::test]
async fn without_redis_overrides_are_kept_in_process() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    assert_eq!(
        app.enrich(crate::helpers::known_subject("ov-3"))
            .await
            .status,
        200
    );
    let set = put_overrides(&app, "ov-3", json!({"identity.handles.github": "someone"})).await;
    assert_eq!(set.status, 200);
    let read = app.get_profile("ov-3").await;
    assert_eq!(
        read.body["profile"]["identity"]["handles"]["github"],
        "someone"
    );
    assert_eq!(
        read.body["provenance"]["identity.handles.github"]["source"],
        "override"
    );
}

#[tokio::test]
async fn a_decayed_answer_below_the_chain_confidence_stops_the_chain() {
    // GitHub's 0.8 is 0.72 in wave 2: below 0.75, its X handle starts no wave 3.
    let hubspot = hubspot_naming_github().await;
    let github = github_answering(octocat()).await;
    let x = x_answering(Duration::ZERO).await;
    let app = TestAppBuilder::new()
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream("github", &github.uri())
        .upstream("x", &x.uri())
        .enrichment("max_waves: 3, chain_min_confidence: 0.75")
        .spawn()
        .await;
    let answer = app
        .enrich(json!({"user_id": "chain-7", "email": "bcooper@biglytics.net"}))
        .await;
    assert_eq!(source(&answer.body, "github")["wave"], 2);
    assert_eq!(source(&answer.body, "x")["status"], "skipped");
    assert_eq!(calls(&x).await, 0);
}

#[tokio::test]
async fn an_identifier_the_caller_sent_is_never_replaced_by_a_found_one() {
    // HubSpot names another GitHub login than the caller's: GitHub is asked about the
    // caller's, in the first wave, and its answer is kept for that login even though a second
    // wave (X, from GitHub's answer) follows.
    let hubspot = hubspot_naming_github().await;
    let github = github_answering(octocat()).await;
    let x = x_answering(Duration::ZERO).await;
    let app = TestAppBuilder::new()
        .connector_yaml("hubspot", &hubspot_yaml(&hubspot))
        .upstream("github", &github.uri())
        .upstream("x", &x.uri())
        .spawn()
        .await;
    let answer = app
        .enrich(
            json!({"user_id": "chain-8", "email": "bcooper@biglytics.net",
            "handles": {"github": "the-callers-login"}}),
        )
        .await;
    assert_eq!(answer.status, 200);
    assert!(source(&answer.body, "github").get("wave").is_none());
    let asked: Vec<String> = github
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(asked, ["/users/the-callers-login"]);
    assert_eq!(source(&answer.body, "x")["wave"], 2);
    eventually("GitHub's answer kept in the entry", async || {
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(app.profile_key("chain-8"))
            .query(&mut app.redis().connection())
            .unwrap();
        value.is_some_and(|v| {
            Stored::decode(&v)
                .and_then(|e| e.source("github"))
                .is_some()
        })
    })
    .await;
    let github = app
        .stored_entry("chain-8")
        .unwrap()
        .source("github")
        .unwrap();
    assert_eq!(github.identifiers, "the-callers-login");
}

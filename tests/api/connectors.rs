//! `/v1/connectors`: listing, admin auth, enable/disable/reload on every replica, durability
//! across restarts, discovery of manifests, the health checker, and redaction of secrets.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::helpers::{TestApp, TestAppBuilder, eventually, known_subject, source};

const ADMIN: &str = "admin-secret-1";
const KEY: &str = "api-key-1";

async fn admin(app: &TestApp, action: &str) -> (u16, Value) {
    let response = app
        .client
        .post(app.url(&format!("/v1/connectors/{action}")))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn listed(app: &TestApp, name: &str) -> Value {
    let list = app.get("/v1/connectors").await;
    list.body["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or(Value::Null)
}

fn secured() -> TestAppBuilder {
    TestAppBuilder::new().api_key(KEY).admin_token(ADMIN)
}

#[tokio::test]
async fn admin_routes_need_an_admin_token() {
    let app = secured().spawn().await;
    let url = app.url("/v1/connectors/github/disable");

    let anonymous = app.client.post(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let api_key = app.client.post(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(api_key.status(), 403);
    let body: Value = api_key.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let discover = app
        .client
        .post(app.url("/v1/connectors/discover"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(discover.status(), 403);

    let (status, body) = admin(&app, "github/disable").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(admin(&app, "nope/enable").await.0, 404);
}

#[tokio::test]
async fn the_list_shows_each_connector_with_health_circuit_and_usage() {
    let app = secured().spawn().await;
    app.enrich(known_subject("list-1")).await;

    let list = app.get("/v1/connectors").await;

    assert_eq!(list.status, 200);
    let github = listed(&app, "github").await;
    assert_eq!(github["kind"], "github");
    assert_eq!(github["category"], "social");
    assert_eq!(github["enabled"], true);
    assert_eq!(github["circuit"], "closed");
    assert_eq!(github["origin"], "config");
    assert_eq!(github["usage"]["requests"], 1);
    assert_eq!(github["usage"]["success_rate"], 1.0);
    assert!(github["usage"]["latency_ms"]["p50"].is_u64());
    assert_eq!(
        github["health"]["status"], "unknown",
        "the checker is off in this app"
    );
}

#[tokio::test]
async fn connector_detail_shows_secrets_as_stars_only() {
    let app = secured().spawn().await;

    let detail = app
        .send(
            app.client
                .get(app.url("/v1/connectors/hubspot"))
                .bearer_auth(KEY),
        )
        .await;

    assert_eq!(detail.status, 200);
    assert_eq!(detail.body["config"]["settings"]["access_token"], "***");
    assert!(
        detail.body["config"]["settings"]["base_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1")
    );
    assert_eq!(
        detail.body["config_schema"]["properties"]["access_token"]["sensitive"],
        true
    );
    assert!(!detail.body.to_string().contains("demo-hubspot-token"));
    assert_eq!(app.get("/v1/connectors/nope").await.status, 404);
}

#[tokio::test]
async fn disable_and_enable_apply_on_every_replica_and_survive_restarts() {
    let app = secured().spawn().await;
    let replica = secured().replica_of(&app).spawn().await;
    tokio::time::sleep(Duration::from_millis(200)).await; // both subscribed

    let (status, _) = admin(&app, "github/disable").await;
    assert_eq!(status, 200);

    let mut subject = known_subject("life-1");
    subject["refresh"] = json!(true);
    let here = app.enrich(subject.clone()).await;
    assert_eq!(source(&here.body, "github")["status"], "disabled");
    eventually("the replica disabling GitHub", async || {
        listed(&replica, "github").await["enabled"] == false
    })
    .await;
    let there = replica.enrich(subject.clone()).await;
    assert_eq!(source(&there.body, "github")["status"], "disabled");

    // A replica started now reads the runtime state, which wins over config.yaml.
    let restarted = secured().replica_of(&app).spawn().await;
    assert_eq!(listed(&restarted, "github").await["enabled"], false);

    // A 503 (the runtime state could not be saved in time, on a loaded machine) is an answer
    // to retry, as a client would.
    eventually("the replica accepting the enable", async || {
        admin(&replica, "github/enable").await.0 == 200
    })
    .await;
    eventually("the first replica enabling GitHub again", async || {
        listed(&app, "github").await["enabled"] == true
    })
    .await;
    assert_eq!(
        source(&app.enrich(subject).await.body, "github")["status"],
        "ok"
    );
}

#[tokio::test]
async fn a_replica_whose_subscription_dropped_catches_up_with_the_runtime_state() {
    let app = secured().spawn().await;
    assert_eq!(listed(&app, "github").await["enabled"], true);
    // An operator's decision recorded while this replica's subscription was down: the state
    // changed in Redis and the event announcing it was never received.
    let mut redis = app.redis().connection();
    let () = redis::cmd("HSET")
        .arg(format!("{}connectors:state", app.prefix))
        .arg("github")
        .arg("disabled")
        .query(&mut redis)
        .unwrap();
    let _: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut redis)
        .unwrap();

    eventually(
        "the replica reading the state after reconnecting",
        async || listed(&app, "github").await["enabled"] == false,
    )
    .await;
}

#[tokio::test]
async fn runtime_state_survives_restarts_without_redis_in_a_state_file() {
    let dir = std::env::temp_dir().join(format!("enrichd-state-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let state_file = dir.join("state.json");
    let yaml = format!("state_file: \"{}\"\n", state_file.display());
    let app = secured().without_redis().yaml(&yaml).spawn().await;

    admin(&app, "github/disable").await;
    let restarted = secured().without_redis().yaml(&yaml).spawn().await;

    assert_eq!(listed(&restarted, "github").await["enabled"], false);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state_file).unwrap()).unwrap();
    assert_eq!(saved["github"], false);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn reload_swaps_the_instance_while_requests_in_flight_finish() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(
                    include_str!("../../connectors/github/fixtures/user-octocat.json"),
                    "application/json",
                )
                .set_delay(Duration::from_millis(400)),
        )
        .mount(&github)
        .await;
    let app = secured()
        .deadline_ms(3000)
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let in_flight = {
        let client = app.client.clone();
        let url = app.url("/v1/enrich");
        tokio::spawn(async move {
            client
                .post(url)
                .bearer_auth(KEY)
                .json(&json!({"user_id": "reload-1", "handles": {"github": "octocat"}}))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) = admin(&app, "github/reload").await;
    assert_eq!(status, 200, "{body}");

    let answer = in_flight.await.unwrap();
    assert_eq!(
        source(&answer, "github")["status"],
        "ok",
        "the old instance finished its call"
    );
    let mut again = json!({"user_id": "reload-2", "handles": {"github": "octocat"}});
    again["refresh"] = json!(true);
    assert_eq!(
        source(&app.enrich(again).await.body, "github")["status"],
        "ok"
    );
}

#[tokio::test]
async fn enabling_a_connector_whose_settings_cannot_work_is_refused() {
    let dir = std::env::temp_dir().join(format!("enrichd-manifests-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // Disabled, so its settings are not checked until someone enables it.
    std::fs::write(
        dir.join("dormant.yaml"),
        "enabled: false\nrequires: [email]\nallowed_hosts: [api.acme.example]\nrequest: {url: 'https://elsewhere.example/v1?e={email}'}\nmapping: {identity.name: /name}\n",
    )
    .unwrap();
    let app = secured()
        .yaml(&format!("connectors_dir: \"{}\"\n", dir.display()))
        .spawn()
        .await;
    assert_eq!(listed(&app, "dormant").await["enabled"], false);

    let (status, body) = admin(&app, "dormant/enable").await;

    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "invalid_config");
    let issues = body["error"]["details"]["issues"].to_string();
    assert!(issues.contains("connectors.dormant.settings"), "{issues}");
    assert_eq!(
        listed(&app, "dormant").await["enabled"],
        false,
        "nothing changed"
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn manifest(host_port: &str) -> String {
    format!(
        r#"
description: "People API of ACME"
requires: [email]
allowed_hosts: ["{host_port}"]
base_url: "http://{host_port}"
request:
  url: "/v1/people?email={{email}}"
  headers: {{Authorization: "Bearer acme-secret"}}
not_found: {{when_missing: /person}}
mapping:
  identity.name: /person/full_name
  contextual.plan: /person/plan
confidence: 0.6
"#
    )
}

#[tokio::test]
async fn discover_adds_changes_removes_and_refuses_manifests_on_every_replica() {
    let acme = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/v1/people"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"person": {"full_name": "Bryan Cooper", "plan": "gold"}})),
        )
        .mount(&acme)
        .await;
    let host_port = acme.uri().trim_start_matches("http://").to_owned();
    let dir = std::env::temp_dir().join(format!("enrichd-manifests-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let yaml = format!("connectors_dir: \"{}\"\n", dir.display());
    let app = secured().yaml(&yaml).spawn().await;
    let replica = secured().replica_of(&app).yaml(&yaml).spawn().await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    std::fs::write(dir.join("acme.yaml"), manifest(&host_port)).unwrap();
    std::fs::write(
        dir.join("broken.yaml"),
        "request: {url: 'ftp://x'}\nmapping: {identity.nme: /x}\n",
    )
    .unwrap();
    let (status, report) = admin(&app, "discover").await;

    assert_eq!(status, 200, "{report}");
    assert_eq!(report["added"], json!(["acme"]));
    let refused = &report["refused"][0];
    assert_eq!(refused["file"], "broken.yaml");
    let reasons = refused["reasons"].to_string();
    assert!(reasons.contains("connectors_dir/broken.yaml"), "{reasons}");
    assert!(
        reasons.contains("allowed_hosts") || reasons.contains("request.url"),
        "{reasons}"
    );
    let answer = app
        .enrich(json!({"user_id": "acme-1", "email": "bcooper@biglytics.net"}))
        .await;
    assert_eq!(
        source(&answer.body, "acme")["status"],
        "ok",
        "{}",
        answer.body
    );
    assert_eq!(answer.body["profile"]["contextual"]["acme"]["plan"], "gold");
    assert_eq!(
        listed(&app, "acme").await["origin"]["connectors_dir"],
        "acme.yaml"
    );
    let detail = app
        .send(
            app.client
                .get(app.url("/v1/connectors/acme"))
                .bearer_auth(KEY),
        )
        .await;
    assert!(
        !detail.body.to_string().contains("acme-secret"),
        "{}",
        detail.body
    );
    eventually("the replica discovering acme", async || {
        listed(&replica, "acme").await["enabled"] == true
    })
    .await;

    std::fs::write(
        dir.join("acme.yaml"),
        manifest(&host_port).replace("0.6", "0.7"),
    )
    .unwrap();
    let (_, report) = admin(&app, "discover").await;
    assert_eq!(report["changed"], json!(["acme"]));

    std::fs::remove_file(dir.join("acme.yaml")).unwrap();
    let (_, report) = admin(&app, "discover").await;
    assert_eq!(report["removed"], json!(["acme"]));
    assert_eq!(listed(&app, "acme").await, Value::Null);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_health_checker_reports_health_and_a_missing_canary() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/rate_limit$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"resources": {}, "rate": {"limit": 60, "remaining": 59}})),
        )
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(ResponseTemplate::new(404).set_body_string(r#"{"message":"Not Found"}"#))
        .mount(&github)
        .await;
    let hubspot = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(r#"{"status":"error","category":"INVALID_AUTHENTICATION"}"#),
        )
        .mount(&hubspot)
        .await;
    let healthy = secured()
        .health_check("interval_seconds: 1")
        .upstream("github", &github.uri())
        .upstream("hubspot", &hubspot.uri())
        .spawn()
        .await;

    eventually("the first health round", async || {
        listed(&healthy, "github").await["health"]["status"] == "healthy"
            && listed(&healthy, "hubspot").await["health"]["status"] == "unhealthy"
    })
    .await;
    let hubspot_health = &listed(&healthy, "hubspot").await["health"];
    assert!(
        hubspot_health["last_error"]
            .as_str()
            .unwrap()
            .contains("authentication")
    );
    assert!(hubspot_health["last_check"].is_string());
    let metrics = healthy.metrics().await;
    assert!(
        metrics.contains(r#"enrichd_connector_healthy{connector="github"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"enrichd_connector_healthy{connector="hubspot"} 0"#));

    // With a canary the check must find a known person: "unknown" is unhealthy.
    let canary = secured()
        .health_check("interval_seconds: 1")
        .upstream("github", &github.uri())
        .connector_options("retry: {max_attempts: 1}, canary: {handles: {github: octocat}}")
        .spawn()
        .await;
    eventually("the canary check", async || {
        listed(&canary, "github").await["health"]["status"] == "unhealthy"
    })
    .await;
    let github_health = &listed(&canary, "github").await["health"];
    assert!(
        github_health["last_error"]
            .as_str()
            .unwrap()
            .contains("canary"),
        "{github_health}"
    );
}

//! `POST /v1/enrich` and the batch route: fan-out, merge, deadlines, partial answers, caching.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::helpers::{TestAppBuilder, known_subject, source};

#[tokio::test]
async fn a_known_user_is_enriched_from_both_sources_with_provenance() {
    let app = TestAppBuilder::new().spawn().await;

    let answer = app.enrich(known_subject("u-42")).await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    let profile = &answer.body;
    assert_eq!(profile["user_id"], "u-42");
    assert_eq!(profile["cache"], "miss");
    assert_eq!(profile["partial"], false);
    // HubSpot (0.9) outranks GitHub (0.8) for the name both know.
    assert_eq!(profile["profile"]["identity"]["name"], "Bryan Cooper");
    assert_eq!(profile["provenance"]["identity.name"]["source"], "hubspot");
    assert_eq!(profile["provenance"]["identity.name"]["confidence"], 0.9);
    // GitHub alone knows the handle and the followers.
    assert_eq!(
        profile["profile"]["identity"]["handles"]["github"],
        "octocat"
    );
    assert_eq!(profile["profile"]["social"]["connections"], 20);
    assert_eq!(
        profile["provenance"]["social.connections"]["source"],
        "github"
    );
    // Both emails, unioned.
    let emails = profile["profile"]["identity"]["emails"].as_array().unwrap();
    assert!(emails.contains(&json!("bcooper@biglytics.net")));
    assert!(emails.contains(&json!("octocat@github.com")));
    assert_eq!(
        profile["profile"]["contextual"]["hubspot"]["lifecycle_stage"],
        "customer"
    );
    assert_eq!(source(profile, "hubspot")["status"], "ok");
    assert_eq!(source(profile, "github")["status"], "ok");
    assert!(profile["confidence"].as_f64().unwrap() > 0.8);
    // Every filled field has provenance.
    for field in [
        "identity.name",
        "identity.company",
        "identity.emails",
        "demographics.city",
    ] {
        assert!(
            profile["provenance"][field].is_object(),
            "{field} has no provenance"
        );
    }
    assert!(answer.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn the_second_request_is_a_hit_on_this_replica_and_on_another() {
    let app = TestAppBuilder::new().spawn().await;
    let first = app.enrich(known_subject("u-7")).await;

    let second = app.enrich(known_subject("u-7")).await;

    assert_eq!(second.status, 200);
    assert_eq!(second.body["cache"], "hit");
    assert_eq!(second.body["enriched_at"], first.body["enriched_at"]);
    assert_eq!(second.body["profile"], first.body["profile"]);
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"enrichd_cache_lookups_total{result="hit",tier="local"} 1"#));
    app.wait_for_profile_in_redis("u-7").await;
    let lock_key = format!("{}{{u-7}}:lock", app.prefix);
    let locked: bool = redis::cmd("EXISTS")
        .arg(&lock_key)
        .query(&mut app.redis().connection())
        .unwrap();
    assert!(!locked, "the lock is released with the writes");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(app.profile_key("u-7"))
        .query(&mut app.redis().connection())
        .unwrap();
    assert!(ttl > 0, "the profile key must expire, PTTL = {ttl}");
    // The writes landed, and left the in-process copy where it was.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(app.get_profile("u-7").await.body["cache"], "hit");
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"enrichd_cache_lookups_total{result="hit",tier="local"} 2"#));

    // Another replica sharing the Redis finds it there.
    let replica = TestAppBuilder::new().replica_of(&app).spawn().await;
    let third = replica.enrich(known_subject("u-7")).await;
    assert_eq!(third.body["cache"], "hit");
    assert_eq!(third.body["enriched_at"], first.body["enriched_at"]);
    let metrics = replica.metrics().await;
    assert!(metrics.contains(r#"enrichd_cache_lookups_total{result="hit",tier="redis"} 1"#));
}

#[tokio::test]
async fn only_the_user_id_is_enough_to_read_a_cached_profile() {
    let app = TestAppBuilder::new().spawn().await;
    app.enrich(known_subject("u-8")).await;

    let answer = app.enrich(json!({"user_id": "u-8"})).await;

    assert_eq!(answer.body["cache"], "hit");
}

#[tokio::test]
async fn new_identifiers_trigger_a_fresh_enrichment_that_keeps_the_old_ones() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(ResponseTemplate::new(404).set_body_string(r#"{"message":"Not Found"}"#))
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .spawn()
        .await;
    app.enrich(json!({"user_id": "u-9", "email": "bcooper@biglytics.net"}))
        .await;

    let answer = app
        .enrich(json!({"user_id": "u-9", "handles": {"github": "someone"}}))
        .await;

    assert_eq!(answer.body["cache"], "miss");
    // HubSpot was asked again with the remembered email.
    assert_eq!(source(&answer.body, "hubspot")["status"], "ok");
    assert_eq!(source(&answer.body, "github")["status"], "not_found");
}

#[tokio::test]
async fn refresh_bypasses_the_cache_and_asks_upstream_again() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/octocat$"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            include_str!("../../connectors/github/fixtures/user-octocat.json"),
            "application/json",
        ))
        .expect(2)
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .spawn()
        .await;
    let subject = json!({"user_id": "u-10", "handles": {"github": "octocat"}});
    app.enrich(subject.clone()).await;

    let mut refreshed = subject.clone();
    refreshed["refresh"] = json!(true);
    let answer = app.enrich(refreshed).await;

    assert_eq!(answer.body["cache"], "bypass");
    assert_eq!(source(&answer.body, "github")["status"], "ok");
    // `expect(2)` is verified when the mock server drops.
}

#[tokio::test]
async fn a_connector_missing_its_identifier_is_skipped_not_called() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let answer = app
        .enrich(json!({"user_id": "u-11", "email": "bcooper@biglytics.net"}))
        .await;

    assert_eq!(answer.status, 200);
    assert_eq!(source(&answer.body, "github")["status"], "skipped");
    assert_eq!(answer.body["partial"], false);
}

#[tokio::test]
async fn a_stalled_upstream_times_out_and_the_answer_is_partial_within_the_deadline() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .deadline_ms(300)
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let started = Instant::now();
    let answer = app.enrich(known_subject("u-12")).await;
    let elapsed = started.elapsed();

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["partial"], true);
    assert_eq!(source(&answer.body, "github")["status"], "timeout");
    assert_eq!(source(&answer.body, "hubspot")["status"], "ok");
    assert_eq!(answer.body["profile"]["identity"]["name"], "Bryan Cooper");
    // Generous slack for a shared CI machine; the benchmark measures the real overhead.
    assert!(
        elapsed < Duration::from_millis(1300),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_request_timeout_shortens_the_deadline_and_a_connector_timeout_applies_alone() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .deadline_ms(5_000)
        .upstream_with_timeout("github", &github.uri(), 200)
        .spawn()
        .await;

    let started = Instant::now();
    let mut subject = known_subject("u-13");
    subject["timeout_ms"] = json!(4_000);
    let answer = app.enrich(subject).await;

    assert_eq!(source(&answer.body, "github")["status"], "timeout");
    assert!(
        started.elapsed() < Duration::from_millis(3_000),
        "the 200 ms connector timeout must cut the call"
    );
}

#[tokio::test]
async fn every_source_failing_is_a_502_listing_them() {
    let failing = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&failing)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &failing.uri())
        .upstream("hubspot", &failing.uri())
        .spawn()
        .await;

    let answer = app.enrich(known_subject("u-14")).await;

    assert_eq!(answer.status, 502);
    assert_eq!(answer.body["error"]["code"], "all_sources_failed");
    let sources = answer.body["error"]["details"]["sources"]
        .as_array()
        .unwrap();
    assert_eq!(sources.len(), 2);
    assert!(sources.iter().all(|s| s["status"] == "error"));
    // Nothing is cached from a failure.
    assert_eq!(app.get_profile("u-14").await.status, 404);
    assert!(
        app.metrics()
            .await
            .contains(r#"enrichd_enrichments_total{outcome="failed"} 1"#)
    );
}

#[tokio::test]
async fn a_malformed_or_huge_upstream_answer_fails_only_that_source() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/broken$"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{\"login\": ", "application/json"))
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/huge$"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(vec![b' '; 3 * 1024 * 1024], "application/json"),
        )
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .spawn()
        .await;

    for login in ["broken", "huge"] {
        let answer = app
            .enrich(json!({"user_id": format!("u-{login}"), "email": "bcooper@biglytics.net", "handles": {"github": login}}))
            .await;
        assert_eq!(answer.status, 200, "{login}: {}", answer.body);
        let github = source(&answer.body, "github");
        assert_eq!(github["status"], "error", "{login}");
        assert!(
            github["error"]
                .as_str()
                .unwrap()
                .starts_with("bad_response"),
            "{github}"
        );
        assert_eq!(answer.body["partial"], true);
        assert_eq!(answer.body["profile"]["identity"]["name"], "Bryan Cooper");
    }
}

#[tokio::test]
async fn naming_connectors_limits_the_fan_out_and_bypasses_the_shared_profile() {
    let hubspot = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&hubspot)
        .await;
    let app = TestAppBuilder::new()
        .upstream("hubspot", &hubspot.uri())
        .spawn()
        .await;

    let mut subject = known_subject("u-15");
    subject["connectors"] = json!(["github"]);
    let answer = app.enrich(subject).await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["cache"], "bypass");
    assert_eq!(answer.body["sources"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get_profile("u-15").await.status,
        404,
        "a partial view is not cached"
    );
}

#[tokio::test]
async fn a_batch_answers_each_subject_in_order() {
    let app = TestAppBuilder::new().spawn().await;

    let answer = app
        .send(
            app.client
                .post(app.url("/v1/enrich/batch"))
                .json(&json!({"subjects": [
                    known_subject("b-1"),
                    {"user_id": "b-2", "email": "not-an-email"},
                    {"user_id": "b-3", "handles": {"github": "octocat"}},
                    {"user_id": "b 4"},
                    {"user_id": "b-5", "surprise": true},
                ]})),
        )
        .await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    let results = answer.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert_eq!(results[0]["profile"]["identity"]["name"], "Bryan Cooper");
    assert_eq!(results[1]["user_id"], "b-2");
    assert_eq!(results[1]["error"]["details"]["field"], "email");
    assert_eq!(
        results[2]["profile"]["identity"]["handles"]["github"],
        "octocat"
    );
    assert_eq!(results[3]["error"]["details"]["field"], "user_id");
    assert_eq!(results[4]["error"]["details"]["field"], "surprise");
}

#[tokio::test]
async fn the_in_process_cache_serves_hits_without_redis() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    app.enrich(known_subject("u-16")).await;

    let answer = app.enrich(known_subject("u-16")).await;

    assert_eq!(answer.body["cache"], "hit");
    assert!(
        app.metrics()
            .await
            .contains(r#"enrichd_cache_lookups_total{result="hit",tier="local"} 1"#)
    );
}

#[tokio::test]
async fn a_partial_profile_stays_fresh_only_for_the_error_ttl() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .cache("ttl_seconds: 3600, error_ttl_seconds: 7, stale_seconds: 100")
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let answer = app.enrich(known_subject("u-17")).await;

    assert_eq!(answer.body["partial"], true);
    app.wait_for_profile_in_redis("u-17").await;
    let (fresh_until, keep_until) = app.stored_entry("u-17").unwrap().profile_times().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        fresh_until <= now + 7_000 && fresh_until > now,
        "fresh for the error TTL only"
    );
    let kept_ms = keep_until - now;
    assert!(
        (100_000..=107_000).contains(&kept_ms),
        "kept for the error TTL plus the stale window: {kept_ms}"
    );
    let entry_ms: i64 = redis::cmd("PTTL")
        .arg(app.profile_key("u-17"))
        .query(&mut app.redis().connection())
        .unwrap();
    assert!(
        entry_ms >= kept_ms as i64 - 1_000,
        "the entry lasts at least as long as its profile: {entry_ms}"
    );
}

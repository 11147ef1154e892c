//! Fault injection (PRODUCT.md §7): coalescing, retries, Retry-After, circuit breakers, rate
//! limits, stale-while-revalidate, negative and per-source caching, late answers, two cache
//! tiers across replicas, and Redis outages — counting the calls upstreams really receive.

use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::helpers::{
    TestAppBuilder, eventually, github_answering, github_calls as calls, github_only,
    known_subject, octocat, source,
};

#[tokio::test]
async fn a_hundred_identical_requests_cause_one_call_per_connector() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(300))).await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let requests = (0..100).map(|_| app.enrich(github_only("herd-1")));
    let answers = futures_util::future::join_all(requests).await;

    assert!(answers.iter().all(|a| a.status == 200));
    assert!(
        answers
            .iter()
            .all(|a| a.body["profile"]["identity"]["name"] == "monalisa octocat")
    );
    assert_eq!(calls(&github).await, 1, "exactly one upstream call");
    let metrics = app.metrics().await;
    let joined: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("enrichd_coalesced_requests_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(
        joined >= 90,
        "most requests joined the one in flight: {joined}"
    );
}

#[tokio::test]
async fn retryable_failures_are_retried_with_backoff_and_counted() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(octocat())
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .connector_options("retry: {max_attempts: 3, initial_backoff_ms: 10, max_backoff_ms: 20}")
        .spawn()
        .await;

    let answer = app.enrich(github_only("retry-1")).await;

    assert_eq!(
        source(&answer.body, "github")["status"],
        "ok",
        "{}",
        answer.body
    );
    assert_eq!(calls(&github).await, 3);
    assert!(
        app.metrics()
            .await
            .contains(r#"enrichd_connector_retries_total{connector="github"} 2"#)
    );
}

#[tokio::test]
async fn definite_failures_are_not_retried_and_retries_stop_at_the_deadline() {
    let refused = github_answering(ResponseTemplate::new(401)).await;
    let app = TestAppBuilder::new()
        .upstream("github", &refused.uri())
        .connector_options("retry: {max_attempts: 5, initial_backoff_ms: 10, max_backoff_ms: 20}")
        .spawn()
        .await;
    app.enrich(github_only("retry-2")).await;
    assert_eq!(calls(&refused).await, 1, "a 401 is not retried");

    let failing = github_answering(ResponseTemplate::new(503)).await;
    let slow_backoff = TestAppBuilder::new()
        .deadline_ms(300)
        .upstream("github", &failing.uri())
        .connector_options(
            "retry: {max_attempts: 5, initial_backoff_ms: 1000, max_backoff_ms: 2000}",
        )
        .spawn()
        .await;
    let started = Instant::now();
    slow_backoff.enrich(github_only("retry-3")).await;
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(
        calls(&failing).await,
        1,
        "no retry would end before the deadline"
    );
}

#[tokio::test]
async fn retry_after_stops_calls_on_every_replica_until_it_passes() {
    let github =
        github_answering(ResponseTemplate::new(429).insert_header("retry-after", "30")).await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .spawn()
        .await;
    let replica = TestAppBuilder::new()
        .replica_of(&app)
        .upstream("github", &github.uri())
        .spawn()
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await; // let the replica subscribe

    let first = app.enrich(github_only("ra-1")).await;
    assert_eq!(first.status, 502);
    let report = source(&first.body["error"]["details"], "github");
    assert_eq!(report["status"], "rate_limited", "{}", first.body);
    assert_eq!(report["retry_after_ms"], 30_000);

    let mut again = github_only("ra-2");
    again["refresh"] = json!(true);
    let second = app.enrich(again.clone()).await;
    assert_eq!(
        source(&second.body["error"]["details"], "github")["status"],
        "rate_limited"
    );
    eventually("the replica learning of the wait", async || {
        let answer = replica.enrich(again.clone()).await;
        source(&answer.body["error"]["details"], "github")["status"] == "rate_limited"
            && calls(&github).await == 1
    })
    .await;
    assert_eq!(calls(&github).await, 1, "nobody called GitHub again");
}

#[tokio::test]
async fn the_circuit_opens_after_repeated_failures_and_probes_later() {
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(octocat())
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .connector_options(
            "retry: {max_attempts: 1}, circuit_breaker: {failure_threshold: 2, open_seconds: 1}",
        )
        .spawn()
        .await;
    let subject = |n: u32| json!({"user_id": format!("cb-{n}"), "email": "bcooper@biglytics.net", "handles": {"github": "octocat"}});

    app.enrich(subject(1)).await;
    app.enrich(subject(2)).await;
    let third = app.enrich(subject(3)).await;

    assert_eq!(source(&third.body, "github")["status"], "circuit_open");
    assert_eq!(calls(&github).await, 2, "an open circuit does not call");
    assert!(
        app.metrics()
            .await
            .contains(r#"enrichd_connector_circuit_open{connector="github"} 1"#)
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let probe = app.enrich(subject(4)).await;
    assert_eq!(
        source(&probe.body, "github")["status"],
        "ok",
        "the probe succeeds and closes it"
    );
    let after = app.enrich(subject(5)).await;
    assert_eq!(source(&after.body, "github")["status"], "ok");
    assert!(
        app.metrics()
            .await
            .contains(r#"enrichd_connector_circuit_open{connector="github"} 0"#)
    );
}

#[tokio::test]
async fn a_local_rate_limit_refuses_calls_beyond_it_without_waiting() {
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .without_redis()
        .upstream("github", &github.uri())
        .connector_options(
            "retry: {max_attempts: 1}, rate_limit: {requests: 2, per_seconds: 60, scope: local}",
        )
        .spawn()
        .await;

    for n in 0..2 {
        let answer = app.enrich(github_only(&format!("rl-{n}"))).await;
        assert_eq!(source(&answer.body, "github")["status"], "ok");
    }
    let started = Instant::now();
    let third = app.enrich(github_only("rl-3")).await;

    assert_eq!(third.status, 502);
    assert_eq!(
        source(&third.body["error"]["details"], "github")["status"],
        "rate_limited"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused at once"
    );
    assert_eq!(calls(&github).await, 2);
}

#[tokio::test]
async fn a_cluster_rate_limit_is_shared_by_every_replica() {
    let github = github_answering(octocat()).await;
    let options =
        "retry: {max_attempts: 1}, rate_limit: {requests: 2, per_seconds: 60, scope: cluster}";
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .connector_options(options)
        .spawn()
        .await;
    let replica = TestAppBuilder::new()
        .replica_of(&app)
        .upstream("github", &github.uri())
        .connector_options(options)
        .spawn()
        .await;

    app.enrich(github_only("crl-1")).await;
    replica.enrich(github_only("crl-2")).await;
    let third = app.enrich(github_only("crl-3")).await;
    let fourth = replica.enrich(github_only("crl-4")).await;

    for answer in [&third, &fourth] {
        assert_eq!(
            source(&answer.body["error"]["details"], "github")["status"],
            "rate_limited"
        );
    }
    assert_eq!(
        calls(&github).await,
        2,
        "two calls in the window, across both replicas"
    );
}

#[tokio::test]
async fn a_stale_profile_is_served_at_once_and_refreshed_once_in_the_background() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(100))).await;
    let app = TestAppBuilder::new()
        .cache("ttl_seconds: 1, stale_seconds: 60")
        .upstream("github", &github.uri())
        .connector_options("retry: {max_attempts: 1}, ttl_seconds: 1")
        .spawn()
        .await;
    let first = app.enrich(github_only("swr-1")).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let stale =
        futures_util::future::join_all((0..5).map(|_| app.enrich(github_only("swr-1")))).await;

    assert!(stale.iter().all(|a| a.body["cache"] == "stale"));
    assert!(
        stale
            .iter()
            .all(|a| a.body["enriched_at"] == first.body["enriched_at"])
    );
    eventually("the background refresh", async || {
        app.get_profile("swr-1").await.body["cache"] == "hit"
    })
    .await;
    assert_eq!(
        calls(&github).await,
        2,
        "one call, then one refresh for five stale reads"
    );
}

#[tokio::test]
async fn nobody_knowing_a_user_is_remembered_for_the_negative_ttl() {
    let github =
        github_answering(ResponseTemplate::new(404).set_body_string(r#"{"message":"Not Found"}"#))
            .await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let first = app
        .enrich(json!({"user_id": "neg-1", "handles": {"github": "ghost"}}))
        .await;
    let second = app
        .enrich(json!({"user_id": "neg-1", "handles": {"github": "ghost"}}))
        .await;

    assert_eq!(first.status, 200);
    assert_eq!(source(&first.body, "github")["status"], "not_found");
    assert_eq!(second.body["cache"], "hit");
    assert_eq!(calls(&github).await, 1);
    app.wait_for_profile_in_redis("neg-1").await;
    let (fresh_until, _) = app.stored_entry("neg-1").unwrap().profile_times().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(
        fresh_until <= now + 300_000,
        "fresh for negative_ttl_seconds (300 s) only"
    );
}

#[tokio::test]
async fn after_a_partial_answer_only_the_failed_source_is_asked_again() {
    let hubspot = MockServer::start().await;
    let contact = include_str!("../../connectors/hubspot/fixtures/contact-by-email.json");
    Mock::given(method("GET"))
        .and(path_regex("^/crm/v3/objects/contacts/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(contact, "application/json"))
        .mount(&hubspot)
        .await;
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&github)
        .await;
    Mock::given(method("GET"))
        .respond_with(octocat())
        .mount(&github)
        .await;
    let app = TestAppBuilder::new()
        .cache("error_ttl_seconds: 1")
        .upstream("hubspot", &hubspot.uri())
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let first = app.enrich(known_subject("ps-1")).await;
    assert_eq!(first.body["partial"], true);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Served stale at once; the background refresh asks only GitHub.
    assert_eq!(
        app.enrich(known_subject("ps-1")).await.body["cache"],
        "stale"
    );
    eventually("the refreshed profile", async || {
        app.get_profile("ps-1").await.body["partial"] == false
    })
    .await;
    let second = app.get_profile("ps-1").await;

    assert_eq!(second.body["partial"], false, "{}", second.body);
    assert_eq!(source(&second.body, "github")["status"], "ok");
    assert_eq!(source(&second.body, "hubspot")["status"], "ok");
    assert_eq!(
        hubspot.received_requests().await.unwrap().len(),
        1,
        "HubSpot's answer was reused"
    );
    assert_eq!(github.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_late_answer_is_merged_into_the_cached_profile() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(400))).await;
    let app = TestAppBuilder::new()
        .deadline_ms(150)
        .upstream_with_timeout("github", &github.uri(), 2_000)
        .spawn()
        .await;

    let first = app.enrich(known_subject("late-1")).await;
    assert_eq!(source(&first.body, "github")["status"], "timeout");
    assert_eq!(first.body["partial"], true);

    eventually("the late GitHub answer in the cache", async || {
        let cached = app.get_profile("late-1").await;
        cached.body["profile"]["identity"]["handles"]["github"] == "octocat"
    })
    .await;
    let cached = app.get_profile("late-1").await;
    assert_eq!(source(&cached.body, "github")["status"], "ok");
    assert_eq!(cached.body["partial"], false);
    assert_eq!(calls(&github).await, 1);
    // The late writes merged into what the first ones wrote: every answer is in the entry.
    eventually("GitHub's late answer in the entry", async || {
        app.stored_entry("late-1")
            .is_some_and(|entry| entry.source("github").is_some())
    })
    .await;
    let entry = app.stored_entry("late-1").unwrap();
    assert!(
        entry.source("hubspot").is_some(),
        "the first writes' answers are kept"
    );
}

#[tokio::test]
async fn delete_and_refresh_reach_the_in_process_tier_of_every_replica() {
    let app = TestAppBuilder::new().spawn().await;
    let replica = TestAppBuilder::new().replica_of(&app).spawn().await;
    tokio::time::sleep(Duration::from_millis(200)).await; // let both subscribe
    let first = app.enrich(known_subject("tier-1")).await;
    app.wait_for_profile_in_redis("tier-1").await;
    assert_eq!(replica.get_profile("tier-1").await.body["cache"], "hit"); // now in its tier too

    // `enriched_at` counts seconds: a second on, the refreshed profile tells apart.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let refreshed = app.get("/v1/profiles/tier-1?refresh=true").await;
    assert_ne!(refreshed.body["enriched_at"], json!(null));
    assert_ne!(refreshed.body["enriched_at"], first.body["enriched_at"]);
    eventually("the replica seeing the refresh", async || {
        replica.get_profile("tier-1").await.body["enriched_at"] == refreshed.body["enriched_at"]
    })
    .await;

    assert_eq!(app.delete_profile("tier-1").await.status, 204);
    eventually("the replica forgetting the user", async || {
        replica.get_profile("tier-1").await.status == 404
    })
    .await;
}

#[tokio::test]
async fn a_redis_outage_degrades_and_recovers_by_itself() {
    let mut app = TestAppBuilder::new().spawn().await;
    app.redis.as_mut().unwrap().kill();

    let during = app.enrich(known_subject("out-1")).await;
    assert_eq!(during.status, 200);
    assert_eq!(during.body["profile"]["identity"]["name"], "Bryan Cooper");
    assert_eq!(app.get("/readyz").await.body["status"], "degraded");
    // Served again from the in-process tier.
    assert_eq!(
        app.enrich(known_subject("out-1")).await.body["cache"],
        "hit"
    );

    app.redis.as_mut().unwrap().restart();
    eventually("readiness recovering", async || {
        app.get("/readyz").await.body["status"] == "ready"
    })
    .await;
    let after = app.enrich(known_subject("out-2")).await;
    assert_eq!(after.status, 200);
    // Writes reach Redis again after it recovers (they follow the answer: wait for them).
    app.wait_for_profile_in_redis("out-2").await;
}

#[tokio::test]
async fn replicas_take_turns_through_the_redis_lock_for_one_cold_user() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(300))).await;
    let app = TestAppBuilder::new()
        .deadline_ms(3000)
        .upstream_with_timeout("github", &github.uri(), 2000)
        .spawn()
        .await;
    let replica = TestAppBuilder::new()
        .replica_of(&app)
        .deadline_ms(3000)
        .upstream_with_timeout("github", &github.uri(), 2000)
        .spawn()
        .await;

    let (first, (second, waited)) = tokio::join!(app.enrich(github_only("lock-1")), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = Instant::now();
        (
            replica.enrich(github_only("lock-1")).await,
            started.elapsed(),
        )
    });

    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200);
    assert_eq!(
        second.body["enriched_at"], first.body["enriched_at"],
        "the replica waited for the first's profile"
    );
    // Woken by the first's announcement of the user's first profile (which goes out because
    // the replica said it waits), not by the end of its wait, half its 3 s deadline.
    assert!(
        waited < Duration::from_millis(1200),
        "the waiting replica was answered after {waited:?}"
    );
    assert_eq!(
        calls(&github).await,
        1,
        "one upstream call across both replicas"
    );
}

/// The events the replicas of `app` publish, as they arrive (payloads), from now on.
async fn events_of(app: &crate::helpers::TestApp) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    use futures_util::StreamExt;
    let client = redis::Client::open(app.redis().url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(format!("{}events", app.prefix))
        .await
        .unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        let mut messages = pubsub.on_message();
        while let Some(message) = messages.next().await {
            let payload: String = message.get_payload().unwrap();
            kept.lock().unwrap().push(payload);
        }
    });
    seen
}

#[tokio::test]
async fn a_first_profile_is_announced_only_when_a_replica_waits_and_a_new_one_always() {
    let app = TestAppBuilder::new().spawn().await;
    let events = events_of(&app).await;
    let about = |user: &str| {
        let needle = format!("\"user_id\":\"{user}\"");
        events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.contains(&needle))
            .count()
    };

    assert_eq!(app.enrich(known_subject("news-1")).await.status, 200);
    app.wait_for_profile_in_redis("news-1").await;
    // Nobody else can hold a copy of a profile that was not there, and nobody waited.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        about("news-1"),
        0,
        "a first profile nobody awaited is not announced"
    );

    // A refresh replaces it: every other replica's copy must go.
    let refreshed = app.get("/v1/profiles/news-1?refresh=true").await;
    assert_eq!(refreshed.status, 200);
    eventually("the refresh announced", async || about("news-1") == 1).await;
}

#[tokio::test]
async fn writes_go_on_after_redis_forgets_its_scripts() {
    let app = TestAppBuilder::new().spawn().await;
    assert_eq!(app.enrich(known_subject("flush-1")).await.status, 200);
    app.wait_for_profile_in_redis("flush-1").await;

    // As after a restart without persistence: EVALSHA answers NOSCRIPT, nothing is written,
    // and the script is sent again whole.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut app.redis().connection())
        .unwrap();
    assert_eq!(app.enrich(known_subject("flush-2")).await.status, 200);
    app.wait_for_profile_in_redis("flush-2").await;
    let entry = app.stored_entry("flush-2").expect("the entry was written");
    assert!(entry.source("github").is_some());
}

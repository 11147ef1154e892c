//! Erasure that holds (PRODUCT.md §8): after `DELETE` answers 204 nothing about the user comes
//! back — not a late connector answer, a write still queued, a refresh in flight, nor a write
//! of another replica — and every key carrying the user's hash tag is gone, also those of
//! connectors no longer configured.

use std::time::Duration;

use serde_json::json;
use wiremock::MockServer;

use crate::helpers::{TestApp, TestAppBuilder, github_answering, known_subject, octocat, source};

/// A GitHub stand-in answering octocat after `delay`.
async fn slow_github(delay: Duration) -> MockServer {
    github_answering(octocat().set_delay(delay)).await
}

/// What is left in Redis about `user_id`: every key with its hash tag except the erasure fence
/// (which holds no data about the user and expires on its own).
fn left_in_redis(app: &TestApp, user_id: &str) -> Vec<String> {
    let fence = format!("{}{{{user_id}}}:erased", app.prefix);
    app.keys_of(user_id)
        .into_iter()
        .filter(|key| *key != fence)
        .collect()
}

#[tokio::test]
async fn a_late_connector_answer_does_not_bring_an_erased_user_back() {
    // GitHub answers after the deadline; its call goes on in the background and its answer
    // would be merged into the cache when it lands.
    let github = slow_github(Duration::from_millis(500)).await;
    let app = TestAppBuilder::new()
        .deadline_ms(150)
        .upstream_with_timeout("github", &github.uri(), 3000)
        .spawn()
        .await;
    let first = app.enrich(known_subject("late-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(source(&first.body, "github")["status"], "timeout");

    assert_eq!(app.delete_profile("late-1").await.status, 204);
    tokio::time::sleep(Duration::from_millis(900)).await;

    assert_eq!(github.received_requests().await.unwrap().len(), 1);
    assert_eq!(app.get_profile("late-1").await.status, 404);
    assert_eq!(left_in_redis(&app, "late-1"), Vec::<String>::new());
}

#[tokio::test]
async fn an_erasure_on_one_replica_fences_the_writes_of_another() {
    let github = slow_github(Duration::from_millis(500)).await;
    let app = TestAppBuilder::new()
        .deadline_ms(150)
        .upstream_with_timeout("github", &github.uri(), 3000)
        .spawn()
        .await;
    let replica = TestAppBuilder::new()
        .replica_of(&app)
        .deadline_ms(150)
        .upstream_with_timeout("github", &github.uri(), 3000)
        .spawn()
        .await;
    tokio::time::sleep(Duration::from_millis(200)).await; // let the replicas subscribe
    assert_eq!(replica.enrich(known_subject("late-2")).await.status, 200);

    assert_eq!(app.delete_profile("late-2").await.status, 204);
    tokio::time::sleep(Duration::from_millis(900)).await;

    assert_eq!(replica.get_profile("late-2").await.status, 404);
    assert_eq!(app.get_profile("late-2").await.status, 404);
    assert_eq!(left_in_redis(&app, "late-2"), Vec::<String>::new());
}

#[tokio::test]
async fn an_erasure_without_redis_fences_late_answers_too() {
    let github = slow_github(Duration::from_millis(400)).await;
    let app = TestAppBuilder::new()
        .without_redis()
        .deadline_ms(150)
        .upstream_with_timeout("github", &github.uri(), 3000)
        .spawn()
        .await;
    assert_eq!(app.enrich(known_subject("late-3")).await.status, 200);

    assert_eq!(app.delete_profile("late-3").await.status, 204);
    tokio::time::sleep(Duration::from_millis(800)).await;

    assert_eq!(app.get_profile("late-3").await.status, 404);
    // Nor do the per-source answers come back: an enrichment now asks GitHub again.
    let again = app.enrich(known_subject("late-3")).await;
    assert_eq!(again.status, 200);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(github.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn enrichment_after_an_erasure_is_cached_again() {
    // The fence stops what started before the erasure, not what starts after it.
    let app = TestAppBuilder::new().spawn().await;
    app.enrich(known_subject("after-1")).await;
    app.wait_for_profile_in_redis("after-1").await;
    assert_eq!(app.delete_profile("after-1").await.status, 204);

    let again = app.enrich(known_subject("after-1")).await;

    assert_eq!(again.status, 200);
    assert_eq!(again.body["cache"], "miss");
    app.wait_for_profile_in_redis("after-1").await;
    let replica = TestAppBuilder::new().replica_of(&app).spawn().await;
    assert_eq!(replica.get_profile("after-1").await.body["cache"], "hit");
}

#[tokio::test]
async fn delete_erases_the_keys_of_connectors_no_longer_configured() {
    let app = TestAppBuilder::new().spawn().await;
    app.enrich(known_subject("gone-1")).await;
    app.wait_for_profile_in_redis("gone-1").await;
    assert!(
        app.stored_entry("gone-1")
            .unwrap()
            .source("github")
            .is_some()
    );
    // And GitHub's answer as the layout before entries kept it: a key named in an index.
    let mut redis = app.redis().connection();
    redis::cmd("SET")
        .arg(format!("{}{{gone-1}}:source:github", app.prefix))
        .arg("{}")
        .query::<()>(&mut redis)
        .unwrap();
    redis::cmd("SADD")
        .arg(format!("{}{{gone-1}}:sources", app.prefix))
        .arg("github")
        .query::<()>(&mut redis)
        .unwrap();
    // A replica (or a later version of the configuration) without the GitHub connector.
    let without_github = TestAppBuilder::new()
        .replica_of(&app)
        .without_upstream("github")
        .spawn()
        .await;

    assert_eq!(without_github.delete_profile("gone-1").await.status, 204);

    assert_eq!(left_in_redis(&app, "gone-1"), Vec::<String>::new());
}

#[tokio::test]
async fn a_stale_refresh_in_flight_does_not_outlive_an_erasure() {
    let github = slow_github(Duration::from_millis(300)).await;
    let app = TestAppBuilder::new()
        .cache("ttl_seconds: 1")
        .deadline_ms(800)
        .upstream("github", &github.uri())
        .spawn()
        .await;
    let subject = json!({"user_id": "swr-1", "handles": {"github": "octocat"}});
    assert_eq!(app.enrich(subject.clone()).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // Served stale; a background refresh starts and answers after 300 ms.
    assert_eq!(app.enrich(subject).await.body["cache"], "stale");

    assert_eq!(app.delete_profile("swr-1").await.status, 204);
    tokio::time::sleep(Duration::from_millis(700)).await;

    assert_eq!(app.get_profile("swr-1").await.status, 404);
    assert_eq!(left_in_redis(&app, "swr-1"), Vec::<String>::new());
}

#[tokio::test]
async fn writes_find_the_fence_in_redis_even_when_the_erasure_event_is_lost() {
    // Another replica's erasure whose event never arrived: only the fence key in Redis tells.
    use enrichd::{
        cache::{CachedProfile, CachedSource, NewProfile, Packed, SourceToStore},
        coordination::LockOutcome,
        domain::UserKey,
        enrichment::profile::SourceStatus,
    };
    let app = TestAppBuilder::new().spawn().await;
    let cache = &app.state.cache;
    let (lost_1, lost_2) = (UserKey::of_default("lost-1"), UserKey::of_default("lost-2"));
    let mut fence = cache.fence(&lost_1);
    let claimed = cache
        .claim(&mut fence, &lost_1, Duration::from_secs(5), &["github"])
        .await;
    let (lock, mut stored) = (claimed.lock, claimed.stored);
    let LockOutcome::Acquired(token) = lock else {
        panic!("the lock was not taken: {lock:?}");
    };
    redis::cmd("SET")
        .arg(format!("{}{{lost-1}}:erased", app.prefix))
        .arg("another-replicas-erasure")
        .query::<()>(&mut app.redis().connection())
        .unwrap();
    let profile = CachedProfile {
        body: bytes::Bytes::from_static(br#"{"user_id": "lost-1"}"#),
        fresh_until_ms: u64::MAX / 2,
        subject: bytes::Bytes::from_static(br#"{"user_id": "lost-1"}"#),
    };
    let source = CachedSource {
        status: SourceStatus::NotFound,
        enrichment: None,
        confidence: 0.5,
        fetched_at_ms: 1,
        fresh_until_ms: u64::MAX / 2,
        identifiers: "octocat".into(),
    };

    cache
        .write_back(
            &fence,
            &lost_1,
            &mut stored,
            vec![SourceToStore::of(
                "github",
                &source,
                Duration::from_secs(60),
            )],
            Some(NewProfile {
                profile: &profile,
                packed: &Packed::pack(&profile),
                keep_for: Duration::from_secs(60),
            }),
            Some(&token),
        )
        .await;

    assert_eq!(left_in_redis(&app, "lost-1"), Vec::<String>::new());
    assert_eq!(app.get_profile("lost-1").await.status, 404);
    // The same writes with the fence as read land, and release the lock.
    let mut fresh = cache.fence(&lost_2);
    let claimed = cache
        .claim(&mut fresh, &lost_2, Duration::from_secs(5), &[])
        .await;
    let (lock, mut stored) = (claimed.lock, claimed.stored);
    let LockOutcome::Acquired(token) = lock else {
        panic!("the lock was not taken: {lock:?}");
    };
    cache
        .write_back(
            &fresh,
            &lost_2,
            &mut stored,
            Vec::new(),
            Some(NewProfile {
                profile: &profile,
                packed: &Packed::pack(&profile),
                keep_for: Duration::from_secs(60),
            }),
            Some(&token),
        )
        .await;
    assert_eq!(
        left_in_redis(&app, "lost-2"),
        [format!("{}{{lost-2}}:entry", app.prefix)]
    );
}

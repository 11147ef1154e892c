//! enrichd on a real three-master Redis Cluster: enrichment, reads, erasure, shared rate limits
//! and pub/sub invalidation between replicas — every user's keys in one slot.

use redis::Commands;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::helpers::{RedisCluster, TestApp, TestAppBuilder, eventually, known_subject, source};

fn prefix() -> String {
    format!("c{}:", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

async fn on(cluster: &RedisCluster, prefix: &str) -> TestApp {
    TestAppBuilder::new().cluster(cluster, prefix).spawn().await
}

#[tokio::test]
async fn profiles_are_stored_read_and_erased_through_the_cluster() {
    let cluster = RedisCluster::start();
    let prefix = prefix();
    let app = on(&cluster, &prefix).await;
    let replica = on(&cluster, &prefix).await;

    let first = app.enrich(known_subject("cl-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.body["profile"]["identity"]["name"], "Bryan Cooper");

    let mut redis = cluster.connection();
    let profile_key = format!("{prefix}{{cl-1}}:entry");
    let fence_key = format!("{prefix}{{cl-1}}:erased");
    // The writes follow the answer: the entry holds the profile and the sources.
    eventually("the profile reaching the cluster", async || {
        redis.exists::<_, bool>(&profile_key).unwrap()
    })
    .await;
    let entry: Vec<u8> = redis.get(&profile_key).unwrap();
    let entry = enrichd::cache::Stored::decode(&entry).unwrap();
    assert!(entry.source("github").is_some(), "GitHub's answer is kept");
    let slot = |key: &str| -> i64 {
        redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(key)
            .query(&mut cluster.connection())
            .unwrap()
    };
    assert_eq!(
        slot(&profile_key),
        slot(&fence_key),
        "a user's keys share a slot"
    );

    // Another replica reads it from the cluster.
    let read = replica.get_profile("cl-1").await;
    assert_eq!(read.body["cache"], "hit");
    assert_eq!(read.body["enriched_at"], first.body["enriched_at"]);
    assert_eq!(replica.get("/readyz").await.body["checks"]["cache"], "ok");

    // A refresh replaces it: the event its writes' script publishes on the node of the
    // user's slot reaches the replica, whichever node it listens on. (`enriched_at` counts
    // seconds: a second on, the two profiles tell apart.)
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let refreshed = app.get("/v1/profiles/cl-1?refresh=true").await;
    assert_eq!(refreshed.status, 200);
    assert_ne!(refreshed.body["enriched_at"], first.body["enriched_at"]);
    eventually("the replica seeing the refresh", async || {
        replica.get_profile("cl-1").await.body["enriched_at"] == refreshed.body["enriched_at"]
    })
    .await;

    assert_eq!(app.delete_profile("cl-1").await.status, 204);
    assert!(!redis.exists::<_, bool>(&profile_key).unwrap());
    assert!(redis.exists::<_, bool>(&fence_key).unwrap());
    eventually("the replica forgetting the user", async || {
        replica.get_profile("cl-1").await.status == 404
    })
    .await;
}

#[tokio::test]
async fn cluster_rate_limits_hold_across_replicas() {
    let cluster = RedisCluster::start();
    let prefix = prefix();
    let github = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/users/"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            include_str!("../../connectors/github/fixtures/user-octocat.json"),
            "application/json",
        ))
        .mount(&github)
        .await;
    let options =
        "retry: {max_attempts: 1}, rate_limit: {requests: 2, per_seconds: 60, scope: cluster}";
    let app = TestAppBuilder::new()
        .cluster(&cluster, &prefix)
        .upstream("github", &github.uri())
        .connector_options(options)
        .spawn()
        .await;
    let replica = TestAppBuilder::new()
        .cluster(&cluster, &prefix)
        .upstream("github", &github.uri())
        .connector_options(options)
        .spawn()
        .await;

    let subject = |id: &str| json!({"user_id": id, "handles": {"github": "octocat"}});
    app.enrich(subject("rl-a")).await;
    replica.enrich(subject("rl-b")).await;
    let third = app.enrich(subject("rl-c")).await;

    assert_eq!(
        source(&third.body["error"]["details"], "github")["status"],
        "rate_limited"
    );
    let calls = github.received_requests().await.unwrap().len();
    assert_eq!(calls, 2, "two calls in the window, across both replicas");
}

//! `GET` and `DELETE /v1/profiles/{user_id}`.

use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

use crate::helpers::{TestAppBuilder, known_subject, source};

#[tokio::test]
async fn a_cached_profile_is_read_back_as_a_hit() {
    let app = TestAppBuilder::new().spawn().await;
    let enriched = app.enrich(known_subject("p-1")).await;

    let answer = app.get_profile("p-1").await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["cache"], "hit");
    assert_eq!(answer.body["profile"], enriched.body["profile"]);
}

#[tokio::test]
async fn an_unknown_user_is_profile_not_found() {
    let app = TestAppBuilder::new().spawn().await;

    let answer = app.get_profile("nobody").await;

    assert_eq!(answer.status, 404);
    assert_eq!(answer.body["error"]["code"], "profile_not_found");
}

#[tokio::test]
async fn a_profile_past_its_ttl_is_served_stale() {
    let app = TestAppBuilder::new().spawn().await;
    app.enrich(known_subject("p-2")).await;
    app.wait_for_profile_in_redis("p-2").await;
    // Set one of the entry's times (Unix ms at `offset`: fresh_until 3, keep_until 11) to 1.
    let expire = |offset: u32| {
        redis::cmd("SETRANGE")
            .arg(app.profile_key("p-2"))
            .arg(offset)
            .arg(&1u64.to_le_bytes()[..])
            .query::<()>(&mut app.redis().connection())
            .unwrap()
    };
    // Age the profile in Redis: past its freshness, within the stale window. A replica
    // whose in-process tier does not hold it reads it from there.
    expire(3);
    let replica = TestAppBuilder::new().replica_of(&app).spawn().await;

    let answer = replica.get_profile("p-2").await;

    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["cache"], "stale");
    // Past its keeping time too, while the entry lives on for its answers: no profile.
    expire(11);
    let other = TestAppBuilder::new().replica_of(&app).spawn().await;
    assert_eq!(other.get_profile("p-2").await.status, 404);
}

#[tokio::test]
async fn refresh_re_enriches_with_the_remembered_identifiers() {
    let app = TestAppBuilder::new().spawn().await;
    let first = app.enrich(known_subject("p-3")).await;

    let answer = app.get("/v1/profiles/p-3?refresh=true").await;

    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["cache"], "bypass");
    assert_eq!(source(&answer.body, "hubspot")["status"], "ok");
    assert_eq!(source(&answer.body, "github")["status"], "ok");
    assert_eq!(answer.body["profile"], first.body["profile"]);
    assert_ne!(answer.body["enriched_at"], json!(null));
}

#[tokio::test]
async fn refresh_of_an_unknown_user_is_profile_not_found() {
    let app = TestAppBuilder::new().spawn().await;

    assert_eq!(
        app.get("/v1/profiles/nobody?refresh=true").await.status,
        404
    );
}

#[tokio::test]
async fn delete_erases_the_user_from_redis() {
    let app = TestAppBuilder::new().spawn().await;
    app.enrich(known_subject("p-4")).await;
    let key = app.profile_key("p-4");
    let exists = |app: &crate::helpers::TestApp| -> bool {
        redis::cmd("EXISTS")
            .arg(&key)
            .query(&mut app.redis().connection())
            .unwrap()
    };
    app.wait_for_profile_in_redis("p-4").await;

    let answer = app.delete_profile("p-4").await;

    assert_eq!(answer.status, 204);
    assert!(!exists(&app), "the profile key is gone from Redis");
    assert_eq!(app.get_profile("p-4").await.status, 404);
    // Deleting again is fine.
    assert_eq!(app.delete_profile("p-4").await.status, 204);
}

#[tokio::test]
async fn a_delete_right_after_an_enrichment_is_not_undone_by_its_writes() {
    // enrichd answers an enrichment before its writes to Redis are done; a DELETE sent at
    // once must wait for them, or they would bring the erased user back.
    let app = TestAppBuilder::new().spawn().await;

    assert_eq!(app.enrich(known_subject("p-4b")).await.status, 200);
    assert_eq!(app.delete_profile("p-4b").await.status, 204);

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let left = app.keys_of("p-4b");
    assert_eq!(
        left,
        [format!("{}{{p-4b}}:erased", app.prefix)],
        "only the erasure fence is left"
    );
    assert_eq!(app.get_profile("p-4b").await.status, 404);
}

#[tokio::test]
async fn delete_erases_from_the_in_process_cache_too() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    app.enrich(known_subject("p-5")).await;

    assert_eq!(app.delete_profile("p-5").await.status, 204);

    assert_eq!(app.get_profile("p-5").await.status, 404);
}

#[tokio::test]
async fn an_erasure_redis_cannot_do_is_reported_not_pretended() {
    let mut app = TestAppBuilder::new().spawn().await;
    app.enrich(known_subject("p-6")).await;
    app.redis.as_mut().unwrap().kill();

    let answer = app.delete_profile("p-6").await;

    assert_eq!(answer.status, 503);
    assert_eq!(answer.body["error"]["code"], "cache_unavailable");
}

#[tokio::test]
async fn profile_routes_validate_their_inputs() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&upstream)
        .await;
    let app = TestAppBuilder::new()
        .upstream("github", &upstream.uri())
        .spawn()
        .await;

    let bad_id = app.get("/v1/profiles/not%20valid").await;
    assert_eq!(bad_id.status, 400);
    assert_eq!(bad_id.body["error"]["details"]["field"], "user_id");

    let bad_flag = app.get("/v1/profiles/p-7?refresh=yes").await;
    assert_eq!(bad_flag.status, 400);
    assert_eq!(bad_flag.body["error"]["details"]["field"], "refresh");

    let unknown = app.get("/v1/profiles/p-7?fields=all").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["error"]["details"]["field"], "fields");

    let long = app.delete_profile(&"x".repeat(129)).await;
    assert_eq!(long.status, 400);
}

#[tokio::test]
async fn what_earlier_layouts_stored_is_still_read_and_an_entry_is_smaller() {
    use enrichd::cache::packed::pack;
    let app = TestAppBuilder::new().spawn().await;
    let first = app.enrich(known_subject("p-old")).await;
    assert_eq!(first.status, 200);
    app.wait_for_profile_in_redis("p-old").await;
    let entry = app.stored_entry("p-old").unwrap();
    let (body, subject) = entry.profile_json().unwrap();
    let (fresh_until, _) = entry.profile_times().unwrap();
    assert_eq!(entry.sources().len(), 2, "hubspot's and github's answers");
    let mut redis = app.redis().connection();
    let entry_bytes: Vec<u8> = redis::cmd("GET")
        .arg(app.profile_key("p-old"))
        .query(&mut redis)
        .unwrap();
    let in_json =
        body.len() + subject.len() + entry.sources().iter().map(|s| s.json.len()).sum::<usize>();
    assert!(
        entry_bytes.len() * 3 < in_json,
        "an entry of {} bytes vs {in_json} in JSON",
        entry_bytes.len()
    );

    // Rewrite the user as earlier versions stored them: a profile hash (the body packed, as
    // the version before entries wrote it, the subject in JSON, as the one before it), a key
    // per answer (JSON) and their index; no entry.
    let earlier = app.earlier_profile_key("p-old");
    redis::cmd("DEL")
        .arg(app.profile_key("p-old"))
        .query::<()>(&mut redis)
        .unwrap();
    redis::cmd("HSET")
        .arg(&earlier)
        .arg("body")
        .arg(pack(&body))
        .arg("fresh_until")
        .arg(fresh_until)
        .arg("subject")
        .arg(&subject)
        .query::<()>(&mut redis)
        .unwrap();
    for answer in entry.sources() {
        let key = format!("{}{{p-old}}:source:{}", app.prefix, answer.connector);
        redis::cmd("SET")
            .arg(&key)
            .arg(&answer.json)
            .arg("EX")
            .arg(600)
            .query::<()>(&mut redis)
            .unwrap();
        redis::cmd("SADD")
            .arg(format!("{}{{p-old}}:sources", app.prefix))
            .arg(&answer.connector)
            .query::<()>(&mut redis)
            .unwrap();
    }

    // A replica with nothing in process reads the profile from there.
    let replica = TestAppBuilder::new().replica_of(&app).spawn().await;
    let read = replica.get_profile("p-old").await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["profile"], first.body["profile"]);
    assert_eq!(read.body["provenance"], first.body["provenance"]);
    // A `fresh_until` that is not a number: the hash holds no profile, which is not an error.
    redis::cmd("HSET")
        .arg(&earlier)
        .arg("fresh_until")
        .arg("soon")
        .query::<()>(&mut redis)
        .unwrap();
    let garbled = TestAppBuilder::new().replica_of(&app).spawn().await;
    let absent = garbled.get_profile("p-old").await;
    assert_eq!(absent.status, 404, "{}", absent.body);
    let metrics = garbled.metrics().await;
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("enrichd_cache_lookups_total")
                && l.contains(r#"result="miss""#)
                && l.contains(r#"tier="redis""#)),
        "{metrics}"
    );
    assert!(
        !metrics.lines().any(
            |l| l.starts_with("enrichd_cache_lookups_total") && l.contains(r#"result="error""#)
        ),
        "{metrics}"
    );
    // The profile gone, the answers stand in for calls: no connector is asked again.
    redis::cmd("DEL")
        .arg(&earlier)
        .query::<()>(&mut redis)
        .unwrap();
    let other = TestAppBuilder::new().replica_of(&app).spawn().await;
    let rebuilt = other.enrich(known_subject("p-old")).await;
    assert_eq!(rebuilt.status, 200, "{}", rebuilt.body);
    assert_eq!(rebuilt.body["profile"], first.body["profile"]);
    assert!(
        !other
            .metrics()
            .await
            .contains("enrichd_connector_requests_total{"),
        "no connector was called"
    );
    // Its write replaced the earlier layout with an entry.
    crate::helpers::eventually("the entry written", async || {
        app.stored_entry("p-old")
            .is_some_and(|e| e.profile_json().is_some())
    })
    .await;
    let left = app.keys_of("p-old");
    assert_eq!(
        left,
        [app.profile_key("p-old")],
        "the earlier layout's keys are gone"
    );
    // The remembered identifiers serve a refresh.
    let refreshed = replica.get("/v1/profiles/p-old?refresh=true").await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(source(&refreshed.body, "github")["status"], "ok");
}

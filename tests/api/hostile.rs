//! Hostile and careless callers and upstreams (PRODUCT.md §8): bounded metrics, memory and
//! waits, cancel-safe coalescing, caller-chosen hosts, slow bodies, HTTP details.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path_regex},
};

use crate::helpers::{
    TestAppBuilder, eventually, github_answering, github_calls as calls, github_only,
    known_subject, octocat, raw_entry, source,
};

/// Send an enrichment of `subject` and reset the connection 50 ms later, as a caller that
/// gives up does (a reset, not a polite close: the server drops the request's handler).
async fn abandon(app: &crate::helpers::TestApp, subject: &Value) {
    let address = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let body = subject.to_string();
    let head = format!(
        "POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    stream.set_zero_linger().unwrap();
}

#[tokio::test]
async fn a_caller_who_disconnects_leaves_no_flight_behind() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(300))).await;
    let app = TestAppBuilder::new()
        .deadline_ms(600)
        .upstream("github", &github.uri())
        .spawn()
        .await;
    for i in 0..20 {
        abandon(&app, &github_only(&format!("gone-{i}"))).await;
    }
    abandon(&app, &github_only("rejoin")).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    // Every flight ended on its own: nothing is left for a later caller to inherit.
    assert_eq!(app.state.enricher.flights_in_progress(), 0);
    let answers =
        futures_util::future::join_all((0..20).map(|_| app.enrich(github_only("rejoin")))).await;
    for answer in answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(source(&answer.body, "github")["status"], "ok");
    }
}

/// A Mastodon connector calling the instances that handles name (no `base_url`).
fn direct_mastodon() -> TestAppBuilder {
    TestAppBuilder::new()
        .without_redis()
        .connector_yaml(
            "mastodon",
            "kind: mastodon, retry: {max_attempts: 1}, circuit_breaker: {failure_threshold: 2, open_seconds: 60}, settings: {}",
        )
}

#[tokio::test]
async fn handles_naming_internal_hosts_are_refused_alike_and_never_panic() {
    let app = direct_mastodon().spawn().await;
    let mut errors = Vec::new();
    for handle in [
        "u@127.0.0.0x1",
        "u@0x7f.0.0.0x1",
        "u@169.254.169.0xfe",
        "u@127.1.0x0",
        "u@a.0x1",
        "u@0177.0.0.1",
        "u@2130706433",
        "u@localhost",
        "u@intranet",
        "u@printer.local",
    ] {
        let answer = app
            .enrich(json!({"user_id": "ssrf", "handles": {"mastodon": handle}, "connectors": ["mastodon"], "refresh": true}))
            .await;
        let report = source(
            if answer.status == 200 {
                &answer.body
            } else {
                &answer.body["error"]["details"]
            },
            "mastodon",
        )
        .clone();
        assert_ne!(report["status"], "error", "{handle}: {report}");
        errors.push((handle, report["status"].clone(), report["error"].clone()));
    }
    let first = (&errors[0].1, &errors[0].2);
    for (handle, status, error) in &errors {
        assert_eq!((status, error), first, "{handle} is told apart");
    }
}

#[tokio::test]
async fn hosts_a_caller_names_cannot_open_the_circuit_for_everyone() {
    let app = direct_mastodon().spawn().await;
    for i in 0..4 {
        let handle = format!("u@unresolvable-{i}.example.com");
        app.enrich(json!({"user_id": format!("c-{i}"), "handles": {"mastodon": handle}, "connectors": ["mastodon"]}))
            .await;
    }

    let listed = app.get("/v1/connectors/mastodon").await;

    assert_eq!(listed.body["circuit"], "closed", "{}", listed.body);
    assert!(
        app.metrics()
            .await
            .lines()
            .all(|l| !l.starts_with(r#"enrichd_connector_circuit_open{connector="mastodon"} 1"#))
    );
}

#[tokio::test]
async fn a_huge_list_from_an_upstream_neither_stalls_the_service_nor_grows_the_profile() {
    let tags: Vec<String> = (0..100_000).map(|i| format!("tag-{i:06}")).collect();
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path_regex("^/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "tags": tags })))
        .mount(&upstream)
        .await;
    let host = upstream.uri().trim_start_matches("http://").to_owned();
    let app = TestAppBuilder::new()
        .without_redis()
        .workers(1)
        .deadline_ms(300)
        .connector_yaml(
            "tags",
            &format!(
                "kind: http, timeout_ms: 10000, max_response_bytes: 4000000, retry: {{max_attempts: 1}}, settings: {{requires: [user_id], allowed_hosts: [\"{host}\"], request: {{url: \"{}/tags?u={{user_id}}\"}}, mapping: {{interests: /tags}}}}",
                upstream.uri()
            ),
        )
        .spawn()
        .await;

    let started = Instant::now();
    let enrich = app.enrich(json!({"user_id": "tags-1"}));
    let probe = async {
        let mut slowest = Duration::ZERO;
        while started.elapsed() < Duration::from_millis(1500) {
            let asked = Instant::now();
            let health = app.get("/healthz").await;
            assert_eq!(health.status, 200);
            slowest = slowest.max(asked.elapsed());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slowest
    };
    let (answer, slowest_health) = tokio::join!(enrich, probe);

    assert!(
        slowest_health < Duration::from_millis(100),
        "/healthz took {slowest_health:?}"
    );
    assert!(
        answer.status == 200 || answer.status == 502,
        "{}",
        answer.body
    );
    eventually(
        "the upstream's list reaching the profile, capped",
        async || {
            let profile = app.get_profile("tags-1").await;
            profile.status == 200
                && profile.body["profile"]["interests"]
                    .as_array()
                    .unwrap()
                    .len()
                    == 200
        },
    )
    .await;
}

#[tokio::test]
async fn an_upstream_wait_is_capped_and_so_is_a_published_one() {
    let github =
        github_answering(ResponseTemplate::new(429).insert_header("retry-after", "1000000000"))
            .await;
    let app = TestAppBuilder::new()
        .enrichment("max_retry_after_seconds: 1")
        .upstream("github", &github.uri())
        .spawn()
        .await;

    let first = app.enrich(github_only("ra-1")).await;
    assert_eq!(
        source(&first.body["error"]["details"], "github")["retry_after_ms"],
        1000
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.enrich(github_only("ra-2")).await;
    assert_eq!(
        calls(&github).await,
        2,
        "GitHub is asked again after the cap"
    );

    // An event from the channel cannot block a connector for longer either.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let event = json!({"from": "elsewhere", "event": {"kind": "block", "connector": "github", "until_ms": 99_999_999_999_999u64}});
    redis::cmd("PUBLISH")
        .arg(format!("{}events", app.prefix))
        .arg(event.to_string())
        .query::<i64>(&mut app.redis().connection())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    app.enrich(github_only("ra-3")).await;
    assert_eq!(calls(&github).await, 3);
}

#[tokio::test]
async fn remembered_identifiers_stay_bounded() {
    let app = TestAppBuilder::new().spawn().await;
    for round in 0..30 {
        let handles: serde_json::Map<String, Value> = (0..32)
            .map(|i| (format!("p{round}_{i}"), json!("someone")))
            .collect();
        let answer = app
            .enrich(json!({"user_id": "many-1", "handles": handles}))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    app.wait_for_profile_in_redis("many-1").await;

    let (_, subject) = app.stored_entry("many-1").unwrap().profile_json().unwrap();

    assert!(subject.len() < 4096, "{} bytes remembered", subject.len());
}

#[tokio::test]
async fn too_many_handles_in_one_request_are_refused() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    let handles: serde_json::Map<String, Value> = (0..33)
        .map(|i| (format!("p{i}"), json!("someone")))
        .collect();

    let answer = app
        .enrich(json!({"user_id": "many-2", "handles": handles}))
        .await;

    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"]["details"]["field"], "handles");
}

#[tokio::test]
async fn a_body_that_never_arrives_is_timed_out() {
    let app = TestAppBuilder::new()
        .without_redis()
        .server("body_timeout_ms: 300")
        .spawn()
        .await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream
        .write_all(b"POST /v1/enrich HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
        .await
        .unwrap();

    let started = Instant::now();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;

    assert!(read.is_ok(), "the connection stayed open");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("request_timeout"), "{text}");
    assert!(text.to_ascii_lowercase().contains("x-request-id"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

/// A Redis that accepts connections and never answers: every command waits for its timeout.
async fn black_hole() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("redis://{}/0", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (url, task)
}

#[tokio::test]
async fn while_redis_fails_requests_stop_waiting_on_it() {
    let (url, _hole) = black_hole().await;
    let app = TestAppBuilder::new()
        .redis_url(&url)
        .cache("timeout_ms: 400")
        .spawn()
        .await;

    let started = Instant::now();
    for i in 0..12 {
        let answer = app
            .enrich(json!({"user_id": format!("down-{i}"), "handles": {"github": "octocat"}}))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }

    // Waiting on Redis twice per request would take at least 12 × 2 × 400 ms.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "12 requests took {took:?}");
    assert_eq!(app.get("/readyz").await.body["status"], "degraded");
}

#[tokio::test]
async fn stale_while_revalidate_asks_upstream_once_the_cache_ttl_has_passed() {
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .cache("ttl_seconds: 1")
        .upstream("github", &github.uri())
        .spawn()
        .await;
    app.enrich(github_only("swr-2")).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;

    let stale = app.enrich(github_only("swr-2")).await;

    assert_eq!(stale.body["cache"], "stale");
    eventually("the background refresh asking GitHub", async || {
        calls(&github).await == 2
    })
    .await;
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = TestAppBuilder::new()
        .without_redis()
        .api_key("k-1")
        .spawn()
        .await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let answer = app
            .client
            .get(app.url("/v1/profiles/nobody"))
            .header("authorization", format!("{scheme} k-1"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 404, "{scheme}");
    }
}

#[tokio::test]
async fn method_not_allowed_says_which_methods_are() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    for (verb, path, allow) in [
        (reqwest::Method::PUT, "/v1/enrich", "POST"),
        (reqwest::Method::POST, "/v1/profiles/u-1", "GET, DELETE"),
        (reqwest::Method::DELETE, "/healthz", "GET"),
    ] {
        let answer = app
            .send(app.client.request(verb.clone(), app.url(path)))
            .await;
        assert_eq!(answer.status, 405, "{verb} {path}");
        assert_eq!(
            answer.headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{verb} {path}"
        );
        assert!(answer.headers.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn requests_the_router_cannot_use_still_carry_a_request_id() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    for path in [
        "/v1/profiles/%FF",
        "/v1/profiles/%ZZ",
        "/v1/profiles/a%00b",
        "/v1/profiles/u?refresh=%FF",
        "/v1/connectors/%FF",
        "/nowhere",
    ] {
        let answer = app.get(path).await;
        assert!(answer.status >= 400, "{path}");
        assert!(answer.headers.contains_key("x-request-id"), "{path}");
        assert!(answer.body["error"]["code"].is_string(), "{path}");
    }
}

#[tokio::test]
async fn a_reload_whose_connectors_fail_to_build_counts_once_as_an_error() {
    let app = TestAppBuilder::new().admin_token("admin-1").spawn().await;
    // GitHub enabled at runtime; the file then disables it with settings that cannot work,
    // which validation lets through (disabled) but the runtime state would enable.
    let enabled = app
        .client
        .post(app.url("/v1/connectors/github/enable"))
        .bearer_auth("admin-1")
        .send()
        .await
        .unwrap();
    assert!(enabled.status().is_success());
    let file = std::env::temp_dir().join(format!("enrichd-reload-{}.yaml", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        format!(
            "cache: {{redis_url: \"{}\", key_prefix: \"{}\"}}\nconnectors:\n  github: {{enabled: false, settings: {{base_url: \"not a url\"}}}}\n",
            app.redis().url(),
            app.prefix
        ),
    )
    .unwrap();

    let reloaded = app
        .state
        .lifecycle
        .reload_config(&file, &enrichd::connectors::Factories::builtin())
        .await;

    assert!(reloaded.is_err());
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"enrichd_config_reloads_total{result="error"} 1"#),
        "{metrics}"
    );
    assert!(
        !metrics.contains(r#"enrichd_config_reloads_total{result="ok"}"#),
        "{metrics}"
    );
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn what_redis_holds_is_checked_before_it_is_served_or_used() {
    let app = TestAppBuilder::new().spawn().await;
    let mut redis = app.redis().connection();
    let far_future = 4_102_444_800_000u64; // 2100
    use enrichd::cache::packed::pack;
    // Packed values that lie: a header claiming 4 GiB, a cut block, packed non-JSON.
    let mut huge = pack(b"{}");
    huge[3..7].copy_from_slice(&u32::MAX.to_le_bytes());
    let whole = pack(br#"{"user_id": "junk-6", "profile": {}}"#);
    let five_mib = format!(r#"{{"x": "{}"}}"#, "a".repeat(5 * 1024 * 1024));
    for (user, body, subject) in [
        ("junk-1", b"not json at all".to_vec(), b"{}".to_vec()),
        ("junk-2", b"[1, 2, 3]".to_vec(), b"{}".to_vec()),
        ("junk-3", five_mib.into_bytes(), b"{}".to_vec()),
        ("junk-5", huge, pack(b"{}")),
        ("junk-6", whole[..whole.len() - 2].to_vec(), pack(b"{}")),
        ("junk-7", pack(b"[1, 2, 3]"), pack(b"{}")),
    ] {
        // In an entry, and in the layout before entries.
        let in_entry = format!("{user}-entry");
        redis::cmd("SET")
            .arg(app.profile_key(&in_entry))
            .arg(raw_entry(far_future, &body, &subject, b""))
            .query::<()>(&mut redis)
            .unwrap();
        assert_eq!(app.get_profile(&in_entry).await.status, 404, "{in_entry}");
        redis::cmd("HSET")
            .arg(app.earlier_profile_key(user))
            .arg("body")
            .arg(body)
            .arg("fresh_until")
            .arg(far_future)
            .arg("subject")
            .arg(subject)
            .query::<()>(&mut redis)
            .unwrap();
        assert_eq!(app.get_profile(user).await.status, 404, "{user}");
    }
    // An entry cut short, or whose answers lie about their size: not read, and replaced by
    // the next enrichment (the profile in them is past its time, so it is not a hit).
    let good = raw_entry(1, &whole, &pack(b"{}"), b"");
    let mut lying_answers = good[..good.len() - 4].to_vec();
    lying_answers.extend_from_slice(&8u32.to_le_bytes());
    lying_answers.extend_from_slice(&u32::MAX.to_le_bytes());
    lying_answers.extend_from_slice(b"junk");
    for (user, entry) in [
        ("junk-8", good[..good.len() - 9].to_vec()),
        ("junk-9", lying_answers),
    ] {
        redis::cmd("SET")
            .arg(app.profile_key(user))
            .arg(entry)
            .query::<()>(&mut redis)
            .unwrap();
        let answer = app.enrich(known_subject(user)).await;
        assert_eq!(answer.status, 200, "{user}: {}", answer.body);
        assert_eq!(answer.body["cache"], "miss", "{user}");
        eventually("the entry replaced by a readable one", async || {
            let value: Vec<u8> = redis::cmd("GET")
                .arg(app.profile_key(user))
                .query(&mut app.redis().connection())
                .unwrap();
            enrichd::cache::Stored::decode(&value).is_some_and(|e| e.source("github").is_some())
        })
        .await;
    }
    // Remembered identifiers that no request could carry are not used for a refresh.
    redis::cmd("HSET")
        .arg(app.earlier_profile_key("junk-4"))
        .arg("body")
        .arg(r#"{"user_id": "junk-4"}"#)
        .arg("fresh_until")
        .arg(far_future)
        .arg("subject")
        .arg(r#"{"user_id": "junk-4", "email": "not an email", "handles": {"github": "octocat"}}"#)
        .query::<()>(&mut redis)
        .unwrap();
    let refreshed = app.get("/v1/profiles/junk-4?refresh=true").await;
    assert!(refreshed.status < 500, "{}", refreshed.body);
    assert_eq!(source(&refreshed.body, "github")["status"], "skipped");
    assert_eq!(app.get("/healthz").await.status, 200);
}

//! Careless and hostile input: each gets a clear 4xx naming what is wrong, and the service
//! keeps serving.

use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

use crate::helpers::{TestApp, TestAppBuilder, known_subject};

/// An app whose upstreams must never be called: bad input changes nothing.
async fn app_that_must_not_call_upstream() -> (TestApp, MockServer) {
    let upstream = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&upstream)
        .await;
    let app = TestAppBuilder::new()
        .max_body_bytes(4096)
        .upstream("github", &upstream.uri())
        .upstream("hubspot", &upstream.uri())
        .spawn()
        .await;
    (app, upstream)
}

#[tokio::test]
async fn each_bad_request_is_a_clear_4xx() {
    let (app, _upstream) = app_that_must_not_call_upstream().await;
    let json = "application/json";
    // (what, body, content type, status, code, field)
    type Case<'a> = (&'a str, String, &'a str, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        (
            "malformed JSON",
            "{\"user_id\": ".into(),
            json,
            400,
            "invalid_json",
            None,
        ),
        (
            "not an object",
            "[]".into(),
            json,
            400,
            "invalid_request",
            None,
        ),
        (
            "trailing garbage",
            "{\"user_id\": \"u\"} x".into(),
            json,
            400,
            "invalid_json",
            None,
        ),
        (
            "unknown field",
            r#"{"user_id": "u", "emial": "a@b.co"}"#.into(),
            json,
            400,
            "invalid_request",
            Some("emial"),
        ),
        (
            "missing user id",
            r#"{"email": "a@example.com"}"#.into(),
            json,
            400,
            "invalid_request",
            Some("user_id"),
        ),
        (
            "bad user id",
            r#"{"user_id": "a b"}"#.into(),
            json,
            400,
            "invalid_request",
            Some("user_id"),
        ),
        (
            "long user id",
            format!(r#"{{"user_id": "{}"}}"#, "x".repeat(129)),
            json,
            400,
            "invalid_request",
            Some("user_id"),
        ),
        (
            "bad email",
            r#"{"user_id": "u", "email": "ada@"}"#.into(),
            json,
            400,
            "invalid_request",
            Some("email"),
        ),
        (
            "email with name",
            r#"{"user_id": "u", "email": "Ada <ada@example.com>"}"#.into(),
            json,
            400,
            "invalid_request",
            Some("email"),
        ),
        (
            "bad phone",
            r#"{"user_id": "u", "phone": "call me"}"#.into(),
            json,
            400,
            "invalid_request",
            Some("phone"),
        ),
        (
            "bad handle",
            r#"{"user_id": "u", "handles": {"github": "two words"}}"#.into(),
            json,
            400,
            "invalid_request",
            Some("handles.github"),
        ),
        (
            "wrong type",
            r#"{"user_id": "u", "timeout_ms": "fast"}"#.into(),
            json,
            400,
            "invalid_request",
            Some("timeout_ms"),
        ),
        (
            "negative timeout",
            r#"{"user_id": "u", "timeout_ms": -1}"#.into(),
            json,
            400,
            "invalid_request",
            Some("timeout_ms"),
        ),
        (
            "unknown connector",
            r#"{"user_id": "u", "connectors": ["myspace"]}"#.into(),
            json,
            400,
            "invalid_request",
            Some("connectors[0]"),
        ),
        (
            "no connectors",
            r#"{"user_id": "u", "connectors": []}"#.into(),
            json,
            400,
            "invalid_request",
            Some("connectors"),
        ),
        (
            "oversize body",
            format!(r#"{{"user_id": "u", "pad": "{}"}}"#, "x".repeat(5000)),
            json,
            413,
            "payload_too_large",
            None,
        ),
        (
            "not JSON",
            "user_id=u".into(),
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "no content type",
            r#"{"user_id": "u"}"#.into(),
            "",
            415,
            "unsupported_media_type",
            None,
        ),
        (
            "binary noise",
            String::from_utf8_lossy(&[0xff, 0xfe, 0x00, 0x7b]).into_owned(),
            json,
            400,
            "invalid_json",
            None,
        ),
    ];
    for (what, body, content_type, status, code, field) in cases {
        let answer = app.enrich_raw(&body, content_type).await;
        assert_eq!(answer.status, status, "{what}: {}", answer.body);
        assert_eq!(answer.body["error"]["code"], code, "{what}");
        assert!(
            !answer.body["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .is_empty(),
            "{what} has a message"
        );
        if let Some(field) = field {
            assert_eq!(answer.body["error"]["details"]["field"], field, "{what}");
        }
        assert!(answer.headers.contains_key("x-request-id"), "{what}");
    }
    assert_eq!(app.get("/healthz").await.status, 200, "still serving");
}

#[tokio::test]
async fn a_batch_over_100_subjects_names_the_field() {
    let app = TestAppBuilder::new().spawn().await;
    let subjects: Vec<_> = (0..101)
        .map(|i| json!({"user_id": format!("{i}")}))
        .collect();

    let answer = app
        .send(
            app.client
                .post(app.url("/v1/enrich/batch"))
                .json(&json!({"subjects": subjects})),
        )
        .await;

    assert_eq!(answer.status, 400);
    assert_eq!(answer.body["error"]["details"]["field"], "subjects");
    let malformed = app
        .send(
            app.client
                .post(app.url("/v1/enrich/batch"))
                .json(&json!({"subject": []})),
        )
        .await;
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.body["error"]["details"]["field"], "subject");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_format() {
    let app = TestAppBuilder::new().without_redis().spawn().await;

    let missing = app.get("/v2/enrich").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "not_found");

    let wrong_method = app.send(app.client.put(app.url("/v1/enrich"))).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn the_caller_request_id_is_echoed_and_a_bad_one_replaced() {
    let app = TestAppBuilder::new().without_redis().spawn().await;

    let echoed = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "abc-123"),
        )
        .await;
    assert_eq!(echoed.headers["x-request-id"], "abc-123");

    let replaced = app
        .send(
            app.client
                .get(app.url("/healthz"))
                .header("x-request-id", "x".repeat(300)),
        )
        .await;
    let id = replaced.headers["x-request-id"].to_str().unwrap();
    assert_eq!(id.len(), 36, "a fresh UUID replaces an unacceptable id");
}

#[tokio::test]
async fn bad_input_leaves_the_cache_untouched() {
    let app = TestAppBuilder::new().spawn().await;
    let first = app.enrich(known_subject("g-1")).await;

    let bad = app
        .enrich(json!({"user_id": "g-1", "email": "broken"}))
        .await;
    assert_eq!(bad.status, 400);

    let after = app.get_profile("g-1").await;
    assert_eq!(after.body["enriched_at"], first.body["enriched_at"]);
    assert_eq!(after.body["cache"], "hit");
}

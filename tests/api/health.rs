//! `/healthz`, `/readyz` and `/metrics`.

use crate::helpers::{TestAppBuilder, known_subject};

#[tokio::test]
async fn readiness_reports_redis_and_degrades_when_it_is_down() {
    let mut app = TestAppBuilder::new().spawn().await;

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["checks"]["cache"], "ok");

    app.redis.as_mut().unwrap().kill();
    let degraded = app.get("/readyz").await;
    assert_eq!(degraded.status, 200, "Redis down is degraded, not unready");
    assert_eq!(degraded.body["status"], "degraded");
    assert_eq!(degraded.body["checks"]["cache"], "down");

    // Enrichment still works without Redis; the failed lookup is counted.
    let answer = app.enrich(known_subject("h-1")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["profile"]["identity"]["name"], "Bryan Cooper");
    assert!(
        app.metrics()
            .await
            .contains(r#"enrichd_cache_lookups_total{result="error",tier="redis"} 1"#)
    );
}

#[tokio::test]
async fn an_in_process_cache_is_ready() {
    let app = TestAppBuilder::new().without_redis().spawn().await;

    let ready = app.get("/readyz").await;

    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["checks"]["cache"], "in_process");
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn metrics_follow_the_contract_and_carry_no_personal_data() {
    let app = TestAppBuilder::new().spawn().await;
    app.enrich(known_subject("m-1")).await;
    app.enrich(known_subject("m-1")).await;
    app.get_profile("m-1").await;

    let text = app.metrics().await;

    for expected in [
        r#"enrichd_http_requests_total{method="POST",route="/v1/enrich",status="200"} 2"#,
        r#"enrichd_http_requests_total{method="GET",route="/v1/profiles/{user_id}",status="200"} 1"#,
        "enrichd_http_request_duration_seconds_bucket",
        r#"enrichd_enrichments_total{outcome="complete"} 1"#,
        "enrichd_enrichment_duration_seconds_count 1",
        r#"enrichd_connector_requests_total{connector="hubspot",status="ok"} 1"#,
        r#"enrichd_connector_request_duration_seconds_count{connector="github"} 1"#,
        r#"enrichd_cache_lookups_total{result="miss",tier="local"} 1"#,
        r#"enrichd_cache_lookups_total{result="miss",tier="redis"} 1"#,
        r#"enrichd_cache_lookups_total{result="hit",tier="local"} 2"#,
        "enrichd_build_info{version=",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    for private in ["m-1", "bcooper", "octocat"] {
        assert!(
            !text.contains(private),
            "`{private}` leaked into the metrics"
        );
    }
}

#[tokio::test]
async fn an_admin_listener_takes_probes_metrics_and_admin_routes_off_the_public_one() {
    let app = TestAppBuilder::new()
        .without_redis()
        .admin_token("admin-1")
        .api_key("key-1")
        .server("admin_bind: \"127.0.0.1:0\"")
        .spawn()
        .await;
    let admin = app.admin_address.clone().expect("an admin listener");
    let client = &app.client;
    let status =
        async |request: reqwest::RequestBuilder| request.send().await.unwrap().status().as_u16();

    for path in ["/metrics", "/healthz", "/readyz"] {
        assert_eq!(
            status(client.get(format!("{admin}{path}"))).await,
            200,
            "{path} on admin"
        );
        assert_eq!(
            status(client.get(app.url(path))).await,
            404,
            "{path} on public"
        );
    }
    let disable = "/v1/connectors/github/disable";
    assert_eq!(
        status(client.post(app.url(disable)).bearer_auth("admin-1")).await / 100,
        4,
        "not on the public listener"
    );
    assert_eq!(
        status(
            client
                .post(format!("{admin}{disable}"))
                .bearer_auth("admin-1")
        )
        .await,
        200
    );
    assert_eq!(
        status(
            client
                .post(format!("{admin}{disable}"))
                .bearer_auth("key-1")
        )
        .await,
        403,
        "admin routes still need an admin token"
    );
    // The API stays on the public listener, and only there.
    let enrich = app.enrich(known_subject("adm-1")).await;
    assert_eq!(enrich.status, 200);
    assert_eq!(
        status(
            client
                .get(format!("{admin}/v1/profiles/adm-1"))
                .bearer_auth("key-1")
        )
        .await,
        404
    );
    assert_eq!(status(client.get(app.url("/openapi.json"))).await, 200);
}

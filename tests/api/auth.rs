//! Bearer API keys on `/v1` routes; health and metrics stay open.

use serde_json::json;

use crate::helpers::TestAppBuilder;

#[tokio::test]
async fn v1_routes_need_a_valid_api_key() {
    let app = TestAppBuilder::new()
        .without_redis()
        .api_key("k-123")
        .spawn()
        .await;
    let enrich = || {
        app.client
            .post(app.url("/v1/enrich"))
            .json(&json!({"user_id": "a-1"}))
    };

    let anonymous = enrich().send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
    let body: serde_json::Value = anonymous.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let wrong = enrich().bearer_auth("k-124").send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let prefix = enrich().bearer_auth("k-12").send().await.unwrap();
    assert_eq!(prefix.status(), 401);

    let right = enrich().bearer_auth("k-123").send().await.unwrap();
    assert_eq!(right.status(), 200);

    let profile = app
        .client
        .get(app.url("/v1/profiles/a-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 401);
    let delete = app
        .client
        .delete(app.url("/v1/profiles/a-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 401);
}

#[tokio::test]
async fn probes_and_metrics_need_no_key() {
    let app = TestAppBuilder::new()
        .without_redis()
        .api_key("k-123")
        .spawn()
        .await;

    for path in ["/healthz", "/readyz", "/metrics"] {
        let answer = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
}

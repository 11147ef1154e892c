//! Privacy (PRODUCT.md §9): tenants that never see each other's data, suppressions that stop
//! every later enrichment naming a suppressed identifier (on every replica, across restarts,
//! with and without Redis), and the audit trail. Upstream calls are counted at a GitHub
//! stand-in: a subject carrying a suppressed email *and* an unsuppressed GitHub login would
//! reach GitHub if the suppression did not hold.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, TestAppBuilder, eventually, github_answering, github_calls, github_only, octocat,
};

const DEFAULT_KEY: &str = "key-default";
const MARKETING_KEY: &str = "key-marketing";
const ADMIN: &str = "admin-token";

/// An app with a default-tenant key, a `marketing` key named `crm-sync`, an admin token,
/// the test hash key, and GitHub at `github`.
fn builder(github: &wiremock::MockServer) -> TestAppBuilder {
    TestAppBuilder::new()
        .api_key(DEFAULT_KEY)
        .tenant_key(MARKETING_KEY, "crm-sync", "marketing")
        .admin_token(ADMIN)
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
}

async fn enrich_as(app: &TestApp, key: &str, subject: Value) -> crate::helpers::Answer {
    app.send_as(
        Some(key),
        app.client.post(app.url("/v1/enrich")).json(&subject),
    )
    .await
}

async fn get_as(app: &TestApp, key: &str, path: &str) -> crate::helpers::Answer {
    app.send_as(Some(key), app.client.get(app.url(path))).await
}

/// GET `path` with `key`, naming `tenant` in `x-enrichd-tenant`.
async fn get_in_tenant(
    app: &TestApp,
    key: &str,
    tenant: &str,
    path: &str,
) -> crate::helpers::Answer {
    app.send_as(
        Some(key),
        app.client
            .get(app.url(path))
            .header("x-enrichd-tenant", tenant),
    )
    .await
}

async fn delete_as(app: &TestApp, key: &str, path: &str) -> crate::helpers::Answer {
    app.send_as(Some(key), app.client.delete(app.url(path)))
        .await
}

async fn post_as(app: &TestApp, key: &str, path: &str, body: Value) -> crate::helpers::Answer {
    app.send_as(Some(key), app.client.post(app.url(path)).json(&body))
        .await
}

/// A subject with `email` and the GitHub login octocat (only GitHub is configured).
fn with_email(user_id: &str, email: &str) -> Value {
    json!({"user_id": user_id, "email": email, "handles": {"github": "octocat"}})
}

#[tokio::test]
async fn two_tenants_with_the_same_user_id_see_two_profiles_and_never_each_others() {
    let github = github_answering(octocat()).await;
    let app = builder(&github).spawn().await;

    let first = enrich_as(&app, DEFAULT_KEY, github_only("u-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(github_calls(&github).await, 1);

    // The other tenant cannot read, refresh or erase it: to it, the user is unknown.
    let read = get_as(&app, MARKETING_KEY, "/v1/profiles/u-1").await;
    assert_eq!(read.status, 404, "{}", read.body);
    assert_eq!(read.body["error"]["code"], "profile_not_found");
    let refresh = get_as(&app, MARKETING_KEY, "/v1/profiles/u-1?refresh=true").await;
    assert_eq!(refresh.status, 404);
    assert_eq!(
        delete_as(&app, MARKETING_KEY, "/v1/profiles/u-1")
            .await
            .status,
        204
    );
    assert_eq!(
        get_as(&app, DEFAULT_KEY, "/v1/profiles/u-1").await.status,
        200,
        "another tenant's erasure left this one's profile alone"
    );
    assert_eq!(github_calls(&github).await, 1, "nothing was refreshed");

    // Enriching the same user id is a miss for the other tenant: its own profile.
    let second = enrich_as(&app, MARKETING_KEY, github_only("u-1")).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.body["cache"], "miss");
    assert_eq!(github_calls(&github).await, 2);
    app.wait_for_profile_in_redis("u-1").await;
    let mut redis = app.redis().connection();
    let tenant_profile = format!("{}t:marketing:{{u-1}}:entry", app.prefix);
    eventually("the other tenant's profile reaches Redis", async || {
        redis::cmd("EXISTS")
            .arg(&tenant_profile)
            .query::<bool>(&mut redis)
            .unwrap()
    })
    .await;

    // Erasing in one tenant leaves the other's.
    assert_eq!(
        delete_as(&app, DEFAULT_KEY, "/v1/profiles/u-1")
            .await
            .status,
        204
    );
    assert_eq!(
        get_as(&app, DEFAULT_KEY, "/v1/profiles/u-1").await.status,
        404
    );
    assert_eq!(
        get_as(&app, MARKETING_KEY, "/v1/profiles/u-1").await.status,
        200
    );

    // An admin acts on the tenant its request names; a key cannot name another tenant.
    let as_admin = get_in_tenant(&app, ADMIN, "marketing", "/v1/profiles/u-1").await;
    assert_eq!(as_admin.status, 200);
    assert_eq!(get_as(&app, ADMIN, "/v1/profiles/u-1").await.status, 404);
    let crossing = get_in_tenant(&app, MARKETING_KEY, "default", "/v1/profiles/u-1").await;
    assert_eq!(crossing.status, 403);
    let malformed = get_in_tenant(&app, ADMIN, "Not A Tenant", "/v1/profiles/u-1").await;
    assert_eq!(malformed.status, 400);
    assert_eq!(
        malformed.body["error"]["details"]["field"],
        "x-enrichd-tenant"
    );
}

#[tokio::test]
async fn two_tenants_enriching_the_same_user_at_once_do_not_share_a_flight() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(200))).await;
    let app = builder(&github).spawn().await;
    let (a, b) = tokio::join!(
        enrich_as(&app, DEFAULT_KEY, github_only("u-2")),
        enrich_as(&app, MARKETING_KEY, github_only("u-2")),
    );
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(github_calls(&github).await, 2, "one call per tenant");
    assert!(
        app.metrics()
            .await
            .contains("enrichd_coalesced_requests_total 0")
    );
}

#[tokio::test]
async fn a_suppressed_email_blocks_every_later_enrichment_naming_it_on_every_replica() {
    let github = github_answering(octocat()).await;
    let app = builder(&github).privacy("").spawn().await;
    let replica = builder(&github).privacy("").replica_of(&app).spawn().await;

    let suppressed = post_as(
        &app,
        DEFAULT_KEY,
        "/v1/suppressions",
        json!({"email": " Ada@Example.com"}),
    )
    .await;
    assert_eq!(suppressed.status, 400, "a padded email is not an email");
    let suppressed = post_as(
        &app,
        DEFAULT_KEY,
        "/v1/suppressions",
        json!({"email": "Ada@Example.com"}),
    )
    .await;
    assert_eq!(suppressed.status, 204, "{}", suppressed.body);

    // Any user id, any spelling of the address: 451 and no upstream call.
    let refused = enrich_as(&app, DEFAULT_KEY, with_email("other-1", "ada@example.COM")).await;
    assert_eq!(refused.status, 451, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "subject_suppressed");
    eventually("the replica hears of the suppression", async || {
        replica.state.suppressions.len() == 1
    })
    .await;
    let on_replica = enrich_as(
        &replica,
        DEFAULT_KEY,
        with_email("other-2", "ada@example.com"),
    )
    .await;
    assert_eq!(on_replica.status, 451);
    // In a batch, the item carries the error; the others are enriched.
    let batch = post_as(
        &app,
        DEFAULT_KEY,
        "/v1/enrich/batch",
        json!({"subjects": [with_email("other-3", "ada@example.com"), github_only("clean-1")]}),
    )
    .await;
    assert_eq!(batch.status, 200);
    assert_eq!(
        batch.body["results"][0]["error"]["code"],
        "subject_suppressed"
    );
    assert_eq!(batch.body["results"][1]["user_id"], "clean-1");
    assert_eq!(github_calls(&github).await, 1, "only the clean subject");

    // Suppressions are per tenant: another tenant's subject with the address is enriched.
    let elsewhere = enrich_as(&app, MARKETING_KEY, with_email("m-1", "ada@example.com")).await;
    assert_eq!(elsewhere.status, 200);
    assert_eq!(github_calls(&github).await, 2);

    // A process started later (a restart) loads the list from Redis.
    let restarted = builder(&github).privacy("").replica_of(&app).spawn().await;
    let after_restart = enrich_as(
        &restarted,
        DEFAULT_KEY,
        with_email("other-4", "ada@example.com"),
    )
    .await;
    assert_eq!(after_restart.status, 451);
    assert_eq!(github_calls(&github).await, 2);

    // Stored only as keyed hashes.
    let members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
        .arg(format!("{}suppressions", app.prefix))
        .query(&mut app.redis().connection())
        .unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].len(), 32);

    // Lifted, on every replica.
    let lifted = post_as(
        &restarted,
        DEFAULT_KEY,
        "/v1/suppressions/lift",
        json!({"email": "ada@example.com"}),
    )
    .await;
    assert_eq!(lifted.status, 204);
    eventually("the first replica hears of the lift", async || {
        app.state.suppressions.is_empty()
    })
    .await;
    assert_eq!(
        enrich_as(&app, DEFAULT_KEY, with_email("other-5", "ada@example.com"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn delete_with_suppress_erases_and_suppresses_every_identifier_remembered() {
    let github = github_answering(octocat()).await;
    let app = builder(&github).privacy("").spawn().await;
    let subject =
        json!({"user_id": "u-5", "email": "grace@example.com", "handles": {"github": "Hopper"}});
    assert_eq!(enrich_as(&app, DEFAULT_KEY, subject).await.status, 200);
    app.wait_for_profile_in_redis("u-5").await;

    let erased = delete_as(&app, DEFAULT_KEY, "/v1/profiles/u-5?suppress=true").await;
    assert_eq!(erased.status, 204, "{}", erased.body);
    assert_eq!(
        app.keys_of("u-5")
            .iter()
            .filter(|k| !k.ends_with(":erased"))
            .count(),
        0
    );
    let read = get_as(&app, DEFAULT_KEY, "/v1/profiles/u-5").await;
    assert_eq!(read.status, 451, "the user id itself is suppressed");

    let calls = github_calls(&github).await;
    for subject in [
        github_only("u-5"),
        json!({"user_id": "v-1", "email": "Grace@Example.com"}),
        json!({"user_id": "v-2", "handles": {"github": "@hopper"}}),
    ] {
        let answer = enrich_as(&app, DEFAULT_KEY, subject.clone()).await;
        assert_eq!(answer.status, 451, "{subject}");
    }
    assert_eq!(github_calls(&github).await, calls);
    assert_eq!(
        app.state.suppressions.len(),
        3,
        "user id, email, GitHub login"
    );

    // A bad flag is named; nothing is erased for it.
    let bad = delete_as(&app, DEFAULT_KEY, "/v1/profiles/u-5?suppress=yes").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"]["details"]["field"], "suppress");
}

#[tokio::test]
async fn suppression_needs_a_hash_key_and_erases_nothing_without_one() {
    let github = github_answering(octocat()).await;
    let app = builder(&github).spawn().await;
    assert_eq!(
        enrich_as(&app, DEFAULT_KEY, github_only("u-6"))
            .await
            .status,
        200
    );
    let refused = delete_as(&app, DEFAULT_KEY, "/v1/profiles/u-6?suppress=true").await;
    assert_eq!(refused.status, 501, "{}", refused.body);
    assert_eq!(refused.body["error"]["code"], "suppression_not_configured");
    assert_eq!(
        get_as(&app, DEFAULT_KEY, "/v1/profiles/u-6").await.status,
        200
    );
    let direct = post_as(
        &app,
        DEFAULT_KEY,
        "/v1/suppressions",
        json!({"user_id": "u-6"}),
    )
    .await;
    assert_eq!(direct.status, 501);
}

#[tokio::test]
async fn without_redis_suppressions_survive_a_restart_in_the_state_file() {
    let github = github_answering(octocat()).await;
    let file = std::env::temp_dir().join(format!(
        "enrichd-privacy-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    let state_file = format!("state_file: \"{}\"", file.display());
    let first = builder(&github)
        .without_redis()
        .privacy(&state_file)
        .spawn()
        .await;
    let suppressed = post_as(
        &first,
        DEFAULT_KEY,
        "/v1/suppressions",
        json!({"phone": "+442071838750", "handles": {"github": "octocat"}}),
    )
    .await;
    assert_eq!(suppressed.status, 204, "{}", suppressed.body);
    drop(first);

    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("octocat") && !text.contains("2071838750"),
        "{text}"
    );
    let second = builder(&github)
        .without_redis()
        .privacy(&state_file)
        .spawn()
        .await;
    assert_eq!(
        enrich_as(&second, DEFAULT_KEY, github_only("u-7"))
            .await
            .status,
        451
    );
    assert_eq!(github_calls(&github).await, 0);
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_corrupt_state_file_refuses_enrichment_rather_than_forget_suppressions() {
    let github = github_answering(octocat()).await;
    let file = std::env::temp_dir().join(format!(
        "enrichd-privacy-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&file, "{\"suppressions\": [\"not a hash\"]}").unwrap();
    let app = builder(&github)
        .without_redis()
        .privacy(&format!("state_file: \"{}\"", file.display()))
        .spawn()
        .await;
    let answer = enrich_as(&app, DEFAULT_KEY, github_only("u-8")).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(answer.body["error"]["code"], "suppressions_unavailable");
    assert_eq!(github_calls(&github).await, 0);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["checks"]["suppressions"], "loading");

    // Once the file is fixed, the list is read again in the background.
    std::fs::write(&file, "{\"suppressions\": []}").unwrap();
    eventually("the list is loaded", async || {
        app.get("/readyz").await.status == 200
    })
    .await;
    assert_eq!(
        enrich_as(&app, DEFAULT_KEY, github_only("u-8"))
            .await
            .status,
        200
    );
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn suppression_bodies_are_checked() {
    let github = github_answering(octocat()).await;
    let app = builder(&github).privacy("").spawn().await;
    let handles: serde_json::Map<String, Value> =
        (0..33).map(|i| (format!("p{i}"), json!("x"))).collect();
    for (body, field) in [
        (json!({}), "body"),
        (json!({"email": "nope"}), "email"),
        (json!({"phone": "12"}), "phone"),
        (json!({"user_id": "a b"}), "user_id"),
        (
            json!({"handles": {"Bad Platform": "x"}}),
            "handles.Bad Platform",
        ),
        (json!({"handles": handles}), "handles"),
    ] {
        let answer = post_as(&app, DEFAULT_KEY, "/v1/suppressions", body.clone()).await;
        assert_eq!(answer.status, 400, "{body}");
        assert_eq!(answer.body["error"]["details"]["field"], field, "{body}");
    }
    let unknown = post_as(
        &app,
        DEFAULT_KEY,
        "/v1/suppressions",
        json!({"mail": "a@b.co"}),
    )
    .await;
    assert_eq!(unknown.status, 400);
    assert!(app.state.suppressions.is_empty());
}

#[tokio::test]
async fn the_audit_trail_names_the_actor_and_never_the_user() {
    let github = github_answering(octocat()).await;
    let app = builder(&github).privacy("").spawn().await;
    assert_eq!(
        enrich_as(&app, MARKETING_KEY, github_only("audited-42"))
            .await
            .status,
        200
    );
    let erased = app
        .send_as(
            Some(MARKETING_KEY),
            app.client
                .delete(app.url("/v1/profiles/audited-42"))
                .header("x-request-id", "req-erase-1"),
        )
        .await;
    assert_eq!(erased.status, 204);
    let disabled = post_as(&app, ADMIN, "/v1/connectors/github/disable", json!({})).await;
    assert_eq!(disabled.status, 200);

    let trail = get_as(&app, ADMIN, "/v1/audit").await;
    assert_eq!(trail.status, 200, "{}", trail.body);
    let entries = trail.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{}", trail.body);
    assert_eq!(entries[0]["action"], "connector.disable");
    assert_eq!(entries[0]["actor"], "admin-token-1");
    assert_eq!(entries[0]["targets"], json!(["connector:github"]));
    let erase = &entries[1];
    assert_eq!(erase["action"], "erase");
    assert_eq!(erase["actor"], "crm-sync");
    assert_eq!(erase["tenant"], "marketing");
    assert_eq!(erase["outcome"], "ok");
    assert_eq!(erase["request_id"], "req-erase-1");
    let target = erase["targets"][0].as_str().unwrap();
    assert!(
        target.starts_with("user:") && target.len() == 5 + 64,
        "{target}"
    );
    assert!(!trail.body.to_string().contains("audited-42"));
    assert!(!trail.body.to_string().contains(MARKETING_KEY));
    // Nor in the stream itself.
    let raw: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
        .arg(format!("{}audit", app.prefix))
        .arg("-")
        .arg("+")
        .query(&mut app.redis().connection())
        .unwrap();
    assert!(!format!("{raw:?}").contains("audited-42"));

    // Paged, newest first.
    let page = get_as(&app, ADMIN, "/v1/audit?limit=1").await;
    assert_eq!(page.body["entries"][0]["action"], "connector.disable");
    let before = page.body["next_before"].as_str().unwrap().to_owned();
    let older = get_as(&app, ADMIN, &format!("/v1/audit?limit=1&before={before}")).await;
    assert_eq!(older.body["entries"][0]["action"], "erase");

    // Admin only, and its parameters are checked.
    assert_eq!(get_as(&app, DEFAULT_KEY, "/v1/audit").await.status, 403);
    for bad in [
        "limit=0",
        "limit=1001",
        "before=abc",
        "before=(1-0",
        "tenant=x",
    ] {
        let answer = get_as(&app, ADMIN, &format!("/v1/audit?{bad}")).await;
        assert_eq!(answer.status, 400, "{bad}");
    }
}

#[tokio::test]
async fn without_redis_the_audit_trail_is_kept_in_process() {
    let github = github_answering(octocat()).await;
    let app = builder(&github).without_redis().spawn().await;
    assert_eq!(
        delete_as(&app, DEFAULT_KEY, "/v1/profiles/gone-9")
            .await
            .status,
        204
    );
    let trail = get_as(&app, ADMIN, "/v1/audit").await;
    assert_eq!(trail.status, 200);
    assert_eq!(trail.body["entries"][0]["action"], "erase");
    assert_eq!(trail.body["entries"][0]["actor"], "api-key-1");
    assert_eq!(
        trail.body["entries"][0]["targets"],
        json!(["user"]),
        "without privacy.hash_key users are not named at all"
    );
}

#[tokio::test]
async fn metrics_carry_a_tenant_label_only_when_asked_and_stay_bounded() {
    let github = github_answering(octocat()).await;
    let plain = builder(&github).spawn().await;
    enrich_as(&plain, MARKETING_KEY, github_only("m-2")).await;
    assert!(!plain.metrics().await.contains("tenant=\""));

    let labelled = builder(&github)
        .yaml("metrics: {tenant_label: true}\n")
        .spawn()
        .await;
    enrich_as(&labelled, MARKETING_KEY, github_only("m-3")).await;
    for tenant in ["t1", "t2", "t3"] {
        get_in_tenant(&labelled, ADMIN, tenant, "/v1/profiles/m-3").await;
    }
    let metrics = labelled.metrics().await;
    assert!(metrics.contains("tenant=\"marketing\""), "{metrics}");
    assert!(metrics.contains("tenant=\"other\""));
    assert!(!metrics.contains("tenant=\"t1\""));
}

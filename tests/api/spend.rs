//! Spend control (PRODUCT.md §11): costs, waterfalls, budgets shared by replicas, `max_cost`,
//! dry runs and provider quotas. Paid vendors are declarative (`kind: http`) connectors in
//! front of wiremock servers that count their calls; GitHub answers from its fixture.

use std::time::{SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use serde_json::{Value, json};
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::{
    OCTOCAT, TestApp, TestAppBuilder, eventually, github_answering, github_calls, github_only,
    octocat, source,
};

/// A vendor answering every lookup with `company` and `title` (`None`: 404, not found).
async fn vendor(found: Option<(&str, &str)>) -> MockServer {
    let server = MockServer::start().await;
    let answer = match found {
        Some((company, title)) => {
            ResponseTemplate::new(200).set_body_json(json!({"company": company, "title": title}))
        }
        None => ResponseTemplate::new(404),
    };
    Mock::given(method("GET"))
        .and(path("/person"))
        .respond_with(answer)
        .mount(&server)
        .await;
    server
}

/// A declarative connector in front of `server`, at `cost` (YAML flow) and `confidence`.
fn vendor_yaml(server: &MockServer, cost: &str, confidence: f64) -> String {
    vendor_yaml_requiring(server, cost, confidence, "user_id")
}

/// [`vendor_yaml`] for a vendor that needs the identifier `requires`.
fn vendor_yaml_requiring(
    server: &MockServer,
    cost: &str,
    confidence: f64,
    requires: &str,
) -> String {
    let host = server.uri().trim_start_matches("http://").to_owned();
    format!(
        "kind: http, confidence: {confidence}, retry: {{max_attempts: 1}}, cost: {{{cost}}}, \
         settings: {{requires: [{requires}], allowed_hosts: [\"{host}\"], \
         request: {{url: \"{}/person?u={{user_id}}\"}}, \
         mapping: {{identity.company: /company, identity.job_title: /title}}}}",
        server.uri()
    )
}

async fn calls(server: &MockServer) -> usize {
    server.received_requests().await.unwrap().len()
}

/// The calls each of `servers` received (a waterfall's steps, in order).
async fn calls_of<const N: usize>(servers: [&MockServer; N]) -> [usize; N] {
    let mut counts = [0; N];
    for (count, server) in counts.iter_mut().zip(servers) {
        *count = calls(server).await;
    }
    counts
}

const FIRMO: &str = "waterfalls: {firmo: {connectors: [first, second, third], \
                     until: {fields: [identity.company, identity.job_title], min_confidence: 0.8}}}";

/// An app without Redis whose only connectors are three vendors finding Acme's CTO, in the
/// `FIRMO` waterfall: the first configured by `first_yaml`, the others at 1 credit, 0.9 sure.
async fn firmo_app(first_yaml: impl Fn(&MockServer) -> String) -> (TestApp, [MockServer; 3]) {
    let servers = [
        vendor(Some(("Acme", "CTO"))).await,
        vendor(Some(("Acme", "CTO"))).await,
        vendor(Some(("Acme", "CTO"))).await,
    ];
    let app = TestAppBuilder::new()
        .without_redis()
        .without_upstream("hubspot")
        .without_upstream("github")
        .connector_yaml("first", &first_yaml(&servers[0]))
        .connector_yaml("second", &vendor_yaml(&servers[1], "per_call: 1", 0.9))
        .connector_yaml("third", &vendor_yaml(&servers[2], "per_call: 1", 0.9))
        .enrichment(FIRMO)
        .spawn()
        .await;
    (app, servers)
}

async fn usage(app: &TestApp) -> Value {
    let answer = app.get("/v1/usage").await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

#[tokio::test]
async fn a_waterfall_stops_at_the_first_connector_that_fills_the_fields() {
    let first = vendor(None).await;
    let second = vendor(Some(("Acme", "CTO"))).await;
    let third = vendor(Some(("Acme Corp", "Chief Technology Officer"))).await;
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .connector_yaml(
            "first",
            &vendor_yaml(&first, "per_call: 1, per_not_found: 0.25", 0.9),
        )
        .connector_yaml("second", &vendor_yaml(&second, "per_call: 2", 0.9))
        .connector_yaml("third", &vendor_yaml(&third, "per_call: 3", 0.9))
        .enrichment(FIRMO)
        .spawn()
        .await;

    let answer = app.enrich(github_only("fall-1")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let profile = &answer.body;
    assert_eq!(source(profile, "first")["status"], "not_found");
    assert_eq!(source(profile, "first")["cost"], 0.25);
    assert_eq!(source(profile, "second")["status"], "ok");
    assert_eq!(source(profile, "second")["cost"], 2.0);
    assert_eq!(source(profile, "third")["status"], "skipped");
    assert_eq!(source(profile, "third")["reason"], "waterfall_satisfied");
    assert_eq!(source(profile, "third")["cost"], 0.0);
    // GitHub is in no waterfall: asked at once, free.
    assert_eq!(source(profile, "github")["status"], "ok");
    assert_eq!(source(profile, "github")["cost"], 0.0);
    assert_eq!(profile["cost"], 2.25);
    assert_eq!(profile["profile"]["identity"]["company"], "Acme");
    assert!(!profile["partial"].as_bool().unwrap(), "{profile}");
    assert_eq!(calls_of([&first, &second, &third]).await, [1, 1, 0]);
    assert_eq!(github_calls(&github).await, 1);

    // Served from the cache: nothing is called, nothing is paid.
    let again = app.enrich(github_only("fall-1")).await;
    assert_eq!(again.body["cache"], "hit");
    assert_eq!(again.body["cost"], 0);
    assert_eq!(calls(&second).await, 1);

    let metrics = app.metrics().await;
    assert!(
        metrics.contains("enrichd_connector_cost_total{connector=\"second\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("enrichd_connector_cost_total{connector=\"first\"} 0.25"));
    assert!(!metrics.contains("enrichd_connector_cost_total{connector=\"third\"}"));
    // A free connector's calls add no cost series.
    assert!(!metrics.contains("enrichd_connector_cost_total{connector=\"github\"}"));
    let mut today = usage(&app).await;
    let key = format!(
        "{}spend:{{default}}:{}",
        app.prefix,
        today["day"].as_str().unwrap()
    );
    eventually("the spend is written to Redis", async || {
        let total: Option<i64> = redis::cmd("HGET")
            .arg(&key)
            .arg("total")
            .query(&mut app.redis().connection())
            .unwrap();
        total == Some(2_250_000)
    })
    .await;
    today = usage(&app).await;
    assert_eq!(today["spent"], 2.25);
    assert_eq!(
        today["connectors"]["first"],
        json!({"calls": 1, "cost": 0.25})
    );
    assert_eq!(
        today["connectors"]["second"],
        json!({"calls": 1, "cost": 2.0})
    );
    assert_eq!(
        today["connectors"]["github"],
        json!({"calls": 1, "cost": 0.0})
    );
    assert!(today["connectors"].get("third").is_none(), "{today}");
    assert!(
        today.get("budget").is_none(),
        "no budget configured: {today}"
    );

    let listed = app.get("/v1/connectors").await.body;
    let first_listed = listed["connectors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "first")
        .unwrap();
    assert_eq!(
        first_listed["cost"],
        json!({"per_call": 1.0, "per_not_found": 0.25})
    );
    let detail = app.get("/v1/connectors/github").await.body;
    assert_eq!(
        detail["cost"],
        json!({"per_call": 0.0, "per_not_found": 0.0})
    );
}

#[tokio::test]
async fn an_answer_below_the_confidence_asked_does_not_stop_the_waterfall() {
    let (app, [first, second, third]) =
        firmo_app(|server| vendor_yaml(server, "per_call: 1", 0.5)).await;

    let answer = app.enrich(json!({"user_id": "fall-2"})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(source(&answer.body, "first")["status"], "ok");
    assert_eq!(source(&answer.body, "second")["status"], "ok");
    assert_eq!(
        source(&answer.body, "third")["reason"],
        "waterfall_satisfied"
    );
    assert_eq!(answer.body["cost"], 2.0);
    assert_eq!(calls_of([&first, &second, &third]).await, [1, 1, 0]);
}

#[tokio::test]
async fn a_step_that_cannot_be_asked_passes_the_turn_and_keeps_its_own_status() {
    let (app, [first, second, third]) =
        firmo_app(|server| vendor_yaml_requiring(server, "per_call: 1", 0.9, "email")).await;

    let answer = app.enrich(json!({"user_id": "fall-3"})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let skipped = source(&answer.body, "first");
    assert_eq!(skipped["status"], "skipped");
    assert!(
        skipped.get("reason").is_none(),
        "lacks its email: {skipped}"
    );
    assert_eq!(source(&answer.body, "second")["status"], "ok");
    assert_eq!(
        source(&answer.body, "third")["reason"],
        "waterfall_satisfied"
    );
    assert_eq!(calls_of([&first, &second, &third]).await, [0, 1, 0]);
}

#[tokio::test]
async fn two_replicas_sharing_a_budget_spend_exactly_it_under_concurrent_load() {
    let paid = vendor(Some(("Acme", "CTO"))).await;
    let build = || {
        TestAppBuilder::new()
            .without_upstream("hubspot")
            .without_upstream("github")
            .connector_yaml("paid", &vendor_yaml(&paid, "per_call: 1", 0.9))
            .yaml("budgets: {default: {daily: 7}}\n")
    };
    let one = build().spawn().await;
    let two = build().replica_of(&one).spawn().await;

    let answers = join_all((0..40).map(|i| {
        let app = if i % 2 == 0 { &one } else { &two };
        app.enrich(json!({"user_id": format!("budget-{i}")}))
    }))
    .await;
    let served = answers.iter().filter(|a| a.status == 200).count();
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|a| a.status == 402)
        .map(|a| &a.body)
        .collect();
    assert_eq!(served, 7);
    assert_eq!(refused.len(), 33, "every answer is a profile or a 402");
    assert_eq!(refused[0]["error"]["code"], "budget_exhausted");
    assert_eq!(
        refused[0]["error"]["details"]["sources"][0]["status"],
        "budget_exhausted"
    );
    assert_eq!(calls(&paid).await, 7, "exactly the budget, never more");

    // Each replica counts its own calls, and writes them to Redis within a second.
    eventually("both replicas' spend reaches Redis", async || {
        usage(&one).await["connectors"]["paid"]["calls"] == 7
            && usage(&two).await["connectors"]["paid"]["calls"] == 7
    })
    .await;
    let today = usage(&one).await;
    assert_eq!(today["spent"], 7.0);
    assert_eq!(today["budget"], 7.0);
    assert_eq!(today["remaining"], 0.0);
    let key = format!(
        "{}spend:{{default}}:{}",
        one.prefix,
        today["day"].as_str().unwrap()
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(&key)
        .query(&mut one.redis().connection())
        .unwrap();
    assert!(
        (172_000..=172_800).contains(&ttl),
        "the day's counts expire: {ttl}"
    );
}

#[tokio::test]
async fn budgets_are_per_tenant_and_usage_answers_the_callers_own() {
    let paid = vendor(Some(("Acme", "CTO"))).await;
    let app = TestAppBuilder::new()
        .without_redis()
        .without_upstream("hubspot")
        .without_upstream("github")
        .connector_yaml("paid", &vendor_yaml(&paid, "per_call: 1", 0.9))
        .tenant_key("key-sales", "sales-sync", "sales")
        .tenant_key("key-ops", "ops-sync", "ops")
        .admin_token("admin-1")
        .yaml("budgets: {sales: {daily: 1}}\n")
        .spawn()
        .await;
    let enrich = |key: &'static str, user: &str| {
        app.send_as(
            Some(key),
            app.client
                .post(app.url("/v1/enrich"))
                .json(&json!({"user_id": user})),
        )
    };

    assert_eq!(enrich("key-sales", "t-1").await.status, 200);
    assert_eq!(enrich("key-sales", "t-2").await.status, 402);
    // Another tenant has no budget: it is not refused.
    for user in ["t-1", "t-2", "t-3"] {
        assert_eq!(enrich("key-ops", user).await.status, 200);
    }
    assert_eq!(calls(&paid).await, 4);

    let usage_of = async |key: &str, tenant: Option<&str>| {
        let mut request = app.client.get(app.url("/v1/usage"));
        if let Some(tenant) = tenant {
            request = request.header("x-enrichd-tenant", tenant);
        }
        app.send_as(Some(key), request).await
    };
    let sales = usage_of("key-sales", None).await.body;
    assert_eq!(sales["tenant"], "sales");
    assert_eq!(sales["spent"], 1.0);
    assert_eq!(sales["remaining"], 0.0);
    let ops = usage_of("key-ops", None).await.body;
    assert_eq!(ops["tenant"], "ops");
    assert_eq!(ops["connectors"]["paid"]["calls"], 3);
    assert!(ops.get("remaining").is_none());
    assert_eq!(usage_of("admin-1", Some("sales")).await.body, sales);
    assert_eq!(usage_of("key-ops", Some("sales")).await.status, 403);
    assert_eq!(
        app.send_as(
            Some("key-ops"),
            app.client.get(app.url("/v1/usage?day=yesterday"))
        )
        .await
        .status,
        400
    );
}

#[tokio::test]
async fn a_max_cost_of_zero_calls_only_free_connectors() {
    let paid = vendor(Some(("Acme", "CTO"))).await;
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .connector_yaml("paid", &vendor_yaml(&paid, "per_call: 0.5", 0.9))
        .spawn()
        .await;

    let mut subject = github_only("free-1");
    subject["max_cost"] = json!(0);
    let answer = app.enrich(subject).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(source(&answer.body, "github")["status"], "ok");
    let refused = source(&answer.body, "paid");
    assert_eq!(refused["status"], "budget_exhausted");
    assert!(refused["error"].as_str().unwrap().contains("max_cost"));
    assert_eq!(answer.body["cost"], 0);
    assert_eq!(answer.body["partial"], true, "the paid source is missing");
    assert_eq!(calls(&paid).await, 0);
    assert_eq!(github_calls(&github).await, 1);

    // Only paid connectors could answer: nothing is called, and the caller is told why.
    let only_paid = app
        .enrich(json!({"user_id": "free-2", "max_cost": 0.4}))
        .await;
    assert_eq!(only_paid.status, 402, "{}", only_paid.body);
    assert_eq!(only_paid.body["error"]["code"], "budget_exhausted");
    assert_eq!(calls(&paid).await, 0);
    let enough = app
        .enrich(json!({"user_id": "free-2", "max_cost": 0.5}))
        .await;
    assert_eq!(enough.status, 200, "{}", enough.body);
    assert_eq!(enough.body["cost"], 0.5);

    for bad in [json!(-1), json!("1"), json!(1e10)] {
        let answer = app
            .enrich(json!({"user_id": "free-3", "max_cost": bad}))
            .await;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
        assert_eq!(
            answer.body["error"]["details"]["field"], "max_cost",
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_dry_run_calls_nothing_and_writes_nothing() {
    let first = vendor(Some(("Acme", "CTO"))).await;
    let second = vendor(Some(("Acme", "CTO"))).await;
    let third = vendor(Some(("Acme", "CTO"))).await;
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .connector_yaml("first", &vendor_yaml(&first, "per_call: 1", 0.9))
        .connector_yaml("second", &vendor_yaml(&second, "per_call: 2", 0.9))
        .connector_yaml(
            "third",
            &vendor_yaml(&third, "per_call: 3, per_not_found: 4", 0.9),
        )
        .enrichment(FIRMO)
        .yaml("budgets: {default: {daily: 100}}\n")
        .spawn()
        .await;
    let dry_run = async |subject: Value| {
        app.send(
            app.client
                .post(app.url("/v1/enrich?dry_run=true"))
                .json(&subject),
        )
        .await
    };
    let keys = |app: &TestApp| -> Vec<String> {
        redis::cmd("KEYS")
            .arg(format!("{}*", app.prefix))
            .query(&mut app.redis().connection())
            .unwrap()
    };

    let before = keys(&app);
    let plan = dry_run(json!({"user_id": "dry-1"})).await;
    assert_eq!(plan.status, 200, "{}", plan.body);
    let plan = plan.body;
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["cache"], "miss");
    let decision = |plan: &Value, name: &str| {
        plan["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["connector"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        decision(&plan, "first"),
        json!({"connector": "first", "call": "yes", "cost": 1.0})
    );
    assert_eq!(decision(&plan, "second")["call"], "if_needed");
    assert_eq!(decision(&plan, "second")["reason"], "waterfall");
    assert_eq!(decision(&plan, "third")["cost"], 4.0);
    assert_eq!(decision(&plan, "github")["call"], "no");
    assert_eq!(decision(&plan, "github")["reason"], "missing_identifier");
    assert_eq!(plan["projected_cost"], 1.0);
    assert_eq!(plan["projected_cost_max"], 7.0);
    assert_eq!(plan["budget_remaining"], 100.0);
    let with_max = dry_run(json!({"user_id": "dry-1", "max_cost": 0.5}))
        .await
        .body;
    assert_eq!(decision(&with_max, "first")["reason"], "budget_exhausted");
    let exactly = dry_run(json!({"user_id": "dry-1", "max_cost": 1}))
        .await
        .body;
    assert_eq!(
        decision(&exactly, "first")["call"],
        "yes",
        "a cost equal to the cap fits"
    );

    assert_eq!(
        calls(&first).await + calls(&second).await + calls(&third).await,
        0
    );
    assert_eq!(github_calls(&github).await, 0);
    assert_eq!(keys(&app), before, "nothing is written to Redis");

    let enriched = app.enrich(json!({"user_id": "dry-1"})).await;
    assert_eq!(enriched.status, 200, "{}", enriched.body);
    let cached = dry_run(json!({"user_id": "dry-1"})).await.body;
    assert_eq!(cached["cache"], "hit");
    assert_eq!(decision(&cached, "first")["reason"], "cached_profile");
    assert_eq!(cached["projected_cost"], 0.0);
    // Naming the connectors bypasses the profile; the per-source answers are not reused then.
    let bypass = dry_run(
        json!({"user_id": "dry-1", "connectors": ["first"], "handles": {"github": "octocat"}}),
    )
    .await
    .body;
    assert_eq!(bypass["cache"], "bypass");
    assert_eq!(decision(&bypass, "first")["call"], "yes");
    assert_eq!(calls(&first).await, 1, "only the real enrichment called");

    let bad = app
        .send(
            app.client
                .post(app.url("/v1/enrich?dry_run=maybe"))
                .json(&json!({"user_id": "dry-2"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["error"]["details"]["field"], "dry_run");
}

/// A GitHub answer saying the hour's allowance is spent, back in a minute.
fn octocat_with_quota_spent() -> ResponseTemplate {
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 60;
    ResponseTemplate::new(200)
        .set_body_raw(OCTOCAT, "application/json")
        .insert_header("x-ratelimit-remaining", "0")
        .insert_header("x-ratelimit-limit", "60")
        .insert_header("x-ratelimit-reset", reset.to_string().as_str())
}

#[tokio::test]
async fn a_quota_spent_on_one_replica_stops_calls_on_the_other() {
    let github = github_answering(octocat_with_quota_spent()).await;
    let one = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .spawn()
        .await;
    let two = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .replica_of(&one)
        .spawn()
        .await;

    let first = one.enrich(github_only("quota-1")).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert!(
        one.metrics()
            .await
            .contains("enrichd_connector_quota_remaining{connector=\"github\"} 0")
    );
    eventually(
        "the other replica hears that the quota is spent",
        async || {
            let snapshot = two.state.registry.snapshot();
            snapshot
                .get("github")
                .unwrap()
                .guard
                .blocked_for()
                .is_some()
        },
    )
    .await;
    let refused = two.enrich(github_only("quota-2")).await.body;
    assert_eq!(
        refused["error"]["details"]["sources"][0]["status"], "rate_limited",
        "{refused}"
    );
    let wait = refused["error"]["details"]["sources"][0]["retry_after_ms"]
        .as_u64()
        .unwrap();
    assert!(
        (50_000..=60_000).contains(&wait),
        "until the reset: {wait} ms"
    );
    assert_eq!(
        github_calls(&github).await,
        1,
        "no call after the quota was spent"
    );
    let again = one.enrich(github_only("quota-3")).await;
    assert_eq!(
        source(&again.body["error"]["details"], "github")["status"],
        "rate_limited"
    );
    assert_eq!(github_calls(&github).await, 1);
}

#[tokio::test]
async fn a_quota_left_is_shown_and_calls_go_on() {
    let (app, github) = github_app(
        octocat()
            .insert_header("x-ratelimit-remaining", "41")
            .insert_header("x-ratelimit-reset", "1800000000"),
    )
    .await;
    for user in ["q-1", "q-2"] {
        assert_eq!(app.enrich(github_only(user)).await.status, 200);
    }
    assert_eq!(github_calls(&github).await, 2);
    assert!(
        app.metrics()
            .await
            .contains("enrichd_connector_quota_remaining{connector=\"github\"} 41")
    );
}

#[tokio::test]
async fn without_redis_to_check_it_a_budget_refuses_paid_calls_and_free_ones_go_on() {
    let paid = vendor(Some(("Acme", "CTO"))).await;
    let github = github_answering(octocat()).await;
    let mut app = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .connector_yaml("paid", &vendor_yaml(&paid, "per_call: 1", 0.9))
        .yaml("budgets: {default: {daily: 100}}\n")
        .spawn()
        .await;
    app.redis.as_mut().unwrap().kill();

    let answer = app.enrich(github_only("down-1")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(source(&answer.body, "github")["status"], "ok");
    let refused = source(&answer.body, "paid");
    assert_eq!(refused["status"], "budget_exhausted");
    let error = refused["error"].as_str().unwrap();
    assert!(error.contains("could not be checked"), "{error}");
    assert_eq!(calls(&paid).await, 0, "a budget is never risked");
    assert_eq!(app.get("/v1/usage").await.status, 503);
}

#[tokio::test]
async fn a_dry_run_says_why_each_connector_would_not_be_called() {
    let paid = vendor(Some(("Acme", "CTO"))).await;
    let off = vendor(Some(("Acme", "CTO"))).await;
    let github = github_answering(octocat_with_quota_spent()).await;
    let app = TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .connector_yaml("paid", &vendor_yaml(&paid, "per_call: 1", 0.9))
        .connector_yaml(
            "off",
            &format!("enabled: false, {}", vendor_yaml(&off, "per_call: 5", 0.9)),
        )
        .spawn()
        .await;
    let plan_of = async |subject: Value| -> Value {
        let answer = app
            .send(
                app.client
                    .post(app.url("/v1/enrich?dry_run=true"))
                    .json(&subject),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body
    };
    let decision = |plan: &Value, name: &str| -> (String, String) {
        let entry = plan["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["connector"] == name)
            .unwrap();
        (
            entry["call"].as_str().unwrap().to_owned(),
            entry["reason"].as_str().unwrap_or("").to_owned(),
        )
    };

    // GitHub's answer says its quota is spent: it is not asked again until the reset.
    assert_eq!(app.enrich(github_only("why-1")).await.status, 200);
    let blocked = plan_of(github_only("why-2")).await;
    assert_eq!(
        decision(&blocked, "github"),
        ("no".into(), "rate_limited".into())
    );
    assert_eq!(decision(&blocked, "paid"), ("yes".into(), String::new()));
    assert_eq!(decision(&blocked, "off"), ("no".into(), "disabled".into()));
    assert_eq!(blocked["projected_cost"], 1.0);
    assert!(blocked.get("budget_remaining").is_none());

    // A new identifier for a cached user: enriched again, with the answers still fresh reused.
    let mut more = github_only("why-1");
    more["email"] = json!("ada@example.com");
    let reused = plan_of(more).await;
    assert_eq!(reused["cache"], "miss");
    assert_eq!(decision(&reused, "paid"), ("no".into(), "cached".into()));
    assert_eq!(decision(&reused, "github"), ("no".into(), "cached".into()));
    assert_eq!(reused["projected_cost"], 0.0);
    assert_eq!(calls(&paid).await, 1);
    assert_eq!(calls(&off).await, 0);
}

#[tokio::test]
async fn a_quota_spent_without_a_reset_time_is_left_alone_for_a_minute() {
    let (app, github) = github_app(octocat().insert_header("x-ratelimit-remaining", "0")).await;

    assert_eq!(app.enrich(github_only("probe-1")).await.status, 200);
    let refused = app.enrich(github_only("probe-2")).await.body;
    let github_source = source(&refused["error"]["details"], "github");
    assert_eq!(github_source["status"], "rate_limited", "{refused}");
    let wait = github_source["retry_after_ms"].as_u64().unwrap();
    assert!(
        (55_000..=60_000).contains(&wait),
        "a minute, then a probe: {wait} ms"
    );
    assert_eq!(github_calls(&github).await, 1);
}

#[tokio::test]
async fn a_reset_already_past_stops_calls_for_a_second_only() {
    let (app, _github) = github_app(
        octocat()
            .insert_header("x-ratelimit-remaining", "0")
            .insert_header("x-ratelimit-reset", "1000"),
    )
    .await;

    assert_eq!(app.enrich(github_only("past-1")).await.status, 200);
    let refused = app.enrich(github_only("past-2")).await.body;
    let wait = source(&refused["error"]["details"], "github")["retry_after_ms"]
        .as_u64()
        .unwrap();
    assert!((1..=1_000).contains(&wait), "{wait} ms");
}

/// An app without Redis whose only connector is GitHub, answering every lookup with `answer`.
async fn github_app(answer: ResponseTemplate) -> (TestApp, MockServer) {
    let github = github_answering(answer).await;
    let app = TestAppBuilder::new()
        .without_redis()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .spawn()
        .await;
    (app, github)
}

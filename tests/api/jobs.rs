//! Bulk jobs (PRODUCT.md §12): jobs spread over replicas sharing a real Redis, each subject
//! recorded once, cancellation, per-line errors, limits, erasure reaching job results,
//! tenants, signed webhooks (a loopback receiver verifies them) and the in-process mode.

use std::{collections::HashMap, time::Duration};

use enrichd::jobs::webhook::{SIGNATURE_HEADER, verify};
use serde_json::{Value, json};
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};

use crate::helpers::{TestApp, TestAppBuilder, github_answering, octocat};

const SECRET: &str = "whsec-0123456789abcdef";

/// `jobs:` for tests: webhooks to loopback, signed with [`SECRET`], retried after 50 ms.
fn jobs_yaml(extra: &str) -> String {
    format!(
        "jobs: {{webhook_allowed_hosts: [127.0.0.1], webhook_secret: \"{SECRET}\", \
         webhook_backoff_ms: 50, claim_idle_ms: 2000, {extra}}}\n"
    )
}

/// An app whose only connector is GitHub at `github`.
fn github_app(github: &MockServer, jobs: &str) -> TestAppBuilder {
    TestAppBuilder::new()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .yaml(&jobs_yaml(jobs))
}

/// NDJSON of `n` subjects, each with its own GitHub login.
fn subjects(n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"user_id\":\"u-{i}\",\"handles\":{{\"github\":\"login-{i}\"}}}}\n"))
        .collect()
}

async fn submit(app: &TestApp, ndjson: String, query: &str) -> crate::helpers::Answer {
    app.send(
        app.client
            .post(app.url(&format!("/v1/jobs{query}")))
            .header("content-type", "application/x-ndjson")
            .body(ndjson),
    )
    .await
}

/// Poll the job until it is no longer queued or running (at most `within`).
async fn finished(app: &TestApp, id: &str, within: Duration) -> Value {
    let started = std::time::Instant::now();
    loop {
        let job = app.get(&format!("/v1/jobs/{id}")).await;
        assert_eq!(job.status, 200, "{:?}", job.body);
        if !matches!(job.body["status"].as_str(), Some("queued" | "running")) {
            return job.body;
        }
        assert!(
            started.elapsed() < within,
            "the job did not end: {}",
            job.body
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn results(app: &TestApp, id: &str, query: &str) -> Vec<Value> {
    let response = app
        .client
        .get(app.url(&format!("/v1/jobs/{id}/results{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let text = response.text().await.unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// GitHub lookups received, by login.
async fn calls_by_login(github: &MockServer) -> HashMap<String, usize> {
    let mut calls = HashMap::new();
    for request in github.received_requests().await.unwrap() {
        if let Some(login) = request.url.path().strip_prefix("/users/") {
            *calls.entry(login.to_owned()).or_default() += 1;
        }
    }
    calls
}

/// A webhook receiver answering `statuses` in turn, then 204.
async fn receiver(statuses: &[u16]) -> MockServer {
    let server = MockServer::start().await;
    for status in statuses {
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(*status))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// The webhook deliveries a receiver got, each checked against its signature.
async fn deliveries(server: &MockServer) -> Vec<Value> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let signature = r.headers[SIGNATURE_HEADER].to_str().unwrap();
            assert!(
                verify(SECRET.as_bytes(), signature, &r.body, now, 300),
                "the signature verifies"
            );
            assert!(!verify(
                b"another-secret-0000",
                signature,
                &r.body,
                now,
                300
            ));
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect()
}

#[tokio::test]
async fn a_job_spread_over_two_replicas_records_every_subject_once_and_calls_each_once() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(20))).await;
    let hook = receiver(&[]).await;
    let first = github_app(&github, "workers: 8").spawn().await;
    let second = github_app(&github, "workers: 8")
        .replica_of(&first)
        .spawn()
        .await;
    let webhook = format!("{}/enrichd", hook.uri());
    let answer = submit(&first, subjects(2000), &format!("?webhook_url={webhook}")).await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!(answer.body["status"], "queued");
    assert_eq!(answer.body["total"], 2000);
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(
        answer.headers["location"],
        format!("/v1/jobs/{id}").as_str()
    );

    let job = finished(&second, &id, Duration::from_secs(60)).await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["counts"],
        json!({"total": 2000, "done": 2000, "ok": 2000, "partial": 0, "failed": 0, "suppressed": 0})
    );
    assert_eq!(job["eta_seconds"], 0);
    assert!(job["started_at"].is_string() && job["finished_at"].is_string());

    // Both replicas worked on it; each login was looked up once.
    let by_first = metric(&first, "enrichd_jobs_subjects_total{outcome=\"ok\"}").await;
    let by_second = metric(&second, "enrichd_jobs_subjects_total{outcome=\"ok\"}").await;
    assert_eq!(by_first + by_second, 2000.0);
    assert!(
        by_first > 0.0 && by_second > 0.0,
        "{by_first} / {by_second}"
    );
    let calls = calls_by_login(&github).await;
    assert_eq!(calls.len(), 2000);
    assert!(
        calls.values().all(|&n| n == 1),
        "at most one call per subject"
    );

    // The results, in input order, whole and paged.
    let lines = results(&first, &id, "").await;
    assert_eq!(lines.len(), 2000);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["index"], i);
        assert_eq!(line["user_id"], format!("u-{i}"));
        assert_eq!(line["profile"]["user_id"], format!("u-{i}"));
    }
    let page = results(&second, &id, "?after=1499&limit=10").await;
    let indexes: Vec<u64> = page.iter().map(|l| l["index"].as_u64().unwrap()).collect();
    assert_eq!(indexes, (1500..1510).collect::<Vec<_>>());

    // The webhook: delivered once, signed, saying completed.
    crate::helpers::eventually("the webhook", async || !deliveries(&hook).await.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let delivered = deliveries(&hook).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0]["job_id"], id.as_str());
    assert_eq!(delivered[0]["status"], "completed");
    assert_eq!(delivered[0]["counts"]["done"], 2000);

    // Nothing is left in the stream; the gauges say so once refreshed.
    let mut redis = first.redis().connection();
    let depth: u64 = redis::cmd("XLEN")
        .arg(format!("{}jobs", first.prefix))
        .query(&mut redis)
        .unwrap();
    assert_eq!(depth, 0);
    crate::helpers::eventually("the gauges", async || {
        metric(&first, "enrichd_jobs_active").await == 0.0
            && metric(&first, "enrichd_jobs_queue_depth").await == 0.0
    })
    .await;
}

/// One sample of the app's metrics (0 when absent).
async fn metric(app: &TestApp, series: &str) -> f64 {
    app.metrics()
        .await
        .lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test]
async fn a_cancelled_job_makes_no_new_calls_after_a_second_and_its_webhook_says_so() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(100))).await;
    let hook = receiver(&[]).await;
    let app = github_app(&github, "workers: 2").spawn().await;
    let answer = submit(
        &app,
        subjects(300),
        &format!("?webhook_url={}/h", hook.uri()),
    )
    .await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    crate::helpers::eventually("some calls", async || {
        calls_by_login(&github).await.len() >= 4
    })
    .await;
    let cancelled = app
        .send(app.client.delete(app.url(&format!("/v1/jobs/{id}"))))
        .await;
    assert_eq!(cancelled.status, 200);
    assert_eq!(cancelled.body["status"], "cancelled");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after_a_second = calls_by_login(&github).await.len();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(calls_by_login(&github).await.len(), after_a_second);
    assert!(
        after_a_second < 100,
        "{after_a_second} subjects were called"
    );
    let job = app.get(&format!("/v1/jobs/{id}")).await.body;
    assert_eq!(job["status"], "cancelled");
    assert!(job["counts"]["done"].as_u64().unwrap() < 300);
    crate::helpers::eventually("the webhook", async || !deliveries(&hook).await.is_empty()).await;
    assert_eq!(deliveries(&hook).await[0]["status"], "cancelled");
    // Cancelling again changes nothing.
    let again = app
        .send(app.client.delete(app.url(&format!("/v1/jobs/{id}"))))
        .await;
    assert_eq!(
        (again.status, again.body["status"].clone()),
        (200, json!("cancelled"))
    );
}

#[tokio::test]
async fn a_webhook_answered_500_twice_is_delivered_on_the_third_attempt_and_redelivered() {
    let github = github_answering(octocat()).await;
    let hook = receiver(&[500, 500]).await;
    let app = github_app(&github, "").spawn().await;
    let answer = app
        .send(app.client.post(app.url("/v1/jobs")).json(&json!({
            "subjects": [{"user_id": "w-1", "handles": {"github": "a"}}, {"user_id": "w-2", "handles": {"github": "b"}}],
            "webhook": {"url": format!("{}/hook?token=t0ken", hook.uri())},
        })))
        .await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    finished(&app, &id, Duration::from_secs(10)).await;
    crate::helpers::eventually("three attempts", async || {
        deliveries(&hook).await.len() == 3
    })
    .await;
    let log = app.get(&format!("/v1/jobs/{id}/webhook")).await.body;
    let attempts = log["attempts"].as_array().unwrap();
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500), &json!(204)]);
    assert_eq!(attempts[2]["delivered"], true);
    assert_eq!(attempts[0]["error"], "answered 500");
    let numbers: Vec<&Value> = attempts.iter().map(|a| &a["attempt"]).collect();
    assert_eq!(numbers, [&json!(1), &json!(2), &json!(3)]);
    assert!(!log.to_string().contains("t0ken"), "the URL is not shown");

    let again = app
        .send(
            app.client
                .post(app.url(&format!("/v1/jobs/{id}/webhook/redeliver"))),
        )
        .await;
    assert_eq!(again.status, 202);
    crate::helpers::eventually("the redelivery", async || {
        deliveries(&hook).await.len() == 4
    })
    .await;
    for delivery in deliveries(&hook).await {
        assert_eq!(delivery["status"], "completed");
        assert_eq!(delivery["counts"]["ok"], 2);
    }
}

#[tokio::test]
async fn a_receiver_that_never_answers_2xx_gets_max_attempts_and_other_hosts_are_refused() {
    let github = github_answering(octocat()).await;
    let hook = receiver(&[503, 503, 503, 503, 503]).await;
    let app = github_app(&github, "webhook_max_attempts: 3").spawn().await;
    let refused = submit(&app, subjects(1), "?webhook_url=https://evil.example.com/x").await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["error"]["details"]["field"], "webhook_url");
    let answer = submit(&app, subjects(1), &format!("?webhook_url={}/h", hook.uri())).await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    finished(&app, &id, Duration::from_secs(10)).await;
    crate::helpers::eventually("three attempts", async || {
        deliveries(&hook).await.len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        deliveries(&hook).await.len(),
        3,
        "no attempt past webhook_max_attempts"
    );
}

#[tokio::test]
async fn bad_lines_are_reported_per_line_and_bodies_over_the_limits_are_refused() {
    let github = github_answering(octocat()).await;
    let app = github_app(&github, "max_subjects: 5, max_body_bytes: 2048")
        .spawn()
        .await;
    let body = [
        r#"{"user_id": "ok-1", "handles": {"github": "octocat"}}"#,
        r#"{"user_id": "bad-json", "#,
        r#"{"user_id": "bad-email", "email": "not-an-email"}"#,
        "",
        r#"{"user_id": "extra", "colour": "blue"}"#,
    ]
    .join("\n");
    let answer = submit(&app, body, "").await;
    assert_eq!(answer.status, 202, "{:?}", answer.body);
    assert_eq!(answer.body["total"], 4, "the blank line is not a subject");
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    let job = finished(&app, &id, Duration::from_secs(10)).await;
    assert_eq!(job["counts"]["ok"], 1);
    assert_eq!(job["counts"]["failed"], 3);
    let lines = results(&app, &id, "").await;
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["profile"]["user_id"], "ok-1");
    assert_eq!(lines[1]["error"]["code"], "invalid_json");
    assert_eq!(lines[1]["user_id"], Value::Null);
    assert_eq!(lines[2]["error"]["code"], "invalid_request");
    assert_eq!(lines[2]["error"]["details"]["field"], "email");
    assert_eq!(lines[2]["user_id"], "bad-email");
    assert_eq!(lines[3]["error"]["details"]["field"], "colour");
    assert_eq!(
        metric(&app, "enrichd_jobs_subjects_total{outcome=\"failed\"}").await,
        3.0
    );

    let too_many = submit(&app, subjects(6), "").await;
    assert_eq!(too_many.status, 413);
    assert_eq!(too_many.body["error"]["code"], "too_many_subjects");
    let too_many_json = app
        .send(
            app.client
                .post(app.url("/v1/jobs"))
                .json(&json!({"subjects": [1, 1, 1, 1, 1, 1]})),
        )
        .await;
    assert_eq!(too_many_json.status, 413);
    assert_eq!(too_many_json.body["error"]["code"], "too_many_subjects");
    let five = app
        .send(
            app.client
                .post(app.url("/v1/jobs"))
                .json(&json!({"subjects": [1, 1, 1, 1, 1]})),
        )
        .await;
    assert_eq!(five.status, 202, "five is the limit: {}", five.body);
    assert_eq!(five.body["total"], 5);
    let too_big = submit(&app, "x".repeat(4096), "").await;
    assert_eq!(too_big.status, 413);
    assert_eq!(too_big.body["error"]["code"], "payload_too_large");
    let empty = submit(&app, "\n\n".into(), "").await;
    assert_eq!(empty.status, 400);
    let plain = app
        .send(
            app.client
                .post(app.url("/v1/jobs"))
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(plain.status, 415);
    assert!(
        plain.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("application/x-ndjson")
    );
    let not_a_job = app
        .send(
            app.client
                .post(app.url("/v1/jobs"))
                .json(&json!({"subject": []})),
        )
        .await;
    assert_eq!(not_a_job.status, 400);
    assert_eq!(not_a_job.body["error"]["details"]["field"], "subject");
    let evil = app
        .send(app.client.post(app.url("/v1/jobs")).json(&json!({
            "subjects": [{"user_id": "e"}], "webhook": {"url": "https://evil.example.com/"}})))
        .await;
    assert_eq!(evil.status, 400);
    assert_eq!(evil.body["error"]["details"]["field"], "webhook.url");
    let unknown = submit(&app, subjects(1), "?connectors=github,nope").await;
    assert_eq!(unknown.status, 400);
    assert_eq!(unknown.body["error"]["details"]["field"], "connectors");
    let bad_query = app.get(&format!("/v1/jobs/{id}/results?limit=0")).await;
    assert_eq!(bad_query.status, 400);
    for path in ["/v1/jobs/nope", "/v1/jobs/0123456789abcdef0123456789abcdef"] {
        let missing = app.get(path).await;
        assert_eq!(missing.status, 404);
        assert_eq!(missing.body["error"]["code"], "job_not_found");
    }
}

#[tokio::test]
async fn jobs_belong_to_their_tenant() {
    let github = github_answering(octocat()).await;
    let app = github_app(&github, "")
        .tenant_key("key-sales", "sales-app", "sales")
        .tenant_key("key-ops", "ops-app", "ops")
        .spawn()
        .await;
    let answer = app
        .send_as(
            Some("key-sales"),
            app.client
                .post(app.url("/v1/jobs"))
                .header("content-type", "application/x-ndjson")
                .body(subjects(2)),
        )
        .await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    let path = format!("/v1/jobs/{id}");
    let theirs = app
        .send_as(Some("key-ops"), app.client.get(app.url(&path)))
        .await;
    assert_eq!(theirs.status, 404);
    let cancel = app
        .send_as(Some("key-ops"), app.client.delete(app.url(&path)))
        .await;
    assert_eq!(cancel.status, 404);
    let ours = app
        .send_as(Some("key-sales"), app.client.get(app.url(&path)))
        .await;
    assert_eq!(ours.status, 200);
    // Listed for its tenant only, newest first.
    let second = app
        .send_as(
            Some("key-sales"),
            app.client
                .post(app.url("/v1/jobs"))
                .header("content-type", "application/x-ndjson")
                .body(subjects(1)),
        )
        .await;
    let newest = second.body["job_id"].as_str().unwrap().to_owned();
    let listed = |key: &'static str, query: &'static str| {
        let request = app.client.get(app.url(&format!("/v1/jobs{query}")));
        app.send_as(Some(key), request)
    };
    let sales = listed("key-sales", "").await;
    assert_eq!(sales.status, 200, "{}", sales.body);
    let ids: Vec<&str> = sales.body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [newest.as_str(), id.as_str()]);
    assert_eq!(sales.body["jobs"][1]["counts"]["total"], 2);
    let one = listed("key-sales", "?limit=1").await;
    assert_eq!(one.body["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(one.body["jobs"][0]["job_id"], newest.as_str());
    let ops = listed("key-ops", "").await;
    assert_eq!(ops.body, json!({"jobs": []}));
    for bad in ["?limit=0", "?limit=1001", "?limit=x", "?after=1"] {
        let refused = listed("key-sales", bad).await;
        assert_eq!(refused.status, 400, "{bad}: {}", refused.body);
    }
    // The job enriched the sales tenant's profiles.
    let mut redis = app.redis().connection();
    crate::helpers::eventually("the profiles", async || {
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}t:sales:{{u-*}}:entry", app.prefix))
            .query(&mut redis)
            .unwrap();
        keys.len() == 2
    })
    .await;
}

#[tokio::test]
async fn erasing_a_user_removes_them_from_job_inputs_and_results() {
    let github = github_answering(octocat()).await;
    let app = github_app(&github, "").spawn().await;
    let answer = app
        .send(
            app.client
                .post(app.url("/v1/jobs"))
                .json(&json!({"subjects": [
                    {"user_id": "keep", "email": "keep@example.com", "handles": {"github": "k"}},
                    {"user_id": "gone", "email": "gone@example.com", "handles": {"github": "g"}},
                ]})),
        )
        .await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    finished(&app, &id, Duration::from_secs(10)).await;
    assert!(results(&app, &id, "").await[1].to_string().contains("gone"));

    assert_eq!(app.delete_profile("gone").await.status, 204);
    let lines = results(&app, &id, "").await;
    assert_eq!(lines[0]["user_id"], "keep");
    assert_eq!(lines[1]["error"]["code"], "erased");
    assert!(!lines[1].to_string().contains("gone"), "{}", lines[1]);
    // Nothing in Redis mentions the erased user any more.
    let mut redis = app.redis().connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.prefix))
        .query(&mut redis)
        .unwrap();
    for key in keys {
        let dump: Option<Vec<u8>> = redis::cmd("DUMP").arg(&key).query(&mut redis).unwrap();
        let dump = String::from_utf8_lossy(&dump.unwrap_or_default()).into_owned();
        assert!(!dump.contains("gone@example.com"), "{key} holds the email");
    }
}

#[tokio::test]
async fn a_subject_erased_while_queued_is_never_enriched() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(300))).await;
    let app = github_app(&github, "workers: 1").spawn().await;
    let answer = submit(&app, subjects(3), "").await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    // u-2 waits behind two slow subjects.
    assert_eq!(app.delete_profile("u-2").await.status, 204);
    let job = finished(&app, &id, Duration::from_secs(10)).await;
    assert_eq!(job["counts"]["failed"], 1);
    let lines = results(&app, &id, "").await;
    assert_eq!(lines[2]["error"]["code"], "erased");
    assert!(!calls_by_login(&github).await.contains_key("login-2"));
}

#[tokio::test]
async fn without_redis_jobs_run_in_process() {
    let github = github_answering(octocat()).await;
    let app = github_app(&github, "").without_redis().spawn().await;
    let answer = submit(&app, subjects(20), "?refresh=true").await;
    assert_eq!(answer.status, 202);
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    let job = finished(&app, &id, Duration::from_secs(10)).await;
    assert_eq!(job["counts"]["ok"], 20);
    assert_eq!(job["refresh"], true);
    assert_eq!(results(&app, &id, "?after=9").await.len(), 10);
    assert_eq!(calls_by_login(&github).await.len(), 20);
    let listed = app.get("/v1/jobs").await;
    assert_eq!(listed.body["jobs"][0]["job_id"], id.as_str());
    assert_eq!(listed.body["jobs"][0]["status"], "completed");
}

#[tokio::test]
async fn consumers_of_replicas_long_gone_are_forgotten_and_live_ones_kept() {
    let github = github_answering(octocat()).await;
    let app = github_app(&github, "").spawn().await;
    let answer = submit(&app, subjects(1), "").await;
    finished(
        &app,
        answer.body["job_id"].as_str().unwrap(),
        Duration::from_secs(10),
    )
    .await;
    let mut redis = app.redis().connection();
    let stream = format!("{}jobs", app.prefix);
    // A replica that joined and went away.
    let _: redis::Value = redis::cmd("XGROUP")
        .arg("CREATECONSUMER")
        .arg(&stream)
        .arg("workers")
        .arg("ghost")
        .query(&mut redis)
        .unwrap();
    let names = |redis: &mut redis::Connection| -> Vec<String> {
        let info: redis::streams::StreamInfoConsumersReply = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(&stream)
            .arg("workers")
            .query(redis)
            .unwrap();
        info.consumers.into_iter().map(|c| c.name).collect()
    };
    assert_eq!(names(&mut redis).len(), 2);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let forgotten = app
        .state
        .jobs
        .forget_gone_consumers(Duration::from_millis(200))
        .await
        .unwrap();
    assert_eq!(forgotten, 1);
    let left = names(&mut redis);
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], "ghost", "this replica keeps its own");
    let none = app
        .state
        .jobs
        .forget_gone_consumers(Duration::from_secs(3600))
        .await;
    assert_eq!(none.unwrap(), 0);
}

/// Every key's `DUMP` under the app's prefix, as text.
fn redis_dump(app: &TestApp) -> String {
    let mut redis = app.redis().connection();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.prefix))
        .query(&mut redis)
        .unwrap();
    let mut dump = String::new();
    for key in keys {
        let value: Option<Vec<u8>> = redis::cmd("DUMP").arg(&key).query(&mut redis).unwrap();
        dump.push_str(&String::from_utf8_lossy(&value.unwrap_or_default()));
    }
    dump
}

#[tokio::test]
async fn with_encryption_at_rest_inputs_results_and_the_webhook_url_are_sealed() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(200))).await;
    let hook = receiver(&[]).await;
    let app = github_app(&github, "workers: 1")
        .cache("encryption_keys: [{id: k1, key: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}]")
        .spawn()
        .await;
    let body: String = (0..4)
        .map(|i| format!("{{\"user_id\":\"s-{i}\",\"email\":\"sealed{i}@example.com\",\"handles\":{{\"github\":\"s{i}\"}}}}\n"))
        .collect();
    let url = format!("{}/hook?token=s3cr3t-t0ken", hook.uri());
    let answer = submit(&app, body, &format!("?webhook_url={}", urlencode(&url))).await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    // While the subjects wait, and once they are done.
    let waiting = redis_dump(&app);
    assert!(!waiting.contains("@example.com") && !waiting.contains("s3cr3t"));
    finished(&app, &id, Duration::from_secs(10)).await;
    let done = redis_dump(&app);
    assert!(!done.contains("@example.com") && !done.contains("s3cr3t"));
    assert!(!done.contains("octocat"), "profiles are sealed");
    // Sealed is still readable through the API, and the webhook reaches the sealed URL.
    let lines = results(&app, &id, "").await;
    assert_eq!(lines[3]["profile"]["user_id"], "s-3");
    crate::helpers::eventually("the webhook", async || deliveries(&hook).await.len() == 1).await;
    let received = hook.received_requests().await.unwrap();
    assert_eq!(received[0].url.query(), Some("token=s3cr3t-t0ken"));
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn the_readmes_python_verifier_accepts_enrichds_signature_and_nothing_else() {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/webhooks/verify_webhook.py"
    );
    let body = br#"{"counts":{"done":2},"job_id":"j","status":"completed"}"#;
    let file = std::env::temp_dir().join(format!("enrichd-hook-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&file, body).unwrap();
    let now = 1_700_000_000u64;
    let header = enrichd::jobs::webhook::sign(SECRET.as_bytes(), now, body);
    let run = |secret: &str, header: &str, at: u64| {
        std::process::Command::new("python3")
            .arg(script)
            .args([secret, header])
            .arg(&file)
            .arg(at.to_string())
            .status()
            .unwrap()
            .success()
    };
    assert!(run(SECRET, &header, now + 299));
    assert!(!run(SECRET, &header, now + 301), "too old: a replay");
    assert!(!run("whsec-another-secret00", &header, now));
    assert!(!run(
        SECRET,
        &header.replace("t=1700000000", "t=1700000001"),
        now
    ));
    let _ = std::fs::remove_file(file);
}

#[tokio::test]
async fn a_replica_without_workers_takes_jobs_and_leaves_the_work_to_the_others() {
    let github = github_answering(octocat()).await;
    let front = github_app(&github, "workers: 0").spawn().await;
    let back = github_app(&github, "workers: 4")
        .replica_of(&front)
        .spawn()
        .await;
    let answer = submit(&front, subjects(50), "").await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    let job = finished(&front, &id, Duration::from_secs(10)).await;
    assert_eq!(job["counts"]["ok"], 50);
    assert_eq!(
        metric(&front, "enrichd_jobs_subjects_total{outcome=\"ok\"}").await,
        0.0
    );
    assert_eq!(
        metric(&back, "enrichd_jobs_subjects_total{outcome=\"ok\"}").await,
        50.0
    );
}

#[tokio::test]
async fn suppressed_subjects_count_as_suppressed_and_their_lines_name_nobody() {
    let github = github_answering(octocat()).await;
    let app = github_app(&github, "").privacy("").spawn().await;
    let suppressed = app
        .send(
            app.client
                .post(app.url("/v1/suppressions"))
                .json(&json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(suppressed.status, 204, "{}", suppressed.body);
    let answer = app
        .send(app.client.post(app.url("/v1/jobs")).json(&json!({"subjects": [
            {"user_id": "fine", "handles": {"github": "fine"}},
            {"user_id": "objected", "email": "Ada@Example.com", "handles": {"github": "ada"}},
        ]})))
        .await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    let job = finished(&app, &id, Duration::from_secs(10)).await;
    assert_eq!(job["counts"]["ok"], 1);
    assert_eq!(job["counts"]["suppressed"], 1);
    let lines = results(&app, &id, "").await;
    assert_eq!(lines[1]["error"]["code"], "subject_suppressed");
    assert_eq!(lines[1]["user_id"], Value::Null);
    assert!(
        !calls_by_login(&github).await.contains_key("ada"),
        "not called"
    );
    assert_eq!(
        metric(&app, "enrichd_jobs_subjects_total{outcome=\"suppressed\"}").await,
        1.0
    );
}

#[tokio::test]
async fn a_jobs_subjects_are_charged_to_its_tenants_budget() {
    let paid = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"company": "Acme"})))
        .mount(&paid)
        .await;
    let host = paid.uri().trim_start_matches("http://").to_owned();
    let vendor = format!(
        "kind: http, confidence: 0.9, retry: {{max_attempts: 1}}, cost: {{per_call: 1}}, \
         settings: {{requires: [user_id], allowed_hosts: [\"{host}\"], \
         request: {{url: \"{}/person?u={{user_id}}\"}}, \
         mapping: {{identity.company: /company}}}}",
        paid.uri()
    );
    let app = TestAppBuilder::new()
        .without_upstream("hubspot")
        .without_upstream("github")
        .connector_yaml("paid", &vendor)
        .yaml("budgets: {default: {daily: 3}}\n")
        .yaml(&jobs_yaml(""))
        .spawn()
        .await;
    let body: String = (0..5)
        .map(|i| format!("{{\"user_id\":\"b-{i}\"}}\n"))
        .collect();
    let answer = submit(&app, body, "").await;
    let id = answer.body["job_id"].as_str().unwrap().to_owned();
    let job = finished(&app, &id, Duration::from_secs(10)).await;
    assert_eq!(job["counts"]["ok"], 3, "{job}");
    assert_eq!(job["counts"]["failed"], 2);
    let refused: Vec<Value> = results(&app, &id, "")
        .await
        .into_iter()
        .filter(|l| l["error"]["code"] == "budget_exhausted")
        .collect();
    assert_eq!(refused.len(), 2);
    assert_eq!(paid.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn webhook_redirects_are_followed_only_to_allowed_hosts_and_only_keeping_the_post() {
    let github = github_answering(octocat()).await;
    let target = receiver(&[]).await;
    let port = target.address().port();
    let redirecting = MockServer::start().await;
    for (path, status, location) in [
        ("/kept", 307, format!("http://127.0.0.1:{port}/landed")),
        ("/elsewhere", 308, format!("http://localhost:{port}/landed")),
        ("/as-get", 302, format!("http://127.0.0.1:{port}/landed")),
    ] {
        Mock::given(method("POST"))
            .and(wiremock::matchers::path(path))
            .respond_with(
                ResponseTemplate::new(status).insert_header("location", location.as_str()),
            )
            .mount(&redirecting)
            .await;
    }
    let app = github_app(&github, "webhook_max_attempts: 1").spawn().await;
    let mut logs = Vec::new();
    for path in ["/kept", "/elsewhere", "/as-get"] {
        let hook = format!("{}{path}", redirecting.uri());
        let answer = submit(
            &app,
            subjects(1),
            &format!("?webhook_url={}", urlencode(&hook)),
        )
        .await;
        let id = answer.body["job_id"].as_str().unwrap().to_owned();
        finished(&app, &id, Duration::from_secs(10)).await;
        let mut log = Value::Null;
        crate::helpers::eventually("an attempt", async || {
            log = app.get(&format!("/v1/jobs/{id}/webhook")).await.body;
            !log["attempts"].as_array().unwrap().is_empty()
        })
        .await;
        logs.push(log["attempts"][0].clone());
    }
    assert_eq!(
        logs[0]["delivered"], true,
        "a 307 to an allowed host is followed"
    );
    assert_eq!(logs[1]["delivered"], false, "localhost is not listed");
    assert!(
        logs[1]["error"].as_str().unwrap().contains("redirect"),
        "{}",
        logs[1]
    );
    assert_eq!(
        (logs[2]["status"].clone(), logs[2]["delivered"].clone()),
        (json!(302), json!(false))
    );
    // Only the 307 reached the target, as a signed POST with its body.
    let landed = deliveries(&target).await;
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0]["status"], "completed");
}

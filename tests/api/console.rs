//! `GET /console` in a real browser (headless Chromium through WebDriver) against a real
//! enrichd with the connectors' stand-ins and a real Redis: signing in (and a wrong key),
//! "try it" with its provenance, a connector disabled, a job, an erasure typed to confirm,
//! the page at 360 px, its Content-Security-Policy and that nothing is asked of another origin.
//! Screenshots are saved under `target/tmp/console/`.

use serde_json::{Value, json};

use crate::{
    browser::Browser,
    helpers::{TestApp, TestAppBuilder},
};

const ADMIN: &str = "console-admin-token";
const API_KEY: &str = "console-api-key";

async fn app() -> TestApp {
    TestAppBuilder::new()
        .api_key(API_KEY)
        .admin_token(ADMIN)
        .spawn()
        .await
}

/// Every URL the page asked for is on enrichd's own origin.
async fn assert_same_origin(browser: &Browser, app: &TestApp) {
    let requested = browser.requested().await;
    assert!(requested.len() > 5, "{requested:?}");
    for url in &requested {
        assert!(
            url.starts_with(&format!("{}/", app.address)),
            "{url} left for another origin"
        );
    }
}

/// Enrich a subject from "try it" and wait for the profile.
async fn try_it(browser: &Browser, console: &str, fields: &[(&str, &str)]) {
    browser.go(&format!("{console}#try")).await;
    for (name, value) in fields {
        browser
            .fill(&format!("#try-form [name={name}]"), value)
            .await;
    }
    browser.click("#try-enrich").await;
    browser.shown("#profile").await;
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_policy_from_the_binary_alone() {
    let app = app().await;
    let page = app.client.get(app.url("/console")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let policy = header("content-security-policy").expect("a CSP");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(policy.contains(directive), "{directive} in {policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    assert!(!policy.contains("http"), "no other origin: {policy}");
    assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
    let html = page.text().await.unwrap();
    // No inline script or style, nothing from elsewhere.
    assert!(!html.contains("<script>"), "inline script");
    assert!(!html.contains("style="), "inline style");
    assert!(
        !html.contains("//cdn") && !html.contains("https://"),
        "{html}"
    );

    for (asset, kind) in [
        ("main.js", "text/javascript"),
        ("api.js", "text/javascript"),
        ("console.css", "text/css"),
    ] {
        let answer = app
            .client
            .get(app.url(&format!("/console/{asset}")))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{asset}");
        let content_type = answer.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with(kind), "{asset}: {content_type}");
        let body = answer.text().await.unwrap();
        assert!(
            !body.contains("innerHTML"),
            "{asset} builds elements, not HTML"
        );
    }
    let missing = app.get("/console/nothing.js").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "not_found");
}

#[tokio::test]
async fn an_operator_signs_in_tries_a_subject_disables_a_connector_and_erases_a_user() {
    let app = app().await;
    let browser = Browser::start("console", 1280, 1000).await;
    let console = app.url("/console");
    browser.client.goto(&console).await.unwrap();

    // Authentication is on: the sign-in form, nothing else.
    browser.shown("#signin-key").await;
    assert_eq!(
        browser.eval("document.getElementById('nav').hidden").await,
        json!(true)
    );
    browser.screenshot("01-sign-in").await;

    // A wrong key: a clear message, not a blank page.
    browser.fill("#signin-key", "not-a-key").await;
    browser.click("#signin-submit").await;
    let error = browser.shown("#signin-error").await.text().await.unwrap();
    assert!(
        error.contains("refused the key") && error.contains("401"),
        "{error}"
    );
    browser.screenshot("02-wrong-key").await;

    // A wrong key kept from before (the tab's storage) is met with the same message.
    browser
        .eval("sessionStorage.setItem('enrichd.console.key', 'stale-key') || true")
        .await;
    browser.client.refresh().await.unwrap();
    let error = browser.shown("#signin-error").await.text().await.unwrap();
    assert!(error.contains("401"), "{error}");

    // The admin token, typed and sent with Enter: signed in, kept for the tab only.
    browser.fill("#signin-key", &format!("{ADMIN}\n")).await;
    browser.shown("#nav").await;
    let who = browser.text("#who-text").await;
    assert!(
        who.contains("Admin token") && who.contains("default"),
        "{who}"
    );
    assert_eq!(
        browser
            .eval("sessionStorage.getItem('enrichd.console.key')")
            .await,
        json!(ADMIN)
    );
    assert_eq!(browser.eval("localStorage.length").await, json!(0));
    assert_eq!(
        browser.eval("document.cookie").await,
        json!(""),
        "no cookie"
    );

    // Try it: the rendered provenance is the API's.
    try_it(
        &browser,
        &console,
        &[
            ("user_id", "console-user"),
            ("email", "bcooper@biglytics.net"),
            ("github", "octocat"),
        ],
    )
    .await;
    let stored = app.get_profile("console-user").await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let provenance = &stored.body["provenance"];
    for field in ["identity.name", "identity.company", "demographics.city"] {
        let row = format!("#profile tr[data-field='{field}']");
        let expected = &provenance[field];
        assert!(expected.is_object(), "{field} in {provenance}");
        assert_eq!(
            browser.text(&format!("{row} .source")).await,
            expected["source"].as_str().unwrap(),
            "{field}"
        );
        let confidence: f64 = browser
            .text(&format!("{row} .confidence"))
            .await
            .parse()
            .unwrap();
        assert!(
            (confidence - expected["confidence"].as_f64().unwrap()).abs() < 0.001,
            "{field}: {confidence} vs {expected}"
        );
        assert_eq!(
            browser.text(&format!("{row} .value")).await,
            stored.body["profile"]
                .pointer(&format!("/{}", field.replace('.', "/")))
                .and_then(Value::as_str)
                .unwrap(),
            "{field}"
        );
    }
    // Agreement and conflicts are spelled out where the API lists them.
    let with_notes = provenance
        .as_object()
        .unwrap()
        .iter()
        .find(|(_, p)| p.get("agreeing").is_some() || p.get("conflicts").is_some());
    if let Some((field, p)) = with_notes {
        let notes = browser
            .text(&format!("#profile tr[data-field='{field}'] .notes"))
            .await;
        let other = p["agreeing"][0]
            .as_str()
            .or(p["conflicts"][0]["source"].as_str())
            .unwrap();
        assert!(notes.contains(other), "{field}: {notes}");
    }
    for source in ["hubspot", "github"] {
        assert_eq!(
            browser
                .eval(&format!(
                    "document.querySelector('#profile tr[data-source={source}]').dataset.status"
                ))
                .await,
            json!("ok"),
            "{source}"
        );
    }
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#profile svg.timeline rect').length")
            .await,
        json!(2),
        "one bar per connector called"
    );
    browser.screenshot("03-try-it").await;

    // The dry run calls nothing; past the cache, it would call github.
    browser.click("#try-form [name=refresh]").await;
    browser.click("#try-dry-run").await;
    browser.shown("#dry-run").await;
    assert_eq!(
        browser
            .eval("document.querySelector('#dry-run tr[data-connector=github]').dataset.call")
            .await,
        json!("yes")
    );

    // Connectors: disable github, confirmed in a dialog; the API says it is disabled.
    browser.go(&format!("{console}#connectors")).await;
    browser
        .click("#connectors-list tr[data-connector=github] button[data-action=disable]")
        .await;
    browser.shown("#confirm").await;
    browser.screenshot("04-confirm-disable").await;
    browser.click("#confirm-ok").await;
    browser
        .until("document.querySelector('#connectors-list tr[data-connector=github]')?.dataset.enabled === 'false'")
        .await;
    let github = app.get("/v1/connectors/github").await;
    assert_eq!(github.body["enabled"], false, "{}", github.body);
    assert!(
        browser
            .text("#message")
            .await
            .contains("github: disable done")
    );
    browser
        .click("#connectors-list tr[data-connector=hubspot] .link")
        .await;
    let config = browser
        .shown("#connector-config")
        .await
        .text()
        .await
        .unwrap();
    assert!(config.contains("***"), "secrets masked: {config}");
    browser.screenshot("05-connectors").await;

    // Jobs: one submitted from the console runs to the end with its progress shown.
    browser.go(&format!("{console}#jobs")).await;
    browser.click("#jobs-new summary").await;
    browser
        .fill(
            "#jobs-subjects",
            "{\"user_id\": \"job-1\", \"email\": \"bcooper@biglytics.net\"}\n{\"user_id\": \"job-2\", \"colour\": \"red\"}",
        )
        .await;
    browser.click("#jobs-submit").await;
    browser
        .until(
            "document.querySelector('#jobs-list tr[data-status=completed] progress')?.value === 2",
        )
        .await;
    browser
        .click("#jobs-list tr[data-status=completed] td.actions button")
        .await;
    browser
        .until("document.getElementById('message').textContent.includes('downloaded (2 lines)')")
        .await;
    browser.screenshot("06-jobs").await;

    // Erasure, by keyboard: the dialog's Erase waits for the user id typed in full.
    browser.go(&format!("{console}#privacy")).await;
    browser.fill("#erase-user", "console-user\n").await;
    browser.shown("#confirm-typed").await;
    assert_eq!(
        browser
            .eval("document.getElementById('confirm-ok').disabled")
            .await,
        json!(true)
    );
    browser.fill("#confirm-typed", "console-use").await;
    assert_eq!(
        browser
            .eval("document.getElementById('confirm-ok').disabled")
            .await,
        json!(true),
        "not until typed in full"
    );
    browser.screenshot("07-erase-confirm").await;
    browser.fill("#confirm-typed", "console-user\n").await;
    browser
        .until("document.getElementById('message').textContent.includes('console-user erased')")
        .await;
    let erased = app.get_profile("console-user").await;
    assert_eq!(erased.status, 404, "{}", erased.body);

    // The overview draws its figures from /metrics (two scrapes apart).
    browser.go(&format!("{console}#overview")).await;
    browser
        .until("document.querySelector('[data-figure=rate] .figure')?.textContent.match(/^[0-9]/)")
        .await;
    // Each connector's health is the gauge's, and the disabled github's circuit is closed.
    let metrics = app.metrics().await;
    for connector in ["hubspot", "github"] {
        let healthy = metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "enrichd_connector_healthy{{connector=\"{connector}\"}}"
                ))
            })
            .map(|l| l.ends_with(" 1"));
        let expected = match healthy {
            Some(true) => "healthy",
            Some(false) => "unhealthy",
            None => "unknown",
        };
        let row = browser
            .text(&format!(
                "#overview-connectors tr[data-connector={connector}]"
            ))
            .await;
        assert!(row.contains(expected), "{connector}: {row} ({expected})");
    }
    browser.screenshot("08-overview").await;

    assert_same_origin(&browser, &app).await;
    browser.close().await;
}

#[tokio::test]
async fn the_console_fits_a_360_pixel_screen_and_an_api_key_sees_no_admin_actions() {
    let app = app().await;
    let browser = Browser::start("console-narrow", 360, 800).await;
    let console = app.url("/console");
    browser.client.goto(&console).await.unwrap();
    browser.fill("#signin-key", &format!("{API_KEY}\n")).await;
    browser.shown("#nav").await;
    let who = browser.text("#who-text").await;
    assert!(
        who.contains("API key") && who.contains("tenant default"),
        "{who}"
    );

    browser.go(&format!("{console}#connectors")).await;
    browser.shown("#connectors-list").await;
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#connectors-list button[data-action]').length")
            .await,
        json!(0),
        "no lifecycle buttons for an API key"
    );
    assert!(
        browser
            .shown("#connectors-admin-note")
            .await
            .is_displayed()
            .await
            .unwrap()
    );

    try_it(
        &browser,
        &console,
        &[("user_id", "narrow-user"), ("github", "octocat")],
    )
    .await;
    // Nothing wider than the screen: wide tables scroll inside their own box.
    assert_eq!(
        browser
            .eval("document.documentElement.scrollWidth <= window.innerWidth")
            .await,
        json!(true),
        "page width {} at {}",
        browser.eval("document.documentElement.scrollWidth").await,
        browser.eval("window.innerWidth").await
    );
    browser.screenshot("try-it-360px").await;
    assert_same_origin(&browser, &app).await;

    // Signing out forgets the key and leaves nothing of what it saw.
    browser.click("#sign-out").await;
    let said = browser.shown("#signin-error").await.text().await.unwrap();
    assert!(said.contains("Signed out"), "{said}");
    assert_eq!(
        browser
            .eval("sessionStorage.getItem('enrichd.console.key')")
            .await,
        Value::Null
    );
    assert_eq!(
        browser
            .eval("document.getElementById('try-result').childElementCount")
            .await,
        json!(0)
    );
    assert_eq!(
        browser.eval("document.getElementById('nav').hidden").await,
        json!(true)
    );
    browser.close().await;
}

#[tokio::test]
async fn with_authentication_off_the_console_needs_no_sign_in() {
    let app = TestAppBuilder::new().spawn().await;
    let browser = Browser::start("console-open", 1280, 900).await;
    browser.client.goto(&app.url("/console")).await.unwrap();
    browser.shown("#nav").await;
    assert!(
        browser
            .text("#who-text")
            .await
            .contains("Authentication is off")
    );
    assert_eq!(
        browser
            .eval("document.getElementById('signin').hidden")
            .await,
        json!(true)
    );
    browser.shown("#overview-cards .card").await;
    browser.close().await;
}

#[tokio::test]
async fn the_consoles_arithmetic_is_promqls_and_reads_what_enrichd_writes() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    let browser = Browser::start("console-units", 1280, 900).await;
    browser.go(&app.url("/console")).await;
    browser.shown("#nav").await;
    // The console's own modules, imported into the page and run on known inputs.
    let answer = browser
        .client
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            Promise.all([import("./console/metrics.js"), import("./console/profile.js")]).then(([m, p]) => {
              const text = [
                '# HELP enrichd_http_requests_total Requests.',
                'enrichd_http_requests_total{method="POST",route="/v1/enrich",status="200"} 90',
                'enrichd_http_requests_total{method="POST",route="/v1/enrich",status="502"} 10',
                'enrichd_http_requests_total{method="GET",route="/metrics",status="200"} 7',
                'weird{label="a \\"quoted\\", comma"} 3',
                'not a sample',
              ].join("\n");
              const samples = m.parse(text);
              const cumulative = [[0.005, 0], [0.01, 50], [0.025, 100], [Infinity, 100]];
              const before = m.snapshot(m.parse('enrichd_http_requests_total{route="/v1/enrich",status="200"} 40\nenrichd_connector_requests_total{connector="x",status="ok"} 500'), 0);
              const after = m.snapshot(m.parse('enrichd_http_requests_total{route="/v1/enrich",status="200"} 60\nenrichd_http_requests_total{route="/v1/enrich",status="503"} 5\nenrichd_connector_requests_total{connector="x",status="ok"} 3\nenrichd_connector_requests_total{connector="x",status="timeout"} 1'), 5000);
              const figures = m.between(after, before);
              const provenance = {"identity.name": {source: "hubspot"}, "contextual.hubspot": {source: "hubspot"}};
              done({
                count: samples.length,
                label: samples.find((s) => s.name === "weird").labels.label,
                api: m.total(samples, "enrichd_http_requests_total", (l) => l.route.startsWith("/v1/")),
                p99: m.quantile(0.99, cumulative),
                p50: m.quantile(0.5, cumulative),
                beyond: m.quantile(0.99, [[0.1, 0], [Infinity, 10]]),
                empty: m.quantile(0.99, [[0.1, 0], [Infinity, 0]]),
                rate: figures.rate, errors: figures.errors,
                connector: figures.connectors[0],
                timing: p.serverTiming('cache;desc="miss", hubspot;dur=21, total;dur=24.3'),
                leaves: p.leaves({name: "Ada", handles: {github: "ada"}, emails: ["a@b.c"]}, provenance, "identity"),
                contextual: p.leaves({hubspot: {lead_score: 61}}, provenance, "contextual"),
                nearest: p.provenanceOf("contextual.hubspot.lead_score", provenance).source,
                none: p.provenanceOf("demographics.city", provenance),
              });
            });"#,
            vec![],
        )
        .await
        .expect("the modules run");
    assert_eq!(answer["count"], 4, "{answer}");
    assert_eq!(answer["label"], "a \"quoted\", comma");
    assert_eq!(answer["api"], 100);
    // histogram_quantile: linear within the bucket the rank falls in.
    assert!(
        (answer["p99"].as_f64().unwrap() - 0.0247).abs() < 1e-9,
        "{answer}"
    );
    assert!(
        (answer["p50"].as_f64().unwrap() - 0.01).abs() < 1e-9,
        "{answer}"
    );
    assert_eq!(
        answer["beyond"], 0.1,
        "the +Inf bucket answers the last finite bound"
    );
    assert_eq!(answer["empty"], Value::Null);
    // 25 requests in 5 s, 5 of them 5xx; the connector's counter reset counts from zero.
    assert_eq!(answer["rate"], 5.0);
    assert_eq!(answer["errors"], 0.2);
    assert_eq!(answer["connector"]["failure"], 0.25);
    assert_eq!(answer["connector"]["rate"], 0.8);
    assert_eq!(answer["timing"]["hubspot"]["dur"], 21);
    assert_eq!(answer["timing"]["cache"]["desc"], "miss");
    assert_eq!(answer["timing"]["total"]["dur"], 24.3);
    assert_eq!(
        answer["leaves"],
        json!([
            ["identity.name", "Ada"],
            ["identity.handles.github", "ada"],
            ["identity.emails", ["a@b.c"]]
        ])
    );
    assert_eq!(
        answer["contextual"],
        json!([["contextual.hubspot", {"lead_score": 61}]])
    );
    assert_eq!(answer["nearest"], "hubspot");
    assert_eq!(answer["none"], Value::Null);
    browser.close().await;
}

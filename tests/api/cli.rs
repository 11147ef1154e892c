//! The `enrichd` binary itself: `check-config`, `demo`, and `serve` with its logs and its
//! shutdown.

use std::{
    io::Read,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::json;
use wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};

use crate::helpers::free_port;

const BINARY: &str = env!("CARGO_BIN_EXE_enrichd");

pub(crate) fn write_config(text: &str) -> tempfile_path::TempPath {
    tempfile_path::TempPath::with(text)
}

/// A minimal temporary-file helper (no extra crate needed).
pub(crate) mod tempfile_path {
    pub struct TempPath(pub std::path::PathBuf);

    impl TempPath {
        pub fn with(text: &str) -> TempPath {
            let path =
                std::env::temp_dir().join(format!("enrichd-test-{}.yaml", uuid::Uuid::new_v4()));
            std::fs::write(&path, text).expect("the temp dir is writable");
            TempPath(path)
        }
    }

    impl Drop for TempPath {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// Run `check-config` on `text`; it must refuse it (exit code 2). Its standard error.
fn check_config_refusing(text: &str) -> String {
    let config = write_config(text);
    let output = Command::new(BINARY)
        .args(["check-config", "--config"])
        .arg(&config.0)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Wait (at most 15 s) until the binary at `base` answers `/healthz`; returns when waiting began.
pub(crate) async fn wait_until_serving(client: &reqwest::Client, base: &str) -> Instant {
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "enrichd did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started
}

#[test]
fn check_config_accepts_the_shipped_configuration() {
    let output = Command::new(BINARY)
        .args([
            "check-config",
            "--config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/config.yaml"),
        ])
        .env_remove("HUBSPOT_ENABLED")
        .output()
        .unwrap();

    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Configuration is valid"));
}

#[test]
fn check_config_reports_every_problem_and_fails() {
    let stderr = check_config_refusing(
        "server: {bind: nowhere}\ncache: {ttl_seconds: -5}\nconnectors:\n  hubspot: {settings: {base_url: 'x'}}\n",
    );
    for path in [
        "server.bind",
        "cache.ttl_seconds",
        "connectors.hubspot.settings.base_url",
        "connectors.hubspot.settings.access_token",
    ] {
        assert!(stderr.contains(path), "`{path}` missing from:\n{stderr}");
    }
}

#[test]
fn check_config_names_negative_costs_and_unknown_or_shared_waterfall_connectors() {
    let stderr = check_config_refusing(
        "connectors:\n  github: {cost: {per_call: -0.5}}\n  gravatar: {}\n\
         enrichment: {waterfalls: {\
         a: {connectors: [github, clearbit], until: {fields: [identity.company]}}, \
         b: {connectors: [gravatar, github], until: {fields: [identity.company]}}}}\n",
    );
    for expected in [
        "connectors.github.cost.per_call: -0.5 is not an amount of credits",
        "enrichment.waterfalls.a.connectors[1]: `clearbit` is not a configured connector",
        "enrichment.waterfalls.b.connectors[1]: `github` is already in waterfall `a`",
    ] {
        assert!(
            stderr.contains(expected),
            "`{expected}` missing from:\n{stderr}"
        );
    }
}

#[test]
fn check_config_reports_a_missing_variable_together_with_every_other_problem() {
    let config = write_config(
        "server: {bind: nowhere}\nauth: {api_keys: [\"${ENRICHD_TEST_NEVER_SET}\"]}\ncache: {ttl_seconds: 0}\n",
    );

    let output = Command::new(BINARY)
        .args(["check-config", "--config"])
        .arg(&config.0)
        .env_remove("ENRICHD_TEST_NEVER_SET")
        .output()
        .unwrap();

    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "ENRICHD_TEST_NEVER_SET is not set",
        "server.bind",
        "cache.ttl_seconds",
    ] {
        assert!(
            stderr.contains(expected),
            "`{expected}` missing from:\n{stderr}"
        );
    }
}

#[test]
fn check_config_refuses_credentials_in_a_base_url_without_showing_them() {
    let stderr = check_config_refusing(
        "connectors:\n  github: {settings: {base_url: \"http://robot:hunter2@api.github.com\"}}\n  gravatar: {settings: {base_url: \"http://robot:hunter3@gravatar.example:99999\"}}\n",
    );
    assert!(
        stderr.contains("connectors.github.settings.base_url"),
        "{stderr}"
    );
    assert!(
        stderr.contains("connectors.gravatar.settings.base_url"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter"), "a password is shown:\n{stderr}");
}

#[test]
fn serve_refuses_to_start_on_a_bad_configuration() {
    let config = write_config("enrichment: {deadline_ms: 0}\n");

    let output = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config.0)
        .output()
        .unwrap();

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("enrichment.deadline_ms"));
}

#[tokio::test]
async fn serve_logs_no_secrets_or_emails_and_stops_cleanly_on_sigterm() {
    let upstream = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_string(r#"{"message":"bcooper@biglytics.net is not allowed"}"#),
        )
        .mount(&upstream)
        .await;
    let port = free_port();
    let config = write_config(&format!(
        r#"
server: {{bind: "127.0.0.1:{port}", workers: 1, shutdown_timeout_seconds: 2}}
auth: {{api_keys: ["${{TEST_API_KEY}}"]}}
connectors:
  hubspot: {{settings: {{base_url: "{url}", access_token: "${{TEST_HUBSPOT_TOKEN}}"}}}}
  github: {{settings: {{base_url: "{url}", token: "ghp_supersecret"}}}}
"#,
        url = upstream.uri()
    ));
    let mut child = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config.0)
        .env("TEST_API_KEY", "key-verysecret")
        .env("TEST_HUBSPOT_TOKEN", "pat-na1-secret")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = wait_until_serving(&client, &base).await;

    let answer = client
        .post(format!("{base}/v1/enrich"))
        .bearer_auth("key-verysecret")
        .json(&json!({"user_id": "cli-1", "email": "bcooper@biglytics.net", "phone": "+442071838750", "handles": {"github": "octocat"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        502,
        "both upstreams refuse the credentials"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "enrichd did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "SIGTERM is a clean exit, got {exit:?}");

    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(
        logs.contains("Connector call failed"),
        "the failures are logged:\n{logs}"
    );
    for secret in [
        "bcooper@biglytics.net",
        "+442071838750",
        "key-verysecret",
        "pat-na1-secret",
        "ghp_supersecret",
    ] {
        assert!(
            !logs.contains(secret),
            "`{secret}` appears in the logs:\n{logs}"
        );
    }
}

/// `enrichd serve --config <config>`, its output kept for the test to read.
fn serve_piped(config: &std::path::Path) -> std::process::Child {
    Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn serve_warns_loudly_when_authentication_is_off() {
    // The port is free when picked, but another test may take it before enrichd binds it:
    // then enrichd exits at once (and what answers on the port is not it), so pick again.
    let (child, _config) = (0..5)
        .find_map(|_| {
            let port = free_port();
            let config = write_config(&format!(
                "server: {{bind: \"127.0.0.1:{port}\", workers: 1}}\nconnectors: {{}}\n"
            ));
            let mut child = serve_piped(&config.0);
            let started = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "enrichd did not start"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            // An enrichd that could not bind has exited by now.
            std::thread::sleep(Duration::from_millis(200));
            match child.try_wait().unwrap() {
                None => Some((child, config)),
                Some(_) => None,
            }
        })
        .expect("enrichd started on one of 5 free ports");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {logs}", output.status);
    assert!(logs.contains("AUTHENTICATION IS OFF"), "{logs}");
}

#[tokio::test]
async fn sigterm_turns_readiness_off_lets_in_flight_requests_finish_and_exits_zero() {
    let upstream = MockServer::start().await;
    Mock::given(any())
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(
                    include_str!("../../connectors/github/fixtures/user-octocat.json"),
                    "application/json",
                )
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&upstream)
        .await;
    let port = free_port();
    let config = write_config(&format!(
        r#"
server: {{bind: "127.0.0.1:{port}", workers: 1, shutdown_timeout_seconds: 5, drain_delay_seconds: 1}}
enrichment: {{deadline_ms: 4000}}
connectors:
  github: {{timeout_ms: 4000, settings: {{base_url: "{url}"}}}}
"#,
        url = upstream.uri()
    ));
    let mut child = serve_piped(&config.0);
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let started = wait_until_serving(&client, &base).await;

    let in_flight = tokio::spawn({
        let client = client.clone();
        let base = base.clone();
        async move {
            client
                .post(format!("{base}/v1/enrich"))
                .json(&json!({"user_id": "drain-1", "handles": {"github": "octocat"}}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let ready = client.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness is off at once");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "draining");
    assert_eq!(
        in_flight.await.unwrap(),
        200,
        "the in-flight request finished"
    );
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "enrichd did not stop"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "{exit:?}");
    let mut logs = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("enrichd stopped"), "{logs}");
}

#[tokio::test]
async fn sighup_reloads_the_configuration_and_refuses_an_invalid_one_whole() {
    let port = free_port();
    let base_config = format!(
        "server: {{bind: \"127.0.0.1:{port}\", workers: 1}}\nhealth_check: {{enabled: false}}\nconnectors:\n  github: {{settings: {{base_url: \"http://127.0.0.1:9\"}}}}\n"
    );
    let config = write_config(&base_config);
    let mut child = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_serving(&client, &base).await;
    let names = async || -> Vec<String> {
        let list: serde_json::Value = client
            .get(format!("{base}/v1/connectors"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["connectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let metric = async |result: &str| -> bool {
        let text = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.contains(&format!(
            "enrichd_config_reloads_total{{result=\"{result}\"}} 1"
        ))
    };
    let hangup = || {
        Command::new("kill")
            .args(["-HUP", &child.id().to_string()])
            .status()
            .unwrap();
    };
    assert_eq!(names().await, ["github"]);

    let usage = async || -> serde_json::Value {
        client
            .get(format!("{base}/v1/usage"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    };
    assert!(usage().await.get("budget").is_none());

    std::fs::write(
        &config.0,
        format!(
            "{base_config}  gravatar: {{settings: {{base_url: \"http://127.0.0.1:9\"}}}}\nbudgets: {{default: {{daily: 25}}}}\n"
        ),
    )
    .unwrap();
    hangup();
    let waited = Instant::now();
    while !metric("ok").await {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "the reload was not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(names().await, ["github", "gravatar"]);
    assert_eq!(
        usage().await["budget"],
        25.0,
        "budgets are applied by a reload"
    );

    std::fs::write(&config.0, "server: {bind: nowhere}\nconnectors: {}\n").unwrap();
    hangup();
    let waited = Instant::now();
    while !metric("error").await {
        assert!(
            waited.elapsed() < Duration::from_secs(5),
            "the refusal was not counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        names().await,
        ["github", "gravatar"],
        "the old configuration stays"
    );
    assert_eq!(
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(child.wait().unwrap().success());
}

#[test]
fn check_config_names_each_bad_encryption_key_without_showing_it() {
    let stderr = check_config_refusing(
        "cache:\n  encryption_keys:\n    - {id: k1, key: \"c2VjcmV0LXRvby1zaG9ydA==\"}\n    - {id: \"bad id\", key: \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"}\n",
    );
    assert!(stderr.contains("cache.encryption_keys[0]"), "{stderr}");
    assert!(stderr.contains("32 random bytes"), "{stderr}");
    assert!(stderr.contains("cache.encryption_keys[1]"), "{stderr}");
    assert!(!stderr.contains("c2VjcmV0"), "a key is shown:\n{stderr}");
    assert!(!stderr.contains("AAECAwQF"), "a key is shown:\n{stderr}");
}

#[tokio::test]
async fn the_demo_enriches_the_sample_user_offline_and_keeps_serving() {
    let port = free_port();
    let mut demo = Command::new(BINARY)
        .args(["demo", "--bind", &format!("127.0.0.1:{port}")])
        .env_remove("ENRICHD_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Its output up to the last line it prints once ready, read on a thread of its own.
    let mut stdout = demo.stdout.take().unwrap();
    let (sender, printed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        let mut buffer = [0u8; 4096];
        while let Ok(read) = stdout.read(&mut buffer) {
            if read == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buffer[..read]));
            if seen.contains("/console\n") {
                break;
            }
        }
        let _ = sender.send(seen);
    });
    let output = printed.recv_timeout(Duration::from_secs(60)).unwrap();

    assert!(output.contains("Enriched the sample user"), "{output}");
    assert!(output.contains("\"cache\": \"miss\""), "{output}");
    let base = format!("http://127.0.0.1:{port}");
    assert!(output.contains(&format!("{base}/docs")), "{output}");
    let client = reqwest::Client::new();
    let docs = client.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(output.contains(&format!("{base}/console\n")), "{output}");
    let console = client.get(format!("{base}/console")).send().await.unwrap();
    assert_eq!(console.status(), 200);
    let profile = client
        .get(format!("{base}/v1/profiles/demo-user-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(profile.status(), 200, "the sample user is cached");

    Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .unwrap();
    let exit = demo.wait().unwrap();
    assert!(exit.success(), "SIGTERM is a clean exit, got {exit:?}");
}

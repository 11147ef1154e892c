//! Bulk jobs across real `enrichd` processes: a replica killed mid-job (SIGKILL) has its
//! subjects taken over by the other, each recorded once; and `enrichd jobs` (the CLI)
//! submitting a file, following it and writing its results.

use std::{
    collections::HashMap,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;

use crate::{
    cli::{wait_until_serving, write_config},
    helpers::{RedisServer, TestAppBuilder, free_port, github_answering, octocat},
};

const BINARY: &str = env!("CARGO_BIN_EXE_enrichd");

struct Replica {
    child: Child,
    base: String,
    _config: crate::cli::tempfile_path::TempPath,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn replica(redis: &str, prefix: &str, github: &str) -> Replica {
    let port = free_port();
    let config = write_config(&format!(
        r#"
server: {{bind: "127.0.0.1:{port}", workers: 1}}
health_check: {{enabled: false}}
cache: {{redis_url: "{redis}", key_prefix: "{prefix}"}}
jobs: {{workers: 4, claim_idle_ms: 1600}}
connectors:
  github: {{settings: {{base_url: "{github}"}}, retry: {{max_attempts: 1}}}}
"#
    ));
    let child = Command::new(BINARY)
        .args(["serve", "--config"])
        .arg(&config.0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    wait_until_serving(&reqwest::Client::new(), &base).await;
    Replica {
        child,
        base,
        _config: config,
    }
}

async fn job(client: &reqwest::Client, base: &str, id: &str) -> Value {
    client
        .get(format!("{base}/v1/jobs/{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_replica_killed_mid_job_has_its_subjects_taken_over_and_each_recorded_once() {
    let github = github_answering(octocat().set_delay(Duration::from_millis(100))).await;
    let redis = RedisServer::start();
    let prefix = "kill:";
    let mut first = replica(&redis.url(), prefix, &github.uri()).await;
    let second = replica(&redis.url(), prefix, &github.uri()).await;
    let client = reqwest::Client::new();
    let body: String = (0..200)
        .map(|i| format!("{{\"user_id\":\"k-{i}\",\"handles\":{{\"github\":\"k-{i}\"}}}}\n"))
        .collect();
    let answer: Value = client
        .post(format!("{}/v1/jobs", first.base))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["job_id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    while job(&client, &second.base, &id).await["counts"]["done"].as_u64() < Some(30) {
        assert!(started.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.child.kill().unwrap(); // SIGKILL: its claimed subjects stay pending
    first.child.wait().unwrap();
    let finished = loop {
        let job = job(&client, &second.base, &id).await;
        if job["status"] != "running" {
            break job;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(finished["status"], "completed", "{finished}");
    assert_eq!(finished["counts"]["done"], 200);
    assert_eq!(finished["counts"]["ok"], 200);

    let text = client
        .get(format!("{}/v1/jobs/{id}/results", second.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let indexes: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(
        indexes,
        (0..200).collect::<Vec<_>>(),
        "each subject once, in order"
    );
    let mut calls: HashMap<String, usize> = HashMap::new();
    for request in github.received_requests().await.unwrap() {
        *calls.entry(request.url.path().to_owned()).or_default() += 1;
    }
    assert_eq!(calls.len(), 200, "every subject was looked up");
    // Only the subjects the killed replica had in hand may have been looked up twice.
    let twice = calls.values().filter(|&&n| n > 1).count();
    assert!(twice <= 4, "{twice} subjects were looked up more than once");
}

#[tokio::test]
async fn the_cli_submits_a_file_follows_it_and_writes_the_results() {
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .without_redis()
        .without_upstream("hubspot")
        .upstream("github", &github.uri())
        .api_key("cli-key")
        .spawn()
        .await;
    let dir = std::env::temp_dir().join(format!("enrichd-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("subjects.ndjson");
    let lines: String = (0..5)
        .map(|i| format!("{{\"user_id\":\"c-{i}\",\"handles\":{{\"github\":\"c-{i}\"}}}}\n"))
        .collect();
    std::fs::write(&input, format!("{lines}{{\"user_id\": 5}}\n")).unwrap();
    let out = dir.join("results.ndjson");
    let address = app.address.clone();
    let (input_arg, out_arg) = (input.clone(), out.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(["jobs", "submit"])
            .arg(&input_arg)
            .args(["--url", &address, "--follow", "--out"])
            .arg(&out_arg)
            .env("ENRICHD_API_KEY", "cli-key")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // One invalid line: the job still completes (the line is reported in the results).
    assert!(output.status.success(), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["status"], "completed");
    assert_eq!(summary["counts"]["ok"], 5);
    assert_eq!(summary["counts"]["failed"], 1);
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(written.lines().count(), 6);
    assert!(stderr.contains("Wrote 6 results"), "{stderr}");

    let id = summary["job_id"].as_str().unwrap();
    let status = Command::new(BINARY)
        .args([
            "jobs",
            "status",
            id,
            "--url",
            &app.address,
            "--api-key",
            "cli-key",
        ])
        .output()
        .unwrap();
    assert!(status.status.success());
    let shown: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(shown["counts"]["done"], 6);

    let unreachable = Command::new(BINARY)
        .args(["jobs", "status", id, "--url", "http://127.0.0.1:9"])
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot reach enrichd"));
    let refused = Command::new(BINARY)
        .args([
            "jobs",
            "status",
            id,
            "--url",
            &app.address,
            "--api-key",
            "wrong",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    let _ = std::fs::remove_dir_all(dir);
}

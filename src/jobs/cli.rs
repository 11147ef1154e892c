//! `enrichd jobs`: submit an NDJSON file as a job and follow it with a progress bar, writing
//! its results; or show a job. Talks to a running enrichd over its public API only.

use std::{path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// How often a followed job is asked for its progress.
const POLL: Duration = Duration::from_millis(500);

#[derive(Subcommand)]
pub enum JobsCommand {
    /// Submit FILE (NDJSON: one subject a line) as a job.
    Submit {
        file: PathBuf,
        /// enrichd's base URL.
        #[arg(long, env = "ENRICHD_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, env = "ENRICHD_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
        /// Wait for the job to end, showing its progress.
        #[arg(long)]
        follow: bool,
        /// Write the results (NDJSON) here once the job ends (implies --follow).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Where enrichd POSTs the signed notice when the job ends.
        #[arg(long)]
        webhook_url: Option<String>,
        /// Skip the cache for every subject.
        #[arg(long)]
        refresh: bool,
    },
    /// Show a job's status and counts.
    Status {
        id: String,
        #[arg(long, env = "ENRICHD_URL", default_value = "http://127.0.0.1:8080")]
        url: String,
        #[arg(long, env = "ENRICHD_API_KEY", hide_env_values = true)]
        api_key: Option<String>,
    },
}

/// Run one `enrichd jobs` command.
pub async fn run(command: JobsCommand) -> anyhow::Result<()> {
    match command {
        JobsCommand::Submit {
            file,
            url,
            api_key,
            follow,
            out,
            webhook_url,
            refresh,
        } => {
            let api = Api::new(&url, api_key)?;
            let body = tokio::fs::read(&file)
                .await
                .with_context(|| format!("cannot read {}", file.display()))?;
            let mut query = Vec::new();
            if let Some(webhook) = webhook_url {
                query.push(("webhook_url", webhook));
            }
            if refresh {
                query.push(("refresh", "true".to_owned()));
            }
            let request = api
                .request(reqwest::Method::POST, "/v1/jobs")
                .query(&query)
                .header("content-type", "application/x-ndjson")
                .body(body);
            let job = api.json(request).await?;
            let id = job["job_id"]
                .as_str()
                .context("the answer has no job_id")?
                .to_owned();
            eprintln!("Job {id} queued: {} subjects.", job["total"]);
            if !follow && out.is_none() {
                println!("{id}");
                return Ok(());
            }
            let job = follow_job(&api, &id).await?;
            if let Some(out) = out {
                let written = api.download(&id, &out).await?;
                eprintln!("Wrote {written} results to {}.", out.display());
            }
            println!("{}", serde_json::to_string(&job)?);
            if job["status"] != "completed" {
                bail!("the job ended {}", job["status"]);
            }
            Ok(())
        }
        JobsCommand::Status { id, url, api_key } => {
            let api = Api::new(&url, api_key)?;
            let job = api.status(&id).await?;
            println!("{}", serde_json::to_string_pretty(&job)?);
            Ok(())
        }
    }
}

/// Poll the job until it ends, drawing a progress bar on a terminal (done/total, rate, ETA).
async fn follow_job(api: &Api, id: &str) -> anyhow::Result<Value> {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} subjects ({per_sec}, ETA {eta}) {msg}",
        )
        .expect("the template is valid"),
    );
    loop {
        let job = api.status(id).await?;
        let counts = &job["counts"];
        bar.set_length(counts["total"].as_u64().unwrap_or(0));
        bar.set_position(counts["done"].as_u64().unwrap_or(0));
        bar.set_message(format!(
            "ok {} partial {} failed {} suppressed {}",
            counts["ok"], counts["partial"], counts["failed"], counts["suppressed"]
        ));
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            bar.finish();
            return Ok(job);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// A running enrichd's API.
struct Api {
    client: reqwest::Client,
    base: String,
    key: Option<String>,
}

impl Api {
    fn new(url: &str, key: Option<String>) -> anyhow::Result<Api> {
        let base = url.trim_end_matches('/').to_owned();
        reqwest::Url::parse(&base).with_context(|| format!("--url {base} is not a URL"))?;
        Ok(Api {
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(5))
                .build()?,
            base,
            key: key.filter(|k| !k.is_empty()),
        })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    async fn json(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach enrichd at {}", self.base))?;
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if !status.is_success() {
            let message = body["error"]["message"]
                .as_str()
                .unwrap_or("no error message");
            bail!("enrichd answered {status}: {message}");
        }
        Ok(body)
    }

    async fn status(&self, id: &str) -> anyhow::Result<Value> {
        self.json(self.request(reqwest::Method::GET, &format!("/v1/jobs/{id}")))
            .await
    }

    /// Stream the job's results into `out`; returns how many lines were written.
    async fn download(&self, id: &str, out: &PathBuf) -> anyhow::Result<u64> {
        let mut response = self
            .request(reqwest::Method::GET, &format!("/v1/jobs/{id}/results"))
            .send()
            .await?
            .error_for_status()?;
        let mut file = tokio::fs::File::create(out)
            .await
            .with_context(|| format!("cannot write {}", out.display()))?;
        let mut lines = 0;
        while let Some(chunk) = response.chunk().await? {
            lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        Ok(lines)
    }
}

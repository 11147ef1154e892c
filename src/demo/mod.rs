//! `enrichd demo`: local stand-ins of every connector's upstream, the service on the
//! in-process cache, one sample enrichment printed, then serving until Ctrl-C.

mod stand_in_server;

use std::collections::BTreeMap;

use anyhow::Context;
use enrichd_sdk::Subject;

pub use self::stand_in_server::StandInServer;
use crate::{
    config::{Config, ConnectorConfig, EMBEDDED_DEFAULT},
    connectors::Factories,
    privacy::KeyedHasher,
    startup::Application,
};

/// Run the demo, serving on `bind` (or a free port if that one is taken).
pub async fn run(bind: &str) -> anyhow::Result<()> {
    let factories = Factories::builtin();
    let mut config = Config::parse(
        EMBEDDED_DEFAULT,
        "the demo configuration",
        &|_| None,
        &factories,
    )?;
    config.server.bind = bind.to_owned();
    config.server.shutdown_timeout_seconds = 1;
    config.cache.redis_url = Default::default();
    config.auth = Default::default();
    config.connectors = BTreeMap::new();
    // Suppressions work in the demo, under a key of its own and in a file of its own: both
    // forgotten when it stops.
    config.hasher = Some(KeyedHasher::generate());
    config.privacy.state_file =
        std::env::temp_dir().join(format!("enrichd-demo-privacy-{}.json", std::process::id()));
    let privacy_file = config.privacy.state_file.clone();

    let mut sample = Subject::new("demo-user-1");
    let mut stand_ins = Vec::new();
    for factory in factories.iter() {
        let Some(stand_in) = factory.stand_in() else {
            continue;
        };
        let server = StandInServer::start(stand_in.clone())
            .with_context(|| format!("Failed to start the {} stand-in", factory.kind()))?;
        let connector = ConnectorConfig::new(factory.kind(), stand_in.settings(server.url()));
        println!("  stand-in for {:<10} {}", factory.kind(), server.url());
        config
            .connectors
            .insert(factory.kind().to_owned(), connector);
        stand_in.sample(&mut sample);
        stand_ins.push(server);
    }
    config
        .enrichment
        .priority
        .retain(|name| config.connectors.contains_key(name));

    let app = match Application::build(config.clone()).await {
        Ok(app) => app,
        Err(err) => {
            println!("  {bind} is not available ({err:#}); using a free port instead.");
            config.server.bind = "127.0.0.1:0".into();
            Application::build(config).await?
        }
    };
    let base = format!("http://127.0.0.1:{}", app.port());
    let serving = tokio::spawn(app.run_until_stopped());

    let profile = enrich_sample(&base, &sample).await?;
    println!("\nEnriched the sample user through POST {base}/v1/enrich:\n{profile}\n");
    print_examples(&base, &sample);
    let served = serving.await;
    drop(stand_ins);
    let _ = std::fs::remove_file(&privacy_file);
    served??;
    Ok(())
}

/// POST the sample subject to the running service, as a caller would.
async fn enrich_sample(base: &str, sample: &Subject) -> anyhow::Result<String> {
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/enrich"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(sample)?)
        .send()
        .await
        .context("Failed to call the demo service")?;
    let status = response.status();
    let body: serde_json::Value = serde_json::from_slice(&response.bytes().await?)?;
    anyhow::ensure!(
        status.is_success(),
        "the demo enrichment failed with {status}: {body}"
    );
    Ok(serde_json::to_string_pretty(&body)?)
}

fn print_examples(base: &str, sample: &Subject) {
    let subject = serde_json::to_string(sample).unwrap_or_default();
    println!("Try it (Ctrl-C stops the demo):");
    println!(
        "  curl -s -X POST {base}/v1/enrich -H 'content-type: application/json' -d '{subject}'"
    );
    println!("  curl -s {base}/v1/profiles/{}", sample.user_id);
    println!(
        "  curl -s {base}/v1/profiles/{}?refresh=true",
        sample.user_id
    );
    println!(
        "  curl -s -X DELETE {base}/v1/profiles/{} -o /dev/null -w '%{{http_code}}\\n'",
        sample.user_id
    );
    println!(
        "  curl -s -X POST {base}/v1/suppressions -H 'content-type: application/json' -d '{{\"email\": \"{}\"}}' -w '%{{http_code}}\\n'",
        sample.email.as_deref().unwrap_or("someone@example.com")
    );
    println!("  curl -s {base}/v1/audit");
    println!("  curl -s {base}/readyz");
    println!("  curl -s {base}/metrics | grep ^enrichd_");
    println!("The API's documentation, to read and try in a browser: {base}/docs");
    println!(
        "The console — overview, connectors, try it, jobs, erasure — in a browser: {base}/console"
    );
}

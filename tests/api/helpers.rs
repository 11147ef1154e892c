//! The test harness: a real `redis-server` per test, upstream stand-ins or wiremock servers on
//! loopback, and the real application started on port 0 exactly as `enrichd serve` starts it.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use enrichd::{config::Config, connectors::Factories, demo::StandInServer, startup::Application};
use enrichd_sdk::ConnectorFactory;
use serde_json::Value;

/// A private `redis-server` on a free loopback port; killed when dropped.
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

/// Install `redis-server` and `redis-sentinel` when they are missing, once per test run,
/// through the project's one setup path (`tools/ensure-tools.sh`): the README's test command
/// is the whole set-up. Panics when that fails: the tests need a real Redis and are never
/// skipped.
pub fn ensure_redis() {
    static ENSURED: std::sync::Once = std::sync::Once::new();
    ENSURED.call_once(|| {
        ensure_tools(
            &["redis-server", "redis-sentinel"],
            "apt-get install redis-server redis-sentinel",
        )
    });
}

/// Run `tools/ensure-tools.sh` with `tools` (`COMMAND[=PACKAGE]`); panics with `hint` when
/// they cannot be installed.
pub fn ensure_tools(tools: &[&str], hint: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/ensure-tools.sh");
    let status = Command::new(script)
        .args(tools)
        .status()
        .expect("tools/ensure-tools.sh runs");
    assert!(status.success(), "{tools:?} are needed ({hint})");
}

impl RedisServer {
    /// Start one (installing `redis-server` first if it is missing).
    pub fn start() -> RedisServer {
        ensure_redis();
        let mut server = RedisServer {
            child: None,
            port: free_port(),
        };
        server.restart();
        server
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Start (again) on the same port.
    pub fn restart(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server); the tests use a real Redis");
        self.child = Some(child);
        self.wait_until_up();
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(client) = redis::Client::open(self.url())
                && let Ok(mut connection) = client.get_connection()
                && redis::cmd("PING").query::<String>(&mut connection).is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    /// Kill it, as an outage would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A synchronous connection for inspecting keys.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("the test Redis accepts connections")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A three-master Redis Cluster on loopback, built with `redis-cli --cluster create`; its
/// nodes are killed when dropped.
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    pub fn start() -> RedisCluster {
        ensure_redis();
        let dir = std::env::temp_dir().join(format!("enrichd-cluster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let nodes: Vec<RedisServer> = (0..3)
            .map(|i| {
                let port = free_port();
                let conf = dir.join(format!("nodes-{i}.conf"));
                // The bus port is named: by default it is port + 10000, which Redis refuses
                // for ports above 55535 (a fifth of the ephemeral range).
                let bus = free_port();
                let child = Command::new("redis-server")
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--cluster-port", &bus.to_string()])
                    .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                    .arg(&conf)
                    .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-server must be installed (apt-get install redis-server)");
                let server = RedisServer {
                    child: Some(child),
                    port,
                };
                server.wait_until_up();
                server
            })
            .collect();
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli must be installed (it comes with redis-server)");
        assert!(
            created.status.success(),
            "{}",
            String::from_utf8_lossy(&created.stdout)
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &nodes {
            loop {
                let info: String = redis::cmd("CLUSTER")
                    .arg("INFO")
                    .query(&mut node.connection())
                    .unwrap_or_default();
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(Instant::now() < deadline, "the cluster did not form");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        RedisCluster { nodes }
    }

    /// The seed node URLs, as `cache.redis_cluster_nodes` takes them.
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}", n.port))
            .collect()
    }

    /// A cluster-aware synchronous connection for inspecting keys.
    pub fn connection(&self) -> redis::cluster::ClusterConnection {
        redis::cluster::ClusterClient::new(self.urls())
            .and_then(|c| c.get_connection())
            .expect("the test cluster accepts connections")
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// How to start a test application.
pub struct TestAppBuilder {
    redis: bool,
    api_keys: Vec<String>,
    /// API keys written as YAML objects (`{key: ..., tenant: ...}`).
    named_keys: Vec<String>,
    deadline_ms: u64,
    max_body_bytes: usize,
    /// connector name → (kind, base_url, timeout_ms); None base_url = its stand-in.
    upstreams: Vec<(String, Option<String>, Option<u64>)>,
    extra_cache: String,
    /// Share another app's Redis and key prefix (a second replica).
    replica_of: Option<(String, String)>,
    cluster: Option<Vec<String>>,
    extra_connector: String,
    health_check: String,
    admin_tokens: Vec<String>,
    extra_yaml: String,
    /// Connector entries written as they are (name, YAML flow without braces).
    raw_connectors: Vec<(String, String)>,
    workers: usize,
    extra_enrichment: String,
    extra_server: String,
}

impl TestAppBuilder {
    pub fn new() -> TestAppBuilder {
        TestAppBuilder {
            redis: true,
            api_keys: Vec::new(),
            named_keys: Vec::new(),
            deadline_ms: 800,
            max_body_bytes: 65_536,
            upstreams: vec![
                ("hubspot".into(), None, None),
                ("github".into(), None, None),
            ],
            extra_cache: String::new(),
            replica_of: None,
            cluster: None,
            extra_connector: String::new(),
            health_check: "enabled: false".into(),
            admin_tokens: Vec::new(),
            extra_yaml: String::new(),
            raw_connectors: Vec::new(),
            workers: 2,
            extra_enrichment: String::new(),
            extra_server: String::new(),
        }
    }

    /// Extra `server:` keys, in YAML flow syntax without braces.
    pub fn server(mut self, keys: &str) -> Self {
        self.extra_server = keys.to_owned();
        self
    }

    /// Add connector `name` exactly as `keys` says (YAML flow syntax without braces).
    pub fn connector_yaml(mut self, name: &str, keys: &str) -> Self {
        self.upstreams.retain(|(n, _, _)| n != name);
        self.raw_connectors.push((name.to_owned(), keys.to_owned()));
        self
    }

    /// Leave connector `name` out of the configuration.
    pub fn without_upstream(mut self, name: &str) -> Self {
        self.upstreams.retain(|(n, _, _)| n != name);
        self
    }

    /// HTTP worker threads (2 unless set).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Extra `enrichment:` keys, in YAML flow syntax without braces.
    pub fn enrichment(mut self, keys: &str) -> Self {
        self.extra_enrichment = keys.to_owned();
        self
    }

    /// Run the background health checker with these keys (YAML flow, without braces).
    pub fn health_check(mut self, keys: &str) -> Self {
        self.health_check = keys.to_owned();
        self
    }

    pub fn admin_token(mut self, token: &str) -> Self {
        self.admin_tokens.push(token.to_owned());
        self
    }

    /// Extra top-level configuration (YAML).
    pub fn yaml(mut self, text: &str) -> Self {
        self.extra_yaml.push_str(text);
        self
    }

    /// Run as another replica of `app`: same Redis, same key prefix, own in-process tier.
    pub fn replica_of(mut self, app: &TestApp) -> Self {
        self.replica_of = Some((app.redis().url(), app.prefix.clone()));
        self.redis = false;
        self
    }

    /// Use the Redis at `url` (which this test does not own) with a fresh key prefix.
    pub fn redis_url(mut self, url: &str) -> Self {
        let prefix = format!("t{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        self.replica_of = Some((url.to_owned(), prefix));
        self.redis = false;
        self
    }

    /// Use a Redis Cluster (with `prefix` shared by every app on it).
    pub fn cluster(mut self, cluster: &RedisCluster, prefix: &str) -> Self {
        self.cluster = Some(cluster.urls());
        self.replica_of = Some((String::new(), prefix.to_owned()));
        self.redis = false;
        self
    }

    /// Extra keys for every connector entry, in YAML flow syntax without braces.
    pub fn connector_options(mut self, keys: &str) -> Self {
        self.extra_connector = keys.to_owned();
        self
    }

    /// Keep profiles in process instead of Redis.
    pub fn without_redis(mut self) -> Self {
        self.redis = false;
        self
    }

    pub fn api_key(mut self, key: &str) -> Self {
        self.api_keys.push(key.to_owned());
        self
    }

    /// An API key of `tenant`, named `name` (requests send it with [`TestApp::send_as`]).
    pub fn tenant_key(mut self, key: &str, name: &str, tenant: &str) -> Self {
        self.named_keys.push(format!(
            "{{key: \"{key}\", name: \"{name}\", tenant: \"{tenant}\"}}"
        ));
        self
    }

    /// `privacy:` with the test hash key and `keys` (YAML flow without braces).
    pub fn privacy(mut self, keys: &str) -> Self {
        self.extra_yaml.push_str(&format!(
            "privacy: {{hash_key: \"{TEST_HASH_KEY}\", {keys}}}\n"
        ));
        self
    }

    pub fn deadline_ms(mut self, ms: u64) -> Self {
        self.deadline_ms = ms;
        self
    }

    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// Extra `cache:` keys, in YAML flow syntax without braces (`ttl_seconds: 5`).
    pub fn cache(mut self, keys: &str) -> Self {
        self.extra_cache = keys.to_owned();
        self
    }

    /// Point connector `name` (kind = name) at `base_url` instead of its stand-in.
    pub fn upstream(mut self, name: &str, base_url: &str) -> Self {
        self.set_upstream(name, Some(base_url.to_owned()), None);
        self
    }

    /// Like [`upstream`](Self::upstream), with a per-connector timeout.
    pub fn upstream_with_timeout(mut self, name: &str, base_url: &str, timeout_ms: u64) -> Self {
        self.set_upstream(name, Some(base_url.to_owned()), Some(timeout_ms));
        self
    }

    fn set_upstream(&mut self, name: &str, url: Option<String>, timeout: Option<u64>) {
        self.upstreams.retain(|(n, _, _)| n != name);
        self.upstreams.push((name.to_owned(), url, timeout));
    }

    pub async fn spawn(self) -> TestApp {
        let factories = Factories::builtin();
        let redis = self.redis.then(RedisServer::start);
        let (shared_url, prefix) = match &self.replica_of {
            Some((url, prefix)) => (Some(url.clone()), prefix.clone()),
            None => (
                None,
                format!("t{}:", &uuid::Uuid::new_v4().simple().to_string()[..8]),
            ),
        };
        let mut stand_ins = Vec::new();
        let mut connectors = String::new();
        for (name, url, timeout) in &self.upstreams {
            let factory = factories.get(name).expect("a builtin connector kind");
            let settings = match url {
                Some(url) => default_settings(factory.as_ref(), url),
                None => {
                    let stand_in = factory.stand_in().expect("the connector has a stand-in");
                    let server = StandInServer::start(stand_in.clone()).expect("stand-in starts");
                    let settings = stand_in.settings(server.url());
                    stand_ins.push(server);
                    settings
                }
            };
            let timeout = timeout
                .map(|t| format!("timeout_ms: {t}, "))
                .unwrap_or_default();
            let extra = if self.extra_connector.is_empty() {
                "retry: {max_attempts: 1}".to_owned()
            } else {
                self.extra_connector.clone()
            };
            connectors.push_str(&format!(
                "  {name}: {{kind: {name}, {timeout}{extra}, settings: {settings}}}\n"
            ));
        }
        for (name, keys) in &self.raw_connectors {
            connectors.push_str(&format!("  {name}: {{{keys}}}\n"));
        }
        let mut keys: Vec<String> = self.api_keys.iter().map(|k| format!("\"{k}\"")).collect();
        keys.extend(self.named_keys.iter().cloned());
        let admin: Vec<String> = self
            .admin_tokens
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect();
        let redis_url = shared_url
            .or_else(|| redis.as_ref().map(RedisServer::url))
            .unwrap_or_default();
        let cluster_nodes = self
            .cluster
            .as_ref()
            .map(|nodes| {
                let quoted: Vec<String> = nodes.iter().map(|n| format!("\"{n}\"")).collect();
                format!("redis_cluster_nodes: [{}], ", quoted.join(", "))
            })
            .unwrap_or_default();
        // Runtime connector state lives in a file without Redis: one per app, so that tests
        // do not see each other's enable/disable.
        let own_state_file = (!self.extra_yaml.contains("state_file:")).then(|| {
            std::env::temp_dir().join(format!(
                "enrichd-test-state-{}.json",
                uuid::Uuid::new_v4().simple()
            ))
        });
        let state_file = own_state_file
            .as_ref()
            .map(|file| format!("state_file: \"{}\"\n", file.display()))
            .unwrap_or_default();
        let yaml = format!(
            r#"
{state_file}server: {{bind: "127.0.0.1:0", workers: {workers}, max_body_bytes: {max_body}, shutdown_timeout_seconds: 1, {extra_server}}}
auth: {{api_keys: [{keys}], admin_tokens: [{admin}]}}
health_check: {{{health_check}}}
{extra_yaml}
cache: {{redis_url: "{redis_url}", {cluster_nodes}key_prefix: "{prefix}", {extra_cache}}}
enrichment: {{deadline_ms: {deadline}, priority: [{priority}], {extra_enrichment}}}
connectors:
{connectors}"#,
            max_body = self.max_body_bytes,
            keys = keys.join(", "),
            admin = admin.join(", "),
            health_check = self.health_check,
            extra_yaml = self.extra_yaml,
            extra_cache = self.extra_cache,
            deadline = self.deadline_ms,
            workers = self.workers,
            priority = ["hubspot", "github"]
                .into_iter()
                .filter(|name| self.upstreams.iter().any(|(n, _, _)| n == name))
                .collect::<Vec<_>>()
                .join(", "),
            extra_enrichment = self.extra_enrichment,
            extra_server = self.extra_server,
        );
        let config = Config::parse(&yaml, "test config", &|_| None, &factories)
            .unwrap_or_else(|err| panic!("{err}\n{yaml}"));
        let app = Application::build(config).await.expect("the app builds");
        let port = app.port();
        let admin_address = app.admin_port().map(|p| format!("http://127.0.0.1:{p}"));
        let state = app.state();
        tokio::spawn(app.run_until_stopped());
        TestApp {
            state,
            admin_address,
            own_state_file,
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            redis,
            prefix,
            _stand_ins: stand_ins,
            api_key: self.api_keys.first().cloned(),
        }
    }
}

/// Settings pointing a connector at `url` with the credentials its stand-in would accept.
fn default_settings(factory: &dyn ConnectorFactory, url: &str) -> Value {
    match factory.stand_in() {
        Some(stand_in) => stand_in.settings(url),
        None => serde_json::json!({"base_url": url}),
    }
}

/// A running application and what it talks to.
pub struct TestApp {
    /// The application's shared state, for tests that look inside.
    pub state: actix_web::web::Data<enrichd::api::AppState>,
    pub address: String,
    /// The admin listener's base URL, when `server.admin_bind` is set.
    pub admin_address: Option<String>,
    /// The runtime state file the harness chose for this app (removed when it is dropped).
    own_state_file: Option<std::path::PathBuf>,
    pub client: reqwest::Client,
    pub redis: Option<RedisServer>,
    pub prefix: String,
    _stand_ins: Vec<StandInServer>,
    api_key: Option<String>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(file) = &self.own_state_file {
            let _ = std::fs::remove_file(file);
        }
    }
}

/// A response, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key),
            None => request,
        }
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Answer {
        self.send_raw(self.authorized(request)).await
    }

    /// Send `request` with `key` as the bearer token (or none), not the app's first API key.
    pub async fn send_as(&self, key: Option<&str>, request: reqwest::RequestBuilder) -> Answer {
        let request = match key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        self.send_raw(request).await
    }

    async fn send_raw(&self, request: reqwest::RequestBuilder) -> Answer {
        let response = request.send().await.expect("the app answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a complete body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Answer {
            status,
            headers,
            body,
        }
    }

    pub async fn enrich(&self, subject: Value) -> Answer {
        self.send(self.client.post(self.url("/v1/enrich")).json(&subject))
            .await
    }

    pub async fn enrich_raw(&self, body: &str, content_type: &str) -> Answer {
        self.send(
            self.client
                .post(self.url("/v1/enrich"))
                .header("content-type", content_type)
                .body(body.to_owned()),
        )
        .await
    }

    pub async fn get_profile(&self, user_id: &str) -> Answer {
        self.send(
            self.client
                .get(self.url(&format!("/v1/profiles/{user_id}"))),
        )
        .await
    }

    pub async fn delete_profile(&self, user_id: &str) -> Answer {
        self.send(
            self.client
                .delete(self.url(&format!("/v1/profiles/{user_id}"))),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn metrics(&self) -> String {
        let base = self.admin_address.as_deref().unwrap_or(&self.address);
        self.client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("metrics answer")
            .text()
            .await
            .expect("metrics text")
    }

    /// Every Redis key carrying the user's hash tag.
    pub fn keys_of(&self, user_id: &str) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}{{{user_id}}}*", self.prefix))
            .query(&mut self.redis().connection())
            .unwrap();
        keys.sort();
        keys
    }

    /// The Redis key of a user's entry (profile, subject and per-source answers).
    pub fn profile_key(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:entry", self.prefix)
    }

    /// The Redis key of a user's profile in the layout before entries (a hash).
    pub fn earlier_profile_key(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:profile", self.prefix)
    }

    /// A user's entry as Redis holds it (this app seals nothing), read whole.
    pub fn stored_entry(&self, user_id: &str) -> Option<enrichd::cache::Stored> {
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(self.profile_key(user_id))
            .query(&mut self.redis().connection())
            .unwrap();
        value.map(|v| enrichd::cache::Stored::decode(&v).expect("an entry enrichd wrote"))
    }

    pub fn redis(&self) -> &RedisServer {
        self.redis.as_ref().expect("this test app owns a Redis")
    }

    /// Wait (at most 5 s) until the user's entry is in Redis: enrichd answers first and
    /// writes to Redis right after. Panics if it never arrives.
    pub async fn wait_for_profile_in_redis(&self, user_id: &str) {
        let key = self.profile_key(user_id);
        let mut redis = self.redis().connection();
        for _ in 0..500 {
            let found: bool = redis::cmd("EXISTS").arg(&key).query(&mut redis).unwrap();
            if found {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the profile of {user_id} never reached Redis");
    }
}

/// An entry written by hand in the layout `cache::entry` documents: a profile of `body` and
/// `subject` (as stored: packed or not), fresh and kept until `until_ms`, and `answers` as
/// the answers' section.
pub fn raw_entry(until_ms: u64, body: &[u8], subject: &[u8], answers: &[u8]) -> Vec<u8> {
    let mut entry = vec![0xFE, b'E', 0x01];
    entry.extend_from_slice(&until_ms.to_le_bytes());
    entry.extend_from_slice(&until_ms.to_le_bytes());
    for section in [body, subject, answers] {
        entry.extend_from_slice(&(section.len() as u32).to_le_bytes());
        entry.extend_from_slice(section);
    }
    entry
}

/// `privacy.hash_key` of test apps.
pub const TEST_HASH_KEY: &str = "cHJpdmFjeS10ZXN0LWtleS0zMi1ieXRlcy1sb25nISE=";

/// The stand-ins' known people, as the fixtures have them.
pub fn known_subject(user_id: &str) -> Value {
    serde_json::json!({
        "user_id": user_id,
        "email": "bcooper@biglytics.net",
        "handles": {"github": "octocat"}
    })
}

/// The source report of `connector` in a profile.
pub fn source<'a>(profile: &'a Value, connector: &str) -> &'a Value {
    profile["sources"]
        .as_array()
        .and_then(|sources| sources.iter().find(|s| s["connector"] == connector))
        .unwrap_or_else(|| panic!("no source {connector} in {profile}"))
}

/// GitHub's answer about octocat, from the fixtures.
pub const OCTOCAT: &str = include_str!("../../connectors/github/fixtures/user-octocat.json");

/// A 200 with octocat.
pub fn octocat() -> wiremock::ResponseTemplate {
    wiremock::ResponseTemplate::new(200).set_body_raw(OCTOCAT, "application/json")
}

/// A GitHub stand-in answering every user lookup with `template`.
pub async fn github_answering(template: wiremock::ResponseTemplate) -> wiremock::MockServer {
    let server = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path_regex("^/users/"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

/// The user lookups a GitHub stand-in received.
pub async fn github_calls(server: &wiremock::MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/users/"))
        .count()
}

/// A subject only the GitHub connector can look up.
pub fn github_only(user_id: &str) -> Value {
    serde_json::json!({"user_id": user_id, "handles": {"github": "octocat"}})
}

/// Poll `check` for up to five seconds; panic naming `what` if it never holds.
pub async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not happen within 5 s");
}

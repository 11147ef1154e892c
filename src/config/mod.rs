//! `config.yaml`: typed settings, `${VAR}` substitution, and validation that reports every
//! problem at once with its key path (for `enrichd check-config` and at start-up).

mod auth;
mod env;
mod jobs;
mod spend;
mod typed;
mod validate;

pub use auth::{AuthConfig, KeyConfig};
pub use jobs::JobsConfig;
pub use spend::{CostConfig, UntilConfig, WaterfallConfig};

pub(crate) use env::substitute;
pub(crate) use validate::connector_issues;

use std::{
    collections::BTreeMap,
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

use enrichd_sdk::Secret;
use serde::{Deserialize, Serialize};

use crate::{
    connectors::Factories,
    privacy::KeyedHasher,
    redis_link::{RedisTarget, TlsFiles},
    sealing::Sealer,
};

/// The default configuration, compiled in: used when no `config.yaml` is found.
pub const EMBEDDED_DEFAULT: &str = include_str!("../../config.yaml");

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub cache: CacheConfig,
    pub enrichment: EnrichmentConfig,
    /// Connectors by their configured name.
    pub connectors: BTreeMap<String, ConnectorConfig>,
    /// Directory of declarative connector manifests.
    pub connectors_dir: Option<PathBuf>,
    /// The file this configuration was read from (for SIGHUP reloads), if any.
    pub path: Option<PathBuf>,
    /// The background health checker.
    pub health_check: HealthCheckConfig,
    /// Where runtime connector state (enable/disable) is kept when there is no Redis.
    pub state_file: PathBuf,
    /// The certificates of `cache.tls`, read and checked.
    pub redis_tls: TlsFiles,
    /// `cache.encryption_keys`, checked and ready.
    pub sealer: Sealer,
    /// `telemetry:` — traces.
    pub telemetry: TelemetryConfig,
    /// `privacy:` — suppressions and the audit trail.
    pub privacy: PrivacyConfig,
    /// `privacy.hash_key`, checked and ready (none: suppression is off).
    pub hasher: Option<KeyedHasher>,
    /// `metrics:` — what metrics are labelled with.
    pub metrics: MetricsConfig,
    /// `budgets:` — credits each tenant may spend per UTC day (unlisted tenants: no limit).
    pub budgets: BTreeMap<crate::domain::Tenant, f64>,
    /// `jobs:` — bulk jobs and their webhooks.
    pub jobs: JobsConfig,
}

/// `privacy:` — suppressions and the audit trail (PRODUCT.md §9).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// 32 bytes of base64: the key of the HMAC-SHA-256 hashes suppressions and the audit
    /// trail hold instead of identifiers. Empty: suppression is off, and the audit trail
    /// names users only as `user`.
    pub hash_key: Secret,
    /// Where suppressions are kept when there is no Redis.
    pub state_file: PathBuf,
    /// Entries the audit stream keeps (trimmed approximately, `MAXLEN ~`).
    pub audit_max_entries: u64,
    /// The most suppressed identifiers, over every tenant (each replica holds them all in
    /// process: 1,000,000 take about 70 MB).
    pub max_suppressions: usize,
}

impl Default for PrivacyConfig {
    fn default() -> PrivacyConfig {
        PrivacyConfig {
            hash_key: Secret::default(),
            state_file: PathBuf::from("enrichd-privacy.json"),
            audit_max_entries: 100_000,
            max_suppressions: 1_000_000,
        }
    }
}

/// `metrics:` — optional labels.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Label `enrichd_http_requests_total` with the caller's tenant (the configured tenants
    /// and `default`; others as `other`).
    pub tenant_label: bool,
}

/// `telemetry:` — where traces go (nowhere unless `otlp` is set).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    pub otlp: Option<OtlpConfig>,
}

/// `telemetry.otlp:` — OpenTelemetry traces over OTLP/HTTP (protobuf).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpConfig {
    /// The collector's base URL; spans are sent to `<endpoint>/v1/traces`.
    pub endpoint: String,
    /// The share of traces kept (0..=1); a caller's sampled `traceparent` is followed.
    #[serde(default = "default_sample_ratio")]
    pub sample_ratio: f64,
    /// How often finished spans are sent.
    #[serde(default = "default_export_interval_ms")]
    pub export_interval_ms: u64,
    /// Bound on one export.
    #[serde(default = "default_export_timeout_ms")]
    pub timeout_ms: u64,
    /// `service.name` of the spans.
    #[serde(default = "default_service_name")]
    pub service_name: String,
}

fn default_sample_ratio() -> f64 {
    1.0
}

fn default_export_interval_ms() -> u64 {
    5_000
}

fn default_export_timeout_ms() -> u64 {
    10_000
}

fn default_service_name() -> String {
    "enrichd".into()
}

/// `health_check:` — how often connectors' `health()` (or canary) is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// Whether the background checker runs at all.
    pub enabled: bool,
    pub interval_seconds: u64,
    pub timeout_ms: u64,
}

impl Default for HealthCheckConfig {
    fn default() -> HealthCheckConfig {
        HealthCheckConfig {
            enabled: true,
            interval_seconds: 30,
            timeout_ms: 2000,
        }
    }
}

/// `connectors.<name>.canary:` — a known person the health check must find.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CanaryConfig {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub handles: BTreeMap<String, String>,
}

/// `server:` — the HTTP listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: String,
    /// A second address for `/metrics`, `/healthz`, `/readyz` and the admin routes, which are
    /// then no longer served on `bind`.
    pub admin_bind: Option<String>,
    /// Largest accepted request body; larger ones get 413.
    pub max_body_bytes: usize,
    /// HTTP worker threads; defaults to the number of CPUs.
    pub workers: Option<usize>,
    /// How long in-flight requests may take to finish after SIGTERM.
    pub shutdown_timeout_seconds: u64,
    /// How long to keep serving (with readiness 503) after SIGTERM before closing the listener.
    pub drain_delay_seconds: u64,
    /// How long a request body may take to arrive once the headers are in; slower gets 408.
    pub body_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            bind: "0.0.0.0:8080".into(),
            admin_bind: None,
            max_body_bytes: 65_536,
            workers: None,
            shutdown_timeout_seconds: 25,
            drain_delay_seconds: 0,
            body_timeout_ms: 10_000,
        }
    }
}

/// `cache:` — where merged profiles are kept and for how long.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// `redis://` or `rediss://` URL; empty keeps profiles in process only.
    pub redis_url: Secret,
    /// Redis Cluster seed nodes; when given, cluster mode is used instead of `redis_url`.
    pub redis_cluster_nodes: Vec<Secret>,
    /// How long a complete profile is fresh.
    pub ttl_seconds: u64,
    /// How long past freshness a profile may still be served as stale.
    pub stale_seconds: u64,
    /// How long "no source knows this user" is remembered.
    pub negative_ttl_seconds: u64,
    /// How long a partial profile (some source failed) is fresh.
    pub error_ttl_seconds: u64,
    /// Profiles kept in the in-process tier.
    pub local_capacity: u64,
    /// Prefix of every Redis key.
    pub key_prefix: String,
    /// Bound on each Redis command, so that a slow Redis cannot stall requests.
    pub timeout_ms: u64,
    /// Certificates for `rediss://` connections (else the system's roots).
    pub tls: RedisTlsConfig,
    /// Redis Sentinel: the master it names is used, and asked again after a failover.
    pub redis_sentinel: Option<SentinelConfig>,
    /// Keys sealing every value written to Redis (AES-256-GCM), the sealing one first; empty
    /// stores values as they are.
    pub encryption_keys: Vec<EncryptionKey>,
}

/// One of `cache.encryption_keys`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptionKey {
    /// Stored with every value it seals (1-32 of A-Za-z0-9 . _ -).
    pub id: String,
    /// 32 bytes in base64, e.g. `"${ENRICHD_KEY_2}"`.
    pub key: Secret,
}

/// `cache.tls:` — the certificate files of TLS connections to Redis (PEM).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisTlsConfig {
    /// The CA that signs the Redis servers' certificates; unset means the system's roots.
    pub ca_file: Option<PathBuf>,
    /// A client certificate, for servers that ask for one (`tls-auth-clients yes`).
    pub cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    pub key_file: Option<PathBuf>,
}

/// `cache.redis_sentinel:` — where Sentinel runs and which master to ask it for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelConfig {
    /// The name the sentinels monitor the master under (`sentinel monitor <name> ...`).
    pub master_name: String,
    /// The sentinels' URLs (`redis://:password@host:26379`); `rediss://` means TLS to the
    /// sentinels and to the master.
    pub nodes: Vec<Secret>,
    /// The ACL user on the master, if any.
    #[serde(default)]
    pub username: Option<String>,
    /// The master's password (`requirepass` or the ACL user's).
    #[serde(default)]
    pub password: Secret,
    /// The database number.
    #[serde(default)]
    pub db: i64,
}

impl Default for CacheConfig {
    fn default() -> CacheConfig {
        CacheConfig {
            redis_url: Secret::default(),
            redis_cluster_nodes: Vec::new(),
            ttl_seconds: 3600,
            stale_seconds: 86_400,
            negative_ttl_seconds: 300,
            error_ttl_seconds: 30,
            local_capacity: 10_000,
            key_prefix: "enrichd:".into(),
            timeout_ms: 200,
            tls: RedisTlsConfig::default(),
            redis_sentinel: None,
            encryption_keys: Vec::new(),
        }
    }
}

/// `enrichment:` — the fan-out.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnrichmentConfig {
    /// Overall deadline of one enrichment; a request's `timeout_ms` may shorten it.
    pub deadline_ms: u64,
    /// Tie-break order of sources with equal confidence (first wins).
    pub priority: Vec<String>,
    /// Subjects of one batch enriched at once.
    pub batch_concurrency: usize,
    /// Items kept of each list (and map) of a profile and of each source's answer.
    pub max_list_items: usize,
    /// The longest an upstream's `Retry-After` (or a replica's event) may stop calls.
    pub max_retry_after_seconds: u64,
    /// Fan-out waves per request: identifiers found by one wave start the next (1 = none).
    pub max_waves: u8,
    /// The confidence an answer needs for its identifiers to start a next wave.
    pub chain_min_confidence: f64,
    /// What a wave's contributions are multiplied by, per wave after the first.
    pub chain_decay: f64,
    /// Connectors asked one after another until fields are filled, by waterfall name.
    pub waterfalls: BTreeMap<String, WaterfallConfig>,
}

impl Default for EnrichmentConfig {
    fn default() -> EnrichmentConfig {
        EnrichmentConfig {
            deadline_ms: 800,
            priority: Vec::new(),
            batch_concurrency: 16,
            max_list_items: 200,
            max_retry_after_seconds: 3600,
            max_waves: 2,
            chain_min_confidence: 0.6,
            chain_decay: 0.9,
            waterfalls: BTreeMap::new(),
        }
    }
}

/// `connectors.<name>:` — one connector instance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    /// Which implementation; defaults to the connector's name.
    #[serde(default)]
    pub kind: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Per-call timeout; defaults to the enrichment deadline.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Confidence of this source's answers; defaults to the connector's own default.
    #[serde(default)]
    pub confidence: Option<f64>,
    /// How long this source's answers stay fresh; defaults to the connector's own default.
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default)]
    pub rate_limit: Option<RateLimitConfig>,
    #[serde(default)]
    pub circuit_breaker: CircuitBreakerConfig,
    /// Largest upstream response body accepted.
    #[serde(default = "default_max_response_bytes")]
    pub max_response_bytes: usize,
    /// A known person the health check must find (a revoked credential or a changed API then
    /// shows as unhealthy rather than as "everyone is unknown").
    #[serde(default)]
    pub canary: Option<CanaryConfig>,
    /// When it is attempted and fails, the enrichment fails (502 `required_source_failed`)
    /// rather than answer without it; `/readyz` is `degraded` while it is unhealthy.
    #[serde(default)]
    pub required: bool,
    /// What its calls cost, in credits (default: free).
    #[serde(default)]
    pub cost: CostConfig,
    /// The connector's own settings, validated by the connector.
    #[serde(default)]
    pub settings: serde_json::Value,
}

/// `connectors.<name>.retry:` — retries of retryable failures within the deadline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    pub initial_backoff_ms: u64,
    pub max_backoff_ms: u64,
}

impl Default for RetryConfig {
    fn default() -> RetryConfig {
        RetryConfig {
            max_attempts: 3,
            initial_backoff_ms: 50,
            max_backoff_ms: 400,
        }
    }
}

/// `connectors.<name>.rate_limit:` — at most `requests` calls per `per_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitConfig {
    pub requests: u32,
    pub per_seconds: u64,
    #[serde(default)]
    pub scope: RateLimitScope,
}

/// Whether a rate limit counts per process or across every replica (through Redis).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitScope {
    #[default]
    Local,
    Cluster,
}

/// `connectors.<name>.circuit_breaker:` — stop calling a failing upstream for a while.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CircuitBreakerConfig {
    /// Consecutive failures that open the circuit.
    pub failure_threshold: u32,
    /// How long the circuit stays open before one probe is let through.
    pub open_seconds: u64,
}

impl Default for CircuitBreakerConfig {
    fn default() -> CircuitBreakerConfig {
        CircuitBreakerConfig {
            failure_threshold: 5,
            open_seconds: 30,
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_max_response_bytes() -> usize {
    enrichd_sdk::EnrichContext::DEFAULT_MAX_RESPONSE_BYTES
}

impl Config {
    /// Read and validate the configuration at `path`; with no path, `./config.yaml` if it
    /// exists, else the embedded default.
    pub fn load(path: Option<&Path>, factories: &Factories) -> Result<Config, ConfigError> {
        let file = match path {
            Some(path) => Some(path.to_path_buf()),
            None if Path::new("config.yaml").exists() => Some(PathBuf::from("config.yaml")),
            None => None,
        };
        let (origin, text) = match &file {
            Some(path) => (path.display().to_string(), read(path)?),
            None => (
                "the embedded default configuration".to_owned(),
                EMBEDDED_DEFAULT.to_owned(),
            ),
        };
        let mut config =
            Config::parse(&text, &origin, &|name| std::env::var(name).ok(), factories)?;
        config.path = file;
        Ok(config)
    }

    /// Validate configuration `text`, taking `${VAR}` values from `env`.
    pub fn parse(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
        factories: &Factories,
    ) -> Result<Config, ConfigError> {
        let fail = |issues| ConfigError {
            origin: origin.to_owned(),
            issues,
        };
        // Every problem at once: a variable that is not set is reported with whatever else
        // is wrong in the file (the rest is checked with the variable empty).
        let (text, mut issues) = env::substitute(text, env);
        let root: serde_json::Value = match serde_saphyr::from_str(&text) {
            Ok(root) => root,
            Err(err) => {
                issues.push(ConfigIssue::new("", format!("not valid YAML: {err}")));
                return Err(fail(issues));
            }
        };
        match validate::config(root, factories) {
            Ok(config) if issues.is_empty() => Ok(config),
            Ok(_) => Err(fail(issues)),
            Err(found) => {
                issues.extend(found);
                Err(fail(issues))
            }
        }
    }

    /// The overall enrichment deadline.
    pub fn deadline(&self) -> Duration {
        Duration::from_millis(self.enrichment.deadline_ms)
    }

    /// Where Redis is: cluster seed nodes, else Sentinel, else `redis_url`; `None` keeps the
    /// cache in process.
    pub fn redis_target(&self) -> Option<RedisTarget> {
        let cache = &self.cache;
        let urls = |list: &[Secret]| -> Vec<String> {
            list.iter().map(|n| n.expose().trim().to_owned()).collect()
        };
        if !cache.redis_cluster_nodes.is_empty() {
            return Some(RedisTarget::Cluster(urls(&cache.redis_cluster_nodes)));
        }
        if let Some(sentinel) = &cache.redis_sentinel {
            return Some(RedisTarget::Sentinel {
                master_name: sentinel.master_name.clone(),
                nodes: urls(&sentinel.nodes),
                username: sentinel.username.clone().filter(|u| !u.is_empty()),
                password: (!sentinel.password.is_empty())
                    .then(|| sentinel.password.expose().to_owned()),
                db: sentinel.db,
            });
        }
        let url = cache.redis_url.expose().trim();
        (!url.is_empty()).then(|| RedisTarget::Single(url.to_owned()))
    }

    /// Whether any API key or admin token is configured (else authentication is off).
    pub fn auth_enabled(&self) -> bool {
        !self.auth.api_keys.is_empty() || !self.auth.admin_tokens.is_empty()
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|err| ConfigError {
        origin: path.display().to_string(),
        issues: vec![ConfigIssue::new("", format!("cannot read the file: {err}"))],
    })
}

/// One configuration problem at a key path (`connectors.hubspot.timeout_ms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    pub path: String,
    pub message: String,
}

impl ConfigIssue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ConfigIssue {
        ConfigIssue {
            path: path.into(),
            message: message.into(),
        }
    }

    fn at_line(line: usize, message: impl Into<String>) -> ConfigIssue {
        ConfigIssue::new(format!("line {line}"), message)
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Every problem found in one configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file the configuration came from.
    pub origin: String,
    pub issues: Vec<ConfigIssue>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.issues.len();
        let plural = if count == 1 { "" } else { "s" };
        write!(f, "{count} problem{plural} in {}:", self.origin)?;
        for issue in &self.issues {
            write!(f, "\n  - {issue}")?;
        }
        Ok(())
    }
}

impl ConnectorConfig {
    /// A connector of `kind` with the default timeout, retry and breaker settings.
    pub fn new(kind: &str, settings: serde_json::Value) -> ConnectorConfig {
        serde_json::from_value(serde_json::json!({"kind": kind, "settings": settings}))
            .expect("a kind and settings are a complete connector configuration")
    }
}

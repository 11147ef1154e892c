//! Turns the parsed YAML into a [`Config`], collecting every problem with its key path.
//!
//! Each section is deserialized on its own, so a typo in `server:` does not hide a bad value in
//! `cache:`; then each value is checked against its allowed range. Connector settings are
//! checked by the connector's own factory.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf};

use serde_json::{Map, Value};

use enrichd_sdk::Secret;

use super::{
    CacheConfig, Config, ConfigIssue, ConnectorConfig, EnrichmentConfig, HealthCheckConfig,
    JobsConfig, MetricsConfig, PrivacyConfig, SentinelConfig, ServerConfig, TelemetryConfig,
    typed::{section, typed},
};
use crate::connectors::Factories;
use crate::domain::{parse_email, parse_handle, parse_phone};
use crate::{privacy::KeyedHasher, redis_link::TlsFiles, sealing::Sealer};

const TOP_LEVEL_KEYS: &str = "server, auth, cache, enrichment, connectors, connectors_dir, health_check, state_file, telemetry, privacy, metrics, budgets, jobs";

/// Validate the whole configuration.
pub(super) fn config(root: Value, factories: &Factories) -> Result<Config, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut map = match root {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        _ => {
            return Err(vec![ConfigIssue::new(
                "",
                "the configuration must be a YAML mapping with keys such as `server:` and `connectors:`",
            )]);
        }
    };
    let server: ServerConfig = section(map.remove("server"), "server", &mut issues);
    let auth = super::auth::section(map.remove("auth"), &mut issues);
    let cache: CacheConfig = section(map.remove("cache"), "cache", &mut issues);
    let enrichment: EnrichmentConfig = section(map.remove("enrichment"), "enrichment", &mut issues);
    let connectors_dir: Option<PathBuf> =
        section(map.remove("connectors_dir"), "connectors_dir", &mut issues);
    let health_check = section(map.remove("health_check"), "health_check", &mut issues);
    let state_file: Option<PathBuf> = section(map.remove("state_file"), "state_file", &mut issues);
    let telemetry: TelemetryConfig = section(map.remove("telemetry"), "telemetry", &mut issues);
    let privacy: PrivacyConfig = section(map.remove("privacy"), "privacy", &mut issues);
    let metrics: MetricsConfig = section(map.remove("metrics"), "metrics", &mut issues);
    let budgets = super::spend::budgets(map.remove("budgets"), &mut issues);
    let jobs: JobsConfig = section(map.remove("jobs"), "jobs", &mut issues);
    let connectors = connectors(map.remove("connectors"), factories, &mut issues);
    for key in map.keys() {
        issues.push(ConfigIssue::new(
            key.as_str(),
            format!("unknown key; expected one of: {TOP_LEVEL_KEYS}"),
        ));
    }

    check_health(&health_check, &mut issues);
    check_server(&server, &mut issues);
    check_cache(&cache, &mut issues);
    let redis_tls = load_tls(&cache, &mut issues);
    let sealer = load_sealer(&cache, &mut issues);
    check_enrichment(&enrichment, &connectors, &mut issues);
    super::spend::check_waterfalls(&enrichment.waterfalls, &connectors, &mut issues);
    check_telemetry(&telemetry, &mut issues);
    let shared = !cache.redis_url.expose().trim().is_empty()
        || !cache.redis_cluster_nodes.is_empty()
        || cache.redis_sentinel.is_some();
    super::jobs::check(&jobs, enrichment.deadline_ms, shared, &mut issues);
    let hasher = load_hasher(&privacy, &mut issues);

    if issues.is_empty() {
        Ok(Config {
            server,
            auth,
            cache,
            enrichment,
            connectors,
            connectors_dir,
            path: None,
            health_check,
            state_file: state_file.unwrap_or_else(|| PathBuf::from("enrichd-state.json")),
            redis_tls,
            sealer,
            telemetry,
            privacy,
            hasher,
            budgets,
            metrics,
            jobs,
        })
    } else {
        Err(issues)
    }
}

fn connectors(
    value: Option<Value>,
    factories: &Factories,
    issues: &mut Vec<ConfigIssue>,
) -> BTreeMap<String, ConnectorConfig> {
    let entries = match value {
        None | Some(Value::Null) => return BTreeMap::new(),
        Some(Value::Object(entries)) => entries,
        Some(_) => {
            issues.push(ConfigIssue::new(
                "connectors",
                "must be a mapping from connector name to its settings",
            ));
            return BTreeMap::new();
        }
    };
    let mut connectors = BTreeMap::new();
    for (name, value) in entries {
        let path = format!("connectors.{name}");
        if !valid_connector_name(&name) {
            issues.push(ConfigIssue::new(
                &path,
                "a connector name is 1-64 characters of a-z, 0-9, `_` and `-`, starting with a letter or digit",
            ));
        }
        let Some(mut connector) = typed::<ConnectorConfig>(value, &path, issues) else {
            continue;
        };
        if connector.kind.is_empty() {
            connector.kind = name.clone();
        }
        check_connector(&path, &connector, factories, issues);
        connectors.insert(name, connector);
    }
    connectors
}

fn valid_connector_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    let starts_well = bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    starts_well
        && name.len() <= 64
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn check_connector(
    path: &str,
    connector: &ConnectorConfig,
    factories: &Factories,
    issues: &mut Vec<ConfigIssue>,
) {
    issues.extend(connector_issues(path, connector, factories));
}

fn check_health(health: &HealthCheckConfig, issues: &mut Vec<ConfigIssue>) {
    if !(1..=86_400).contains(&health.interval_seconds) {
        issues.push(ConfigIssue::new(
            "health_check.interval_seconds",
            "must be within 1..=86400",
        ));
    }
    if !(1..=60_000).contains(&health.timeout_ms) {
        issues.push(ConfigIssue::new(
            "health_check.timeout_ms",
            "must be within 1..=60000",
        ));
    }
}

/// Every problem of one connector entry at `path` (`connectors.github`, or a manifest file).
pub(crate) fn connector_issues(
    path: &str,
    connector: &ConnectorConfig,
    factories: &Factories,
) -> Vec<ConfigIssue> {
    let mut issues = super::spend::cost_issues(path, &connector.cost);
    let mut problem = |key: &str, message: String| {
        issues.push(ConfigIssue::new(format!("{path}.{key}"), message));
    };
    if let Some(canary) = &connector.canary {
        if let Some(email) = &canary.email
            && let Err(message) = parse_email(email)
        {
            problem("canary.email", message);
        }
        if let Some(phone) = &canary.phone
            && let Err(message) = parse_phone(phone)
        {
            problem("canary.phone", message);
        }
        for (platform, handle) in &canary.handles {
            if let Err(message) = parse_handle(platform, handle) {
                problem(&format!("canary.handles.{platform}"), message);
            }
        }
    }
    if connector.timeout_ms == Some(0) {
        problem("timeout_ms", "must be at least 1".into());
    }
    if let Some(confidence) = connector.confidence
        && !(0.0..=1.0).contains(&confidence)
    {
        problem("confidence", format!("{confidence} is outside 0.0..=1.0"));
    }
    if connector.ttl_seconds == Some(0) {
        problem("ttl_seconds", "must be at least 1".into());
    }
    let retry = &connector.retry;
    if !(1..=10).contains(&retry.max_attempts) {
        problem(
            "retry.max_attempts",
            format!(
                "{} is outside 1..=10 (1 disables retries)",
                retry.max_attempts
            ),
        );
    }
    if retry.initial_backoff_ms == 0 || retry.initial_backoff_ms > retry.max_backoff_ms {
        problem(
            "retry.initial_backoff_ms",
            "must be at least 1 and at most retry.max_backoff_ms".into(),
        );
    }
    if let Some(limit) = &connector.rate_limit {
        if limit.requests == 0 {
            problem("rate_limit.requests", "must be at least 1".into());
        }
        if limit.per_seconds == 0 {
            problem("rate_limit.per_seconds", "must be at least 1".into());
        }
    }
    if connector.circuit_breaker.failure_threshold == 0 {
        problem(
            "circuit_breaker.failure_threshold",
            "must be at least 1".into(),
        );
    }
    if connector.circuit_breaker.open_seconds == 0 {
        problem("circuit_breaker.open_seconds", "must be at least 1".into());
    }
    if !(1024..=64 * 1024 * 1024).contains(&connector.max_response_bytes) {
        problem(
            "max_response_bytes",
            format!(
                "{} is outside 1024..=67108864",
                connector.max_response_bytes
            ),
        );
    }
    match factories.get(&connector.kind) {
        None => problem(
            "kind",
            format!(
                "unknown connector kind `{}`; known kinds: {}",
                connector.kind,
                factories.kinds().join(", ")
            ),
        ),
        // Settings of a disabled connector are checked when it is enabled.
        Some(factory) if connector.enabled => {
            for issue in factory.validate(&connector.settings) {
                let key = if issue.path.is_empty() {
                    "settings".to_owned()
                } else {
                    format!("settings.{}", issue.path)
                };
                problem(&key, issue.message);
            }
        }
        Some(_) => {}
    }
    issues
}

/// Whether `bind` is an address with a port (`0.0.0.0:8080`, `localhost:8080`).
fn is_bind_address(bind: &str) -> bool {
    let host_port = bind.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty() && !host.contains(char::is_whitespace) && port.parse::<u16>().is_ok()
    });
    bind.parse::<SocketAddr>().is_ok() || host_port
}

fn check_server(server: &ServerConfig, issues: &mut Vec<ConfigIssue>) {
    if !is_bind_address(&server.bind) {
        issues.push(ConfigIssue::new(
            "server.bind",
            format!(
                "`{}` is not an address with a port, e.g. 0.0.0.0:8080",
                server.bind
            ),
        ));
    }
    if let Some(admin) = &server.admin_bind {
        if !is_bind_address(admin) {
            issues.push(ConfigIssue::new(
                "server.admin_bind",
                format!("`{admin}` is not an address with a port, e.g. 0.0.0.0:9090"),
            ));
        } else if *admin == server.bind && !admin.ends_with(":0") {
            issues.push(ConfigIssue::new(
                "server.admin_bind",
                "must differ from server.bind (it is a second listener)",
            ));
        }
    }
    if !(1024..=16 * 1024 * 1024).contains(&server.max_body_bytes) {
        issues.push(ConfigIssue::new(
            "server.max_body_bytes",
            format!("{} is outside 1024..=16777216", server.max_body_bytes),
        ));
    }
    if server.workers == Some(0) {
        issues.push(ConfigIssue::new("server.workers", "must be at least 1"));
    }
    if server.shutdown_timeout_seconds > 600 {
        issues.push(ConfigIssue::new(
            "server.shutdown_timeout_seconds",
            "must be at most 600",
        ));
    }
    if !(100..=600_000).contains(&server.body_timeout_ms) {
        issues.push(ConfigIssue::new(
            "server.body_timeout_ms",
            format!("{} is outside 100..=600000", server.body_timeout_ms),
        ));
    }
}

fn check_cache(cache: &CacheConfig, issues: &mut Vec<ConfigIssue>) {
    let url = cache.redis_url.expose().trim();
    if !url.is_empty() && redis::parse_redis_url(url).is_none() {
        issues.push(ConfigIssue::new(
            "cache.redis_url",
            "is not a Redis URL (not shown: it may hold a password); expected e.g. redis://redis:6379/0",
        ));
    }
    for (index, node) in cache.redis_cluster_nodes.iter().enumerate() {
        if redis::parse_redis_url(node.expose().trim()).is_none() {
            issues.push(ConfigIssue::new(
                format!("cache.redis_cluster_nodes[{index}]"),
                "is not a Redis URL; expected e.g. redis://redis-0:6379",
            ));
        }
    }
    if let Some(sentinel) = &cache.redis_sentinel {
        check_sentinel(sentinel, cache, issues);
    }
    for (key, value) in [
        ("ttl_seconds", cache.ttl_seconds),
        ("negative_ttl_seconds", cache.negative_ttl_seconds),
        ("error_ttl_seconds", cache.error_ttl_seconds),
        ("local_capacity", cache.local_capacity),
    ] {
        if value == 0 {
            issues.push(ConfigIssue::new(
                format!("cache.{key}"),
                "must be at least 1",
            ));
        }
    }
    if !(1..=10_000).contains(&cache.timeout_ms) {
        issues.push(ConfigIssue::new(
            "cache.timeout_ms",
            "must be within 1..=10000",
        ));
    }
    let prefix_ok = !cache.key_prefix.is_empty()
        && cache.key_prefix.len() <= 64
        && !cache
            .key_prefix
            .contains(|c: char| c == '{' || c == '}' || c.is_whitespace());
    if !prefix_ok {
        issues.push(ConfigIssue::new(
            "cache.key_prefix",
            "must be 1-64 characters without braces or spaces, e.g. \"enrichd:\"",
        ));
    }
}

fn check_sentinel(sentinel: &SentinelConfig, cache: &CacheConfig, issues: &mut Vec<ConfigIssue>) {
    if !cache.redis_url.is_empty() || !cache.redis_cluster_nodes.is_empty() {
        issues.push(ConfigIssue::new(
            "cache.redis_sentinel",
            "cannot be combined with redis_url or redis_cluster_nodes: choose one way to reach Redis",
        ));
    }
    let name_ok = !sentinel.master_name.is_empty()
        && sentinel.master_name.len() <= 128
        && sentinel
            .master_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !name_ok {
        issues.push(ConfigIssue::new(
            "cache.redis_sentinel.master_name",
            "must be the name the sentinels monitor, 1-128 of A-Za-z0-9 . _ -, e.g. mymaster",
        ));
    }
    if sentinel.nodes.is_empty() {
        issues.push(ConfigIssue::new(
            "cache.redis_sentinel.nodes",
            "must list at least one sentinel, e.g. [\"redis://sentinel-0:26379\"]",
        ));
    }
    for (index, node) in sentinel.nodes.iter().enumerate() {
        if redis::parse_redis_url(node.expose().trim()).is_none() {
            issues.push(ConfigIssue::new(
                format!("cache.redis_sentinel.nodes[{index}]"),
                "is not a Redis URL (not shown: it may hold a password); expected e.g. redis://sentinel-0:26379",
            ));
        }
    }
}

/// The keys of `cache.encryption_keys`; each problem is an issue at its entry, never quoting
/// a key.
fn load_sealer(cache: &CacheConfig, issues: &mut Vec<ConfigIssue>) -> Sealer {
    let keys = cache
        .encryption_keys
        .iter()
        .map(|k| (k.id.as_str(), k.key.expose()));
    Sealer::from_keys(keys).unwrap_or_else(|problems| {
        for (index, message) in problems {
            issues.push(ConfigIssue::new(
                format!("cache.encryption_keys[{index}]"),
                message,
            ));
        }
        Sealer::default()
    })
}

/// `privacy:`: the hash key (never quoted) and the bounds.
fn load_hasher(privacy: &PrivacyConfig, issues: &mut Vec<ConfigIssue>) -> Option<KeyedHasher> {
    if privacy.audit_max_entries == 0 {
        issues.push(ConfigIssue::new(
            "privacy.audit_max_entries",
            "must be at least 1",
        ));
    }
    if privacy.max_suppressions == 0 {
        issues.push(ConfigIssue::new(
            "privacy.max_suppressions",
            "must be at least 1",
        ));
    }
    if privacy.state_file.as_os_str().is_empty() {
        issues.push(ConfigIssue::new("privacy.state_file", "must not be empty"));
    }
    if privacy.hash_key.is_empty() {
        return None;
    }
    KeyedHasher::from_base64(privacy.hash_key.expose())
        .map_err(|message| issues.push(ConfigIssue::new("privacy.hash_key", message)))
        .ok()
}

/// Read the certificate files of `cache.tls`; each problem is an issue at its key.
fn load_tls(cache: &CacheConfig, issues: &mut Vec<ConfigIssue>) -> TlsFiles {
    let tls = &cache.tls;
    let loaded = TlsFiles::load(
        tls.ca_file.as_deref(),
        tls.cert_file.as_deref(),
        tls.key_file.as_deref(),
    );
    let files = match loaded {
        Ok(files) => files,
        Err(problems) => {
            for (key, message) in problems {
                issues.push(ConfigIssue::new(format!("cache.tls.{key}"), message));
            }
            return TlsFiles::default();
        }
    };
    let secure = |url: &Secret| url.expose().trim_start().starts_with("rediss://");
    let uses_tls = secure(&cache.redis_url)
        || cache.redis_cluster_nodes.iter().any(secure)
        || cache
            .redis_sentinel
            .as_ref()
            .is_some_and(|s| s.nodes.iter().any(secure));
    if !files.is_empty() && !uses_tls {
        issues.push(ConfigIssue::new(
            "cache.tls",
            "is set, but no rediss:// URL uses it (TLS to Redis is chosen by the URL's scheme)",
        ));
    }
    files
}

fn check_telemetry(telemetry: &TelemetryConfig, issues: &mut Vec<ConfigIssue>) {
    let Some(otlp) = &telemetry.otlp else { return };
    let url_ok = reqwest::Url::parse(&otlp.endpoint).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https") && url.host().is_some() && url.query().is_none()
    });
    if !url_ok {
        issues.push(ConfigIssue::new(
            "telemetry.otlp.endpoint",
            "must be the collector's http(s) base URL, e.g. http://otel-collector:4318 (spans go to <endpoint>/v1/traces)",
        ));
    }
    if !(0.0..=1.0).contains(&otlp.sample_ratio) {
        issues.push(ConfigIssue::new(
            "telemetry.otlp.sample_ratio",
            format!("{} is outside 0.0..=1.0", otlp.sample_ratio),
        ));
    }
    if !(50..=600_000).contains(&otlp.export_interval_ms) {
        issues.push(ConfigIssue::new(
            "telemetry.otlp.export_interval_ms",
            "must be within 50..=600000",
        ));
    }
    if !(100..=60_000).contains(&otlp.timeout_ms) {
        issues.push(ConfigIssue::new(
            "telemetry.otlp.timeout_ms",
            "must be within 100..=60000",
        ));
    }
    if otlp.service_name.trim().is_empty() {
        issues.push(ConfigIssue::new(
            "telemetry.otlp.service_name",
            "must not be empty",
        ));
    }
}

fn check_enrichment(
    enrichment: &EnrichmentConfig,
    connectors: &BTreeMap<String, ConnectorConfig>,
    issues: &mut Vec<ConfigIssue>,
) {
    if !(1..=60_000).contains(&enrichment.deadline_ms) {
        issues.push(ConfigIssue::new(
            "enrichment.deadline_ms",
            format!("{} is outside 1..=60000", enrichment.deadline_ms),
        ));
    }
    if !(1..=100).contains(&enrichment.batch_concurrency) {
        issues.push(ConfigIssue::new(
            "enrichment.batch_concurrency",
            "must be within 1..=100",
        ));
    }
    if !(1..=5).contains(&enrichment.max_waves) {
        issues.push(ConfigIssue::new(
            "enrichment.max_waves",
            format!(
                "{} is outside 1..=5 (1: no chained lookups)",
                enrichment.max_waves
            ),
        ));
    }
    for (key, value, lowest) in [
        ("chain_min_confidence", enrichment.chain_min_confidence, 0.0),
        ("chain_decay", enrichment.chain_decay, f64::MIN_POSITIVE),
    ] {
        if !(lowest..=1.0).contains(&value) {
            issues.push(ConfigIssue::new(
                format!("enrichment.{key}"),
                format!("{value} is outside 0..=1"),
            ));
        }
    }
    if !(1..=10_000).contains(&enrichment.max_list_items) {
        issues.push(ConfigIssue::new(
            "enrichment.max_list_items",
            format!("{} is outside 1..=10000", enrichment.max_list_items),
        ));
    }
    if !(1..=86_400).contains(&enrichment.max_retry_after_seconds) {
        issues.push(ConfigIssue::new(
            "enrichment.max_retry_after_seconds",
            format!(
                "{} is outside 1..=86400",
                enrichment.max_retry_after_seconds
            ),
        ));
    }
    for (index, name) in enrichment.priority.iter().enumerate() {
        if !connectors.contains_key(name) {
            issues.push(ConfigIssue::new(
                format!("enrichment.priority[{index}]"),
                format!("`{name}` is not a configured connector"),
            ));
        } else if enrichment.priority[..index].contains(name) {
            issues.push(ConfigIssue::new(
                format!("enrichment.priority[{index}]"),
                format!("`{name}` is listed twice"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};
    use crate::connectors::Factories;

    fn parse(yaml: &str) -> Result<Config, ConfigError> {
        Config::parse(yaml, "test.yaml", &|_| None, &Factories::builtin())
    }

    fn paths(yaml: &str) -> Vec<String> {
        parse(yaml)
            .unwrap_err()
            .issues
            .into_iter()
            .map(|i| i.path)
            .collect()
    }

    #[test]
    fn the_shipped_configuration_is_valid() {
        let config = parse(super::super::EMBEDDED_DEFAULT).unwrap();
        assert!(config.cache.redis_url.is_empty());
        assert!(!config.auth_enabled());
        assert!(config.connectors.contains_key("github"));
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let config = parse("").unwrap();
        assert_eq!(config.server.bind, "0.0.0.0:8080");
        assert_eq!(config.enrichment.deadline_ms, 800);
        assert_eq!(config.cache.key_prefix, "enrichd:");
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let found = paths(
            r#"
server: {bind: "nowhere", max_body_bytes: 10}
cache: {ttl_seconds: 0, key_prefix: "a{b}"}
enrichment: {deadline_ms: 0, priority: [nobody], max_waves: 0, chain_min_confidence: 1.5, chain_decay: 0}
connectors:
  github:
    timeout_ms: 0
    confidence: 1.5
    retry: {max_attempts: 0}
    settings: {base_url: "ftp://x"}
  hubspot:
    kind: hubspot
    settings: {base_url: "https://api.hubapi.com"}
  Bad_Name: {kind: github}
  mystery: {kind: nope}
surprise: 1
"#,
        );
        for expected in [
            "server.bind",
            "server.max_body_bytes",
            "cache.ttl_seconds",
            "cache.key_prefix",
            "enrichment.deadline_ms",
            "enrichment.max_waves",
            "enrichment.chain_min_confidence",
            "enrichment.chain_decay",
            "enrichment.priority[0]",
            "connectors.github.timeout_ms",
            "connectors.github.confidence",
            "connectors.github.retry.max_attempts",
            "connectors.github.settings.base_url",
            "connectors.hubspot.settings.access_token",
            "connectors.Bad_Name",
            "connectors.mystery.kind",
            "surprise",
        ] {
            assert!(
                found.iter().any(|p| p == expected),
                "{expected} missing from {found:?}"
            );
        }
    }

    #[test]
    fn unknown_and_mistyped_keys_are_named() {
        let found = paths("server: {bnd: x}\ncache: {ttl_seconds: soon}\n");
        assert_eq!(found, ["server.bnd", "cache.ttl_seconds"]);
    }

    #[test]
    fn missing_environment_variables_are_reported_with_every_other_problem() {
        let err = parse(
            "auth: {api_keys: [\"${ENRICHD_TEST_UNSET_VAR}\"]}\nenrichment: {max_list_items: 0, max_retry_after_seconds: 0}\nserver: {body_timeout_ms: 5}\n",
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("ENRICHD_TEST_UNSET_VAR is not set"),
            "{err}"
        );
        let paths: Vec<&str> = err.issues.iter().map(|i| i.path.as_str()).collect();
        for path in [
            "enrichment.max_list_items",
            "enrichment.max_retry_after_seconds",
            "server.body_timeout_ms",
        ] {
            assert!(paths.contains(&path), "{path} missing from {paths:?}");
        }
        // The variable alone is a problem too, even where an empty value would do.
        assert_eq!(
            parse("auth: {api_keys: [\"${ENRICHD_TEST_UNSET_VAR}\"]}")
                .unwrap_err()
                .issues
                .len(),
            1
        );
    }

    #[test]
    fn sentinel_and_tls_settings_are_checked() {
        let found = paths(
            "cache: {redis_url: \"redis://r:6379\", redis_sentinel: {master_name: \"bad name\", nodes: [\"nope\"]}, tls: {ca_file: /nonexistent/ca.pem}}",
        );
        for expected in [
            "cache.redis_sentinel",
            "cache.redis_sentinel.master_name",
            "cache.redis_sentinel.nodes[0]",
            "cache.tls.ca_file",
        ] {
            assert!(
                found.iter().any(|p| p == expected),
                "{expected} missing from {found:?}"
            );
        }
        assert_eq!(
            paths("cache: {redis_sentinel: {master_name: m, nodes: []}}"),
            ["cache.redis_sentinel.nodes"]
        );
        let config = parse(
            "cache: {redis_sentinel: {master_name: mymaster, nodes: [\"redis://:pw@s:26379\"], password: secret}}",
        )
        .unwrap();
        assert!(matches!(
            config.redis_target(),
            Some(crate::redis_link::RedisTarget::Sentinel { .. })
        ));
        assert!(!format!("{config:?}").contains("secret"));
        assert!(parse("cache: {redis_url: \"rediss://user:pw@r:6380/0\"}").is_ok());
    }

    #[test]
    fn tls_files_without_a_tls_url_are_a_mistake() {
        let ca = std::env::temp_dir().join(format!("enrichd-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let found = paths(&format!(
            "cache: {{redis_url: \"redis://r:6379\", tls: {{ca_file: \"{}\"}}}}",
            ca.display()
        ));
        let _ = std::fs::remove_file(&ca);
        assert!(
            found.iter().any(|p| p.starts_with("cache.tls")),
            "{found:?}"
        );
    }

    #[test]
    fn yaml_syntax_errors_are_reported() {
        let err = parse("server: [unclosed").unwrap_err();
        assert!(err.to_string().contains("not valid YAML"), "{err}");
    }

    #[test]
    fn empty_keys_switch_auth_off_and_real_ones_on() {
        assert!(!parse("auth: {api_keys: [\"\"]}").unwrap().auth_enabled());
        let config = parse("auth: {api_keys: [k1, \"\"], admin_tokens: [a1]}").unwrap();
        assert_eq!(config.auth.api_keys.len(), 1);
        assert!(config.auth_enabled());
    }

    #[test]
    fn privacy_settings_are_checked_without_quoting_the_key() {
        let found = parse(
            "privacy: {hash_key: \"c2hvcnQ=\", audit_max_entries: 0, max_suppressions: 0, state_file: \"\"}",
        )
        .unwrap_err();
        let paths: Vec<&str> = found.issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "privacy.audit_max_entries",
                "privacy.max_suppressions",
                "privacy.state_file",
                "privacy.hash_key"
            ]
        );
        assert!(!found.to_string().contains("c2hvcnQ="), "{found}");
        let key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let config = parse(&format!(
            "privacy: {{hash_key: \"{key}\"}}\nmetrics: {{tenant_label: true}}"
        ))
        .unwrap();
        assert!(config.hasher.is_some());
        assert!(config.metrics.tenant_label);
        assert!(parse("").unwrap().hasher.is_none());
    }

    #[test]
    fn disabled_connectors_are_not_asked_for_settings() {
        let config = parse("connectors: {hubspot: {enabled: false}}").unwrap();
        assert!(!config.connectors["hubspot"].enabled);
        assert_eq!(config.connectors["hubspot"].kind, "hubspot");
    }

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let config =
            parse("auth: {api_keys: [topsecret]}\ncache: {redis_url: \"redis://:pw@h:6379\"}")
                .unwrap();
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("topsecret") && !shown.contains("pw@"),
            "{shown}"
        );
    }
}

//! Bulk job settings (PRODUCT.md §12): `jobs:` — how many subjects a job may hold, how many
//! each replica works on at once, how much of a connector's rate limit jobs may take, how long
//! jobs are kept, and where and how their webhooks are sent.

use enrichd_sdk::{Secret, hosts::bare_host};
use serde::Deserialize;

use super::ConfigIssue;

/// `jobs:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsConfig {
    /// The most subjects (lines) one job may hold.
    pub max_subjects: usize,
    /// The largest job body, in bytes (JSON or NDJSON).
    pub max_body_bytes: usize,
    /// The most subjects waiting over every job (a submission that would pass it is refused).
    pub max_queued_subjects: usize,
    /// Subjects each replica enriches at once (0: this replica takes no job work, e.g. replicas
    /// kept for interactive traffic while others run the jobs; needs Redis).
    pub workers: usize,
    /// How long a subject may stay claimed by a replica before another takes it over.
    pub claim_idle_ms: u64,
    /// The share of each connector's rate limit jobs may use (interactive requests keep the rest).
    pub max_share: f64,
    /// How long a job, its results and its webhook log are kept.
    pub retention_seconds: u64,
    /// Hosts webhooks may be sent to (none: jobs with a webhook are refused).
    pub webhook_allowed_hosts: Vec<String>,
    /// The key of the webhooks' HMAC-SHA-256 signatures (`jobs.webhook_secret`).
    #[serde(rename = "webhook_secret")]
    pub webhook_key: Secret,
    /// The wait before the second attempt; it doubles after each failure.
    pub webhook_backoff_ms: u64,
    /// The most attempts of one delivery.
    pub webhook_max_attempts: u32,
}

impl Default for JobsConfig {
    fn default() -> JobsConfig {
        JobsConfig {
            max_subjects: 100_000,
            max_body_bytes: 64 * 1024 * 1024,
            max_queued_subjects: 1_000_000,
            workers: 8,
            claim_idle_ms: 30_000,
            max_share: 0.5,
            retention_seconds: 7 * 24 * 3600,
            webhook_allowed_hosts: Vec::new(),
            webhook_key: Secret::default(),
            webhook_backoff_ms: 1000,
            webhook_max_attempts: 8,
        }
    }
}

impl JobsConfig {
    /// The allowed webhook hosts, normalised as the URL parser reads them.
    pub fn allowed_hosts(&self) -> Vec<String> {
        self.webhook_allowed_hosts
            .iter()
            .filter_map(|host| bare_host(host.trim()).ok())
            .collect()
    }
}

/// The problems of `jobs:`.
pub(super) fn check(
    jobs: &JobsConfig,
    deadline_ms: u64,
    shared: bool,
    issues: &mut Vec<ConfigIssue>,
) {
    if jobs.workers == 0 && !shared {
        issues.push(ConfigIssue::new(
            "jobs.workers",
            "is 0 without Redis: jobs would never run (0 is for replicas sharing a Redis with others that run them)",
        ));
    }
    let mut within = |key: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
        if !range.contains(&value) {
            issues.push(ConfigIssue::new(
                format!("jobs.{key}"),
                format!("{value} is outside {}..={}", range.start(), range.end()),
            ));
        }
    };
    within("max_subjects", jobs.max_subjects as u64, 1..=10_000_000);
    within("max_body_bytes", jobs.max_body_bytes as u64, 1024..=1 << 30);
    within(
        "max_queued_subjects",
        jobs.max_queued_subjects as u64,
        1..=100_000_000,
    );
    within("workers", jobs.workers as u64, 0..=1024);
    // A claim must outlive any enrichment, or a slow subject would be taken over while it runs.
    within(
        "claim_idle_ms",
        jobs.claim_idle_ms,
        deadline_ms.saturating_mul(2).max(1000)..=3_600_000,
    );
    within(
        "retention_seconds",
        jobs.retention_seconds,
        60..=90 * 24 * 3600,
    );
    within("webhook_backoff_ms", jobs.webhook_backoff_ms, 1..=3_600_000);
    within(
        "webhook_max_attempts",
        u64::from(jobs.webhook_max_attempts),
        1..=50,
    );
    if !(jobs.max_share > 0.0 && jobs.max_share <= 1.0) {
        issues.push(ConfigIssue::new(
            "jobs.max_share",
            format!("{} is outside (0, 1]", jobs.max_share),
        ));
    }
    for (i, host) in jobs.webhook_allowed_hosts.iter().enumerate() {
        if bare_host(host.trim()).is_err() {
            issues.push(ConfigIssue::new(
                format!("jobs.webhook_allowed_hosts[{i}]"),
                "must be a bare host name or IPv4 address (no scheme, port or path)",
            ));
        }
    }
    if !jobs.webhook_allowed_hosts.is_empty() && jobs.webhook_key.expose().len() < 16 {
        issues.push(ConfigIssue::new(
            "jobs.webhook_secret",
            "must be at least 16 characters when webhook_allowed_hosts is set (the webhooks' signing key)",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues_of(yaml: serde_json::Value) -> Vec<String> {
        let jobs: JobsConfig = serde_json::from_value(yaml).unwrap();
        let mut issues = Vec::new();
        check(&jobs, 800, false, &mut issues);
        issues.into_iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn defaults_pass() {
        assert!(issues_of(serde_json::json!({})).is_empty());
    }

    #[test]
    fn bad_values_are_named() {
        let issues = issues_of(serde_json::json!({
            "workers": 1025,
            "max_share": 1.5,
            "claim_idle_ms": 1000,
            "webhook_allowed_hosts": ["https://hooks.example.com/x"],
            "webhook_max_attempts": 0,
        }));
        let text = issues.join("\n");
        assert!(
            text.contains("jobs.workers: 1025 is outside 0..=1024"),
            "{text}"
        );
        assert!(
            text.contains("jobs.max_share: 1.5 is outside (0, 1]"),
            "{text}"
        );
        assert!(
            text.contains("jobs.claim_idle_ms: 1000 is outside 1600..="),
            "{text}"
        );
        assert!(
            text.contains("jobs.webhook_allowed_hosts[0]: must be a bare host"),
            "{text}"
        );
        assert!(
            text.contains("jobs.webhook_secret: must be at least 16"),
            "{text}"
        );
        assert!(
            text.contains("jobs.webhook_max_attempts: 0 is outside 1..=50"),
            "{text}"
        );
        assert_eq!(issues.len(), 6, "{text}");
    }

    #[test]
    fn edges_of_the_share_and_the_secret() {
        let none = issues_of(serde_json::json!({"max_share": 0.0}));
        assert_eq!(none, ["jobs.max_share: 0 is outside (0, 1]"]);
        assert!(issues_of(serde_json::json!({"max_share": 1.0})).is_empty());
        let sixteen = issues_of(serde_json::json!({
            "webhook_allowed_hosts": ["hooks.example.com"],
            "webhook_secret": "0123456789abcdef",
        }));
        assert!(sixteen.is_empty(), "{sixteen:?}");
    }

    #[test]
    fn no_workers_needs_redis() {
        let jobs: JobsConfig = serde_json::from_value(serde_json::json!({"workers": 0})).unwrap();
        let mut issues = Vec::new();
        check(&jobs, 800, true, &mut issues);
        assert!(issues.is_empty());
        check(&jobs, 800, false, &mut issues);
        assert!(
            issues[0]
                .to_string()
                .starts_with("jobs.workers: is 0 without Redis")
        );
    }

    #[test]
    fn allowed_hosts_are_normalised() {
        let jobs: JobsConfig = serde_json::from_value(serde_json::json!({
            "webhook_allowed_hosts": ["Hooks.Example.COM", "127.0.0.1"],
        }))
        .unwrap();
        assert_eq!(jobs.allowed_hosts(), ["hooks.example.com", "127.0.0.1"]);
    }
}

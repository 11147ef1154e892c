//! Usage statistics and health of one connector, kept across enable/disable/reload of its
//! instance: requests, success rate, latency percentiles, last health check.

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use serde::Serialize;

/// Latencies kept for percentiles.
const WINDOW: usize = 1024;

#[derive(Default)]
pub struct ConnectorStats {
    requests: AtomicU64,
    answered: AtomicU64,
    latencies_ms: Mutex<VecDeque<u64>>,
    health: Mutex<Health>,
}

/// The result of the background health checks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    /// `healthy`, `unhealthy` or `unknown` (not checked yet, or disabled).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_check: Option<String>,
    pub consecutive_failures: u32,
    /// What the last failed check said (never personal data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// Usage as `GET /v1/connectors` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Usage {
    pub requests: u64,
    /// Share of calls that answered (`ok` or `not_found`); null before the first call.
    pub success_rate: Option<f64>,
    pub latency_ms: Percentiles,
}

#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    pub p50: Option<u64>,
    pub p95: Option<u64>,
    pub p99: Option<u64>,
}

impl ConnectorStats {
    /// Count one call and how long it took.
    pub fn record(&self, answered: bool, latency_ms: u64) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if answered {
            self.answered.fetch_add(1, Ordering::Relaxed);
        }
        let mut latencies = self.latencies_ms.lock().unwrap_or_else(|p| p.into_inner());
        if latencies.len() == WINDOW {
            latencies.pop_front();
        }
        latencies.push_back(latency_ms);
    }

    pub fn usage(&self) -> Usage {
        let requests = self.requests.load(Ordering::Relaxed);
        let answered = self.answered.load(Ordering::Relaxed);
        let mut latencies: Vec<u64> = self
            .latencies_ms
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .copied()
            .collect();
        latencies.sort_unstable();
        let at = |q: f64| {
            (!latencies.is_empty()).then(|| {
                let index = ((latencies.len() as f64 - 1.0) * q).round() as usize;
                latencies[index]
            })
        };
        Usage {
            requests,
            success_rate: (requests > 0)
                .then(|| (answered as f64 / requests as f64 * 1000.0).round() / 1000.0),
            latency_ms: Percentiles {
                p50: at(0.5),
                p95: at(0.95),
                p99: at(0.99),
            },
        }
    }

    /// Record a health check's result; returns the new health.
    pub fn checked(&self, result: Result<(), String>) -> Health {
        let mut health = self.health.lock().unwrap_or_else(|p| p.into_inner());
        health.last_check = Some(crate::enrichment::profile::timestamp(SystemTime::now()));
        match result {
            Ok(()) => {
                health.status = "healthy";
                health.consecutive_failures = 0;
                health.last_error = None;
            }
            Err(error) => {
                health.status = "unhealthy";
                health.consecutive_failures += 1;
                health.last_error = Some(error);
            }
        }
        health.clone()
    }

    pub fn health(&self) -> Health {
        let health = self
            .health
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if health.status.is_empty() {
            Health {
                status: "unknown",
                ..health
            }
        } else {
            health
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_success_and_percentiles() {
        let stats = ConnectorStats::default();
        assert_eq!(stats.usage().success_rate, None);
        for ms in 1..=100 {
            stats.record(ms != 100, ms);
        }
        let usage = stats.usage();
        assert_eq!(usage.requests, 100);
        assert_eq!(usage.success_rate, Some(0.99));
        assert_eq!(usage.latency_ms.p50, Some(51));
        assert_eq!(usage.latency_ms.p99, Some(99));
    }

    #[test]
    fn health_tracks_consecutive_failures() {
        let stats = ConnectorStats::default();
        assert_eq!(stats.health().status, "unknown");
        stats.checked(Err("authentication: HTTP 401".into()));
        let health = stats.checked(Err("authentication: HTTP 401".into()));
        assert_eq!(
            (health.status, health.consecutive_failures),
            ("unhealthy", 2)
        );
        assert_eq!(stats.checked(Ok(())).consecutive_failures, 0);
    }
}

//! Every Prometheus metric enrichd exposes, in one place; names and labels are fixed by
//! PRODUCT.md §5. No label ever takes a user id, email or other unbounded value.

use prometheus::{
    CounterVec, Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec,
    IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The service's metrics, registered in their own registry (one per application, so that
/// several instances in one test process do not collide).
pub struct Metrics {
    registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub enrichments: IntCounterVec,
    pub enrichment_duration: Histogram,
    pub connector_requests: IntCounterVec,
    pub connector_duration: HistogramVec,
    pub connector_retries: IntCounterVec,
    pub connector_healthy: IntGaugeVec,
    pub connector_circuit_open: IntGaugeVec,
    /// Credits spent on connector calls.
    pub connector_cost: CounterVec,
    /// What the upstream's rate-limit headers said was left, after its last answer.
    pub connector_quota_remaining: IntGaugeVec,
    pub cache_lookups: IntCounterVec,
    pub coalesced: IntCounter,
    pub build_info: IntGaugeVec,
    pub config_reloads: IntCounterVec,
    /// Subjects of bulk jobs recorded, by outcome (ok, partial, failed, suppressed).
    pub jobs_subjects: IntCounterVec,
    /// Jobs queued or running (over every replica, as this one last read it).
    pub jobs_active: IntGauge,
    /// Subjects of jobs waiting to be enriched (over every replica, as this one last read it).
    pub jobs_queue_depth: IntGauge,
    /// Whether `http_requests` has a `tenant` label (`metrics.tenant_label`).
    tenant_label: bool,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::labelled(false)
    }

    /// The metrics, `enrichd_http_requests_total` labelled with the tenant when
    /// `tenant_label` (tenants are configured: a bounded label).
    pub fn labelled(tenant_label: bool) -> Metrics {
        let registry = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntCounterVec::new(Opts::new(name, help), labels)
                .expect("metric definitions are valid");
            registry
                .register(Box::new(metric.clone()))
                .expect("metric names are unique");
            metric
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            let metric = IntGaugeVec::new(Opts::new(name, help), labels)
                .expect("metric definitions are valid");
            registry
                .register(Box::new(metric.clone()))
                .expect("metric names are unique");
            metric
        };
        let histogram = |name: &str, help: &str, labels: &[&str]| {
            let opts = HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec());
            let metric = HistogramVec::new(opts, labels).expect("metric definitions are valid");
            registry
                .register(Box::new(metric.clone()))
                .expect("metric names are unique");
            metric
        };

        let metrics = Metrics {
            http_requests: counter(
                "enrichd_http_requests_total",
                "HTTP requests answered, by method, route pattern and status.",
                if tenant_label {
                    &["method", "route", "status", "tenant"]
                } else {
                    &["method", "route", "status"]
                },
            ),
            http_duration: histogram(
                "enrichd_http_request_duration_seconds",
                "Time to answer HTTP requests.",
                &["method", "route"],
            ),
            enrichments: counter(
                "enrichd_enrichments_total",
                "Fan-outs completed, by outcome (complete, partial, failed).",
                &["outcome"],
            ),
            enrichment_duration: histogram(
                "enrichd_enrichment_duration_seconds",
                "Time from the start of a fan-out to the merged profile.",
                &[],
            )
            .with_label_values(&[] as &[&str]),
            connector_requests: counter(
                "enrichd_connector_requests_total",
                "Connector calls, by connector and source status.",
                &["connector", "status"],
            ),
            connector_duration: histogram(
                "enrichd_connector_request_duration_seconds",
                "Time of connector calls, retries included.",
                &["connector"],
            ),
            connector_retries: counter(
                "enrichd_connector_retries_total",
                "Retries of connector calls after a retryable failure.",
                &["connector"],
            ),
            connector_healthy: gauge(
                "enrichd_connector_healthy",
                "1 when the connector's last health check passed.",
                &["connector"],
            ),
            connector_circuit_open: gauge(
                "enrichd_connector_circuit_open",
                "1 while the connector's circuit breaker is open.",
                &["connector"],
            ),
            connector_cost: {
                let metric = CounterVec::new(
                    Opts::new(
                        "enrichd_connector_cost_total",
                        "Credits spent on connector calls (connectors.<name>.cost), by connector.",
                    ),
                    &["connector"],
                )
                .expect("metric definitions are valid");
                registry
                    .register(Box::new(metric.clone()))
                    .expect("metric names are unique");
                metric
            },
            connector_quota_remaining: gauge(
                "enrichd_connector_quota_remaining",
                "Calls the upstream's rate-limit headers said were left, after its last answer.",
                &["connector"],
            ),
            cache_lookups: counter(
                "enrichd_cache_lookups_total",
                "Profile cache lookups, by tier (local, redis) and result (hit, stale, miss, error).",
                &["tier", "result"],
            ),
            coalesced: IntCounter::new(
                "enrichd_coalesced_requests_total",
                "Requests that joined an identical enrichment already in flight.",
            )
            .expect("metric definitions are valid"),
            build_info: gauge(
                "enrichd_build_info",
                "Always 1; the version label tells which build is running.",
                &["version"],
            ),
            config_reloads: counter(
                "enrichd_config_reloads_total",
                "Configuration reloads (SIGHUP), by result (ok, error).",
                &["result"],
            ),
            jobs_subjects: counter(
                "enrichd_jobs_subjects_total",
                "Subjects of bulk jobs recorded, by outcome (ok, partial, failed, suppressed).",
                &["outcome"],
            ),
            jobs_active: IntGauge::new(
                "enrichd_jobs_active",
                "Bulk jobs queued or running, over every replica.",
            )
            .expect("metric definitions are valid"),
            jobs_queue_depth: IntGauge::new(
                "enrichd_jobs_queue_depth",
                "Subjects of bulk jobs waiting to be enriched, over every replica.",
            )
            .expect("metric definitions are valid"),
            registry,
            tenant_label,
        };
        for gauge in [&metrics.jobs_active, &metrics.jobs_queue_depth] {
            metrics
                .registry
                .register(Box::new(gauge.clone()))
                .expect("metric names are unique");
        }
        for outcome in ["ok", "partial", "failed", "suppressed"] {
            metrics.jobs_subjects.with_label_values(&[outcome]);
        }
        metrics
            .registry
            .register(Box::new(metrics.coalesced.clone()))
            .expect("metric names are unique");
        metrics
            .build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        #[cfg(target_os = "linux")]
        metrics
            .registry
            .register(Box::new(
                prometheus::process_collector::ProcessCollector::for_self(),
            ))
            .expect("process metrics register once per registry");
        metrics
    }

    /// Whether HTTP requests are counted per tenant.
    pub fn tenant_label(&self) -> bool {
        self.tenant_label
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding metrics into memory cannot fail");
        out
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_names_are_exposed() {
        let metrics = Metrics::new();
        metrics
            .cache_lookups
            .with_label_values(&["local", "hit"])
            .inc();
        metrics.enrichments.with_label_values(&["complete"]).inc();
        let text = String::from_utf8(metrics.encode()).unwrap();
        for name in [
            "enrichd_build_info{version=",
            "enrichd_cache_lookups_total{result=\"hit\",tier=\"local\"} 1",
            "enrichd_enrichments_total{outcome=\"complete\"} 1",
            "enrichd_coalesced_requests_total 0",
            "process_resident_memory_bytes",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
    }
}

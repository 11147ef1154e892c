//! The fan-out: every relevant connector called concurrently, each under its own timeout, none
//! waited for past the request's deadline.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use enrichd_sdk::{Connector, ConnectorError, EnrichContext, ErrorCode, Subject};
use futures_util::{StreamExt, stream::FuturesUnordered};
use tokio::time::Instant;

use super::{
    merge::SourceAnswer,
    profile::{SourceReport, SourceStatus},
};
use crate::{connectors::ConnectorEntry, metrics::Metrics};

/// What one connector contributed to one enrichment.
#[derive(Debug, Clone)]
pub struct SourceOutcome {
    pub report: SourceReport,
    /// The answer to merge, for `ok`.
    pub answer: Option<SourceAnswer>,
}

impl SourceOutcome {
    fn without_call(connector: &str, status: SourceStatus) -> SourceOutcome {
        SourceOutcome {
            report: SourceReport {
                connector: connector.to_owned(),
                status,
                latency_ms: 0,
                confidence: None,
                error: None,
                retry_after_ms: None,
            },
            answer: None,
        }
    }
}

/// Calls connectors concurrently.
pub struct FanOut {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
}

impl FanOut {
    pub fn new(http: reqwest::Client, metrics: Arc<Metrics>) -> FanOut {
        FanOut { http, metrics }
    }

    /// Ask every connector of `targets` about `subject`; answers in the order of `targets`.
    ///
    /// Disabled connectors and those missing a required identifier are reported without a
    /// call. The others run as tasks of their own; whatever has not answered by `deadline` is
    /// reported as `timeout`, so this returns no later than the deadline.
    pub async fn run(
        &self,
        subject: &Arc<Subject>,
        targets: &[Arc<ConnectorEntry>],
        deadline: Instant,
    ) -> Vec<SourceOutcome> {
        let started = Instant::now();
        let mut outcomes: Vec<Option<SourceOutcome>> = vec![None; targets.len()];
        let mut running = FuturesUnordered::new();
        for (index, entry) in targets.iter().enumerate() {
            let Some(instance) = entry.instance.clone() else {
                outcomes[index] = Some(self.record(
                    SourceOutcome::without_call(&entry.name, SourceStatus::Disabled),
                    None,
                ));
                continue;
            };
            if !subject.has_all(&entry.metadata.required_identifiers) {
                outcomes[index] = Some(self.record(
                    SourceOutcome::without_call(&entry.name, SourceStatus::Skipped),
                    None,
                ));
                continue;
            }
            let call = call(
                entry.clone(),
                instance,
                subject.clone(),
                self.http.clone(),
                deadline,
            );
            let task = tokio::spawn(call);
            running.push(async move { (index, task.await) });
        }

        // Collect answers as they come; the sleep is the hard stop at the deadline.
        let stop = tokio::time::sleep_until(deadline);
        tokio::pin!(stop);
        while !running.is_empty() {
            tokio::select! {
                Some((index, joined)) = running.next() => {
                    let outcome = joined.unwrap_or_else(|_| {
                        failed(&targets[index].name, "the connector panicked", started.elapsed())
                    });
                    outcomes[index] = Some(self.record(outcome, Some(&targets[index])));
                }
                () = &mut stop => break,
            }
        }
        targets
            .iter()
            .zip(outcomes)
            .map(|(entry, outcome)| {
                outcome.unwrap_or_else(|| {
                    let mut late = SourceOutcome::without_call(&entry.name, SourceStatus::Timeout);
                    late.report.latency_ms = millis(started.elapsed());
                    late.report.error = Some("no answer before the request's deadline".into());
                    self.record(late, Some(entry))
                })
            })
            .collect()
    }

    /// Count the outcome in the connector metrics.
    fn record(
        &self,
        outcome: SourceOutcome,
        called: Option<&Arc<ConnectorEntry>>,
    ) -> SourceOutcome {
        let name = outcome.report.connector.as_str();
        self.metrics
            .connector_requests
            .with_label_values(&[name, outcome.report.status.as_str()])
            .inc();
        if called.is_some() {
            self.metrics
                .connector_duration
                .with_label_values(&[name])
                .observe(outcome.report.latency_ms as f64 / 1000.0);
        }
        outcome
    }
}

/// One connector call, bounded by the connector's timeout and the request's deadline.
async fn call(
    entry: Arc<ConnectorEntry>,
    instance: Arc<dyn Connector>,
    subject: Arc<Subject>,
    http: reqwest::Client,
    deadline: Instant,
) -> SourceOutcome {
    let started = Instant::now();
    let call_deadline = deadline.min(started + entry.timeout);
    let ctx = EnrichContext::new(http, call_deadline)
        .with_max_response_bytes(entry.config.max_response_bytes);
    let result = tokio::time::timeout_at(call_deadline, instance.enrich(&subject, &ctx))
        .await
        .unwrap_or_else(|_| {
            Err(ConnectorError::timeout(format!(
                "no answer within {} ms",
                millis(call_deadline - started)
            )))
        });
    let latency = started.elapsed();
    match result {
        Ok(enrichment) => {
            let confidence = enrichment
                .confidence
                .filter(|c| (0.0..=1.0).contains(c))
                .unwrap_or(entry.confidence);
            SourceOutcome {
                report: SourceReport {
                    connector: entry.name.clone(),
                    status: SourceStatus::Ok,
                    latency_ms: millis(latency),
                    confidence: Some(confidence),
                    error: None,
                    retry_after_ms: None,
                },
                answer: Some(SourceAnswer {
                    connector: entry.name.clone(),
                    enrichment,
                    confidence,
                    priority_rank: entry.priority_rank,
                    fetched_at: SystemTime::now(),
                }),
            }
        }
        Err(err) => {
            let status = status_of(err.code);
            if status != SourceStatus::NotFound {
                tracing::warn!(
                    connector = %entry.name,
                    code = %err.code,
                    error = %err.message,
                    "Connector call failed."
                );
            }
            SourceOutcome {
                report: SourceReport {
                    connector: entry.name.clone(),
                    status,
                    latency_ms: millis(latency),
                    confidence: None,
                    error: (status != SourceStatus::NotFound)
                        .then(|| format!("{}: {}", err.code, err.message)),
                    retry_after_ms: err.retry_after.map(millis),
                },
                answer: None,
            }
        }
    }
}

/// The source status a connector error code stands for.
pub fn status_of(code: ErrorCode) -> SourceStatus {
    match code {
        ErrorCode::NotFound => SourceStatus::NotFound,
        ErrorCode::Timeout => SourceStatus::Timeout,
        ErrorCode::RateLimited | ErrorCode::QuotaExceeded => SourceStatus::RateLimited,
        ErrorCode::Connection
        | ErrorCode::Authentication
        | ErrorCode::InvalidConfig
        | ErrorCode::BadResponse => SourceStatus::Error,
    }
}

fn failed(connector: &str, message: &str, latency: Duration) -> SourceOutcome {
    let mut outcome = SourceOutcome::without_call(connector, SourceStatus::Error);
    outcome.report.latency_ms = millis(latency);
    outcome.report.error = Some(message.to_owned());
    outcome
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

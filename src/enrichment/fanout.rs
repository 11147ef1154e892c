//! The fan-out: every relevant connector called concurrently, each under its own timeout and
//! guards (circuit breaker, rate limit, upstream wait), retried with backoff while the
//! request's deadline allows, and none waited for past that deadline.
//!
//! Calls run as owned tasks (see [`crate::tasks`]); connectors take large answers apart on the
//! blocking pool (the SDK's `UpstreamResponse::process`), so that no answer holds an HTTP
//! worker. What an upstream sends is bounded on the way in: its lists and maps are capped
//! (`enrichment.max_list_items`), its `Retry-After` too (`enrichment.max_retry_after_seconds`). A failure the subject caused (a host it named) is
//! reported for this request only: it does not feed the connector's circuit breaker, nor make
//! the connector wait for everyone.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use backon::{ExponentialBuilder, Retryable};
use enrichd_sdk::{Connector, ConnectorError, EnrichContext, ErrorCode, Subject};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use tokio::{sync::mpsc, time::Instant};

use super::{
    bounds,
    merge::SourceAnswer,
    profile::{SourceReport, SourceStatus},
};
use crate::{
    clock::unix_ms,
    connectors::ConnectorEntry,
    coordination::{Coordination, Event},
    metrics::Metrics,
    resilience::Admission,
    tasks::Tasks,
    traces::{Traced, Traces},
};
use opentelemetry::{KeyValue, trace::SpanKind};

/// How long past its own deadline a connector call is cut off: time for the connector's own
/// timeout (which says more, e.g. that the subject's host failed) to be the one reported.
const CALL_GRACE: Duration = Duration::from_millis(50);

/// What the fan-out lets an upstream put into an enrichment.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Items kept of each list and map of an answer.
    pub max_list_items: usize,
    /// The longest wait an upstream may ask for.
    pub max_retry_after: Duration,
}

/// What one connector contributed to one enrichment.
#[derive(Debug, Clone)]
pub struct SourceOutcome {
    pub report: SourceReport,
    /// The answer to merge, for `ok`.
    pub answer: Option<SourceAnswer>,
    /// Whether it came from the per-source cache rather than a call now.
    pub from_cache: bool,
    /// Whether the failure was caused by the subject (a host it named), not by the upstream.
    pub subject_caused: bool,
}

impl SourceOutcome {
    pub fn without_call(connector: &str, status: SourceStatus) -> SourceOutcome {
        SourceOutcome {
            report: SourceReport {
                connector: connector.to_owned(),
                status,
                latency_ms: 0,
                confidence: None,
                error: None,
                retry_after_ms: None,
                wave: 1,
                via: None,
                reason: None,
            },
            answer: None,
            from_cache: false,
            subject_caused: false,
        }
    }

    fn failed(
        connector: &str,
        status: SourceStatus,
        error: String,
        latency: Duration,
    ) -> SourceOutcome {
        let mut outcome = SourceOutcome::without_call(connector, status);
        outcome.report.latency_ms = millis(latency);
        outcome.report.error = Some(error);
        outcome
    }
}

/// The answers in time, and the calls still running at the deadline.
pub struct FanOutResult {
    pub outcomes: Vec<SourceOutcome>,
    /// Calls that missed the deadline but may still answer within their own timeout: their
    /// outcomes arrive here, tagged with their index in `outcomes`.
    pub late: Option<mpsc::UnboundedReceiver<(usize, SourceOutcome)>>,
    /// How many late answers may still arrive.
    pub pending: usize,
}

/// The calls of one request (over all its waves): answers arrive on one channel, in time or
/// late.
pub struct Calls {
    sender: mpsc::UnboundedSender<(usize, SourceOutcome)>,
    answers: mpsc::UnboundedReceiver<(usize, SourceOutcome)>,
    /// Calls started and not answered yet.
    pending: usize,
    started: Instant,
}

impl Calls {
    /// Whether every call started so far has answered.
    pub fn all_answered(&self) -> bool {
        self.pending == 0
    }
}

/// Calls connectors concurrently.
pub struct FanOut {
    http: reqwest::Client,
    metrics: Arc<Metrics>,
    coordination: Arc<Coordination>,
    tasks: Tasks,
    limits: Limits,
    traces: Traces,
}

impl FanOut {
    pub fn new(
        http: reqwest::Client,
        metrics: Arc<Metrics>,
        coordination: Arc<Coordination>,
        tasks: Tasks,
        limits: Limits,
        traces: Traces,
    ) -> FanOut {
        FanOut {
            http,
            metrics,
            coordination,
            tasks,
            limits,
            traces,
        }
    }

    /// Ask every connector of `targets` about `subject`, except those `known` already
    /// answered; outcomes in the order of `targets` (one wave; see [`FanOut::wave`]).
    pub async fn run(
        &self,
        subject: &Arc<Subject>,
        targets: &[Arc<ConnectorEntry>],
        mut known: Vec<Option<SourceOutcome>>,
        deadline: Instant,
    ) -> FanOutResult {
        known.resize(targets.len(), None);
        let mut calls = self.calls();
        self.wave(&mut calls, subject, targets, &mut known, deadline)
            .await;
        self.finish(calls, targets, known)
    }

    /// The calls of one request, over all its waves.
    pub fn calls(&self) -> Calls {
        let (sender, answers) = mpsc::unbounded_channel();
        Calls {
            sender,
            answers,
            pending: 0,
            started: Instant::now(),
        }
    }

    /// One wave: ask every connector of `targets` whose outcome is still `None` about
    /// `subject`, and wait for their answers until `deadline`.
    ///
    /// Disabled connectors and those missing a required identifier get an outcome without a
    /// call (counted by [`finish`](Self::finish): a later wave may still call them). The
    /// others run as tasks of their own; whatever has not answered by `deadline` stays pending
    /// in `calls`, so this returns no later than the deadline.
    pub async fn wave(
        &self,
        calls: &mut Calls,
        subject: &Arc<Subject>,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &mut [Option<SourceOutcome>],
        deadline: Instant,
    ) {
        for (index, entry) in targets.iter().enumerate() {
            if outcomes[index].is_some() {
                continue;
            }
            let Some(instance) = entry.instance.clone() else {
                outcomes[index] = Some(SourceOutcome::without_call(
                    &entry.name,
                    SourceStatus::Disabled,
                ));
                continue;
            };
            if !subject.has_all(&entry.metadata.required_identifiers) {
                outcomes[index] = Some(SourceOutcome::without_call(
                    &entry.name,
                    SourceStatus::Skipped,
                ));
                continue;
            }
            // Created here, under the wave's span (the current context), and carried into the
            // call's task.
            let traced = self.traces.child(
                "connector.call",
                SpanKind::Client,
                vec![KeyValue::new("connector", entry.name.clone())],
            );
            let call = Call {
                entry: entry.clone(),
                instance,
                subject: subject.clone(),
                http: self.http.clone(),
                deadline,
                metrics: self.metrics.clone(),
                coordination: self.coordination.clone(),
                limits: self.limits,
                trace_headers: self.traces.headers(traced.as_ref()),
                traced,
            };
            let sender = calls.sender.clone();
            let name = entry.name.clone();
            let started = Instant::now();
            calls.pending += 1;
            self.tasks.spawn(async move {
                let outcome = AssertUnwindSafe(call.run())
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        SourceOutcome::failed(
                            &name,
                            SourceStatus::Error,
                            "the connector panicked".into(),
                            started.elapsed(),
                        )
                    });
                let _ = sender.send((index, outcome));
            });
        }

        // Collect answers as they come; the sleep is the hard stop at the deadline.
        let stop = tokio::time::sleep_until(deadline);
        tokio::pin!(stop);
        while calls.pending > 0 {
            tokio::select! {
                Some((index, outcome)) = calls.answers.recv() => {
                    outcomes[index] = Some(self.record(outcome, true));
                    calls.pending -= 1;
                }
                () = &mut stop => break,
            }
        }
    }

    /// The request's outcomes once its last wave is over: calls still running are `timeout`
    /// (their answers arrive in `late`); connectors never called are counted now.
    pub fn finish(
        &self,
        calls: Calls,
        targets: &[Arc<ConnectorEntry>],
        outcomes: Vec<Option<SourceOutcome>>,
    ) -> FanOutResult {
        let Calls {
            sender,
            answers,
            pending,
            started,
        } = calls;
        drop(sender);
        let outcomes = targets
            .iter()
            .zip(outcomes)
            .map(|(entry, outcome)| match outcome {
                Some(outcome) if outcome.report.status.attempted() => outcome,
                Some(outcome) => self.record(outcome, false),
                None => self.record(
                    SourceOutcome::failed(
                        &entry.name,
                        SourceStatus::Timeout,
                        "no answer before the request's deadline".into(),
                        started.elapsed(),
                    ),
                    false,
                ),
            })
            .collect();
        FanOutResult {
            outcomes,
            late: (pending > 0).then_some(answers),
            pending,
        }
    }

    /// Count the outcome in the connector metrics.
    fn record(&self, outcome: SourceOutcome, called: bool) -> SourceOutcome {
        let name = outcome.report.connector.as_str();
        self.metrics
            .connector_requests
            .with_label_values(&[name, outcome.report.status.as_str()])
            .inc();
        if called {
            self.metrics
                .connector_duration
                .with_label_values(&[name])
                .observe(outcome.report.latency_ms as f64 / 1000.0);
        }
        outcome
    }
}

/// One connector call with its guards and retries.
struct Call {
    entry: Arc<ConnectorEntry>,
    instance: Arc<dyn Connector>,
    subject: Arc<Subject>,
    http: reqwest::Client,
    /// The request's deadline: no retry starts after it.
    deadline: Instant,
    metrics: Arc<Metrics>,
    coordination: Arc<Coordination>,
    limits: Limits,
    /// The call's span, when tracing is on, and the headers that pass it on upstream.
    traced: Option<Traced>,
    trace_headers: reqwest::header::HeaderMap,
}

impl Call {
    async fn run(self) -> SourceOutcome {
        let started = Instant::now();
        let name = self.entry.name.as_str();
        match self.entry.guard.admit(name, &self.coordination).await {
            Admission::Call { .. } => {}
            Admission::CircuitOpen => {
                return SourceOutcome::failed(
                    name,
                    SourceStatus::CircuitOpen,
                    "the circuit is open after repeated failures; not called".into(),
                    started.elapsed(),
                );
            }
            Admission::RateLimited { retry_after } => {
                let mut outcome = SourceOutcome::failed(
                    name,
                    SourceStatus::RateLimited,
                    "rate limited; not called".into(),
                    started.elapsed(),
                );
                outcome.report.retry_after_ms = retry_after.map(millis);
                return outcome;
            }
        }

        // The call may outlive the request (its answer is then merged later), but retries
        // only start while the request can still use them.
        let call_deadline = started + self.entry.timeout;
        let retry = &self.entry.config.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(retry.initial_backoff_ms))
            .with_max_delay(Duration::from_millis(retry.max_backoff_ms))
            .with_max_times(retry.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let request_deadline = self.deadline;
        let attempt = || {
            let ctx = EnrichContext::new(self.http.clone(), call_deadline)
                .with_max_response_bytes(self.entry.config.max_response_bytes)
                .with_trace_headers(self.trace_headers.clone());
            let instance = self.instance.clone();
            let subject = self.subject.clone();
            async move { instance.enrich(&subject, &ctx).await }
        };
        let retries = self.metrics.connector_retries.with_label_values(&[name]);
        let retried = std::sync::atomic::AtomicU32::new(0);
        let attempts = attempt
            .retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|err: &ConnectorError| err.retryable)
            .adjust(move |_, delay| delay.filter(|d| Instant::now() + *d < request_deadline))
            .notify(|_, _| {
                retries.inc();
                retried.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        let result = tokio::time::timeout_at(call_deadline + CALL_GRACE, attempts)
            .await
            .unwrap_or_else(|_| {
                Err(ConnectorError::timeout(format!(
                    "no answer within {} ms",
                    millis(call_deadline - started)
                )))
            });
        let outcome = self.outcome(result, started.elapsed());
        self.after(&outcome).await;
        if let Some(traced) = &self.traced {
            traced.record([
                KeyValue::new("connector.status", outcome.report.status.as_str()),
                KeyValue::new(
                    "connector.retries",
                    i64::from(retried.load(std::sync::atomic::Ordering::Relaxed)),
                ),
                KeyValue::new("connector.latency_ms", outcome.report.latency_ms as i64),
            ]);
            if !outcome.report.status.answered() {
                traced.fail("the connector did not answer");
            }
            traced.end();
        }
        outcome
    }

    fn outcome(
        &self,
        result: Result<enrichd_sdk::Enrichment, ConnectorError>,
        latency: Duration,
    ) -> SourceOutcome {
        let entry = &self.entry;
        match result {
            Ok(mut enrichment) => {
                bounds::cap_enrichment(&mut enrichment, self.limits.max_list_items);
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
                        wave: 1,
                        via: None,
                        reason: None,
                    },
                    answer: Some(SourceAnswer {
                        connector: entry.name.clone(),
                        enrichment,
                        confidence,
                        priority_rank: entry.priority_rank,
                        fetched_at: SystemTime::now(),
                    }),
                    from_cache: false,
                    subject_caused: false,
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
                let mut outcome = SourceOutcome::without_call(&entry.name, status);
                outcome.report.latency_ms = millis(latency);
                outcome.report.error = (status != SourceStatus::NotFound)
                    .then(|| format!("{}: {}", err.code, err.message));
                outcome.report.retry_after_ms = err
                    .retry_after
                    .map(|wait| millis(wait.min(self.limits.max_retry_after)));
                outcome.subject_caused = err.subject_caused;
                outcome
            }
        }
    }

    /// Feed the breaker, and honour an upstream's request to wait, on every replica — unless
    /// the subject caused the failure: then it concerns this subject only.
    async fn after(&self, outcome: &SourceOutcome) {
        let name = self.entry.name.as_str();
        self.entry
            .stats
            .record(outcome.report.status.answered(), outcome.report.latency_ms);
        let guard = &self.entry.guard;
        if outcome.subject_caused {
            guard.breaker.on_abandoned_probe();
            return;
        }
        if guard.record(outcome.report.status) {
            tracing::warn!(connector = %name, "Circuit opened after repeated failures.");
        }
        let open = guard.breaker.state() == crate::resilience::CircuitState::Open;
        self.metrics
            .connector_circuit_open
            .with_label_values(&[name])
            .set(i64::from(open));
        if outcome.report.status == SourceStatus::RateLimited
            && let Some(wait_ms) = outcome.report.retry_after_ms
        {
            let until_ms = unix_ms(SystemTime::now()) + wait_ms;
            guard.block_until(until_ms);
            self.coordination
                .publish(Event::Block {
                    connector: name.to_owned(),
                    until_ms,
                })
                .await;
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

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

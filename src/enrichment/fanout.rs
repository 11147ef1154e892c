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
use enrichd_sdk::{
    Connector, ConnectorError, EnrichContext, ErrorCode, QuotaSlot, Subject, quota::Quota,
};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;
use tokio::{sync::mpsc, time::Instant};

use super::{
    bounds,
    merge::SourceAnswer,
    profile::{SourceReport, SourceStatus},
    waterfall::Waterfalls,
};
use crate::{
    clock::unix_ms,
    connectors::ConnectorEntry,
    coordination::{Coordination, Event},
    domain::{Priority, credits},
    metrics::Metrics,
    resilience::Admission,
    spend::{Price, Refusal, Spend},
    tasks::Tasks,
    traces::{Traced, Traces},
    upstream_http::UpstreamHttp,
};
use opentelemetry::{KeyValue, trace::SpanKind};

/// How long calls stop when an upstream reports its quota spent without saying when it comes
/// back: then a call probes whether it has.
const QUOTA_PROBE_AFTER: Duration = Duration::from_secs(60);

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
                cost: 0.0,
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
    /// What the request may spend, and has.
    spend: Arc<Spend>,
    /// Connectors asked in turn rather than at once.
    waterfalls: Waterfalls,
    /// A bulk job's calls wait for their share of the rate limits.
    priority: Priority,
}

impl Calls {
    /// Whether every call started so far has answered.
    pub fn all_answered(&self) -> bool {
        self.pending == 0
    }
}

/// Calls connectors concurrently.
pub struct FanOut {
    http: UpstreamHttp,
    metrics: Arc<Metrics>,
    coordination: Arc<Coordination>,
    tasks: Tasks,
    limits: Limits,
    traces: Traces,
}

impl FanOut {
    pub fn new(
        http: UpstreamHttp,
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

    /// The calls of one request, over all its waves, within `spend`.
    pub fn calls(&self, spend: Arc<Spend>, waterfalls: Waterfalls, priority: Priority) -> Calls {
        let (sender, answers) = mpsc::unbounded_channel();
        Calls {
            sender,
            answers,
            pending: 0,
            started: Instant::now(),
            spend,
            waterfalls,
            priority,
        }
    }

    /// One wave: ask every connector of `targets` whose outcome is still `None` about
    /// `subject`, and wait for their answers until `deadline`.
    ///
    /// Disabled connectors and those missing a required identifier get an outcome without a
    /// call (counted by [`finish`](Self::finish): a later wave may still call them). The
    /// others run as tasks of their own — a waterfall's steps one after another, each once
    /// the one before has answered and left its fields unfilled; whatever has not answered
    /// by `deadline` stays pending in `calls`, so this returns no later than the deadline.
    /// Steps of a waterfall that could not start in time are `skipped`, `deadline`.
    pub async fn wave(
        &self,
        calls: &mut Calls,
        subject: &Arc<Subject>,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &mut [Option<SourceOutcome>],
        deadline: Instant,
    ) {
        let mut started = vec![false; targets.len()];
        self.start_ready(calls, subject, targets, outcomes, &mut started, deadline);

        // Collect answers as they come; the sleep is the hard stop at the deadline.
        let stop = tokio::time::sleep_until(deadline);
        tokio::pin!(stop);
        while calls.pending > 0 {
            tokio::select! {
                Some((index, outcome)) = calls.answers.recv() => {
                    outcomes[index] = Some(self.record(outcome, true));
                    calls.pending -= 1;
                    if !calls.waterfalls.is_empty() {
                        self.start_ready(calls, subject, targets, outcomes, &mut started, deadline);
                    }
                }
                () = &mut stop => break,
            }
        }
        for (index, outcome) in outcomes.iter_mut().enumerate() {
            if outcome.is_none() && !started[index] {
                let mut skipped =
                    SourceOutcome::without_call(&targets[index].name, SourceStatus::Skipped);
                skipped.report.reason = Some("deadline".to_owned());
                *outcome = Some(skipped);
            }
        }
    }

    /// Start every target without an outcome that waits for nobody; settle the waterfalls
    /// whose fields are filled. Repeated while outcomes given without a call (a disabled step,
    /// say) let a next step start.
    fn start_ready(
        &self,
        calls: &mut Calls,
        subject: &Arc<Subject>,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &mut [Option<SourceOutcome>],
        started: &mut [bool],
        deadline: Instant,
    ) {
        loop {
            calls.waterfalls.skip_satisfied(outcomes, started, targets);
            let mut settled_without_call = false;
            for (index, entry) in targets.iter().enumerate() {
                if outcomes[index].is_some()
                    || started[index]
                    || calls.waterfalls.waits(index, outcomes)
                {
                    continue;
                }
                match self.start(calls, subject, entry, index, deadline) {
                    Some(outcome) => {
                        outcomes[index] = Some(outcome);
                        settled_without_call = true;
                    }
                    None => started[index] = true,
                }
            }
            if calls.waterfalls.is_empty() || !settled_without_call {
                return;
            }
        }
    }

    /// Call `entry` as a task of its own, its answer sent to `calls` tagged with `index`;
    /// or, when it cannot be called (disabled, an identifier missing), its outcome now.
    fn start(
        &self,
        calls: &mut Calls,
        subject: &Arc<Subject>,
        entry: &Arc<ConnectorEntry>,
        index: usize,
        deadline: Instant,
    ) -> Option<SourceOutcome> {
        let Some(instance) = entry.instance.clone() else {
            return Some(SourceOutcome::without_call(
                &entry.name,
                SourceStatus::Disabled,
            ));
        };
        if !subject.has_all(&entry.metadata.required_identifiers) {
            return Some(SourceOutcome::without_call(
                &entry.name,
                SourceStatus::Skipped,
            ));
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
            spend: calls.spend.clone(),
            priority: calls.priority,
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
        None
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
            ..
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
    http: UpstreamHttp,
    /// The request's deadline: no retry starts after it.
    deadline: Instant,
    metrics: Arc<Metrics>,
    coordination: Arc<Coordination>,
    limits: Limits,
    /// What the request may spend (the call reserves its most before it starts).
    spend: Arc<Spend>,
    priority: Priority,
    /// The call's span, when tracing is on, and the headers that pass it on upstream.
    traced: Option<Traced>,
    trace_headers: reqwest::header::HeaderMap,
}

impl Call {
    async fn run(self) -> SourceOutcome {
        let started = Instant::now();
        let name = self.entry.name.as_str();
        // A bulk job's call may wait for its rate limit, for half the time left at most.
        let wait_until = (self.priority == Priority::Bulk)
            .then(|| started + self.deadline.saturating_duration_since(started) / 2);
        match self
            .entry
            .guard
            .admit(name, &self.coordination, wait_until)
            .await
        {
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
        let price = Price::of(&self.entry.config.cost);
        let ticket = match self.spend.reserve(price).await {
            Ok(ticket) => ticket,
            Err(refusal) => {
                // Admitted as the circuit's probe, perhaps: it was not made.
                self.entry.guard.breaker.on_abandoned_probe();
                let error = match refusal {
                    Refusal::Exhausted => {
                        "the call would pass the tenant's daily budget or the request's max_cost; not called".to_owned()
                    }
                    Refusal::Unchecked(cause) => {
                        format!("the budget could not be checked ({cause}); not called")
                    }
                };
                return SourceOutcome::failed(
                    name,
                    SourceStatus::BudgetExhausted,
                    error,
                    started.elapsed(),
                );
            }
        };

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
        let quota = QuotaSlot::default();
        let attempt = || {
            let ctx = EnrichContext::new(self.http.client(), call_deadline)
                .with_max_response_bytes(self.entry.config.max_response_bytes)
                .with_trace_headers(self.trace_headers.clone())
                .with_quota_slot(quota.clone());
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
        let mut outcome = self.outcome(result, started.elapsed());
        let charged = outcome.report.status.charge(&price);
        self.spend.settle(ticket, name, charged);
        if charged > 0 {
            outcome.report.cost = credits(charged);
            self.metrics
                .connector_cost
                .with_label_values(&[name])
                .inc_by(outcome.report.cost);
        }
        let quota = *quota.lock().unwrap_or_else(|p| p.into_inner());
        self.after(&outcome, quota).await;
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
                        cost: 0.0,
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

    /// Feed the breaker, and honour an upstream's request to wait — or a quota it reports
    /// spent — on every replica, unless the subject caused the failure: then it concerns this
    /// subject only.
    async fn after(&self, outcome: &SourceOutcome, quota: Option<Quota>) {
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
        let now_ms = unix_ms(SystemTime::now());
        let mut block_until = (outcome.report.status == SourceStatus::RateLimited)
            .then_some(outcome.report.retry_after_ms)
            .flatten()
            .map(|wait_ms| now_ms + wait_ms);
        if let Some(quota) = quota {
            self.metrics
                .connector_quota_remaining
                .with_label_values(&[name])
                .set(i64::try_from(quota.remaining).unwrap_or(i64::MAX));
            if quota.remaining == 0 {
                let latest = now_ms + millis(self.limits.max_retry_after);
                let reset_ms = quota
                    .resets_at
                    .map_or(now_ms + millis(QUOTA_PROBE_AFTER), unix_ms);
                // At least a second (a reset already past: the next call may probe), at most
                // the longest wait allowed.
                let until = reset_ms.max(now_ms + 1_000).min(latest);
                block_until = Some(block_until.map_or(until, |b| b.max(until)));
            }
        }
        if let Some(until_ms) = block_until {
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

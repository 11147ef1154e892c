//! What enrichd hands a connector with each call: the deadline, the shared HTTP client, and the
//! headers that carry the request's trace to the upstream.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use reqwest::header::HeaderMap;
use tokio::time::Instant;

use crate::{
    http::UpstreamResponse,
    quota::{Quota, QuotaHeaders},
};

/// Where the quota a call reports lands (enrichd reads it once the call is over).
pub type QuotaSlot = Arc<Mutex<Option<Quota>>>;

/// Per-call context.
///
/// The HTTP client is shared by every connector and request: it pools connections, so reuse it
/// rather than building your own (unless you need different redirect or TLS rules).
#[derive(Debug, Clone)]
pub struct EnrichContext {
    http: reqwest::Client,
    deadline: Instant,
    max_response_bytes: usize,
    /// W3C trace context (`traceparent`, `tracestate`) of the call, when tracing is on.
    trace_headers: HeaderMap,
    /// Where [`report_quota`](Self::report_quota) puts what the upstream said is left.
    quota: Option<QuotaSlot>,
}

impl EnrichContext {
    /// Responses larger than this are refused unless the connector is configured otherwise.
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

    pub fn new(http: reqwest::Client, deadline: Instant) -> EnrichContext {
        EnrichContext {
            http,
            deadline,
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
            trace_headers: HeaderMap::new(),
            quota: None,
        }
    }

    /// Builder-style: where the quotas this call reports go (enrichd sets one per call).
    pub fn with_quota_slot(mut self, slot: QuotaSlot) -> EnrichContext {
        self.quota = Some(slot);
        self
    }

    /// Tell enrichd what the upstream's rate-limit headers say is left of its allowance (the
    /// last report of a call counts). At 0, enrichd stops calling the connector, on every
    /// replica, until the reset. Report only the allowance of the configured upstream, never
    /// that of a host the subject names.
    pub fn report_quota(&self, quota: Quota) {
        if let Some(slot) = &self.quota {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(quota);
        }
    }

    /// [`report_quota`](Self::report_quota) what `response`'s headers say, read with
    /// `headers`; nothing when they carry no readable count.
    pub fn observe_quota<S: AsRef<str>>(
        &self,
        headers: &QuotaHeaders<S>,
        response: &UpstreamResponse,
    ) {
        if let Some(quota) = headers.read(&response.headers, SystemTime::now()) {
            self.report_quota(quota);
        }
    }

    /// Builder-style: headers that carry the request's trace (enrichd sets them when tracing
    /// is on; [`crate::http::send`] adds them to every upstream request).
    pub fn with_trace_headers(mut self, headers: HeaderMap) -> EnrichContext {
        self.trace_headers = headers;
        self
    }

    /// The trace headers every upstream request of this call carries (usually empty).
    pub fn trace_headers(&self) -> &HeaderMap {
        &self.trace_headers
    }

    /// Builder-style: cap the size of upstream response bodies.
    pub fn with_max_response_bytes(mut self, max: usize) -> EnrichContext {
        self.max_response_bytes = max;
        self
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// When this call must have answered (the earlier of the connector's timeout and the
    /// request's deadline).
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Time left until the deadline; zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// The largest upstream response body this call accepts.
    pub fn max_response_bytes(&self) -> usize {
        self.max_response_bytes
    }
}

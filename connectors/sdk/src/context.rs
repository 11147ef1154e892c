//! What enrichd hands a connector with each call: the deadline and the shared HTTP client.

use std::time::Duration;

use tokio::time::Instant;

/// Per-call context.
///
/// The HTTP client is shared by every connector and request: it pools connections, so reuse it
/// rather than building your own (unless you need different redirect or TLS rules).
#[derive(Debug, Clone)]
pub struct EnrichContext {
    http: reqwest::Client,
    deadline: Instant,
    max_response_bytes: usize,
}

impl EnrichContext {
    /// Responses larger than this are refused unless the connector is configured otherwise.
    pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;

    pub fn new(http: reqwest::Client, deadline: Instant) -> EnrichContext {
        EnrichContext {
            http,
            deadline,
            max_response_bytes: Self::DEFAULT_MAX_RESPONSE_BYTES,
        }
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

//! Everything checked before a connector is called, and updated after: the circuit breaker,
//! the rate limit, and the "not before" mark an upstream's `Retry-After` sets.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, SystemTime},
};

use super::{CircuitBreaker, Limiter, circuit::Allow};
use crate::{
    clock::unix_ms, config::ConnectorConfig, coordination::Coordination,
    enrichment::profile::SourceStatus,
};

/// Whether a call may go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Yes; `probe` when it is the one call of a half-open circuit.
    Call {
        probe: bool,
    },
    CircuitOpen,
    /// The upstream asked us to wait, or our own limit is used up.
    RateLimited {
        retry_after: Option<Duration>,
    },
}

/// The guards of one connector, shared by every request.
pub struct ConnectorGuard {
    pub breaker: CircuitBreaker,
    limiter: Option<Limiter>,
    /// Unix ms before which the upstream must not be called (from its `Retry-After`).
    not_before_ms: AtomicU64,
}

impl ConnectorGuard {
    /// `shared` says whether Redis is configured (for `scope: cluster` limits).
    /// `bulk_share` is the share of its rate limit bulk jobs may take (`jobs.max_share`).
    pub fn new(config: &ConnectorConfig, shared: bool, bulk_share: f64) -> ConnectorGuard {
        ConnectorGuard {
            breaker: CircuitBreaker::new(
                config.circuit_breaker.failure_threshold,
                Duration::from_secs(config.circuit_breaker.open_seconds),
            ),
            limiter: config
                .rate_limit
                .as_ref()
                .map(|l| Limiter::new(l, shared, bulk_share)),
            not_before_ms: AtomicU64::new(0),
        }
    }

    /// Decide whether `connector` may be called now; a bulk job's call (`wait_until` set) may
    /// wait for its rate limit until then.
    pub async fn admit(
        &self,
        connector: &str,
        coordination: &Coordination,
        wait_until: Option<tokio::time::Instant>,
    ) -> Admission {
        let now = unix_ms(SystemTime::now());
        let not_before = self.not_before_ms.load(Ordering::Acquire);
        if now < not_before {
            return Admission::RateLimited {
                retry_after: Some(Duration::from_millis(not_before - now)),
            };
        }
        let probe = match self.breaker.allow() {
            Allow::Refuse => return Admission::CircuitOpen,
            Allow::Probe => true,
            Allow::Call => false,
        };
        if let Some(limiter) = &self.limiter
            && let Err(retry_after) = limiter.take(connector, coordination, wait_until).await
        {
            if probe {
                self.breaker.on_abandoned_probe();
            }
            return Admission::RateLimited { retry_after };
        }
        Admission::Call { probe }
    }

    /// How long calls are stopped still (an upstream's `Retry-After`, a spent quota), if they
    /// are; takes nothing (for dry runs).
    pub fn blocked_for(&self) -> Option<Duration> {
        let now = unix_ms(SystemTime::now());
        let not_before = self.not_before_ms.load(Ordering::Acquire);
        (now < not_before).then(|| Duration::from_millis(not_before - now))
    }

    /// Do not call before `until_ms` (Unix ms); keeps the later of two marks.
    pub fn block_until(&self, until_ms: u64) {
        self.not_before_ms.fetch_max(until_ms, Ordering::AcqRel);
    }

    /// Feed a call's outcome to the breaker; returns whether it opened the circuit.
    pub fn record(&self, status: SourceStatus) -> bool {
        match status {
            SourceStatus::Ok | SourceStatus::NotFound => {
                self.breaker.on_success();
                false
            }
            SourceStatus::Error | SourceStatus::Timeout => self.breaker.on_failure(),
            // A rate limit says nothing about the upstream's health.
            _ => {
                self.breaker.on_abandoned_probe();
                false
            }
        }
    }
}

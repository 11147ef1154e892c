//! Per-connector rate limits: `requests` per `per_seconds`, counted in this process
//! (`scope: local`, a GCRA limiter from `governor`) or across every replica (`scope: cluster`,
//! a fixed window counted atomically in Redis by a Lua script). An exhausted limit refuses
//! the call at once (`rate_limited`): it never waits, so it cannot push an answer past the
//! deadline.

use std::{num::NonZeroU32, time::Duration};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::{
    config::{RateLimitConfig, RateLimitScope},
    coordination::Coordination,
};

pub enum Limiter {
    Local(DefaultDirectRateLimiter),
    /// Counted in Redis; while Redis is unreachable, counted locally instead.
    Cluster {
        requests: u32,
        window: Duration,
        fallback: DefaultDirectRateLimiter,
    },
}

impl Limiter {
    /// The limiter of `config`; `cluster` scope without Redis counts locally.
    pub fn new(config: &RateLimitConfig, shared: bool) -> Limiter {
        let window = Duration::from_secs(config.per_seconds.max(1));
        let requests = config.requests.max(1);
        let local = local_limiter(requests, window);
        if config.scope == RateLimitScope::Cluster && shared {
            Limiter::Cluster {
                requests,
                window,
                fallback: local,
            }
        } else {
            Limiter::Local(local)
        }
    }

    /// Take one call from the budget; `Err(wait)` when it is exhausted (the wait is a hint).
    pub async fn take(
        &self,
        connector: &str,
        coordination: &Coordination,
    ) -> Result<(), Option<Duration>> {
        match self {
            Limiter::Local(limiter) => take_local(limiter),
            Limiter::Cluster {
                requests,
                window,
                fallback,
            } => match coordination
                .take_from_window(connector, *requests, *window)
                .await
            {
                Ok(true) => Ok(()),
                Ok(false) => Err(None),
                Err(_) => take_local(fallback),
            },
        }
    }
}

fn local_limiter(requests: u32, window: Duration) -> DefaultDirectRateLimiter {
    let burst = NonZeroU32::new(requests).unwrap_or(NonZeroU32::MIN);
    let quota = Quota::with_period(window / requests)
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst);
    RateLimiter::direct(quota)
}

fn take_local(limiter: &DefaultDirectRateLimiter) -> Result<(), Option<Duration>> {
    use governor::clock::{Clock, DefaultClock};
    limiter
        .check()
        .map_err(|not_until| Some(not_until.wait_time_from(DefaultClock::default().now())))
}

//! Per-connector rate limits: `requests` per `per_seconds`, counted in this process
//! (`scope: local`, a GCRA limiter from `governor`) or across every replica (`scope: cluster`,
//! a fixed window counted atomically in Redis by a Lua script). An exhausted limit refuses
//! the call at once (`rate_limited`): it never waits, so it cannot push an answer past the
//! deadline. Calls of bulk jobs take from a share of the limit of their own first, and wait
//! for it (within their deadline): jobs are paced, interactive requests keep the rest.

use std::{num::NonZeroU32, time::Duration};

use tokio::time::Instant;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use crate::{
    config::{RateLimitConfig, RateLimitScope},
    coordination::Coordination,
};

/// One connector's limit: all its calls count against `all`; calls of bulk jobs also against
/// `bulk`, the share of the limit jobs may use (`jobs.max_share`), so that interactive requests
/// always find the rest.
pub struct Limiter {
    all: Window,
    bulk: Window,
}

/// Calls per window, counted in process or in Redis.
enum Window {
    Local(DefaultDirectRateLimiter),
    /// Counted in Redis; while Redis is unreachable, counted locally instead.
    Cluster {
        /// The name the window is counted under in Redis.
        name: Option<&'static str>,
        requests: u32,
        window: Duration,
        fallback: DefaultDirectRateLimiter,
    },
}

/// How long a bulk call sleeps at most between two looks at an exhausted limit.
const BULK_POLL: Duration = Duration::from_millis(50);

impl Limiter {
    /// The limiter of `config`, jobs taking at most `bulk_share` of it; `cluster` scope
    /// without Redis counts locally.
    pub fn new(config: &RateLimitConfig, shared: bool, bulk_share: f64) -> Limiter {
        let requests = config.requests.max(1);
        let share = (f64::from(requests) * bulk_share.clamp(0.0, 1.0)).ceil() as u32;
        Limiter {
            all: Window::new(config, shared, requests, None),
            bulk: Window::new(config, shared, share.clamp(1, requests), Some("jobs")),
        }
    }

    /// Take one call from the budget; `Err(wait)` when it is exhausted (the wait is a hint).
    /// An interactive call never waits. A bulk job's call (`wait_until` set) takes from the
    /// jobs' share first, and waits for both limits until `wait_until`.
    pub async fn take(
        &self,
        connector: &str,
        coordination: &Coordination,
        wait_until: Option<Instant>,
    ) -> Result<(), Option<Duration>> {
        let Some(until) = wait_until else {
            return self.all.take(connector, coordination).await;
        };
        for window in [&self.bulk, &self.all] {
            loop {
                match window.take(connector, coordination).await {
                    Ok(()) => break,
                    Err(wait) => {
                        let pause = wait.unwrap_or(BULK_POLL).min(BULK_POLL);
                        if Instant::now() + pause > until {
                            return Err(wait);
                        }
                        tokio::time::sleep(pause).await;
                    }
                }
            }
        }
        Ok(())
    }
}

impl Window {
    fn new(
        config: &RateLimitConfig,
        shared: bool,
        requests: u32,
        name: Option<&'static str>,
    ) -> Window {
        let window = Duration::from_secs(config.per_seconds.max(1));
        let local = local_limiter(requests, window);
        if config.scope == RateLimitScope::Cluster && shared {
            Window::Cluster {
                name,
                requests,
                window,
                fallback: local,
            }
        } else {
            Window::Local(local)
        }
    }

    async fn take(
        &self,
        connector: &str,
        coordination: &Coordination,
    ) -> Result<(), Option<Duration>> {
        match self {
            Window::Local(limiter) => take_local(limiter),
            Window::Cluster {
                name,
                requests,
                window,
                fallback,
            } => {
                let counted = match name {
                    Some(name) => {
                        coordination
                            .take_from_window(&format!("{connector}:{name}"), *requests, *window)
                            .await
                    }
                    None => {
                        coordination
                            .take_from_window(connector, *requests, *window)
                            .await
                    }
                };
                match counted {
                    Ok(true) => Ok(()),
                    Ok(false) => Err(None),
                    Err(_) => take_local(fallback),
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Keys;

    fn limit_of(requests: u32, share: f64) -> Limiter {
        let config: RateLimitConfig =
            serde_json::from_value(serde_json::json!({"requests": requests, "per_seconds": 60}))
                .unwrap();
        Limiter::new(&config, false, share)
    }

    #[tokio::test]
    async fn jobs_take_at_most_their_share_and_interactive_calls_the_rest() {
        let coordination = Coordination::new(None, Keys::new("t:"));
        let limiter = limit_of(10, 0.3);
        let soon = || Some(Instant::now() + Duration::from_millis(20));
        for _ in 0..3 {
            assert!(limiter.take("c", &coordination, soon()).await.is_ok());
        }
        let started = Instant::now();
        assert!(
            limiter.take("c", &coordination, soon()).await.is_err(),
            "the share is spent"
        );
        assert!(
            started.elapsed() < Duration::from_millis(20),
            "no waiting for a call that cannot come before the time given"
        );
        for _ in 0..7 {
            assert!(limiter.take("c", &coordination, None).await.is_ok());
        }
        let started = Instant::now();
        assert!(limiter.take("c", &coordination, None).await.is_err());
        assert!(
            started.elapsed() < Duration::from_millis(15),
            "an interactive call never waits"
        );
    }

    #[tokio::test]
    async fn a_bulk_call_waits_for_the_whole_limit_too() {
        let coordination = Coordination::new(None, Keys::new("t:"));
        // 1 call per second, all of it for jobs: the second waits for the next.
        let config: RateLimitConfig =
            serde_json::from_value(serde_json::json!({"requests": 1, "per_seconds": 1})).unwrap();
        let limiter = Limiter::new(&config, false, 1.0);
        assert!(limiter.take("c", &coordination, None).await.is_ok());
        let started = Instant::now();
        let until = Some(started + Duration::from_secs(3));
        assert!(limiter.take("c", &coordination, until).await.is_ok());
        assert!(
            started.elapsed() >= Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
        // A tiny share still lets jobs make one call.
        assert_eq!(limiter_share(&limit_of(10, 0.01)), 1);
    }

    #[tokio::test]
    async fn a_spent_limit_comes_back_at_its_rate() {
        let coordination = Coordination::new(None, Keys::new("t:"));
        // 10 per second: once spent, a call is possible again 100 ms later.
        let config: RateLimitConfig =
            serde_json::from_value(serde_json::json!({"requests": 10, "per_seconds": 1})).unwrap();
        let limiter = Limiter::new(&config, false, 1.0);
        for _ in 0..10 {
            assert!(limiter.take("c", &coordination, None).await.is_ok());
        }
        assert!(limiter.take("c", &coordination, None).await.is_err());
        let until = Some(Instant::now() + Duration::from_millis(400));
        assert!(limiter.take("c", &coordination, until).await.is_ok());
    }

    fn limiter_share(limiter: &Limiter) -> u32 {
        match &limiter.bulk {
            Window::Local(_) => {
                let mut n = 0;
                let coordination = Coordination::new(None, Keys::new("t:"));
                while futures_util::FutureExt::now_or_never(limiter.bulk.take("c", &coordination))
                    .is_some_and(|r| r.is_ok())
                {
                    n += 1;
                }
                n
            }
            Window::Cluster { requests, .. } => *requests,
        }
    }
}

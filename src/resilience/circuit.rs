//! A per-connector circuit breaker: after `failure_threshold` consecutive failures the circuit
//! opens and calls are refused (`circuit_open`) for `open_seconds`; then one probe is let
//! through (half-open): its success closes the circuit, its failure opens it again.

use std::{sync::Mutex, time::Duration};

use tokio::time::Instant;

/// The breaker's state, as `GET /v1/connectors` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

#[derive(Debug)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One probe is out; everyone else is refused until it reports.
    HalfOpen,
}

/// What the breaker allows for one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    Call,
    /// The one call of a half-open circuit.
    Probe,
    Refuse,
}

#[derive(Debug)]
pub struct CircuitBreaker {
    threshold: u32,
    open_for: Duration,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(threshold: u32, open_for: Duration) -> CircuitBreaker {
        CircuitBreaker {
            threshold: threshold.max(1),
            open_for,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a call may go out now.
    pub fn allow(&self) -> Allow {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Allow::Call,
            State::Open { until } if Instant::now() >= until => {
                *state = State::HalfOpen;
                Allow::Probe
            }
            State::Open { .. } | State::HalfOpen => Allow::Refuse,
        }
    }

    /// A call (or the probe) succeeded, or the upstream answered definitely.
    pub fn on_success(&self) {
        *self.lock() = State::Closed { failures: 0 };
    }

    /// A call failed; returns whether this opened the circuit.
    pub fn on_failure(&self) -> bool {
        let mut state = self.lock();
        let failures = match *state {
            State::Closed { failures } => failures + 1,
            State::HalfOpen => self.threshold,
            State::Open { .. } => return false,
        };
        if failures >= self.threshold {
            *state = State::Open {
                until: Instant::now() + self.open_for,
            };
            true
        } else {
            *state = State::Closed { failures };
            false
        }
    }

    /// A probe that never reported (cancelled): let the next call probe again.
    pub fn on_abandoned_probe(&self) {
        let mut state = self.lock();
        if matches!(*state, State::HalfOpen) {
            *state = State::Open {
                until: Instant::now(),
            };
        }
    }

    pub fn state(&self) -> CircuitState {
        match *self.lock() {
            State::Closed { .. } => CircuitState::Closed,
            State::Open { until } if Instant::now() >= until => CircuitState::HalfOpen,
            State::Open { .. } => CircuitState::Open,
            State::HalfOpen => CircuitState::HalfOpen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_circuit_opens_after_the_threshold_and_probes_after_the_wait() {
        let breaker = CircuitBreaker::new(3, Duration::from_secs(30));
        assert!(!breaker.on_failure());
        assert!(!breaker.on_failure());
        assert_eq!(breaker.allow(), Allow::Call);
        assert!(breaker.on_failure(), "the third failure opens it");
        assert_eq!(breaker.allow(), Allow::Refuse);
        assert_eq!(breaker.state(), CircuitState::Open);

        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(breaker.allow(), Allow::Probe, "one probe after the wait");
        assert_eq!(breaker.allow(), Allow::Refuse, "only one");
        breaker.on_failure();
        assert_eq!(
            breaker.allow(),
            Allow::Refuse,
            "a failed probe opens it again"
        );

        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(breaker.allow(), Allow::Probe);
        breaker.on_success();
        assert_eq!(breaker.allow(), Allow::Call, "a good probe closes it");
        assert_eq!(breaker.state(), CircuitState::Closed);
    }

    #[test]
    fn a_success_resets_the_failure_count() {
        let breaker = CircuitBreaker::new(2, Duration::from_secs(30));
        breaker.on_failure();
        breaker.on_success();
        assert!(!breaker.on_failure());
        assert_eq!(breaker.allow(), Allow::Call);
    }
}

//! Whether Redis is failing, shared by every clone of a link: after a command fails for want of
//! Redis (no connection, no answer in time), every command fails at once for a back-off —
//! 250 ms, doubling while probes fail, at most 4 s — after which one command goes through as a
//! probe; its success ends the outage. So requests do not wait on a Redis that is down.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

/// The first back-off after Redis failed, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_BACKOFF: Duration = Duration::from_secs(4);

#[derive(Debug, Default)]
pub(super) struct Outage {
    /// Unix ms until which commands fail at once; 0 while Redis answers.
    until_ms: AtomicU64,
    /// The back-off to use at the next failure, in ms (0: the first).
    backoff_ms: AtomicU64,
    /// Whether the one probe of an outage is out.
    probing: AtomicBool,
    /// What the last failure said (for `/readyz` and the fast failures' message).
    cause: Mutex<Option<String>>,
}

/// What a command may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// Redis answers: go ahead.
    Go,
    /// The one command of an outage that tries Redis again.
    Probe,
    /// Redis is failing: do not wait on it.
    Refuse,
}

impl Outage {
    pub(super) fn pass(&self, now_ms: u64) -> Pass {
        let until = self.until_ms.load(Ordering::Acquire);
        if until == 0 {
            return Pass::Go;
        }
        if now_ms < until {
            return Pass::Refuse;
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Pass::Probe,
            Err(_) => Pass::Refuse,
        }
    }

    /// Redis answered (even with an error of its own): the outage, if any, is over.
    pub(super) fn answered(&self) {
        if self.until_ms.load(Ordering::Acquire) != 0 {
            self.until_ms.store(0, Ordering::Release);
            self.backoff_ms.store(0, Ordering::Release);
            tracing::info!("Redis answers again.");
        }
        self.probing.store(false, Ordering::Release);
    }

    /// Redis could not be reached (`cause` says how): refuse commands for the next back-off.
    pub(super) fn failed(&self, now_ms: u64, cause: &str) {
        let first = millis(FIRST_BACKOFF);
        let backoff = self.backoff_ms.load(Ordering::Acquire).max(first);
        *self.cause.lock().unwrap_or_else(|p| p.into_inner()) = Some(cause.to_owned());
        if self.until_ms.swap(now_ms + backoff, Ordering::AcqRel) == 0 {
            tracing::warn!(
                backoff_ms = backoff,
                error = %cause,
                "Redis is failing; requests stop waiting on it until a probe succeeds."
            );
        }
        self.backoff_ms.store(
            (backoff * 2).min(millis(LONGEST_BACKOFF)),
            Ordering::Release,
        );
        self.probing.store(false, Ordering::Release);
    }

    /// What the last failure said, while the outage lasts.
    pub(super) fn cause(&self) -> Option<String> {
        if self.until_ms.load(Ordering::Acquire) == 0 {
            return None;
        }
        self.cause.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_failure_commands_are_refused_until_one_probe_succeeds() {
        let outage = Outage::default();
        assert_eq!(outage.pass(1_000), Pass::Go);
        assert_eq!(outage.cause(), None);

        outage.failed(1_000, "connection refused");
        assert_eq!(outage.pass(1_100), Pass::Refuse, "within the back-off");
        assert_eq!(outage.cause().as_deref(), Some("connection refused"));
        assert_eq!(outage.pass(1_250), Pass::Probe, "one probe after it");
        assert_eq!(outage.pass(1_251), Pass::Refuse, "only one");
        outage.answered();
        assert_eq!(outage.pass(1_252), Pass::Go);
        assert_eq!(outage.cause(), None, "over with the outage");
    }

    #[test]
    fn the_back_off_doubles_while_probes_fail_up_to_a_bound() {
        let outage = Outage::default();
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            outage.failed(now, "down");
            let until = outage.until_ms.load(Ordering::Acquire);
            waits.push(until - now);
            now = until;
            assert_eq!(outage.pass(now), Pass::Probe);
        }
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 4000, 4000, 4000]);
        outage.answered();
        outage.failed(now, "down");
        assert_eq!(outage.until_ms.load(Ordering::Acquire) - now, 250, "reset");
    }
}

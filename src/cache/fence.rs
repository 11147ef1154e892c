//! Erasure fences: what makes `DELETE` hold against writes that started before it.
//!
//! Every write about a user belongs to some work — an enrichment, a stale profile's refresh,
//! the merge of a late connector answer — that began at a known moment. An erasure must stop
//! every write of work that began before it, on every replica and in both tiers:
//!
//! - **In Redis**, an erasure sets the user's fence key (`<prefix>{id}:erased`) to a new random
//!   token, kept [`FENCE_TTL`]. Work reads the token when it starts (in the same round trip as
//!   the user's lock); its writes are one short script that makes them, atomically, only if
//!   the token is still the one read. Work that could not read it (Redis down at the start) writes nothing to
//!   Redis. Work older than [`MAX_WORK_AGE`] writes nothing at all, so the fence key can expire
//!   without ever letting an old write through.
//! - **In process**, each user with work under way has a [`Tripwire`] shared by that work; an
//!   erasure here, or another replica's erasure event, trips it. Work whose tripwire is
//!   tripped stores nothing, and work that stored just before the trip removes what it stored
//!   (store, then check: the erasure trips before it clears, so one of the two always wins).
//!
//! The registry of tripwires only holds users with work under way ([`PerUser`]), so it is
//! bounded by the work in flight.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::time::Instant;

use crate::per_user::PerUser;

/// How long an erasure's fence key stays in Redis.
pub const FENCE_TTL: Duration = Duration::from_secs(600);

/// Work older than this writes nothing: half the fence's lifetime, far beyond any deadline or
/// connector timeout, so the fence is always still there when an old write would land.
pub const MAX_WORK_AGE: Duration = Duration::from_secs(300);

/// Tripped when the user is erased.
#[derive(Debug, Default)]
pub struct Tripwire(AtomicBool);

impl Tripwire {
    fn trip(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_tripped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What one piece of work knows about its user's erasures.
#[derive(Debug, Clone)]
pub struct Fence {
    tripwire: Arc<Tripwire>,
    /// The Redis fence token read when the work began (`""`: never erased); `None` when it
    /// could not be read (no Redis, or Redis down): then nothing is written to Redis.
    token: Option<String>,
    began: Instant,
}

impl Fence {
    /// Whether the work may still write: not erased since it began, and not too old.
    pub fn holds(&self) -> bool {
        !self.tripwire.is_tripped() && self.began.elapsed() < MAX_WORK_AGE
    }

    /// The Redis token the work's writes must find, if it was read.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Record the token read from Redis (absent: never erased).
    pub fn set_token(&mut self, token: Option<String>) {
        self.token = Some(token.unwrap_or_default());
    }
}

/// The tripwires of the users with work under way in this process.
#[derive(Default)]
pub struct Fences {
    live: PerUser<Tripwire>,
}

impl Fences {
    /// The fence of new work about `user_id` (sharing the tripwire of work already under way).
    pub fn arm(&self, user_id: &str) -> Fence {
        Fence {
            tripwire: self.live.hold(user_id),
            token: None,
            began: Instant::now(),
        }
    }

    /// The user was erased: every piece of work under way about them stops writing; new work
    /// gets a fresh tripwire.
    pub fn trip(&self, user_id: &str) {
        if let Some(tripwire) = self.live.take(user_id) {
            tripwire.trip();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_erasure_stops_work_under_way_but_not_work_begun_after_it() {
        let fences = Fences::default();
        let before = fences.arm("u-1");
        let other_user = fences.arm("u-2");
        assert!(before.holds());

        fences.trip("u-1");

        assert!(!before.holds());
        assert!(other_user.holds());
        assert!(fences.arm("u-1").holds(), "new work is not fenced");
    }

    #[test]
    fn work_about_the_same_user_shares_one_tripwire() {
        let fences = Fences::default();
        let first = fences.arm("u-1");
        let second = fences.arm("u-1");
        fences.trip("u-1");
        assert!(!first.holds() && !second.holds());
    }

    #[tokio::test(start_paused = true)]
    async fn work_too_old_to_be_covered_by_the_fence_writes_nothing() {
        let fences = Fences::default();
        let fence = fences.arm("u-1");
        tokio::time::advance(MAX_WORK_AGE - Duration::from_millis(1)).await;
        assert!(fence.holds());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(!fence.holds(), "exactly the age limit no longer holds");
    }

    #[test]
    fn a_token_is_known_only_once_read() {
        let mut fence = Fences::default().arm("u-1");
        assert_eq!(fence.token(), None);
        fence.set_token(None);
        assert_eq!(fence.token(), Some(""));
        fence.set_token(Some("abc".into()));
        assert_eq!(fence.token(), Some("abc"));
    }
}

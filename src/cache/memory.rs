//! The in-process profile store: a bounded map whose entries expire on their own schedule.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache};

use super::CachedProfile;

/// An entry and how long it may be kept (fresh plus stale window).
#[derive(Clone)]
struct Held {
    profile: Arc<CachedProfile>,
    keep_for: Duration,
}

struct KeepFor;

impl Expiry<String, Held> for KeepFor {
    fn expire_after_create(&self, _key: &String, value: &Held, _at: Instant) -> Option<Duration> {
        Some(value.keep_for)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Held,
        _at: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.keep_for)
    }
}

/// Profiles kept in this process, at most `capacity` of them (least recently used go first).
#[derive(Clone)]
pub struct MemoryStore {
    entries: Cache<String, Held>,
}

impl MemoryStore {
    pub fn new(capacity: u64) -> MemoryStore {
        MemoryStore {
            entries: Cache::builder()
                .max_capacity(capacity)
                .expire_after(KeepFor)
                .build(),
        }
    }

    pub async fn get(&self, user_id: &str) -> Option<Arc<CachedProfile>> {
        self.entries.get(user_id).await.map(|held| held.profile)
    }

    pub async fn put(&self, user_id: &str, profile: Arc<CachedProfile>, keep_for: Duration) {
        self.entries
            .insert(user_id.to_owned(), Held { profile, keep_for })
            .await;
    }

    pub async fn remove(&self, user_id: &str) {
        self.entries.invalidate(user_id).await;
    }
}

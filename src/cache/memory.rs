//! The in-process tier: a bounded map whose entries expire on their own schedule (least
//! recently used go first when it is full).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use moka::{Expiry, future::Cache};

/// An entry and how long it may be kept.
struct Held<V> {
    value: Arc<V>,
    keep_for: Duration,
}

impl<V> Clone for Held<V> {
    fn clone(&self) -> Self {
        Held {
            value: self.value.clone(),
            keep_for: self.keep_for,
        }
    }
}

struct KeepFor;

impl<V> Expiry<String, Held<V>> for KeepFor {
    fn expire_after_create(&self, _key: &String, held: &Held<V>, _at: Instant) -> Option<Duration> {
        Some(held.keep_for)
    }

    fn expire_after_update(
        &self,
        _key: &String,
        held: &Held<V>,
        _at: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(held.keep_for)
    }
}

pub struct MemoryStore<V: Send + Sync + 'static> {
    entries: Cache<String, Held<V>>,
}

impl<V: Send + Sync + 'static> MemoryStore<V> {
    pub fn new(capacity: u64) -> MemoryStore<V> {
        MemoryStore {
            entries: Cache::builder()
                .max_capacity(capacity)
                .expire_after(KeepFor)
                .build(),
        }
    }

    /// A store that also supports [`remove_where`](Self::remove_where). Its reads cost a
    /// little more (each checks the pending removals), so the profile store, on the hit path,
    /// does without.
    pub fn removable_by_key(capacity: u64) -> MemoryStore<V> {
        MemoryStore {
            entries: Cache::builder()
                .max_capacity(capacity)
                .expire_after(KeepFor)
                .support_invalidation_closures()
                .build(),
        }
    }

    pub async fn get(&self, key: &str) -> Option<Arc<V>> {
        self.entries.get(key).await.map(|held| held.value)
    }

    pub async fn put(&self, key: String, value: Arc<V>, keep_for: Duration) {
        self.entries.insert(key, Held { value, keep_for }).await;
    }

    pub async fn remove(&self, key: &str) {
        self.entries.invalidate(key).await;
    }

    /// Remove every entry whose key matches: at once for readers (an entry already held is
    /// never returned again), in the background for memory. Only for a store built with
    /// [`removable_by_key`](Self::removable_by_key) (elsewhere it does nothing).
    pub fn remove_where(&self, matches: impl Fn(&str) -> bool + Send + Sync + 'static) {
        // Only fails when the store was built without invalidation closures; it is not.
        let _ = self
            .entries
            .invalidate_entries_if(move |key, _| matches(key));
    }

    pub fn clear(&self) {
        self.entries.invalidate_all();
    }

    /// Entries held now (for memory accounting in benchmarks and tests).
    pub fn len(&self) -> u64 {
        self.entries.entry_count()
    }
}

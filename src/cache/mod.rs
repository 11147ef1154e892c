//! The profile cache: merged profiles by user id, in Redis when configured, else in process.
//!
//! A cached profile is stored as the exact JSON served to callers (without the `cache` field),
//! so a hit is served without parsing or re-serializing it. Alongside it: until when it is
//! fresh, and the identifiers it was built from (for `?refresh=true` and to notice a caller
//! sending new ones). Entries live for `ttl` plus the stale window, then disappear.
//!
//! Redis failures never fail a request: a lookup that errs counts as a miss (and is counted in
//! `enrichd_cache_lookups_total{result="error"}`), a failed write is logged.

mod keys;
mod memory;
mod redis;

use std::{
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use enrichd_sdk::Subject;

pub use self::redis::RedisError;
use self::{keys::Keys, memory::MemoryStore, redis::RedisStore};
use crate::{config::CacheConfig, metrics::Metrics};

/// A profile as kept in the cache.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedProfile {
    /// The profile JSON, without the `cache` field.
    pub body: Bytes,
    /// Until when (Unix milliseconds) the profile is fresh.
    pub fresh_until_ms: u64,
    /// The subject (identifiers) the profile was built from, as JSON.
    pub subject: Bytes,
}

impl CachedProfile {
    pub fn is_fresh(&self, now: SystemTime) -> bool {
        unix_ms(now) < self.fresh_until_ms
    }

    /// The identifiers the profile was built from.
    pub fn subject(&self) -> Option<Subject> {
        serde_json::from_slice(&self.subject).ok()
    }
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Where profiles are kept.
enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
}

/// Whether the cache's backing store answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheHealth {
    /// In-process only; nothing to be down.
    InProcess,
    Up,
    Down,
}

/// The profile cache.
pub struct ProfileCache {
    store: Store,
    metrics: Arc<Metrics>,
}

impl ProfileCache {
    /// Open the cache of `config`: Redis when `redis_url` is set, else in process.
    pub fn open(config: &CacheConfig, metrics: Arc<Metrics>) -> Result<ProfileCache, RedisError> {
        let url = config.redis_url.expose().trim();
        let store = if url.is_empty() {
            Store::Memory(MemoryStore::new(config.local_capacity))
        } else {
            Store::Redis(RedisStore::new(
                url,
                Keys::new(&config.key_prefix),
                Duration::from_millis(config.timeout_ms),
            )?)
        };
        Ok(ProfileCache { store, metrics })
    }

    fn tier(&self) -> &'static str {
        match self.store {
            Store::Memory(_) => "local",
            Store::Redis(_) => "redis",
        }
    }

    /// The cached profile of a user, fresh or stale; errors count as a miss.
    pub async fn lookup(&self, user_id: &str) -> Option<CachedProfile> {
        let found = match &self.store {
            Store::Memory(memory) => Ok(memory.get(user_id).await.map(|p| (*p).clone())),
            Store::Redis(redis) => redis.get(user_id).await,
        };
        let (result, profile) = match found {
            Ok(Some(profile)) if profile.is_fresh(SystemTime::now()) => ("hit", Some(profile)),
            Ok(Some(profile)) => ("stale", Some(profile)),
            Ok(None) => ("miss", None),
            Err(err) => {
                tracing::warn!(error = %err, "Profile cache lookup failed; treating it as a miss.");
                ("error", None)
            }
        };
        self.metrics
            .cache_lookups
            .with_label_values(&[self.tier(), result])
            .inc();
        profile
    }

    /// Keep `profile` for `keep_for` (its freshness plus the stale window).
    pub async fn store(&self, user_id: &str, profile: CachedProfile, keep_for: Duration) {
        match &self.store {
            Store::Memory(memory) => memory.put(user_id, Arc::new(profile), keep_for).await,
            Store::Redis(redis) => {
                if let Err(err) = redis.put(user_id, &profile, keep_for).await {
                    tracing::warn!(error = %err, "Could not write a profile to Redis.");
                }
            }
        }
    }

    /// Erase everything cached about a user. Unlike lookups, this reports failure: an erasure
    /// that did not happen must not be answered as done.
    pub async fn erase(&self, user_id: &str) -> Result<(), RedisError> {
        match &self.store {
            Store::Memory(memory) => {
                memory.remove(user_id).await;
                Ok(())
            }
            Store::Redis(redis) => redis.delete(user_id).await,
        }
    }

    /// Whether the backing store answers now.
    pub async fn health(&self) -> CacheHealth {
        match &self.store {
            Store::Memory(_) => CacheHealth::InProcess,
            Store::Redis(redis) => match redis.ping().await {
                Ok(()) => CacheHealth::Up,
                Err(_) => CacheHealth::Down,
            },
        }
    }
}

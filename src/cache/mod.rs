//! The profile cache: merged profiles and per-source answers by user (of a tenant), in two tiers — a
//! bounded in-process tier in front of Redis (when configured).
//!
//! A cached profile is stored as the exact JSON served to callers (without the `cache` field),
//! so a hit is served without parsing or re-serializing it. Alongside it: until when it is
//! fresh, and the identifiers it was built from (for `?refresh=true` and to notice a caller
//! sending new ones). Entries live for their freshness plus the stale window, then disappear.
//!
//! Writes go to both tiers and tell the other replicas to drop their in-process copy (pub/sub),
//! so `DELETE` and refreshes reach every replica. Every write is guarded by an erasure
//! [`Fence`] (see [`fence`]): nothing begun before an erasure lands after it. Redis failures
//! never fail a request: a lookup that errs falls back to the in-process tier (and is counted
//! in `enrichd_cache_lookups_total{result="error"}`), a failed write is logged.

pub mod entry;
pub mod fence;
mod memory;
pub mod packed;
mod redis;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use enrichd_sdk::{Enrichment, Subject};
use serde::{Deserialize, Serialize};

pub use self::{
    entry::Stored,
    fence::{Fence, Fences},
    packed::Packed,
};
use self::{
    memory::MemoryStore,
    redis::{Along, EarlierRead, RedisStore, WriteBack},
};
pub use crate::clock::unix_ms;
use crate::{
    coordination::{Coordination, Event, LockOutcome},
    domain::{Overrides, UserKey},
    enrichment::profile::SourceStatus,
    keys::Keys,
    metrics::Metrics,
    redis_link::{RedisError, RedisLink},
    sealing::Sealer,
};

/// How long overrides are kept in process without Redis (they do not expire in Redis; in
/// process they also go with a restart, or when `cache.local_capacity` users have them).
const LOCAL_OVERRIDES_FOR: Duration = Duration::from_secs(365 * 24 * 3600);

/// What [`ProfileCache::claim`] finds.
pub struct Claimed {
    pub lock: LockOutcome,
    pub overrides: Overrides,
    pub sources: Vec<Option<CachedSource>>,
    /// What Redis held about the user: the base the work's writes merge into.
    pub stored: Stored,
}

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

    /// The identifiers the profile was built from, when they are valid ones (they may have
    /// been read back from Redis).
    pub fn subject(&self) -> Option<Subject> {
        serde_json::from_slice(&self.subject)
            .ok()
            .and_then(crate::domain::checked_subject)
    }
}

/// A new profile to write back: as built, as the in-process tier packed it (Redis keeps the
/// same blocks, so nothing is compressed twice), and how long to keep it.
#[derive(Clone, Copy)]
pub struct NewProfile<'a> {
    pub profile: &'a CachedProfile,
    pub packed: &'a Packed,
    pub keep_for: Duration,
}

/// One connector's last definite answer about a user (`ok` or `not_found`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedSource {
    pub status: SourceStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Enrichment>,
    pub confidence: f64,
    pub fetched_at_ms: u64,
    pub fresh_until_ms: u64,
    /// The identifiers the answer was for (a change makes it unusable).
    pub identifiers: String,
}

/// A per-source answer to store, already serialized (from the answer itself, so that nothing
/// is cloned for it), and how long to keep it.
#[derive(Debug, Clone)]
pub struct SourceToStore {
    pub connector: String,
    /// A [`CachedSource`] as JSON.
    pub json: Vec<u8>,
    pub keep_for: Duration,
}

impl SourceToStore {
    /// `source` of `connector`, kept for `keep_for`.
    pub fn of(connector: &str, source: &CachedSource, keep_for: Duration) -> SourceToStore {
        SourceToStore {
            connector: connector.to_owned(),
            json: serde_json::to_vec(source).expect("cached sources serialize"),
            keep_for,
        }
    }

    /// A connector's answer (borrowed) as its [`CachedSource`] JSON.
    pub fn answer(connector: &str, answer: SourceJson<'_>, keep_for: Duration) -> SourceToStore {
        SourceToStore {
            connector: connector.to_owned(),
            json: serde_json::to_vec(&answer).expect("cached sources serialize"),
            keep_for,
        }
    }
}

/// A [`CachedSource`] by reference, to serialize without cloning the enrichment: the same
/// fields, written the same way (a unit test reads one back as the other).
#[derive(Serialize)]
pub struct SourceJson<'a> {
    pub status: SourceStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<&'a Enrichment>,
    pub confidence: f64,
    pub fetched_at_ms: u64,
    pub fresh_until_ms: u64,
    pub identifiers: &'a str,
}

/// Whether the cache's shared tier answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheHealth {
    /// In-process only; nothing to be down.
    InProcess,
    Up,
    Down,
}

/// The profile cache.
pub struct ProfileCache {
    local: MemoryStore<Packed>,
    /// Per-source answers in process, as compact JSON; only without Redis (with Redis they
    /// are read from there, so replicas do not hold them twice).
    local_sources: MemoryStore<Box<[u8]>>,
    redis: Option<RedisStore>,
    /// Overrides in process, as JSON; only without Redis.
    local_overrides: MemoryStore<Box<[u8]>>,
    /// The tripwires of work under way in this process (see [`fence`]).
    fences: Fences,
    coordination: Arc<Coordination>,
    metrics: Arc<Metrics>,
}

impl ProfileCache {
    /// The two tiers: in process (`local_capacity` profiles), and Redis when `link` is given,
    /// its values sealed by `sealer`.
    pub fn new(
        local_capacity: u64,
        link: Option<RedisLink>,
        keys: Keys,
        sealer: Sealer,
        coordination: Arc<Coordination>,
        metrics: Arc<Metrics>,
    ) -> ProfileCache {
        ProfileCache {
            local: MemoryStore::new(local_capacity),
            local_sources: MemoryStore::removable_by_key(local_capacity),
            local_overrides: MemoryStore::new(local_capacity),
            redis: link.map(|link| RedisStore::new(link, keys, sealer)),
            fences: Fences::default(),
            coordination,
            metrics,
        }
    }

    fn count(&self, tier: &str, result: &str) {
        self.metrics
            .cache_lookups
            .with_label_values(&[tier, result])
            .inc();
    }

    /// The cached profile of a user, fresh or stale. A fresh in-process copy is served as is;
    /// otherwise Redis is asked, and a stale in-process copy is the fallback.
    pub async fn lookup(&self, user: &UserKey) -> Option<CachedProfile> {
        self.lookup_with(user, EarlierRead::IfAbsent).await
    }

    /// [`lookup`](Self::lookup) before an enrichment that a miss leads to: one round trip to
    /// Redis even for a user the layout before entries still holds (see [`EarlierRead`]).
    pub async fn lookup_to_enrich(&self, user: &UserKey) -> Option<CachedProfile> {
        self.lookup_with(user, EarlierRead::Along).await
    }

    async fn lookup_with(&self, user: &UserKey, earlier: EarlierRead) -> Option<CachedProfile> {
        let now = SystemTime::now();
        let local = self.local.get(user.as_str()).await;
        match &local {
            Some(profile) if profile.is_fresh(now) => {
                self.count("local", "hit");
                return profile.unpack();
            }
            Some(_) => self.count("local", "stale"),
            None => self.count("local", "miss"),
        }
        let Some(redis) = &self.redis else {
            return local.and_then(|p| p.unpack());
        };
        match redis.get(user, earlier).await {
            Ok(Some((profile, kept))) => {
                self.count(
                    "redis",
                    if profile.is_fresh(now) {
                        "hit"
                    } else {
                        "stale"
                    },
                );
                let keep_for =
                    Duration::from_millis(profile.fresh_until_ms.saturating_sub(unix_ms(now)))
                        .max(Duration::from_secs(1));
                self.local
                    .put(
                        user.as_str().to_owned(),
                        Arc::new(kept.unwrap_or_else(|| Packed::pack(&profile))),
                        keep_for,
                    )
                    .await;
                Some(profile)
            }
            Ok(None) => {
                self.count("redis", "miss");
                None
            }
            Err(err) => {
                self.count("redis", "error");
                tracing::warn!(error = %err, "Profile cache lookup in Redis failed; using the in-process tier.");
                local.and_then(|p| p.unpack())
            }
        }
    }

    /// The fence of new work about `user`: its writes land only if the user is not erased
    /// meanwhile. [`claim`](Self::claim) completes it with the Redis side.
    pub fn fence(&self, user: &UserKey) -> Fence {
        self.fences.arm(user.as_str())
    }

    /// Keep `profile` in the in-process tier for `keep_for` (its freshness plus the stale
    /// window), unless `fence` no longer holds: once this returns, this replica serves it.
    /// [`write_back`](Self::write_back) then shares it, given the packed profile returned.
    pub async fn store_local(
        &self,
        fence: &Fence,
        user: &UserKey,
        profile: &CachedProfile,
        keep_for: Duration,
    ) -> Arc<Packed> {
        let packed = Arc::new(Packed::pack(profile));
        if !fence.holds() {
            return packed;
        }
        self.local
            .put(user.as_str().to_owned(), Arc::clone(&packed), keep_for)
            .await;
        // An erasure trips the fence before it clears this tier: if it tripped while we
        // stored, what we stored must go.
        if !fence.holds() {
            self.local.remove(user.as_str()).await;
        }
        packed
    }

    /// The writes that follow an answer, if `fence` still holds, in one round trip to Redis:
    /// the user's entry — `stored` (what the work read when it began, updated to what it
    /// wrote) with the per-source answers (each kept for its own time) and the profile
    /// (already in process, see [`store_local`](Self::store_local)) — the release of the
    /// user's lock, and the event that makes the other replicas drop their copy of a profile
    /// it replaces (or wakes one waiting for a first profile). Without Redis, or when it fails, the
    /// per-source answers are kept in process. When the fence stopped the writes, the
    /// in-process copy is dropped too.
    pub async fn write_back(
        &self,
        fence: &Fence,
        user: &UserKey,
        stored: &mut Stored,
        sources: Vec<SourceToStore>,
        profile: Option<NewProfile<'_>>,
        lock_token: Option<&str>,
    ) {
        if !fence.holds() {
            // Erased meanwhile: nothing is written; the lock we hold is released.
            if let Some(token) = lock_token {
                self.release(user, token).await;
            }
            self.local.remove(user.as_str()).await;
            return;
        }
        // A new profile: the other replicas drop their copy of the one it replaces, and one
        // waiting for it hears of it.
        let announce = profile
            .is_some()
            .then(|| {
                self.coordination
                    .announcement(Event::invalidate(user, false))
            })
            .flatten();
        let written = match (&self.redis, fence.token()) {
            (Some(redis), Some(token)) => {
                let along = Along {
                    lock_token,
                    announce,
                };
                match redis
                    .write_back(user, token, stored, &sources, profile, along)
                    .await
                {
                    Ok(WriteBack { landed: true }) => true,
                    Ok(WriteBack { landed: false }) => {
                        tracing::debug!("Writes of work begun before an erasure were dropped.");
                        self.local.remove(user.as_str()).await;
                        return;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "Could not write to Redis; kept in process only.");
                        false
                    }
                }
            }
            // Redis could not be read when the work began: its fence is unknown, so nothing
            // is written there.
            _ => false,
        };
        if !fence.holds() {
            self.local.remove(user.as_str()).await;
            return;
        }
        if !written {
            // Not in Redis: no event either (the other replicas would read there the profile
            // this one replaces).
            self.store_local_sources(fence, user, sources).await;
        }
    }

    /// Try to become the replica that fans out for a user (its lock in Redis, for `lock_for`),
    /// read the user's erasure fence into `fence`, their overrides, and the cached answers of
    /// `connectors`, in one round trip.
    pub async fn claim(
        &self,
        fence: &mut Fence,
        user: &UserKey,
        lock_for: Duration,
        connectors: &[&str],
    ) -> Claimed {
        let Some(redis) = &self.redis else {
            return self.claimed_locally(user, connectors).await;
        };
        let (lock, token) = self.coordination.lock_command(user, lock_for);
        match redis.claim(lock, user, connectors).await {
            Ok(read) => {
                fence.set_token(read.fence);
                Claimed {
                    lock: if read.taken {
                        LockOutcome::Acquired(token)
                    } else {
                        LockOutcome::Held
                    },
                    overrides: read.overrides,
                    sources: read.sources,
                    stored: read.stored,
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "Could not lock the user or read per-source answers in Redis.");
                self.claimed_locally(user, connectors).await
            }
        }
    }

    /// What [`claim`](Self::claim) finds without Redis (or while it is down).
    async fn claimed_locally(&self, user: &UserKey, connectors: &[&str]) -> Claimed {
        Claimed {
            lock: LockOutcome::Unavailable,
            overrides: self.local_overrides(user).await,
            sources: self.local_sources(user, connectors).await,
            stored: Stored::default(),
        }
    }

    /// A user's overrides (none when they cannot be read: a lookup never fails a request).
    pub async fn overrides(&self, user: &UserKey) -> Overrides {
        if let Some(redis) = &self.redis {
            match redis.overrides(user).await {
                Ok(overrides) => return overrides,
                Err(err) => tracing::warn!(error = %err, "Could not read overrides from Redis."),
            }
        }
        self.local_overrides(user).await
    }

    /// Replace a user's overrides, where they are kept (Redis, else in process). Unlike
    /// lookups, this reports failure: a change not made must not be answered as done.
    pub async fn set_overrides(
        &self,
        user: &UserKey,
        overrides: &Overrides,
    ) -> Result<(), RedisError> {
        match &self.redis {
            Some(redis) => redis.set_overrides(user, overrides).await,
            None => {
                if overrides.is_empty() {
                    self.local_overrides.remove(user.as_str()).await;
                } else {
                    let json = serde_json::to_vec(overrides).expect("overrides serialize");
                    self.local_overrides
                        .put(
                            user.as_str().to_owned(),
                            Arc::new(json.into_boxed_slice()),
                            LOCAL_OVERRIDES_FOR,
                        )
                        .await;
                }
                Ok(())
            }
        }
    }

    async fn local_overrides(&self, user: &UserKey) -> Overrides {
        let stored = self.local_overrides.get(user.as_str()).await;
        redis::parse_overrides(stored.map(|json| json.to_vec()))
    }

    /// Release the user's lock taken by [`claim`](Self::claim), if it is still ours (work
    /// dropped before its writes, which would have released it).
    pub async fn release(&self, user: &UserKey, token: &str) {
        if let Some(redis) = &self.redis
            && let Err(err) = redis.unlock(user, token).await
        {
            tracing::debug!(error = %err, "Could not release a user's lock; it expires on its own.");
        }
    }

    /// Tell the replica fanning out for a user that this one waits (for `wait`) for the
    /// profile it will write, so that its writes announce it even when it is the user's
    /// first. Best effort: without it, the wait ends at its time and looks once more.
    pub async fn await_profile(&self, user: &UserKey, wait: Duration) {
        if let Some(redis) = &self.redis
            && let Err(err) = redis.await_profile(user, wait).await
        {
            tracing::debug!(error = %err, "Could not say that this replica waits for a profile.");
        }
    }

    /// The cached answers of `connectors` about a user, in order, and what Redis holds about
    /// them (the base of writes, see [`claim`](Self::claim)).
    pub async fn sources(
        &self,
        user: &UserKey,
        connectors: &[&str],
    ) -> (Vec<Option<CachedSource>>, Stored) {
        if let Some(redis) = &self.redis {
            match redis.sources(user, connectors).await {
                Ok(found) => return found,
                Err(err) => {
                    tracing::warn!(error = %err, "Could not read per-source answers from Redis.")
                }
            }
        }
        (
            self.local_sources(user, connectors).await,
            Stored::default(),
        )
    }

    /// The answers of `connectors` kept in process (without Redis, or while it is down).
    async fn local_sources(
        &self,
        user: &UserKey,
        connectors: &[&str],
    ) -> Vec<Option<CachedSource>> {
        let mut found = Vec::with_capacity(connectors.len());
        for connector in connectors {
            let cached = self.local_sources.get(&source_key(user, connector)).await;
            let json = cached.and_then(|packed| packed::decompress(&packed));
            found.push(json.and_then(|json| serde_json::from_slice(&json).ok()));
        }
        found
    }

    /// Keep per-source answers in process, each for its own time (unless `fence` no longer
    /// holds).
    async fn store_local_sources(
        &self,
        fence: &Fence,
        user: &UserKey,
        sources: Vec<SourceToStore>,
    ) {
        for source in sources {
            if !fence.holds() {
                return;
            }
            let packed = packed::compress(&source.json);
            let key = source_key(user, &source.connector);
            self.local_sources
                .put(key.clone(), Arc::new(packed), source.keep_for)
                .await;
            if !fence.holds() {
                self.local_sources.remove(&key).await;
            }
        }
    }

    /// Erase everything cached about a user, in both tiers and on every replica, and fence
    /// every write of work begun before now. `connectors` are the configured ones (Redis also
    /// finds the others in the user's index). Unlike lookups, this reports failure: an
    /// erasure that did not happen must not be answered as done.
    pub async fn erase(&self, user: &UserKey, connectors: &[&str]) -> Result<(), RedisError> {
        self.forget(user).await;
        if let Some(redis) = &self.redis {
            redis.erase(user, connectors.iter().copied()).await?;
        }
        self.coordination
            .publish(Event::invalidate(user, true))
            .await;
        Ok(())
    }

    /// Another replica wrote a newer profile of the user: drop this replica's copy.
    pub async fn drop_local(&self, user: &UserKey) {
        self.local.remove(user.as_str()).await;
    }

    /// The user was erased (here or on another replica): stop the work under way about them
    /// and drop everything this replica holds about them.
    pub async fn forget(&self, user: &UserKey) {
        self.fences.trip(user.as_str());
        self.local.remove(user.as_str()).await;
        self.local_overrides.remove(user.as_str()).await;
        let prefix = source_key(user, "");
        self.local_sources
            .remove_where(move |key| key.starts_with(&prefix));
    }

    /// Forget the whole in-process tier (after missed events).
    pub fn clear_local(&self) {
        self.local.clear();
        self.local_sources.clear();
    }

    /// Profiles held in process now.
    pub fn local_len(&self) -> u64 {
        self.local.len()
    }

    /// Why the shared tier is down, as its last failure said (for `/readyz`).
    pub fn failure(&self) -> Option<String> {
        self.redis.as_ref().and_then(RedisStore::failure)
    }

    /// Whether the shared tier answers now.
    pub async fn health(&self) -> CacheHealth {
        match &self.redis {
            None => CacheHealth::InProcess,
            Some(redis) => match redis.ping().await {
                Ok(()) => CacheHealth::Up,
                Err(_) => CacheHealth::Down,
            },
        }
    }
}

fn source_key(user: &UserKey, connector: &str) -> String {
    format!("{user}\u{0}{connector}")
}

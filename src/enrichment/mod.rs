//! Enrichment: a request's whole journey — validate, cache lookup, coalesce, fan-out, merge,
//! store, answer — in [`Enricher::enrich`], which calls one well-named step after another.
//!
//! Work outlives no owner: a coalesced flight is driven by its callers and unregisters itself
//! when they are all gone; what follows an answer (writes, the merge of late answers) and a
//! stale profile's refresh run as owned tasks (see [`crate::tasks`]). Every write carries the
//! [`Fence`] of the work it belongs to, so that an erasure stops it.

mod bounds;
mod fanout;
mod merge;
pub mod profile;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use enrichd_sdk::Subject;
use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared, WeakShared},
};
use opentelemetry::{KeyValue, context::FutureExt as _, trace::SpanKind};
use tokio::{sync::Notify, time::Instant};

pub use self::fanout::{FanOut, FanOutResult, Limits, SourceOutcome, status_of};
pub use self::merge::{Merged, SourceAnswer, merge};
use self::profile::{
    CacheStatus, Profile, SourceReport, SourceStatus, timestamp, with_cache_status,
};
use crate::{
    cache::{CachedProfile, CachedSource, Fence, ProfileCache, unix_ms},
    config::Config,
    connectors::{ConnectorEntry, ConnectorRegistry, RegistrySnapshot},
    coordination::{Coordination, LockOutcome},
    domain::{EnrichRequest, MAX_HANDLES, Tenant, UserKey},
    metrics::Metrics,
    per_user::PerUser,
    privacy::{Suppressions, Verdict},
    redis_link::RedisError,
    tasks::Tasks,
    traces::Traces,
};

/// Why an enrichment produced no profile.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnrichError {
    /// Every connector that was asked failed; the reports say how.
    #[error("every source failed")]
    AllSourcesFailed { sources: Vec<SourceReport> },
    /// An identical enrichment already in flight did not finish within this request's deadline.
    #[error("the enrichment did not finish within the deadline")]
    DeadlineExceeded,
    /// An identifier of the subject (sent, or remembered for the user) is suppressed.
    #[error("an identifier of the subject is suppressed")]
    SubjectSuppressed,
    /// The suppression list is not loaded yet, so nobody can tell whether the subject is.
    #[error("the suppression list is not loaded")]
    SuppressionsUnknown,
}

/// How long profiles stay fresh, by outcome.
#[derive(Debug, Clone)]
struct Freshness {
    complete: Duration,
    nobody_knows: Duration,
    partial: Duration,
    stale: Duration,
}

/// The writes that follow an answer (cache tiers, events, unlock), run after answering.
type Writes = Option<BoxFuture<'static, ()>>;

/// Writes under way for a user, awaitable by several (see [`Inner::write_behind`]).
type Written = Shared<BoxFuture<'static, ()>>;

/// One enrichment in flight, shared by every identical request that arrives meanwhile.
type Flight = Shared<BoxFuture<'static, Result<Arc<Built>, EnrichError>>>;

/// A flight as the registry holds it: it does not keep the flight alive.
type WeakFlight = WeakShared<BoxFuture<'static, Result<Arc<Built>, EnrichError>>>;

/// Enriches subjects: the hot path of the service. Cheap to clone.
#[derive(Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<ConnectorRegistry>,
    cache: Arc<ProfileCache>,
    fan_out: FanOut,
    metrics: Arc<Metrics>,
    deadline: Duration,
    freshness: Freshness,
    /// Items kept of each list of a profile.
    max_list_items: usize,
    flights: Mutex<HashMap<String, WeakFlight>>,
    /// Per user, the writes that follow answers and are not done yet.
    writing: Mutex<HashMap<String, Written>>,
    /// Per user, requests waiting for another replica's enrichment to land.
    arrivals: PerUser<Notify>,
    tasks: Tasks,
    traces: Traces,
    suppressions: Arc<Suppressions>,
}

/// A freshly built profile, as it is cached.
#[derive(Debug)]
struct Built {
    body: Bytes,
}

/// What to enrich, once the cache has had its say.
struct Job {
    /// The user (of the caller's tenant) everything is read and written under.
    user: UserKey,
    subject: Subject,
    connectors: Option<Vec<String>>,
    /// Whether the result is the user's shared profile (stored, and per-source answers reused).
    shared: bool,
    /// Whether cached per-source answers may stand in for calls.
    reuse_sources: bool,
    deadline: Instant,
}

/// What the merge of answers that arrive after the deadline works on.
struct LateAnswers {
    fence: Fence,
    user: UserKey,
    subject: Arc<Subject>,
    targets: Vec<Arc<ConnectorEntry>>,
    outcomes: Vec<SourceOutcome>,
}

/// The process-wide services an [`Enricher`] works with.
pub struct Services {
    /// The HTTP client every connector call goes through.
    pub http: reqwest::Client,
    pub coordination: Arc<Coordination>,
    pub metrics: Arc<Metrics>,
    /// The owner of the background work (late answers, refreshes, writes).
    pub tasks: Tasks,
    pub traces: Traces,
    /// The identifiers nobody may enrich.
    pub suppressions: Arc<Suppressions>,
}

impl Enricher {
    pub fn new(
        config: &Config,
        registry: Arc<ConnectorRegistry>,
        cache: Arc<ProfileCache>,
        services: Services,
    ) -> Enricher {
        let Services {
            http,
            coordination,
            metrics,
            tasks,
            traces,
            suppressions,
        } = services;
        let secs = Duration::from_secs;
        let limits = Limits {
            max_list_items: config.enrichment.max_list_items,
            max_retry_after: secs(config.enrichment.max_retry_after_seconds),
        };
        Enricher {
            inner: Arc::new(Inner {
                registry,
                cache,
                fan_out: FanOut::new(
                    http,
                    metrics.clone(),
                    coordination,
                    tasks.clone(),
                    limits,
                    traces.clone(),
                ),
                metrics,
                deadline: config.deadline(),
                max_list_items: limits.max_list_items,
                freshness: Freshness {
                    complete: secs(config.cache.ttl_seconds),
                    nobody_knows: secs(config.cache.negative_ttl_seconds),
                    partial: secs(config.cache.error_ttl_seconds),
                    stale: secs(config.cache.stale_seconds),
                },
                flights: Mutex::new(HashMap::new()),
                writing: Mutex::new(HashMap::new()),
                arrivals: PerUser::default(),
                tasks,
                traces,
                suppressions,
            }),
        }
    }

    /// Enrich one subject: the profile JSON to answer with.
    ///
    /// A fresh cached profile is served as is; a stale one is served at once while one
    /// background refresh runs. A request naming its own `connectors` gets a fresh, partial
    /// view: it neither reads nor replaces the user's shared cached profile. A subject with a
    /// suppressed identifier — sent now, or remembered for the user — is refused before
    /// anything is read, called or stored.
    pub async fn enrich(&self, request: EnrichRequest) -> Result<Bytes, EnrichError> {
        self.inner.admit(&request.tenant, &request.subject)?;
        let deadline = Instant::now()
            + request
                .timeout
                .map_or(self.inner.deadline, |t| t.min(self.inner.deadline));
        let shared = request.connectors.is_none();
        let user = UserKey::new(&request.tenant, &request.subject.user_id);
        let mut subject = request.subject;
        if shared && !request.refresh {
            let traced = self
                .inner
                .traces
                .child("cache.lookup", SpanKind::Internal, Vec::new());
            let (result, answer) = match self.inner.cache.lookup(&user).await {
                None => ("miss", None),
                Some(cached) => {
                    let remembered = cached.subject();
                    if let Some(remembered) = &remembered {
                        self.inner.admit(&request.tenant, remembered)?;
                    }
                    if !covers(remembered.as_ref(), &subject) {
                        subject = remembered_with(remembered, subject);
                        ("new_identifiers", None)
                    } else if cached.is_fresh(SystemTime::now()) {
                        (
                            "hit",
                            Some(with_cache_status(&cached.body, CacheStatus::Hit)),
                        )
                    } else {
                        self.revalidate(&user, remembered.unwrap_or_else(|| subject.clone()));
                        let stale = with_cache_status(&cached.body, CacheStatus::Stale);
                        ("stale", Some(stale))
                    }
                }
            };
            if let Some(traced) = traced {
                traced.record([KeyValue::new("cache.result", result)]);
                traced.end();
            }
            if let Some(answer) = answer {
                return Ok(answer);
            }
        }
        let job = Job {
            user,
            subject,
            connectors: request.connectors,
            shared,
            reuse_sources: shared && !request.refresh,
            deadline,
        };
        let built = self.coalesced(job).await?;
        let status = if shared && !request.refresh {
            CacheStatus::Miss
        } else {
            CacheStatus::Bypass
        };
        Ok(with_cache_status(&built.body, status))
    }

    /// The cached profile of a user, fresh (`hit`) or stale (`stale`); refused when the user
    /// or an identifier remembered for them is suppressed.
    pub async fn cached(&self, user: &UserKey) -> Result<Option<Bytes>, EnrichError> {
        let tenant = user.tenant();
        self.inner.admit(&tenant, &Subject::new(user.user_id()))?;
        let Some(cached) = self.inner.cache.lookup(user).await else {
            return Ok(None);
        };
        if let Some(remembered) = cached.subject() {
            self.inner.admit(&tenant, &remembered)?;
        }
        let status = if cached.is_fresh(SystemTime::now()) {
            CacheStatus::Hit
        } else {
            CacheStatus::Stale
        };
        Ok(Some(with_cache_status(&cached.body, status)))
    }

    /// The identifiers remembered for a user (for `DELETE ?suppress=true`): the user id, and
    /// those the cached profile was built from.
    pub async fn remembered(&self, user: &UserKey) -> Subject {
        let remembered = self
            .inner
            .cache
            .lookup(user)
            .await
            .and_then(|c| c.subject());
        match remembered {
            Some(subject) if subject.user_id == user.user_id() => subject,
            _ => Subject::new(user.user_id()),
        }
    }

    /// Re-enrich a cached user with the identifiers remembered for them; `None` when nothing
    /// is cached (there is nothing to refresh from).
    pub async fn refresh(&self, user: &UserKey) -> Option<Result<Bytes, EnrichError>> {
        let cached = self.inner.cache.lookup(user).await?;
        let subject = cached
            .subject()
            .filter(|s| s.user_id == user.user_id())
            .unwrap_or_else(|| Subject::new(user.user_id()));
        let request = EnrichRequest {
            tenant: user.tenant(),
            subject,
            connectors: None,
            refresh: true,
            timeout: None,
        };
        Some(self.enrich(request).await)
    }

    /// Erase everything cached about a user, on every tier and replica. Work about the user
    /// begun before — writes still queued, late answers, refreshes, on any replica — is
    /// fenced: none of it lands afterwards.
    pub async fn erase(&self, user: &UserKey) -> Result<(), RedisError> {
        let snapshot = self.inner.registry.snapshot();
        let names: Vec<&str> = snapshot.entries().iter().map(|e| e.name.as_str()).collect();
        self.inner.cache.erase(user, &names).await
    }

    /// Identical enrichments in flight share one fan-out; joiners are counted.
    ///
    /// The callers drive the shared flight; the registry holds it only weakly. When every
    /// caller is gone (a client that disconnects drops its request), the flight is dropped
    /// with them and unregisters itself: nothing is left for a later caller to join, with a
    /// deadline long past (Apollo Router's deduplication works the same way). A finished
    /// flight stays registered until its writes are done, so that a request arriving
    /// meanwhile gets its result instead of fanning out again.
    async fn coalesced(&self, job: Job) -> Result<Arc<Built>, EnrichError> {
        let key = flight_key(&job);
        let deadline = job.deadline;
        let (flight, joined) = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&key).and_then(WeakShared::upgrade) {
                Some(flight) => (flight, true),
                None => {
                    let flight = self.flight(key.clone(), job);
                    if let Some(weak) = flight.downgrade() {
                        flights.insert(key, weak);
                    }
                    (flight, false)
                }
            }
        };
        if !joined {
            return flight.await;
        }
        self.inner.metrics.coalesced.inc();
        // A joiner waits no longer than its own deadline (plus the time to merge).
        tokio::time::timeout_at(deadline + Duration::from_millis(50), flight)
            .await
            .unwrap_or(Err(EnrichError::DeadlineExceeded))
    }

    /// The flight to register under `key`: produce the answer, then hand the writes to a task
    /// that keeps the finished flight (and its registration) until they are done. Dropped
    /// before that, it unregisters itself.
    fn flight(&self, key: String, job: Job) -> Flight {
        let inner = self.inner.clone();
        // The flight's own handle, weak (a strong one inside would keep it alive forever),
        // for the write task to hold once the flight is done.
        let itself: Arc<OnceLock<WeakFlight>> = Arc::default();
        let handle = itself.clone();
        let flight = async move {
            let registered = Registered {
                inner: inner.clone(),
                key,
            };
            let user = job.user.clone();
            let (result, writes) = inner.produce(job).await;
            if let Some(writes) = writes {
                let written = inner.write_behind(&user, writes);
                let finished = handle.get().and_then(WeakShared::upgrade);
                let this = inner.clone();
                inner.tasks.spawn(async move {
                    let _keep = (finished, registered);
                    written.clone().await;
                    this.writes_done(&user, &written);
                });
            }
            result
        }
        .boxed()
        .shared();
        if let Some(weak) = flight.downgrade() {
            let _ = itself.set(weak);
        }
        flight
    }

    /// Refresh a stale profile in the background (coalesced with any refresh in flight).
    fn revalidate(&self, user: &UserKey, subject: Subject) {
        let this = self.clone();
        let job = Job {
            user: user.clone(),
            subject,
            connectors: None,
            shared: true,
            reuse_sources: true,
            deadline: Instant::now() + self.inner.deadline,
        };
        self.inner.tasks.spawn(async move {
            let _ = this.coalesced(job).await;
        });
    }

    /// Another replica wrote a profile of `user`: wake the requests waiting for it.
    pub fn profile_arrived(&self, user: &UserKey) {
        if let Some(arrival) = self.inner.arrivals.get(user.as_str()) {
            arrival.notify_waiters();
        }
    }

    /// Wait for every write that follows an answer already given (before shutting down).
    pub async fn settle(&self) {
        let pending: Vec<Written> = self.inner.writing().values().cloned().collect();
        futures_util::future::join_all(pending).await;
    }

    /// Enrichments registered for coalescing now (for tests: none may outlive its work).
    pub fn flights_in_progress(&self) -> usize {
        self.inner
            .flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Profiles held in this process (for tests and benchmarks).
    pub fn local_profiles(&self) -> u64 {
        self.inner.cache.local_len()
    }
}

/// The user's Redis lock while this replica fans out for them. The writes that follow the
/// answer release it; if the work is dropped before (every caller gone), a task of its own
/// does, so that other replicas need not wait for it to expire.
struct UserLock {
    inner: Arc<Inner>,
    user: UserKey,
    token: Option<String>,
}

impl UserLock {
    /// The token, for the writes to release the lock with.
    fn hand_over(mut self) -> Option<String> {
        self.token.take()
    }
}

impl Drop for UserLock {
    fn drop(&mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return; // The runtime is gone: the lock expires on its own.
        }
        let cache = self.inner.cache.clone();
        let user = self.user.clone();
        self.inner.tasks.spawn(async move {
            cache.release(&user, &token).await;
        });
    }
}

/// A flight's registration, removed when the flight (or its write task) is dropped, however
/// it ends.
struct Registered {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.inner
            .flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl Inner {
    /// Whether `subject` of `tenant` may be enriched (see [`Suppressions::check`]).
    fn admit(&self, tenant: &Tenant, subject: &Subject) -> Result<(), EnrichError> {
        match self.suppressions.check(tenant, subject) {
            Verdict::Clear => Ok(()),
            Verdict::Suppressed => Err(EnrichError::SubjectSuppressed),
            Verdict::Unknown => Err(EnrichError::SuppressionsUnknown),
        }
    }

    fn writing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue the writes of a user's enrichment behind any still running for that user (so an
    /// older profile never lands after a newer one) and register them until they are done.
    fn write_behind(&self, user: &UserKey, writes: BoxFuture<'static, ()>) -> Written {
        let mut writing = self.writing();
        let queued = match writing.get(user.as_str()) {
            Some(before) => {
                let before = before.clone();
                async move {
                    before.await;
                    writes.await;
                }
                .boxed()
                .shared()
            }
            None => writes.shared(),
        };
        writing.insert(user.as_str().to_owned(), queued.clone());
        queued
    }

    /// Wait for the writes under way for a user, if any.
    async fn writes_of(&self, user: &UserKey) {
        let pending = self.writing().get(user.as_str()).cloned();
        if let Some(pending) = pending {
            pending.await;
        }
    }

    /// Forget finished writes (unless newer ones were queued behind them meanwhile).
    fn writes_done(&self, user: &UserKey, written: &Written) {
        let mut writing = self.writing();
        if writing
            .get(user.as_str())
            .is_some_and(|current| current.ptr_eq(written))
        {
            writing.remove(user.as_str());
        }
    }

    /// Fan out and merge: the work one flight does. Returns the answer at once, with the
    /// writes still to do (cache tiers, events, unlock) as a future to run after answering.
    async fn produce(self: &Arc<Self>, job: Job) -> (Result<Arc<Built>, EnrichError>, Writes) {
        let started = Instant::now();
        let targets = targets(&self.registry.snapshot(), job.connectors.as_deref());
        let user = job.user.clone();
        let mut fence = self.cache.fence(&user);
        let mut lock = UserLock {
            inner: self.clone(),
            user: user.clone(),
            token: None,
        };
        let mut known = Vec::new();
        if job.shared {
            // Our own writes for this user still hold its lock: let them finish first.
            self.writes_of(&user).await;
            // One round trip: the user's lock, its erasure fence, and the per-source answers
            // that may stand in for calls.
            let names: Vec<&str> = if job.reuse_sources {
                targets.iter().map(|t| t.name.as_str()).collect()
            } else {
                Vec::new()
            };
            let lock_for = self.deadline + Duration::from_secs(2);
            let (outcome, mut found) = self.cache.claim(&mut fence, &user, lock_for, &names).await;
            match outcome {
                LockOutcome::Acquired(token) => lock.token = Some(token),
                LockOutcome::Held => {
                    if let Some(built) = self.wait_for_other_replica(&job).await {
                        return (Ok(built), None);
                    }
                    if !names.is_empty() {
                        // The other replica may have stored some answers while we waited.
                        found = self.cache.sources(&user, &names).await;
                    }
                }
                LockOutcome::Unavailable => {}
            }
            if job.reuse_sources {
                known = self.usable_sources(&job.subject, &targets, found);
            }
        }
        let subject = Arc::new(job.subject);
        let wave = self.traces.child(
            "enrichment.wave",
            SpanKind::Internal,
            vec![
                KeyValue::new("enrichment.wave", 1),
                KeyValue::new("enrichment.connectors", targets.len() as i64),
            ],
        );
        let fan_out = self.fan_out.run(&subject, &targets, known, job.deadline);
        let FanOutResult {
            outcomes,
            late,
            pending,
        } = match &wave {
            Some(wave) => fan_out.with_context(wave.context()).await,
            None => fan_out.await,
        };
        if let Some(wave) = wave {
            wave.record([KeyValue::new("enrichment.late", pending as i64)]);
            wave.end();
        }
        let built = self.build(&subject, &targets, &outcomes);
        let outcome = match &built {
            Ok((_, partial, _)) if *partial => "partial",
            Ok(_) => "complete",
            Err(_) => "failed",
        };
        self.metrics.enrichments.with_label_values(&[outcome]).inc();
        self.metrics
            .enrichment_duration
            .observe(started.elapsed().as_secs_f64());
        let result = built
            .as_ref()
            .map(|(cached, _, _)| {
                Arc::new(Built {
                    body: cached.body.clone(),
                })
            })
            .map_err(Clone::clone);
        if !job.shared {
            // A view of the caller's own choosing: nothing is stored.
            return (result, None);
        }
        let to_store = match built {
            Ok((cached, _, keep_for)) => {
                // In process before answering: this replica serves the profile as soon as
                // the caller has it.
                self.cache
                    .store_local(&fence, &user, &cached, keep_for)
                    .await;
                Some((cached, keep_for))
            }
            Err(_) => None,
        };
        let this = self.clone();
        let lock = lock.hand_over();
        let writes = async move {
            let sources = this.fresh_sources(&subject, &targets, &outcomes);
            let profile = to_store
                .as_ref()
                .map(|(cached, keep_for)| (cached, *keep_for));
            this.cache
                .write_back(&fence, &user, sources, profile, lock.as_deref())
                .await;
            if let Some(late) = late {
                let answers = LateAnswers {
                    fence,
                    user,
                    subject,
                    targets,
                    outcomes,
                };
                this.merge_late_answers(answers, late, pending);
            }
        }
        .boxed();
        (result, Some(writes))
    }

    /// Another replica holds the user's lock: wait (at most half our time) for its profile,
    /// woken by its announcement (the event its writes publish).
    async fn wait_for_other_replica(&self, job: &Job) -> Option<Arc<Built>> {
        let now = Instant::now();
        let until = now + job.deadline.saturating_duration_since(now) / 2;
        let arrival = self.arrivals.hold(job.user.as_str());
        loop {
            // Registered before looking, so that an announcement in between is not missed.
            let announced = arrival.notified();
            tokio::pin!(announced);
            announced.as_mut().enable();
            if let Some(built) = self.profile_of_other_replica(job).await {
                return Some(built);
            }
            if tokio::time::timeout_at(until, announced).await.is_err() {
                // One last look: the announcement may have been lost with a Redis hiccup.
                return self.profile_of_other_replica(job).await;
            }
        }
    }

    /// The profile another replica stored for this job's subject, if it is there and fresh.
    async fn profile_of_other_replica(&self, job: &Job) -> Option<Arc<Built>> {
        let cached = self.cache.lookup(&job.user).await?;
        let usable =
            cached.is_fresh(SystemTime::now()) && covers(cached.subject().as_ref(), &job.subject);
        usable.then(|| {
            self.metrics.coalesced.inc();
            Arc::new(Built { body: cached.body })
        })
    }

    /// The definite answers (`ok`, `not_found`) obtained now, to keep for their connector's
    /// TTL.
    fn fresh_sources(
        &self,
        subject: &Subject,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &[SourceOutcome],
    ) -> Vec<(String, CachedSource, Duration)> {
        let now = SystemTime::now();
        targets
            .iter()
            .zip(outcomes)
            .filter(|(_, o)| !o.from_cache && o.report.status.answered())
            .map(|(entry, outcome)| {
                // `cache.ttl_seconds` bounds the age of any answer reused later.
                let fresh_for = if outcome.answer.is_some() {
                    entry.ttl
                } else {
                    self.freshness.nobody_knows
                }
                .min(self.freshness.complete);
                let source = CachedSource {
                    status: outcome.report.status,
                    enrichment: outcome.answer.as_ref().map(|a| a.enrichment.clone()),
                    confidence: outcome.report.confidence.unwrap_or(entry.confidence),
                    fetched_at_ms: unix_ms(now),
                    fresh_until_ms: unix_ms(now + fresh_for),
                    identifiers: identifiers_of(entry, subject),
                };
                (entry.name.clone(), source, fresh_for)
            })
            .collect()
    }

    /// Calls still running at the deadline keep going (up to their own timeout); when they
    /// answer, the profile is rebuilt with them and cached, so the next reader gets it whole —
    /// unless the user was erased meanwhile (`fence`).
    fn merge_late_answers(
        self: &Arc<Self>,
        answers: LateAnswers,
        mut late: tokio::sync::mpsc::UnboundedReceiver<(usize, SourceOutcome)>,
        mut pending: usize,
    ) {
        let LateAnswers {
            fence,
            user,
            subject,
            targets,
            mut outcomes,
        } = answers;
        let this = self.clone();
        self.tasks.spawn(async move {
            let mut arrived = Vec::new();
            while pending > 0 {
                let Some((index, outcome)) = late.recv().await else {
                    break;
                };
                pending -= 1;
                if outcome.report.status.answered() {
                    arrived.push(index);
                }
                outcomes[index] = outcome;
            }
            if arrived.is_empty() || !fence.holds() {
                return;
            }
            let fresh: Vec<SourceOutcome> = outcomes
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let mut o = o.clone();
                    o.from_cache = !arrived.contains(&i);
                    o
                })
                .collect();
            let sources = this.fresh_sources(&subject, &targets, &fresh);
            let user = &user;
            match this.build(&subject, &targets, &outcomes) {
                Ok((cached, _, keep_for)) => {
                    this.cache
                        .store_local(&fence, user, &cached, keep_for)
                        .await;
                    this.cache
                        .write_back(&fence, user, sources, Some((&cached, keep_for)), None)
                        .await;
                    tracing::debug!(
                        late = arrived.len(),
                        "Merged late answers into the cached profile."
                    );
                }
                Err(_) => {
                    this.cache
                        .write_back(&fence, user, sources, None, None)
                        .await
                }
            }
        });
    }

    /// Cached per-source answers that can stand in for calls: fresh (by their connector's TTL
    /// and by `cache.ttl_seconds`), and given for the identifiers the subject carries now;
    /// bounded like a fresh answer (they may have been read back from Redis).
    fn usable_sources(
        &self,
        subject: &Subject,
        targets: &[Arc<ConnectorEntry>],
        found: Vec<Option<CachedSource>>,
    ) -> Vec<Option<SourceOutcome>> {
        let now = unix_ms(SystemTime::now());
        let max_age = u64::try_from(self.freshness.complete.as_millis()).unwrap_or(u64::MAX);
        let oldest = now.saturating_sub(max_age);
        targets
            .iter()
            .zip(found)
            .map(|(entry, cached)| {
                let cached = cached?;
                let usable = cached.fresh_until_ms > now
                    && cached.fetched_at_ms > oldest
                    && entry.instance.is_some()
                    && cached.identifiers == identifiers_of(entry, subject);
                usable.then(|| {
                    let mut outcome = SourceOutcome::without_call(&entry.name, cached.status);
                    outcome.from_cache = true;
                    if let Some(mut enrichment) = cached.enrichment {
                        bounds::cap_enrichment(&mut enrichment, self.max_list_items);
                        outcome.report.confidence = Some(cached.confidence);
                        outcome.answer = Some(SourceAnswer {
                            connector: entry.name.clone(),
                            enrichment,
                            confidence: cached.confidence,
                            priority_rank: entry.priority_rank,
                            fetched_at: SystemTime::UNIX_EPOCH
                                + Duration::from_millis(cached.fetched_at_ms),
                        });
                    }
                    outcome
                })
            })
            .collect()
    }

    /// Merge the outcomes into the profile to store and serve: the cached form, whether it
    /// is partial, and how long to keep it.
    fn build(
        &self,
        subject: &Subject,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &[SourceOutcome],
    ) -> Result<(CachedProfile, bool, Duration), EnrichError> {
        let attempted = outcomes
            .iter()
            .filter(|o| o.report.status.attempted())
            .count();
        let failed: Vec<&SourceOutcome> = outcomes
            .iter()
            .filter(|o| o.report.status.attempted() && !o.report.status.answered())
            .collect();
        if attempted > 0 && failed.len() == attempted {
            return Err(EnrichError::AllSourcesFailed {
                sources: outcomes.iter().map(|o| o.report.clone()).collect(),
            });
        }
        let fresh_for = if !failed.is_empty() {
            // Ask the failed sources again soon, but not before a rate limit has passed.
            let wait = failed
                .iter()
                .filter(|o| o.report.status == SourceStatus::RateLimited)
                .filter_map(|o| o.report.retry_after_ms)
                .max()
                .map(Duration::from_millis)
                .unwrap_or_default();
            self.freshness
                .partial
                .max(wait)
                .min(self.freshness.complete)
        } else {
            targets
                .iter()
                .zip(outcomes)
                .filter(|(_, o)| o.answer.is_some())
                .map(|(entry, _)| entry.ttl)
                .min()
                .map_or(self.freshness.nobody_knows, |ttl| {
                    ttl.min(self.freshness.complete)
                })
        };
        let mut merged = merge(outcomes.iter().filter_map(|o| o.answer.clone()).collect());
        bounds::cap_body(&mut merged.body, self.max_list_items);
        let now = SystemTime::now();
        let fresh_until = now + fresh_for;
        let profile = Profile {
            user_id: subject.user_id.clone(),
            profile: merged.body,
            provenance: merged.provenance,
            sources: outcomes.iter().map(|o| o.report.clone()).collect(),
            confidence: merged.confidence,
            partial: !failed.is_empty(),
            cache: None,
            enriched_at: timestamp(now),
            expires_at: timestamp(fresh_until),
        };
        let body = serde_json::to_vec(&profile).expect("profiles serialize");
        let cached = CachedProfile {
            body: Bytes::from(body),
            fresh_until_ms: unix_ms(fresh_until),
            subject: Bytes::from(serde_json::to_vec(subject).expect("subjects serialize")),
        };
        Ok((cached, profile.partial, fresh_for + self.freshness.stale))
    }
}

/// The connectors a request asks: the named ones, else all configured.
fn targets(snapshot: &RegistrySnapshot, named: Option<&[String]>) -> Vec<Arc<ConnectorEntry>> {
    match named {
        None => snapshot.entries().to_vec(),
        Some(names) => names
            .iter()
            .filter_map(|name| snapshot.get(name).cloned())
            .collect(),
    }
}

/// Identical enrichments: same user, same identifiers, same connector set, and both reusing
/// cached per-source answers or both not (a refresh never gets an answer built from them).
fn flight_key(job: &Job) -> String {
    let subject = serde_json::to_string(&job.subject).unwrap_or_default();
    format!(
        "{}|{subject}|{:?}|{}|{}",
        job.user, job.connectors, job.shared, job.reuse_sources
    )
}

/// The values of the identifiers a connector uses, as a per-source answer remembers them.
fn identifiers_of(entry: &ConnectorEntry, subject: &Subject) -> String {
    entry
        .metadata
        .required_identifiers
        .iter()
        .map(|id| subject.identifier(id).unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// Whether a profile built from `remembered` identifiers answers a caller sending `subject`'s:
/// every identifier sent must be one remembered (a caller sending none accepts any profile).
fn covers(remembered: Option<&Subject>, subject: &Subject) -> bool {
    if !subject.has_identifiers() {
        return true;
    }
    let Some(remembered) = remembered else {
        return false;
    };
    let same = |sent: &Option<String>, kept: &Option<String>| sent.is_none() || sent == kept;
    same(&subject.email, &remembered.email)
        && same(&subject.phone, &remembered.phone)
        && subject
            .handles
            .iter()
            .all(|(platform, handle)| remembered.handles.get(platform) == Some(handle))
}

/// The identifiers remembered for a user, updated with those the caller sent now; at most
/// [`MAX_HANDLES`] handles are remembered, those sent now first.
fn remembered_with(remembered: Option<Subject>, sent: Subject) -> Subject {
    let Some(remembered) = remembered else {
        return sent;
    };
    let mut subject = sent;
    subject.email = subject.email.or(remembered.email);
    subject.phone = subject.phone.or(remembered.phone);
    for (platform, handle) in remembered.handles {
        if subject.handles.len() >= MAX_HANDLES {
            break;
        }
        subject.handles.entry(platform).or_insert(handle);
    }
    subject
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_answers_callers_sending_the_same_or_no_identifiers() {
        let built_from = Subject::new("u-1")
            .with_email("ada@example.com")
            .with_handle("github", "ada");
        let remembered = Some(&built_from);
        assert!(covers(remembered, &Subject::new("u-1")));
        assert!(covers(
            remembered,
            &Subject::new("u-1").with_email("ada@example.com")
        ));
        assert!(!covers(
            remembered,
            &Subject::new("u-1").with_email("new@example.com")
        ));
        assert!(!covers(
            remembered,
            &Subject::new("u-1").with_handle("x", "ada")
        ));
        assert!(!covers(
            None,
            &Subject::new("u-1").with_email("ada@example.com")
        ));
    }

    #[test]
    fn remembered_identifiers_are_updated_by_the_new_ones() {
        let remembered = Subject::new("u-1")
            .with_email("old@example.com")
            .with_handle("github", "ada");
        let sent = Subject::new("u-1")
            .with_email("new@example.com")
            .with_handle("x", "ada_x");
        let subject = remembered_with(Some(remembered), sent);
        assert_eq!(subject.email.as_deref(), Some("new@example.com"));
        assert_eq!(subject.handles.len(), 2);
    }

    #[test]
    fn remembered_handles_are_capped_keeping_those_sent_now() {
        let mut remembered = Subject::new("u-1").with_phone("+442071838750");
        for i in 0..MAX_HANDLES {
            remembered = remembered.with_handle(format!("old{i}"), "h");
        }
        let sent = Subject::new("u-1").with_handle("github", "ada");
        let subject = remembered_with(Some(remembered), sent);
        assert_eq!(subject.handles.len(), MAX_HANDLES);
        assert_eq!(subject.handles["github"], "ada");
        assert_eq!(subject.phone.as_deref(), Some("+442071838750"));
    }
}

//! Enrichment: a request's whole journey — validate, cache lookup, coalesce, fan-out, merge,
//! store, answer — in [`Enricher::enrich`], which calls one well-named step after another.

mod fanout;
mod merge;
pub mod profile;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use enrichd_sdk::Subject;
use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared},
};
use tokio::time::Instant;

pub use self::fanout::{FanOut, FanOutResult, SourceOutcome, status_of};
pub use self::merge::{Merged, SourceAnswer, merge};
use self::profile::{
    CacheStatus, Profile, SourceReport, SourceStatus, timestamp, with_cache_status,
};
use crate::{
    cache::{CachedProfile, CachedSource, ProfileCache, unix_ms},
    config::Config,
    connectors::{ConnectorEntry, ConnectorRegistry, RegistrySnapshot},
    coordination::{Coordination, LockOutcome},
    domain::EnrichRequest,
    metrics::Metrics,
    redis_link::RedisError,
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
    flights: Mutex<HashMap<String, Flight>>,
    /// Per user, the writes that follow answers and are not done yet.
    writing: Mutex<HashMap<String, Written>>,
}

/// A freshly built profile, as it is cached.
#[derive(Debug)]
struct Built {
    body: Bytes,
}

/// What to enrich, once the cache has had its say.
struct Job {
    subject: Subject,
    connectors: Option<Vec<String>>,
    /// Whether the result is the user's shared profile (stored, and per-source answers reused).
    shared: bool,
    /// Whether cached per-source answers may stand in for calls.
    reuse_sources: bool,
    deadline: Instant,
}

impl Enricher {
    pub fn new(
        config: &Config,
        registry: Arc<ConnectorRegistry>,
        cache: Arc<ProfileCache>,
        http: reqwest::Client,
        coordination: Arc<Coordination>,
        metrics: Arc<Metrics>,
    ) -> Enricher {
        let secs = Duration::from_secs;
        Enricher {
            inner: Arc::new(Inner {
                registry,
                cache,
                fan_out: FanOut::new(http, metrics.clone(), coordination),
                metrics,
                deadline: config.deadline(),
                freshness: Freshness {
                    complete: secs(config.cache.ttl_seconds),
                    nobody_knows: secs(config.cache.negative_ttl_seconds),
                    partial: secs(config.cache.error_ttl_seconds),
                    stale: secs(config.cache.stale_seconds),
                },
                flights: Mutex::new(HashMap::new()),
                writing: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Enrich one subject: the profile JSON to answer with.
    ///
    /// A fresh cached profile is served as is; a stale one is served at once while one
    /// background refresh runs. A request naming its own `connectors` gets a fresh, partial
    /// view: it neither reads nor replaces the user's shared cached profile.
    pub async fn enrich(&self, request: EnrichRequest) -> Result<Bytes, EnrichError> {
        let deadline = Instant::now()
            + request
                .timeout
                .map_or(self.inner.deadline, |t| t.min(self.inner.deadline));
        let shared = request.connectors.is_none();
        let mut subject = request.subject;
        if shared
            && !request.refresh
            && let Some(cached) = self.inner.cache.lookup(&subject.user_id).await
        {
            let remembered = cached.subject();
            if covers(remembered.as_ref(), &subject) {
                if cached.is_fresh(SystemTime::now()) {
                    return Ok(with_cache_status(&cached.body, CacheStatus::Hit));
                }
                self.revalidate(remembered.unwrap_or(subject));
                return Ok(with_cache_status(&cached.body, CacheStatus::Stale));
            }
            subject = remembered_with(remembered, subject);
        }
        let job = Job {
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

    /// The cached profile of a user, fresh (`hit`) or stale (`stale`).
    pub async fn cached(&self, user_id: &str) -> Option<Bytes> {
        let cached = self.inner.cache.lookup(user_id).await?;
        let status = if cached.is_fresh(SystemTime::now()) {
            CacheStatus::Hit
        } else {
            CacheStatus::Stale
        };
        Some(with_cache_status(&cached.body, status))
    }

    /// Re-enrich a cached user with the identifiers remembered for them; `None` when nothing
    /// is cached (there is nothing to refresh from).
    pub async fn refresh(&self, user_id: &str) -> Option<Result<Bytes, EnrichError>> {
        let cached = self.inner.cache.lookup(user_id).await?;
        let subject = cached.subject().unwrap_or_else(|| Subject::new(user_id));
        let request = EnrichRequest {
            subject,
            connectors: None,
            refresh: true,
            timeout: None,
        };
        Some(self.enrich(request).await)
    }

    /// Erase everything cached about a user, on every tier and replica. Writes of an
    /// enrichment answered just before are waited for first, so they cannot bring it back.
    pub async fn erase(&self, user_id: &str) -> Result<(), RedisError> {
        self.inner.writes_of(user_id).await;
        let snapshot = self.inner.registry.snapshot();
        let names: Vec<&str> = snapshot.entries().iter().map(|e| e.name.as_str()).collect();
        self.inner.cache.erase(user_id, &names).await
    }

    /// Identical enrichments in flight share one fan-out; joiners are counted.
    async fn coalesced(&self, job: Job) -> Result<Arc<Built>, EnrichError> {
        let key = flight_key(&job);
        let deadline = job.deadline;
        let (flight, joined) = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&key) {
                Some(flight) => (flight.clone(), true),
                None => {
                    let inner = self.inner.clone();
                    let own_key = key.clone();
                    let user_id = job.subject.user_id.clone();
                    let flight = async move {
                        let (result, writes) = inner.produce(job).await;
                        // Answer now; the writes follow. Until they are done the finished
                        // flight stays registered, so a request arriving meanwhile gets this
                        // result instead of fanning out again.
                        let written = writes.map(|writes| inner.write_behind(&user_id, writes));
                        let this = inner.clone();
                        tokio::spawn(async move {
                            if let Some(written) = written {
                                written.clone().await;
                                this.writes_done(&user_id, &written);
                            }
                            this.flights
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .remove(&own_key);
                        });
                        result
                    }
                    .boxed()
                    .shared();
                    flights.insert(key, flight.clone());
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

    /// Refresh a stale profile in the background (coalesced with any refresh in flight).
    fn revalidate(&self, subject: Subject) {
        let this = self.clone();
        let job = Job {
            subject,
            connectors: None,
            shared: true,
            reuse_sources: true,
            deadline: Instant::now() + self.inner.deadline,
        };
        tokio::spawn(async move {
            let _ = this.coalesced(job).await;
        });
    }

    /// Wait for every write that follows an answer already given (before shutting down).
    pub async fn settle(&self) {
        let pending: Vec<Written> = self.inner.writing().values().cloned().collect();
        futures_util::future::join_all(pending).await;
    }

    /// Profiles held in this process (for tests and benchmarks).
    pub fn local_profiles(&self) -> u64 {
        self.inner.cache.local_len()
    }
}

impl Inner {
    fn writing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue the writes of a user's enrichment behind any still running for that user (so an
    /// older profile never lands after a newer one) and register them until they are done.
    fn write_behind(&self, user_id: &str, writes: BoxFuture<'static, ()>) -> Written {
        let mut writing = self.writing();
        let queued = match writing.get(user_id) {
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
        writing.insert(user_id.to_owned(), queued.clone());
        queued
    }

    /// Wait for the writes under way for a user, if any.
    async fn writes_of(&self, user_id: &str) {
        let pending = self.writing().get(user_id).cloned();
        if let Some(pending) = pending {
            pending.await;
        }
    }

    /// Forget finished writes (unless newer ones were queued behind them meanwhile).
    fn writes_done(&self, user_id: &str, written: &Written) {
        let mut writing = self.writing();
        if writing
            .get(user_id)
            .is_some_and(|current| current.ptr_eq(written))
        {
            writing.remove(user_id);
        }
    }

    /// Fan out and merge: the work one flight does. Returns the answer at once, with the
    /// writes still to do (cache tiers, events, unlock) as a future to run after answering.
    async fn produce(self: &Arc<Self>, job: Job) -> (Result<Arc<Built>, EnrichError>, Writes) {
        let started = Instant::now();
        let targets = targets(&self.registry.snapshot(), job.connectors.as_deref());
        let mut lock = None;
        let mut known = Vec::new();
        if job.shared {
            // Our own writes for this user still hold its lock: let them finish first.
            self.writes_of(&job.subject.user_id).await;
            // One round trip: the user's lock, and the per-source answers that may stand in
            // for calls.
            let names: Vec<&str> = if job.reuse_sources {
                targets.iter().map(|t| t.name.as_str()).collect()
            } else {
                Vec::new()
            };
            let lock_for = self.deadline + Duration::from_secs(2);
            let (outcome, mut found) = self
                .cache
                .claim(&job.subject.user_id, lock_for, &names)
                .await;
            match outcome {
                LockOutcome::Acquired(token) => lock = Some(token),
                LockOutcome::Held => {
                    if let Some(built) = self.wait_for_other_replica(&job).await {
                        return (Ok(built), None);
                    }
                    if !names.is_empty() {
                        // The other replica may have stored some answers while we waited.
                        found = self.cache.sources(&job.subject.user_id, &names).await;
                    }
                }
                LockOutcome::Unavailable => {}
            }
            if job.reuse_sources {
                known = usable_sources(&job.subject, &targets, found);
            }
        }
        let subject = Arc::new(job.subject);
        let FanOutResult {
            outcomes,
            late,
            pending,
        } = self
            .fan_out
            .run(&subject, &targets, known, job.deadline)
            .await;
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
        let to_store = match &built {
            Ok((cached, _, keep_for)) if job.shared => {
                // In process before answering: this replica serves the profile as soon as
                // the caller has it.
                self.cache
                    .store_local(&subject.user_id, cached, *keep_for)
                    .await;
                Some((cached.clone(), *keep_for))
            }
            _ => None,
        };
        let this = self.clone();
        let shared = job.shared;
        let writes = async move {
            let sources = if shared {
                this.fresh_sources(&subject, &targets, &outcomes)
            } else {
                Vec::new()
            };
            let profile = to_store
                .as_ref()
                .map(|(cached, keep_for)| (cached, *keep_for));
            this.cache
                .write_back(&subject.user_id, sources, profile, lock.as_deref())
                .await;
            if shared && let Some(late) = late {
                this.merge_late_answers(subject.clone(), targets, outcomes, late, pending);
            }
        }
        .boxed();
        let result = built.map(|(cached, _, _)| Arc::new(Built { body: cached.body }));
        (result, Some(writes))
    }

    /// Another replica holds the user's lock: wait (at most half our time) for its profile.
    async fn wait_for_other_replica(&self, job: &Job) -> Option<Arc<Built>> {
        let now = Instant::now();
        let until = now + job.deadline.saturating_duration_since(now) / 2;
        while Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(cached) = self.cache.lookup(&job.subject.user_id).await
                && cached.is_fresh(SystemTime::now())
                && covers(cached.subject().as_ref(), &job.subject)
            {
                self.metrics.coalesced.inc();
                return Some(Arc::new(Built { body: cached.body }));
            }
        }
        None
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
                let fresh_for = if outcome.answer.is_some() {
                    entry.ttl
                } else {
                    self.freshness.nobody_knows
                };
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
    /// answer, the profile is rebuilt with them and cached, so the next reader gets it whole.
    fn merge_late_answers(
        self: &Arc<Self>,
        subject: Arc<Subject>,
        targets: Vec<Arc<ConnectorEntry>>,
        mut outcomes: Vec<SourceOutcome>,
        mut late: tokio::sync::mpsc::UnboundedReceiver<(usize, SourceOutcome)>,
        mut pending: usize,
    ) {
        let this = self.clone();
        tokio::spawn(async move {
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
            if arrived.is_empty() {
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
            let user_id = &subject.user_id;
            match this.build(&subject, &targets, &outcomes) {
                Ok((cached, _, keep_for)) => {
                    this.cache.store_local(user_id, &cached, keep_for).await;
                    this.cache
                        .write_back(user_id, sources, Some((&cached, keep_for)), None)
                        .await;
                    tracing::debug!(
                        late = arrived.len(),
                        "Merged late answers into the cached profile."
                    );
                }
                Err(_) => this.cache.write_back(user_id, sources, None, None).await,
            }
        });
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
        let merged = merge(outcomes.iter().filter_map(|o| o.answer.clone()).collect());
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

/// Cached per-source answers that can stand in for calls: fresh, and given for the
/// identifiers the subject carries now.
fn usable_sources(
    subject: &Subject,
    targets: &[Arc<ConnectorEntry>],
    found: Vec<Option<CachedSource>>,
) -> Vec<Option<SourceOutcome>> {
    let now = unix_ms(SystemTime::now());
    targets
        .iter()
        .zip(found)
        .map(|(entry, cached)| {
            let cached = cached?;
            let usable = cached.fresh_until_ms > now
                && entry.instance.is_some()
                && cached.identifiers == identifiers_of(entry, subject);
            usable.then(|| {
                let mut outcome = SourceOutcome::without_call(&entry.name, cached.status);
                outcome.from_cache = true;
                if let Some(enrichment) = cached.enrichment {
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

/// Identical enrichments: same user, same identifiers, same connector set, and both reusing
/// cached per-source answers or both not (a refresh never gets an answer built from them).
fn flight_key(job: &Job) -> String {
    let subject = serde_json::to_string(&job.subject).unwrap_or_default();
    format!(
        "{subject}|{:?}|{}|{}",
        job.connectors, job.shared, job.reuse_sources
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

/// The identifiers remembered for a user, updated with those the caller sent now.
fn remembered_with(remembered: Option<Subject>, sent: Subject) -> Subject {
    let Some(mut subject) = remembered else {
        return sent;
    };
    subject.user_id = sent.user_id;
    if sent.email.is_some() {
        subject.email = sent.email;
    }
    if sent.phone.is_some() {
        subject.phone = sent.phone;
    }
    subject.handles.extend(sent.handles);
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
}

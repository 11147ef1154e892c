//! Enrichment: a request's whole journey — validate, cache lookup, coalesce, fan-out, merge,
//! store, answer — in [`Enricher::enrich`], which calls one well-named step after another.
//!
//! Work outlives no owner: a coalesced flight is driven by its callers and unregisters itself
//! when they are all gone; what follows an answer (writes, the merge of late answers) and a
//! stale profile's refresh run as owned tasks (see [`crate::tasks`]). Every write carries the
//! [`Fence`] of the work it belongs to, so that an erasure stops it.

mod bounds;
mod build;
mod coalescing;
mod dry_run;
mod fanout;
mod late;
mod merge;
mod other_replica;
pub mod profile;
mod remembered;
mod reuse;
mod timing;
mod waterfall;
mod waves;
mod write_order;

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use enrichd_sdk::Subject;
use futures_util::{FutureExt, future::BoxFuture};
use opentelemetry::{KeyValue, trace::SpanKind};
use tokio::{sync::Notify, time::Instant};

pub use self::dry_run::{Decision, DryRun, PlannedCall};
pub use self::fanout::{FanOut, FanOutResult, Limits, SourceOutcome, status_of};
pub use self::merge::{Merged, SourceAnswer, merge};
use self::profile::{CacheStatus, SourceReport, served};
use self::{
    coalescing::WeakFlight,
    late::LateAnswers,
    other_replica::UserLock,
    remembered::{covers, remembered_of, remembered_with},
    waves::{Chaining, Waves},
    write_order::WriteOrder,
};
use crate::{
    cache::{CachedSource, Fence, NewProfile, ProfileCache, Stored},
    config::{Config, WaterfallConfig},
    connectors::{ConnectorEntry, ConnectorRegistry, RegistrySnapshot},
    coordination::{Coordination, LockOutcome},
    domain::{EnrichRequest, Overrides, Priority, Tenant, UserKey},
    metrics::Metrics,
    per_user::PerUser,
    privacy::{Suppressions, Verdict},
    redis_link::RedisError,
    spend::Ledger,
    tasks::Tasks,
    traces::Traces,
    upstream_http::UpstreamHttp,
};

/// Why an enrichment produced no profile.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EnrichError {
    /// Every connector that was asked failed; the reports say how.
    #[error("every source failed")]
    AllSourcesFailed { sources: Vec<SourceReport> },
    /// Every connector that could answer would have passed the tenant's daily budget or the
    /// request's `max_cost`, so none was called.
    #[error("the budget allows no call")]
    BudgetExhausted { sources: Vec<SourceReport> },
    /// A connector configured `required: true` was attempted and failed.
    #[error("a required source failed")]
    RequiredSourceFailed { sources: Vec<SourceReport> },
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
    writes: WriteOrder,
    /// Per user, requests waiting for another replica's enrichment to land.
    arrivals: PerUser<Notify>,
    tasks: Tasks,
    traces: Traces,
    suppressions: Arc<Suppressions>,
    chaining: Chaining,
    ledger: Arc<Ledger>,
    /// `enrichment.waterfalls` (replaced by a configuration reload).
    waterfalls: RwLock<Arc<Vec<WaterfallConfig>>>,
}

/// A freshly built profile, as it is cached, and how long each connector took.
#[derive(Debug)]
struct Built {
    body: Bytes,
    /// The `Server-Timing` entries of the connectors called (empty: none was).
    timing: String,
    /// What the calls made for it cost, in credits.
    cost: f64,
}

/// An enrichment's answer: the profile JSON, and its `Server-Timing` header.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Bytes,
    pub server_timing: String,
}

impl Answer {
    fn new(body: Bytes, cache: CacheStatus, connectors: &str, started: Instant) -> Answer {
        Answer {
            body,
            server_timing: timing::header(cache, connectors, started.elapsed()),
        }
    }
}

/// What the cache says about a request.
enum Lookup {
    /// Served from the cache (`hit` or `stale`).
    Served(CacheStatus, Bytes),
    /// To enrich, with this subject.
    Enrich(Subject),
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
    /// A rebuild after the user's overrides changed: it must not join a flight begun before
    /// (whose profile has the old ones).
    rebuild: bool,
    /// The most the request may spend, in micro-credits (requests with another limit do not
    /// share its flight).
    max_cost: Option<u64>,
    priority: Priority,
    deadline: Instant,
}

/// The process-wide services an [`Enricher`] works with.
pub struct Services {
    /// The HTTP clients every connector call goes through.
    pub http: UpstreamHttp,
    pub coordination: Arc<Coordination>,
    pub metrics: Arc<Metrics>,
    /// The owner of the background work (late answers, refreshes, writes).
    pub tasks: Tasks,
    pub traces: Traces,
    /// The identifiers nobody may enrich.
    pub suppressions: Arc<Suppressions>,
    /// What each tenant spends.
    pub ledger: Arc<Ledger>,
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
            ledger,
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
                writes: WriteOrder::default(),
                arrivals: PerUser::default(),
                tasks,
                traces,
                suppressions,
                chaining: Chaining {
                    max_waves: config.enrichment.max_waves,
                    min_confidence: config.enrichment.chain_min_confidence,
                    decay: config.enrichment.chain_decay,
                },
                ledger,
                waterfalls: RwLock::new(Arc::new(
                    config.enrichment.waterfalls.values().cloned().collect(),
                )),
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
    pub async fn enrich(&self, request: EnrichRequest) -> Result<Answer, EnrichError> {
        let started = Instant::now();
        self.inner.admit(&request.tenant, &request.subject)?;
        let deadline = started
            + request
                .timeout
                .map_or(self.inner.deadline, |t| t.min(self.inner.deadline));
        let shared = request.connectors.is_none();
        let user = UserKey::new(&request.tenant, &request.subject.user_id);
        let mut subject = request.subject;
        if shared && !request.refresh {
            match self.ask_cache(&request.tenant, &user, subject).await? {
                Lookup::Served(status, body) => {
                    return Ok(Answer::new(body, status, "", started));
                }
                Lookup::Enrich(remembered) => subject = remembered,
            }
        }
        let job = Job {
            user,
            subject,
            connectors: request.connectors,
            shared,
            reuse_sources: shared && !request.refresh,
            rebuild: false,
            max_cost: request.max_cost,
            priority: request.priority,
            deadline,
        };
        let built = self.coalesced(job).await?;
        let status = if shared && !request.refresh {
            CacheStatus::Miss
        } else {
            CacheStatus::Bypass
        };
        let body = served(&built.body, status, built.cost);
        Ok(Answer::new(body, status, &built.timing, started))
    }

    /// The cache's say on a request for the user's shared profile: served (fresh, or stale
    /// while one refresh runs in the background), or to enrich with the identifiers sent now
    /// and those remembered for the user.
    async fn ask_cache(
        &self,
        tenant: &Tenant,
        user: &UserKey,
        subject: Subject,
    ) -> Result<Lookup, EnrichError> {
        let traced = self
            .inner
            .traces
            .child("cache.lookup", SpanKind::Internal, Vec::new());
        let (result, lookup) = match self.inner.cache.lookup_to_enrich(user).await {
            None => ("miss", Lookup::Enrich(subject)),
            Some(cached) => {
                let remembered = cached.subject();
                if let Some(remembered) = &remembered {
                    self.inner.admit(tenant, remembered)?;
                }
                if !covers(remembered.as_ref(), &subject) {
                    let subject = remembered_with(remembered, subject);
                    ("new_identifiers", Lookup::Enrich(subject))
                } else if cached.is_fresh(SystemTime::now()) {
                    let body = served(&cached.body, CacheStatus::Hit, 0.0);
                    ("hit", Lookup::Served(CacheStatus::Hit, body))
                } else {
                    self.revalidate(user, remembered.unwrap_or(subject));
                    let body = served(&cached.body, CacheStatus::Stale, 0.0);
                    ("stale", Lookup::Served(CacheStatus::Stale, body))
                }
            }
        };
        if let Some(traced) = traced {
            traced.record([KeyValue::new("cache.result", result)]);
            traced.end();
        }
        Ok(lookup)
    }

    /// The cached profile of a user, fresh (`hit`) or stale (`stale`); refused when the user
    /// or an identifier remembered for them is suppressed.
    pub async fn cached(&self, user: &UserKey) -> Result<Option<Bytes>, EnrichError> {
        // Only while something may be suppressed: the hit path pays nothing otherwise.
        let screened = self.inner.suppressions.may_block().then(|| user.tenant());
        if let Some(tenant) = &screened {
            self.inner.admit(tenant, &Subject::new(user.user_id()))?;
        }
        let Some(cached) = self.inner.cache.lookup(user).await else {
            return Ok(None);
        };
        if let Some(tenant) = &screened
            && let Some(remembered) = cached.subject()
        {
            self.inner.admit(tenant, &remembered)?;
        }
        let status = if cached.is_fresh(SystemTime::now()) {
            CacheStatus::Hit
        } else {
            CacheStatus::Stale
        };
        Ok(Some(served(&cached.body, status, 0.0)))
    }

    /// The identifiers remembered for a user (for `DELETE ?suppress=true`): the user id, and
    /// those the cached profile was built from.
    pub async fn remembered(&self, user: &UserKey) -> Subject {
        remembered_of(self.inner.cache.lookup(user).await.as_ref(), user)
    }

    /// Re-enrich a cached user with the identifiers remembered for them; `None` when nothing
    /// is cached (there is nothing to refresh from).
    pub async fn refresh(&self, user: &UserKey) -> Option<Result<Answer, EnrichError>> {
        let cached = self.inner.cache.lookup(user).await?;
        let subject = remembered_of(Some(&cached), user);
        let request = EnrichRequest {
            tenant: user.tenant(),
            subject,
            connectors: None,
            refresh: true,
            timeout: None,
            max_cost: None,
            priority: Priority::Interactive,
        };
        Some(self.enrich(request).await)
    }

    /// A user's overrides.
    pub async fn overrides(&self, user: &UserKey) -> Overrides {
        self.inner.cache.overrides(user).await
    }

    /// Replace a user's overrides (refused for a suppressed user id), then rebuild their
    /// cached profile, if there is one, so that it shows them at once: from the per-source
    /// answers still fresh, calling only the connectors whose answers expired.
    pub async fn set_overrides(
        &self,
        user: &UserKey,
        fields: BTreeMap<String, serde_json::Value>,
    ) -> Result<Result<Overrides, RedisError>, EnrichError> {
        self.inner
            .admit(&user.tenant(), &Subject::new(user.user_id()))?;
        let overrides = Overrides {
            updated_at: (!fields.is_empty()).then(|| profile::timestamp(SystemTime::now())),
            fields,
        };
        if let Err(err) = self.inner.cache.set_overrides(user, &overrides).await {
            return Ok(Err(err));
        }
        if let Some(cached) = self.inner.cache.lookup(user).await {
            let subject = remembered_of(Some(&cached), user);
            let job = Job {
                user: user.clone(),
                subject,
                connectors: None,
                shared: true,
                reuse_sources: true,
                rebuild: true,
                max_cost: None,
                priority: Priority::Interactive,
                deadline: Instant::now() + self.inner.deadline,
            };
            if let Err(err) = self.coalesced(job).await {
                tracing::warn!(error = %err, "Could not rebuild a profile with its new overrides; it shows them once refreshed.");
            }
        }
        Ok(Ok(overrides))
    }

    /// Erase everything cached about a user, on every tier and replica. Work about the user
    /// begun before — writes still queued, late answers, refreshes, on any replica — is
    /// fenced: none of it lands afterwards.
    pub async fn erase(&self, user: &UserKey) -> Result<(), RedisError> {
        let snapshot = self.inner.registry.snapshot();
        let names: Vec<&str> = snapshot.entries().iter().map(|e| e.name.as_str()).collect();
        self.inner.cache.erase(user, &names).await
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
            rebuild: false,
            max_cost: None,
            priority: Priority::Interactive,
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

    /// Apply the waterfalls of a reloaded configuration to enrichments that begin from now.
    pub fn set_waterfalls(&self, config: &Config) {
        let waterfalls = config.enrichment.waterfalls.values().cloned().collect();
        *self
            .inner
            .waterfalls
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Arc::new(waterfalls);
    }

    /// Wait for every write that follows an answer already given (before shutting down).
    pub async fn settle(&self) {
        futures_util::future::join_all(self.inner.writes.pending()).await;
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

impl Inner {
    /// The waterfalls over `targets`, as configured now.
    fn waterfalls_over(&self, targets: &[Arc<ConnectorEntry>]) -> waterfall::Waterfalls {
        let configured = self
            .waterfalls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        waterfall::Waterfalls::plan(configured.iter(), targets)
    }

    /// Whether `subject` of `tenant` may be enriched (see [`Suppressions::check`]).
    fn admit(&self, tenant: &Tenant, subject: &Subject) -> Result<(), EnrichError> {
        match self.suppressions.check(tenant, subject) {
            Verdict::Clear => Ok(()),
            Verdict::Suppressed => Err(EnrichError::SubjectSuppressed),
            Verdict::Unknown => Err(EnrichError::SuppressionsUnknown),
        }
    }

    /// Fan out and merge: the work one flight does. Returns the answer at once, with the
    /// writes still to do (cache tiers, events, unlock) as a future to run after answering.
    async fn produce(self: &Arc<Self>, job: Job) -> (Result<Arc<Built>, EnrichError>, Writes) {
        let started = Instant::now();
        let targets = targets(&self.registry.snapshot(), job.connectors.as_deref());
        let Claim {
            fence,
            lock,
            found,
            overrides,
            mut stored,
        } = match self.claim(&job, &targets).await {
            Claimed::ByAnotherReplica(built) => return (Ok(built), None),
            Claimed::Here(claim) => *claim,
        };
        let Waves {
            subject: identifiers,
            result:
                FanOutResult {
                    mut outcomes,
                    late,
                    pending,
                },
        } = self.fan_out_in_waves(&job, &targets, found).await;
        // Serialized from the answers before they move into the merge.
        let sources = if job.shared {
            self.fresh_sources(&identifiers, &targets, &outcomes)
        } else {
            Vec::new()
        };
        let answers = self.answers_of(&mut outcomes, late.is_some());
        let built = self.build(&job.subject, &targets, &outcomes, answers, &overrides);
        let outcome = match &built {
            Ok(built) if built.partial => "partial",
            Ok(_) => "complete",
            Err(_) => "failed",
        };
        self.metrics.enrichments.with_label_values(&[outcome]).inc();
        self.metrics
            .enrichment_duration
            .observe(started.elapsed().as_secs_f64());
        let result = built
            .as_ref()
            .map(|built| {
                Arc::new(Built {
                    body: built.cached.body.clone(),
                    timing: timing::of_connectors(&outcomes),
                    cost: outcomes.iter().map(|o| o.report.cost).sum(),
                })
            })
            .map_err(Clone::clone);
        if !job.shared {
            // A view of the caller's own choosing: nothing is stored.
            return (result, None);
        }
        let to_store = match built {
            Ok(built) => {
                // In process before answering: this replica serves the profile as soon as
                // the caller has it.
                let packed = self
                    .cache
                    .store_local(&fence, &job.user, &built.cached, built.keep_for)
                    .await;
                Some((built, packed))
            }
            Err(_) => None,
        };
        let this = self.clone();
        let lock = lock.hand_over();
        let writes = async move {
            let profile = to_store.as_ref().map(|(built, packed)| NewProfile {
                profile: &built.cached,
                packed,
                keep_for: built.keep_for,
            });
            this.cache
                .write_back(
                    &fence,
                    &job.user,
                    &mut stored,
                    sources,
                    profile,
                    lock.as_deref(),
                )
                .await;
            if let Some(late) = late {
                let answers = LateAnswers {
                    fence,
                    user: job.user,
                    subject: Arc::new(job.subject),
                    identifiers,
                    targets,
                    outcomes,
                    overrides,
                    stored,
                };
                this.merge_late_answers(answers, late, pending);
            }
        }
        .boxed();
        (result, Some(writes))
    }

    /// Before fanning out for the user's shared profile: wait for our own writes about them
    /// (they hold the user's lock), then in one round trip take the user's lock, read its
    /// erasure fence and the per-source answers that may stand in for calls. When another
    /// replica holds the lock, its profile is waited for (and is the answer if it comes).
    async fn claim(self: &Arc<Self>, job: &Job, targets: &[Arc<ConnectorEntry>]) -> Claimed {
        let mut claim = Claim {
            fence: self.cache.fence(&job.user),
            lock: UserLock {
                inner: self.clone(),
                user: job.user.clone(),
                token: None,
            },
            found: Vec::new(),
            overrides: Overrides::default(),
            stored: Stored::default(),
        };
        if !job.shared {
            claim.overrides = self.cache.overrides(&job.user).await;
            return Claimed::Here(Box::new(claim));
        }
        self.writes.writes_of(&job.user).await;
        let names: Vec<&str> = if job.reuse_sources {
            targets.iter().map(|t| t.name.as_str()).collect()
        } else {
            Vec::new()
        };
        let lock_for = self.deadline + Duration::from_secs(2);
        let read = self
            .cache
            .claim(&mut claim.fence, &job.user, lock_for, &names)
            .await;
        claim.overrides = read.overrides;
        claim.stored = read.stored;
        let mut found = read.sources;
        match read.lock {
            LockOutcome::Acquired(token) => claim.lock.token = Some(token),
            LockOutcome::Held => {
                if let Some(built) = self.wait_for_other_replica(job).await {
                    return Claimed::ByAnotherReplica(built);
                }
                if !names.is_empty() {
                    // The other replica may have stored some answers while we waited.
                    (found, claim.stored) = self.cache.sources(&job.user, &names).await;
                }
            }
            LockOutcome::Unavailable => {}
        }
        claim.found = found;
        Claimed::Here(Box::new(claim))
    }
}

/// What a flight holds once it may fan out for the user.
struct Claim {
    fence: Fence,
    lock: UserLock,
    /// The cached per-source answers of the targets (empty when none may be reused).
    found: Vec<Option<CachedSource>>,
    /// What the user's overrides say (they win the merge).
    overrides: Overrides,
    /// What Redis held about the user: the base the writes merge into.
    stored: Stored,
}

/// Whether this replica fans out, or another replica's profile is the answer.
enum Claimed {
    Here(Box<Claim>),
    ByAnotherReplica(Arc<Built>),
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

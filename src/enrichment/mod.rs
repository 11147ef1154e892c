//! Enrichment: a request's whole journey — cache lookup, fan-out, merge, store, answer — in
//! [`Enricher::enrich`], which calls one well-named step after another.

mod fanout;
mod merge;
pub mod profile;

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use enrichd_sdk::Subject;
use tokio::time::Instant;

pub use self::fanout::{FanOut, SourceOutcome, status_of};
pub use self::merge::{Merged, SourceAnswer, merge};
use self::profile::{CacheStatus, Profile, SourceReport, timestamp, with_cache_status};
use crate::{
    cache::{CachedProfile, ProfileCache, RedisError, unix_ms},
    config::Config,
    connectors::{ConnectorEntry, ConnectorRegistry, RegistrySnapshot},
    domain::EnrichRequest,
    metrics::Metrics,
};

/// Why an enrichment produced no profile.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// Every connector that was asked failed; the reports say how.
    #[error("every source failed")]
    AllSourcesFailed { sources: Vec<SourceReport> },
}

/// How long profiles stay fresh, by outcome.
#[derive(Debug, Clone)]
struct Freshness {
    complete: Duration,
    nobody_knows: Duration,
    partial: Duration,
    stale: Duration,
}

/// Enriches subjects: the hot path of the service.
pub struct Enricher {
    registry: Arc<ConnectorRegistry>,
    cache: Arc<ProfileCache>,
    fan_out: FanOut,
    metrics: Arc<Metrics>,
    deadline: Duration,
    freshness: Freshness,
}

impl Enricher {
    pub fn new(
        config: &Config,
        registry: Arc<ConnectorRegistry>,
        cache: Arc<ProfileCache>,
        http: reqwest::Client,
        metrics: Arc<Metrics>,
    ) -> Enricher {
        let secs = Duration::from_secs;
        Enricher {
            registry,
            cache,
            fan_out: FanOut::new(http, metrics.clone()),
            metrics,
            deadline: config.deadline(),
            freshness: Freshness {
                complete: secs(config.cache.ttl_seconds),
                nobody_knows: secs(config.cache.negative_ttl_seconds),
                partial: secs(config.cache.error_ttl_seconds),
                stale: secs(config.cache.stale_seconds),
            },
        }
    }

    /// Enrich one subject: the profile JSON to answer with.
    ///
    /// A request naming its own `connectors` gets a fresh, partial view: it neither reads nor
    /// replaces the user's shared cached profile.
    pub async fn enrich(&self, request: EnrichRequest) -> Result<Bytes, EnrichError> {
        let deadline = Instant::now()
            + request
                .timeout
                .map_or(self.deadline, |t| t.min(self.deadline));
        let shared = request.connectors.is_none();
        let mut subject = request.subject;
        if shared && !request.refresh {
            if let Some(cached) = self.cache.lookup(&subject.user_id).await {
                if let Some(answer) = fresh_answer(&cached, &subject) {
                    return Ok(answer);
                }
                subject = remembered_with(cached.subject(), subject);
            }
        }
        let snapshot = self.registry.snapshot();
        let targets = targets(&snapshot, request.connectors.as_deref());
        let profile = self
            .fan_out_and_merge(Arc::new(subject), &targets, deadline)
            .await?;
        let status = if shared && !request.refresh {
            CacheStatus::Miss
        } else {
            CacheStatus::Bypass
        };
        if shared {
            self.cache
                .store(&profile.user_id, profile.cached.clone(), profile.keep_for)
                .await;
        }
        Ok(with_cache_status(&profile.cached.body, status))
    }

    /// The cached profile of a user, fresh (`hit`) or stale (`stale`).
    pub async fn cached(&self, user_id: &str) -> Option<Bytes> {
        let cached = self.cache.lookup(user_id).await?;
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
        let cached = self.cache.lookup(user_id).await?;
        let subject = cached.subject().unwrap_or_else(|| Subject::new(user_id));
        let request = EnrichRequest {
            subject,
            connectors: None,
            refresh: true,
            timeout: None,
        };
        Some(self.enrich(request).await)
    }

    /// Erase everything cached about a user.
    pub async fn erase(&self, user_id: &str) -> Result<(), RedisError> {
        self.cache.erase(user_id).await
    }

    async fn fan_out_and_merge(
        &self,
        subject: Arc<Subject>,
        targets: &[Arc<ConnectorEntry>],
        deadline: Instant,
    ) -> Result<BuiltProfile, EnrichError> {
        let started = Instant::now();
        let outcomes = self.fan_out.run(&subject, targets, deadline).await;
        let built = self.build(&subject, targets, outcomes);
        let outcome = match &built {
            Ok(profile) if profile.partial => "partial",
            Ok(_) => "complete",
            Err(_) => "failed",
        };
        self.metrics.enrichments.with_label_values(&[outcome]).inc();
        self.metrics
            .enrichment_duration
            .observe(started.elapsed().as_secs_f64());
        built
    }

    /// Merge the outcomes into the profile to store and serve.
    fn build(
        &self,
        subject: &Subject,
        targets: &[Arc<ConnectorEntry>],
        outcomes: Vec<SourceOutcome>,
    ) -> Result<BuiltProfile, EnrichError> {
        let attempted = outcomes
            .iter()
            .filter(|o| o.report.status.attempted())
            .count();
        let failed = outcomes
            .iter()
            .filter(|o| o.report.status.attempted() && !o.report.status.answered())
            .count();
        if attempted > 0 && failed == attempted {
            return Err(EnrichError::AllSourcesFailed {
                sources: outcomes.into_iter().map(|o| o.report).collect(),
            });
        }
        let fresh_for = if failed > 0 {
            self.freshness.partial
        } else {
            let answered_ttls = targets
                .iter()
                .zip(&outcomes)
                .filter(|(_, o)| o.answer.is_some())
                .map(|(entry, _)| entry.ttl);
            answered_ttls
                .min()
                .map_or(self.freshness.nobody_knows, |ttl| {
                    ttl.min(self.freshness.complete)
                })
        };
        let (reports, answers): (Vec<_>, Vec<_>) =
            outcomes.into_iter().map(|o| (o.report, o.answer)).unzip();
        let merged = merge(answers.into_iter().flatten().collect());
        let now = SystemTime::now();
        let fresh_until = now + fresh_for;
        let profile = Profile {
            user_id: subject.user_id.clone(),
            profile: merged.body,
            provenance: merged.provenance,
            sources: reports,
            confidence: merged.confidence,
            partial: failed > 0,
            cache: None,
            enriched_at: timestamp(now),
            expires_at: timestamp(fresh_until),
        };
        let body = serde_json::to_vec(&profile).expect("profiles serialize");
        Ok(BuiltProfile {
            user_id: profile.user_id,
            partial: profile.partial,
            keep_for: fresh_for + self.freshness.stale,
            cached: CachedProfile {
                body: Bytes::from(body),
                fresh_until_ms: unix_ms(fresh_until),
                subject: Bytes::from(serde_json::to_vec(subject).expect("subjects serialize")),
            },
        })
    }
}

/// A freshly built profile, as it will be cached.
struct BuiltProfile {
    user_id: String,
    partial: bool,
    keep_for: Duration,
    cached: CachedProfile,
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

/// The cached answer, if it is fresh and was built from the identifiers the caller sent (a
/// caller sending none accepts whatever is cached).
fn fresh_answer(cached: &CachedProfile, subject: &Subject) -> Option<Bytes> {
    if !cached.is_fresh(SystemTime::now()) {
        return None;
    }
    if subject.has_identifiers() {
        let remembered = cached.subject()?;
        let same = |a: &Option<String>, b: &Option<String>| a.is_none() || a == b;
        let covered = same(&subject.email, &remembered.email)
            && same(&subject.phone, &remembered.phone)
            && subject
                .handles
                .iter()
                .all(|(platform, handle)| remembered.handles.get(platform) == Some(handle));
        if !covered {
            return None;
        }
    }
    Some(with_cache_status(&cached.body, CacheStatus::Hit))
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

    fn cached(subject: &Subject, fresh: bool) -> CachedProfile {
        let now = unix_ms(SystemTime::now());
        CachedProfile {
            body: Bytes::from_static(br#"{"user_id":"u-1"}"#),
            fresh_until_ms: if fresh { now + 60_000 } else { now - 1 },
            subject: Bytes::from(serde_json::to_vec(subject).unwrap()),
        }
    }

    #[test]
    fn a_fresh_profile_answers_callers_sending_the_same_or_no_identifiers() {
        let built_from = Subject::new("u-1")
            .with_email("ada@example.com")
            .with_handle("github", "ada");
        let entry = cached(&built_from, true);
        assert!(fresh_answer(&entry, &Subject::new("u-1")).is_some());
        assert!(fresh_answer(&entry, &Subject::new("u-1").with_email("ada@example.com")).is_some());
        assert!(fresh_answer(&entry, &Subject::new("u-1").with_email("new@example.com")).is_none());
        assert!(fresh_answer(&entry, &Subject::new("u-1").with_handle("x", "ada")).is_none());
        assert!(fresh_answer(&cached(&built_from, false), &Subject::new("u-1")).is_none());
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

//! Building the profile: the outcomes merged into the JSON that is cached and served, with how
//! long it stays fresh.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use enrichd_sdk::Subject;

use super::{
    EnrichError, Inner, SourceAnswer, SourceOutcome, bounds, merge,
    profile::{Profile, SourceStatus, timestamp},
};
use crate::{
    cache::{CachedProfile, unix_ms},
    connectors::ConnectorEntry,
};

/// A profile built from a fan-out, ready to cache and serve.
#[derive(Debug)]
pub(super) struct BuiltProfile {
    pub cached: CachedProfile,
    /// Whether an attempted source failed (the profile is fresh for a short while only).
    pub partial: bool,
    /// How long to keep it: its freshness plus the stale window.
    pub keep_for: Duration,
}

impl Inner {
    /// Merge `answers` (taken from `outcomes`, their confidences already decayed by wave)
    /// into the profile to store and serve. Fails when every attempted source failed, or a
    /// required one did.
    pub(super) fn build(
        &self,
        subject: &Subject,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &[SourceOutcome],
        answers: Vec<SourceAnswer>,
    ) -> Result<BuiltProfile, EnrichError> {
        let failed =
            |o: &&SourceOutcome| o.report.status.attempted() && !o.report.status.answered();
        let attempted = outcomes
            .iter()
            .filter(|o| o.report.status.attempted())
            .count();
        let failures: Vec<&SourceOutcome> = outcomes.iter().filter(failed).collect();
        let reports = || outcomes.iter().map(|o| o.report.clone()).collect();
        if attempted > 0 && failures.len() == attempted {
            return Err(EnrichError::AllSourcesFailed { sources: reports() });
        }
        let required_failed = targets
            .iter()
            .zip(outcomes)
            .any(|(entry, outcome)| entry.config.required && failed(&outcome));
        if required_failed {
            return Err(EnrichError::RequiredSourceFailed { sources: reports() });
        }
        let fresh_for = if !failures.is_empty() {
            // Ask the failed sources again soon, but not before a rate limit has passed.
            let wait = failures
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
                .filter(|(_, o)| o.report.status == SourceStatus::Ok)
                .map(|(entry, _)| entry.ttl)
                .min()
                .map_or(self.freshness.nobody_knows, |ttl| {
                    ttl.min(self.freshness.complete)
                })
        };
        let mut merged = merge(answers);
        bounds::cap_body(&mut merged.body, self.max_list_items);
        let now = SystemTime::now();
        let fresh_until = now + fresh_for;
        let profile = Profile {
            user_id: subject.user_id.clone(),
            profile: merged.body,
            provenance: merged.provenance,
            sources: reports(),
            confidence: merged.confidence,
            partial: !failures.is_empty(),
            cache: None,
            enriched_at: timestamp(now),
            expires_at: timestamp(fresh_until),
        };
        let body = serde_json::to_vec(&profile).expect("profiles serialize");
        Ok(BuiltProfile {
            cached: CachedProfile {
                body: Bytes::from(body),
                fresh_until_ms: unix_ms(fresh_until),
                subject: Bytes::from(serde_json::to_vec(subject).expect("subjects serialize")),
            },
            partial: profile.partial,
            keep_for: fresh_for + self.freshness.stale,
        })
    }
}

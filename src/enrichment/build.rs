//! Building the profile: the outcomes merged into the JSON that is cached and served, with how
//! long it stays fresh.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use enrichd_sdk::Subject;

use serde_json::Value;

use super::{
    EnrichError, Inner, Merged, SourceAnswer, SourceOutcome, bounds, merge,
    profile::{Profile, Provenance, SourceStatus, timestamp},
};
use crate::{
    cache::{CachedProfile, unix_ms},
    connectors::ConnectorEntry,
    domain::Overrides,
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
        overrides: &Overrides,
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
            let over_budget = failures
                .iter()
                .all(|o| o.report.status == SourceStatus::BudgetExhausted);
            return Err(if over_budget {
                EnrichError::BudgetExhausted { sources: reports() }
            } else {
                EnrichError::AllSourcesFailed { sources: reports() }
            });
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
        overridden(&mut merged, overrides);
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
            cost: None,
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

/// Apply the user's overrides to the merged profile: each value replaces what the sources said
/// (`source: "override"`, confidence 1), `null` hides the field; the profile's confidence is
/// recomputed. Only checked paths and values get here ([`Overrides::parse`]).
fn overridden(merged: &mut Merged, overrides: &Overrides) {
    if overrides.is_empty() {
        return;
    }
    let Ok(Value::Object(mut body)) = serde_json::to_value(&merged.body) else {
        return;
    };
    let set_at = overrides.updated_at.clone().unwrap_or_default();
    for (path, value) in &overrides.fields {
        let (section, field) = path.split_once('.').unwrap_or((path, ""));
        let (parent, key) = match field.strip_prefix("handles.") {
            Some(platform) => (vec![section, "handles"], platform),
            None => (vec![section], field),
        };
        let Some(node) = object_at(&mut body, &parent) else {
            continue;
        };
        if value.is_null() {
            node.remove(key);
            merged.provenance.remove(path);
        } else {
            node.insert(key.to_owned(), value.clone());
            merged.provenance.insert(
                path.clone(),
                Provenance {
                    source: "override".to_owned(),
                    confidence: 1.0,
                    fetched_at: set_at.clone(),
                    sources: Vec::new(),
                    agreeing: Vec::new(),
                    conflicts: Vec::new(),
                },
            );
        }
    }
    if let Ok(body) = serde_json::from_value(Value::Object(body)) {
        merged.body = body;
    }
    merged.confidence = super::merge::mean_confidence(&merged.provenance);
}

/// The object at `steps` below `root`, if there is one.
fn object_at<'a>(
    root: &'a mut serde_json::Map<String, Value>,
    steps: &[&str],
) -> Option<&'a mut serde_json::Map<String, Value>> {
    let mut node = root;
    for step in steps {
        node = node.get_mut(*step)?.as_object_mut()?;
    }
    Some(node)
}

//! Per-source reuse: the definite answers of each connector kept for its TTL, and read back to
//! stand in for calls while they are fresh and were given for the identifiers sent now.

use std::{
    sync::Arc,
    time::{Duration, SystemTime},
};

use enrichd_sdk::Subject;

use super::{Inner, SourceAnswer, SourceOutcome, bounds};
use crate::{
    cache::{CachedSource, SourceJson, SourceToStore, unix_ms},
    connectors::ConnectorEntry,
};

impl Inner {
    /// The definite answers (`ok`, `not_found`) obtained now, to keep for their connector's
    /// TTL, serialized from the answers (nothing cloned), with the confidence the connector
    /// gave (a later wave's decay is applied when merging, not stored).
    pub(super) fn fresh_sources(
        &self,
        subject: &Subject,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &[SourceOutcome],
    ) -> Vec<SourceToStore> {
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
                let identifiers = identifiers_of(entry, subject);
                let source = SourceJson {
                    status: outcome.report.status,
                    enrichment: outcome.answer.as_ref().map(|a| &a.enrichment),
                    confidence: outcome
                        .answer
                        .as_ref()
                        .map_or(entry.confidence, |a| a.confidence),
                    fetched_at_ms: unix_ms(now),
                    fresh_until_ms: unix_ms(now + fresh_for),
                    identifiers: &identifiers,
                };
                SourceToStore::answer(&entry.name, source, fresh_for)
            })
            .collect()
    }

    /// The cached answer of `entry`, taken out of `cached`, when it can stand in for a call:
    /// fresh (by the connector's TTL and by `cache.ttl_seconds`), and given for the
    /// identifiers `subject` carries now; bounded like a fresh answer (it may have been read
    /// back from Redis). Otherwise `cached` is left for a later wave to look at.
    pub(super) fn reuse(
        &self,
        subject: &Subject,
        entry: &ConnectorEntry,
        cached: &mut Option<CachedSource>,
    ) -> Option<SourceOutcome> {
        let now = unix_ms(SystemTime::now());
        let max_age = u64::try_from(self.freshness.complete.as_millis()).unwrap_or(u64::MAX);
        let oldest = now.saturating_sub(max_age);
        let cached = cached.take_if(|cached| {
            cached.fresh_until_ms > now
                && cached.fetched_at_ms > oldest
                && entry.instance.is_some()
                && cached.identifiers == identifiers_of(entry, subject)
        })?;
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
                fetched_at: SystemTime::UNIX_EPOCH + Duration::from_millis(cached.fetched_at_ms),
            });
        }
        Some(outcome)
    }
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

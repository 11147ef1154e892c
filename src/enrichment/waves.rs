//! Waves of fan-out (PRODUCT.md §10, chained lookups): identifiers that the first wave's
//! answers name (`identity.emails`, `identity.handles.*`), from answers at least
//! `enrichment.chain_min_confidence` sure, let the connectors skipped for lack of them be asked
//! in a next wave — inside the same deadline, up to `enrichment.max_waves`, each connector at
//! most once. What a later wave contributes is multiplied by `enrichment.chain_decay` per wave.
//!
//! Identifiers found in answers are untrusted: each is validated as a request's would be, only
//! missing ones are added (an identifier the caller sent is never replaced), and the subject
//! stays within [`MAX_HANDLES`] handles.

use std::{collections::BTreeMap, sync::Arc};

use enrichd_sdk::{Identifier, Subject};
use opentelemetry::{KeyValue, context::FutureExt as _, trace::SpanKind};
use tokio::time::Instant;

use super::{
    FanOutResult, Inner, Job, SourceAnswer, SourceOutcome,
    profile::{SourceStatus, Via},
};
use crate::{
    cache::CachedSource,
    connectors::ConnectorEntry,
    domain::{MAX_HANDLES, parse_email, parse_handle},
    spend::Spend,
};

/// How chaining is tuned (`enrichment.max_waves`, `chain_min_confidence`, `chain_decay`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Chaining {
    pub max_waves: u8,
    pub min_confidence: f64,
    pub decay: f64,
}

impl Chaining {
    /// What a contribution of `wave` is multiplied by.
    pub fn factor(&self, wave: u8) -> f64 {
        self.decay.powi(i32::from(wave.saturating_sub(1)))
    }
}

/// The fan-out of one request, over its waves.
pub(super) struct Waves {
    /// The subject with the identifiers the waves found (what later waves were asked with).
    pub subject: Arc<Subject>,
    pub result: FanOutResult,
}

impl Inner {
    /// Ask `targets` in waves: the first with the caller's identifiers, each next one with
    /// those the previous answers found, for the connectors that lacked them. `found` are the
    /// cached per-source answers (empty when none may be reused).
    pub(super) async fn fan_out_in_waves(
        &self,
        job: &Job,
        targets: &[Arc<ConnectorEntry>],
        mut found: Vec<Option<CachedSource>>,
    ) -> Waves {
        found.resize(targets.len(), None);
        let mut subject = Arc::new(job.subject.clone());
        let mut outcomes: Vec<Option<SourceOutcome>> = targets
            .iter()
            .zip(found.iter_mut())
            .map(|(entry, cached)| self.reuse(&subject, entry, cached))
            .collect();
        let spend = Spend::new(self.ledger.clone(), job.user.tenant(), job.max_cost);
        let waterfalls = self.waterfalls_over(targets);
        let mut calls = self
            .fan_out
            .calls(Arc::new(spend), waterfalls, job.priority);
        // The wave and the identifier of each connector asked in a later wave, recorded on its
        // outcome once it has one.
        let mut marks: Vec<(usize, u8, Option<Via>)> = Vec::new();
        for wave in 1..=self.chaining.max_waves {
            if wave > 1 {
                let (next, found_by) = self.chained(&subject, &outcomes);
                let waiting: Vec<usize> = (0..targets.len())
                    .filter(|&i| {
                        outcomes[i].as_ref().is_some_and(|o| {
                            o.report.status == SourceStatus::Skipped && o.report.reason.is_none()
                        }) && next.has_all(&targets[i].metadata.required_identifiers)
                    })
                    .collect();
                if waiting.is_empty() {
                    break;
                }
                let in_time = calls.all_answered() && Instant::now() < job.deadline;
                for index in waiting {
                    let entry = &targets[index];
                    marks.push((index, wave, via(&subject, entry, &found_by)));
                    outcomes[index] = if in_time {
                        self.reuse(&next, entry, &mut found[index])
                    } else {
                        let mut skipped =
                            SourceOutcome::without_call(&entry.name, SourceStatus::Skipped);
                        skipped.report.reason = Some("deadline".to_owned());
                        Some(skipped)
                    };
                }
                if !in_time {
                    break;
                }
                subject = Arc::new(next);
            }
            self.wave(
                wave,
                &mut calls,
                &subject,
                targets,
                &mut outcomes,
                job.deadline,
            )
            .await;
            // The next wave chains from these answers: their wave must be known.
            self.apply_marks(&mut marks, &mut outcomes);
        }
        self.apply_marks(&mut marks, &mut outcomes);
        let mut result = self.fan_out.finish(calls, targets, outcomes);
        for (index, wave, via) in marks {
            // Still running at the deadline (a late answer keeps this wave).
            self.mark(&mut result.outcomes[index], wave, via);
        }
        Waves { subject, result }
    }

    /// Run one wave, under its trace span when tracing is on.
    async fn wave(
        &self,
        wave: u8,
        calls: &mut super::fanout::Calls,
        subject: &Arc<Subject>,
        targets: &[Arc<ConnectorEntry>],
        outcomes: &mut [Option<SourceOutcome>],
        deadline: Instant,
    ) {
        let traced = self.traces.child(
            "enrichment.wave",
            SpanKind::Internal,
            vec![
                KeyValue::new("enrichment.wave", i64::from(wave)),
                KeyValue::new(
                    "enrichment.connectors",
                    outcomes.iter().filter(|o| o.is_none()).count() as i64,
                ),
            ],
        );
        let run = self
            .fan_out
            .wave(calls, subject, targets, outcomes, deadline);
        match &traced {
            Some(traced) => run.with_context(traced.context()).await,
            None => run.await,
        }
        if let Some(traced) = traced {
            traced.end();
        }
    }

    /// The subject with the identifiers that the answers so far name, and which connector
    /// named each (by identifier: `email`, `handles.github`). The surest answers go first.
    fn chained(
        &self,
        subject: &Subject,
        outcomes: &[Option<SourceOutcome>],
    ) -> (Subject, BTreeMap<String, String>) {
        let mut answers: Vec<(&SourceAnswer, f64)> = outcomes
            .iter()
            .flatten()
            .filter_map(|o| {
                let answer = o.answer.as_ref()?;
                Some((
                    answer,
                    answer.confidence * self.chaining.factor(o.report.wave),
                ))
            })
            .filter(|(_, confidence)| *confidence >= self.chaining.min_confidence)
            .collect();
        answers.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut next = subject.clone();
        let mut found_by = BTreeMap::new();
        for (answer, _) in answers {
            let identity = &answer.enrichment.identity;
            if next.email.is_none()
                && let Some(email) = identity
                    .emails
                    .iter()
                    .find_map(|e| parse_email(e.trim()).ok())
            {
                next.email = Some(email);
                found_by.insert("email".to_owned(), answer.connector.clone());
            }
            for (platform, handle) in &identity.handles {
                if next.handles.len() >= MAX_HANDLES || next.handles.contains_key(platform) {
                    continue;
                }
                if let Ok((platform, handle)) = parse_handle(platform, handle.trim()) {
                    found_by.insert(format!("handles.{platform}"), answer.connector.clone());
                    next.handles.insert(platform, handle);
                }
            }
        }
        (next, found_by)
    }

    /// Record their wave on the outcomes that have one now (the others are still running).
    fn apply_marks(
        &self,
        marks: &mut Vec<(usize, u8, Option<Via>)>,
        outcomes: &mut [Option<SourceOutcome>],
    ) {
        marks.retain_mut(|(index, wave, via)| match &mut outcomes[*index] {
            Some(outcome) => {
                self.mark(outcome, *wave, via.take());
                false
            }
            None => true,
        });
    }

    /// Record that `outcome` belongs to `wave`, reached `via` an identifier; its confidence
    /// as merged is decayed for the wave.
    pub(super) fn mark(&self, outcome: &mut SourceOutcome, wave: u8, via: Option<Via>) {
        outcome.report.wave = wave;
        outcome.report.via = via;
        let factor = self.chaining.factor(wave);
        if let Some(confidence) = &mut outcome.report.confidence {
            *confidence *= factor;
        }
    }

    /// The answers to merge, their confidence decayed by wave: moved out of `outcomes`, or
    /// copied when `keep` (late answers will rebuild the profile from them).
    pub(super) fn answers_of(
        &self,
        outcomes: &mut [SourceOutcome],
        keep: bool,
    ) -> Vec<SourceAnswer> {
        outcomes
            .iter_mut()
            .filter_map(|outcome| {
                let factor = self.chaining.factor(outcome.report.wave);
                let mut answer = if keep {
                    outcome.answer.clone()
                } else {
                    outcome.answer.take()
                }?;
                answer.confidence *= factor;
                Some(answer)
            })
            .collect()
    }
}

/// The identifier that let `entry` be asked: the first it requires that `before` lacked, with
/// the connector that found it.
fn via(
    before: &Subject,
    entry: &ConnectorEntry,
    found_by: &BTreeMap<String, String>,
) -> Option<Via> {
    entry
        .metadata
        .required_identifiers
        .iter()
        .filter(|id| before.identifier(id).is_none())
        .find_map(|id: &Identifier| {
            let name = id.to_string();
            let from = found_by.get(&name)?.clone();
            Some(Via {
                identifier: name,
                from,
            })
        })
}

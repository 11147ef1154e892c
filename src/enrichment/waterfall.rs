//! Waterfalls (PRODUCT.md §11): connectors asked one after another, in order, until every
//! `until` field is filled by an answer at least `min_confidence` sure — then the rest are
//! skipped (`reason: "waterfall_satisfied"`) and cost nothing. Waterfalls run concurrently
//! with each other and with the connectors in none; the request's deadline bounds them all.
//!
//! A step that is disabled, lacks its identifier, fails or is refused by a budget passes the
//! turn to the next. The fields may be filled by any answer of the request, a cached one
//! included: a waterfall whose fields are known already asks nobody.

use std::sync::Arc;

use super::{SourceOutcome, profile::SourceStatus};
use crate::{config::WaterfallConfig, connectors::ConnectorEntry, domain::fields::fills};

/// The waterfalls of one request, as indexes into its targets.
#[derive(Debug, Default)]
pub struct Waterfalls {
    list: Vec<Waterfall>,
}

#[derive(Debug)]
struct Waterfall {
    /// The targets asked, in order (connectors the request does not ask are left out).
    steps: Vec<usize>,
    fields: Vec<String>,
    min_confidence: f64,
}

impl Waterfalls {
    /// The configured waterfalls over `targets`.
    pub fn plan<'a>(
        configured: impl IntoIterator<Item = &'a WaterfallConfig>,
        targets: &[Arc<ConnectorEntry>],
    ) -> Waterfalls {
        let list = configured
            .into_iter()
            .map(|config| Waterfall {
                steps: config
                    .connectors
                    .iter()
                    .filter_map(|name| targets.iter().position(|t| &t.name == name))
                    .collect(),
                fields: config.until.fields.clone(),
                min_confidence: config.until.min_confidence,
            })
            .filter(|w| !w.steps.is_empty())
            .collect();
        Waterfalls { list }
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether target `index` waits for an earlier step of its waterfall, one without an
    /// outcome yet (running, or not started).
    pub fn waits(&self, index: usize, outcomes: &[Option<SourceOutcome>]) -> bool {
        self.list.iter().any(|waterfall| {
            let Some(position) = waterfall.steps.iter().position(|&s| s == index) else {
                return false;
            };
            waterfall.steps[..position]
                .iter()
                .any(|&earlier| outcomes[earlier].is_none())
        })
    }

    /// Whether target `index` comes after a step of its waterfall that is `ahead` (would be,
    /// or may be, called): for dry runs.
    pub fn waits_behind(&self, index: usize, ahead: &[bool]) -> bool {
        self.list.iter().any(|waterfall| {
            waterfall
                .steps
                .iter()
                .position(|&s| s == index)
                .is_some_and(|position| waterfall.steps[..position].iter().any(|&s| ahead[s]))
        })
    }

    /// Give the steps not `started` of every satisfied waterfall their outcome:
    /// `skipped`, `waterfall_satisfied`.
    pub fn skip_satisfied(
        &self,
        outcomes: &mut [Option<SourceOutcome>],
        started: &[bool],
        targets: &[Arc<ConnectorEntry>],
    ) {
        for waterfall in &self.list {
            let open: Vec<usize> = waterfall
                .steps
                .iter()
                .copied()
                .filter(|&step| outcomes[step].is_none() && !started[step])
                .collect();
            if open.is_empty() || !waterfall.satisfied(outcomes) {
                continue;
            }
            for step in open {
                let mut skipped =
                    SourceOutcome::without_call(&targets[step].name, SourceStatus::Skipped);
                skipped.report.reason = Some("waterfall_satisfied".to_owned());
                outcomes[step] = Some(skipped);
            }
        }
    }
}

impl Waterfall {
    /// Whether the answers so far fill every field at the confidence asked.
    fn satisfied(&self, outcomes: &[Option<SourceOutcome>]) -> bool {
        self.fields.iter().all(|field| {
            outcomes.iter().flatten().any(|outcome| {
                outcome.answer.as_ref().is_some_and(|answer| {
                    let confidence = outcome.report.confidence.unwrap_or(answer.confidence);
                    confidence >= self.min_confidence && fills(&answer.enrichment, field)
                })
            })
        })
    }
}

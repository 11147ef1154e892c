//! Dry runs (`POST /v1/enrich?dry_run=true`, PRODUCT.md §11): what an enrichment would do —
//! which connectors it would call and why not the others, the cache's state, what it would
//! cost — with nothing called, reserved or stored.

use std::{sync::Arc, time::SystemTime};

use serde::Serialize;

use super::{
    Enricher, SourceOutcome,
    profile::CacheStatus,
    remembered::{covers, remembered_with},
};
use crate::{
    domain::{EnrichRequest, UserKey, credits, micros},
    resilience::CircuitState,
    spend::Price,
};

use super::EnrichError;

/// What an enrichment would do.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DryRun {
    /// Always true: nothing was called or stored.
    pub dry_run: bool,
    pub user_id: String,
    /// How the answer would be served: `hit` and `stale` from the cache (a stale one is
    /// refreshed in the background with the calls listed), `miss` or `bypass` by calling.
    pub cache: CacheStatus,
    /// Every connector the request concerns, in order.
    pub connectors: Vec<PlannedCall>,
    /// What the calls certain to be made would cost at most, in credits.
    pub projected_cost: f64,
    /// The same, with the later steps of waterfalls that may be needed.
    pub projected_cost_max: f64,
    /// What is left of the tenant's daily budget (absent: it has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub budget_remaining: Option<f64>,
}

/// What would happen to one connector.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PlannedCall {
    pub connector: String,
    /// `yes`, `no`, or `if_needed` (a later step of a waterfall: called only if the earlier
    /// ones leave its fields unfilled).
    pub call: Decision,
    /// Why not (or why only if needed): `cached_profile`, `cached`, `disabled`,
    /// `missing_identifier`, `circuit_open`, `rate_limited`, `waterfall`,
    /// `waterfall_satisfied`, `budget_exhausted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<&'static str>,
    /// The most a call would cost, in credits.
    pub cost: f64,
}

/// Whether a connector would be called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Yes,
    No,
    IfNeeded,
}

impl Enricher {
    /// What enriching `request` would do now; refused as the enrichment would be (a
    /// suppressed subject).
    pub async fn dry_run(&self, request: EnrichRequest) -> Result<DryRun, EnrichError> {
        let inner = &self.inner;
        inner.admit(&request.tenant, &request.subject)?;
        let user = UserKey::new(&request.tenant, &request.subject.user_id);
        let shared = request.connectors.is_none();
        let mut subject = request.subject;
        let mut cache = if shared && !request.refresh {
            CacheStatus::Miss
        } else {
            CacheStatus::Bypass
        };
        if cache == CacheStatus::Miss
            && let Some(cached) = inner.cache.lookup(&user).await
        {
            let remembered = cached.subject();
            if let Some(remembered) = &remembered {
                inner.admit(&request.tenant, remembered)?;
            }
            if !covers(remembered.as_ref(), &subject) {
                subject = remembered_with(remembered, subject);
            } else if cached.is_fresh(SystemTime::now()) {
                cache = CacheStatus::Hit;
            } else {
                cache = CacheStatus::Stale;
                subject = remembered.unwrap_or(subject);
            }
        }
        let targets = super::targets(&inner.registry.snapshot(), request.connectors.as_deref());
        let subject = Arc::new(subject);
        let mut outcomes: Vec<Option<SourceOutcome>> = vec![None; targets.len()];
        if cache != CacheStatus::Bypass && cache != CacheStatus::Hit {
            let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
            let (mut found, _) = inner.cache.sources(&user, &names).await;
            found.resize(targets.len(), None);
            for (index, cached) in found.iter_mut().enumerate() {
                outcomes[index] = inner.reuse(&subject, &targets[index], cached);
            }
        }
        let cached: Vec<bool> = outcomes.iter().map(Option::is_some).collect();
        let waterfalls = inner.waterfalls_over(&targets);
        waterfalls.skip_satisfied(&mut outcomes, &cached, &targets);

        let budget = inner.ledger.budget(&request.tenant);
        let spent = match budget {
            Some(_) => inner
                .ledger
                .usage(&request.tenant)
                .await
                .map(|usage| micros(usage.spent))
                .unwrap_or(u64::MAX),
            None => 0,
        };
        let room = [
            request.max_cost,
            budget.map(|budget| budget.saturating_sub(spent)),
        ]
        .into_iter()
        .flatten()
        .min();
        let (mut projected, mut projected_max) = (0u64, 0u64);
        let mut planned = Vec::with_capacity(targets.len());
        // Whether an earlier step of a target's waterfall would be (or may be) called.
        let mut ahead = vec![false; targets.len()];
        for (index, entry) in targets.iter().enumerate() {
            let price = Price::of(&entry.config.cost);
            let (call, reason) = if cache == CacheStatus::Hit {
                (Decision::No, Some("cached_profile"))
            } else if cached[index] {
                (Decision::No, Some("cached"))
            } else if outcomes[index].is_some() {
                (Decision::No, Some("waterfall_satisfied"))
            } else if entry.instance.is_none() {
                (Decision::No, Some("disabled"))
            } else if !subject.has_all(&entry.metadata.required_identifiers) {
                (Decision::No, Some("missing_identifier"))
            } else if entry.guard.breaker.state() == CircuitState::Open {
                (Decision::No, Some("circuit_open"))
            } else if entry.guard.blocked_for().is_some() {
                (Decision::No, Some("rate_limited"))
            } else if room.is_some_and(|room| projected + price.most() > room) {
                (Decision::No, Some("budget_exhausted"))
            } else if waterfalls.waits_behind(index, &ahead) {
                (Decision::IfNeeded, Some("waterfall"))
            } else {
                (Decision::Yes, None)
            };
            match call {
                Decision::Yes => projected += price.most(),
                Decision::IfNeeded => projected_max += price.most(),
                Decision::No => {}
            }
            ahead[index] = call != Decision::No;
            planned.push(PlannedCall {
                connector: entry.name.clone(),
                call,
                reason,
                cost: credits(price.most()),
            });
        }
        Ok(DryRun {
            dry_run: true,
            user_id: subject.user_id.clone(),
            cache,
            connectors: planned,
            projected_cost: credits(projected),
            projected_cost_max: credits(projected + projected_max),
            budget_remaining: budget.map(|b| credits(b.saturating_sub(spent))),
        })
    }
}

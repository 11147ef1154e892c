//! Bulk jobs (PRODUCT.md §12): many subjects enriched in the background by every replica,
//! each result recorded once, the caller told by a signed webhook when the job ends.
//!
//! With Redis the work is a Redis Stream read by one consumer group (see [`redis_store`]);
//! without, it runs in this process and is lost on restart ([`local_store`]). Workers
//! ([`runner`]) enrich through the same path as `POST /v1/enrich`, as the job's tenant (so
//! budgets and suppressions apply), at [`Priority::Bulk`]: their connector calls take at most
//! `jobs.max_share` of each rate limit.

pub mod cli;
mod local_store;
mod model;
mod redis_store;
mod runner;
mod store;
pub mod webhook;

use std::{sync::Arc, time::Duration};

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, stream};
use serde_json::Value;

use self::{
    local_store::LocalJobs,
    model::{NewJob, now_ms, result_line},
    redis_store::RedisJobs,
    store::Store,
};
pub use self::{
    model::{Counts, Meta, Outcome, Status},
    runner::{Describe, SubjectError, Work},
    store::StoreError,
    webhook::Webhooks,
};
use crate::{
    config::JobsConfig,
    domain::{Tenant, UserKey},
    keys::Keys,
    metrics::Metrics,
    redis_link::{RedisError, RedisLink},
    sealing::Sealer,
    tasks::Tasks,
};

/// The jobs a tenant's list keeps (`GET /v1/jobs` shows at most these, newest first).
pub const LISTED: usize = 1000;

/// Results read from the store at once while streaming them.
const RESULTS_CHUNK: u64 = 500;

/// One line of a submitted job.
pub enum Line {
    /// A valid subject: its user, and its JSON as stored for the workers.
    Valid { user: UserKey, subject: Bytes },
    /// A line that is not a valid subject: recorded `failed` at once with `error`.
    Invalid { user: Option<UserKey>, error: Value },
}

/// A job to create.
pub struct Submission {
    pub tenant: Tenant,
    pub lines: Vec<Line>,
    pub webhook: Option<String>,
    pub refresh: bool,
    pub connectors: Option<Vec<String>>,
}

/// The jobs of one application.
pub struct Jobs {
    store: Arc<Store>,
    config: JobsConfig,
    webhooks: Arc<Webhooks>,
    metrics: Arc<Metrics>,
    tasks: Tasks,
}

impl Jobs {
    pub fn new(
        config: &JobsConfig,
        link: Option<RedisLink>,
        keys: Keys,
        sealer: Sealer,
        metrics: Arc<Metrics>,
        tasks: Tasks,
    ) -> reqwest::Result<Jobs> {
        let store = match link {
            Some(link) => Store::Redis(Box::new(RedisJobs::new(
                link,
                keys,
                sealer,
                config.retention_seconds,
                config.claim_idle_ms,
            ))),
            None => Store::Local(LocalJobs::new(config.retention_seconds)),
        };
        let webhooks = Webhooks::new(
            config.allowed_hosts(),
            config.webhook_key.expose(),
            Duration::from_millis(config.webhook_backoff_ms),
            config.webhook_max_attempts,
        )?;
        Ok(Jobs {
            store: Arc::new(store),
            config: config.clone(),
            webhooks: Arc::new(webhooks),
            metrics,
            tasks,
        })
    }

    pub fn config(&self) -> &JobsConfig {
        &self.config
    }

    /// Whether `url` may receive this deployment's webhooks.
    pub fn webhook_allowed(&self, url: &reqwest::Url) -> bool {
        self.webhooks.allows(url)
    }

    /// Store a job and queue its subjects; invalid lines are recorded `failed` at once.
    pub async fn submit(self: &Arc<Self>, submission: Submission) -> Result<Meta, StoreError> {
        let now = now_ms();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut counts = Counts {
            total: submission.lines.len() as u64,
            ..Counts::default()
        };
        let (mut inputs, mut decided, mut users) = (Vec::new(), Vec::new(), Vec::new());
        for (index, line) in (0u64..).zip(submission.lines) {
            match line {
                Line::Valid { user, subject } => {
                    inputs.push((index, subject));
                    users.push((user, index));
                }
                Line::Invalid { user, error } => {
                    let user_id = user.as_ref().map(UserKey::user_id);
                    decided.push((index, result_line(index, user_id, Err(&error))));
                    counts.add(Outcome::Failed);
                    users.extend(user.map(|user| (user, index)));
                }
            }
        }
        let finished = counts.done == counts.total;
        let meta = Meta {
            id,
            tenant: submission.tenant,
            status: if finished {
                Status::Completed
            } else {
                Status::Queued
            },
            counts,
            created_at: now,
            started_at: finished.then_some(now),
            finished_at: finished.then_some(now),
            webhook: submission.webhook,
            refresh: submission.refresh,
            connectors: submission.connectors,
        };
        let job = NewJob {
            meta: &meta,
            inputs: &inputs,
            decided: &decided,
            users: &users,
        };
        self.store
            .create(&job, self.config.max_queued_subjects as u64)
            .await?;
        self.count(Outcome::Failed, counts.failed);
        if finished {
            self.notify(&meta.id);
        }
        Ok(meta)
    }

    fn count(&self, outcome: Outcome, by: u64) {
        if by > 0 {
            self.metrics
                .jobs_subjects
                .with_label_values(&[outcome.as_str()])
                .inc_by(by);
        }
    }

    /// The job `id` of `tenant` (`None`: no such job, or another tenant's).
    pub async fn get(&self, tenant: Option<&Tenant>, id: &str) -> Result<Option<Meta>, RedisError> {
        if !valid_id(id) {
            return Ok(None);
        }
        let meta = self.store.meta(id).await?;
        Ok(meta.filter(|m| tenant.is_none_or(|t| *t == m.tenant)))
    }

    /// The newest `limit` jobs of `tenant` still kept, newest first.
    pub async fn recent(&self, tenant: &Tenant, limit: usize) -> Result<Vec<Meta>, RedisError> {
        self.store.recent(tenant, limit.min(LISTED)).await
    }

    /// Cancel an open job: its subjects not started yet are never enriched; the webhook says
    /// `cancelled`. Returns whether it was open.
    pub async fn cancel(self: &Arc<Self>, id: &str) -> Result<bool, RedisError> {
        let cancelled = self.store.cancel(id, now_ms()).await?;
        if cancelled {
            self.notify(id);
        }
        Ok(cancelled)
    }

    /// Send the job's webhook (again), if it has one; in the background.
    pub fn notify(self: &Arc<Self>, id: &str) {
        let this = self.clone();
        let id = id.to_owned();
        self.tasks.spawn(async move {
            let meta = match this.store.meta(&id).await {
                Ok(Some(meta)) => meta,
                Ok(None) => return,
                Err(err) => {
                    tracing::warn!(job = %id, error = %err, "Could not read a finished job; its webhook was not sent (redeliver it).");
                    return;
                }
            };
            let Some(url) = &meta.webhook else { return };
            let store = this.store.clone();
            let expires_at = this.expires_at(&meta);
            let log = |attempt: webhook::Attempt| {
                let (store, id) = (store.clone(), id.clone());
                async move {
                    if let Err(err) = store.log_attempt(&id, attempt.to_json(), expires_at).await {
                        tracing::warn!(job = %id, error = %err, "Could not log a webhook attempt.");
                    }
                }
            };
            if !this.webhooks.deliver(url, meta.webhook_body(), log).await {
                tracing::warn!(job = %id, "A job's webhook was not delivered; every attempt failed (see GET /v1/jobs/{{id}}/webhook).");
            }
        });
    }

    /// When everything about `meta`'s job expires (Unix ms).
    fn expires_at(&self, meta: &Meta) -> u64 {
        meta.created_at
            .saturating_add(self.config.retention_seconds.saturating_mul(1000))
    }

    /// The webhook attempts of a job, oldest first.
    pub async fn attempts(&self, id: &str) -> Result<Vec<Value>, RedisError> {
        let stored = self.store.attempts(id).await?;
        Ok(stored
            .iter()
            .filter_map(|a| serde_json::from_slice(a).ok())
            .collect())
    }

    /// The recorded results of `meta`'s job after index `after` (all: `None`), at most
    /// `limit`, in input order, as NDJSON read in chunks: never the whole job in memory.
    pub fn results(
        &self,
        meta: &Meta,
        after: Option<u64>,
        limit: u64,
    ) -> impl Stream<Item = Result<Bytes, RedisError>> + 'static {
        let from = after.map_or(0, |a| a.saturating_add(1));
        let to = meta.counts.total.min(from.saturating_add(limit));
        let (store, job) = (self.store.clone(), meta.id.clone());
        stream::try_unfold(from, move |next| {
            let (store, job) = (store.clone(), job.clone());
            async move {
                if next >= to {
                    return Ok(None);
                }
                let end = to.min(next + RESULTS_CHUNK);
                let lines = store.results(&job, next, end).await?;
                let mut chunk = BytesMut::new();
                for line in lines.into_iter().flatten() {
                    chunk.put_slice(&line);
                    chunk.put_u8(b'\n');
                }
                Ok(Some((chunk.freeze(), end)))
            }
        })
    }

    /// Remove what jobs hold about `user` (inputs; results become erased lines).
    pub async fn erase(&self, user: &UserKey) -> Result<(), RedisError> {
        self.store.erase(user).await
    }

    /// Remove the consumers of replicas unheard of for `idle` that hold no subject (workers
    /// do it hourly for a day's idleness); how many.
    pub async fn forget_gone_consumers(&self, idle: Duration) -> Result<usize, RedisError> {
        let idle_ms = u64::try_from(idle.as_millis()).unwrap_or(u64::MAX);
        self.store.forget_gone_consumers(idle_ms).await
    }

    /// Start this replica's workers, owned by the application's tasks (none with
    /// `jobs.workers: 0`).
    pub fn spawn_workers(self: &Arc<Self>, work: Work) {
        if self.config.workers == 0 {
            return;
        }
        let runner = runner::Runner::new(self.clone(), work);
        self.tasks.spawn(runner.run());
    }
}

/// Whether `id` is a job id (32 lower-case hex digits).
fn valid_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::valid_id;

    #[test]
    fn job_ids_are_32_lower_case_hex_digits() {
        assert!(valid_id("0f8fad5bd9cb469fa16570867728950e"));
        assert!(!valid_id("0f8fad5bd9cb469fa16570867728950"), "31");
        assert!(!valid_id("0f8fad5bd9cb469fa16570867728950e0"), "33");
        assert!(!valid_id("0F8FAD5BD9CB469FA16570867728950E"), "upper case");
        assert!(
            !valid_id("0f8fad5bd9cb469fa1657086772895}{"),
            "a hash tag's braces"
        );
        assert!(!valid_id("0f8fad5bd9cb469fa16570867728950g"));
    }
}

//! Where jobs are kept: Redis (shared by every replica) or this process.

use bytes::Bytes;

pub use super::model::{Item, Recorded};
use super::{
    local_store::LocalJobs,
    model::{Meta, NewJob, Outcome},
    redis_store::RedisJobs,
};
use crate::{
    domain::{Tenant, UserKey},
    redis_link::RedisError,
};

/// Why a job could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error("too many subjects are waiting already; retry once jobs have drained")]
    Full,
}

pub enum Store {
    Redis(Box<RedisJobs>),
    Local(LocalJobs),
}

impl Store {
    pub async fn depth(&self) -> Result<u64, RedisError> {
        match self {
            Store::Redis(r) => r.depth().await,
            Store::Local(l) => Ok(l.depth()),
        }
    }

    pub async fn active(&self) -> Result<u64, RedisError> {
        match self {
            Store::Redis(r) => r.active().await,
            Store::Local(l) => Ok(l.active()),
        }
    }

    /// Store a job, unless the subjects waiting would pass `max_queued`.
    pub async fn create(&self, job: &NewJob<'_>, max_queued: u64) -> Result<(), StoreError> {
        if self.depth().await?.saturating_add(job.inputs.len() as u64) > max_queued {
            return Err(StoreError::Full);
        }
        match self {
            Store::Redis(r) => Ok(r.create(job).await?),
            Store::Local(l) => l.create(job).then_some(()).ok_or(StoreError::Full),
        }
    }

    pub async fn fetch(&self, count: usize) -> Result<Vec<Item>, RedisError> {
        match self {
            Store::Redis(r) => r.fetch(count).await,
            Store::Local(l) => Ok(l.fetch(count)),
        }
    }

    pub async fn reclaim(&self, count: usize) -> Result<Vec<Item>, RedisError> {
        match self {
            Store::Redis(r) => r.reclaim(count).await,
            Store::Local(_) => Ok(Vec::new()),
        }
    }

    /// Take jobs that are over off the active set (Redis only).
    pub async fn tidy_active(&self) -> Result<(), RedisError> {
        match self {
            Store::Redis(r) => r.tidy_active().await,
            Store::Local(_) => Ok(()),
        }
    }

    /// Forget replicas unheard of for `idle_ms` (Redis only); how many.
    pub async fn forget_gone_consumers(&self, idle_ms: u64) -> Result<usize, RedisError> {
        match self {
            Store::Redis(r) => r.forget_gone_consumers(idle_ms).await,
            Store::Local(_) => Ok(0),
        }
    }

    pub async fn input(&self, job: &str, index: u64) -> Result<Option<Bytes>, RedisError> {
        match self {
            Store::Redis(r) => r.input(job, index).await,
            Store::Local(l) => Ok(l.input(job, index)),
        }
    }

    pub async fn meta(&self, job: &str) -> Result<Option<Meta>, RedisError> {
        match self {
            Store::Redis(r) => r.meta(job).await,
            Store::Local(l) => Ok(l.meta(job)),
        }
    }

    pub async fn recent(&self, tenant: &Tenant, limit: usize) -> Result<Vec<Meta>, RedisError> {
        match self {
            Store::Redis(r) => r.recent(tenant.as_str(), limit).await,
            Store::Local(l) => Ok(l.recent(tenant, limit)),
        }
    }

    pub async fn start(&self, job: &str, now: u64) -> Result<(), RedisError> {
        match self {
            Store::Redis(r) => r.start(job, now).await,
            Store::Local(l) => {
                l.start(job, now);
                Ok(())
            }
        }
    }

    pub async fn record(
        &self,
        item: &Item,
        line: Bytes,
        outcome: Outcome,
        now: u64,
        expires_at: u64,
    ) -> Result<Recorded, RedisError> {
        match self {
            Store::Redis(r) => {
                r.record(&item.job, item.index, &line, outcome, now, expires_at)
                    .await
            }
            Store::Local(l) => Ok(l.record(&item.job, item.index, line, outcome, now)),
        }
    }

    pub async fn ack(&self, item: &Item) -> Result<(), RedisError> {
        match self {
            Store::Redis(r) => r.ack(item).await,
            Store::Local(_) => Ok(()),
        }
    }

    pub async fn cancel(&self, job: &str, now: u64) -> Result<bool, RedisError> {
        match self {
            Store::Redis(r) => r.cancel(job, now).await,
            Store::Local(l) => Ok(l.cancel(job, now)),
        }
    }

    pub async fn results(
        &self,
        job: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Option<Bytes>>, RedisError> {
        match self {
            Store::Redis(r) => r.results(job, from, to).await,
            Store::Local(l) => Ok(l.results(job, from, to)),
        }
    }

    pub async fn log_attempt(
        &self,
        job: &str,
        attempt: Bytes,
        expires_at: u64,
    ) -> Result<(), RedisError> {
        match self {
            Store::Redis(r) => r.log_attempt(job, &attempt, expires_at).await,
            Store::Local(l) => {
                l.log_attempt(job, attempt);
                Ok(())
            }
        }
    }

    pub async fn attempts(&self, job: &str) -> Result<Vec<Bytes>, RedisError> {
        match self {
            Store::Redis(r) => r.attempts(job).await,
            Store::Local(l) => Ok(l.attempts(job)),
        }
    }

    pub async fn erase(&self, user: &UserKey) -> Result<(), RedisError> {
        match self {
            Store::Redis(r) => r.erase(user).await,
            Store::Local(l) => {
                l.erase(user);
                Ok(())
            }
        }
    }
}

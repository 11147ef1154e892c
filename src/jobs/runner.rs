//! A replica's workers: take subjects off the queue (`jobs.workers` at once), enrich each as
//! its job's tenant at bulk priority, record its result once, and take over the subjects of a
//! replica that stopped answering (`jobs.claim_idle_ms`).

use std::{sync::Arc, time::Duration};

use futures_util::{StreamExt, stream::FuturesUnordered};
use serde_json::Value;
use tokio::time::Instant;

use super::{
    Jobs,
    model::{Meta, Outcome, now_ms, result_line},
    store::{Item, Recorded},
};
use crate::{
    connectors::ConnectorRegistry,
    domain::{EnrichRequest, EnrichRequestBody, FieldError, Priority},
    enrichment::{EnrichError, Enricher},
};

/// How often an idle runner looks for work.
const POLL: Duration = Duration::from_millis(100);
/// How long a job's description is trusted before it is read again: a cancellation reaches
/// every replica's workers within this.
const META_FRESH: Duration = Duration::from_millis(250);
/// How often the consumers of replicas long gone are looked for.
const TIDY_EVERY: Duration = Duration::from_secs(3600);
/// Tries of a subject whose enrichment failed for a passing reason, and the pause between.
const TRANSIENT_TRIES: usize = 3;
const TRANSIENT_PAUSE: Duration = Duration::from_secs(1);
/// How long a replica that holds no subject may be unheard of before it is forgotten.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// How often the gauges are refreshed.
const GAUGES_EVERY: Duration = Duration::from_secs(1);

/// Why a subject has no profile.
pub enum SubjectError {
    Field(FieldError),
    Enrich(EnrichError),
}

/// How a subject's error reads in its result line (the API's error format).
pub type Describe = fn(SubjectError) -> Value;

/// What workers enrich with.
pub struct Work {
    pub enricher: Enricher,
    pub registry: Arc<ConnectorRegistry>,
    pub describe: Describe,
}

pub struct Runner {
    jobs: Arc<Jobs>,
    work: Arc<Work>,
    /// Job descriptions read lately, with when.
    metas: moka::sync::Cache<String, Arc<Meta>>,
}

impl Runner {
    pub fn new(jobs: Arc<Jobs>, work: Work) -> Runner {
        Runner {
            jobs,
            work: Arc::new(work),
            metas: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(META_FRESH)
                .build(),
        }
    }

    /// Work until shutdown cancels it (subjects in progress are then dropped unrecorded, and
    /// another replica takes them over).
    pub async fn run(self) {
        let this = Arc::new(self);
        let workers = this.jobs.config.workers;
        let claim_every = Duration::from_millis(this.jobs.config.claim_idle_ms / 2).max(POLL);
        let mut running = FuturesUnordered::new();
        let mut last_claim = Instant::now();
        let mut last_gauges: Option<Instant> = None;
        let mut failing = false;
        let mut last_tidy: Option<Instant> = None;
        loop {
            if last_gauges.is_none_or(|at| at.elapsed() >= GAUGES_EVERY) {
                this.refresh_gauges().await;
                last_gauges = Some(Instant::now());
            }
            if last_tidy.is_none_or(|at| at.elapsed() >= TIDY_EVERY) {
                last_tidy = Some(Instant::now());
                if let Ok(n) = this.jobs.forget_gone_consumers(FORGET_AFTER).await
                    && n > 0
                {
                    tracing::info!(consumers = n, "Forgot job consumers of replicas long gone.");
                }
                let _ = this.jobs.store.tidy_active().await;
            }
            let free = workers - running.len();
            let mut fetched = 0;
            if free > 0 {
                // Subjects a stopped replica had taken first, when due; then new ones.
                let mut items = Ok(Vec::new());
                if last_claim.elapsed() >= claim_every {
                    last_claim = Instant::now();
                    items = this.jobs.store.reclaim(free).await;
                }
                if let Ok(taken) = &items
                    && taken.len() < free
                {
                    let more = this.jobs.store.fetch(free - taken.len()).await;
                    items = more.map(|more| {
                        let mut all = items.unwrap_or_default();
                        all.extend(more);
                        all
                    });
                }
                match items {
                    Ok(items) => {
                        failing = false;
                        fetched = items.len();
                        for item in items {
                            let worker = this.clone();
                            let task = this
                                .jobs
                                .tasks
                                .spawn(async move { worker.work_on(item).await });
                            running.push(task);
                        }
                    }
                    Err(err) => {
                        if !failing {
                            tracing::warn!(error = %err, "Could not take job subjects; retrying.");
                        }
                        failing = true;
                    }
                }
            }
            if running.len() >= workers {
                running.next().await;
            } else if fetched == 0 || fetched < free {
                tokio::select! {
                    _ = running.next(), if !running.is_empty() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
        }
    }

    async fn refresh_gauges(&self) {
        let store = &self.jobs.store;
        if let Ok(depth) = store.depth().await {
            self.jobs.metrics.jobs_queue_depth.set(depth as i64);
        }
        if let Ok(active) = store.active().await {
            self.jobs.metrics.jobs_active.set(active as i64);
        }
    }

    /// The job's description, read at most every [`META_FRESH`].
    async fn meta(&self, job: &str) -> Result<Option<Arc<Meta>>, crate::redis_link::RedisError> {
        if let Some(meta) = self.metas.get(job) {
            return Ok(Some(meta));
        }
        let meta = self.jobs.store.meta(job).await?.map(Arc::new);
        if let Some(meta) = &meta {
            self.metas.insert(job.to_owned(), meta.clone());
        }
        Ok(meta)
    }

    /// Enrich and record one subject. A failure to reach the store leaves it pending, for
    /// this replica or another to take over.
    async fn work_on(&self, item: Item) {
        let store = &self.jobs.store;
        let meta = match self.meta(&item.job).await {
            Ok(Some(meta)) => meta,
            Ok(None) => {
                // The job is gone (expired, or its creation failed): nothing to do.
                let _ = store.ack(&item).await;
                return;
            }
            Err(_) => return,
        };
        if !meta.status.is_open() {
            let _ = store.ack(&item).await;
            return;
        }
        if meta.status == super::Status::Queued && store.start(&item.job, now_ms()).await.is_err() {
            return;
        }
        let input = match store.input(&item.job, item.index).await {
            Ok(input) => input,
            Err(_) => return,
        };
        let (line, outcome) = match input {
            Some(input) => self.enrich(&meta, item.index, &input).await,
            // Erased since it was queued: the store records the erased line.
            None => (super::model::erased_line(item.index), Outcome::Failed),
        };
        let expires_at = self.jobs.expires_at(&meta);
        let recorded = match store
            .record(&item, line, outcome, now_ms(), expires_at)
            .await
        {
            Ok(recorded) => recorded,
            Err(err) => {
                tracing::warn!(error = %err, "Could not record a job subject's result; it will be taken over.");
                return;
            }
        };
        let _ = store.ack(&item).await;
        if recorded != Recorded::Not {
            self.jobs.count(outcome, 1);
        }
        if recorded == Recorded::Completed {
            self.jobs.notify(&item.job);
        }
    }

    /// One subject's result line and outcome.
    async fn enrich(&self, meta: &Meta, index: u64, input: &[u8]) -> (bytes::Bytes, Outcome) {
        let describe = self.work.describe;
        let body: EnrichRequestBody = match serde_json::from_slice(input) {
            Ok(body) => body,
            Err(err) => {
                let error = describe(SubjectError::Field(FieldError::new(
                    "body",
                    err.to_string(),
                )));
                return (result_line(index, None, Err(&error)), Outcome::Failed);
            }
        };
        let user_id = body.user_id.clone();
        let snapshot = self.work.registry.snapshot();
        let parsed = EnrichRequest::parse(body, &|name| snapshot.contains(name));
        let mut request = match parsed {
            Ok(request) => request,
            Err(err) => {
                let error = describe(SubjectError::Field(err));
                return (
                    result_line(index, Some(&user_id), Err(&error)),
                    Outcome::Failed,
                );
            }
        };
        request.tenant = meta.tenant.clone();
        request.priority = Priority::Bulk;
        request.refresh |= meta.refresh;
        if meta.connectors.is_some() {
            request.connectors.clone_from(&meta.connectors);
        }
        let mut answer = self.work.enricher.enrich(request.clone()).await;
        for _ in 1..TRANSIENT_TRIES {
            // The suppression list not loaded yet (a replica starting), an identical
            // enrichment that did not finish in time: worth another try, not a failure.
            if !matches!(
                answer,
                Err(EnrichError::SuppressionsUnknown | EnrichError::DeadlineExceeded)
            ) {
                break;
            }
            tokio::time::sleep(TRANSIENT_PAUSE).await;
            answer = self.work.enricher.enrich(request.clone()).await;
        }
        match answer {
            Ok(answer) => {
                let outcome = if is_partial(&answer.body) {
                    Outcome::Partial
                } else {
                    Outcome::Ok
                };
                (
                    result_line(index, Some(&user_id), Ok(&answer.body)),
                    outcome,
                )
            }
            Err(err) => {
                let outcome = match err {
                    EnrichError::SubjectSuppressed => Outcome::Suppressed,
                    _ => Outcome::Failed,
                };
                let error = describe(SubjectError::Enrich(err));
                // A suppressed subject's line does not name it either.
                let named = (outcome != Outcome::Suppressed).then_some(user_id.as_str());
                (result_line(index, named, Err(&error)), outcome)
            }
        }
    }
}

/// Whether a profile says some of its sources failed.
fn is_partial(profile: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Partial {
        #[serde(default)]
        partial: bool,
    }
    serde_json::from_slice::<Partial>(profile).is_ok_and(|p| p.partial)
}

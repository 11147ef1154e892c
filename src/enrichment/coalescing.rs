//! Coalescing: identical enrichments in flight share one fan-out. A flight is driven by its
//! callers and held only weakly by the registry, so it goes (and unregisters itself) when its
//! callers do; a finished flight stays registered until its writes are done.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared, WeakShared},
};

use super::{Built, EnrichError, Enricher, Inner, Job};

/// One enrichment in flight, shared by every identical request that arrives meanwhile.
pub(super) type Flight = Shared<BoxFuture<'static, Result<Arc<Built>, EnrichError>>>;

/// A flight as the registry holds it: it does not keep the flight alive.
pub(super) type WeakFlight = WeakShared<BoxFuture<'static, Result<Arc<Built>, EnrichError>>>;

impl Enricher {
    /// Identical enrichments in flight share one fan-out; joiners are counted.
    ///
    /// The callers drive the shared flight; the registry holds it only weakly. When every
    /// caller is gone (a client that disconnects drops its request), the flight is dropped
    /// with them and unregisters itself: nothing is left for a later caller to join, with a
    /// deadline long past (Apollo Router's deduplication works the same way). A finished
    /// flight stays registered until its writes are done, so that a request arriving
    /// meanwhile gets its result instead of fanning out again.
    pub(super) async fn coalesced(&self, job: Job) -> Result<Arc<Built>, EnrichError> {
        let key = flight_key(&job);
        let deadline = job.deadline;
        let (flight, joined) = {
            let mut flights = self.inner.flights.lock().unwrap_or_else(|p| p.into_inner());
            match flights.get(&key).and_then(WeakShared::upgrade) {
                Some(flight) => (flight, true),
                None => {
                    let flight = self.flight(key.clone(), job);
                    if let Some(weak) = flight.downgrade() {
                        flights.insert(key, weak);
                    }
                    (flight, false)
                }
            }
        };
        if !joined {
            return flight.await;
        }
        self.inner.metrics.coalesced.inc();
        // A joiner waits no longer than its own deadline (plus the time to merge).
        tokio::time::timeout_at(deadline + Duration::from_millis(50), flight)
            .await
            .unwrap_or(Err(EnrichError::DeadlineExceeded))
    }

    /// The flight to register under `key`: produce the answer, then hand the writes to a task
    /// that keeps the finished flight (and its registration) until they are done. Dropped
    /// before that, it unregisters itself.
    fn flight(&self, key: String, job: Job) -> Flight {
        let inner = self.inner.clone();
        // The flight's own handle, weak (a strong one inside would keep it alive forever),
        // for the write task to hold once the flight is done.
        let itself: Arc<OnceLock<WeakFlight>> = Arc::default();
        let handle = itself.clone();
        let flight = async move {
            let registered = Registered {
                inner: inner.clone(),
                key,
            };
            let user = job.user.clone();
            let (result, writes) = inner.produce(job).await;
            if let Some(writes) = writes {
                let written = inner.writes.write_behind(&user, writes);
                let finished = handle.get().and_then(WeakShared::upgrade);
                let this = inner.clone();
                inner.tasks.spawn(async move {
                    let _keep = (finished, registered);
                    written.clone().await;
                    this.writes.writes_done(&user, &written);
                });
            }
            result
        }
        .boxed()
        .shared();
        if let Some(weak) = flight.downgrade() {
            let _ = itself.set(weak);
        }
        flight
    }
}

/// A flight's registration, removed when the flight (or its write task) is dropped, however
/// it ends.
struct Registered {
    inner: Arc<Inner>,
    key: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.inner
            .flights
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

/// Identical enrichments: same user, same identifiers, same connector set, and both reusing
/// cached per-source answers or both not (a refresh never gets an answer built from them).
fn flight_key(job: &Job) -> String {
    let subject = serde_json::to_string(&job.subject).unwrap_or_default();
    format!(
        "{}|{subject}|{:?}|{}|{}|{}|{:?}",
        job.user, job.connectors, job.shared, job.reuse_sources, job.rebuild, job.max_cost
    )
}

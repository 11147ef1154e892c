//! Working beside other replicas: the user's Redis lock held while this replica fans out, and
//! waiting for the profile of the replica that holds it.

use std::{sync::Arc, time::SystemTime};

use tokio::time::Instant;

use super::{Built, Inner, Job, remembered::covers};
use crate::domain::UserKey;

/// The user's Redis lock while this replica fans out for them. The writes that follow the
/// answer release it; if the work is dropped before (every caller gone), a task of its own
/// does, so that other replicas need not wait for it to expire.
pub(super) struct UserLock {
    pub(super) inner: Arc<Inner>,
    pub(super) user: UserKey,
    pub(super) token: Option<String>,
}

impl UserLock {
    /// The token, for the writes to release the lock with.
    pub(super) fn hand_over(mut self) -> Option<String> {
        self.token.take()
    }
}

impl Drop for UserLock {
    fn drop(&mut self) {
        let Some(token) = self.token.take() else {
            return;
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return; // The runtime is gone: the lock expires on its own.
        }
        let cache = self.inner.cache.clone();
        let user = self.user.clone();
        self.inner.tasks.spawn(async move {
            cache.release(&user, &token).await;
        });
    }
}

impl Inner {
    /// Another replica holds the user's lock: wait (at most half our time) for its profile,
    /// woken by its announcement (the event its writes publish, asked for before looking).
    pub(super) async fn wait_for_other_replica(&self, job: &Job) -> Option<Arc<Built>> {
        let now = Instant::now();
        let wait = job.deadline.saturating_duration_since(now) / 2;
        let until = now + wait;
        let arrival = self.arrivals.hold(job.user.as_str());
        // Announced also when it is the user's first profile: said before the first look.
        self.cache.await_profile(&job.user, wait).await;
        loop {
            // Registered before looking, so that an announcement in between is not missed.
            let announced = arrival.notified();
            tokio::pin!(announced);
            announced.as_mut().enable();
            if let Some(built) = self.profile_of_other_replica(job).await {
                return Some(built);
            }
            if tokio::time::timeout_at(until, announced).await.is_err() {
                // One last look: the announcement may have been lost with a Redis hiccup.
                return self.profile_of_other_replica(job).await;
            }
        }
    }

    /// The profile another replica stored for this job's subject, if it is there and fresh.
    async fn profile_of_other_replica(&self, job: &Job) -> Option<Arc<Built>> {
        let cached = self.cache.lookup(&job.user).await?;
        let usable =
            cached.is_fresh(SystemTime::now()) && covers(cached.subject().as_ref(), &job.subject);
        usable.then(|| {
            self.metrics.coalesced.inc();
            Arc::new(Built {
                body: cached.body,
                timing: String::new(),
                // Paid by the other replica's request.
                cost: 0.0,
            })
        })
    }
}

//! Ownership of every background task: each one is spawned through [`Tasks`], which shutdown
//! cancels and then waits for (mini-redis' pattern, built on tokio-util's `TaskTracker` and
//! `CancellationToken`). A detached `tokio::spawn` would be a task nobody can stop or wait for.
//!
//! Tasks run on the runtime that spawns them: a request's connector calls on the HTTP worker
//! serving it, which keeps a miss on one thread (a runtime of their own was measured: every
//! call then crosses threads, and the miss path's latency under load grew by milliseconds).
//! What could hold a worker — taking a large answer apart — runs on the blocking pool instead
//! (`enrichd_sdk::http::UpstreamResponse::process`).

use std::{future::Future, time::Duration};

use tokio::task::JoinHandle;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The background tasks of one application. Cheap to clone.
#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    cancel: CancellationToken,
}

impl Tasks {
    pub fn new() -> Tasks {
        Tasks::default()
    }

    /// Run `task` on the current runtime until it ends or shutdown cancels it (then it is
    /// dropped where it stands, and the handle yields `None`).
    pub fn spawn<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        // Boxed: a request's tasks are futures of several KiB, which the wrappers and the
        // runtime would otherwise copy each time they move them (`memmove` took 7.5% of a
        // miss's CPU, 5.5% with this, measured with `perf`).
        self.tracker
            .spawn(until_cancelled(self.cancel.clone(), Box::pin(task)))
    }

    /// Whether shutdown has begun.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Cancel every task and wait (at most `grace`) until all have let go; returns whether
    /// they all did.
    pub async fn shutdown(&self, grace: Duration) -> bool {
        self.cancel.cancel();
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }

    /// Tasks not finished yet (for tests).
    pub fn running(&self) -> usize {
        self.tracker.len()
    }
}

/// `task`, unless `cancel` fires first.
async fn until_cancelled<F: Future>(cancel: CancellationToken, task: F) -> Option<F::Output> {
    tokio::select! {
        // Checked first: once shutdown began, a task that is ready anyway is not resumed.
        biased;
        () = cancel.cancelled() => None,
        output = task => Some(output),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    };

    use super::*;

    struct SetOnDrop(Arc<AtomicBool>);

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn shutdown_cancels_every_task_and_waits_for_them() {
        let tasks = Tasks::new();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let forever = tasks.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let other = tasks.spawn(async { std::future::pending::<u8>().await });
        let done = tasks.spawn(async { 7 });
        assert_eq!(done.await.unwrap(), Some(7));
        assert_eq!(tasks.running(), 2);
        assert!(!tasks.is_cancelled());

        assert!(tasks.shutdown(Duration::from_secs(5)).await);

        assert!(dropped.load(Ordering::SeqCst), "the task was dropped");
        assert_eq!(forever.await.unwrap(), None);
        assert_eq!(other.await.unwrap(), None);
        assert_eq!(tasks.running(), 0);
        assert!(tasks.is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_gives_up_waiting_after_the_grace() {
        let tasks = Tasks::new();
        let stubborn = tasks.tracker.spawn(std::future::pending::<()>());
        assert!(!tasks.shutdown(Duration::from_secs(1)).await);
        stubborn.abort();
    }
}

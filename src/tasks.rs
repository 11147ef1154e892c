//! Ownership of every background task: each one is spawned through [`Tasks`], which shutdown
//! cancels and then waits for (mini-redis' pattern, built on tokio-util's `TaskTracker` and
//! `CancellationToken`). A detached `tokio::spawn` would be a task nobody can stop or wait for.
//!
//! Connector calls run on a runtime of their own, beside the HTTP workers: an upstream answer
//! that is expensive to take apart (a megabyte of JSON to parse and map) then occupies a
//! connector thread, never a worker that `/healthz` and cache hits need, and the request's
//! deadline (a timer on the worker) still fires on time.

use std::{future::Future, sync::Arc, time::Duration};

use tokio::{
    runtime::{Handle, Runtime},
    task::JoinHandle,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The background tasks of one application. Cheap to clone.
#[derive(Clone)]
pub struct Tasks {
    tracker: TaskTracker,
    cancel: CancellationToken,
    connectors: Arc<ConnectorRuntime>,
}

/// The runtime connector calls run on. Shut down without blocking when the last handle goes,
/// so that dropping it inside async code (a test's runtime ending) is safe.
struct ConnectorRuntime(Option<Runtime>);

impl ConnectorRuntime {
    fn handle(&self) -> &Handle {
        self.0
            .as_ref()
            .expect("the runtime lives until dropped")
            .handle()
    }
}

impl Drop for ConnectorRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl Tasks {
    /// Start the connector runtime (`threads` workers, at least one).
    pub fn new(threads: usize) -> std::io::Result<Tasks> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("enrichd-connectors")
            .enable_all()
            .build()?;
        Ok(Tasks {
            tracker: TaskTracker::new(),
            cancel: CancellationToken::new(),
            connectors: Arc::new(ConnectorRuntime(Some(runtime))),
        })
    }

    /// Run `task` on the current runtime until it ends or shutdown cancels it (then it is
    /// dropped where it stands, and the handle yields `None`).
    pub fn spawn<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker
            .spawn(until_cancelled(self.cancel.clone(), task))
    }

    /// Run a connector call on the connector runtime, owned like [`spawn`](Self::spawn).
    pub fn spawn_call<F>(&self, task: F) -> JoinHandle<Option<F::Output>>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn_on(
            until_cancelled(self.cancel.clone(), task),
            self.connectors.handle(),
        )
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
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    struct SetOnDrop(Arc<AtomicBool>);

    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn shutdown_cancels_every_task_and_waits_for_them() {
        let tasks = Tasks::new(1).unwrap();
        let dropped = Arc::new(AtomicBool::new(false));
        let guard = SetOnDrop(dropped.clone());
        let forever = tasks.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
        let call = tasks.spawn_call(async { std::future::pending::<u8>().await });
        let done = tasks.spawn(async { 7 });
        assert_eq!(done.await.unwrap(), Some(7));
        assert_eq!(tasks.running(), 2);

        assert!(tasks.shutdown(Duration::from_secs(5)).await);

        assert!(dropped.load(Ordering::SeqCst), "the task was dropped");
        assert_eq!(forever.await.unwrap(), None);
        assert_eq!(call.await.unwrap(), None);
        assert_eq!(tasks.running(), 0);
        assert!(tasks.is_cancelled());
    }

    #[tokio::test]
    async fn connector_calls_run_off_the_calling_thread() {
        let tasks = Tasks::new(1).unwrap();
        let here = std::thread::current().id();
        let there = tasks
            .spawn_call(async { std::thread::current().id() })
            .await
            .unwrap()
            .unwrap();
        assert_ne!(here, there);
    }
}

//! Write ordering: per user, the writes that follow answers run one after another (so that an
//! older profile never lands after a newer one), and stay registered until done, so that new
//! work about the user waits for them (they hold the user's Redis lock) and shutdown can wait
//! for them all.

use std::{collections::HashMap, sync::Mutex};

use futures_util::{
    FutureExt,
    future::{BoxFuture, Shared},
};

use crate::domain::UserKey;

/// Writes under way for a user, awaitable by several.
pub type Written = Shared<BoxFuture<'static, ()>>;

/// The writes under way, per user.
#[derive(Default)]
pub struct WriteOrder {
    writing: Mutex<HashMap<String, Written>>,
}

impl WriteOrder {
    fn writing(&self) -> std::sync::MutexGuard<'_, HashMap<String, Written>> {
        self.writing.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue the writes of a user's enrichment behind any still running for that user (so an
    /// older profile never lands after a newer one) and register them until they are done.
    pub fn write_behind(&self, user: &UserKey, writes: BoxFuture<'static, ()>) -> Written {
        let mut writing = self.writing();
        let queued = match writing.get(user.as_str()) {
            Some(before) => {
                let before = before.clone();
                async move {
                    before.await;
                    writes.await;
                }
                .boxed()
                .shared()
            }
            None => writes.shared(),
        };
        writing.insert(user.as_str().to_owned(), queued.clone());
        queued
    }

    /// Wait for the writes under way for a user, if any.
    pub async fn writes_of(&self, user: &UserKey) {
        let pending = self.writing().get(user.as_str()).cloned();
        if let Some(pending) = pending {
            pending.await;
        }
    }

    /// Forget finished writes (unless newer ones were queued behind them meanwhile).
    pub fn writes_done(&self, user: &UserKey, written: &Written) {
        let mut writing = self.writing();
        if writing
            .get(user.as_str())
            .is_some_and(|current| current.ptr_eq(written))
        {
            writing.remove(user.as_str());
        }
    }

    /// Every write under way now (shutdown waits for them).
    pub fn pending(&self) -> Vec<Written> {
        self.writing().values().cloned().collect()
    }
}

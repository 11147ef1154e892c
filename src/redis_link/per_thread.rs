//! A single Redis through one connection per thread that sends it commands, so that a command
//! and the task driving its connection run on the same runtime and no command wakes another
//! thread (actix runs one worker per core, each on its own runtime; the redis crate drives a
//! connection on the runtime that first uses it). A link used from N threads holds at most N
//! connections, each dropped with its thread or, on that thread's next connection, once the
//! link is gone.

use std::{
    cell::RefCell,
    sync::{Arc, Weak},
};

use redis::{
    Client,
    aio::{ConnectionManager, ConnectionManagerConfig},
};
use tokio::runtime::{Handle, Id};

use super::RedisError;

/// How to open a lazily connected, self-reconnecting connection on each thread that needs one.
pub(super) struct PerThread {
    client: Client,
    config: ConnectionManagerConfig,
    /// Alive while the link is: the link's identity in each thread's list.
    alive: Arc<()>,
}

/// One thread's connection of one link, opened on one runtime.
struct ThreadConnection {
    link: Weak<()>,
    runtime: Id,
    connection: ConnectionManager,
}

thread_local! {
    /// This thread's connections, one per link at most.
    static CONNECTIONS: RefCell<Vec<ThreadConnection>> = const { RefCell::new(Vec::new()) };
}

impl PerThread {
    /// Nothing is opened here, on this thread or any other.
    pub(super) fn new(client: Client, config: ConnectionManagerConfig) -> PerThread {
        PerThread {
            client,
            config,
            alive: Arc::new(()),
        }
    }

    /// This thread's connection, opened (lazily: connecting happens on its first command) when
    /// the thread has none for this link or has it from a runtime that has since been replaced.
    /// Must be called within a Tokio runtime.
    pub(super) fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let runtime = Handle::current().id();
        CONNECTIONS.with_borrow_mut(|connections| {
            let this_link = |held: &ThreadConnection| {
                std::ptr::eq(held.link.as_ptr(), Arc::as_ptr(&self.alive))
            };
            if let Some(held) = connections.iter().find(|held| this_link(held))
                && held.runtime == runtime
            {
                return Ok(held.connection.clone());
            }
            connections.retain(|held| held.link.strong_count() > 0 && !this_link(held));
            let connection =
                ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone())?;
            connections.push(ThreadConnection {
                link: Arc::downgrade(&self.alive),
                runtime,
                connection: connection.clone(),
            });
            Ok(connection)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_thread() -> PerThread {
        // Nothing connects until a command is sent, so no server is needed here.
        let client = Client::open("redis://127.0.0.1:1/").unwrap();
        PerThread::new(client, ConnectionManagerConfig::new())
    }

    fn held() -> usize {
        CONNECTIONS.with_borrow(Vec::len)
    }

    #[test]
    fn a_thread_keeps_one_connection_per_link_and_drops_those_of_links_that_are_gone() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let before = held();
            let first = per_thread();
            first.connection().unwrap();
            first.connection().unwrap();
            assert_eq!(held(), before + 1);
            let second = per_thread();
            second.connection().unwrap();
            assert_eq!(held(), before + 2);
            drop(first);
            let third = per_thread();
            third.connection().unwrap();
            assert_eq!(
                held(),
                before + 2,
                "the connection of the dropped link is released"
            );
        });
    }

    #[test]
    fn a_new_runtime_on_the_same_thread_gets_a_new_connection_in_place_of_the_old() {
        let link = per_thread();
        let before = held();
        for _ in 0..3 {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let runtime_id = runtime.handle().id();
            runtime.block_on(async { link.connection().unwrap() });
            assert_eq!(held(), before + 1);
            let held_runtime =
                CONNECTIONS.with_borrow(|connections| connections.last().unwrap().runtime);
            assert_eq!(held_runtime, runtime_id);
        }
    }
}

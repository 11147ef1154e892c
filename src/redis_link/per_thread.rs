//! A single Redis through one connection per thread that sends it commands
//! ([`crate::per_thread`]): the redis crate drives a connection on the runtime that first uses
//! it, so a command and the task driving its connection run on the same runtime and no command
//! wakes another thread.

use redis::{
    Client,
    aio::{ConnectionManager, ConnectionManagerConfig},
};

use super::RedisError;
use crate::per_thread::PerThread;

/// How to open a lazily connected, self-reconnecting connection on each thread that needs one.
pub(super) struct PerThreadConnection {
    client: Client,
    config: ConnectionManagerConfig,
    connections: PerThread<ConnectionManager>,
}

impl PerThreadConnection {
    /// Nothing is opened here, on this thread or any other.
    pub(super) fn new(client: Client, config: ConnectionManagerConfig) -> PerThreadConnection {
        PerThreadConnection {
            client,
            config,
            connections: PerThread::new(),
        }
    }

    /// This thread's connection, opened (lazily: connecting happens on its first command) when
    /// the thread has none for this link or has it from a runtime that has since been replaced.
    /// Must be called within a Tokio runtime.
    pub(super) fn connection(&self) -> Result<ConnectionManager, RedisError> {
        let open =
            || ConnectionManager::new_lazy_with_config(self.client.clone(), self.config.clone());
        let connection = self
            .connections
            .get_or_make(open)
            .expect("Redis commands are sent from within a Tokio runtime")?;
        Ok(connection)
    }
}

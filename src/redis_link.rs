//! The one connection to Redis that the whole process shares: a lazily connected,
//! self-reconnecting, multiplexed `ConnectionManager`, with every command bounded in time.
//!
//! A Redis that is down at start-up or restarts later needs no action: the manager reconnects
//! on the next command after a failure. Commands in the meantime fail fast (or at the bound),
//! and callers treat that as "Redis unavailable", never as a failed request.

use std::time::Duration;

use redis::{Client, aio::ConnectionManager, aio::ConnectionManagerConfig};

/// A Redis failure, already bounded in time.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    #[error("Redis answered something unexpected: {0}")]
    Parse(#[from] redis::ParsingError),
}

/// A shared, cheap-to-clone handle on Redis.
#[derive(Clone)]
pub struct RedisLink {
    client: Client,
    connection: ConnectionManager,
    timeout: Duration,
}

impl RedisLink {
    /// Prepare the connection to `url` (no network I/O happens here).
    pub fn open(url: &str, timeout: Duration) -> Result<RedisLink, RedisError> {
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(500))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        Ok(RedisLink {
            client,
            connection,
            timeout,
        })
    }

    /// Run one command (or pipeline) on the shared connection, bounded by the timeout.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: &impl RunnableCommand,
    ) -> Result<T, RedisError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, command.run(&mut connection)).await {
            Ok(value) => Ok(redis::from_redis_value(value?)?),
            Err(_) => Err(RedisError::Timeout(self.timeout)),
        }
    }

    /// Run a Lua script, bounded by the timeout.
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        let mut connection = self.connection.clone();
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection)).await {
            Ok(value) => Ok(value?),
            Err(_) => Err(RedisError::Timeout(self.timeout)),
        }
    }

    /// A dedicated connection for subscribing (pub/sub cannot share the multiplexed one).
    pub async fn subscriber(&self) -> Result<redis::aio::PubSub, RedisError> {
        match tokio::time::timeout(
            self.timeout.max(Duration::from_secs(1)),
            self.client.get_async_pubsub(),
        )
        .await
        {
            Ok(pubsub) => Ok(pubsub?),
            Err(_) => Err(RedisError::Timeout(self.timeout)),
        }
    }
}

/// A command or a pipeline.
pub trait RunnableCommand: Sync {
    fn run<'a>(
        &'a self,
        connection: &'a mut ConnectionManager,
    ) -> impl Future<Output = redis::RedisResult<redis::Value>> + Send + 'a;
}

impl RunnableCommand for redis::Cmd {
    fn run<'a>(
        &'a self,
        connection: &'a mut ConnectionManager,
    ) -> impl Future<Output = redis::RedisResult<redis::Value>> + Send + 'a {
        self.query_async(connection)
    }
}

impl RunnableCommand for redis::Pipeline {
    fn run<'a>(
        &'a self,
        connection: &'a mut ConnectionManager,
    ) -> impl Future<Output = redis::RedisResult<redis::Value>> + Send + 'a {
        self.query_async(connection)
    }
}

//! The one connection to Redis that the whole process shares — a single Redis through a
//! lazily connected, self-reconnecting, multiplexed `ConnectionManager`, or a Redis Cluster
//! through the redis crate's async cluster connection — with every command bounded in time.
//!
//! A Redis that is down at start-up or restarts later needs no action: the connection is
//! (re-)established on a later command. Commands in the meantime fail fast (or at the bound),
//! and callers treat that as "Redis unavailable", never as a failed request.
//!
//! Every multi-key command enrichd sends concerns one user's keys, which share a hash tag and
//! so a cluster slot. Pub/sub works on any node of a cluster (messages are broadcast to all),
//! so the subscriber connects to the first node that answers.

use std::{sync::Arc, time::Duration};

use redis::{
    Client, Cmd, Pipeline, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
};
use tokio::sync::OnceCell;

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

#[derive(Clone)]
enum Backend {
    Single(ConnectionManager),
    Cluster {
        client: Box<ClusterClient>,
        /// Established on first use, so that a cluster down at start-up is not fatal.
        connection: Arc<OnceCell<ClusterConnection>>,
    },
}

/// A shared, cheap-to-clone handle on Redis (or Redis Cluster).
#[derive(Clone)]
pub struct RedisLink {
    backend: Backend,
    /// Clients of the nodes a subscriber may connect to (one for a single Redis).
    subscribe_to: Vec<Client>,
    timeout: Duration,
}

/// The connection a command runs on.
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

impl RedisLink {
    /// Prepare the connection to a single Redis at `url` (no network I/O happens here).
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
            backend: Backend::Single(connection),
            subscribe_to: vec![client],
            timeout,
        })
    }

    /// Prepare the connection to a Redis Cluster seeded by `nodes` (no network I/O here).
    pub fn open_cluster(nodes: &[&str], timeout: Duration) -> Result<RedisLink, RedisError> {
        let client = ClusterClient::builder(nodes.iter().copied())
            .connection_timeout(timeout.max(Duration::from_millis(500)))
            .response_timeout(timeout)
            .retries(2)
            .build()?;
        let subscribe_to = nodes
            .iter()
            .map(|node| Client::open(*node))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RedisLink {
            backend: Backend::Cluster {
                client: Box::new(client),
                connection: Arc::new(OnceCell::new()),
            },
            subscribe_to,
            timeout,
        })
    }

    async fn connection(&self) -> Result<Conn, RedisError> {
        match &self.backend {
            Backend::Single(manager) => Ok(Conn::Single(manager.clone())),
            Backend::Cluster { client, connection } => {
                let established = connection
                    .get_or_try_init(|| async {
                        match tokio::time::timeout(
                            self.timeout.max(Duration::from_secs(1)),
                            client.get_async_connection(),
                        )
                        .await
                        {
                            Ok(result) => result.map_err(RedisError::from),
                            Err(_) => Err(RedisError::Timeout(self.timeout)),
                        }
                    })
                    .await?;
                Ok(Conn::Cluster(established.clone()))
            }
        }
    }

    /// Run one command (or pipeline) on the shared connection, bounded by the timeout.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: &impl RunnableCommand,
    ) -> Result<T, RedisError> {
        let mut connection = self.connection().await?;
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
        let mut connection = self.connection().await?;
        match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection)).await {
            Ok(value) => Ok(value?),
            Err(_) => Err(RedisError::Timeout(self.timeout)),
        }
    }

    /// A dedicated connection for subscribing (pub/sub cannot share the multiplexed one): the
    /// first node that answers.
    pub async fn subscriber(&self) -> Result<redis::aio::PubSub, RedisError> {
        let mut last = RedisError::Timeout(self.timeout);
        for client in &self.subscribe_to {
            match tokio::time::timeout(
                self.timeout.max(Duration::from_secs(1)),
                client.get_async_pubsub(),
            )
            .await
            {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(err)) => last = err.into(),
                Err(_) => last = RedisError::Timeout(self.timeout),
            }
        }
        Err(last)
    }
}

/// A command or a pipeline.
pub trait RunnableCommand: Sync {
    fn run<'a>(
        &'a self,
        connection: &'a mut (impl ConnectionLike + Send),
    ) -> impl Future<Output = redis::RedisResult<Value>> + Send + 'a;
}

impl RunnableCommand for Cmd {
    fn run<'a>(
        &'a self,
        connection: &'a mut (impl ConnectionLike + Send),
    ) -> impl Future<Output = redis::RedisResult<Value>> + Send + 'a {
        self.query_async(connection)
    }
}

impl RunnableCommand for Pipeline {
    fn run<'a>(
        &'a self,
        connection: &'a mut (impl ConnectionLike + Send),
    ) -> impl Future<Output = redis::RedisResult<Value>> + Send + 'a {
        self.query_async(connection)
    }
}

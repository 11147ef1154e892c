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
//!
//! While Redis is failing, requests do not wait on it: after a command fails for want of
//! Redis (no connection, no answer in time), every command fails at once
//! ([`RedisError::Unavailable`]) for a back-off — 250 ms, doubling up to 4 s while failures go
//! on — after which one command is let through as a probe; its success ends the outage.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, SystemTime},
};

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
    #[error("Redis is failing; not asked until the next probe")]
    Unavailable,
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
    outage: Arc<Outage>,
}

/// The first back-off after Redis failed, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_BACKOFF: Duration = Duration::from_secs(4);

/// Whether Redis is failing, shared by every clone of a link.
#[derive(Debug, Default)]
struct Outage {
    /// Unix ms until which commands fail at once; 0 while Redis answers.
    until_ms: AtomicU64,
    /// The back-off to use at the next failure, in ms (0: the first).
    backoff_ms: AtomicU64,
    /// Whether the one probe of an outage is out.
    probing: AtomicBool,
}

/// What a command may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// Redis answers: go ahead.
    Go,
    /// The one command of an outage that tries Redis again.
    Probe,
    /// Redis is failing: do not wait on it.
    Refuse,
}

impl Outage {
    fn pass(&self, now_ms: u64) -> Pass {
        let until = self.until_ms.load(Ordering::Acquire);
        if until == 0 {
            return Pass::Go;
        }
        if now_ms < until {
            return Pass::Refuse;
        }
        match self
            .probing
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => Pass::Probe,
            Err(_) => Pass::Refuse,
        }
    }

    /// Redis answered (even with an error of its own): the outage, if any, is over.
    fn answered(&self) {
        if self.until_ms.load(Ordering::Acquire) != 0 {
            self.until_ms.store(0, Ordering::Release);
            self.backoff_ms.store(0, Ordering::Release);
            tracing::info!("Redis answers again.");
        }
        self.probing.store(false, Ordering::Release);
    }

    /// Redis could not be reached: refuse commands for the next back-off.
    fn failed(&self, now_ms: u64) {
        let first = millis(FIRST_BACKOFF);
        let backoff = self.backoff_ms.load(Ordering::Acquire).max(first);
        if self.until_ms.swap(now_ms + backoff, Ordering::AcqRel) == 0 {
            tracing::warn!(
                backoff_ms = backoff,
                "Redis is failing; requests stop waiting on it until a probe succeeds."
            );
        }
        self.backoff_ms.store(
            (backoff * 2).min(millis(LONGEST_BACKOFF)),
            Ordering::Release,
        );
        self.probing.store(false, Ordering::Release);
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn now_ms() -> u64 {
    crate::cache::unix_ms(SystemTime::now())
}

impl RedisError {
    /// Whether the failure says Redis could not be reached (rather than Redis answering with
    /// an error of its own).
    fn is_unreachable(&self) -> bool {
        match self {
            RedisError::Timeout(_) | RedisError::Unavailable => true,
            RedisError::Command(err) => {
                err.is_io_error()
                    || err.is_connection_refusal()
                    || err.is_connection_dropped()
                    || err.is_timeout()
                    || err.is_unrecoverable_error()
            }
            RedisError::Parse(_) => false,
        }
    }
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
            outage: Arc::default(),
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
            outage: Arc::default(),
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

    /// Run one command (or pipeline) on the shared connection, bounded by the timeout; at once
    /// [`RedisError::Unavailable`] while Redis is failing.
    pub async fn run<T: redis::FromRedisValue>(
        &self,
        command: &impl RunnableCommand,
    ) -> Result<T, RedisError> {
        self.guarded(async {
            let mut connection = self.connection().await?;
            match tokio::time::timeout(self.timeout, command.run(&mut connection)).await {
                Ok(value) => Ok(redis::from_redis_value(value?)?),
                Err(_) => Err(RedisError::Timeout(self.timeout)),
            }
        })
        .await
    }

    /// Run a Lua script, bounded by the timeout; at once [`RedisError::Unavailable`] while
    /// Redis is failing.
    pub async fn script<T: redis::FromRedisValue>(
        &self,
        invocation: redis::ScriptInvocation<'_>,
    ) -> Result<T, RedisError> {
        self.guarded(async {
            let mut connection = self.connection().await?;
            match tokio::time::timeout(self.timeout, invocation.invoke_async(&mut connection)).await
            {
                Ok(value) => Ok(value?),
                Err(_) => Err(RedisError::Timeout(self.timeout)),
            }
        })
        .await
    }

    /// `command`, unless Redis is failing; its outcome tells whether Redis is.
    async fn guarded<T>(
        &self,
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RedisError> {
        if self.outage.pass(now_ms()) == Pass::Refuse {
            return Err(RedisError::Unavailable);
        }
        let result = command.await;
        match &result {
            Err(err) if err.is_unreachable() => self.outage.failed(now_ms()),
            _ => self.outage.answered(),
        }
        result
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_a_failure_commands_are_refused_until_one_probe_succeeds() {
        let outage = Outage::default();
        assert_eq!(outage.pass(1_000), Pass::Go);

        outage.failed(1_000);
        assert_eq!(outage.pass(1_100), Pass::Refuse, "within the back-off");
        assert_eq!(outage.pass(1_250), Pass::Probe, "one probe after it");
        assert_eq!(outage.pass(1_251), Pass::Refuse, "only one");
        outage.answered();
        assert_eq!(outage.pass(1_252), Pass::Go);
    }

    #[test]
    fn the_back_off_doubles_while_probes_fail_up_to_a_bound() {
        let outage = Outage::default();
        let mut now = 0;
        let mut waits = Vec::new();
        for _ in 0..8 {
            outage.failed(now);
            let until = outage.until_ms.load(Ordering::Acquire);
            waits.push(until - now);
            now = until;
            assert_eq!(outage.pass(now), Pass::Probe);
        }
        assert_eq!(waits, [250, 500, 1000, 2000, 4000, 4000, 4000, 4000]);
        outage.answered();
        outage.failed(now);
        assert_eq!(outage.until_ms.load(Ordering::Acquire) - now, 250, "reset");
    }

    #[test]
    fn only_unreachability_counts_as_an_outage() {
        assert!(RedisError::Timeout(Duration::from_millis(1)).is_unreachable());
        let answered = redis::RedisError::from((redis::ErrorKind::Client, "WRONGTYPE"));
        assert!(!RedisError::Command(answered).is_unreachable());
        let io =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(RedisError::Command(io).is_unreachable());
    }
}

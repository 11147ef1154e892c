//! The process's link to Redis, with every command bounded in time: a single Redis through a
//! lazily connected, self-reconnecting, multiplexed `ConnectionManager` per thread that sends
//! it commands (see [`per_thread`]); a Redis Cluster through the redis crate's async cluster
//! connection; or the master that Redis Sentinel names, asked again after a failover.
//!
//! `rediss://` URLs speak TLS (rustls): the system's roots by default, or the CA of
//! `cache.tls.ca_file`, with a client certificate when `cache.tls.cert_file`/`key_file` are
//! given (see [`TlsFiles`]). ACL users and passwords come in the URLs, which are secrets.
//!
//! A Redis that is down at start-up or restarts later needs no action: the connection is
//! (re-)established on a later command. Commands in the meantime fail fast (or at the bound),
//! and callers treat that as "Redis unavailable", never as a failed request. While Redis is
//! failing, requests do not wait on it at all (see [`outage`]).
//!
//! Every multi-key command enrichd sends concerns one user's keys, which share a hash tag and
//! so a cluster slot. Pub/sub works on any node of a cluster (messages are broadcast to all),
//! so the subscriber connects to the first node that answers.

mod outage;
mod per_thread;
mod tls;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use redis::{
    AsyncConnectionConfig, Client, Cmd, IntoConnectionInfo, Pipeline, RedisFuture, Value,
    aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection},
    cluster::ClusterClient,
    cluster_async::ClusterConnection,
    sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType},
};
use tokio::sync::OnceCell;

pub use self::tls::TlsFiles;
use self::{
    outage::{Outage, Pass},
    per_thread::PerThreadConnection,
};

/// A Redis failure, already bounded in time.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis is failing ({0}); not asked until the next probe")]
    Unavailable(String),
    #[error("Redis command failed: {0}")]
    Command(#[from] redis::RedisError),
    #[error("Redis answered something unexpected: {0}")]
    Parse(#[from] redis::ParsingError),
    #[error("Redis Sentinel: {0}")]
    Sentinel(String),
}

impl RedisError {
    /// Whether the failure says Redis could not be reached (rather than Redis answering with
    /// an error of its own).
    fn is_unreachable(&self) -> bool {
        match self {
            RedisError::Timeout(_) | RedisError::Unavailable(_) | RedisError::Sentinel(_) => true,
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

    /// Whether the server we reached no longer takes writes (a master demoted by a failover).
    fn is_read_only(&self) -> bool {
        match self {
            RedisError::Command(err) => {
                err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
                    || err.code() == Some("READONLY")
                    || err.to_string().contains("READONLY")
            }
            _ => false,
        }
    }
}

/// Where Redis is (from `cache:`): one URL, cluster seed nodes, or Sentinel.
#[derive(Debug, Clone)]
pub enum RedisTarget {
    Single(String),
    Cluster(Vec<String>),
    Sentinel {
        master_name: String,
        /// The sentinels' URLs (their own credentials; `rediss://` means TLS everywhere).
        nodes: Vec<String>,
        /// The master's ACL user and password, and database.
        username: Option<String>,
        password: Option<String>,
        db: i64,
    },
}

#[derive(Clone)]
enum Backend {
    Single(Arc<PerThreadConnection>),
    Cluster {
        client: Box<ClusterClient>,
        /// Established on first use, so that a cluster down at start-up is not fatal.
        connection: Arc<OnceCell<ClusterConnection>>,
    },
    Sentinel(Arc<SentinelBackend>),
}

/// The master Sentinel names, and a connection to it until a failure says to ask again.
struct SentinelBackend {
    sentinel: tokio::sync::Mutex<SentinelClient>,
    current: Mutex<Option<MultiplexedConnection>>,
    config: AsyncConnectionConfig,
}

impl SentinelBackend {
    fn current(&self) -> Option<MultiplexedConnection> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forget the master: the next command asks the sentinels again.
    fn forget(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// A client of the master the sentinels name now, bounded by `bound`.
    async fn master(&self, bound: Duration) -> Result<Client, RedisError> {
        let mut sentinel = self.sentinel.lock().await;
        match tokio::time::timeout(bound, sentinel.async_get_client()).await {
            Ok(client) => client.map_err(|err| RedisError::Sentinel(err.to_string())),
            Err(_) => Err(RedisError::Timeout(bound)),
        }
    }

    async fn connection(&self, bound: Duration) -> Result<MultiplexedConnection, RedisError> {
        if let Some(connection) = self.current() {
            return Ok(connection);
        }
        let master = self.master(bound).await?;
        let connection = match tokio::time::timeout(
            bound,
            master.get_multiplexed_async_connection_with_config(&self.config),
        )
        .await
        {
            Ok(connection) => connection?,
            Err(_) => return Err(RedisError::Timeout(bound)),
        };
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(connection.clone());
        Ok(connection)
    }
}

/// A shared, cheap-to-clone handle on Redis (single, Cluster or Sentinel).
#[derive(Clone)]
pub struct RedisLink {
    backend: Backend,
    /// Clients of the nodes a subscriber may connect to (one for a single Redis; none with
    /// Sentinel, which names the master to subscribe on).
    subscribe_to: Vec<Client>,
    timeout: Duration,
    outage: Arc<Outage>,
}

/// The connection a command runs on.
enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
    Multiplexed(MultiplexedConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
            Conn::Multiplexed(c) => c.req_packed_command(cmd),
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
            Conn::Multiplexed(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
            Conn::Multiplexed(c) => c.get_db(),
        }
    }
}

fn now_ms() -> u64 {
    crate::clock::unix_ms(SystemTime::now())
}

impl RedisLink {
    /// Prepare the connection to `target` (no network I/O happens here): URLs and certificate
    /// files are checked, nothing is contacted.
    pub fn open(
        target: &RedisTarget,
        tls: &TlsFiles,
        timeout: Duration,
    ) -> Result<RedisLink, RedisError> {
        let connect_within = timeout.max(Duration::from_millis(500));
        let (backend, subscribe_to) = match target {
            RedisTarget::Single(url) => {
                let client = tls.client(url)?;
                // One quick retry: the outage back-off above paces the rest, and a failure
                // that comes back within the command's bound says why (a TLS error, say).
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(connect_within))
                    .set_response_timeout(Some(timeout))
                    .set_number_of_retries(1)
                    .set_min_delay(Duration::from_millis(20))
                    .set_max_delay(Duration::from_millis(100));
                let single = PerThreadConnection::new(client.clone(), config);
                (Backend::Single(Arc::new(single)), vec![client])
            }
            RedisTarget::Cluster(nodes) => {
                let mut builder = ClusterClient::builder(nodes.iter().map(String::as_str))
                    .connection_timeout(connect_within)
                    .response_timeout(timeout)
                    .retries(2);
                if let Some(certificates) = tls.certificates()? {
                    builder = builder.certs(certificates);
                }
                let subscribe_to = nodes
                    .iter()
                    .map(|node| tls.client(node))
                    .collect::<Result<Vec<_>, _>>()?;
                let cluster = Backend::Cluster {
                    client: Box::new(builder.build()?),
                    connection: Arc::new(OnceCell::new()),
                };
                (cluster, subscribe_to)
            }
            RedisTarget::Sentinel {
                master_name,
                nodes,
                username,
                password,
                db,
            } => {
                let sentinel = sentinel_client(master_name, nodes, username, password, *db, tls)?;
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(connect_within))
                    .set_response_timeout(Some(timeout));
                let backend = Backend::Sentinel(Arc::new(SentinelBackend {
                    sentinel: tokio::sync::Mutex::new(sentinel),
                    current: Mutex::new(None),
                    config,
                }));
                (backend, Vec::new())
            }
        };
        Ok(RedisLink {
            backend,
            subscribe_to,
            timeout,
            outage: Arc::default(),
        })
    }

    async fn connection(&self) -> Result<Conn, RedisError> {
        let connect_within = self.timeout.max(Duration::from_secs(1));
        match &self.backend {
            Backend::Single(single) => Ok(Conn::Single(single.connection()?)),
            Backend::Cluster { client, connection } => {
                let established = connection
                    .get_or_try_init(|| async {
                        match tokio::time::timeout(connect_within, client.get_async_connection())
                            .await
                        {
                            Ok(result) => result.map_err(RedisError::from),
                            Err(_) => Err(RedisError::Timeout(self.timeout)),
                        }
                    })
                    .await?;
                Ok(Conn::Cluster(established.clone()))
            }
            // Boxed: the sentinel client's futures nest deeply, and every caller's future would
            // otherwise carry their layout.
            Backend::Sentinel(sentinel) => Box::pin(sentinel.connection(connect_within))
                .await
                .map(Conn::Multiplexed),
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

    /// `command`, unless Redis is failing; its outcome tells whether Redis is. With Sentinel,
    /// a failure or a read-only answer (the master was demoted) makes the next command ask
    /// the sentinels which master to use.
    async fn guarded<T>(
        &self,
        command: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, RedisError> {
        if self.outage.pass(now_ms()) == Pass::Refuse {
            let cause = self.outage.cause().unwrap_or_else(|| "unreachable".into());
            return Err(RedisError::Unavailable(cause));
        }
        let result = command.await;
        match &result {
            Err(err) if err.is_unreachable() => {
                self.forget_master();
                self.outage.failed(now_ms(), &err.to_string());
            }
            Err(err) if err.is_read_only() => {
                self.forget_master();
                self.outage.answered();
            }
            _ => self.outage.answered(),
        }
        result
    }

    fn forget_master(&self) {
        if let Backend::Sentinel(sentinel) = &self.backend {
            sentinel.forget();
        }
    }

    /// What the last failure to reach Redis said, while Redis is failing (for `/readyz`).
    pub fn failure(&self) -> Option<String> {
        self.outage.cause()
    }

    /// A dedicated connection for subscribing (pub/sub cannot share the multiplexed one): the
    /// first node that answers, or the master Sentinel names.
    pub async fn subscriber(&self) -> Result<redis::aio::PubSub, RedisError> {
        let bound = self.timeout.max(Duration::from_secs(1));
        let clients = match &self.backend {
            Backend::Sentinel(sentinel) => vec![Box::pin(sentinel.master(bound)).await?],
            _ => self.subscribe_to.clone(),
        };
        let mut last = RedisError::Timeout(self.timeout);
        for client in &clients {
            match tokio::time::timeout(bound, client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(err)) => last = err.into(),
                Err(_) => last = RedisError::Timeout(self.timeout),
            }
        }
        Err(last)
    }
}

/// A Sentinel client for `master_name`: the sentinels' addresses and credentials from their
/// URLs, the master's from the settings; TLS to both when the sentinels' URLs say `rediss://`.
fn sentinel_client(
    master_name: &str,
    nodes: &[String],
    username: &Option<String>,
    password: &Option<String>,
    db: i64,
    tls: &TlsFiles,
) -> Result<SentinelClient, RedisError> {
    let infos = nodes
        .iter()
        .map(|node| node.as_str().into_connection_info())
        .collect::<Result<Vec<_>, _>>()?;
    let secure = infos
        .iter()
        .any(|info| matches!(info.addr(), redis::ConnectionAddr::TcpTls { .. }));
    let mut builder = SentinelClientBuilder::new(
        infos.iter().map(|info| info.addr().clone()),
        master_name,
        SentinelServerType::Master,
    )?
    .set_client_to_redis_db(db);
    if let Some(sentinel_auth) = infos
        .iter()
        .map(|i| i.redis_settings())
        .find(|r| r.password().is_some())
    {
        if let Some(user) = sentinel_auth.username() {
            builder = builder.set_client_to_sentinel_username(user);
        }
        if let Some(secret) = sentinel_auth.password() {
            builder = builder.set_client_to_sentinel_password(secret);
        }
    }
    if let Some(user) = username {
        builder = builder.set_client_to_redis_username(user);
    }
    if let Some(secret) = password {
        builder = builder.set_client_to_redis_password(secret);
    }
    if secure {
        builder = builder
            .set_client_to_redis_tls_mode(redis::TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(redis::TlsMode::Secure);
        if let Some(certificates) = tls.certificates()? {
            builder = builder
                .set_client_to_redis_certificates(certificates.clone())
                .set_client_to_sentinel_certificates(certificates);
        }
    }
    Ok(builder.build()?)
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
    fn only_unreachability_counts_as_an_outage() {
        assert!(RedisError::Timeout(Duration::from_millis(1)).is_unreachable());
        let answered = redis::RedisError::from((redis::ErrorKind::Client, "WRONGTYPE"));
        assert!(!RedisError::Command(answered).is_unreachable());
        let io =
            redis::RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(RedisError::Command(io).is_unreachable());
        assert!(RedisError::Sentinel("no master".into()).is_unreachable());
    }

    #[test]
    fn a_demoted_master_is_recognised() {
        let read_only = redis::RedisError::from((
            redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly),
            "You can't write against a read only replica.",
        ));
        assert!(RedisError::Command(read_only).is_read_only());
        let other = redis::RedisError::from((redis::ErrorKind::Client, "WRONGTYPE"));
        assert!(!RedisError::Command(other).is_read_only());
    }
}

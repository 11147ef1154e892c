//! The shared profile store in Redis: one managed, multiplexed connection for all requests.
//!
//! The connection is established lazily and re-established by the redis crate's
//! `ConnectionManager` after a failure, so a Redis that is down at start-up or restarts later
//! needs no action from us. Every command is bounded by `cache.timeout_ms`.

use std::time::Duration;

use bytes::Bytes;
use redis::{AsyncCommands, Client, aio::ConnectionManager, aio::ConnectionManagerConfig};

use super::{CachedProfile, keys::Keys};

/// A Redis failure, already bounded in time.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    #[error("Redis did not answer within {0:?}")]
    Timeout(Duration),
    #[error("Redis command failed: {0}")]
    Command(#[from] redis::RedisError),
}

#[derive(Clone)]
pub struct RedisStore {
    connection: ConnectionManager,
    keys: Keys,
    timeout: Duration,
}

impl RedisStore {
    /// Prepare the connection (no network I/O happens here).
    pub fn new(url: &str, keys: Keys, timeout: Duration) -> Result<RedisStore, RedisError> {
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(500))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, config)?;
        Ok(RedisStore {
            connection,
            keys,
            timeout,
        })
    }

    async fn bounded<T>(
        &self,
        operation: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, RedisError> {
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(result) => Ok(result?),
            Err(_) => Err(RedisError::Timeout(self.timeout)),
        }
    }

    /// One round trip: the profile hash's three fields.
    pub async fn get(&self, user_id: &str) -> Result<Option<CachedProfile>, RedisError> {
        let mut connection = self.connection.clone();
        let key = self.keys.profile(user_id);
        let (body, fresh_until, subject): (Option<Vec<u8>>, Option<u64>, Option<Vec<u8>>) = self
            .bounded(
                redis::cmd("HMGET")
                    .arg(&key)
                    .arg("body")
                    .arg("fresh_until")
                    .arg("subject")
                    .query_async(&mut connection),
            )
            .await?;
        Ok(match (body, fresh_until) {
            (Some(body), Some(fresh_until_ms)) => Some(CachedProfile {
                body: Bytes::from(body),
                fresh_until_ms,
                subject: Bytes::from(subject.unwrap_or_default()),
            }),
            _ => None,
        })
    }

    /// Write the profile and its expiry atomically.
    pub async fn put(
        &self,
        user_id: &str,
        profile: &CachedProfile,
        keep_for: Duration,
    ) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        let key = self.keys.profile(user_id);
        let keep_ms = i64::try_from(keep_for.as_millis())
            .unwrap_or(i64::MAX)
            .max(1);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("body", profile.body.as_ref()),
                    ("fresh_until", profile.fresh_until_ms.to_string().as_bytes()),
                    ("subject", profile.subject.as_ref()),
                ],
            )
            .ignore()
            .pexpire(&key, keep_ms)
            .ignore();
        self.bounded(pipe.query_async::<()>(&mut connection)).await
    }

    /// Delete every key of a user.
    pub async fn delete(&self, user_id: &str) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        let keys = self.keys.all_of(user_id);
        self.bounded(connection.del::<_, ()>(keys)).await
    }

    /// Whether Redis answers right now.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let mut connection = self.connection.clone();
        self.bounded(redis::cmd("PING").query_async::<()>(&mut connection))
            .await
    }
}

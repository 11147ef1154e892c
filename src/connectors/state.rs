//! Runtime connector state (enabled or disabled by an operator), durable and shared: a Redis
//! hash `<prefix>connectors:state` when Redis is configured, else a local JSON file. It wins
//! over `enabled` in the configuration until changed again.

use std::{collections::BTreeMap, path::PathBuf};

use crate::redis_link::{RedisError, RedisLink};

pub struct RuntimeState {
    redis: Option<RedisLink>,
    key: String,
    file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Redis(#[from] RedisError),
    #[error("cannot write the state file: {0}")]
    File(#[from] std::io::Error),
}

impl RuntimeState {
    pub fn new(redis: Option<RedisLink>, keys: &crate::keys::Keys, file: PathBuf) -> RuntimeState {
        RuntimeState {
            redis,
            key: keys.runtime_state(),
            file,
        }
    }

    /// Every connector's operator-set state (`true` = enabled).
    pub async fn load(&self) -> Result<BTreeMap<String, bool>, StateError> {
        match &self.redis {
            Some(redis) => {
                let mut hgetall = redis::cmd("HGETALL");
                hgetall.arg(&self.key);
                let raw: BTreeMap<String, String> = redis.run(&hgetall).await?;
                Ok(raw.into_iter().map(|(k, v)| (k, v == "enabled")).collect())
            }
            None => Ok(std::fs::read(&self.file)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok())
                .unwrap_or_default()),
        }
    }

    /// Record an operator's decision durably.
    pub async fn set(&self, connector: &str, enabled: bool) -> Result<(), StateError> {
        match &self.redis {
            Some(redis) => {
                let mut hset = redis::cmd("HSET");
                hset.arg(&self.key).arg(connector).arg(if enabled {
                    "enabled"
                } else {
                    "disabled"
                });
                redis.run::<i64>(&hset).await?;
            }
            None => {
                let mut state = self.load().await?;
                state.insert(connector.to_owned(), enabled);
                let tmp = self.file.with_extension("tmp");
                std::fs::write(
                    &tmp,
                    serde_json::to_vec_pretty(&state).expect("state serializes"),
                )?;
                std::fs::rename(&tmp, &self.file)?;
            }
        }
        Ok(())
    }
}

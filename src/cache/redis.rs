//! The shared tier in Redis: a user's profile hash and per-source answers, one round trip per
//! read.

use std::time::Duration;

use bytes::Bytes;

use super::{CachedProfile, CachedSource, keys::Keys};
use crate::redis_link::{RedisError, RedisLink};

#[derive(Clone)]
pub struct RedisStore {
    link: RedisLink,
    keys: Keys,
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl RedisStore {
    pub fn new(link: RedisLink, keys: Keys) -> RedisStore {
        RedisStore { link, keys }
    }

    /// The profile hash's three fields, in one round trip.
    pub async fn get(&self, user_id: &str) -> Result<Option<CachedProfile>, RedisError> {
        let mut hmget = redis::cmd("HMGET");
        hmget
            .arg(self.keys.profile(user_id))
            .arg("body")
            .arg("fresh_until")
            .arg("subject");
        let (body, fresh_until, subject): (Option<Vec<u8>>, Option<u64>, Option<Vec<u8>>) =
            self.link.run(&hmget).await?;
        Ok(match (body, fresh_until) {
            (Some(body), Some(fresh_until_ms)) => Some(CachedProfile {
                body: Bytes::from(body),
                fresh_until_ms,
                subject: Bytes::from(subject.unwrap_or_default()),
            }),
            _ => None,
        })
    }

    /// The writes that follow an answer, atomically and in one round trip: the per-source
    /// answers (each with its own expiry), the profile and its expiry when there is one, then
    /// `also` (the release of the user's lock).
    pub async fn write_back(
        &self,
        user_id: &str,
        sources: &[(String, CachedSource, Duration)],
        profile: Option<(&CachedProfile, Duration)>,
        also: Option<redis::Cmd>,
    ) -> Result<(), RedisError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (connector, source, keep_for) in sources {
            let value = serde_json::to_vec(source).expect("cached sources serialize");
            pipe.cmd("SET")
                .arg(self.keys.source(user_id, connector))
                .arg(value)
                .arg("PX")
                .arg(millis(*keep_for))
                .ignore();
        }
        if let Some((profile, keep_for)) = profile {
            let key = self.keys.profile(user_id);
            pipe.cmd("HSET")
                .arg(&key)
                .arg("body")
                .arg(profile.body.as_ref())
                .arg("fresh_until")
                .arg(profile.fresh_until_ms)
                .arg("subject")
                .arg(profile.subject.as_ref())
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(millis(keep_for))
                .ignore();
        }
        if let Some(also) = also {
            pipe.add_command(also).ignore();
        }
        self.link.run::<()>(&pipe).await
    }

    /// Send `lock` (a `SET NX` answering `OK` or nil) and read the per-source answers of
    /// `connectors` in the same round trip: whether the lock was taken, and the answers.
    pub async fn claim(
        &self,
        lock: redis::Cmd,
        user_id: &str,
        connectors: &[&str],
    ) -> Result<(bool, Vec<Option<CachedSource>>), RedisError> {
        let mut pipe = redis::pipe();
        pipe.add_command(lock);
        if connectors.is_empty() {
            let (taken,): (Option<String>,) = self.link.run(&pipe).await?;
            return Ok((taken.is_some(), Vec::new()));
        }
        pipe.add_command(self.mget_sources(user_id, connectors));
        let (taken, values): (Option<String>, Vec<Option<Vec<u8>>>) = self.link.run(&pipe).await?;
        Ok((taken.is_some(), parse_sources(values)))
    }

    /// The per-source answers of `connectors`, in order, in one round trip.
    pub async fn sources(
        &self,
        user_id: &str,
        connectors: &[&str],
    ) -> Result<Vec<Option<CachedSource>>, RedisError> {
        if connectors.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> = self
            .link
            .run(&self.mget_sources(user_id, connectors))
            .await?;
        Ok(parse_sources(values))
    }

    fn mget_sources(&self, user_id: &str, connectors: &[&str]) -> redis::Cmd {
        let mut mget = redis::cmd("MGET");
        for connector in connectors {
            mget.arg(self.keys.source(user_id, connector));
        }
        mget
    }

    /// Delete every key of a user.
    pub async fn delete<'a>(
        &self,
        user_id: &str,
        connectors: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), RedisError> {
        let mut del = redis::cmd("DEL");
        for key in self.keys.all_of(user_id, connectors) {
            del.arg(key);
        }
        self.link.run::<i64>(&del).await.map(|_| ())
    }

    /// Whether Redis answers right now.
    pub async fn ping(&self) -> Result<(), RedisError> {
        self.link
            .run::<String>(&redis::cmd("PING"))
            .await
            .map(|_| ())
    }
}

/// Per-source answers as read from Redis; one that does not parse counts as absent.
fn parse_sources(values: Vec<Option<Vec<u8>>>) -> Vec<Option<CachedSource>> {
    values
        .into_iter()
        .map(|v| v.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
        .collect()
}

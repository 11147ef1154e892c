//! The shared tier in Redis: a user's profile hash and per-source answers, one round trip per
//! read. Writes are one `MULTI` closed by a short script that checks the erasure fence, and an
//! erasure is one script, so that the fence is checked atomically with the writes it guards
//! (see `cache::fence`). Values are packed (`cache::packed`: LZ4 against a dictionary of
//! enrichd's JSON keys), then sealed when encryption at rest is on; values written before
//! packing are read as they are.

use std::time::Duration;

use bytes::Bytes;

use super::{
    CachedProfile, CachedSource, SourceToStore,
    fence::FENCE_TTL,
    packed::{self, Packed},
};
use crate::{
    domain::{Overrides, UserKey},
    keys::Keys,
    redis_link::{RedisError, RedisLink},
    sealing::Sealer,
};

/// The check that closes the writes after an answer, run last in their `MULTI` (so atomically
/// with them): when the user's erasure fence no longer holds the token the work read, what the
/// writes just stored is deleted again, as if it had never been written. Either way the
/// user's lock is released if it is still ours. The values themselves are written by plain
/// commands before it: passing them through a script costs Redis about 2 µs per KiB.
///
/// KEYS: fence, lock, index of sources, profile, then the source keys written.
/// ARGV: expected fence token, lock token (`""`: none), the longest source TTL in ms (`0`:
/// none written), `1` when the profile was written, then the names of the sources written.
const FENCE_CHECK: &str = r"
local landed = (redis.call('GET', KEYS[1]) or '') == ARGV[1]
if landed then
  local longest = tonumber(ARGV[3])
  if longest > 0 and redis.call('PTTL', KEYS[3]) < longest then
    redis.call('PEXPIRE', KEYS[3], longest)
  end
else
  if ARGV[4] == '1' then redis.call('DEL', KEYS[4]) end
  for i = 5, #KEYS do redis.call('DEL', KEYS[i]) end
  if #ARGV > 4 then redis.call('SREM', KEYS[3], unpack(ARGV, 5)) end
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
if landed then return 1 end
return 0
";

/// An erasure: every key of the user, then a new fence.
///
/// KEYS: fence, index of sources, then every other key to delete (all with the user's hash
/// tag, so one slot). ARGV: new fence token, its TTL in ms, the prefix of source keys.
const ERASE: &str = r"
for _, name in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  redis.call('DEL', ARGV[3] .. name)
end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
";

/// Release a user's lock if it is still the caller's. KEYS: lock; ARGV: token.
const UNLOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// The replies of a claim's pipeline: lock, fence, overrides, per-source answers.
type ClaimReply = (
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Vec<Option<Vec<u8>>>,
);

/// What [`RedisStore::claim`] reads.
pub struct ClaimRead {
    /// Whether the lock was taken.
    pub taken: bool,
    /// The erasure fence token (`None`: never erased).
    pub fence: Option<String>,
    pub overrides: Overrides,
    pub sources: Vec<Option<CachedSource>>,
}

#[derive(Clone)]
pub struct RedisStore {
    link: RedisLink,
    keys: Keys,
    /// Seals every value written about a user (`cache.encryption_keys`; off: as they are).
    sealer: Sealer,
    erase: redis::Script,
    unlock: redis::Script,
}

/// The name a field of a hash is sealed under: the key and the field, so that neither a
/// value moved to another key nor one moved to another field opens.
fn field_name(key: &str, field: &str) -> String {
    format!("{key}#{field}")
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl RedisStore {
    pub fn new(link: RedisLink, keys: Keys, sealer: Sealer) -> RedisStore {
        RedisStore {
            link,
            keys,
            sealer,
            erase: redis::Script::new(ERASE),
            unlock: redis::Script::new(UNLOCK),
        }
    }

    /// The profile hash's three fields, in one round trip; with them, when Redis held them
    /// packed, the profile as the in-process tier keeps it (no need to compress it again).
    pub async fn get(
        &self,
        user: &UserKey,
    ) -> Result<Option<(CachedProfile, Option<Packed>)>, RedisError> {
        let key = self.keys.profile(user);
        let mut hmget = redis::cmd("HMGET");
        hmget
            .arg(&key)
            .arg("body")
            .arg("fresh_until")
            .arg("subject");
        let (body, fresh_until, subject): (Option<Vec<u8>>, Option<u64>, Option<Vec<u8>>) =
            self.link.run(&hmget).await?;
        let stored_body = body.and_then(|b| self.sealer.open(&field_name(&key, "body"), b));
        let stored_subject =
            subject.and_then(|s| self.sealer.open(&field_name(&key, "subject"), s));
        let kept = match (&stored_body, &stored_subject, fresh_until) {
            (Some(body), Some(subject), Some(fresh_until_ms)) => {
                Packed::adopt(body, subject, fresh_until_ms)
            }
            _ => None,
        };
        let body = stored_body.and_then(|b| packed::unpack(b, MAX_PROFILE_BYTES));
        let subject = stored_subject
            .and_then(|s| packed::unpack(s, MAX_SUBJECT_BYTES))
            .filter(|s| s.len() <= MAX_SUBJECT_BYTES);
        Ok(match (body, fresh_until) {
            (Some(body), Some(fresh_until_ms)) if is_profile_json(&body) => {
                // Kept as it came only if what it holds read back whole.
                let kept = kept.filter(|_| subject.is_some());
                let profile = CachedProfile {
                    body: Bytes::from(body),
                    fresh_until_ms,
                    subject: Bytes::from(subject.unwrap_or_default()),
                };
                Some((profile, kept))
            }
            (Some(_), Some(_)) => {
                tracing::warn!(
                    "A profile in Redis is not a JSON object of at most 4 MiB; treated as absent."
                );
                None
            }
            _ => None,
        })
    }

    /// The writes that follow an answer, atomically and in one round trip, if the user's
    /// erasure fence still holds `token` (else nothing is written): the per-source answers
    /// (each with its own expiry, named in the user's index of sources), the profile and its
    /// expiry when there is one. The user's lock is released either way when `lock_token` is
    /// given. Returns whether the writes landed.
    pub async fn write_back(
        &self,
        user: &UserKey,
        token: &str,
        sources: &[SourceToStore],
        profile: Option<(&CachedProfile, Duration)>,
        lock_token: Option<&str>,
    ) -> Result<bool, RedisError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        let mut check = redis::cmd("EVAL");
        check.arg(FENCE_CHECK);
        let mut keys = vec![
            self.keys.fence(user),
            self.keys.lock(user),
            self.keys.sources(user),
            self.keys.profile(user),
        ];
        let mut longest = 0;
        for source in sources {
            let key = self.keys.source(user, &source.connector);
            let packed = packed::pack(&source.json);
            let value = self.sealer.seal(&key, &packed);
            pipe.cmd("SET")
                .arg(&key)
                .arg(value.as_ref())
                .arg("PX")
                .arg(millis(source.keep_for))
                .ignore();
            longest = longest.max(millis(source.keep_for));
            keys.push(key);
        }
        if !sources.is_empty() {
            let mut add = redis::cmd("SADD");
            add.arg(self.keys.sources(user));
            for source in sources {
                add.arg(&source.connector);
            }
            pipe.add_command(add).ignore();
        }
        if let Some((profile, keep_for)) = profile {
            let key = self.keys.profile(user);
            let (body, subject) = (packed::pack(&profile.body), packed::pack(&profile.subject));
            let body = self.sealer.seal(&field_name(&key, "body"), &body);
            let subject = self.sealer.seal(&field_name(&key, "subject"), &subject);
            pipe.cmd("HSET")
                .arg(&key)
                .arg("body")
                .arg(body.as_ref())
                .arg("fresh_until")
                .arg(profile.fresh_until_ms)
                .arg("subject")
                .arg(subject.as_ref())
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(millis(keep_for))
                .ignore();
        }
        check.arg(keys.len()).arg(&keys);
        check
            .arg(token)
            .arg(lock_token.unwrap_or_default())
            .arg(longest)
            .arg(if profile.is_some() { "1" } else { "0" });
        for source in sources {
            check.arg(&source.connector);
        }
        pipe.add_command(check);
        let (landed,): (i64,) = self.link.run(&pipe).await?;
        Ok(landed == 1)
    }

    /// Release the user's lock if `token` still holds it.
    pub async fn unlock(&self, user: &UserKey, token: &str) -> Result<(), RedisError> {
        let mut invocation = self.unlock.prepare_invoke();
        invocation.key(self.keys.lock(user)).arg(token);
        self.link.script::<i64>(invocation).await.map(|_| ())
    }

    /// Send `lock` (a `SET NX` answering `OK` or nil), read the user's erasure fence, their
    /// overrides and the per-source answers of `connectors`, in one round trip.
    pub async fn claim(
        &self,
        lock: redis::Cmd,
        user: &UserKey,
        connectors: &[&str],
    ) -> Result<ClaimRead, RedisError> {
        let mut pipe = redis::pipe();
        pipe.add_command(lock);
        pipe.cmd("GET").arg(self.keys.fence(user));
        pipe.cmd("GET").arg(self.keys.overrides(user));
        if connectors.is_empty() {
            let (taken, fence, overrides): (Option<String>, Option<String>, Option<Vec<u8>>) =
                self.link.run(&pipe).await?;
            return Ok(ClaimRead {
                taken: taken.is_some(),
                fence,
                overrides: self.parse_overrides(user, overrides),
                sources: Vec::new(),
            });
        }
        pipe.add_command(self.mget_sources(user, connectors));
        let (taken, fence, overrides, values): ClaimReply = self.link.run(&pipe).await?;
        Ok(ClaimRead {
            taken: taken.is_some(),
            fence,
            overrides: self.parse_overrides(user, overrides),
            sources: self.parse_sources(user, connectors, values),
        })
    }

    /// A user's overrides.
    pub async fn overrides(&self, user: &UserKey) -> Result<Overrides, RedisError> {
        let mut get = redis::cmd("GET");
        get.arg(self.keys.overrides(user));
        let value: Option<Vec<u8>> = self.link.run(&get).await?;
        Ok(self.parse_overrides(user, value))
    }

    /// Replace a user's overrides (none: delete them).
    pub async fn set_overrides(
        &self,
        user: &UserKey,
        overrides: &Overrides,
    ) -> Result<(), RedisError> {
        let key = self.keys.overrides(user);
        if overrides.is_empty() {
            let mut del = redis::cmd("DEL");
            del.arg(&key);
            return self.link.run::<i64>(&del).await.map(|_| ());
        }
        let json = serde_json::to_vec(overrides).expect("overrides serialize");
        let mut set = redis::cmd("SET");
        set.arg(&key).arg(self.sealer.seal(&key, &json).as_ref());
        self.link.run::<String>(&set).await.map(|_| ())
    }

    /// Overrides as read from Redis (and opened); what does not open or parse is none.
    fn parse_overrides(&self, user: &UserKey, value: Option<Vec<u8>>) -> Overrides {
        parse_overrides(value.and_then(|v| self.sealer.open(&self.keys.overrides(user), v)))
    }

    /// The per-source answers of `connectors`, in order, in one round trip.
    pub async fn sources(
        &self,
        user: &UserKey,
        connectors: &[&str],
    ) -> Result<Vec<Option<CachedSource>>, RedisError> {
        if connectors.is_empty() {
            return Ok(Vec::new());
        }
        let values: Vec<Option<Vec<u8>>> =
            self.link.run(&self.mget_sources(user, connectors)).await?;
        Ok(self.parse_sources(user, connectors, values))
    }

    /// Per-source answers of `connectors` as read from Redis, opened; one that does not open,
    /// is too large or does not parse counts as absent.
    fn parse_sources(
        &self,
        user: &UserKey,
        connectors: &[&str],
        values: Vec<Option<Vec<u8>>>,
    ) -> Vec<Option<CachedSource>> {
        values
            .into_iter()
            .zip(connectors)
            .map(|(value, connector)| {
                let key = self.keys.source(user, connector);
                parse_source(
                    value
                        .and_then(|v| self.sealer.open(&key, v))
                        .and_then(|v| packed::unpack(v, MAX_PROFILE_BYTES)),
                )
            })
            .collect()
    }

    fn mget_sources(&self, user: &UserKey, connectors: &[&str]) -> redis::Cmd {
        let mut mget = redis::cmd("MGET");
        for connector in connectors {
            mget.arg(self.keys.source(user, connector));
        }
        mget
    }

    /// Erase a user: every key with their hash tag — the profile, the lock, every per-source
    /// answer the index names (whatever connectors are configured now) and those of
    /// `connectors` (written before the index existed) — and set a new erasure fence, so that
    /// no write begun before this lands after it. Atomic.
    pub async fn erase<'a>(
        &self,
        user: &UserKey,
        connectors: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), RedisError> {
        let mut invocation = self.erase.prepare_invoke();
        invocation
            .key(self.keys.fence(user))
            .key(self.keys.sources(user));
        for key in self.keys.all_of(user, connectors) {
            invocation.key(key);
        }
        invocation
            .arg(uuid::Uuid::new_v4().simple().to_string())
            .arg(millis(FENCE_TTL))
            .arg(self.keys.source_prefix(user));
        self.link.script::<i64>(invocation).await.map(|_| ())
    }

    /// What the last failure to reach Redis said, while it is failing.
    pub fn failure(&self) -> Option<String> {
        self.link.failure()
    }

    /// Whether Redis answers right now.
    pub async fn ping(&self) -> Result<(), RedisError> {
        self.link
            .run::<String>(&redis::cmd("PING"))
            .await
            .map(|_| ())
    }
}

/// The largest profile body served from Redis: far above what the list caps allow enrichd
/// to write, so only a value written by something else is refused.
const MAX_PROFILE_BYTES: usize = 4 * 1024 * 1024;

/// The largest remembered subject read back (the handle cap keeps real ones under 10 KiB).
const MAX_SUBJECT_BYTES: usize = 32 * 1024;

/// Whether a profile body read back is what enrichd writes: a JSON object of bounded size.
fn is_profile_json(body: &[u8]) -> bool {
    body.len() <= MAX_PROFILE_BYTES
        && body.first() == Some(&b'{')
        && serde_json::from_slice::<serde::de::IgnoredAny>(body).is_ok()
}

/// A per-source answer as read from Redis (and opened); one that is too large or does not
/// parse counts as absent.
fn parse_source(value: Option<Vec<u8>>) -> Option<CachedSource> {
    value
        .filter(|bytes| bytes.len() <= MAX_PROFILE_BYTES)
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
}

/// Overrides as stored (JSON, opened): only what a caller could have set passes; anything
/// else counts as none.
pub(super) fn parse_overrides(value: Option<Vec<u8>>) -> Overrides {
    value
        .filter(|bytes| bytes.len() <= MAX_PROFILE_BYTES)
        .and_then(|bytes| serde_json::from_slice::<Overrides>(&bytes).ok())
        .and_then(|read| {
            Some(Overrides {
                fields: Overrides::parse(read.fields).ok()?,
                updated_at: read.updated_at,
            })
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_bounded_json_objects_pass_as_profiles() {
        assert!(is_profile_json(br#"{"user_id": "u-1"}"#));
        assert!(!is_profile_json(b"[1, 2]"));
        assert!(!is_profile_json(br#"{"user_id": "#));
        assert!(!is_profile_json(b""));
        let huge = format!(r#"{{"x": "{}"}}"#, "a".repeat(MAX_PROFILE_BYTES));
        assert!(!is_profile_json(huge.as_bytes()));
    }

    #[test]
    fn unreadable_per_source_answers_are_absent() {
        let good = serde_json::to_vec(&serde_json::json!({
            "status": "ok", "confidence": 0.5, "fetched_at_ms": 1,
            "fresh_until_ms": 2, "identifiers": "x"
        }))
        .unwrap();
        assert!(parse_source(Some(good)).is_some());
        assert!(parse_source(Some(b"garbage".to_vec())).is_none());
        assert!(parse_source(None).is_none());
    }
}

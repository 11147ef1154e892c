//! The shared tier in Redis: a user's entry (profile, subject and per-source answers in one
//! value, see `cache::entry`), one round trip per read. Writes are one short script that
//! checks the erasure fence first, and an erasure is one script, so that the
//! fence is checked atomically with the writes it guards (see `cache::fence`). Entries are
//! sealed when encryption at rest is on. What the layout before entries stored (a profile
//! hash, a key per connector's answer) is read while it lasts and removed by the next write.

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::{
    CachedProfile, CachedSource, NewProfile, SourceToStore,
    entry::{self, MAX_PROFILE_BYTES, Stored},
    fence::FENCE_TTL,
    packed::{self, Packed},
    unix_ms,
};
use crate::{
    coordination::Announcement,
    domain::{Overrides, UserKey},
    keys::Keys,
    redis_link::{RedisError, RedisLink},
    sealing::Sealer,
};

/// The writes that follow an answer, as one script (so atomically, and in one command): when
/// the user's erasure fence still holds the token the work read, the entry is written (the
/// value passes through the script: one `EVALSHA` costs Redis less than the `MULTI` of a plain
/// `SET` and a check, and a script Redis lost since, `NOSCRIPT`, has written nothing when it is
/// sent again whole) and, when it held a profile, what the layout before entries held about the
/// user goes (the entry has replaced it); else nothing is written, as if the work had never
/// been done. Either way the user's lock is released if it is still ours, and the event for the
/// other replicas is published: always for a profile that replaces one (their copies must go),
/// and for a user's first profile only when a replica waits for it (nobody else can hold a
/// copy of a profile that was not there; the one waiting set `waiting` before looking).
///
/// KEYS: fence, lock, entry, waiting, then (to remove) the earlier layout's profile and index
/// of sources. ARGV: expected fence token, lock token (`""`: none), the entry (`""`: nothing
/// to write), its time to live in ms, the prefix of the earlier layout's source keys, when to
/// publish (`always`, `awaited`, `""`: never), the channel and the event.
const WRITE_BACK: &str = r"
local landed = (redis.call('GET', KEYS[1]) or '') == ARGV[1]
if landed and ARGV[3] ~= '' then
  redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
  if #KEYS > 4 then
    for _, name in ipairs(redis.call('SMEMBERS', KEYS[6])) do
      redis.call('DEL', ARGV[5] .. name)
    end
    redis.call('DEL', KEYS[5], KEYS[6])
  end
end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2] then redis.call('DEL', KEYS[2]) end
if ARGV[6] == 'always' or (ARGV[6] == 'awaited' and redis.call('DEL', KEYS[4]) == 1) then
  redis.call('PUBLISH', ARGV[7], ARGV[8])
end
if landed then return 1 end
return 0
";

/// An erasure: every key of the user, then a new fence.
///
/// KEYS: fence, the earlier layout's index of sources, then every other key to delete (all
/// with the user's hash tag, so one slot). ARGV: new fence token, its TTL in ms, the prefix
/// of the earlier layout's source keys.
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

/// The replies of a claim's pipeline: lock, fence, overrides, entry, keys of the earlier
/// layout.
type ClaimReply = (
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    u32,
);

/// What [`RedisStore::claim`] reads.
pub struct ClaimRead {
    /// Whether the lock was taken.
    pub taken: bool,
    /// The erasure fence token (`None`: never erased).
    pub fence: Option<String>,
    pub overrides: Overrides,
    pub sources: Vec<Option<CachedSource>>,
    /// The user's entry: what the work's writes merge into.
    pub stored: Stored,
}

/// What goes in [`RedisStore::write_back`]'s round trip besides the writes.
#[derive(Debug)]
pub struct Along<'a> {
    /// The user's lock to release, when the work holds it.
    pub lock_token: Option<&'a str>,
    /// The event for the other replicas: always sent when `stored` held a profile (their
    /// copies of it must go), for a user's first profile only when a replica waits for it.
    pub announce: Option<Announcement<'a>>,
}

/// What [`RedisStore::write_back`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteBack {
    /// The writes landed (the user was not erased since the work began).
    pub landed: bool,
}

#[derive(Clone)]
pub struct RedisStore {
    link: RedisLink,
    keys: Keys,
    /// Seals every value written about a user (`cache.encryption_keys`; off: as they are).
    sealer: Sealer,
    write_back: redis::Script,
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

/// When a lookup reads the profile hash of the layout before entries (needed while the user
/// has no entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlierRead {
    /// In the same round trip as the entry: for a lookup whose miss leads to an enrichment,
    /// which costs far more than the extra command costs a hit.
    Along,
    /// In a second round trip, only when there is no entry: for reads that are mostly hits.
    IfAbsent,
}

/// The body, `fresh_until` and subject of a profile hash of the layout before entries.
type EarlierProfile = (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>);

/// Whether a profile body read back must be parsed to be trusted: unless it came sealed
/// (and so authenticated as enrichd's own write), it is checked like input.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Origin {
    Unsealed,
    Authenticated,
}

/// A profile as read back (opened; the body packed, or JSON when written before packing; the
/// subject JSON, or packed as earlier builds wrote it), and with it, when the body was
/// packed, the profile as the in-process tier keeps it (no need to compress it again).
/// `None` when the body is not what enrichd writes.
fn read_profile(
    body: &[u8],
    subject: Option<&[u8]>,
    fresh_until_ms: u64,
    origin: Origin,
) -> Option<(CachedProfile, Option<Packed>)> {
    let unpacked = packed::unpack(body, MAX_PROFILE_BYTES).filter(|b| match origin {
        Origin::Unsealed => is_profile_json(b),
        Origin::Authenticated => b.first() == Some(&b'{'),
    });
    let Some(unpacked) = unpacked else {
        tracing::warn!(
            "A profile in Redis is not a JSON object of at most 4 MiB; treated as absent."
        );
        return None;
    };
    let subject = subject.and_then(entry::subject_json);
    // Kept as it came only if what it holds read back whole.
    let kept = subject
        .as_deref()
        .and_then(|subject| Packed::adopt(body, subject, fresh_until_ms));
    let profile = CachedProfile {
        body: Bytes::from(unpacked),
        fresh_until_ms,
        subject: Bytes::from(subject.unwrap_or_default()),
    };
    Some((profile, kept))
}

impl RedisStore {
    pub fn new(link: RedisLink, keys: Keys, sealer: Sealer) -> RedisStore {
        RedisStore {
            link,
            keys,
            sealer,
            write_back: redis::Script::new(WRITE_BACK),
            erase: redis::Script::new(ERASE),
            unlock: redis::Script::new(UNLOCK),
        }
    }

    /// The user's profile, in one round trip while the user has an entry; without one, the
    /// profile hash of the layout before entries is read too — in the same round trip when
    /// `earlier` is [`EarlierRead::Along`], in a second one only then when it is
    /// [`EarlierRead::IfAbsent`]. With the profile, the profile as the in-process tier keeps it.
    pub async fn get(
        &self,
        user: &UserKey,
        earlier: EarlierRead,
    ) -> Result<Option<(CachedProfile, Option<Packed>)>, RedisError> {
        let key = self.keys.entry(user);
        let (value, read) = match earlier {
            EarlierRead::Along => {
                let mut pipe = redis::pipe();
                pipe.cmd("GET").arg(&key);
                pipe.add_command(self.earlier_profile_command(user));
                let (value, read): (Option<Vec<u8>>, EarlierProfile) = self.link.run(&pipe).await?;
                (value, Some(read))
            }
            EarlierRead::IfAbsent => {
                let mut get = redis::cmd("GET");
                get.arg(&key);
                (self.link.run(&get).await?, None)
            }
        };
        let origin = match &value {
            Some(v) if Sealer::is_sealed(v) => Origin::Authenticated,
            _ => Origin::Unsealed,
        };
        if let Some(value) = value.and_then(|v| self.sealer.open(&key, v)) {
            match entry::profile_of(&value) {
                Some(Some(section)) if section.keep_until_ms > unix_ms(SystemTime::now()) => {
                    return Ok(read_profile(
                        section.body,
                        Some(section.subject),
                        section.fresh_until_ms,
                        origin,
                    ));
                }
                Some(Some(_)) => return Ok(None),
                // An entry of answers only: the earlier layout may still hold the profile.
                Some(None) => {}
                None => {
                    tracing::warn!(
                        "A user's entry in Redis is not one enrichd wrote; treated as absent."
                    );
                    return Ok(None);
                }
            }
        }
        let read = match read {
            Some(read) => read,
            None => self.link.run(&self.earlier_profile_command(user)).await?,
        };
        Ok(self.before_entries(user, read))
    }

    /// The `HMGET` of the profile hash of the layout before entries.
    fn earlier_profile_command(&self, user: &UserKey) -> redis::Cmd {
        let mut hmget = redis::cmd("HMGET");
        hmget
            .arg(self.keys.profile(user))
            .arg("body")
            .arg("fresh_until")
            .arg("subject");
        hmget
    }

    /// The profile the hash of the layout before entries holds, as `HMGET` read its body,
    /// `fresh_until` and subject; `None` when it is not there or does not read.
    fn before_entries(
        &self,
        user: &UserKey,
        (body, fresh_until, subject): EarlierProfile,
    ) -> Option<(CachedProfile, Option<Packed>)> {
        let key = self.keys.profile(user);
        let body = body.and_then(|b| self.sealer.open(&field_name(&key, "body"), b))?;
        let subject = subject.and_then(|s| self.sealer.open(&field_name(&key, "subject"), s));
        let fresh_until_ms = std::str::from_utf8(&fresh_until?).ok()?.parse().ok()?;
        read_profile(&body, subject.as_deref(), fresh_until_ms, Origin::Unsealed)
    }

    /// The writes that follow an answer, atomically and in one round trip, if the user's
    /// erasure fence still holds `token` (else nothing is written): the user's entry, that is
    /// `stored` with the new per-source answers and the new profile, kept until its last part
    /// is past its time. The user's lock is released either way when `along` has its token,
    /// and its announcement goes with them as [`Along`] says, even when the fence stops the
    /// writes (the other replicas dropping a copy is right then too); see [`WRITE_BACK`].
    /// When the writes landed, `stored` is what was written.
    pub async fn write_back(
        &self,
        user: &UserKey,
        token: &str,
        stored: &mut Stored,
        sources: &[SourceToStore],
        profile: Option<NewProfile<'_>>,
        along: Along<'_>,
    ) -> Result<WriteBack, RedisError> {
        let now = unix_ms(SystemTime::now());
        // Nothing new (only the lock to release): the entry stays as it is.
        let merged = (!sources.is_empty() || profile.is_some())
            .then(|| stored.merged(profile, sources, now));
        let keep_for = merged.as_ref().and_then(|m| m.keep_for_ms(now));
        let key = self.keys.entry(user);
        let encoded = merged
            .as_ref()
            .filter(|_| keep_for.is_some())
            .map(Stored::encode);
        let value = encoded.as_deref().map(|e| self.sealer.seal(&key, e));
        let removes_earlier = stored.legacy && profile.is_some() && keep_for.is_some();
        let mut invocation = self.write_back.prepare_invoke();
        invocation
            .key(self.keys.fence(user))
            .key(self.keys.lock(user))
            .key(&key)
            .key(self.keys.waiting(user));
        if removes_earlier {
            invocation
                .key(self.keys.profile(user))
                .key(self.keys.sources(user));
        }
        let replaces = stored.profile_times().is_some() || stored.legacy;
        let (heard, channel, payload) =
            along
                .announce
                .as_ref()
                .map_or(("", "", ""), |announcement| {
                    let when = if replaces { "always" } else { "awaited" };
                    (when, announcement.channel, announcement.payload.as_str())
                });
        invocation
            .arg(token)
            .arg(along.lock_token.unwrap_or_default())
            .arg(value.as_deref().unwrap_or_default())
            .arg(keep_for.unwrap_or_default())
            .arg(self.keys.source_prefix(user))
            .arg(heard)
            .arg(channel)
            .arg(payload);
        let landed: i64 = self.link.script(invocation).await?;
        if landed == 1 {
            if let Some(merged) = merged {
                *stored = merged;
            }
            stored.legacy &= !removes_earlier;
        }
        Ok(WriteBack {
            landed: landed == 1,
        })
    }

    /// Tell the replica holding the user's lock that this one waits for its profile (for
    /// `wait`, at most), so that it announces even a first one (see [`WRITE_BACK`]). Set
    /// before looking for the profile: either the look finds it, or its writes see this.
    pub async fn await_profile(&self, user: &UserKey, wait: Duration) -> Result<(), RedisError> {
        let mut set = redis::cmd("SET");
        set.arg(self.keys.waiting(user))
            .arg("1")
            .arg("PX")
            .arg(millis(wait));
        self.link.run::<()>(&set).await
    }

    /// Release the user's lock if `token` still holds it.
    pub async fn unlock(&self, user: &UserKey, token: &str) -> Result<(), RedisError> {
        let mut invocation = self.unlock.prepare_invoke();
        invocation.key(self.keys.lock(user)).arg(token);
        self.link.script::<i64>(invocation).await.map(|_| ())
    }

    /// Send `lock` (a `SET NX` answering `OK` or nil), read the user's erasure fence, their
    /// overrides and their entry, in one round trip (two while only the layout before
    /// entries holds answers of `connectors`).
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
        self.read_entry(&mut pipe, user);
        let (taken, fence, overrides, value, earlier): ClaimReply = self.link.run(&pipe).await?;
        let (sources, stored) = self.found(user, connectors, value, earlier).await?;
        Ok(ClaimRead {
            taken: taken.is_some(),
            fence,
            overrides: self.parse_overrides(user, overrides),
            sources,
            stored,
        })
    }

    /// The commands that read a user's entry and count the keys of the layout before it.
    fn read_entry(&self, pipe: &mut redis::Pipeline, user: &UserKey) {
        pipe.cmd("GET").arg(self.keys.entry(user));
        pipe.cmd("EXISTS")
            .arg(self.keys.profile(user))
            .arg(self.keys.sources(user));
    }

    /// The per-source answers of `connectors` in `value` (the user's entry as read) and the
    /// entry itself; when there is no entry but `earlier` keys of the layout before it, the
    /// answers are read from there.
    async fn found(
        &self,
        user: &UserKey,
        connectors: &[&str],
        value: Option<Vec<u8>>,
        earlier: u32,
    ) -> Result<(Vec<Option<CachedSource>>, Stored), RedisError> {
        let key = self.keys.entry(user);
        let present = value.is_some();
        let mut stored = value
            .and_then(|v| self.sealer.open(&key, v))
            .and_then(|v| {
                let decoded = Stored::decode(&v);
                if decoded.is_none() {
                    tracing::warn!(
                        "A user's entry in Redis is not one enrichd wrote; it will be replaced."
                    );
                }
                decoded
            })
            .unwrap_or_default();
        stored.legacy = earlier > 0;
        if !present && stored.legacy && !connectors.is_empty() {
            let values: Vec<Option<Vec<u8>>> =
                self.link.run(&self.mget_sources(user, connectors)).await?;
            return Ok((self.parse_sources(user, connectors, values), stored));
        }
        let sources = connectors.iter().map(|c| stored.source(c)).collect();
        Ok((sources, stored))
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

    /// The per-source answers of `connectors`, in order, and the user's entry, in one round
    /// trip (see [`claim`](Self::claim)).
    pub async fn sources(
        &self,
        user: &UserKey,
        connectors: &[&str],
    ) -> Result<(Vec<Option<CachedSource>>, Stored), RedisError> {
        let mut pipe = redis::pipe();
        self.read_entry(&mut pipe, user);
        let (value, earlier): (Option<Vec<u8>>, u32) = self.link.run(&pipe).await?;
        self.found(user, connectors, value, earlier).await
    }

    /// Per-source answers of `connectors` as the layout before entries stored them, opened;
    /// one that does not open, is too large or does not parse counts as absent.
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
                        .and_then(|v| packed::unpack(&v, MAX_PROFILE_BYTES)),
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

    /// Erase a user: every key with their hash tag — the entry, the lock, the layout before
    /// entries: its profile, every per-source answer its index names (whatever connectors are configured now) and those of
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
    fn only_an_authenticated_body_is_served_without_being_parsed() {
        let cut = packed::pack(br#"{"user_id": "#);
        let subject = packed::pack(b"{}");
        assert!(read_profile(&cut, Some(&subject), 1, Origin::Unsealed).is_none());
        let (profile, kept) = read_profile(&cut, Some(&subject), 1, Origin::Authenticated).unwrap();
        assert_eq!(&profile.body[..], br#"{"user_id": "#);
        assert!(kept.is_some());
        // Even then, only what starts as an object.
        let array = packed::pack(b"[1]");
        assert!(read_profile(&array, Some(&subject), 1, Origin::Authenticated).is_none());
        let whole = packed::pack(br#"{"user_id": "u-1"}"#);
        assert!(read_profile(&whole, Some(&subject), 1, Origin::Unsealed).is_some());
    }

    #[test]
    fn a_subject_reads_as_json_or_packed_and_the_profile_is_kept_either_way() {
        let body = packed::pack(br#"{"user_id": "u-1"}"#);
        let json = br#"{"user_id":"u-1","email":"ada@example.com"}"#;
        for subject in [json.to_vec(), packed::pack(json)] {
            let (profile, kept) = read_profile(&body, Some(&subject), 7, Origin::Unsealed).unwrap();
            assert_eq!(&profile.subject[..], json);
            assert_eq!(kept.unwrap().unpack(), Some(profile));
        }
        let too_long = vec![b' '; entry::MAX_SUBJECT_BYTES + 1];
        let (profile, kept) = read_profile(&body, Some(&too_long), 7, Origin::Unsealed).unwrap();
        assert!(profile.subject.is_empty());
        assert!(kept.is_none(), "kept only with its subject");
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

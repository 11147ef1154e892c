//! How replicas cooperate through Redis: events on one pub/sub channel (cache invalidation,
//! upstream rate-limit waits), a short per-user lock so that one replica fans out while the
//! others wait for its result, and rate-limit windows counted atomically.
//!
//! Without Redis every operation is a no-op that says so: one process has nobody to tell.
//!
//! What arrives on the channel is read as untrusted input: a message larger than
//! [`MAX_EVENT_BYTES`] or not an event enrichd sends is ignored, and the handler gets only
//! validated events (a well-formed user id; waits capped by the caller).

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::{
    domain::{Tenant, UserId, UserKey},
    keys::Keys,
    redis_link::{RedisError, RedisLink},
    tasks::Tasks,
};

/// The largest message read from the events channel; enrichd's own are under 4 KiB.
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

/// The most hashes one `Suppressions` event carries (a user id, an email, a phone and
/// `MAX_HANDLES` handles).
const MAX_EVENT_HASHES: usize = 3 + crate::domain::MAX_HANDLES;

/// A keyed hash as events carry it: 64 lowercase hex digits.
fn is_hash_hex(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Something every replica should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Drop the in-process copy of this user's profile; when `erased`, the user was erased:
    /// also stop every write about them begun before (see `cache::fence`).
    /// `tenant` is absent for the default tenant (as replicas from before tenants send it).
    Invalidate {
        user_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tenant: Option<String>,
        #[serde(default)]
        erased: bool,
    },
    /// Identifiers were suppressed (or, `lifted`, no longer are): keyed hashes, in hex.
    Suppressions {
        hashes: Vec<String>,
        #[serde(default)]
        lifted: bool,
    },
    /// Do not call this connector before `until_ms` (Unix ms).
    Block { connector: String, until_ms: u64 },
    /// The in-process tier may have missed invalidations (the listener reconnected).
    ResetLocal,
    /// An operator enabled or disabled a connector: re-read the runtime state.
    ConnectorState,
    /// An operator reloaded a connector: rebuild its instance.
    Reload { connector: String },
    /// An operator rescanned `connectors_dir`: rescan it here too.
    Discover,
}

impl Event {
    /// Drop (or, `erased`, forget) `user`'s in-process state.
    pub fn invalidate(user: &UserKey, erased: bool) -> Event {
        Event::Invalidate {
            user_id: user.user_id().to_owned(),
            tenant: user.tenant_name().map(str::to_owned),
            erased,
        }
    }

    /// The user an `Invalidate` event is about (checked when the event was read).
    pub fn user(user_id: &str, tenant: Option<&str>) -> Option<UserKey> {
        UserId::parse(user_id).ok()?;
        let tenant = match tenant {
            None => Tenant::default_tenant(),
            Some(name) => Tenant::parse(name).ok().filter(|t| !t.is_default())?,
        };
        Some(UserKey::new(&tenant, user_id))
    }
}

#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    event: Event,
}

/// An event as it goes on the channel, for a script to publish with the writes it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announcement<'a> {
    pub channel: &'a str,
    pub payload: String,
}

/// Whether this replica may fan out for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockOutcome {
    /// Yes; release with this token.
    Acquired(String),
    /// Another replica is on it.
    Held,
    /// No Redis (or it is down): go ahead alone.
    Unavailable,
}

const TAKE_FROM_WINDOW: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n > tonumber(ARGV[1]) then return 0 end
return 1
";

pub struct Coordination {
    link: Option<RedisLink>,
    keys: Keys,
    channel: String,
    /// This replica's id, to ignore its own events.
    instance: String,
    take_from_window: redis::Script,
}

impl Coordination {
    pub fn new(link: Option<RedisLink>, keys: Keys) -> Coordination {
        Coordination {
            link,
            channel: keys.events(),
            keys,
            instance: uuid::Uuid::new_v4().to_string(),
            take_from_window: redis::Script::new(TAKE_FROM_WINDOW),
        }
    }

    /// Whether there are other replicas to coordinate with (Redis is configured).
    pub fn is_shared(&self) -> bool {
        self.link.is_some()
    }

    /// Tell every other replica; best effort (an event lost while Redis is down is made up
    /// for by `ResetLocal` when the listeners reconnect).
    pub async fn publish(&self, event: Event) {
        if let Some(announcement) = self.announcement(event) {
            self.send_announcement(announcement).await;
        }
    }

    /// Publish an [`announcement`](Self::announcement); best effort like
    /// [`publish`](Self::publish).
    async fn send_announcement(&self, announcement: Announcement<'_>) {
        let Some(link) = &self.link else { return };
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(announcement.channel).arg(announcement.payload);
        if let Err(err) = link.run::<i64>(&publish).await {
            tracing::debug!(error = %err, "Could not publish an event to the other replicas.");
        }
    }

    /// `event` as it goes on the channel, for [`send_announcement`](Self::send_announcement)
    /// or a script that publishes it with other writes (`None` without Redis).
    pub fn announcement(&self, event: Event) -> Option<Announcement<'_>> {
        self.link.as_ref()?;
        let envelope = Envelope {
            from: self.instance.clone(),
            event,
        };
        Some(Announcement {
            channel: &self.channel,
            payload: serde_json::to_string(&envelope).expect("events serialize"),
        })
    }

    /// Listen for other replicas' events until shutdown, reconnecting as needed. After every
    /// reconnection the handler first gets `ResetLocal`. Messages that are not valid events
    /// are ignored.
    pub fn listen(
        self: &Arc<Self>,
        tasks: &Tasks,
        handler: impl Fn(Event) + Send + Sync + 'static,
    ) {
        let Some(link) = self.link.clone() else {
            return;
        };
        let this = self.clone();
        tasks.spawn(async move {
            let mut connected_before = false;
            loop {
                match link.subscriber().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&this.channel).await.is_ok() {
                            if connected_before {
                                handler(Event::ResetLocal);
                            }
                            connected_before = true;
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                if let Some(event) = this.read(message.get_payload_bytes()) {
                                    handler(event);
                                }
                            }
                        }
                        tracing::warn!("Lost the Redis event subscription; reconnecting.");
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "Cannot subscribe to Redis events yet.")
                    }
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        });
    }

    /// The event in a message from the channel, when it is another replica's valid event.
    fn read(&self, payload: &[u8]) -> Option<Event> {
        if payload.len() > MAX_EVENT_BYTES {
            return None;
        }
        let envelope: Envelope = serde_json::from_slice(payload).ok()?;
        if envelope.from == self.instance {
            return None;
        }
        let valid = match &envelope.event {
            Event::Invalidate {
                user_id, tenant, ..
            } => Event::user(user_id, tenant.as_deref()).is_some(),
            Event::Suppressions { hashes, .. } => {
                hashes.len() <= MAX_EVENT_HASHES && hashes.iter().all(|h| is_hash_hex(h))
            }
            _ => true,
        };
        valid.then_some(envelope.event)
    }

    /// Count one call of `connector` in the current window of every replica; `false` when the
    /// window's `requests` are used up.
    pub async fn take_from_window(
        &self,
        connector: &str,
        requests: u32,
        window: Duration,
    ) -> Result<bool, RedisError> {
        let Some(link) = &self.link else {
            return Ok(true);
        };
        let window_ms = u64::try_from(window.as_millis()).unwrap_or(u64::MAX).max(1);
        let index = crate::clock::unix_ms(std::time::SystemTime::now()) / window_ms;
        let key = self.keys.rate_window(connector, index);
        let mut invocation = self.take_from_window.key(key);
        invocation.arg(requests).arg(window_ms);
        let allowed: i64 = link.script(invocation).await?;
        Ok(allowed == 1)
    }

    /// The command that takes `user`'s lock (in the user's hash slot, beside their other keys) for `ttl` (`SET NX PX`, answering `OK` or nil),
    /// and the token that releases it: for callers that send it in a pipeline with other
    /// commands of the same user (the cache's writes release it, in their script).
    pub fn lock_command(&self, user: &UserKey, ttl: Duration) -> (redis::Cmd, String) {
        let token = uuid::Uuid::new_v4().to_string();
        let mut set = redis::cmd("SET");
        set.arg(self.keys.lock(user))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        (set, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coordination() -> Coordination {
        Coordination::new(None, Keys::new("t:"))
    }

    fn envelope(from: &str, event: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"from": from, "event": event})).unwrap()
    }

    #[test]
    fn other_replicas_valid_events_are_read() {
        let here = coordination();
        let event = here.read(&envelope(
            "elsewhere",
            serde_json::json!({"kind": "invalidate", "user_id": "u-1"}),
        ));
        assert_eq!(
            event,
            Some(Event::Invalidate {
                user_id: "u-1".into(),
                tenant: None,
                erased: false
            })
        );
        let tenant = here.read(&envelope(
            "elsewhere",
            serde_json::json!({"kind": "invalidate", "user_id": "u-1", "tenant": "marketing", "erased": true}),
        ));
        assert_eq!(
            tenant,
            Some(Event::invalidate(
                &UserKey::new(&Tenant::parse("marketing").unwrap(), "u-1"),
                true
            ))
        );
        let hash = "ab".repeat(32);
        assert_eq!(
            here.read(&envelope(
                "elsewhere",
                serde_json::json!({"kind": "suppressions", "hashes": [hash]}),
            )),
            Some(Event::Suppressions {
                hashes: vec![hash],
                lifted: false
            })
        );
        let own = envelope(
            &here.instance,
            serde_json::json!({"kind": "invalidate", "user_id": "u-1"}),
        );
        assert_eq!(here.read(&own), None, "our own events are skipped");
    }

    #[test]
    fn hostile_messages_are_ignored() {
        let here = coordination();
        let bad_user = envelope(
            "elsewhere",
            serde_json::json!({"kind": "invalidate", "user_id": "a b{c}"}),
        );
        let bad_tenant = envelope(
            "elsewhere",
            serde_json::json!({"kind": "invalidate", "user_id": "u-1", "tenant": "Bad Tenant"}),
        );
        let default_spelled_out = envelope(
            "elsewhere",
            serde_json::json!({"kind": "invalidate", "user_id": "u-1", "tenant": "default"}),
        );
        let bad_hash = envelope(
            "elsewhere",
            serde_json::json!({"kind": "suppressions", "hashes": ["AB".repeat(32)]}),
        );
        let short_hash = envelope(
            "elsewhere",
            serde_json::json!({"kind": "suppressions", "hashes": ["ab"]}),
        );
        let many_hashes = envelope(
            "elsewhere",
            serde_json::json!({"kind": "suppressions", "hashes": vec!["ab".repeat(32); MAX_EVENT_HASHES + 1]}),
        );
        let unknown = envelope("elsewhere", serde_json::json!({"kind": "explode"}));
        let huge = envelope(
            "elsewhere",
            serde_json::json!({"kind": "reload", "connector": "x".repeat(MAX_EVENT_BYTES)}),
        );
        for message in [
            bad_user,
            bad_tenant,
            default_spelled_out,
            bad_hash,
            short_hash,
            many_hashes,
            unknown,
            huge,
            b"not json".to_vec(),
        ] {
            assert_eq!(here.read(&message), None);
        }
    }
}

//! How replicas cooperate through Redis: events on one pub/sub channel (cache invalidation,
//! upstream rate-limit waits), a short per-user lock so that one replica fans out while the
//! others wait for its result, and rate-limit windows counted atomically.
//!
//! Without Redis every operation is a no-op that says so: one process has nobody to tell.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::redis_link::{RedisError, RedisLink};

/// Something every replica should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Drop the in-process copy of this user's profile.
    Invalidate { user_id: String },
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

#[derive(Serialize, Deserialize)]
struct Envelope {
    from: String,
    event: Event,
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

const RELEASE_LOCK: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

pub struct Coordination {
    link: Option<RedisLink>,
    prefix: String,
    channel: String,
    /// This replica's id, to ignore its own events.
    instance: String,
    take_from_window: redis::Script,
}

impl Coordination {
    pub fn new(link: Option<RedisLink>, prefix: &str) -> Coordination {
        Coordination {
            link,
            prefix: prefix.to_owned(),
            channel: format!("{prefix}events"),
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
        let Some(link) = &self.link else { return };
        let envelope = Envelope {
            from: self.instance.clone(),
            event,
        };
        let payload = serde_json::to_string(&envelope).expect("events serialize");
        let mut publish = redis::cmd("PUBLISH");
        publish.arg(&self.channel).arg(payload);
        if let Err(err) = link.run::<i64>(&publish).await {
            tracing::debug!(error = %err, "Could not publish an event to the other replicas.");
        }
    }

    /// Listen for other replicas' events until the process ends, reconnecting as needed.
    /// After every (re)connection the handler first gets `ResetLocal`.
    pub fn listen(self: &Arc<Self>, handler: impl Fn(Event) + Send + Sync + 'static) {
        let Some(link) = self.link.clone() else {
            return;
        };
        let this = self.clone();
        tokio::spawn(async move {
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
                                let Ok(envelope) =
                                    serde_json::from_slice::<Envelope>(message.get_payload_bytes())
                                else {
                                    continue;
                                };
                                if envelope.from != this.instance {
                                    handler(envelope.event);
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
        let index = crate::cache::unix_ms(std::time::SystemTime::now()) / window_ms;
        let key = format!("{}ratelimit:{{{connector}}}:{index}", self.prefix);
        let mut invocation = self.take_from_window.key(key);
        invocation.arg(requests).arg(window_ms);
        let allowed: i64 = link.script(invocation).await?;
        Ok(allowed == 1)
    }

    /// The command that takes `user_id`'s lock for `ttl` (`SET NX PX`, answering `OK` or nil),
    /// and the token that releases it: for callers that send it in a pipeline with other
    /// commands of the same user.
    pub fn lock_command(&self, user_id: &str, ttl: Duration) -> (redis::Cmd, String) {
        let token = uuid::Uuid::new_v4().to_string();
        let mut set = redis::cmd("SET");
        set.arg(self.lock_key(user_id))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1));
        (set, token)
    }

    /// The command that releases a lock taken with [`lock_command`](Self::lock_command) if
    /// it is still ours (compare and delete, in Lua): for callers that send it in a pipeline
    /// with other writes of the same user.
    pub fn unlock_command(&self, user_id: &str, token: &str) -> redis::Cmd {
        let mut eval = redis::cmd("EVAL");
        eval.arg(RELEASE_LOCK)
            .arg(1)
            .arg(self.lock_key(user_id))
            .arg(token);
        eval
    }

    /// The lock key lives in the user's hash slot, beside the user's other keys.
    pub fn lock_key(&self, user_id: &str) -> String {
        format!("{}{{{user_id}}}:lock", self.prefix)
    }
}

//! The audit trail: who erased, suppressed, lifted or changed what, and when. Each entry has
//! the time, the actor (the key's `name`, never the key), the tenant, the action, its targets
//! (user ids and identifiers only as keyed hashes), the outcome and the request id.
//!
//! Kept in a capped Redis stream, `<prefix>audit` (`XADD ... MAXLEN ~ privacy.audit_max_entries`),
//! read newest first by `GET /v1/audit`. Without Redis (or while it is down) each entry is
//! also an `audit` log line, and the last entries are kept in process for `GET /v1/audit`.

use std::{
    collections::VecDeque,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::SystemTime,
};

use serde::Serialize;
use utoipa::ToSchema;

use super::hashing::{KeyedHasher, to_hex};
use crate::{
    clock::unix_ms,
    domain::{Tenant, UserKey},
    keys::Keys,
    redis_link::{RedisError, RedisLink},
};

/// The most entries kept in process (without Redis).
const MAX_LOCAL_ENTRIES: usize = 10_000;

/// The most entries one read returns.
pub const MAX_READ: usize = 1000;

/// One recorded action.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct AuditEntry {
    /// Its id in the trail (`<unix ms>-<sequence>`); pass it as `before` to read older ones.
    #[schema(example = "1764518400000-0")]
    pub id: String,
    /// When (RFC 3339, UTC).
    #[schema(example = "2026-11-30T16:00:00.000Z")]
    pub time: String,
    /// The `name` of the key that acted (`api-key-1` for an unnamed one, `anonymous` with
    /// authentication off, `sighup` for a configuration reload by signal).
    #[schema(example = "crm-sync")]
    pub actor: String,
    #[schema(example = "marketing")]
    pub tenant: String,
    /// `erase`, `suppress`, `lift`, `connector.enable`, `connector.disable`,
    /// `connector.reload`, `connectors.discover`, `config.reload`.
    #[schema(example = "erase")]
    pub action: String,
    /// What it acted on: `user:<keyed hash>`, `email:<keyed hash>`, ..., or a connector's name.
    pub targets: Vec<String>,
    /// `ok`, or what went wrong.
    #[schema(example = "ok")]
    pub outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An action to record.
pub struct Action<'a> {
    pub actor: &'a str,
    pub tenant: &'a Tenant,
    pub action: &'a str,
    pub targets: Vec<String>,
    pub outcome: &'a str,
}

/// Writes and reads the trail.
pub struct Audit {
    link: Option<RedisLink>,
    key: String,
    max_entries: u64,
    hasher: Option<KeyedHasher>,
    local: Mutex<VecDeque<AuditEntry>>,
    sequence: AtomicU64,
}

impl Audit {
    pub fn new(
        link: Option<RedisLink>,
        keys: &Keys,
        max_entries: u64,
        hasher: Option<KeyedHasher>,
    ) -> Audit {
        Audit {
            link,
            key: keys.audit(),
            max_entries,
            hasher,
            local: Mutex::new(VecDeque::new()),
            sequence: AtomicU64::new(0),
        }
    }

    /// How the trail names a user: `user:<keyed hash>` (just `user` without
    /// `privacy.hash_key`: never the id itself).
    pub fn user_target(&self, user: &UserKey) -> String {
        match &self.hasher {
            Some(hasher) => {
                let hash = hasher.hash(&user.tenant(), &format!("user_id:{}", user.user_id()));
                format!("user:{}", to_hex(&hash))
            }
            None => "user".to_owned(),
        }
    }

    /// Record `action`. A trail that cannot be written is logged, never an error for the
    /// caller: the action itself has happened.
    pub async fn record(&self, action: Action<'_>) {
        let now = SystemTime::now();
        let mut entry = AuditEntry {
            id: String::new(),
            time: humantime::format_rfc3339_millis(now).to_string(),
            actor: action.actor.to_owned(),
            tenant: action.tenant.to_string(),
            action: action.action.to_owned(),
            targets: action.targets,
            outcome: action.outcome.to_owned(),
            request_id: crate::telemetry::request_id(),
        };
        if let Some(link) = &self.link {
            match self.append(link, &entry).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::warn!(error = %err, "Could not write the audit trail to Redis; logged instead.")
                }
            }
        }
        entry.id = format!(
            "{}-{}",
            unix_ms(now),
            self.sequence.fetch_add(1, Ordering::Relaxed)
        );
        tracing::info!(
            target: "audit",
            actor = %entry.actor,
            tenant = %entry.tenant,
            action = %entry.action,
            targets = %entry.targets.join(" "),
            outcome = %entry.outcome,
            "audit"
        );
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.len() >= MAX_LOCAL_ENTRIES {
            local.pop_front();
        }
        local.push_back(entry);
    }

    async fn append(&self, link: &RedisLink, entry: &AuditEntry) -> Result<(), RedisError> {
        let mut xadd = redis::cmd("XADD");
        xadd.arg(&self.key)
            .arg("MAXLEN")
            .arg("~")
            .arg(self.max_entries)
            .arg("*")
            .arg("time")
            .arg(&entry.time)
            .arg("actor")
            .arg(&entry.actor)
            .arg("tenant")
            .arg(&entry.tenant)
            .arg("action")
            .arg(&entry.action)
            .arg("targets")
            .arg(entry.targets.join(" "))
            .arg("outcome")
            .arg(&entry.outcome);
        if let Some(id) = &entry.request_id {
            xadd.arg("request_id").arg(id);
        }
        link.run::<String>(&xadd).await.map(|_| ())
    }

    /// Up to `limit` entries, newest first, older than the entry `before` when given (an id
    /// checked by [`is_entry_id`]).
    pub async fn read(
        &self,
        limit: usize,
        before: Option<&str>,
    ) -> Result<Vec<AuditEntry>, RedisError> {
        let limit = limit.min(MAX_READ);
        let Some(link) = &self.link else {
            let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            let older = |entry: &&AuditEntry| {
                before.is_none_or(|b| entry_order(&entry.id) < entry_order(b))
            };
            return Ok(local
                .iter()
                .rev()
                .filter(older)
                .take(limit)
                .cloned()
                .collect());
        };
        let mut range = redis::cmd("XREVRANGE");
        range
            .arg(&self.key)
            .arg(before.map_or_else(|| "+".to_owned(), |id| format!("({id}")))
            .arg("-")
            .arg("COUNT")
            .arg(limit);
        let found: Vec<(String, Vec<String>)> = link.run(&range).await?;
        Ok(found
            .into_iter()
            .map(|(id, fields)| entry_of(id, fields))
            .collect())
    }
}

/// An entry as the stream holds it: fields and values alternating. Missing fields are empty
/// (the stream may hold entries a later version added fields to).
fn entry_of(id: String, fields: Vec<String>) -> AuditEntry {
    let mut entry = AuditEntry {
        id,
        time: String::new(),
        actor: String::new(),
        tenant: String::new(),
        action: String::new(),
        targets: Vec::new(),
        outcome: String::new(),
        request_id: None,
    };
    let mut pairs = fields.into_iter();
    while let (Some(field), Some(value)) = (pairs.next(), pairs.next()) {
        match field.as_str() {
            "time" => entry.time = value,
            "actor" => entry.actor = value,
            "tenant" => entry.tenant = value,
            "action" => entry.action = value,
            "targets" => {
                entry.targets = value.split_whitespace().map(str::to_owned).collect();
            }
            "outcome" => entry.outcome = value,
            "request_id" => entry.request_id = Some(value),
            _ => {}
        }
    }
    entry
}

/// Whether `text` is an entry id (`<ms>-<sequence>`, as Redis streams write them).
pub fn is_entry_id(text: &str) -> bool {
    let Some((ms, sequence)) = text.split_once('-') else {
        return false;
    };
    let number = |part: &str| {
        (1..=20).contains(&part.len())
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.parse::<u64>().is_ok()
    };
    number(ms) && number(sequence)
}

/// An entry id as numbers, for ordering (ids are checked before they get here).
fn entry_order(id: &str) -> (u64, u64) {
    let (ms, sequence) = id.split_once('-').unwrap_or((id, "0"));
    (ms.parse().unwrap_or(0), sequence.parse().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit() -> Audit {
        Audit::new(None, &Keys::new("t:"), 100, None)
    }

    async fn record(audit: &Audit, action: &str) {
        audit
            .record(Action {
                actor: "crm-sync",
                tenant: &Tenant::default(),
                action,
                targets: vec!["user".to_owned()],
                outcome: "ok",
            })
            .await;
    }

    #[tokio::test]
    async fn without_redis_the_last_entries_are_read_newest_first() {
        let audit = audit();
        for action in ["erase", "suppress", "lift"] {
            record(&audit, action).await;
        }
        let all = audit.read(10, None).await.unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(actions, ["lift", "suppress", "erase"]);
        assert_eq!(all[0].actor, "crm-sync");
        let older = audit.read(1, Some(&all[0].id)).await.unwrap();
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].action, "suppress");
        let oldest = audit.read(10, Some(&all[2].id)).await.unwrap();
        assert!(oldest.is_empty());
    }

    #[tokio::test]
    async fn the_local_trail_is_bounded() {
        let audit = audit();
        for _ in 0..MAX_LOCAL_ENTRIES + 5 {
            record(&audit, "erase").await;
        }
        assert_eq!(audit.local.lock().unwrap().len(), MAX_LOCAL_ENTRIES);
        assert_eq!(audit.read(5000, None).await.unwrap().len(), MAX_READ);
    }

    #[test]
    fn users_are_named_by_keyed_hash_only() {
        let user = UserKey::of_default("u-42");
        assert_eq!(audit().user_target(&user), "user");
        let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [3u8; 32]);
        let hasher = KeyedHasher::from_base64(&key).unwrap();
        let hashed = Audit::new(None, &Keys::new("t:"), 100, Some(hasher));
        let target = hashed.user_target(&user);
        assert!(
            target.starts_with("user:") && target.len() == 5 + 64,
            "{target}"
        );
        assert!(!target.contains("u-42"));
        let other_tenant = UserKey::new(&Tenant::parse("marketing").unwrap(), "u-42");
        assert_ne!(hashed.user_target(&other_tenant), target);
    }

    #[test]
    fn entry_ids_are_checked() {
        for good in ["0-0", "1764518400000-12"] {
            assert!(is_entry_id(good), "{good}");
        }
        for bad in [
            "",
            "-",
            "1-",
            "-1",
            "1-2-3",
            "a-1",
            "+",
            "(1-2",
            "+1-2",
            "1-+2",
            &"9".repeat(21),
        ] {
            assert!(!is_entry_id(bad), "{bad}");
        }
        assert!(entry_order("2-1") < entry_order("10-0"));
    }

    #[test]
    fn stream_fields_become_an_entry() {
        let fields = [
            "time",
            "t",
            "actor",
            "a",
            "tenant",
            "m",
            "action",
            "erase",
            "targets",
            "user:x email:y",
            "outcome",
            "ok",
            "request_id",
            "r-1",
            "new",
            "z",
            "dangling",
        ];
        let entry = entry_of("1-0".into(), fields.iter().map(|f| f.to_string()).collect());
        assert_eq!(
            entry,
            AuditEntry {
                id: "1-0".into(),
                time: "t".into(),
                actor: "a".into(),
                tenant: "m".into(),
                action: "erase".into(),
                targets: vec!["user:x".into(), "email:y".into()],
                outcome: "ok".into(),
                request_id: Some("r-1".into()),
            }
        );
        let bare = entry_of("2-0".into(), vec!["actor".into(), "a".into()]);
        assert_eq!(bare.request_id, None);
        assert!(bare.targets.is_empty());
    }
}

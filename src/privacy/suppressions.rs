//! Suppressions (the right to object): identifiers that enrichd must not enrich again, kept
//! only as keyed hashes ([`super::hashing`]) and never expiring. Shared through Redis (a set,
//! `<prefix>suppressions`, of 32-byte hashes) or, without Redis, kept in `privacy.state_file`.
//!
//! Every replica holds the whole set in process, loaded at start, kept current by the
//! `suppressions` event and re-read after its event subscription reconnects — so checking a
//! subject costs no round trip, and nothing at all while the set is empty. A replica that has
//! not loaded the set yet (Redis was down at start) refuses to enrich rather than enrich a
//! subject it may have been told to leave alone.

use std::{
    collections::HashSet,
    path::PathBuf,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use enrichd_sdk::Subject;
use serde::{Deserialize, Serialize};

use super::hashing::{Hash, KeyedHasher, from_hex, identifiers, label, to_hex};
use crate::{
    coordination::{Coordination, Event},
    domain::Tenant,
    keys::Keys,
    redis_link::RedisLink,
    tasks::Tasks,
};

/// How often a replica that could not load the set tries again.
const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// Whether a subject may be enriched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Clear,
    /// One of its identifiers is suppressed.
    Suppressed,
    /// The set is not loaded yet: nobody can tell.
    Unknown,
}

/// Why suppressions could not be changed.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    #[error("suppressions need privacy.hash_key (32 bytes of base64) to be configured")]
    Unconfigured,
    #[error("the suppression list holds its maximum of {0} entries (privacy.max_suppressions)")]
    Full(usize),
    #[error("the suppression list could not be saved, so nothing changed: {0}")]
    Store(String),
}

/// The suppression list of every tenant.
pub struct Suppressions {
    hasher: Option<KeyedHasher>,
    store: Store,
    max: usize,
    coordination: Arc<Coordination>,
    set: RwLock<HashSet<Hash>>,
    /// The size of `set`, read without its lock (the check of every request).
    len: AtomicUsize,
    loaded: AtomicBool,
    /// Changes one at a time, so that a file is never written by two at once.
    changing: tokio::sync::Mutex<()>,
}

enum Store {
    Redis { link: RedisLink, key: String },
    File(PathBuf),
}

/// The file's contents.
#[derive(Default, Serialize, Deserialize)]
struct StateFile {
    suppressions: Vec<String>,
}

impl Suppressions {
    /// The list, kept in Redis when `link` is given, else in `file`; without `hasher`
    /// (`privacy.hash_key`), suppression is off and every subject is clear.
    pub fn new(
        hasher: Option<KeyedHasher>,
        link: Option<RedisLink>,
        keys: &Keys,
        file: PathBuf,
        max: usize,
        coordination: Arc<Coordination>,
    ) -> Suppressions {
        let store = match link {
            Some(link) => Store::Redis {
                link,
                key: keys.suppressions(),
            },
            None => Store::File(file),
        };
        Suppressions {
            loaded: AtomicBool::new(hasher.is_none()),
            hasher,
            store,
            max,
            coordination,
            set: RwLock::new(HashSet::new()),
            len: AtomicUsize::new(0),
            changing: tokio::sync::Mutex::new(()),
        }
    }

    /// The key identifiers are hashed with, when configured.
    pub fn hasher(&self) -> Option<&KeyedHasher> {
        self.hasher.as_ref()
    }

    /// How many identifiers are suppressed, over every tenant.
    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    /// Whether nothing is suppressed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the list is known (loaded, or suppression is off).
    pub fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }

    /// Whether [`check`](Self::check) may refuse anything now: suppression is on, and the
    /// list is not loaded yet or holds something. Two atomic reads.
    pub fn may_block(&self) -> bool {
        self.hasher.is_some() && (!self.is_loaded() || !self.is_empty())
    }

    /// Whether `subject` of `tenant` may be enriched: costs one atomic read while no
    /// identifier is suppressed.
    pub fn check(&self, tenant: &Tenant, subject: &Subject) -> Verdict {
        let Some(hasher) = &self.hasher else {
            return Verdict::Clear;
        };
        if !self.is_loaded() {
            return Verdict::Unknown;
        }
        if self.is_empty() {
            return Verdict::Clear;
        }
        let hashes = hasher.hashes(tenant, subject);
        let set = self.read();
        if hashes.iter().any(|hash| set.contains(hash)) {
            Verdict::Suppressed
        } else {
            Verdict::Clear
        }
    }

    /// Suppress every identifier of `subject` of `tenant` (durably, then here, then on every
    /// replica); how the audit trail names them ([`label`]).
    pub async fn suppress(
        &self,
        tenant: &Tenant,
        subject: &Subject,
    ) -> Result<Vec<String>, SuppressError> {
        self.change(tenant, subject, false).await
    }

    /// Lift the suppression of every identifier of `subject` of `tenant`.
    pub async fn lift(
        &self,
        tenant: &Tenant,
        subject: &Subject,
    ) -> Result<Vec<String>, SuppressError> {
        self.change(tenant, subject, true).await
    }

    async fn change(
        &self,
        tenant: &Tenant,
        subject: &Subject,
        lift: bool,
    ) -> Result<Vec<String>, SuppressError> {
        let hasher = self.hasher.as_ref().ok_or(SuppressError::Unconfigured)?;
        let identifiers = identifiers(subject);
        let hashes: Vec<Hash> = identifiers
            .iter()
            .map(|identifier| hasher.hash(tenant, identifier))
            .collect();
        let _one_at_a_time = self.changing.lock().await;
        if !lift {
            let new = {
                let set = self.read();
                hashes.iter().filter(|h| !set.contains(*h)).count()
            };
            if self.len.load(Ordering::Acquire) + new > self.max {
                return Err(SuppressError::Full(self.max));
            }
        }
        self.save(&hashes, lift).await?;
        self.apply(&hashes, lift);
        self.coordination
            .publish(Event::Suppressions {
                hashes: hashes.iter().map(to_hex).collect(),
                lifted: lift,
            })
            .await;
        Ok(identifiers
            .iter()
            .zip(&hashes)
            .map(|(identifier, hash)| label(identifier, hash))
            .collect())
    }

    /// Write a change where the list is kept.
    async fn save(&self, hashes: &[Hash], lift: bool) -> Result<(), SuppressError> {
        match &self.store {
            Store::Redis { link, key } => {
                let mut command = redis::cmd(if lift { "SREM" } else { "SADD" });
                command.arg(key);
                for hash in hashes {
                    command.arg(&hash[..]);
                }
                link.run::<i64>(&command)
                    .await
                    .map(|_| ())
                    .map_err(|err| SuppressError::Store(err.to_string()))
            }
            Store::File(path) => {
                let mut all = self.read().clone();
                for hash in hashes {
                    if lift {
                        all.remove(hash);
                    } else {
                        all.insert(*hash);
                    }
                }
                let mut all: Vec<Hash> = all.into_iter().collect();
                all.sort_unstable();
                let state = StateFile {
                    suppressions: all.iter().map(to_hex).collect(),
                };
                let tmp = path.with_extension("tmp");
                let json = serde_json::to_vec(&state).expect("the state serializes");
                std::fs::write(&tmp, json)
                    .and_then(|()| std::fs::rename(&tmp, path))
                    .map_err(|err| {
                        SuppressError::Store(format!("cannot write {}: {err}", path.display()))
                    })
            }
        }
    }

    /// Apply a change here (made here, or announced by another replica).
    pub fn apply(&self, hashes: &[Hash], lift: bool) {
        let mut set = self.set.write().unwrap_or_else(|p| p.into_inner());
        for hash in hashes {
            if lift {
                set.remove(hash);
            } else if set.len() < self.max {
                set.insert(*hash);
            }
        }
        self.len.store(set.len(), Ordering::Release);
    }

    /// Another replica's change, as its event carries it (already checked to be hex).
    pub fn apply_event(&self, hashes: &[String], lift: bool) {
        let hashes: Vec<Hash> = hashes.iter().filter_map(|h| from_hex(h)).collect();
        self.apply(&hashes, lift);
    }

    /// Read the whole list from where it is kept, replacing the one held here.
    pub async fn load(&self) -> Result<(), String> {
        if self.hasher.is_none() {
            return Ok(());
        }
        let found = match &self.store {
            Store::Redis { link, key } => {
                let mut found = HashSet::new();
                let mut cursor = 0u64;
                loop {
                    let mut scan = redis::cmd("SSCAN");
                    scan.arg(key).arg(cursor).arg("COUNT").arg(1000);
                    let (next, members): (u64, Vec<Vec<u8>>) =
                        link.run(&scan).await.map_err(|err| err.to_string())?;
                    found.extend(members.iter().filter_map(|m| Hash::try_from(&m[..]).ok()));
                    if found.len() > self.max {
                        return Err(format!(
                            "Redis holds more than privacy.max_suppressions ({}) suppressions",
                            self.max
                        ));
                    }
                    cursor = next;
                    if cursor == 0 {
                        break found;
                    }
                }
            }
            Store::File(path) => read_file(path, self.max)?,
        };
        let mut set = self.set.write().unwrap_or_else(|p| p.into_inner());
        *set = found;
        self.len.store(set.len(), Ordering::Release);
        self.loaded.store(true, Ordering::Release);
        Ok(())
    }

    /// Load the list now, and keep trying in the background until it is loaded.
    pub async fn load_or_keep_trying(self: &Arc<Self>, tasks: &Tasks) {
        if let Err(err) = self.load().await {
            tracing::warn!(error = %err, "Could not load the suppression list; enrichment is refused until it is.");
            let this = self.clone();
            tasks.spawn(async move {
                loop {
                    tokio::time::sleep(RELOAD_EVERY).await;
                    if this.load().await.is_ok() {
                        tracing::info!("Suppression list loaded.");
                        return;
                    }
                }
            });
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashSet<Hash>> {
        self.set.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// The list in `path`: none when the file does not exist yet; an error when it cannot be
/// read or is not what enrichd writes (refusing to enrich beats forgetting suppressions).
fn read_file(path: &std::path::Path, max: usize) -> Result<HashSet<Hash>, String> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
    };
    let state: StateFile = serde_json::from_slice(&bytes)
        .map_err(|err| format!("{} is not a suppression list: {err}", path.display()))?;
    if state.suppressions.len() > max {
        return Err(format!(
            "{} holds more than privacy.max_suppressions ({max}) suppressions",
            path.display()
        ));
    }
    state
        .suppressions
        .iter()
        .map(|hex| {
            from_hex(hex).ok_or_else(|| format!("{} holds a malformed hash", path.display()))
        })
        .collect()
}

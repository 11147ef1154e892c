//! The configured connector instances, held as an immutable snapshot that requests share.
//!
//! A request takes the current [`RegistrySnapshot`] once and uses it to the end, so swapping
//! in a new snapshot (enable, disable, reload, discover) never changes the connectors under a
//! request in flight. An instance that a swap replaces is shut down once the last request using
//! it has finished.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use enrichd_sdk::{Connector, ConnectorMetadata};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::{Factories, manifests::Manifest, stats::ConnectorStats};
use crate::{
    config::{Config, ConfigError, ConfigIssue, ConnectorConfig},
    resilience::ConnectorGuard,
    tasks::Tasks,
};

/// The longest a retired instance waits for the requests still using it before it is shut
/// down anyway.
const RETIRE_WITHIN: Duration = Duration::from_secs(60);

/// Where a connector's configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `connectors:` in `config.yaml`.
    Config,
    /// A manifest file in `connectors_dir`.
    Manifest { file: String, fingerprint: u64 },
}

/// One configured connector: its settings, what it is, and its instance when enabled.
pub struct ConnectorEntry {
    /// The configured name (the key under `connectors:`, or the manifest's file stem).
    pub name: String,
    pub config: ConnectorConfig,
    pub origin: Origin,
    pub metadata: ConnectorMetadata,
    /// `None` while the connector is disabled.
    pub instance: Option<Arc<dyn Connector>>,
    /// Confidence of its answers (configured, else the connector's default).
    pub confidence: f64,
    /// Freshness of its answers.
    pub ttl: Duration,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Position in `enrichment.priority` (unlisted connectors rank after all listed ones).
    pub priority_rank: usize,
    /// Circuit breaker, rate limit and upstream wait of this connector.
    pub guard: ConnectorGuard,
    /// Usage and health, kept across instances of the same name.
    pub stats: Arc<ConnectorStats>,
    /// Cancelled when this entry is dropped, i.e. when the last request using it is done.
    released: CancellationToken,
    _release_on_drop: DropGuard,
}

/// The connectors as they are at one moment.
pub struct RegistrySnapshot {
    entries: Vec<Arc<ConnectorEntry>>,
}

impl RegistrySnapshot {
    /// Every connector, by name.
    pub fn entries(&self) -> &[Arc<ConnectorEntry>] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Option<&Arc<ConnectorEntry>> {
        self.entries.iter().find(|e| e.name == name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }
}

/// What a change to one connector needs that is not in its own entry.
struct Context {
    priority: Vec<String>,
    deadline_ms: u64,
    /// Whether Redis is there for cluster-wide rate limits.
    shared: bool,
    /// The share of each rate limit bulk jobs may take.
    bulk_share: f64,
}

/// The live set of connectors.
pub struct ConnectorRegistry {
    current: RwLock<Arc<RegistrySnapshot>>,
    factories: Factories,
    context: Mutex<Context>,
    stats: Mutex<HashMap<String, Arc<ConnectorStats>>>,
    /// Owns the shutdowns of retired instances.
    tasks: Tasks,
}

/// A connector's desired form: its configuration, where it came from, and whether enabled.
pub struct Desired {
    pub config: ConnectorConfig,
    pub origin: Origin,
}

impl ConnectorRegistry {
    /// Build every connector of `config` and the valid `manifests`, with `overrides` (runtime
    /// state) winning over `enabled`. Settings were validated with the config, so a failure
    /// here is unexpected, but it is still reported with the key path.
    pub fn build(
        config: &Config,
        factories: &Factories,
        shared: bool,
        manifests: &BTreeMap<String, Manifest>,
        overrides: &BTreeMap<String, bool>,
        tasks: Tasks,
    ) -> Result<ConnectorRegistry, ConfigError> {
        let registry = ConnectorRegistry {
            current: RwLock::new(Arc::new(RegistrySnapshot {
                entries: Vec::new(),
            })),
            factories: factories.clone(),
            context: Mutex::new(Context {
                priority: config.enrichment.priority.clone(),
                deadline_ms: config.enrichment.deadline_ms,
                shared,
                bulk_share: config.jobs.max_share,
            }),
            stats: Mutex::new(HashMap::new()),
            tasks,
        };
        let desired = desired_of(config, manifests);
        let mut issues = Vec::new();
        let mut entries = Vec::new();
        for (name, want) in desired {
            let enabled = overrides.get(&name).copied().unwrap_or(want.config.enabled);
            match registry.entry(&name, want.config, want.origin, enabled) {
                Ok(entry) => entries.push(Arc::new(entry)),
                Err(found) => issues.extend(found),
            }
        }
        if !issues.is_empty() {
            return Err(ConfigError {
                origin: "the connector settings".into(),
                issues,
            });
        }
        *registry.current.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(RegistrySnapshot { entries });
        Ok(registry)
    }

    /// The connectors as they are now. Cheap: a read lock and an `Arc` clone.
    pub fn snapshot(&self) -> Arc<RegistrySnapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The factories this registry builds with.
    pub fn factories(&self) -> &Factories {
        &self.factories
    }

    /// Build one entry (its instance only when `enabled`).
    pub fn entry(
        &self,
        name: &str,
        config: ConnectorConfig,
        origin: Origin,
        enabled: bool,
    ) -> Result<ConnectorEntry, Vec<ConfigIssue>> {
        let Some(factory) = self.factories.get(&config.kind) else {
            return Err(vec![ConfigIssue::new(
                format!("connectors.{name}.kind"),
                format!("unknown connector kind `{}`", config.kind),
            )]);
        };
        let instance = if enabled {
            let built = factory.build(&config.settings).map_err(|found| {
                found
                    .into_iter()
                    .map(|issue| {
                        ConfigIssue::new(
                            format!("connectors.{name}.settings.{}", issue.path),
                            issue.message,
                        )
                    })
                    .collect::<Vec<_>>()
            })?;
            Some(built)
        } else {
            None
        };
        // A built connector describes itself (a declarative one from its manifest).
        let metadata = instance
            .as_ref()
            .map_or_else(|| factory.metadata(), |i| i.metadata().clone());
        let context = self.context.lock().unwrap_or_else(|p| p.into_inner());
        let priority_rank = context
            .priority
            .iter()
            .position(|p| p == name)
            .unwrap_or(context.priority.len());
        let stats = self
            .stats
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(name.to_owned())
            .or_default()
            .clone();
        let mut config = config;
        config.enabled = enabled;
        let released = CancellationToken::new();
        Ok(ConnectorEntry {
            _release_on_drop: released.clone().drop_guard(),
            released,
            name: name.to_owned(),
            confidence: config.confidence.unwrap_or(metadata.default_confidence),
            ttl: Duration::from_secs(config.ttl_seconds.unwrap_or(metadata.default_ttl_seconds)),
            timeout: Duration::from_millis(config.timeout_ms.unwrap_or(context.deadline_ms)),
            guard: ConnectorGuard::new(&config, context.shared, context.bulk_share),
            config,
            origin,
            metadata,
            instance,
            priority_rank,
            stats,
        })
    }

    /// Put `entry` in place of the connector of the same name (or add it), atomically.
    pub fn put(&self, entry: ConnectorEntry) {
        self.swap(|entries| {
            entries.retain(|e| e.name != entry.name);
            entries.push(Arc::new(entry));
        });
    }

    /// Remove a connector, atomically.
    pub fn remove(&self, name: &str) {
        self.swap(|entries| entries.retain(|e| e.name != name));
    }

    /// Replace the snapshot by an edited copy; instances that are no longer used are shut
    /// down once every request holding them has finished.
    fn swap(&self, edit: impl FnOnce(&mut Vec<Arc<ConnectorEntry>>)) {
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut entries = current.entries.clone();
        edit(&mut entries);
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let old = std::mem::replace(&mut *current, Arc::new(RegistrySnapshot { entries }));
        let kept: Vec<*const ConnectorEntry> = current.entries.iter().map(Arc::as_ptr).collect();
        drop(current);
        for retired in old
            .entries
            .iter()
            .filter(|e| !kept.contains(&Arc::as_ptr(e)))
        {
            self.retire(retired.clone());
        }
    }

    /// Shut a replaced instance down once the last request using its entry has let go of it
    /// (woken by the entry's drop, not by polling), or after [`RETIRE_WITHIN`].
    fn retire(&self, entry: Arc<ConnectorEntry>) {
        let Some(instance) = entry.instance.clone() else {
            return;
        };
        let released = entry.released.clone();
        let name = entry.name.clone();
        drop(entry);
        self.tasks.spawn(async move {
            let _ = tokio::time::timeout(RETIRE_WITHIN, released.cancelled()).await;
            instance.shutdown().await;
            tracing::info!(connector = %name, "Retired connector instance shut down.");
        });
    }

    /// Shut every enabled connector down (at process exit).
    pub async fn shutdown_all(&self) {
        for entry in self.snapshot().entries() {
            if let Some(instance) = &entry.instance {
                instance.shutdown().await;
            }
        }
    }
}

/// Every connector `config` and `manifests` ask for, by name (config wins a name clash).
pub fn desired_of(
    config: &Config,
    manifests: &BTreeMap<String, Manifest>,
) -> BTreeMap<String, Desired> {
    let mut desired: BTreeMap<String, Desired> = manifests
        .iter()
        .map(|(name, manifest)| {
            (
                name.clone(),
                Desired {
                    config: manifest.config.clone(),
                    origin: Origin::Manifest {
                        file: manifest.file.clone(),
                        fingerprint: manifest.fingerprint,
                    },
                },
            )
        })
        .collect();
    for (name, connector) in &config.connectors {
        if desired.contains_key(name) {
            tracing::warn!(connector = %name, "A manifest in connectors_dir has the name of a configured connector; the configuration wins.");
        }
        desired.insert(
            name.clone(),
            Desired {
                config: connector.clone(),
                origin: Origin::Config,
            },
        );
    }
    desired
}

//! The configured connector instances, held as an immutable snapshot that requests share.
//!
//! A request takes the current [`RegistrySnapshot`] once and uses it to the end, so swapping
//! in a new snapshot (enable, disable, reload) never changes the connectors under a request
//! in flight.

use std::{
    sync::{Arc, RwLock},
    time::Duration,
};

use enrichd_sdk::{Connector, ConnectorMetadata};

use super::Factories;
use crate::{
    config::{Config, ConfigError, ConfigIssue, ConnectorConfig},
    resilience::ConnectorGuard,
};

/// One configured connector: its settings, what it is, and its instance when enabled.
pub struct ConnectorEntry {
    /// The configured name (the key under `connectors:`).
    pub name: String,
    pub config: ConnectorConfig,
    pub metadata: ConnectorMetadata,
    /// `None` while the connector is disabled.
    pub instance: Option<Arc<dyn Connector>>,
    /// Confidence of its answers (configured, else the connector's default).
    pub confidence: f64,
    /// Freshness of its answers.
    pub ttl: Duration,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Position in `enrichment.priority` (unlisted connectors rank after, by name).
    pub priority_rank: usize,
    /// Circuit breaker, rate limit and upstream wait of this connector.
    pub guard: ConnectorGuard,
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
}

/// The live set of connectors.
pub struct ConnectorRegistry {
    current: RwLock<Arc<RegistrySnapshot>>,
}

impl ConnectorRegistry {
    /// Build every enabled connector of `config`. Settings were validated with the config, so
    /// a failure here is unexpected, but it is still reported with the key path. `shared` says
    /// whether Redis is there for cluster-wide rate limits.
    pub fn build(
        config: &Config,
        factories: &Factories,
        shared: bool,
    ) -> Result<ConnectorRegistry, ConfigError> {
        let mut issues = Vec::new();
        let mut entries = Vec::new();
        let mut unlisted: Vec<&String> = config
            .connectors
            .keys()
            .filter(|name| !config.enrichment.priority.contains(name))
            .collect();
        unlisted.sort();
        for (name, connector) in &config.connectors {
            let Some(factory) = factories.get(&connector.kind) else {
                issues.push(ConfigIssue::new(
                    format!("connectors.{name}.kind"),
                    format!("unknown connector kind `{}`", connector.kind),
                ));
                continue;
            };
            let instance = if connector.enabled {
                match factory.build(&connector.settings) {
                    Ok(instance) => Some(instance),
                    Err(found) => {
                        issues.extend(found.into_iter().map(|issue| {
                            ConfigIssue::new(
                                format!("connectors.{name}.settings.{}", issue.path),
                                issue.message,
                            )
                        }));
                        continue;
                    }
                }
            } else {
                None
            };
            // A built connector describes itself (a declarative one from its manifest).
            let metadata = instance
                .as_ref()
                .map_or_else(|| factory.metadata(), |i| i.metadata().clone());
            let priority_rank = match config.enrichment.priority.iter().position(|p| p == name) {
                Some(rank) => rank,
                None => {
                    config.enrichment.priority.len()
                        + unlisted.iter().position(|n| *n == name).unwrap_or(0)
                }
            };
            entries.push(Arc::new(ConnectorEntry {
                name: name.clone(),
                confidence: connector.confidence.unwrap_or(metadata.default_confidence),
                ttl: Duration::from_secs(
                    connector
                        .ttl_seconds
                        .unwrap_or(metadata.default_ttl_seconds),
                ),
                timeout: Duration::from_millis(
                    connector
                        .timeout_ms
                        .unwrap_or(config.enrichment.deadline_ms),
                ),
                guard: ConnectorGuard::new(connector, shared),
                config: connector.clone(),
                metadata,
                instance,
                priority_rank,
            }));
        }
        if !issues.is_empty() {
            return Err(ConfigError {
                origin: "the connector settings".into(),
                issues,
            });
        }
        Ok(ConnectorRegistry {
            current: RwLock::new(Arc::new(RegistrySnapshot { entries })),
        })
    }

    /// The connectors as they are now. Cheap: one lock-free-in-practice read and an `Arc` clone.
    pub fn snapshot(&self) -> Arc<RegistrySnapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
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

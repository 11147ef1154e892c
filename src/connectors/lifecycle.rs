//! Connector lifecycle at runtime: enable, disable, reload, discover and configuration
//! reloads, applied on every replica and durable across restarts; and the background health
//! checker.
//!
//! An operator's decision is written to the runtime state (Redis, else a local file) before it
//! is applied, then broadcast: each replica re-reads the state (or rebuilds, or rescans) when
//! the event arrives, within the pub/sub latency.

use std::{
    collections::BTreeMap,
    path::Path,
    sync::{Arc, Mutex},
    time::Duration,
};

use enrichd_sdk::{EnrichContext, Subject};
use serde::Serialize;

use super::{
    ConnectorRegistry, Factories,
    manifests::{self, Scan},
    registry::{Origin, desired_of},
    state::{RuntimeState, StateError},
};
use crate::{
    config::{Config, ConfigError, ConfigIssue},
    coordination::{Coordination, Event},
    metrics::Metrics,
    tasks::Tasks,
};

/// Why an operator's request could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("There is no connector `{0}`.")]
    UnknownConnector(String),
    #[error("The connector's settings are not valid: {}", .0.iter().map(|i| i.to_string()).collect::<Vec<_>>().join("; "))]
    InvalidSettings(Vec<ConfigIssue>),
    #[error("The runtime state could not be saved, so the change was not made: {0}")]
    State(#[from] StateError),
    #[error("Connector `{0}` comes from a manifest that no longer exists; run discover.")]
    ManifestGone(String),
}

/// What a discovery found and did.
#[derive(Debug, Default, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DiscoverReport {
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    #[schema(inline)]
    pub refused: Vec<Refused>,
}

#[derive(Debug, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Refused {
    pub file: String,
    pub reasons: Vec<String>,
}

pub struct Lifecycle {
    registry: Arc<ConnectorRegistry>,
    state: RuntimeState,
    coordination: Arc<Coordination>,
    metrics: Arc<Metrics>,
    config: Mutex<Arc<Config>>,
}

impl Lifecycle {
    pub fn new(
        registry: Arc<ConnectorRegistry>,
        state: RuntimeState,
        coordination: Arc<Coordination>,
        metrics: Arc<Metrics>,
        config: Config,
    ) -> Lifecycle {
        Lifecycle {
            registry,
            state,
            coordination,
            metrics,
            config: Mutex::new(Arc::new(config)),
        }
    }

    /// The configuration in force (the last one loaded or reloaded).
    pub fn config(&self) -> Arc<Config> {
        self.config
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Enable or disable a connector on every replica, durably.
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), LifecycleError> {
        let snapshot = self.registry.snapshot();
        let current = snapshot
            .get(name)
            .ok_or_else(|| LifecycleError::UnknownConnector(name.to_owned()))?;
        // Build first: an enable that cannot work is refused before anything is recorded.
        let entry = self
            .registry
            .entry(
                name,
                current.config.clone(),
                current.origin.clone(),
                enabled,
            )
            .map_err(LifecycleError::InvalidSettings)?;
        self.state.set(name, enabled).await?;
        if current.instance.is_some() != enabled {
            self.registry.put(entry);
        }
        tracing::info!(connector = %name, enabled, "Connector state changed by an operator.");
        self.coordination.publish(Event::ConnectorState).await;
        Ok(())
    }

    /// Rebuild a connector's instance from its current configuration, on every replica.
    pub async fn reload(&self, name: &str) -> Result<(), LifecycleError> {
        self.reload_here(name)?;
        self.coordination
            .publish(Event::Reload {
                connector: name.to_owned(),
            })
            .await;
        Ok(())
    }

    /// Rebuild one connector in this process.
    pub fn reload_here(&self, name: &str) -> Result<(), LifecycleError> {
        let snapshot = self.registry.snapshot();
        let current = snapshot
            .get(name)
            .ok_or_else(|| LifecycleError::UnknownConnector(name.to_owned()))?;
        let config = self.config();
        let (connector, origin) = match &current.origin {
            Origin::Config => (
                config
                    .connectors
                    .get(name)
                    .cloned()
                    .unwrap_or_else(|| current.config.clone()),
                Origin::Config,
            ),
            Origin::Manifest { .. } => {
                let scan = self.scan(&config);
                let manifest = scan
                    .manifests
                    .get(name)
                    .ok_or_else(|| LifecycleError::ManifestGone(name.to_owned()))?;
                (
                    manifest.config.clone(),
                    Origin::Manifest {
                        file: manifest.file.clone(),
                        fingerprint: manifest.fingerprint,
                    },
                )
            }
        };
        let entry = self
            .registry
            .entry(name, connector, origin, current.instance.is_some())
            .map_err(LifecycleError::InvalidSettings)?;
        self.registry.put(entry);
        tracing::info!(connector = %name, "Connector reloaded.");
        Ok(())
    }

    /// Rescan `connectors_dir` and activate what changed, on every replica.
    pub async fn discover(&self) -> DiscoverReport {
        let report = self.discover_here().await;
        self.coordination.publish(Event::Discover).await;
        report
    }

    /// Rescan `connectors_dir` in this process.
    pub async fn discover_here(&self) -> DiscoverReport {
        let config = self.config();
        let scan = self.scan(&config);
        let overrides = self.state.load().await.unwrap_or_default();
        let snapshot = self.registry.snapshot();
        let mut report = DiscoverReport {
            refused: scan
                .refused
                .iter()
                .map(|(file, issues)| Refused {
                    file: file.clone(),
                    reasons: issues.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            ..DiscoverReport::default()
        };
        for (name, manifest) in &scan.manifests {
            let existing = snapshot.get(name);
            if existing.is_some_and(|e| e.origin == Origin::Config) {
                report.refused.push(Refused {
                    file: manifest.file.clone(),
                    reasons: vec![format!("`{name}` is already a connector of config.yaml")],
                });
                continue;
            }
            let origin = Origin::Manifest {
                file: manifest.file.clone(),
                fingerprint: manifest.fingerprint,
            };
            if existing.is_some_and(|e| e.origin == origin) {
                continue;
            }
            let enabled = overrides
                .get(name)
                .copied()
                .unwrap_or(manifest.config.enabled);
            match self
                .registry
                .entry(name, manifest.config.clone(), origin, enabled)
            {
                Ok(entry) => {
                    self.registry.put(entry);
                    if existing.is_some() {
                        report.changed.push(name.clone());
                    } else {
                        report.added.push(name.clone());
                    }
                }
                Err(issues) => report.refused.push(Refused {
                    file: manifest.file.clone(),
                    reasons: issues.iter().map(ToString::to_string).collect(),
                }),
            }
        }
        for entry in snapshot.entries() {
            if matches!(entry.origin, Origin::Manifest { .. })
                && !scan.manifests.contains_key(&entry.name)
            {
                self.registry.remove(&entry.name);
                report.removed.push(entry.name.clone());
            }
        }
        if report != DiscoverReport::default() {
            tracing::info!(
                added = report.added.len(),
                changed = report.changed.len(),
                removed = report.removed.len(),
                refused = report.refused.len(),
                "Rescanned connectors_dir."
            );
        }
        report
    }

    /// Apply the runtime state (another replica's decision) here.
    pub async fn apply_state(&self) {
        let Ok(state) = self.state.load().await else {
            tracing::warn!("Could not read the runtime connector state.");
            return;
        };
        for (name, enabled) in state {
            let snapshot = self.registry.snapshot();
            let Some(current) = snapshot.get(&name) else {
                continue;
            };
            if current.instance.is_some() == enabled {
                continue;
            }
            match self.registry.entry(
                &name,
                current.config.clone(),
                current.origin.clone(),
                enabled,
            ) {
                Ok(entry) => self.registry.put(entry),
                Err(issues) => {
                    tracing::warn!(connector = %name, problems = issues.len(), "Could not apply a connector state change.")
                }
            }
        }
    }

    /// Re-read the configuration file (SIGHUP). An invalid file is refused whole: the old
    /// configuration stays, the problems are logged and counted.
    pub async fn reload_config(
        &self,
        path: &Path,
        factories: &Factories,
    ) -> Result<(), ConfigError> {
        let result = self.apply_config(path, factories).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        self.metrics
            .config_reloads
            .with_label_values(&[outcome])
            .inc();
        if let Err(err) = &result {
            tracing::error!(problems = err.issues.len(), error = %err, "Configuration reload refused; the old configuration stays.");
        }
        result
    }

    /// Read the configuration file and apply its connectors, all or nothing.
    async fn apply_config(&self, path: &Path, factories: &Factories) -> Result<(), ConfigError> {
        let new = Config::load(Some(path), factories)?;
        let scan = self.scan(&new);
        let overrides = self.state.load().await.unwrap_or_default();
        let desired = desired_of(&new, &scan.manifests);
        let snapshot = self.registry.snapshot();
        let mut built = Vec::new();
        let mut issues = Vec::new();
        for (name, want) in desired.iter() {
            let enabled = overrides.get(name).copied().unwrap_or(want.config.enabled);
            let unchanged = snapshot.get(name).is_some_and(|e| {
                e.origin == want.origin
                    && e.instance.is_some() == enabled
                    && ConnectorConfigView(&e.config) == ConnectorConfigView(&want.config)
            });
            if unchanged {
                continue;
            }
            match self
                .registry
                .entry(name, want.config.clone(), want.origin.clone(), enabled)
            {
                Ok(entry) => built.push(entry),
                Err(found) => issues.extend(found),
            }
        }
        if !issues.is_empty() {
            return Err(ConfigError {
                origin: path.display().to_string(),
                issues,
            });
        }
        for entry in built {
            self.registry.put(entry);
        }
        for entry in snapshot.entries() {
            if !desired.contains_key(&entry.name) {
                self.registry.remove(&entry.name);
            }
        }
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
        tracing::info!(
            "Configuration reloaded; connectors, budgets and waterfalls applied (other sections take effect at restart)."
        );
        Ok(())
    }

    fn scan(&self, config: &Config) -> Scan {
        match &config.connectors_dir {
            Some(dir) => manifests::scan(dir, self.registry.factories(), &|name| {
                std::env::var(name).ok()
            }),
            None => Scan::default(),
        }
    }

    /// Check every enabled connector every `interval`: its canary subject when configured
    /// (the check must find that person), else its own `health()`.
    pub fn spawn_health_checker(self: &Arc<Self>, http: reqwest::Client, tasks: &Tasks) {
        let this = self.clone();
        let config = self.config();
        if !config.health_check.enabled {
            return;
        }
        let interval = Duration::from_secs(config.health_check.interval_seconds);
        let timeout = Duration::from_millis(config.health_check.timeout_ms);
        tasks.spawn(async move {
            loop {
                this.check_health(&http, timeout).await;
                tokio::time::sleep(interval).await;
            }
        });
    }

    /// One round of health checks, all connectors concurrently.
    pub async fn check_health(&self, http: &reqwest::Client, timeout: Duration) {
        let snapshot = self.registry.snapshot();
        let checks = snapshot.entries().iter().map(|entry| async move {
            let name = entry.name.as_str();
            let Some(instance) = &entry.instance else {
                let _ = self.metrics.connector_healthy.remove_label_values(&[name]);
                return;
            };
            let ctx = EnrichContext::new(http.clone(), tokio::time::Instant::now() + timeout)
                .with_max_response_bytes(entry.config.max_response_bytes);
            let check = async {
                match &entry.config.canary {
                    Some(canary) => {
                        let subject = Subject {
                            user_id: "canary".into(),
                            email: canary.email.clone(),
                            phone: canary.phone.clone(),
                            handles: canary.handles.clone(),
                        };
                        match instance.enrich(&subject, &ctx).await {
                            Ok(_) => Ok(()),
                            Err(err) if err.code == enrichd_sdk::ErrorCode::NotFound => {
                                Err("canary: the known person was not found".to_owned())
                            }
                            Err(err) => Err(format!("canary: {err}")),
                        }
                    }
                    None => instance.health(&ctx).await.map_err(|err| err.to_string()),
                }
            };
            let result = tokio::time::timeout(timeout, check)
                .await
                .unwrap_or_else(|_| {
                    Err(format!(
                        "timeout: no answer within {} ms",
                        timeout.as_millis()
                    ))
                });
            if let Err(error) = &result {
                tracing::warn!(connector = %name, error = %error, "Connector health check failed.");
            }
            let health = entry.stats.checked(result);
            self.metrics
                .connector_healthy
                .with_label_values(&[name])
                .set(i64::from(health.status == "healthy"));
        });
        futures_util::future::join_all(checks).await;
    }

    /// Current runtime overrides (for start-up).
    pub async fn overrides(state: &RuntimeState) -> BTreeMap<String, bool> {
        state.load().await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "Could not read the runtime connector state; using config.yaml's.");
            BTreeMap::new()
        })
    }
}

/// Compares connector configurations ignoring `enabled` (runtime state decides that).
struct ConnectorConfigView<'a>(&'a crate::config::ConnectorConfig);

impl PartialEq for ConnectorConfigView<'_> {
    fn eq(&self, other: &Self) -> bool {
        let mut a = self.0.clone();
        let mut b = other.0.clone();
        a.enabled = true;
        b.enabled = true;
        a == b
    }
}

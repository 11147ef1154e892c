//! Building and running the application: the same path for `enrichd serve`, the demo and the
//! black-box tests (which bind port 0 and ask for the real port).

use std::{net::TcpListener, sync::Arc, time::Duration};

use actix_web::{App, HttpServer, dev::Server, middleware::from_fn, web};
use anyhow::Context;

use crate::{
    api::{self, AppState, Authenticator, BodyLimits, Listener, Phase, PhaseCell},
    cache::ProfileCache,
    clock::unix_ms,
    config::Config,
    connectors::{ConnectorRegistry, Factories, Lifecycle, RuntimeState, manifests},
    coordination::{Coordination, Event},
    domain::{Tenant, micros},
    enrichment::{Enricher, Services},
    jobs::{Jobs, Work},
    keys::Keys,
    metrics::Metrics,
    privacy::{Action, Audit, Suppressions},
    redis_link::RedisLink,
    spend::Ledger,
    tasks::Tasks,
    traces::Traces,
    upstream_http::UpstreamHttp,
};

/// Job submissions read at once (each may be `jobs.max_body_bytes`).
const JOB_SUBMISSIONS: usize = 2;

/// How long shutdown waits for the background tasks it cancelled to let go.
const TASKS_GRACE: Duration = Duration::from_secs(5);

/// A built, bound, not yet running enrichd.
pub struct Application {
    port: u16,
    server: Server,
    /// The operator's listener (`server.admin_bind`), when it is apart.
    admin: Option<(u16, Server)>,
    state: web::Data<AppState>,
    tasks: Tasks,
    drain_delay: Duration,
    stop_signals: StopSignals,
}

impl Application {
    /// Build with the connectors compiled into this binary.
    pub async fn build(config: Config) -> anyhow::Result<Application> {
        Application::build_with(config, &Factories::builtin()).await
    }

    /// Build with the given connector factories, and bind the listener.
    pub async fn build_with(config: Config, factories: &Factories) -> anyhow::Result<Application> {
        // Before the listener is bound: a stop signal sent once the port answers is a drain,
        // not the default kill.
        let stop_signals = StopSignals::listen();
        let metrics = Arc::new(Metrics::labelled(config.metrics.tenant_label));
        let tasks = Tasks::new();
        let link = redis_link(&config).context("Failed to set up the Redis connection")?;
        let keys = Keys::new(&config.cache.key_prefix);
        let coordination = Arc::new(Coordination::new(link.clone(), keys.clone()));
        let state = RuntimeState::new(link.clone(), &keys, config.state_file.clone());
        let overrides = Lifecycle::overrides(&state).await;
        let scan = match &config.connectors_dir {
            Some(dir) => manifests::scan(dir, factories, &|name| std::env::var(name).ok()),
            None => manifests::Scan::default(),
        };
        for (file, issues) in &scan.refused {
            for issue in issues {
                tracing::error!(file = %file, problem = %issue, "Connector manifest refused.");
            }
        }
        let registry = Arc::new(ConnectorRegistry::build(
            &config,
            factories,
            link.is_some(),
            &scan.manifests,
            &overrides,
            tasks.clone(),
        )?);
        let suppressions = Arc::new(Suppressions::new(
            config.hasher.clone(),
            link.clone(),
            &keys,
            config.privacy.state_file.clone(),
            config.privacy.max_suppressions,
            coordination.clone(),
        ));
        suppressions.load_or_keep_trying(&tasks).await;
        let audit = Arc::new(Audit::new(
            link.clone(),
            &keys,
            config.privacy.audit_max_entries,
            config.hasher.clone(),
        ));
        let ledger = Arc::new(Ledger::new(link.clone(), keys.clone(), budgets_of(&config)));
        ledger.spawn_flusher(&tasks);
        let jobs = Arc::new(
            Jobs::new(
                &config.jobs,
                link.clone(),
                keys.clone(),
                config.sealer.clone(),
                metrics.clone(),
                tasks.clone(),
            )
            .context("Failed to build the webhooks' HTTP client")?,
        );
        let cache = Arc::new(ProfileCache::new(
            config.cache.local_capacity,
            link,
            keys,
            config.sealer.clone(),
            coordination.clone(),
            metrics.clone(),
        ));
        let lifecycle = Arc::new(Lifecycle::new(
            registry.clone(),
            state,
            coordination.clone(),
            metrics.clone(),
            config.clone(),
        ));
        let http = UpstreamHttp::new()?;
        lifecycle.spawn_health_checker(http.shared(), &tasks);
        let reloads = Reloads {
            lifecycle: lifecycle.clone(),
            audit: audit.clone(),
            ledger: ledger.clone(),
        };
        let traces = match &config.telemetry.otlp {
            Some(otlp) => Traces::start(otlp, http.shared())
                .context("Failed to set up the OTLP trace exporter")?,
            None => Traces::off(),
        };
        let enricher = Enricher::new(
            &config,
            registry.clone(),
            cache.clone(),
            Services {
                http,
                coordination: coordination.clone(),
                metrics: metrics.clone(),
                tasks: tasks.clone(),
                traces: traces.clone(),
                suppressions: suppressions.clone(),
                ledger: ledger.clone(),
            },
        );
        if let Some(path) = config.path.clone() {
            reload_on_sighup(&tasks, reloads, enricher.clone(), path, factories.clone());
        }
        jobs.spawn_workers(Work {
            enricher: enricher.clone(),
            registry: registry.clone(),
            describe: api::describe_job_error,
        });
        let others = Replicas {
            cache: cache.clone(),
            registry: registry.clone(),
            lifecycle: lifecycle.clone(),
            enricher: enricher.clone(),
            suppressions: suppressions.clone(),
            tasks: tasks.clone(),
            max_wait_ms: config
                .enrichment
                .max_retry_after_seconds
                .saturating_mul(1000),
        };
        coordination.listen(&tasks, move |event| others.apply(event));
        let auth = Authenticator::new(&config.auth);
        if !auth.enabled() {
            tracing::warn!(
                "AUTHENTICATION IS OFF: no auth.api_keys or auth.admin_tokens are configured, so \
                 anyone who can reach this port can enrich and erase profiles. Set \
                 ENRICHD_API_KEY and ENRICHD_ADMIN_TOKEN in production."
            );
        }
        let state = web::Data::new(AppState {
            enricher,
            registry,
            lifecycle,
            cache,
            metrics,
            auth,
            body: BodyLimits {
                max_bytes: config.server.max_body_bytes,
                timeout: Duration::from_millis(config.server.body_timeout_ms),
            },
            batch_concurrency: config.enrichment.batch_concurrency,
            traces,
            suppressions,
            audit,
            ledger,
            jobs,
            job_submissions: tokio::sync::Semaphore::new(JOB_SUBMISSIONS),
            phase: PhaseCell::default(),
        });

        let (public, admin) = match &config.server.admin_bind {
            Some(admin_bind) => (
                Listener::Public,
                Some((admin_bind.as_str(), Listener::Admin)),
            ),
            None => (Listener::All, None),
        };
        let (port, server) = serve(&config, &state, &config.server.bind, public)?;
        let admin = admin
            .map(|(bind, routes)| serve(&config, &state, bind, routes))
            .transpose()?;
        state.set_phase(Phase::Ready);
        tracing::info!(
            port,
            admin_port = admin.as_ref().map(|(port, _)| *port),
            redis =
                !config.cache.redis_url.is_empty() || !config.cache.redis_cluster_nodes.is_empty(),
            "enrichd is listening."
        );
        Ok(Application {
            port,
            server,
            admin,
            state,
            tasks,
            drain_delay: Duration::from_secs(config.server.drain_delay_seconds),
            stop_signals,
        })
    }

    /// The port actually bound (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the admin listener, when `server.admin_bind` is set.
    pub fn admin_port(&self) -> Option<u16> {
        self.admin.as_ref().map(|(port, _)| *port)
    }

    /// The shared state, for tests that look inside.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The application's background tasks (for tests that look inside).
    pub fn tasks(&self) -> Tasks {
        self.tasks.clone()
    }

    /// Serve until SIGTERM or SIGINT, then drain: readiness turns 503 at once, the service
    /// keeps answering for `server.drain_delay_seconds` (while load balancers notice), then
    /// the listener closes, in-flight requests finish (up to
    /// `server.shutdown_timeout_seconds`), the writes they queued land, every background task
    /// is cancelled and waited for, and connectors shut down.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let handle = self.server.handle();
        let (admin_server, admin_handle) = match self.admin {
            Some((_, server)) => {
                let handle = server.handle();
                (Some(server), Some(handle))
            }
            None => (None, None),
        };
        let state = self.state.clone();
        let drain_delay = self.drain_delay;
        let stop_signals = self.stop_signals;
        // Waits for a signal, then asks the server to stop gracefully; the server future
        // below completes once the drain is over. The admin listener (probes, metrics) stops
        // last, so that the drain stays observable.
        let on_signal = self.tasks.spawn(async move {
            stop_signals.wait().await;
            tracing::info!("Stop signal received; draining in-flight requests.");
            state.set_phase(Phase::Draining);
            tokio::time::sleep(drain_delay).await;
            handle.stop(true).await;
            if let Some(admin) = admin_handle {
                admin.stop(true).await;
            }
        });
        let served = match admin_server {
            Some(admin) => {
                let (public, admin) = tokio::join!(self.server, admin);
                public.and(admin)
            }
            None => self.server.await,
        };
        on_signal.abort();
        self.state.set_phase(Phase::Draining);
        self.state.enricher.settle().await;
        if !self.tasks.shutdown(TASKS_GRACE).await {
            tracing::warn!(
                still_running = self.tasks.running(),
                "Some background tasks did not stop in time."
            );
        }
        // The calls' spend not written yet (the flusher has stopped with the other tasks).
        self.state.ledger.flush().await;
        self.state.registry.shutdown_all().await;
        self.state.traces.shutdown().await;
        tracing::info!("enrichd stopped.");
        served
    }
}

/// Bind `bind` and start an HTTP server on it serving `routes`: its port and its server.
fn serve(
    config: &Config,
    state: &web::Data<AppState>,
    bind: &str,
    routes: Listener,
) -> anyhow::Result<(u16, Server)> {
    let listener = TcpListener::bind(bind).with_context(|| format!("Failed to bind {bind}"))?;
    let port = listener.local_addr()?.port();
    let state = state.clone();
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(api::observe))
            .configure(routes.routes())
    })
    .shutdown_timeout(config.server.shutdown_timeout_seconds)
    .disable_signals();
    if let Some(workers) = config.server.workers {
        server = server.workers(workers);
    }
    Ok((port, server.listen(listener)?.run()))
}

/// The Redis of `config` (single, Cluster or Sentinel), if any.
fn redis_link(config: &Config) -> Result<Option<RedisLink>, crate::redis_link::RedisError> {
    let timeout = Duration::from_millis(config.cache.timeout_ms);
    config
        .redis_target()
        .map(|target| RedisLink::open(&target, &config.redis_tls, timeout))
        .transpose()
}

/// What other replicas' events act on here.
struct Replicas {
    cache: Arc<ProfileCache>,
    registry: Arc<ConnectorRegistry>,
    lifecycle: Arc<Lifecycle>,
    enricher: Enricher,
    suppressions: Arc<Suppressions>,
    tasks: Tasks,
    /// The longest wait another replica may impose on a connector, in ms.
    max_wait_ms: u64,
}

impl Replicas {
    /// Apply another replica's event: drop (or, erased, forget) a user's profile, honour an
    /// upstream's wait (capped: the channel is untrusted), follow lifecycle changes. After the
    /// subscription reconnects (`ResetLocal`), what may have been missed is re-read.
    fn apply(&self, event: Event) {
        match event {
            Event::Invalidate {
                user_id,
                tenant,
                erased,
            } => {
                let Some(user) = Event::user(&user_id, tenant.as_deref()) else {
                    return;
                };
                let cache = self.cache.clone();
                let enricher = self.enricher.clone();
                self.tasks.spawn(async move {
                    if erased {
                        cache.forget(&user).await;
                    } else {
                        cache.drop_local(&user).await;
                        enricher.profile_arrived(&user);
                    }
                });
            }
            Event::Block {
                connector,
                until_ms,
            } => {
                if let Some(entry) = self.registry.snapshot().get(&connector) {
                    let latest = unix_ms(std::time::SystemTime::now()) + self.max_wait_ms;
                    entry.guard.block_until(until_ms.min(latest));
                }
            }
            Event::Suppressions { hashes, lifted } => {
                self.suppressions.apply_event(&hashes, lifted);
            }
            Event::ResetLocal => {
                self.cache.clear_local();
                // So may suppressions.
                let suppressions = self.suppressions.clone();
                self.tasks.spawn(async move {
                    if let Err(err) = suppressions.load().await {
                        tracing::warn!(error = %err, "Could not re-read the suppression list.");
                    }
                });
                // Lifecycle events may have been missed too: the runtime state in Redis says.
                self.apply(Event::ConnectorState);
            }
            Event::ConnectorState => {
                let lifecycle = self.lifecycle.clone();
                self.tasks
                    .spawn(async move { lifecycle.apply_state().await });
            }
            Event::Reload { connector } => {
                if let Err(err) = self.lifecycle.reload_here(&connector) {
                    tracing::warn!(connector = %connector, error = %err, "Could not apply another replica's reload.");
                }
            }
            Event::Discover => {
                let lifecycle = self.lifecycle.clone();
                self.tasks.spawn(async move {
                    lifecycle.discover_here().await;
                });
            }
        }
    }
}

/// The daily budgets of `config`, in micro-credits.
fn budgets_of(config: &Config) -> std::collections::BTreeMap<Tenant, u64> {
    config
        .budgets
        .iter()
        .map(|(tenant, daily)| (tenant.clone(), micros(*daily)))
        .collect()
}

/// What a configuration reload applies to.
struct Reloads {
    lifecycle: Arc<Lifecycle>,
    audit: Arc<Audit>,
    ledger: Arc<Ledger>,
}

/// `SIGHUP` re-reads the configuration file; an invalid one is refused whole. Connectors,
/// budgets and waterfalls are applied; other sections take effect at the next restart.
fn reload_on_sighup(
    tasks: &Tasks,
    reloads: Reloads,
    enricher: Enricher,
    path: std::path::PathBuf,
    factories: Factories,
) {
    let Reloads {
        lifecycle,
        audit,
        ledger,
    } = reloads;
    #[cfg(unix)]
    tasks.spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut hangups) = signal(SignalKind::hangup()) else {
            return;
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP received; reloading the configuration.");
            let outcome = match lifecycle.reload_config(&path, &factories).await {
                Ok(_) => {
                    let config = lifecycle.config();
                    ledger.set_budgets(budgets_of(&config));
                    enricher.set_waterfalls(&config);
                    "ok".to_owned()
                }
                Err(err) => format!("refused: {} problem(s)", err.issues.len()),
            };
            audit
                .record(Action {
                    actor: "sighup",
                    tenant: &Tenant::default(),
                    action: "config.reload",
                    targets: Vec::new(),
                    outcome: &outcome,
                })
                .await;
        }
    });
    #[cfg(not(unix))]
    let _ = (tasks, lifecycle, audit, ledger, enricher, path, factories);
}

/// SIGTERM and SIGINT (Ctrl-C elsewhere), listened for from when they are made: one that
/// comes before [`wait`](Self::wait) is polled is kept for it.
struct StopSignals {
    #[cfg(unix)]
    listening: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    /// Must be called within a Tokio runtime.
    fn listen() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            StopSignals {
                listening: signal(SignalKind::terminate())
                    .and_then(|term| Ok((term, signal(SignalKind::interrupt())?)))
                    .ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Until a stop signal comes (forever when they could not be listened for).
    async fn wait(self) {
        #[cfg(unix)]
        {
            let Some((mut term, mut int)) = self.listening else {
                std::future::pending::<()>().await;
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

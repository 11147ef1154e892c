//! The HTTP API (PRODUCT.md §3): routes, shared state, authentication, errors.

mod auth;
mod body;
mod connectors;
mod console;
mod docs;
mod enrich;
mod error;
mod health;
mod jobs;
mod observe;
pub mod openapi;
mod pages;
mod privacy;
mod profiles;
mod query;
pub mod schemas;
mod usage;

use std::sync::{
    Arc,
    atomic::{AtomicU8, Ordering},
};

use actix_web::{HttpRequest, HttpResponse, Resource, web};

pub use self::{
    auth::{Authenticator, Caller},
    body::BodyLimits,
    error::ApiError,
    jobs::describe as describe_job_error,
    observe::observe,
};
use crate::{
    cache::ProfileCache,
    connectors::{ConnectorRegistry, Lifecycle},
    domain::{EnrichRequest, EnrichRequestBody, FieldError, Tenant},
    enrichment::Enricher,
    metrics::Metrics,
    privacy::{Action, Audit, Suppressions},
};

/// Where the process is in its life, as `/readyz` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting = 0,
    Ready = 1,
    Draining = 2,
}

/// Everything handlers share.
pub struct AppState {
    pub enricher: Enricher,
    pub registry: Arc<ConnectorRegistry>,
    pub lifecycle: Arc<Lifecycle>,
    pub cache: Arc<ProfileCache>,
    pub metrics: Arc<Metrics>,
    pub auth: Authenticator,
    pub body: BodyLimits,
    pub batch_concurrency: usize,
    /// OpenTelemetry traces (off unless `telemetry.otlp` is set).
    pub traces: crate::traces::Traces,
    pub suppressions: Arc<Suppressions>,
    pub audit: Arc<Audit>,
    /// What each tenant spends (`GET /v1/usage`, dry runs).
    pub ledger: Arc<crate::spend::Ledger>,
    /// Bulk jobs.
    pub jobs: Arc<crate::jobs::Jobs>,
    /// Job submissions being read at once (their bodies are large).
    pub job_submissions: tokio::sync::Semaphore,
    /// Where the process is in its life (starts as [`Phase::Starting`]).
    pub phase: PhaseCell,
}

/// A [`Phase`], shared by the listeners and the signal handler.
#[derive(Debug)]
pub struct PhaseCell(AtomicU8);

impl Default for PhaseCell {
    fn default() -> PhaseCell {
        PhaseCell(AtomicU8::new(Phase::Starting as u8))
    }
}

impl AppState {
    pub fn phase(&self) -> Phase {
        match self.phase.0.load(Ordering::Acquire) {
            0 => Phase::Starting,
            1 => Phase::Ready,
            _ => Phase::Draining,
        }
    }

    pub fn set_phase(&self, phase: Phase) {
        self.phase.0.store(phase as u8, Ordering::Release);
    }

    /// Validate an enrichment request of `tenant` against the connectors configured now.
    pub fn enrich_request(
        &self,
        body: EnrichRequestBody,
        tenant: &Tenant,
    ) -> Result<EnrichRequest, FieldError> {
        let snapshot = self.registry.snapshot();
        let mut request = EnrichRequest::parse(body, &|name| snapshot.contains(name))?;
        request.tenant = tenant.clone();
        Ok(request)
    }

    /// Record an action in the audit trail, as `caller`'s.
    pub async fn record(&self, caller: &Caller, action: &str, targets: Vec<String>, outcome: &str) {
        self.audit
            .record(Action {
                actor: &caller.name,
                tenant: &caller.tenant,
                action,
                targets,
                outcome,
            })
            .await;
    }
}

/// Which routes a listener serves: everything on one address, or the API and the operator's
/// routes apart (`server.admin_bind`), so that a NetworkPolicy can keep the latter inside the
/// cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Every route (no `server.admin_bind`).
    All,
    /// The enrichment, profile, job and connector-listing routes, `/openapi.json`, `/docs`
    /// and `/console`.
    Public,
    /// `/metrics`, `/healthz`, `/readyz` and the connector lifecycle (admin) routes.
    Admin,
}

impl Listener {
    /// The routes of this listener.
    pub fn routes(self) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
        move |config: &mut web::ServiceConfig| {
            // The admin routes first: `/v1/connectors/discover` before `/v1/connectors/{name}`.
            if self != Listener::Public {
                admin_routes(config);
            }
            if self != Listener::Admin {
                public_routes(config);
            }
            config.default_service(web::to(route_not_found));
        }
    }
}

/// Register every route on one listener.
pub fn routes(config: &mut web::ServiceConfig) {
    Listener::All.routes()(config);
}

/// What callers use.
fn public_routes(config: &mut web::ServiceConfig) {
    config
        .service(resource("/v1/enrich", "POST").route(web::post().to(enrich::enrich)))
        .service(resource("/v1/enrich/batch", "POST").route(web::post().to(enrich::enrich_batch)))
        .service(
            resource("/v1/profiles/{user_id}", "GET, DELETE")
                .route(web::get().to(profiles::get_profile))
                .route(web::delete().to(profiles::delete_profile)),
        )
        .service(
            resource("/v1/profiles/{user_id}/overrides", "GET, PUT")
                .route(web::get().to(profiles::get_overrides))
                .route(web::put().to(profiles::put_overrides)),
        )
        .service(resource("/v1/usage", "GET").route(web::get().to(usage::usage)))
        .service(
            resource("/v1/jobs", "GET, POST")
                .route(web::get().to(jobs::list))
                .route(web::post().to(jobs::submit)),
        )
        .service(
            resource("/v1/jobs/{id}", "GET, DELETE")
                .route(web::get().to(jobs::status))
                .route(web::delete().to(jobs::cancel)),
        )
        .service(resource("/v1/jobs/{id}/results", "GET").route(web::get().to(jobs::results)))
        .service(resource("/v1/jobs/{id}/webhook", "GET").route(web::get().to(jobs::webhook)))
        .service(
            resource("/v1/jobs/{id}/webhook/redeliver", "POST")
                .route(web::post().to(jobs::redeliver)),
        )
        .service(resource("/v1/suppressions", "POST").route(web::post().to(privacy::suppress)))
        .service(resource("/v1/suppressions/lift", "POST").route(web::post().to(privacy::lift)))
        .service(resource("/v1/connectors", "GET").route(web::get().to(connectors::list)))
        .service(resource("/v1/connectors/{name}", "GET").route(web::get().to(connectors::detail)))
        .service(resource("/openapi.json", "GET").route(web::get().to(openapi::openapi)))
        .service(resource("/console", "GET").route(web::get().to(console::page)))
        .service(resource("/console/{asset}", "GET").route(web::get().to(console::asset)))
        .service(resource("/docs", "GET").route(web::get().to(docs::page)))
        .service(resource("/docs/{asset}", "GET").route(web::get().to(docs::asset)));
}

/// What operators and the platform use: probes, metrics, the connector lifecycle.
fn admin_routes(config: &mut web::ServiceConfig) {
    config
        .service(
            resource("/v1/connectors/discover", "POST").route(web::post().to(connectors::discover)),
        )
        .service(
            resource("/v1/connectors/{name}/enable", "POST")
                .route(web::post().to(connectors::enable)),
        )
        .service(
            resource("/v1/connectors/{name}/disable", "POST")
                .route(web::post().to(connectors::disable)),
        )
        .service(
            resource("/v1/connectors/{name}/reload", "POST")
                .route(web::post().to(connectors::reload)),
        )
        .service(resource("/v1/audit", "GET").route(web::get().to(privacy::read_audit)))
        .service(resource("/healthz", "GET").route(web::get().to(health::healthz)))
        .service(resource("/readyz", "GET").route(web::get().to(health::readyz)))
        .service(resource("/metrics", "GET").route(web::get().to(health::metrics)));
}

/// A resource whose unsupported methods answer 405 in the API's error format, with `Allow`
/// listing `allow`.
fn resource(path: &str, allow: &'static str) -> Resource {
    web::resource(path).default_service(web::to(move |request: HttpRequest| async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed {
            method: request.method().to_string(),
            allow,
        })
    }))
}

async fn route_not_found(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound {
        method: request.method().to_string(),
        path: request.path().to_owned(),
    })
}

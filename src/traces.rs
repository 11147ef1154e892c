//! OpenTelemetry traces, exported over OTLP/HTTP (protobuf, to `<endpoint>/v1/traces`) when
//! `telemetry.otlp.endpoint` is set, and nothing at all when it is not.
//!
//! One span per request (its parent from the caller's W3C `traceparent`), per cache lookup,
//! per wave of connector calls and per connector call; every upstream request carries the
//! trace on (`traceparent`, `tracestate`). Attributes say what happened — the route, the
//! status, the cache result, the connector, its status, retries and latency — and never who
//! it happened to: no user id, email, phone or handle is ever an attribute or a span name.
//!
//! Spans are sampled by `telemetry.otlp.sample_ratio` (a caller's sampled `traceparent` is
//! followed), batched and exported by a task of the tracer provider; shutdown flushes them.
//! Off, [`Traces`] is `None` inside: each hook is one branch, the hit path pays nothing else.
//!
//! Everything is per application (no global provider), so that several in one process — the
//! tests — trace independently.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use actix_web::http::header::HeaderMap as ActixHeaders;
use opentelemetry::{
    Context, KeyValue,
    propagation::{Extractor, TextMapPropagator},
    trace::{SpanKind, Status, TraceContextExt, Tracer as _, TracerProvider as _},
};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{
        BatchConfigBuilder, Sampler, SdkTracer, SdkTracerProvider,
        span_processor_with_async_runtime::BatchSpanProcessor,
    },
};

use crate::config::OtlpConfig;

/// The traces of one application; cheap to clone. Off unless configured.
#[derive(Clone, Default)]
pub struct Traces(Option<Arc<Exporting>>);

struct Exporting {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    propagator: TraceContextPropagator,
    shut_down: AtomicBool,
}

impl Drop for Exporting {
    /// Dropped without [`Traces::shutdown`] (a start that failed half-way, a test), the
    /// provider would shut down in place: it blocks this thread until the exporter's task
    /// answers, and on a current-thread runtime that task never runs. Shut down on a thread of
    /// its own instead, which ends when the task answers or the runtime has dropped it.
    fn drop(&mut self) {
        if self.shut_down.load(Ordering::Acquire) {
            return;
        }
        let provider = std::mem::take(&mut self.provider);
        let tracer = std::mem::replace(&mut self.tracer, self.provider.tracer("dropped"));
        std::thread::spawn(move || {
            let _ = provider.shutdown();
            drop(tracer);
        });
    }
}

/// A span in progress, with the context its children take as parent.
#[derive(Clone)]
pub struct Traced(Context);

impl Traced {
    /// The context to run the traced work in (`opentelemetry::context::FutureExt`).
    pub fn context(&self) -> Context {
        self.0.clone()
    }

    /// Add attributes as they become known.
    pub fn record(&self, attributes: impl IntoIterator<Item = KeyValue>) {
        self.0.span().set_attributes(attributes);
    }

    /// Rename the span (the request's once its route is known).
    pub fn rename(&self, name: String) {
        self.0.span().update_name(name);
    }

    /// Mark the span failed (with a message that names no person).
    pub fn fail(&self, why: &'static str) {
        self.0.span().set_status(Status::error(why));
    }

    /// End the span now.
    pub fn end(&self) {
        self.0.span().end();
    }
}

impl Traces {
    /// Traces off: every hook does nothing.
    pub fn off() -> Traces {
        Traces(None)
    }

    /// Export to `config.endpoint` with `http` (the service's HTTP client). Spawns the
    /// exporter's task on the current runtime.
    pub fn start(config: &OtlpConfig, http: reqwest::Client) -> anyhow::Result<Traces> {
        let endpoint = format!("{}/v1/traces", config.endpoint.trim_end_matches('/'));
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(http)
            .with_endpoint(endpoint)
            .with_timeout(Duration::from_millis(config.timeout_ms))
            .build()?;
        let batches = BatchConfigBuilder::default()
            .with_scheduled_delay(Duration::from_millis(config.export_interval_ms))
            .build();
        let processor = BatchSpanProcessor::builder(exporter, opentelemetry_sdk::runtime::Tokio)
            .with_batch_config(batches)
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
                config.sample_ratio,
            ))))
            .with_resource(
                Resource::builder()
                    .with_service_name(config.service_name.clone())
                    .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                    .build(),
            )
            .build();
        let tracer = provider.tracer("enrichd");
        Ok(Traces(Some(Arc::new(Exporting {
            provider,
            tracer,
            propagator: TraceContextPropagator::new(),
            shut_down: AtomicBool::new(false),
        }))))
    }

    pub fn is_on(&self) -> bool {
        self.0.is_some()
    }

    /// The span of a request received with `headers` (its parent, when the caller sent a
    /// `traceparent`).
    pub fn request(&self, headers: &ActixHeaders, method: &'static str) -> Option<Traced> {
        let exporting = self.0.as_ref()?;
        let parent = exporting.propagator.extract(&ActixExtractor(headers));
        let span = exporting
            .tracer
            .span_builder(format!("HTTP {method}"))
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("http.request.method", method)])
            .start_with_context(&exporting.tracer, &parent);
        Some(Traced(parent.with_span(span)))
    }

    /// A span of `name` under the current one (none when tracing is off).
    pub fn child(
        &self,
        name: &'static str,
        kind: SpanKind,
        attributes: Vec<KeyValue>,
    ) -> Option<Traced> {
        let exporting = self.0.as_ref()?;
        let parent = Context::current();
        let span = exporting
            .tracer
            .span_builder(name)
            .with_kind(kind)
            .with_attributes(attributes)
            .start_with_context(&exporting.tracer, &parent);
        Some(Traced(parent.with_span(span)))
    }

    /// The W3C headers carrying `traced` on to an upstream (empty when tracing is off).
    pub fn headers(&self, traced: Option<&Traced>) -> reqwest::header::HeaderMap {
        let mut headers = reqwest::header::HeaderMap::new();
        if let (Some(exporting), Some(traced)) = (&self.0, traced) {
            exporting.propagator.inject_context(
                &traced.0,
                &mut opentelemetry_http::HeaderInjector(&mut headers),
            );
        }
        headers
    }

    /// Export what is left and stop (at shutdown). Waits off the async threads: the provider
    /// blocks until its exporter task has flushed.
    pub async fn shutdown(&self) {
        let Some(exporting) = self.0.clone() else {
            return;
        };
        exporting.shut_down.store(true, Ordering::Release);
        let flushed = tokio::task::spawn_blocking(move || exporting.provider.shutdown());
        match tokio::time::timeout(Duration::from_secs(5), flushed).await {
            Ok(Ok(Ok(()))) => {}
            _ => tracing::warn!("Could not export the last traces before stopping."),
        }
    }
}

/// Reads the caller's trace context from actix-web's headers.
struct ActixExtractor<'a>(&'a ActixHeaders);

impl Extractor for ActixExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_means_no_span_and_no_header() {
        let traces = Traces::off();
        assert!(!traces.is_on());
        assert!(traces.request(&ActixHeaders::new(), "GET").is_none());
        assert!(traces.child("x", SpanKind::Internal, Vec::new()).is_none());
        assert!(traces.headers(None).is_empty());
    }

    #[tokio::test]
    async fn a_callers_trace_is_continued_and_passed_on() {
        let config = OtlpConfig {
            endpoint: "http://127.0.0.1:9".into(),
            sample_ratio: 1.0,
            export_interval_ms: 60_000,
            timeout_ms: 100,
            service_name: "enrichd".into(),
        };
        let traces = Traces::start(&config, reqwest::Client::new()).unwrap();
        let mut headers = ActixHeaders::new();
        headers.insert(
            actix_web::http::header::HeaderName::from_static("traceparent"),
            actix_web::http::header::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let request = traces.request(&headers, "POST").unwrap();
        let passed_on = traces.headers(Some(&request));
        let traceparent = passed_on["traceparent"].to_str().unwrap();
        assert!(
            traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
            "{traceparent}"
        );
        assert!(
            !traceparent.contains("00f067aa0ba902b7"),
            "a span of our own"
        );
        request.end();
        // Dropped without `shutdown` on this current-thread runtime: must not hang.
        drop(request);
        drop(traces);
    }
}

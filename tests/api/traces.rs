//! OpenTelemetry traces (PRODUCT.md §13): a loopback OTLP/HTTP receiver decodes what enrichd
//! exports and checks the tree — request, cache lookup, wave, connector calls — the caller's
//! trace carried through and on to the upstream, and that no identifier of the subject is
//! ever in a span.

use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::{
    collector::trace::v1::ExportTraceServiceRequest,
    common::v1::{AnyValue, any_value},
    trace::v1::Span,
};
use prost::Message;
use serde_json::json;
use wiremock::{
    Mock, MockServer, ResponseTemplate,
    matchers::{method, path},
};

use crate::helpers::{TestAppBuilder, github_answering, octocat};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// An OTLP/HTTP receiver on loopback.
async fn collector() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    server
}

/// Every span the collector received so far.
async fn spans(collector: &MockServer) -> Vec<Span> {
    let mut spans = Vec::new();
    for request in collector.received_requests().await.unwrap() {
        let export = ExportTraceServiceRequest::decode(request.body.as_slice())
            .expect("an OTLP protobuf export");
        for resource in export.resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    spans
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: &Option<AnyValue>) -> String {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| text(&kv.value))
}

#[tokio::test]
async fn a_request_is_traced_from_the_caller_to_the_upstream_without_identifiers() {
    let collector = collector().await;
    let github = github_answering(octocat()).await;
    let app = TestAppBuilder::new()
        .upstream("github", &github.uri())
        .yaml(&format!(
            "telemetry: {{otlp: {{endpoint: \"{}\", sample_ratio: 0.0, export_interval_ms: 100}}}}\n",
            collector.uri()
        ))
        .spawn()
        .await;

    let answer = app
        .send(
            app.client
                .post(app.url("/v1/enrich"))
                .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN}-01"))
                .json(&json!({"user_id": "traced-1", "email": "bcooper@biglytics.net", "handles": {"github": "octocat"}})),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);

    // The caller's sampled trace is followed even at sample_ratio 0.
    let started = Instant::now();
    let mut found = Vec::new();
    while started.elapsed() < Duration::from_secs(10) {
        found = spans(&collector).await;
        let connectors = found.iter().filter(|s| s.name == "connector.call").count();
        if found.iter().any(|s| s.kind == 2) && connectors >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let by_name = |name: &str| -> Vec<&Span> { found.iter().filter(|s| s.name == name).collect() };
    let request = found
        .iter()
        .find(|s| s.kind == 2)
        .unwrap_or_else(|| panic!("no server span in {found:?}"));
    assert_eq!(request.name, "POST /v1/enrich");
    assert_eq!(hex(&request.parent_span_id), CALLER_SPAN);
    assert_eq!(
        attribute(request, "http.response.status_code").as_deref(),
        Some("200")
    );
    for span in &found {
        assert_eq!(
            hex(&span.trace_id),
            TRACE_ID,
            "{} is in the caller's trace",
            span.name
        );
    }
    let lookup = by_name("cache.lookup");
    assert_eq!(lookup.len(), 1);
    assert_eq!(lookup[0].parent_span_id, request.span_id);
    assert_eq!(
        attribute(lookup[0], "cache.result").as_deref(),
        Some("miss")
    );
    let wave = by_name("enrichment.wave");
    assert_eq!(wave.len(), 1);
    assert_eq!(wave[0].parent_span_id, request.span_id);
    let calls = by_name("connector.call");
    let mut connectors: Vec<String> = calls
        .iter()
        .map(|s| attribute(s, "connector").unwrap_or_default())
        .collect();
    connectors.sort();
    assert_eq!(connectors, ["github", "hubspot"]);
    for call in &calls {
        assert_eq!(call.parent_span_id, wave[0].span_id);
        assert_eq!(attribute(call, "connector.status").as_deref(), Some("ok"));
        assert_eq!(attribute(call, "connector.retries").as_deref(), Some("0"));
    }
    // The upstream got the trace, as a child of the connector's span.
    let github_call = calls
        .iter()
        .find(|s| attribute(s, "connector").as_deref() == Some("github"))
        .unwrap();
    let received = github.received_requests().await.unwrap();
    let traceparent = received[0]
        .headers
        .get("traceparent")
        .expect("the upstream got a traceparent")
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        traceparent,
        format!("00-{TRACE_ID}-{}-01", hex(&github_call.span_id))
    );
    // Nothing about the subject in any span.
    let everything = format!("{found:?}");
    for secret in ["traced-1", "bcooper", "biglytics", "octocat"] {
        assert!(!everything.contains(secret), "{secret} is in a span");
    }
}

#[tokio::test]
async fn traces_follow_the_sample_ratio_and_are_off_by_default() {
    let collector = collector().await;
    let sampled_out = TestAppBuilder::new()
        .without_redis()
        .yaml(&format!(
            "telemetry: {{otlp: {{endpoint: \"{}\", sample_ratio: 0.0, export_interval_ms: 100}}}}\n",
            collector.uri()
        ))
        .spawn()
        .await;
    let off = TestAppBuilder::new().without_redis().spawn().await;
    let github = github_answering(octocat()).await;
    let upstream_seen = TestAppBuilder::new()
        .without_redis()
        .upstream("github", &github.uri())
        .spawn()
        .await;

    for app in [&sampled_out, &off] {
        assert_eq!(app.get("/healthz").await.status, 200);
    }
    upstream_seen
        .enrich(json!({"user_id": "untraced", "handles": {"github": "octocat"}}))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    assert!(
        spans(&collector).await.is_empty(),
        "nothing sampled, nothing sent"
    );
    let received = github.received_requests().await.unwrap();
    assert!(
        received[0].headers.get("traceparent").is_none(),
        "tracing off adds no header"
    );
}

#[tokio::test]
async fn a_malformed_traceparent_starts_a_trace_of_our_own() {
    let collector = collector().await;
    let app = TestAppBuilder::new()
        .without_redis()
        .yaml(&format!(
            "telemetry: {{otlp: {{endpoint: \"{}\", sample_ratio: 1.0, export_interval_ms: 100}}}}\n",
            collector.uri()
        ))
        .spawn()
        .await;

    for garbage in [
        "garbage",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        &format!("00-{TRACE_ID}-{}-01", "x".repeat(5000)),
    ] {
        let answer = app
            .send(
                app.client
                    .get(app.url("/healthz"))
                    .header("traceparent", garbage),
            )
            .await;
        assert_eq!(answer.status, 200, "{garbage:.40}");
    }
    let started = Instant::now();
    let mut received = Vec::new();
    while received.len() < 3 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        received = spans(&collector).await;
    }
    assert_eq!(received.len(), 3, "one request span each");
    for span in received {
        assert!(
            span.parent_span_id.is_empty(),
            "no parent taken from garbage"
        );
        assert_ne!(hex(&span.trace_id), "0".repeat(32));
    }
}

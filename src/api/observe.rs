//! Per-request middleware: the `x-request-id` header (echoed or generated), the HTTP metrics,
//! the request id on every log line written while the request is served, and the request's
//! trace span when tracing is on.

use std::time::Instant;

use opentelemetry::{KeyValue, context::FutureExt as _};

use super::{AppState, auth::TenantLabel};
use crate::telemetry;
use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{HeaderName, HeaderValue},
    },
    middleware::Next,
    web,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps every request.
pub async fn observe(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .filter(|value| is_acceptable_id(value.as_bytes()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .expect("a UUID is a valid header value")
        });
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let method = method_label(request.method());
    let traced = state
        .as_ref()
        .and_then(|state| state.traces.request(request.headers(), method));
    let handled = telemetry::in_request(request_id.clone(), next.call(request));
    let mut response = match &traced {
        Some(traced) => handled.with_context(traced.context()).await?,
        None => handled.await?,
    };

    // The route pattern, never the raw path: paths carry user ids.
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status();
    if let Some(state) = state {
        let metrics = &state.metrics;
        let counted = if metrics.tenant_label() {
            let tenant = response
                .request()
                .extensions()
                .get::<TenantLabel>()
                .map_or_else(|| "none".to_owned(), |t| t.0.clone());
            metrics.http_requests.with_label_values(&[
                method,
                route.as_str(),
                status.as_str(),
                tenant.as_str(),
            ])
        } else {
            metrics
                .http_requests
                .with_label_values(&[method, route.as_str(), status.as_str()])
        };
        counted.inc();
        metrics
            .http_duration
            .with_label_values(&[method, route.as_str()])
            .observe(started.elapsed().as_secs_f64());
    }
    if let Some(traced) = traced {
        traced.rename(format!("{method} {route}"));
        traced.record([
            KeyValue::new("http.route", route.clone()),
            KeyValue::new("http.response.status_code", i64::from(status.as_u16())),
        ]);
        if status.is_server_error() {
            traced.fail("server error");
        }
        traced.end();
    }
    let id = request_id.to_str().unwrap_or_default();
    if status.is_server_error() {
        tracing::warn!(request_id = id, %method, %route, status = status.as_u16(), "Request failed.");
    } else {
        tracing::debug!(request_id = id, %method, %route, status = status.as_u16(), "Request answered.");
    }
    response.headers_mut().insert(REQUEST_ID, request_id);
    Ok(response)
}

/// The `method` label: one of the methods HTTP defines, else `other` (a caller can send any
/// token as a method; each would be a new series).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "other",
    }
}

/// A caller's request id is echoed when it is 1-128 visible ASCII characters.
fn is_acceptable_id(value: &[u8]) -> bool {
    (1..=128).contains(&value.len()) && value.iter().all(|b| (0x21..=0x7e).contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_methods_http_defines_are_labelled_by_name() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
            Method::TRACE,
            Method::CONNECT,
        ] {
            assert_eq!(method_label(&method), method.as_str());
        }
        for odd in ["get", "FUZZ", "X1Y"] {
            let method = Method::from_bytes(odd.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{odd}");
        }
    }

    #[test]
    fn request_ids_are_echoed_only_when_short_and_visible() {
        assert!(is_acceptable_id(b"abc-123"));
        assert!(is_acceptable_id(&[b'x'; 128]));
        assert!(!is_acceptable_id(&[b'x'; 129]));
        assert!(!is_acceptable_id(b""));
        assert!(!is_acceptable_id(b"has space"));
        assert!(!is_acceptable_id(b"tab\there"));
        assert!(!is_acceptable_id("é".as_bytes()));
    }
}

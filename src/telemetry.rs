//! Structured logs with `tracing`: human-readable by default, JSON with
//! `ENRICHD_LOG_FORMAT=json`, filtered by `RUST_LOG` (default `info`).
//!
//! Every line logged while serving a request carries its `request_id` (a top-level field in
//! JSON, a `request_id=` prefix otherwise). The id travels with the request's task
//! ([`in_request`]) and is only read when a line is written: a request that logs nothing pays
//! nothing for it (a tracing span would format its fields for every request).
//!
//! Nothing in enrichd logs an email, a phone number, a token or a request path (paths carry
//! user ids); connector error messages are written to carry none either.

use actix_web::http::header::HeaderValue;
use tracing::{Event, Subscriber};
use tracing_subscriber::{
    EnvFilter,
    fmt::{
        self, FmtContext, FormatEvent, FormatFields,
        format::{self, Writer},
    },
    registry::LookupSpan,
};

tokio::task_local! {
    /// The id of the request the current task serves.
    static REQUEST_ID: HeaderValue;
}

/// Run `future` (a request's handling) with its log lines carrying `request_id`.
pub async fn in_request<F: Future>(request_id: HeaderValue, future: F) -> F::Output {
    REQUEST_ID.scope(request_id, future).await
}

/// The id of the request the current task serves, if it serves one.
pub fn request_id() -> Option<String> {
    REQUEST_ID
        .try_with(|id| id.to_str().ok().map(str::to_owned))
        .ok()
        .flatten()
}

/// Install the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let json = std::env::var("ENRICHD_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = fmt::fmt().with_env_filter(filter).with_target(false);
    let _ = if json {
        builder
            .event_format(WithRequestId::json(format().json().flatten_event(true)))
            .fmt_fields(format::JsonFields::new())
            .try_init()
    } else {
        builder
            .event_format(WithRequestId::text(format().compact()))
            .try_init()
    };
}

fn format() -> format::Format {
    format::Format::default().with_target(false)
}

/// An event format that adds the current request's id to every line.
struct WithRequestId<F> {
    inner: F,
    json: bool,
}

impl<F> WithRequestId<F> {
    fn json(inner: F) -> Self {
        WithRequestId { inner, json: true }
    }

    fn text(inner: F) -> Self {
        WithRequestId { inner, json: false }
    }
}

impl<S, N, F> FormatEvent<S, N> for WithRequestId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let Ok(id) = REQUEST_ID.try_with(|id| id.clone()) else {
            return self.inner.format_event(ctx, writer, event);
        };
        // Accepted ids are visible ASCII (see `api::observe`).
        let id = id.to_str().unwrap_or_default();
        if !self.json {
            write!(writer, "request_id={id} ")?;
            return self.inner.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        let Some(end) = line.rfind('}') else {
            return writer.write_str(&line);
        };
        let quoted = serde_json::to_string(id).map_err(|_| std::fmt::Error)?;
        writer.write_str(&line[..end])?;
        write!(writer, ",\"request_id\":{quoted}")?;
        writer.write_str(&line[end..])
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log destination the test can read.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(json: bool) -> Vec<String> {
        let captured = Captured::default();
        let sink = captured.clone();
        let builder = fmt::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .with_target(false);
        let subscriber: Box<dyn Subscriber + Send + Sync> = if json {
            Box::new(
                builder
                    .event_format(WithRequestId::json(format().json().flatten_event(true)))
                    .fmt_fields(format::JsonFields::new())
                    .finish(),
            )
        } else {
            Box::new(
                builder
                    .event_format(WithRequestId::text(format().compact()))
                    .finish(),
            )
        };
        tracing::subscriber::with_default(subscriber, || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                tracing::warn!(reason = "outside", "Before the request.");
                in_request(HeaderValue::from_static("req-\"7\""), async {
                    tokio::task::yield_now().await;
                    tracing::warn!(reason = "inside", "Within the request.");
                })
                .await;
            });
        });
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn json_lines_inside_a_request_carry_its_id_as_a_field() {
        let lines = lines(true);
        assert_eq!(lines.len(), 2, "{lines:?}");
        let outside: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        let inside: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        assert_eq!(outside.get("request_id"), None);
        assert_eq!(inside["request_id"], "req-\"7\"");
        assert_eq!(inside["reason"], "inside");
        assert_eq!(inside["message"], "Within the request.");
    }

    #[test]
    fn text_lines_inside_a_request_start_with_its_id() {
        let lines = lines(false);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(!lines[0].contains("request_id"), "{}", lines[0]);
        assert!(
            lines[1].starts_with("request_id=req-\"7\" "),
            "{}",
            lines[1]
        );
        assert!(lines[1].contains("Within the request."), "{}", lines[1]);
    }
}

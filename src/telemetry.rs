//! Structured logs with `tracing`: human-readable by default, JSON with
//! `ENRICHD_LOG_FORMAT=json`, filtered by `RUST_LOG` (default `info`).
//!
//! Nothing in enrichd logs an email, a phone number, a token or a request path (paths carry
//! user ids); connector error messages are written to carry none either.

use tracing_subscriber::{EnvFilter, fmt};

/// Install the global subscriber. Safe to call more than once (later calls do nothing).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn"));
    let json = std::env::var("ENRICHD_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = fmt().with_env_filter(filter).with_target(false);
    let _ = if json {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.compact().try_init()
    };
}

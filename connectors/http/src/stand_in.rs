//! A local imitation of ACME's People API, the API of the example manifest
//! (`examples/acme-people.yaml`), so that `enrichd demo` shows a declarative connector
//! answering too. It knows the demo person every stand-in of enrichd knows.

use std::sync::atomic::{AtomicU64, Ordering};

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use reqwest::Url;
use serde_json::{Value, json};

/// The example manifest, as shipped beside the crate.
pub const EXAMPLE_MANIFEST: &str = include_str!("../examples/acme-people.yaml");
/// ACME's answer for the demo person.
const PERSON_FIXTURE: &str = include_str!("../fixtures/person-bcooper.json");
/// ACME's answer for an unknown email (HTTP 200).
const NO_MATCH_FIXTURE: &str = include_str!("../fixtures/no-match.json");
/// ACME's answer without the right token.
const UNAUTHORIZED_FIXTURE: &str = include_str!("../fixtures/401.json");

/// Requests a minute ACME allows a key, as its rate-limit headers say.
const RATE_LIMIT: u64 = 600;

/// Answers like `api.acme.example`: `GET /v1/people?email=` for one person,
/// `bcooper@biglytics.net`, and `GET /v1/status`, to callers holding the token
/// [`HttpStandIn::TOKEN`].
#[derive(Debug, Default)]
pub struct HttpStandIn {
    /// Source of the `x-request-id` of every answer.
    requests: AtomicU64,
}

impl HttpStandIn {
    /// The only token the stand-in accepts (`Authorization: Bearer demo-http-token`).
    pub const TOKEN: &'static str = "demo-http-token";
    /// The email of the one person the stand-in knows (looked up case-insensitively).
    pub const KNOWN_EMAIL: &'static str = "bcooper@biglytics.net";

    pub fn new() -> HttpStandIn {
        HttpStandIn::default()
    }

    /// An answer with the headers ACME puts on every response.
    fn respond(&self, status: u16, body: impl Into<String>) -> StandInResponse {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        StandInResponse::json(status, body)
            .with_header("x-request-id", format!("req_{n:012x}"))
            .with_header("x-ratelimit-limit", RATE_LIMIT.to_string())
            .with_header(
                "x-ratelimit-remaining",
                (RATE_LIMIT - 1 - n % RATE_LIMIT).to_string(),
            )
            .with_header("x-ratelimit-reset", "60")
    }

    /// ACME's error body.
    fn error(&self, status: u16, code: &str, message: &str) -> StandInResponse {
        let body = json!({"error": {"code": code, "message": message}});
        self.respond(status, body.to_string())
    }
}

impl StandIn for HttpStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        if request.bearer_token() != Some(Self::TOKEN) {
            return self
                .respond(401, UNAUTHORIZED_FIXTURE)
                .with_header("www-authenticate", "Bearer realm=\"acme\"");
        }
        let path = request.path.trim_end_matches('/');
        if !matches!(path, "/v1/people" | "/v1/status") {
            return self.error(404, "route_not_found", "No such route.");
        }
        if request.method != "GET" {
            return self
                .error(405, "method_not_allowed", "Use GET.")
                .with_header("allow", "GET");
        }
        if path == "/v1/status" {
            return self.respond(200, json!({"status": "ok"}).to_string());
        }
        match request.query("email").map(str::trim) {
            Some(email) if email.eq_ignore_ascii_case(Self::KNOWN_EMAIL) => {
                self.respond(200, PERSON_FIXTURE)
            }
            Some(email) if !email.is_empty() => self.respond(200, NO_MATCH_FIXTURE),
            _ => self.error(
                400,
                "invalid_request",
                "The `email` query parameter is required.",
            ),
        }
    }

    /// The example manifest pointed at `base_url`: `base_url` set to it, `allowed_hosts` to
    /// its `host:port`, and the demo token in place of `${ACME_TOKEN}`.
    fn settings(&self, base_url: &str) -> Value {
        let mut manifest: Value = serde_saphyr::from_str(EXAMPLE_MANIFEST)
            .expect("the example manifest is valid YAML (checked by the tests)");
        let host_port = Url::parse(base_url)
            .ok()
            .and_then(|url| {
                let host = url.host_str()?.to_owned();
                Some(match url.port_or_known_default() {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                })
            })
            .unwrap_or_default();
        manifest["base_url"] = json!(base_url);
        manifest["allowed_hosts"] = json!([host_port]);
        manifest["request"]["headers"]["Authorization"] = json!(format!("Bearer {}", Self::TOKEN));
        manifest
    }

    fn sample(&self, subject: &mut Subject) {
        subject
            .email
            .get_or_insert_with(|| Self::KNOWN_EMAIL.to_owned());
    }
}

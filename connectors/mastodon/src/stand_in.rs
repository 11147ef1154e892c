//! A local imitation of a Mastodon server (mastodon.social) for `enrichd demo` and black-box
//! tests: the documentation's example accounts (Gargron, local; noiob@awoo.space, remote), its
//! 404 body, Doorkeeper's 401 and Mastodon's rate-limit headers.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Value, json};

/// "Get account" → "Local user" from Mastodon's documentation.
const LOCAL_FIXTURE: &str = include_str!("../fixtures/account-get-local-user.json");
/// "Get account" → "Remote user" from Mastodon's documentation.
const REMOTE_FIXTURE: &str = include_str!("../fixtures/account-get-remote-user.json");
/// Mastodon's 404 body for an account it does not know.
const NOT_FOUND_FIXTURE: &str = include_str!("../fixtures/404.json");
/// Doorkeeper's answer to a bad token.
const INVALID_TOKEN: &str = r#"{"error":"The access token is invalid"}"#;

/// The domain the stand-in plays.
const DOMAIN: &str = "mastodon.social";
/// Mastodon's default window: 300 requests per 5 minutes.
const WINDOW_SECS: u64 = 300;

/// Answers like `mastodon.social` for its owner `Gargron` and one remote account it has seen,
/// `noiob@awoo.space`. Lookups need no token; a token that is sent must be
/// [`MastodonStandIn::TOKEN`], as Mastodon refuses a bad one even on public endpoints.
#[derive(Debug, Default)]
pub struct MastodonStandIn;

impl MastodonStandIn {
    /// The only access token the stand-in accepts.
    pub const TOKEN: &'static str = "demo-mastodon-token";
    /// The handle of the demo person.
    pub const KNOWN_HANDLE: &'static str = "Gargron@mastodon.social";

    pub fn new() -> MastodonStandIn {
        MastodonStandIn
    }

    /// The account for an `acct` query as Mastodon's lookup reads it: `user` or `user@domain`
    /// (this server's domain meaning a local user), case-insensitively.
    fn account(acct: &str) -> Option<&'static str> {
        let acct = acct.trim().trim_start_matches('@');
        let (user, domain) = acct.split_once('@').unwrap_or((acct, DOMAIN));
        let is = |u: &str, d: &str| user.eq_ignore_ascii_case(u) && domain.eq_ignore_ascii_case(d);
        if is("Gargron", DOMAIN) {
            Some(LOCAL_FIXTURE)
        } else if is("noiob", "awoo.space") {
            Some(REMOTE_FIXTURE)
        } else {
            None
        }
    }
}

/// The `/api/v2/instance` answer, trimmed to its main fields.
fn instance() -> Value {
    json!({
        "domain": DOMAIN,
        "title": "Mastodon",
        "version": "4.3.0",
        "source_url": "https://github.com/mastodon/mastodon",
        "description": "The original server operated by the Mastodon gGmbH non-profit",
        "usage": {"users": {"active_month": 123_122}},
        "languages": ["en"],
        "registrations": {"enabled": false, "approval_required": false, "message": null},
        "contact": {"email": "staff@mastodon.social"},
        "configuration": {"accounts": {"max_featured_tags": 10, "max_pinned_statuses": 5}},
    })
}

/// The next 5-minute boundary, as Mastodon's rack-attack throttle reports it (ISO 8601 with
/// microseconds).
fn next_reset() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let reset = (now / WINDOW_SECS + 1) * WINDOW_SECS;
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_secs(reset)).to_string()
}

impl StandIn for MastodonStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        let with_headers = |response: StandInResponse| {
            response
                .with_header("x-ratelimit-limit", "300")
                .with_header("x-ratelimit-remaining", "299")
                .with_header("x-ratelimit-reset", next_reset())
        };
        let invalid_token = || {
            StandInResponse::json(401, INVALID_TOKEN).with_header(
                "www-authenticate",
                "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", \
                 error_description=\"The access token is invalid\"",
            )
        };
        let token = request.bearer_token();
        if token.is_some_and(|t| t != Self::TOKEN) {
            return invalid_token();
        }
        let path = request.path.trim_end_matches('/');
        if request.method != "GET" {
            return StandInResponse::json(404, NOT_FOUND_FIXTURE);
        }
        match path {
            "/api/v1/accounts/lookup" => match request.query("acct").and_then(Self::account) {
                Some(account) => with_headers(StandInResponse::json(200, account)),
                None => with_headers(StandInResponse::json(404, NOT_FOUND_FIXTURE)),
            },
            "/api/v2/instance" => with_headers(StandInResponse::json(200, instance().to_string())),
            "/api/v1/apps/verify_credentials" if token.is_some() => {
                let app =
                    json!({"name": "enrichd demo", "website": null, "scopes": ["read:accounts"]});
                with_headers(StandInResponse::json(200, app.to_string()))
            }
            "/api/v1/apps/verify_credentials" => invalid_token(),
            _ => StandInResponse::json(404, NOT_FOUND_FIXTURE),
        }
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url, "access_token": Self::TOKEN})
    }

    fn sample(&self, subject: &mut Subject) {
        subject
            .handles
            .entry("mastodon".to_owned())
            .or_insert_with(|| Self::KNOWN_HANDLE.to_owned());
    }
}

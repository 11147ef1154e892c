//! A local imitation of Gravatar's REST API v3 for `enrichd demo` and black-box tests: the
//! official SDK's full profile (as the demo person's) and the spec's example profile, trimmed
//! to the core fields for anonymous callers, with Gravatar's rate-limit headers and error
//! bodies.

use std::time::{SystemTime, UNIX_EPOCH};

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Map, Value, json};

use crate::email_hash::email_hash;

/// The full, authenticated profile from Gravatar's iOS SDK tests (hash `somehash`).
const FULL_FIXTURE: &str = include_str!("../fixtures/profile-full-sdk-fixture.json");
/// The spec's example profile (Alex Morgan), core fields only.
const ALEX_MORGAN_FIXTURE: &str =
    include_str!("../fixtures/profile-unauthenticated-alex-morgan.json");
/// The spec's 401 example.
const UNAUTHORIZED_FIXTURE: &str = include_str!("../fixtures/401.json");
/// No verbatim 404 body is known; this follows the spec's `Error` schema.
const NOT_FOUND: &str = r#"{"error":"Profile not found","code":"not_found"}"#;
const PROFILES_PATH: &str = "/v3/profiles/";

/// The fields Gravatar returns to anonymous callers.
const CORE_FIELDS: &[&str] = &[
    "hash",
    "display_name",
    "profile_url",
    "avatar_url",
    "avatar_alt_text",
    "location",
    "description",
    "job_title",
    "company",
    "verified_accounts",
    "pronunciation",
    "pronouns",
];
/// Anonymous callers see at most this many verified accounts.
const ANONYMOUS_VERIFIED_ACCOUNTS: usize = 4;

/// Answers like `api.gravatar.com` for two profiles: the demo person's (the SHA-256 of
/// [`GravatarStandIn::KNOWN_EMAIL`]) and the spec's Alex Morgan. Anonymous callers get the
/// core fields; callers with [`GravatarStandIn::TOKEN`] the full profile; any other key a 401.
/// The stand-in never actually limits, but it sends Gravatar's rate-limit headers.
#[derive(Debug)]
pub struct GravatarStandIn {
    /// Profiles by hash, in full.
    profiles: Vec<(String, Map<String, Value>)>,
}

impl GravatarStandIn {
    /// The only API key the stand-in accepts.
    pub const TOKEN: &'static str = "demo-gravatar-token";
    /// The email of the demo person, whose SHA-256 finds the full profile.
    pub const KNOWN_EMAIL: &'static str = "bcooper@biglytics.net";

    pub fn new() -> GravatarStandIn {
        let parse = |text: &str| -> Map<String, Value> {
            serde_json::from_str(text).expect("the profile fixtures are JSON objects")
        };
        let mut full = parse(FULL_FIXTURE);
        // The SDK fixture's hash is the placeholder "somehash": the demo person's profile is
        // filed under the SHA-256 of the demo email, and says so, as Gravatar would.
        let hash = email_hash(Self::KNOWN_EMAIL);
        full.insert("hash".into(), Value::String(hash.clone()));
        let alex = parse(ALEX_MORGAN_FIXTURE);
        let alex_hash = alex["hash"].as_str().expect("a hash").to_owned();
        GravatarStandIn {
            profiles: vec![(hash, full), (alex_hash, alex)],
        }
    }

    /// What an anonymous caller sees of `profile`.
    fn core(profile: &Map<String, Value>) -> Map<String, Value> {
        let mut core: Map<String, Value> = profile
            .iter()
            .filter(|(name, _)| CORE_FIELDS.contains(&name.as_str()))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        if let Some(Value::Array(accounts)) = core.get_mut("verified_accounts") {
            accounts.truncate(ANONYMOUS_VERIFIED_ACCOUNTS);
        }
        core
    }
}

impl Default for GravatarStandIn {
    fn default() -> GravatarStandIn {
        GravatarStandIn::new()
    }
}

impl StandIn for GravatarStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        let key = request.bearer_token();
        if key.is_some_and(|k| k != Self::TOKEN) {
            return StandInResponse::json(401, UNAUTHORIZED_FIXTURE);
        }
        let authenticated = key.is_some();
        let limit: u64 = if authenticated { 1000 } else { 100 };
        let reset = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            + 3600;
        let with_headers = |response: StandInResponse| {
            response
                .with_header("x-ratelimit-limit", limit.to_string())
                .with_header("x-ratelimit-remaining", (limit - 1).to_string())
                .with_header("x-ratelimit-reset", reset.to_string())
        };
        let identifier = match request.path.strip_prefix(PROFILES_PATH) {
            Some(id) if request.method == "GET" && !id.is_empty() && !id.contains('/') => id,
            _ => return StandInResponse::json(404, NOT_FOUND),
        };
        match self.profiles.iter().find(|(hash, _)| hash == identifier) {
            Some((_, profile)) => {
                let shown = if authenticated {
                    profile.clone()
                } else {
                    Self::core(profile)
                };
                with_headers(StandInResponse::json(200, Value::Object(shown).to_string()))
            }
            None => with_headers(StandInResponse::json(404, NOT_FOUND)),
        }
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url, "api_key": Self::TOKEN})
    }

    fn sample(&self, subject: &mut Subject) {
        if subject.email.is_none() {
            subject.email = Some(Self::KNOWN_EMAIL.to_owned());
        }
    }
}

//! A local imitation of the Acme People API for `enrichd demo` and black-box tests, built from
//! the fixtures.

// STEP 8: the stand-in. A plain function from request to response that answers like the real
// API: built from the vendor's example bodies (`include_str!` of the fixtures), with its auth
// check (the demo credential is `demo-<kind>-token`), its 404/401 bodies and its rate-limit
// headers. It must know the demo person (`bcooper@biglytics.net`, case-insensitively) so that
// `enrichd demo` merges one profile from every connector.

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Value, json};

const PERSON_FIXTURE: &str = include_str!("../fixtures/person.json");
const NOT_FOUND_FIXTURE: &str = include_str!("../fixtures/404.json");

/// Answers like the Acme People API for one person, `bcooper@biglytics.net`, to callers
/// holding the key [`TemplateStandIn::API_KEY`].
#[derive(Debug, Default)]
pub struct TemplateStandIn;

impl TemplateStandIn {
    /// The only key the stand-in accepts.
    pub const API_KEY: &'static str = "demo-template-token";
    /// The email of the one person it knows.
    pub const KNOWN_EMAIL: &'static str = "bcooper@biglytics.net";
}

impl StandIn for TemplateStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        let (status, body) = if request.bearer_token() != Some(Self::API_KEY) {
            (
                401,
                r#"{"error": {"code": "unauthorized", "message": "Invalid API key."}}"#,
            )
        } else {
            match (request.method.as_str(), request.path.as_str()) {
                ("GET", "/v1/me") => (200, r#"{"account": "demo"}"#),
                ("GET", "/v1/people")
                    if request
                        .query("email")
                        .is_some_and(|e| e.eq_ignore_ascii_case(Self::KNOWN_EMAIL)) =>
                {
                    (200, PERSON_FIXTURE)
                }
                _ => (404, NOT_FOUND_FIXTURE),
            }
        };
        StandInResponse::json(status, body)
            .with_header("x-ratelimit-limit", "600")
            .with_header("x-ratelimit-remaining", "599")
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url, "api_key": Self::API_KEY})
    }

    /// Several stand-ins fill one sample subject: only add what is missing.
    fn sample(&self, subject: &mut Subject) {
        subject
            .email
            .get_or_insert_with(|| Self::KNOWN_EMAIL.to_owned());
    }
}

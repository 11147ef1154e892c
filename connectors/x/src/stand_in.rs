//! A local imitation of X's API v2 user lookup for `enrichd demo` and black-box tests: X's own
//! example user (`XDevelopers`), its "user not found" answer and its error bodies, with X's
//! rate-limit headers.

use std::time::{SystemTime, UNIX_EPOCH};

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Map, Value, json};

use crate::username;

/// `GET /2/users/2244994945?user.fields=...` from X's quickstart: the richest example record.
const USER_FIXTURE: &str = include_str!("../fixtures/user-by-id-with-fields.json");
/// X's documented answer for a username nobody has; its `detail` names the username asked for.
const NOT_FOUND_FIXTURE: &str = include_str!("../fixtures/user-not-found.json");
const LOOKUP_PATH: &str = "/2/users/by/username/";

/// The `user.fields` values X accepts (openapi.json v2.167); others are a 400.
const KNOWN_USER_FIELDS: &[&str] = &[
    "affiliation",
    "confirmed_email",
    "connection_status",
    "created_at",
    "description",
    "entities",
    "id",
    "is_identity_verified",
    "location",
    "most_recent_tweet_id",
    "name",
    "parody",
    "pinned_tweet_id",
    "profile_banner_url",
    "profile_image_url",
    "protected",
    "public_metrics",
    "receives_your_dm",
    "subscribes_to_you",
    "subscription",
    "subscription_type",
    "url",
    "username",
    "verified",
    "verified_followers_count",
    "verified_type",
    "withheld",
];

/// Answers like `api.x.com` for one user, `XDevelopers`, to callers holding the bearer token
/// [`XStandIn::TOKEN`]. The stand-in never actually limits (a demo must not run dry), but it
/// sends X's rate-limit headers.
#[derive(Debug)]
pub struct XStandIn {
    /// The known user with every field the stand-in can show.
    user: Map<String, Value>,
}

impl XStandIn {
    /// The only bearer token the stand-in accepts.
    pub const TOKEN: &'static str = "demo-x-token";
    /// The username of the one user the stand-in knows (looked up case-insensitively).
    pub const KNOWN_USERNAME: &'static str = "XDevelopers";

    pub fn new() -> XStandIn {
        let fixture: Value = serde_json::from_str(USER_FIXTURE).expect("the user fixture is JSON");
        let mut user = fixture["data"]
            .as_object()
            .cloned()
            .expect("the user fixture has data");
        // Additions for a richer demo: fields X's example leaves out, with the values X's own
        // documentation shows for this account elsewhere. The fixture's values are kept.
        let additions = [
            (
                "profile_image_url",
                json!(
                    "https://pbs.twimg.com/profile_images/1683325380441128960/yRsRRjGO_normal.jpg"
                ),
            ),
            ("url", json!("https://t.co/3ZX3TNiZCY")),
            (
                "entities",
                json!({"url": {"urls": [{
                    "start": 0, "end": 23,
                    "url": "https://t.co/3ZX3TNiZCY",
                    "expanded_url": "https://developer.x.com",
                    "display_url": "developer.x.com",
                }]}}),
            ),
            ("protected", json!(false)),
            ("verified_type", json!("business")),
        ];
        for (name, value) in additions {
            user.entry(name).or_insert(value);
        }
        XStandIn { user }
    }

    /// The known user with `id`, `name`, `username` and the requested fields it has, as X
    /// filters them.
    fn user_with(&self, fields: &[&str]) -> Value {
        let user: Map<String, Value> = self
            .user
            .iter()
            .filter(|(name, _)| {
                ["id", "name", "username"].contains(&name.as_str())
                    || fields.contains(&name.as_str())
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        json!({"data": user})
    }
}

impl Default for XStandIn {
    fn default() -> XStandIn {
        XStandIn::new()
    }
}

/// X's problem for a request it refuses as malformed.
fn invalid_request(parameter: &str, value: &str, message: String) -> StandInResponse {
    let body = json!({
        "errors": [{"parameters": {parameter: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.x.com/2/problems/invalid-request",
    });
    StandInResponse::json(400, body.to_string())
}

impl StandIn for XStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let with_headers = |response: StandInResponse| {
            response
                .with_header("x-rate-limit-limit", "300")
                .with_header("x-rate-limit-remaining", "299")
                .with_header("x-rate-limit-reset", (now + 900).to_string())
        };

        if request.bearer_token() != Some(Self::TOKEN) {
            let body = r#"{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}"#;
            return StandInResponse::json(401, body);
        }
        let handle = match request.path.strip_prefix(LOOKUP_PATH) {
            Some(handle) if request.method == "GET" && !handle.contains('/') => handle,
            _ => {
                let body =
                    r#"{"errors":[{"message":"Sorry, that page does not exist","code":34}]}"#;
                return StandInResponse::json(404, body);
            }
        };
        if username::parse(handle) != Some(handle) {
            let message = format!(
                "The `username` query parameter value [{handle}] does not match ^[A-Za-z0-9_]{{1,15}}$"
            );
            return with_headers(invalid_request("username", handle, message));
        }
        let fields: Vec<&str> = request
            .query("user.fields")
            .map(|list| list.split(',').map(str::trim).collect())
            .unwrap_or_default();
        if let Some(unknown) = fields.iter().find(|f| !KNOWN_USER_FIELDS.contains(f)) {
            let message = format!(
                "The `user.fields` query parameter value [{unknown}] is not one of [{}]",
                KNOWN_USER_FIELDS.join(",")
            );
            return with_headers(invalid_request("user.fields", unknown, message));
        }
        if handle.eq_ignore_ascii_case(Self::KNOWN_USERNAME) {
            return with_headers(StandInResponse::json(
                200,
                self.user_with(&fields).to_string(),
            ));
        }
        // X has answered a missing user with HTTP 200 and only `errors` (public captures); the
        // documented body is used, naming the username asked for as X does.
        let mut body: Value = serde_json::from_str(NOT_FOUND_FIXTURE).expect("the fixture is JSON");
        body["errors"][0]["detail"] =
            json!(format!("Could not find user with username: [{handle}]."));
        with_headers(StandInResponse::json(200, body.to_string()))
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url, "bearer_token": Self::TOKEN})
    }

    fn sample(&self, subject: &mut Subject) {
        subject
            .handles
            .entry("x".to_owned())
            .or_insert_with(|| Self::KNOWN_USERNAME.to_owned());
    }
}

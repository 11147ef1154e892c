//! A local imitation of GitHub's REST API for `enrichd demo` and black-box tests: GitHub's own
//! example user (`octocat`) and its recorded 404, with GitHub's rate-limit headers.

use std::time::{SystemTime, UNIX_EPOCH};

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Value, json};

/// `GET /users/octocat` as GitHub's REST documentation shows it.
const OCTOCAT_FIXTURE: &str = include_str!("../fixtures/user-octocat.json");
/// GitHub's recorded 404 for a user that does not exist.
const USER_NOT_FOUND_FIXTURE: &str = include_str!("../fixtures/404.json");
/// GitHub's 404 for a route it does not have.
const ROUTE_NOT_FOUND: &str =
    r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest","status":"404"}"#;

/// Answers like `api.github.com` for one user, `octocat`. Any caller is served, with or without
/// a token; the rate-limit headers show the anonymous or the authenticated allowance
/// accordingly, and the stand-in never actually limits (a demo must not run dry).
#[derive(Debug, Default)]
pub struct GitHubStandIn;

impl GitHubStandIn {
    /// The login of the one user the stand-in knows (looked up case-insensitively).
    pub const KNOWN_LOGIN: &'static str = "octocat";

    pub fn new() -> GitHubStandIn {
        GitHubStandIn
    }
}

/// One rate-limit bucket as GitHub describes it.
fn bucket(resource: &str, limit: u64, used: u64, reset: u64) -> Value {
    json!({
        "limit": limit,
        "remaining": limit.saturating_sub(used),
        "reset": reset,
        "used": used,
        "resource": resource,
    })
}

impl StandIn for GitHubStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        let authenticated = request.header("authorization").is_some();
        let core_limit = if authenticated { 5000 } else { 60 };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let reset = now + 3600;
        let with_headers = |response: StandInResponse, used: u64| {
            response
                .with_header("x-github-api-version-selected", "2022-11-28")
                .with_header("x-ratelimit-limit", core_limit.to_string())
                .with_header("x-ratelimit-remaining", (core_limit - used).to_string())
                .with_header("x-ratelimit-reset", reset.to_string())
                .with_header("x-ratelimit-used", used.to_string())
                .with_header("x-ratelimit-resource", "core")
        };

        let path = request.path.trim_end_matches('/');
        if request.method != "GET" {
            return with_headers(StandInResponse::json(404, ROUTE_NOT_FOUND), 1);
        }
        if path == "/rate_limit" {
            // Reading the limits does not count against them.
            let core = bucket("core", core_limit, 0, reset);
            let body = json!({
                "resources": {
                    "core": core,
                    "search": bucket("search", if authenticated { 30 } else { 10 }, 0, now + 60),
                    "graphql": bucket("graphql", if authenticated { 5000 } else { 0 }, 0, reset),
                    "integration_manifest": bucket("integration_manifest", 5000, 0, reset),
                },
                "rate": core,
            });
            return with_headers(StandInResponse::json(200, body.to_string()), 0);
        }
        let response = match path.strip_prefix("/users/") {
            Some(login) if login.eq_ignore_ascii_case(Self::KNOWN_LOGIN) => {
                StandInResponse::json(200, OCTOCAT_FIXTURE)
            }
            Some(login) if !login.is_empty() && !login.contains('/') => {
                StandInResponse::json(404, USER_NOT_FOUND_FIXTURE)
            }
            _ => StandInResponse::json(404, ROUTE_NOT_FOUND),
        };
        with_headers(response, 1)
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url})
    }

    fn sample(&self, subject: &mut Subject) {
        subject
            .handles
            .insert("github".to_owned(), Self::KNOWN_LOGIN.to_owned());
    }
}

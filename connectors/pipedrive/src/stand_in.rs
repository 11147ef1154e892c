//! A local imitation of Pipedrive's v1 persons API for `enrichd demo` and black-box tests,
//! built from Pipedrive's own example person (Will Smith), search result and 404.

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Value, json};

/// Pipedrive's example for `GET /v1/persons/{id}`.
const PERSON_FIXTURE: &str = include_str!("../fixtures/person-get.json");
/// Pipedrive's example for `GET /v1/persons/search`.
const SEARCH_FIXTURE: &str = include_str!("../fixtures/persons-search.json");
/// A recorded 404 for a person id that does not exist.
const NOT_FOUND_FIXTURE: &str = include_str!("../fixtures/404.json");

const ERROR_INFO: &str =
    "Please check developers.pipedrive.com for more information about Pipedrive API.";

/// Answers like `api.pipedrive.com` for one person, whose email is `bcooper@biglytics.net`, to
/// callers holding the token [`PipedriveStandIn::TOKEN`] as `api_token` or as a bearer token.
#[derive(Debug)]
pub struct PipedriveStandIn {
    /// `GET /v1/persons/{id}` of the known person, as a whole body.
    person: Value,
    /// The known person's search hit.
    hit: Value,
}

impl PipedriveStandIn {
    /// The only token the stand-in accepts, as `api_token` or `Authorization: Bearer`.
    pub const TOKEN: &'static str = "demo-pipedrive-token";
    /// The email of the one person the stand-in knows (matched case-insensitively).
    pub const KNOWN_EMAIL: &'static str = "bcooper@biglytics.net";

    pub fn new() -> PipedriveStandIn {
        let mut person: Value = serde_json::from_str(PERSON_FIXTURE).expect("the fixture is JSON");
        // The example person's email (12345@email.com) becomes the demo person's, so that
        // every stand-in knows the same person. Everything else is as recorded.
        person["data"]["email"][0]["value"] = json!(Self::KNOWN_EMAIL);
        person["data"]["primary_email"] = json!(Self::KNOWN_EMAIL);

        let search: Value = serde_json::from_str(SEARCH_FIXTURE).expect("the fixture is JSON");
        let mut hit = search["data"]["items"][0].clone();
        // The two vendor examples describe different people (a search hit for Jane Doe, id 1,
        // and the record of Will Smith, id 1). The hit is made to summarize the record: same
        // name, email, phones and owner; its score and organization stay as recorded.
        let data = &person["data"];
        hit["item"]["id"] = data["id"].clone();
        hit["item"]["name"] = data["name"].clone();
        hit["item"]["emails"] = json!([Self::KNOWN_EMAIL]);
        hit["item"]["phones"] = json!([data["phone"][0]["value"].clone()]);
        hit["item"]["owner"] = json!({"id": data["owner_id"]["id"].clone()});
        PipedriveStandIn { person, hit }
    }

    /// The id of the known person.
    fn person_id(&self) -> u64 {
        self.person["data"]["id"].as_u64().unwrap_or(1)
    }

    /// The search: `term` against the emails (with `fields` naming `email` or absent),
    /// exactly or as a substring.
    fn search(&self, request: &StandInRequest) -> StandInResponse {
        let term = request.query("term").unwrap_or_default().trim();
        let exact = request.query("exact_match") == Some("true");
        if term.chars().count() < if exact { 1 } else { 2 } {
            return error(400, "Term must be at least 2 characters long");
        }
        let limit: u64 = request
            .query("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(100);
        let searches_email = request
            .query("fields")
            .is_none_or(|fields| fields.split(',').any(|f| f.trim() == "email"));
        let known = Self::KNOWN_EMAIL;
        let matches = searches_email
            && limit > 0
            && if exact {
                known.eq_ignore_ascii_case(term)
            } else {
                known.contains(&term.to_ascii_lowercase())
            };
        let items = if matches {
            vec![self.hit.clone()]
        } else {
            Vec::new()
        };
        let body = json!({
            "success": true,
            "data": {"items": items},
            "additional_data": {"pagination": {
                "start": 0, "limit": limit, "more_items_in_collection": false,
            }},
        });
        ok(body)
    }

    /// The user the token belongs to: the example person's owner.
    fn me(&self) -> StandInResponse {
        let owner = &self.person["data"]["owner_id"];
        ok(json!({
            "success": true,
            "data": {
                "id": owner["id"],
                "name": owner["name"],
                "email": owner["email"],
                "company_id": self.person["data"]["company_id"],
                "active_flag": true,
                "is_admin": 1,
                "lang": 1,
                "locale": "en_US",
                "timezone_name": "Europe/Tallinn",
            },
        }))
    }
}

impl Default for PipedriveStandIn {
    fn default() -> PipedriveStandIn {
        PipedriveStandIn::new()
    }
}

/// A 200 with Pipedrive's rate-limit headers (the request-based, two-second window).
fn ok(body: Value) -> StandInResponse {
    with_limits(StandInResponse::json(200, body.to_string()))
}

/// Pipedrive's error body.
fn error(status: u16, message: &str) -> StandInResponse {
    let body = json!({
        "success": false,
        "error": message,
        "error_info": ERROR_INFO,
        "data": null,
        "additional_data": null,
    });
    with_limits(StandInResponse::json(status, body.to_string()))
}

fn with_limits(response: StandInResponse) -> StandInResponse {
    response
        .with_header("x-ratelimit-limit", "40")
        .with_header("x-ratelimit-remaining", "39")
        .with_header("x-ratelimit-reset", "2")
}

impl StandIn for PipedriveStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        let authorized = request.query("api_token") == Some(Self::TOKEN)
            || request.bearer_token() == Some(Self::TOKEN);
        if !authorized {
            let body = json!({
                "success": false,
                "error": "unauthorized access",
                "errorCode": 401,
                "error_info": ERROR_INFO,
                "data": null,
                "additional_data": null,
            });
            return StandInResponse::json(401, body.to_string());
        }
        if request.method != "GET" {
            return error(405, "Method not allowed");
        }
        let path = request.path.trim_end_matches('/');
        match path.strip_prefix("/v1/") {
            Some("persons/search") => self.search(request),
            Some("users/me") => self.me(),
            Some(rest) => match rest.strip_prefix("persons/").map(str::parse::<u64>) {
                Some(Ok(id)) if id == self.person_id() => ok(self.person.clone()),
                Some(_) => with_limits(StandInResponse::json(404, NOT_FOUND_FIXTURE)),
                None => error(404, "Unknown method ."),
            },
            None => error(404, "Unknown method ."),
        }
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url, "api_token": Self::TOKEN})
    }

    fn sample(&self, subject: &mut Subject) {
        subject
            .email
            .get_or_insert_with(|| Self::KNOWN_EMAIL.to_owned());
    }
}

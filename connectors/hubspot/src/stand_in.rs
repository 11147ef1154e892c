//! A local imitation of HubSpot's contacts API for `enrichd demo` and black-box tests, built
//! from HubSpot's own example contact (Bryan Cooper of Biglytics) and error bodies.

use std::sync::atomic::{AtomicU64, Ordering};

use enrichd_sdk::{
    Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
};
use serde_json::{Map, Value, json};

/// HubSpot's example contact, as the v3 spec shows it.
const CONTACT_FIXTURE: &str = include_str!("../fixtures/contact-by-email.json");
/// A real 404 for a lookup by email; its `context.id` is replaced by the id asked for.
const NOT_FOUND_FIXTURE: &str = include_str!("../fixtures/404.json");

const CONTACTS_PATH: &str = "/crm/v3/objects/contacts";

/// Properties HubSpot returns when the request names none.
const DEFAULT_PROPERTIES: &[&str] = &[
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
];
/// Properties HubSpot returns whatever the request names.
const ALWAYS_RETURNED: &[&str] = &["createdate", "hs_object_id", "lastmodifieddate"];

/// Properties of the portal's contact schema this stand-in knows: asked-for ones the contact
/// has no value for come back as `null`, as HubSpot does; unknown names are left out.
const SCHEMA: &[&str] = &[
    "city",
    "company",
    "country",
    "createdate",
    "email",
    "firstname",
    "hs_additional_emails",
    "hs_analytics_source",
    "hs_lead_status",
    "hs_object_id",
    "hubspotscore",
    "industry",
    "jobtitle",
    "lastmodifieddate",
    "lastname",
    "lifecyclestage",
    "mobilephone",
    "phone",
    "state",
    "website",
];

/// Answers like `api.hubapi.com` for one contact, `bcooper@biglytics.net`, to callers holding
/// the token [`HubSpotStandIn::TOKEN`].
#[derive(Debug)]
pub struct HubSpotStandIn {
    /// The known contact, in HubSpot's shape, with every property it has.
    contact: Map<String, Value>,
    /// Source of the `correlationId`s every HubSpot answer carries.
    requests: AtomicU64,
}

impl HubSpotStandIn {
    /// The only access token the stand-in accepts.
    pub const TOKEN: &'static str = "demo-hubspot-token";
    /// The email of the one contact the stand-in knows (looked up case-insensitively).
    pub const KNOWN_EMAIL: &'static str = "bcooper@biglytics.net";

    pub fn new() -> HubSpotStandIn {
        let mut contact: Map<String, Value> =
            serde_json::from_str(CONTACT_FIXTURE).expect("the contact fixture is a JSON object");
        let properties = contact
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .expect("the contact fixture has properties");
        // Additions for a richer demo: standard properties HubSpot's example leaves out. The
        // fixture's own values above are kept as they are.
        let additions = [
            ("hs_object_id", "512"),
            ("jobtitle", "Director of Data Engineering"),
            ("city", "Cambridge"),
            ("state", "Massachusetts"),
            ("country", "United States"),
            ("industry", "Computer Software"),
            ("lifecyclestage", "customer"),
            ("hs_lead_status", "CONNECTED"),
            ("hubspotscore", "61"),
            ("hs_analytics_source", "ORGANIC_SEARCH"),
        ];
        for (name, value) in additions {
            properties
                .entry(name)
                .or_insert_with(|| Value::String(value.to_owned()));
        }
        HubSpotStandIn {
            contact,
            requests: AtomicU64::new(0),
        }
    }

    /// A fresh, UUID-shaped correlation id.
    fn correlation_id(&self) -> String {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        format!("5f1e0c2a-{:04x}-4d3b-9a7c-{:012x}", (n >> 48) & 0xffff, n)
    }

    /// An answer with the headers HubSpot puts on every response to a private app.
    fn respond(&self, status: u16, body: Value, correlation_id: &str) -> StandInResponse {
        StandInResponse::json(status, body.to_string())
            .with_header("x-hubspot-correlation-id", correlation_id)
            .with_header("x-hubspot-ratelimit-max", "190")
            .with_header("x-hubspot-ratelimit-remaining", "189")
            .with_header("x-hubspot-ratelimit-interval-milliseconds", "10000")
            .with_header("x-hubspot-ratelimit-daily", "625000")
            .with_header("x-hubspot-ratelimit-daily-remaining", "624999")
    }

    /// HubSpot's error body.
    fn error(&self, status: u16, category: &str, message: &str) -> StandInResponse {
        let correlation_id = self.correlation_id();
        let body = json!({
            "status": "error",
            "message": message,
            "correlationId": correlation_id,
            "category": category,
        });
        self.respond(status, body, &correlation_id)
    }

    /// The 404 of an unknown contact, shaped like the recorded one.
    fn contact_not_found(&self, id: &str) -> StandInResponse {
        let correlation_id = self.correlation_id();
        let mut body: Value =
            serde_json::from_str(NOT_FOUND_FIXTURE).expect("the 404 fixture is JSON");
        body["correlationId"] = Value::String(correlation_id.clone());
        body["context"]["id"] = json!([id]);
        self.respond(404, body, &correlation_id)
    }

    /// The contact with the properties a request asks for (`properties=a,b`), the way HubSpot
    /// filters them.
    fn contact_with(&self, requested: Option<&str>) -> Value {
        let all = self.contact["properties"]
            .as_object()
            .expect("checked in new()");
        let names: Vec<&str> = match requested {
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|name| SCHEMA.contains(name))
                .chain(ALWAYS_RETURNED.iter().copied())
                .collect(),
            None => DEFAULT_PROPERTIES.to_vec(),
        };
        let properties: Map<String, Value> = names
            .into_iter()
            .map(|name| {
                (
                    name.to_owned(),
                    all.get(name).cloned().unwrap_or(Value::Null),
                )
            })
            .collect();
        let mut contact = self.contact.clone();
        contact.insert("properties".into(), Value::Object(properties));
        Value::Object(contact)
    }

    fn is_known(&self, id: &str, id_property: Option<&str>) -> bool {
        let properties = &self.contact["properties"];
        match id_property {
            Some("email") => properties["email"]
                .as_str()
                .is_some_and(|email| email.eq_ignore_ascii_case(id)),
            None | Some("hs_object_id") => self.contact["id"].as_str() == Some(id),
            Some(_) => false,
        }
    }
}

impl Default for HubSpotStandIn {
    fn default() -> HubSpotStandIn {
        HubSpotStandIn::new()
    }
}

impl StandIn for HubSpotStandIn {
    fn answer(&self, request: &StandInRequest) -> StandInResponse {
        if request.bearer_token() != Some(Self::TOKEN) {
            return self
                .error(
                    401,
                    "INVALID_AUTHENTICATION",
                    "Authentication credentials not found. This API supports OAuth 2.0 \
                     authentication and you can find more details at \
                     https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                )
                .with_header("x-hubspot-auth-failure", "401 Unauthorized");
        }
        let path = request.path.trim_end_matches('/');
        let id = match path.strip_prefix(CONTACTS_PATH) {
            Some("") => None,
            Some(rest) if rest.len() > 1 && rest.starts_with('/') => Some(&rest[1..]),
            _ => return self.error(404, "OBJECT_NOT_FOUND", "Resource not found."),
        };
        if request.method != "GET" {
            return self.error(405, "METHOD_NOT_ALLOWED", "HTTP 405 Method Not Allowed");
        }
        let properties = request.query("properties");
        match id {
            None => match request.query("limit").map_or(Ok(10), str::parse::<u32>) {
                Ok(1..=100) => {
                    let body = json!({"results": [self.contact_with(properties)]});
                    self.respond(200, body, &self.correlation_id())
                }
                _ => self.error(400, "VALIDATION_ERROR", "limit must be between 1 and 100"),
            },
            Some(id) if self.is_known(id, request.query("idProperty")) => {
                self.respond(200, self.contact_with(properties), &self.correlation_id())
            }
            Some(id) => self.contact_not_found(id),
        }
    }

    fn settings(&self, base_url: &str) -> Value {
        json!({"base_url": base_url, "access_token": Self::TOKEN})
    }

    fn sample(&self, subject: &mut Subject) {
        subject.email = Some(Self::KNOWN_EMAIL.to_owned());
    }
}

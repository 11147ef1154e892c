//! The body of `POST /v1/enrich` (and of each batch item), and its validation.

use std::{collections::BTreeMap, time::Duration};

use enrichd_sdk::Subject;
use serde::Deserialize;

use super::{
    FieldError, MAX_CREDITS, MAX_HANDLES, Tenant, UserId, micros, parse_email, parse_handle,
    parse_phone, valid_credits,
};

/// The request body exactly as sent; unknown fields are refused.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Subject)]
pub struct EnrichRequestBody {
    #[schema(pattern = "^[A-Za-z0-9._:@-]{1,128}$")]
    pub user_id: String,
    #[serde(default)]
    #[schema(nullable = false, format = Email)]
    pub email: Option<String>,
    #[serde(default)]
    #[schema(nullable = false, pattern = "^\\+[1-9][0-9]{6,14}$")]
    pub phone: Option<String>,
    #[serde(default)]
    #[schema(schema_with = crate::api::schemas::handles_schema)]
    pub handles: Option<BTreeMap<String, String>>,
    #[serde(default)]
    #[schema(nullable = false, min_items = 1)]
    pub connectors: Option<Vec<String>>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub refresh: Option<bool>,
    #[serde(default)]
    #[schema(nullable = false, minimum = 1)]
    pub timeout_ms: Option<u64>,
    /// The most this request may spend on connector calls, in credits (0: free connectors
    /// only); connectors that would pass it are `budget_exhausted`.
    #[serde(default)]
    #[schema(nullable = false, minimum = 0)]
    pub max_cost: Option<f64>,
}

/// Whose enrichment it is: an interactive caller's, or a bulk job's (whose calls are paced
/// within `jobs.max_share` of each rate limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Priority {
    #[default]
    Interactive,
    Bulk,
}

/// A validated enrichment request.
#[derive(Debug, Clone, PartialEq)]
pub struct EnrichRequest {
    /// The caller's tenant: the profile read and written is this tenant's.
    pub tenant: Tenant,
    pub subject: Subject,
    /// The connectors to ask, when the caller limited them (deduplicated, in request order).
    pub connectors: Option<Vec<String>>,
    /// Skip the cache and ask the sources again.
    pub refresh: bool,
    /// The caller's own deadline; it can only shorten the configured one.
    pub timeout: Option<Duration>,
    /// The most the request may spend, in micro-credits.
    pub max_cost: Option<u64>,
    pub priority: Priority,
}

/// Add the identifiers a caller sent to `subject`, each validated and named in the error as
/// the caller wrote it (`handles.github`).
pub fn add_identifiers(
    subject: &mut Subject,
    email: Option<String>,
    phone: Option<String>,
    handles: Option<BTreeMap<String, String>>,
) -> Result<(), FieldError> {
    if let Some(email) = email {
        subject.email = Some(parse_email(&email).map_err(|m| FieldError::new("email", m))?);
    }
    if let Some(phone) = phone {
        subject.phone = Some(parse_phone(&phone).map_err(|m| FieldError::new("phone", m))?);
    }
    let handles = handles.unwrap_or_default();
    if handles.len() > MAX_HANDLES {
        return Err(FieldError::new(
            "handles",
            format!(
                "holds {} handles; at most {MAX_HANDLES} are allowed",
                handles.len()
            ),
        ));
    }
    for (platform, handle) in handles {
        let (platform, handle) = parse_handle(&platform, &handle)
            .map_err(|m| FieldError::new(format!("handles.{platform}"), m))?;
        subject.handles.insert(platform, handle);
    }
    Ok(())
}

impl EnrichRequest {
    /// Validate `body` (for the default tenant: the caller's is set by the API layer);
    /// `is_connector` tells which connector names exist.
    pub fn parse(
        body: EnrichRequestBody,
        is_connector: &dyn Fn(&str) -> bool,
    ) -> Result<EnrichRequest, FieldError> {
        let user_id = UserId::parse(&body.user_id).map_err(|m| FieldError::new("user_id", m))?;
        let mut subject = Subject::new(user_id.into_string());
        add_identifiers(&mut subject, body.email, body.phone, body.handles)?;
        let connectors = match body.connectors {
            None => None,
            Some(names) if names.is_empty() => {
                return Err(FieldError::new(
                    "connectors",
                    "must name at least one connector (leave it out to ask all)",
                ));
            }
            Some(names) => {
                let mut unique: Vec<String> = Vec::with_capacity(names.len());
                for (index, name) in names.into_iter().enumerate() {
                    if !is_connector(&name) {
                        return Err(FieldError::new(
                            format!("connectors[{index}]"),
                            format!("`{name}` is not a configured connector"),
                        ));
                    }
                    if !unique.contains(&name) {
                        unique.push(name);
                    }
                }
                Some(unique)
            }
        };
        let timeout = match body.timeout_ms {
            Some(0) => return Err(FieldError::new("timeout_ms", "must be at least 1")),
            Some(ms) => Some(Duration::from_millis(ms)),
            None => None,
        };
        let max_cost = match body.max_cost {
            Some(credits) if !valid_credits(credits) => {
                return Err(FieldError::new(
                    "max_cost",
                    format!("must be a number of credits within 0..={MAX_CREDITS}"),
                ));
            }
            Some(credits) => Some(micros(credits)),
            None => None,
        };
        Ok(EnrichRequest {
            tenant: Tenant::default(),
            subject,
            connectors,
            refresh: body.refresh.unwrap_or(false),
            timeout,
            max_cost,
            priority: Priority::Interactive,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: serde_json::Value) -> EnrichRequestBody {
        serde_json::from_value(json).unwrap()
    }

    fn parse(json: serde_json::Value) -> Result<EnrichRequest, FieldError> {
        EnrichRequest::parse(body(json), &|name| ["hubspot", "github"].contains(&name))
    }

    #[test]
    fn a_full_request_parses() {
        let request = parse(serde_json::json!({
            "user_id": "u-42", "email": "ada@example.com", "phone": "+442071838750",
            "handles": {"github": "octocat"}, "connectors": ["github", "hubspot", "github"],
            "refresh": true, "timeout_ms": 500, "max_cost": 2.5
        }))
        .unwrap();
        assert_eq!(request.subject.email.as_deref(), Some("ada@example.com"));
        assert_eq!(request.subject.handles["github"], "octocat");
        assert_eq!(request.connectors.unwrap(), ["github", "hubspot"]);
        assert!(request.refresh);
        assert_eq!(request.timeout, Some(Duration::from_millis(500)));
        assert_eq!(request.max_cost, Some(2_500_000));
        let free_only = parse(serde_json::json!({"user_id": "u", "max_cost": 0})).unwrap();
        assert_eq!(free_only.max_cost, Some(0));
        assert_eq!(
            parse(serde_json::json!({"user_id": "u"})).unwrap().max_cost,
            None
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (serde_json::json!({"user_id": ""}), "user_id"),
            (
                serde_json::json!({"user_id": "u", "email": "nope"}),
                "email",
            ),
            (serde_json::json!({"user_id": "u", "phone": "12"}), "phone"),
            (
                serde_json::json!({"user_id": "u", "handles": {"github": ""}}),
                "handles.github",
            ),
            (
                serde_json::json!({"user_id": "u", "connectors": []}),
                "connectors",
            ),
            (
                serde_json::json!({"user_id": "u", "connectors": ["github", "myspace"]}),
                "connectors[1]",
            ),
            (
                serde_json::json!({"user_id": "u", "timeout_ms": 0}),
                "timeout_ms",
            ),
            (
                serde_json::json!({"user_id": "u", "max_cost": -1}),
                "max_cost",
            ),
            (
                serde_json::json!({"user_id": "u", "max_cost": 1e10}),
                "max_cost",
            ),
            (
                serde_json::json!({"user_id": "u", "handles": (0..=MAX_HANDLES)
                    .map(|i| (format!("p{i}"), serde_json::json!("x")))
                    .collect::<serde_json::Map<_, _>>()}),
                "handles",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(parse(json.clone()).unwrap_err().field, field, "{json}");
        }
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_value::<EnrichRequestBody>(
            serde_json::json!({"user_id": "u", "emial": "x"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `emial`"));
    }
}

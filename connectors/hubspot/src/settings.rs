//! The `settings:` section of a HubSpot connector: its typed form, its schema and the checks
//! that turn it into something the connector can use without further validation.

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, parse_settings, require_secret,
};
use std::collections::BTreeMap;

use reqwest::Url;
use serde::Deserialize;

/// Where HubSpot's public API lives.
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// The contact properties requested when `properties` is not set: the standard HubSpot
/// properties the mapping knows (see the crate documentation for where each one goes).
/// `createdate`, `lastmodifieddate` and `hs_object_id` come back without being asked for.
pub(crate) const DEFAULT_PROPERTIES: &[&str] = &[
    "email",
    "hs_additional_emails",
    "firstname",
    "lastname",
    "company",
    "jobtitle",
    "phone",
    "city",
    "state",
    "country",
    "website",
    "industry",
    "lifecyclestage",
    "hs_lead_status",
    "hubspotscore",
    "hs_analytics_source",
];

/// The settings of a HubSpot connector, as written under `settings:` in `config.yaml`.
///
/// Only `access_token` is required: the other keys have defaults that suit the public API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubSpotSettings {
    /// Root of the HubSpot API. Defaults to `https://api.hubapi.com`; tests and `enrichd demo`
    /// point it at a local server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A private-app access token (or OAuth access token) with the
    /// `crm.objects.contacts.read` scope, sent as `Authorization: Bearer`. Required: HubSpot
    /// answers nothing without it. Kept in a [`Secret`] so it never reaches a log.
    #[serde(default)]
    pub access_token: Secret,
    /// Internal names of the contact properties to request. Defaults to the standard
    /// properties this connector maps. The mapping reads those names only, so the useful
    /// change is to narrow the list (leave out `phone`, say) rather than to extend it.
    #[serde(default = "default_properties")]
    pub properties: Vec<String>,
    /// Contact properties holding a social handle, by platform: `{x: twitterhandle}` (HubSpot's
    /// standard property) unless set; e.g. `{github: github_login}` for a custom property.
    /// Requested besides `properties`; their values become `identity.handles.<platform>`,
    /// which lets enrichd chain a lookup on that platform (PRODUCT.md §10).
    #[serde(default = "default_handle_properties")]
    pub handle_properties: BTreeMap<String, String>,
}

fn default_handle_properties() -> BTreeMap<String, String> {
    BTreeMap::from([("x".to_owned(), "twitterhandle".to_owned())])
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_properties() -> Vec<String> {
    DEFAULT_PROPERTIES.iter().map(|p| (*p).to_owned()).collect()
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Url,
    pub(crate) access_token: Secret,
    /// The `properties` query value, comma-separated, computed once.
    pub(crate) properties: String,
    /// Platform → the property holding the contact's handle there.
    pub(crate) handle_properties: Vec<(String, String)>,
}

/// The schema enrichd lists and uses to redact the token from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(PropertyType::Url, "Root of the HubSpot API.")
                .default_value(DEFAULT_BASE_URL),
        )
        .property(
            "access_token",
            ConfigProperty::secret(
                "HubSpot private-app access token with the crm.objects.contacts.read scope.",
            )
            .required(),
        )
        .property(
            "properties",
            ConfigProperty::new(
                PropertyType::Array,
                "Internal names of the contact properties to request.",
            )
            .default_value(DEFAULT_PROPERTIES.to_vec()),
        )
        .property(
            "handle_properties",
            ConfigProperty::new(
                PropertyType::Object,
                "Contact properties holding a social handle, by platform (e.g. {github: github_login}).",
            )
            .default_value(serde_json::json!({"x": "twitterhandle"})),
        )
}

/// Whether `name` can be a HubSpot property's internal name.
fn is_property_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: HubSpotSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();

    let base_url = check_base_url("base_url", &raw.base_url, &mut issues);

    require_secret(
        "access_token",
        &raw.access_token,
        "a HubSpot private-app access token with the crm.objects.contacts.read scope, \
         e.g. \"${HUBSPOT_TOKEN}\"",
        &mut issues,
    );

    if raw.properties.is_empty() {
        issues.push(SettingsIssue::new(
            "properties",
            "must name at least one contact property, e.g. [email, firstname, lastname]",
        ));
    }
    for (platform, name) in &raw.handle_properties {
        let platform_ok = (1..=32).contains(&platform.len())
            && platform
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !platform_ok {
            issues.push(SettingsIssue::new(
                format!("handle_properties.{platform}"),
                "the platform must be 1-32 characters of a-z, 0-9 and `_`, e.g. github",
            ));
        } else if !is_property_name(name) {
            issues.push(SettingsIssue::new(
                format!("handle_properties.{platform}"),
                format!("`{name}` is not a HubSpot property's internal name, e.g. twitterhandle"),
            ));
        }
    }
    for (index, name) in raw.properties.iter().enumerate() {
        if !is_property_name(name) {
            issues.push(SettingsIssue::new(
                format!("properties.{index}"),
                format!(
                    "`{name}` is not a HubSpot property's internal name \
                     (letters, digits and `_`), e.g. jobtitle"
                ),
            ));
        }
    }

    finish_settings(
        issues,
        base_url.map(|base_url| ValidSettings {
            base_url,
            access_token: raw.access_token,
            properties: raw
                .properties
                .iter()
                .chain(
                    raw.handle_properties
                        .values()
                        .filter(|name| !raw.properties.contains(name)),
                )
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
            handle_properties: raw.handle_properties.into_iter().collect(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn defaults_fill_everything_but_the_token() {
        let valid = parse(&json!({"access_token": "pat-na1-x"})).unwrap();
        assert_eq!(valid.base_url.as_str(), "https://api.hubapi.com/");
        assert_eq!(valid.access_token.expose(), "pat-na1-x");
        assert!(
            valid
                .properties
                .starts_with("email,hs_additional_emails,firstname,lastname")
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = parse(&json!({
            "base_url": "ftp://example.com",
            "access_token": "  ",
            "properties": ["email", "first name"],
        }))
        .unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["base_url", "access_token", "properties.1"]);
    }

    #[test]
    fn a_base_url_with_a_query_is_refused() {
        let issues =
            parse(&json!({"access_token": "t", "base_url": "https://api.hubapi.com/?x=1"}))
                .unwrap_err();
        assert_eq!(issues[0].path, "base_url");
    }

    #[test]
    fn handle_properties_are_requested_and_checked() {
        let valid = parse(&json!({"access_token": "t", "properties": ["email"]})).unwrap();
        assert_eq!(valid.properties, "email,twitterhandle");
        assert_eq!(
            valid.handle_properties,
            [("x".to_owned(), "twitterhandle".to_owned())]
        );
        let custom = parse(&json!({"access_token": "t", "properties": ["email", "gh"],
            "handle_properties": {"github": "gh"}}))
        .unwrap();
        assert_eq!(custom.properties, "email,gh");
        let issues = parse(&json!({"access_token": "t",
            "handle_properties": {"Git Hub": "gh", "x": "twitter handle"}}))
        .unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["handle_properties.Git Hub", "handle_properties.x"]);
    }

    #[test]
    fn an_empty_property_list_is_refused() {
        let issues = parse(&json!({"access_token": "t", "properties": []})).unwrap_err();
        assert_eq!(issues[0].path, "properties");
    }
}

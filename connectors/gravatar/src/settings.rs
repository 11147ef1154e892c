//! The `settings:` section of a Gravatar connector: its typed form, its schema and the checks
//! that turn it into something the connector can use without further validation.

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, optional_secret, parse_settings,
};
use reqwest::Url;
use serde::Deserialize;

/// Where Gravatar's REST API lives (the `/v3` is part of each request path).
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.gravatar.com";

/// The settings of a Gravatar connector, as written under `settings:` in `config.yaml`.
///
/// Everything is optional: without an API key the connector reads the core public profile at
/// Gravatar's anonymous rate (100 requests an hour).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GravatarSettings {
    /// Root of the Gravatar REST API, without `/v3`. Defaults to `https://api.gravatar.com`;
    /// tests and `enrichd demo` point it at a local server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// An API key from the Gravatar Developer Dashboard, sent as `Authorization: Bearer`: it
    /// raises the limit to 1,000 requests an hour and unlocks the full profile (interests,
    /// languages, links, ...). Unset or empty means anonymous calls. Kept in a [`Secret`] so it
    /// never reaches a log.
    #[serde(default)]
    pub api_key: Option<Secret>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Url,
    /// `None` when no key, or an empty one, is configured.
    pub(crate) api_key: Option<Secret>,
}

/// The schema enrichd lists and uses to redact the key from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(
                PropertyType::Url,
                "Root of the Gravatar REST API (without /v3).",
            )
            .default_value(DEFAULT_BASE_URL),
        )
        .property(
            "api_key",
            ConfigProperty::secret(
                "Optional Gravatar API key; raises the limit to 1,000 requests an hour and \
                 unlocks the full profile.",
            ),
        )
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: GravatarSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();
    let base_url = check_base_url("base_url", &raw.base_url, &mut issues);
    finish_settings(
        issues,
        base_url.map(|base_url| ValidSettings {
            base_url,
            api_key: optional_secret(raw.api_key),
        }),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn nothing_is_required() {
        let valid = parse(&json!({})).unwrap();
        assert_eq!(valid.base_url.as_str(), "https://api.gravatar.com/");
        assert!(valid.api_key.is_none());
    }

    #[test]
    fn an_empty_key_means_anonymous() {
        assert!(parse(&json!({"api_key": " "})).unwrap().api_key.is_none());
        let valid = parse(&json!({"api_key": "gk_1"})).unwrap();
        assert_eq!(valid.api_key.unwrap().expose(), "gk_1");
    }
}

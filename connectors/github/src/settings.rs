//! The `settings:` section of a GitHub connector: its typed form, its schema and the checks
//! that turn it into something the connector can use without further validation.

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, optional_secret, parse_settings,
};
use reqwest::Url;
use serde::Deserialize;

/// Where GitHub's public REST API lives.
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.github.com";

/// The settings of a GitHub connector, as written under `settings:` in `config.yaml`.
///
/// Everything is optional: without a token the connector reads public profiles at GitHub's
/// anonymous rate (60 requests an hour per IP).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GitHubSettings {
    /// Root of the GitHub REST API. Defaults to `https://api.github.com`; a GitHub Enterprise
    /// Server uses `https://<host>/api/v3`, and tests and `enrichd demo` point it at a local
    /// server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A token (fine-grained or classic, no scope needed for public profiles) sent as
    /// `Authorization: Bearer` to raise the limit to 5,000 requests an hour. Unset or empty
    /// means anonymous calls. Kept in a [`Secret`] so it never reaches a log.
    #[serde(default)]
    pub token: Option<Secret>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Url,
    /// `None` when no token, or an empty one, is configured.
    pub(crate) token: Option<Secret>,
}

/// The schema enrichd lists and uses to redact the token from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(PropertyType::Url, "Root of the GitHub REST API.")
                .default_value(DEFAULT_BASE_URL),
        )
        .property(
            "token",
            ConfigProperty::secret(
                "Optional GitHub token; raises the rate limit from 60 to 5,000 requests an hour.",
            ),
        )
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: GitHubSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();
    let base_url = check_base_url("base_url", &raw.base_url, &mut issues);
    finish_settings(
        issues,
        base_url.map(|base_url| ValidSettings {
            base_url,
            token: optional_secret(raw.token),
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
        assert_eq!(valid.base_url.as_str(), "https://api.github.com/");
        assert!(valid.token.is_none());
    }

    #[test]
    fn an_empty_token_means_anonymous() {
        assert!(parse(&json!({"token": ""})).unwrap().token.is_none());
        assert!(parse(&json!({"token": null})).unwrap().token.is_none());
        let valid = parse(&json!({"token": "ghp_x"})).unwrap();
        assert_eq!(valid.token.unwrap().expose(), "ghp_x");
    }

    #[test]
    fn a_base_url_with_a_fragment_is_refused() {
        let issues = parse(&json!({"base_url": "https://api.github.com/#x"})).unwrap_err();
        assert_eq!(issues[0].path, "base_url");
    }
}

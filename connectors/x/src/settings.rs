//! The `settings:` section of an X connector: its typed form, its schema and the checks that
//! turn it into something the connector can use without further validation.

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, parse_settings, require_secret,
};
use reqwest::Url;
use serde::Deserialize;

/// Where the X API v2 lives (`https://api.twitter.com` answers the same).
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.x.com";

/// The settings of an X connector, as written under `settings:` in `config.yaml`.
///
/// Only `bearer_token` is required: X answers nothing without one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XSettings {
    /// Root of the X API. Defaults to `https://api.x.com`; tests and `enrichd demo` point it at
    /// a local server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The app-only bearer token of an X developer app (or a user-context OAuth 2.0 token with
    /// `users.read tweet.read`), sent as `Authorization: Bearer`. Kept in a [`Secret`] so it
    /// never reaches a log.
    #[serde(default)]
    pub bearer_token: Secret,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Url,
    pub(crate) bearer_token: Secret,
}

/// The schema enrichd lists and uses to redact the token from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(PropertyType::Url, "Root of the X API v2.")
                .default_value(DEFAULT_BASE_URL),
        )
        .property(
            "bearer_token",
            ConfigProperty::secret(
                "Bearer token of an X developer app (app-only), or a user-context token with \
                 users.read and tweet.read.",
            )
            .required(),
        )
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: XSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();
    let base_url = check_base_url("base_url", &raw.base_url, &mut issues);
    require_secret(
        "bearer_token",
        &raw.bearer_token,
        "the bearer token of an X developer app, e.g. \"${X_BEARER_TOKEN}\"",
        &mut issues,
    );
    finish_settings(
        issues,
        base_url.map(|base_url| ValidSettings {
            base_url,
            bearer_token: raw.bearer_token,
        }),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_base_url_defaults_to_api_x_com() {
        let valid = parse(&json!({"bearer_token": "AAAA"})).unwrap();
        assert_eq!(valid.base_url.as_str(), "https://api.x.com/");
        assert_eq!(valid.bearer_token.expose(), "AAAA");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues =
            parse(&json!({"base_url": "ftp://api.x.com", "bearer_token": " "})).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["base_url", "bearer_token"]);
    }
}

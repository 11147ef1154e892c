//! The `settings:` section of a Pipedrive connector: its typed form, its schema and the checks
//! that turn it into something the connector can use without further validation.

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, optional_secret, parse_settings,
};
use reqwest::Url;
use serde::Deserialize;

/// Where Pipedrive's public API lives (`/v1/...` below it).
pub(crate) const DEFAULT_BASE_URL: &str = "https://api.pipedrive.com";

/// The settings of a Pipedrive connector, as written under `settings:` in `config.yaml`.
///
/// Exactly one of `api_token` and `access_token` is required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipedriveSettings {
    /// The API root, below which the connector calls `/v1/...`. Defaults to
    /// `https://api.pipedrive.com`; a company domain works too
    /// (`https://acme.pipedrive.com/api`), and tests and `enrichd demo` point it at a local
    /// server.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// A personal API token (Settings → Personal preferences → API), sent as the `api_token`
    /// query parameter, which is how Pipedrive takes it. Set this or `access_token`, not both.
    /// Kept in a [`Secret`] so it never reaches a log.
    #[serde(default)]
    pub api_token: Option<Secret>,
    /// An OAuth access token with the `contacts:read` scope, sent as `Authorization: Bearer`.
    /// Set this or `api_token`, not both. Kept in a [`Secret`] so it never reaches a log.
    #[serde(default)]
    pub access_token: Option<Secret>,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

/// How the connector proves who it is to Pipedrive.
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    /// A personal API token, sent as the `api_token` query parameter.
    ApiToken(Secret),
    /// An OAuth access token, sent as `Authorization: Bearer`.
    AccessToken(Secret),
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Url,
    pub(crate) credential: Credential,
}

/// The schema enrichd lists and uses to redact the tokens from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(PropertyType::Url, "Root of the Pipedrive API.")
                .default_value(DEFAULT_BASE_URL),
        )
        .property(
            "api_token",
            ConfigProperty::secret(
                "Personal API token, sent as the api_token query parameter. Set this or \
                 access_token.",
            ),
        )
        .property(
            "access_token",
            ConfigProperty::secret(
                "OAuth access token with the contacts:read scope. Set this or api_token.",
            ),
        )
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: PipedriveSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();
    let base_url = check_base_url("base_url", &raw.base_url, &mut issues);

    let credential = match (
        optional_secret(raw.api_token),
        optional_secret(raw.access_token),
    ) {
        (Some(token), None) => Some(Credential::ApiToken(token)),
        (None, Some(token)) => Some(Credential::AccessToken(token)),
        (None, None) => {
            issues.push(SettingsIssue::new(
                "api_token",
                "one of `api_token` (a personal API token) or `access_token` (an OAuth access \
                 token) is required, e.g. api_token: \"${PIPEDRIVE_API_TOKEN}\"",
            ));
            None
        }
        (Some(_), Some(_)) => {
            issues.push(SettingsIssue::new(
                "access_token",
                "cannot be combined with `api_token`: set exactly one of `api_token` or \
                 `access_token`",
            ));
            None
        }
    };

    finish_settings(
        issues,
        base_url
            .zip(credential)
            .map(|(base_url, credential)| ValidSettings {
                base_url,
                credential,
            }),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn either_token_is_enough() {
        let by_key = parse(&json!({"api_token": "abc"})).unwrap();
        assert_eq!(by_key.base_url.as_str(), "https://api.pipedrive.com/");
        assert!(matches!(by_key.credential, Credential::ApiToken(t) if t.expose() == "abc"));
        let by_oauth = parse(&json!({"access_token": "v1u:xyz", "api_token": ""})).unwrap();
        assert!(
            matches!(by_oauth.credential, Credential::AccessToken(t) if t.expose() == "v1u:xyz")
        );
    }

    #[test]
    fn neither_or_both_tokens_are_refused_naming_both_keys() {
        for settings in [json!({}), json!({"api_token": " ", "access_token": null})] {
            let issues = parse(&settings).unwrap_err();
            assert_eq!(issues.len(), 1);
            assert_eq!(issues[0].path, "api_token");
            assert!(
                issues[0].message.contains("`access_token`"),
                "{}",
                issues[0].message
            );
        }
        let issues = parse(&json!({"api_token": "a", "access_token": "b"})).unwrap_err();
        assert_eq!(issues[0].path, "access_token");
        assert!(
            issues[0].message.contains("`api_token`"),
            "{}",
            issues[0].message
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = parse(&json!({"base_url": "pipedrive"})).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(paths, ["base_url", "api_token"]);
    }
}

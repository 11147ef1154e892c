//! The `settings:` section of a template connector: its typed form, its schema and the checks
//! that turn it into something the connector can use without further validation.

// STEP 2: settings and their schema. One struct field per key of `settings:` in config.yaml,
// each with a doc comment; credentials typed `Secret` (never printed) and declared with
// `ConfigProperty::secret` (sensitive: shown as "***" by the admin API). Keep `base_url`:
// tests and `enrichd demo` point every connector at loopback through it. `parse` reports every
// problem at once, each with its key and an example of a right value: the SDK checks the
// common keys (`check_base_url`, `require_secret`, `optional_secret` for an optional
// credential) and `finish_settings` answers the valid settings or every issue found.

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, parse_settings, require_secret,
};
use reqwest::Url;
use serde::Deserialize;

/// Where the Acme People API lives.
const DEFAULT_BASE_URL: &str = "https://api.acme.example";

/// The settings of a template connector, as written under `settings:` in `config.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)] // a typo in config.yaml is reported, not ignored
pub struct TemplateSettings {
    /// Root of the Acme API. Defaults to `https://api.acme.example`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The Acme API key, sent as `Authorization: Bearer`. Required.
    #[serde(default)]
    pub api_key: Secret,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Url,
    pub(crate) api_key: Secret,
}

/// The schema enrichd lists and uses to redact the key from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(PropertyType::Url, "Root of the Acme API.")
                .default_value(DEFAULT_BASE_URL),
        )
        .property(
            "api_key",
            ConfigProperty::secret("Acme API key.").required(),
        )
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: TemplateSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();
    let base_url = check_base_url("base_url", &raw.base_url, &mut issues);
    require_secret(
        "api_key",
        &raw.api_key,
        "an Acme API key, e.g. \"${ACME_API_KEY}\"",
        &mut issues,
    );
    finish_settings(
        issues,
        base_url.map(|base_url| ValidSettings {
            base_url,
            api_key: raw.api_key,
        }),
    )
}

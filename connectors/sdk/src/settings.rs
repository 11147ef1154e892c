//! Connector settings: the schema a connector declares, typed parsing that names the bad key,
//! and the [`Secret`] type that keeps credentials out of logs and admin output.

use std::{collections::BTreeMap, fmt};

use reqwest::Url;
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_json::Value;

/// One problem with a connector's settings, at a key relative to its `settings:` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SettingsIssue {
    /// The key, dotted for nested ones (`"access_token"`, `"headers.Authorization"`).
    pub path: String,
    /// What is wrong and, where it helps, an example of a right value.
    pub message: String,
}

impl SettingsIssue {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> SettingsIssue {
        SettingsIssue {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SettingsIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// A credential. Prints as `***` in `Debug` and `Display`; call [`Secret::expose`] only where
/// the value is sent upstream.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The type of a settings key, for documentation and listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyType {
    String,
    Url,
    Integer,
    Number,
    Boolean,
    Array,
    Object,
}

/// One settings key of a connector.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigProperty {
    #[serde(rename = "type")]
    pub kind: PropertyType,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    pub required: bool,
    /// Shown as `"***"` in admin output and never logged.
    pub sensitive: bool,
}

impl ConfigProperty {
    pub fn new(kind: PropertyType, description: impl Into<String>) -> ConfigProperty {
        ConfigProperty {
            kind,
            description: description.into(),
            default: None,
            required: false,
            sensitive: false,
        }
    }

    /// A credential key: a string, [`sensitive`](Self::sensitive) so that enrichd shows it as
    /// `"***"` and never logs it. Type the field [`Secret`].
    pub fn secret(description: impl Into<String>) -> ConfigProperty {
        ConfigProperty::new(PropertyType::String, description).sensitive()
    }

    pub fn required(mut self) -> ConfigProperty {
        self.required = true;
        self
    }

    pub fn sensitive(mut self) -> ConfigProperty {
        self.sensitive = true;
        self
    }

    pub fn default_value(mut self, value: impl Into<Value>) -> ConfigProperty {
        self.default = Some(value.into());
        self
    }
}

/// The settings a connector accepts, as in the seed's `ConfigSchema`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigSchema {
    pub properties: BTreeMap<String, ConfigProperty>,
}

impl ConfigSchema {
    pub fn new() -> ConfigSchema {
        ConfigSchema::default()
    }

    /// Builder-style: declare a key.
    pub fn property(mut self, name: impl Into<String>, property: ConfigProperty) -> ConfigSchema {
        self.properties.insert(name.into(), property);
        self
    }

    /// Whether a top-level key holds a secret.
    pub fn is_sensitive(&self, key: &str) -> bool {
        self.properties.get(key).is_some_and(|p| p.sensitive)
    }

    /// A copy of `settings` with every sensitive value replaced by `"***"`.
    pub fn redact(&self, settings: &Value) -> Value {
        match settings {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let shown = if self.is_sensitive(key) {
                            Value::String("***".into())
                        } else {
                            value.clone()
                        };
                        (key.clone(), shown)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Deserialize `settings` into the connector's typed settings, naming the key of any problem.
///
/// Declare the type with `#[serde(deny_unknown_fields)]` so that typos are reported. Values of
/// sensitive keys are never quoted in the message.
pub fn parse_settings<T: DeserializeOwned>(
    schema: &ConfigSchema,
    settings: &Value,
) -> Result<T, Vec<SettingsIssue>> {
    let empty = Value::Object(Default::default());
    let settings = if settings.is_null() { &empty } else { settings };
    serde_path_to_error::deserialize(settings).map_err(|err| {
        // The path includes the key itself, unknown keys too (`tokn`, `headers.X-Key`); a
        // missing key is named only by the message.
        let mut path = err.path().to_string();
        let message = err.inner().to_string();
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            path = if path == "." {
                missing.to_owned()
            } else {
                format!("{path}.{missing}")
            };
        }
        let path = if path == "." { String::new() } else { path };
        let top = path.split('.').next().unwrap_or_default();
        let message = if schema.is_sensitive(top) {
            "invalid value (not shown: the key is sensitive)".to_owned()
        } else {
            message
        };
        vec![SettingsIssue::new(path, message)]
    })
}

/// An optional credential as the connector uses it: `None` when the key is unset, `null`,
/// empty or blank, so that `token: "${GITHUB_TOKEN:-}"` means "no token".
pub fn optional_secret(value: Option<Secret>) -> Option<Secret> {
    value.filter(|secret| !secret.is_empty())
}

/// Check a required credential: when `secret` is empty or blank, report it at `key` as
/// `is required: {what}`. Say in `what` which credential it is and give an example, e.g.
/// `a HubSpot private-app access token, e.g. "${HUBSPOT_TOKEN}"`.
///
/// Declare the field `#[serde(default)] Secret`, so that a missing key is reported here, with
/// the example, rather than by serde.
pub fn require_secret(key: &str, secret: &Secret, what: &str, issues: &mut Vec<SettingsIssue>) {
    if secret.is_empty() {
        issues.push(SettingsIssue::new(key, format!("is required: {what}")));
    }
}

/// The end of a settings check: the valid settings when no issue was found, else every issue.
///
/// `valid` is what the checked parts make (`None` when one of them is missing, which comes
/// with an issue already), so that a check collects all problems before it gives up:
///
/// ```
/// use enrichd_sdk::{SettingsIssue, check_base_url, finish_settings};
///
/// let mut issues: Vec<SettingsIssue> = Vec::new();
/// let base_url = check_base_url("base_url", "ftp://api.example.com", &mut issues);
/// // ... more checks, each pushing to `issues` ...
/// let valid = finish_settings(issues, base_url);
/// assert_eq!(valid.unwrap_err()[0].path, "base_url");
/// ```
pub fn finish_settings<T>(
    issues: Vec<SettingsIssue>,
    valid: Option<T>,
) -> Result<T, Vec<SettingsIssue>> {
    match valid {
        Some(valid) if issues.is_empty() => Ok(valid),
        _ => Err(issues),
    }
}

/// Check a `base_url`-like setting: absolute `http`/`https` with a host, no query or fragment,
/// and no user name or password (credentials belong in the connector's token setting, where
/// they are kept secret; a URL is shown in admin output and logs).
///
/// A message quotes the value only when it cannot hold a credential: never one with an `@`
/// (user info) or a `?` (a query such as `?api_key=...`).
pub fn check_base_url(key: &str, value: &str, issues: &mut Vec<SettingsIssue>) -> Option<Url> {
    const EXAMPLE: &str = "e.g. https://api.example.com";
    let shown = shown_url(value);
    match Url::parse(value) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => {
            issues.push(SettingsIssue::new(
                key,
                "must not carry a user name or password (the value is not shown); put \
                 credentials in the connector's token setting",
            ));
            None
        }
        Ok(url) if url.query().is_some() || url.fragment().is_some() => {
            issues.push(SettingsIssue::new(
                key,
                format!("{shown} must be the API root without a query or fragment, {EXAMPLE}"),
            ));
            None
        }
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(url),
        Ok(_) => {
            issues.push(SettingsIssue::new(
                key,
                format!("{shown} must be an http(s) URL with a host, {EXAMPLE}"),
            ));
            None
        }
        Err(err) => {
            issues.push(SettingsIssue::new(
                key,
                format!("{shown} is not a URL ({err}), {EXAMPLE}"),
            ));
            None
        }
    }
}

/// How [`check_base_url`] names `value` in a message: quoted, unless it may hold a credential,
/// as a URL that does not even parse may. Any `@` counts, not only one before the path: in
/// `http://user:pa/ss@host` the parser sees a path, the writer a password.
fn shown_url(value: &str) -> String {
    if value.contains(['@', '?']) {
        "the value (not shown: it may hold a credential)".to_owned()
    } else {
        format!("`{value}`")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Settings {
        base_url: String,
        token: Secret,
        #[serde(default)]
        page_size: u32,
    }

    fn schema() -> ConfigSchema {
        ConfigSchema::new()
            .property(
                "base_url",
                ConfigProperty::new(PropertyType::Url, "API root"),
            )
            .property(
                "token",
                ConfigProperty::new(PropertyType::String, "API token")
                    .required()
                    .sensitive(),
            )
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = parse_settings::<Settings>(
            &schema(),
            &json!({"base_url": "https://x", "token": "t", "tokn": "t"}),
        )
        .unwrap_err();
        assert_eq!(err[0].path, "tokn");
        assert!(
            err[0].message.contains("unknown field"),
            "{}",
            err[0].message
        );
    }

    #[test]
    fn wrong_types_are_named() {
        let err = parse_settings::<Settings>(
            &schema(),
            &json!({"base_url": "https://x", "token": "t", "page_size": "ten"}),
        )
        .unwrap_err();
        assert_eq!(err[0].path, "page_size");
    }

    #[test]
    fn missing_keys_are_named() {
        let err = parse_settings::<Settings>(&schema(), &json!({"token": "t"})).unwrap_err();
        assert_eq!(err[0].path, "base_url");
    }

    #[test]
    fn sensitive_values_are_not_quoted() {
        let err =
            parse_settings::<Settings>(&schema(), &json!({"base_url": "https://x", "token": 12}))
                .unwrap_err();
        assert_eq!(err[0].path, "token");
        assert!(!err[0].message.contains("12"), "{}", err[0].message);
    }

    #[test]
    fn secrets_never_print() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "*** ***");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn redaction_hides_sensitive_keys_only() {
        let shown = schema().redact(&json!({"base_url": "https://x", "token": "hunter2"}));
        assert_eq!(shown, json!({"base_url": "https://x", "token": "***"}));
    }

    #[test]
    fn secret_properties_are_sensitive_strings() {
        let property = ConfigProperty::secret("API token");
        assert_eq!(property.kind, PropertyType::String);
        assert!(property.sensitive);
        assert!(!property.required);
        assert_eq!(property.description, "API token");
    }

    #[test]
    fn blank_optional_secrets_are_absent() {
        assert!(optional_secret(None).is_none());
        assert!(optional_secret(Some(Secret::new(""))).is_none());
        assert!(optional_secret(Some(Secret::new(" \t"))).is_none());
        let kept = optional_secret(Some(Secret::new("ghp_x"))).unwrap();
        assert_eq!(kept.expose(), "ghp_x");
    }

    #[test]
    fn a_blank_required_secret_is_reported_at_its_key() {
        let mut issues = Vec::new();
        require_secret("token", &Secret::new("t"), "an API token", &mut issues);
        assert!(issues.is_empty());
        require_secret(
            "token",
            &Secret::new("  "),
            "an API token, e.g. x",
            &mut issues,
        );
        require_secret("api_key", &Secret::default(), "an API key", &mut issues);
        assert_eq!(
            issues,
            [
                SettingsIssue::new("token", "is required: an API token, e.g. x"),
                SettingsIssue::new("api_key", "is required: an API key"),
            ]
        );
    }

    #[test]
    fn settings_are_valid_only_without_issues() {
        assert_eq!(finish_settings(Vec::new(), Some(1)), Ok(1));
        let issue = SettingsIssue::new("token", "is required");
        assert_eq!(
            finish_settings(vec![issue.clone()], Some(1)),
            Err(vec![issue.clone()])
        );
        assert_eq!(
            finish_settings::<u8>(vec![issue.clone()], None),
            Err(vec![issue])
        );
    }

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        let mut issues = Vec::new();
        assert!(check_base_url("base_url", "https://api.hubapi.com", &mut issues).is_some());
        assert!(check_base_url("base_url", "ftp://x", &mut issues).is_none());
        assert!(check_base_url("base_url", "not a url", &mut issues).is_none());
        assert!(check_base_url("base_url", "https://x/?q=1", &mut issues).is_none());
        assert_eq!(issues.len(), 3);
        assert!(issues.iter().all(|i| i.path == "base_url"));
    }

    #[test]
    fn base_urls_with_credentials_are_refused_without_quoting_them() {
        for value in [
            "http://alice:s3cr3t@host.example",
            "https://alice@api.example.com/v1",
            "https://:hunter2@api.example.com",
            "https://alice:hunter2@api.example.com/?x=1",
        ] {
            let mut issues = Vec::new();
            assert!(check_base_url("base_url", value, &mut issues).is_none());
            assert_eq!(issues.len(), 1, "{value}");
            assert_eq!(issues[0].path, "base_url");
            assert!(
                issues[0]
                    .message
                    .contains("must not carry a user name or password"),
                "{}",
                issues[0].message
            );
            for secret in [
                "alice",
                "s3cr3t",
                "hunter2",
                "host.example",
                "api.example.com",
            ] {
                assert!(!issues[0].message.contains(secret), "{}", issues[0].message);
            }
        }
    }

    #[test]
    fn no_message_quotes_a_value_that_may_hold_a_credential() {
        for value in [
            "http://user:hunter2@host.example:99999",
            "ftp://user:hunter2@host.example",
            "user:hunter2@host.example",
            "http://user:hunter2@[::1",
            "http://user:hun/ter2@host.example:99999",
            "https://api.example.com/?api_key=hunter2",
            "https://api.example.com/#hunter2?",
        ] {
            let mut issues = Vec::new();
            assert!(
                check_base_url("base_url", value, &mut issues).is_none(),
                "{value}"
            );
            assert_eq!(issues.len(), 1, "{value}");
            assert!(
                !issues[0].message.contains("ter2"),
                "{value}: {}",
                issues[0].message
            );
        }
    }

    #[test]
    fn harmless_values_are_quoted_to_help() {
        let mut issues = Vec::new();
        check_base_url("base_url", "ftp://api.example.com", &mut issues);
        check_base_url("base_url", "https://api.example.com/#top", &mut issues);
        check_base_url("base_url", "api.example.com", &mut issues);
        check_base_url("base_url", "https://api.example.com/a@b", &mut issues);
        assert_eq!(issues.len(), 3, "{issues:?}");
        assert!(
            issues[0]
                .message
                .starts_with("`ftp://api.example.com` must be an http(s) URL")
        );
        assert!(
            issues[1]
                .message
                .starts_with("`https://api.example.com/#top` must be the API root")
        );
        assert!(
            issues[2]
                .message
                .starts_with("`api.example.com` is not a URL")
        );
    }
}

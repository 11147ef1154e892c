//! The `settings:` section of a Mastodon connector: its typed form, its schema and the checks
//! that turn it into something the connector can use without further validation.

use enrichd_sdk::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, hosts, optional_secret, parse_settings,
};
use reqwest::Url;
use serde::Deserialize;

/// The settings of a Mastodon connector, as written under `settings:` in `config.yaml`.
///
/// Everything is optional: by default each lookup goes to the instance named in the handle,
/// anonymously.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MastodonSettings {
    /// One server that answers every lookup instead of the instance named in the handle, e.g.
    /// `https://mastodon.social`. Meant for tests, `enrichd demo` and a deployment that trusts a
    /// single instance to resolve accounts of any server (it is sent `acct=user@instance`).
    /// Unset means `https://{instance}` of each handle.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Host names of the instances that may be looked up (case-insensitive). Empty means any
    /// public host name, as [`enrichd_sdk::hosts::caller_host`] decides: IP addresses in any
    /// form, `localhost`, names without a dot and special-use or private top-level names
    /// (`.local`, `.internal`, ...) are refused, as is a name that resolves to a non-public
    /// address. A listed name is trusted as it is, even an internal one; the handle's instance
    /// and the list are compared as the URL parser normalises them.
    #[serde(default)]
    pub instances_allowed: Vec<String>,
    /// A Mastodon access token with `read:accounts`, sent as `Authorization: Bearer`. Lookups
    /// are public on most instances; instances in secure or limited-federation mode need one.
    /// A token belongs to one instance, so set it together with `base_url` or a one-entry
    /// `instances_allowed`. Kept in a [`Secret`] so it never reaches a log.
    #[serde(default)]
    pub access_token: Option<Secret>,
}

/// Settings that passed every check, in the form the connector uses on each call.
#[derive(Debug, Clone)]
pub(crate) struct ValidSettings {
    pub(crate) base_url: Option<Url>,
    /// Normalised by [`hosts::bare_host`]; empty means any public host name.
    pub(crate) instances_allowed: Vec<String>,
    /// `None` when no token, or an empty one, is configured.
    pub(crate) access_token: Option<Secret>,
}

impl ValidSettings {
    /// The normalised host of a handle's instance, as written by the caller, when it may be
    /// looked up: without an allow-list, when [`hosts::caller_host`] accepts it; with one, when
    /// it is listed (compared after normalisation, so `127.0.0.0x1` is `127.0.0.1`).
    pub(crate) fn callable_instance(&self, instance: &str) -> Option<String> {
        if self.instances_allowed.is_empty() {
            hosts::caller_host(instance).ok()
        } else {
            hosts::bare_host(instance)
                .ok()
                .filter(|host| self.instances_allowed.contains(host))
        }
    }
}

/// The schema enrichd lists and uses to redact the token from admin output.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "base_url",
            ConfigProperty::new(
                PropertyType::Url,
                "One server answering every lookup (tests, demo, single-instance deployments); \
                 unset means the instance named in each handle.",
            ),
        )
        .property(
            "instances_allowed",
            ConfigProperty::new(
                PropertyType::Array,
                "Host names of the instances that may be looked up; empty means any public \
                 host name.",
            )
            .default_value(Vec::<String>::new()),
        )
        .property(
            "access_token",
            ConfigProperty::secret(
                "Optional Mastodon access token with read:accounts, for instances that refuse \
                 anonymous lookups.",
            ),
        )
}

/// Parse and check `settings`, reporting every problem found with the key it concerns.
pub(crate) fn parse(settings: &serde_json::Value) -> Result<ValidSettings, Vec<SettingsIssue>> {
    let raw: MastodonSettings = parse_settings(&schema(), settings)?;
    let mut issues = Vec::new();
    let base_url = raw
        .base_url
        .as_deref()
        .and_then(|url| check_base_url("base_url", url, &mut issues));
    let mut instances_allowed = Vec::new();
    for (index, name) in raw.instances_allowed.iter().enumerate() {
        if let Ok(host) = hosts::bare_host(name) {
            instances_allowed.push(host);
        } else {
            issues.push(SettingsIssue::new(
                format!("instances_allowed.{index}"),
                format!(
                    "`{name}` is not a host name or IPv4 address (no scheme, port, path or \
                     trailing dot), e.g. mastodon.social"
                ),
            ));
        }
    }
    finish_settings(
        issues,
        Some(ValidSettings {
            base_url,
            instances_allowed,
            access_token: optional_secret(raw.access_token),
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
        assert!(valid.base_url.is_none());
        assert!(valid.instances_allowed.is_empty());
        assert!(valid.access_token.is_none());
        assert_eq!(
            valid.callable_instance("Mastodon.Social").as_deref(),
            Some("mastodon.social")
        );
        for refused in ["localhost", "127.0.0.0x1", "a.0x1", "mastodon.internal"] {
            assert_eq!(valid.callable_instance(refused), None, "{refused}");
        }
    }

    #[test]
    fn an_allow_list_is_lower_cased_and_is_the_only_thing_permitted() {
        let valid = parse(&json!({
            "instances_allowed": ["Mastodon.Social", "mastodon.internal", "127.0.0.1", "BÜCHER.example"],
        }))
        .unwrap();
        let callable = |instance| valid.callable_instance(instance);
        assert_eq!(
            callable("mastodon.social").as_deref(),
            Some("mastodon.social")
        );
        assert_eq!(
            callable("MASTODON.social").as_deref(),
            Some("mastodon.social")
        );
        assert_eq!(
            callable("mastodon.internal").as_deref(),
            Some("mastodon.internal"),
            "listed names are trusted"
        );
        assert_eq!(callable("127.0.0.0x1").as_deref(), Some("127.0.0.1"));
        assert_eq!(
            callable("bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        for refused in [
            "fosstodon.org",
            "mastodon.social:443",
            "x@mastodon.social",
            "mastodon.social.",
            "127.0.0.2",
            "a.0x1",
        ] {
            assert_eq!(callable(refused), None, "{refused}");
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let issues = parse(&json!({
            "base_url": "mastodon.social",
            "instances_allowed": ["mastodon.social", "https://fosstodon.org", "a b"],
        }))
        .unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            ["base_url", "instances_allowed.1", "instances_allowed.2"]
        );
    }

    #[test]
    fn an_empty_token_means_anonymous() {
        assert!(
            parse(&json!({"access_token": ""}))
                .unwrap()
                .access_token
                .is_none()
        );
        assert!(
            parse(&json!({"access_token": null}))
                .unwrap()
                .access_token
                .is_none()
        );
    }
}

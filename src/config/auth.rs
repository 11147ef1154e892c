//! `auth:` — API keys and admin tokens, each a plain string or an object naming the key (the
//! audit trail's actor) and, for API keys, its tenant.

use std::collections::BTreeSet;

use enrichd_sdk::Secret;
use serde::Deserialize;
use serde_json::Value;

use super::{ConfigIssue, typed::typed};
use crate::domain::Tenant;

/// `auth:` — who may call the API. Empty lists switch authentication off.
#[derive(Debug, Clone, Default)]
pub struct AuthConfig {
    /// Bearer keys accepted on `/v1` routes, each bound to one tenant.
    pub api_keys: Vec<KeyConfig>,
    /// Bearer tokens accepted on admin routes (and on `/v1` routes, for any tenant).
    pub admin_tokens: Vec<KeyConfig>,
}

/// One configured key.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    pub key: Secret,
    /// What the audit trail calls whoever uses the key (`api-key-2` when not given).
    pub name: String,
    /// The tenant whose data the key reaches (admin tokens: `default`, or the one a request
    /// names in `x-enrichd-tenant`).
    pub tenant: Tenant,
}

/// An entry written as an object.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NamedKey {
    key: Secret,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    tenant: Option<String>,
}

impl AuthConfig {
    /// The tenants API keys belong to, and `default` (a bounded set: metrics may be labelled
    /// with it).
    pub fn tenants(&self) -> BTreeSet<Tenant> {
        let mut tenants: BTreeSet<Tenant> =
            self.api_keys.iter().map(|k| k.tenant.clone()).collect();
        tenants.insert(Tenant::default_tenant());
        tenants
    }
}

/// Read `auth:`; every problem is an issue at its entry (`auth.api_keys[2].tenant`), and no
/// issue ever quotes a key.
pub(super) fn section(value: Option<Value>, issues: &mut Vec<ConfigIssue>) -> AuthConfig {
    let mut map = match value {
        None | Some(Value::Null) => return AuthConfig::default(),
        Some(Value::Object(map)) => map,
        Some(_) => {
            issues.push(ConfigIssue::new(
                "auth",
                "must be a mapping with `api_keys` and `admin_tokens`",
            ));
            return AuthConfig::default();
        }
    };
    let auth = AuthConfig {
        api_keys: keys(
            map.remove("api_keys"),
            "auth.api_keys",
            "api-key",
            true,
            issues,
        ),
        admin_tokens: keys(
            map.remove("admin_tokens"),
            "auth.admin_tokens",
            "admin-token",
            false,
            issues,
        ),
    };
    for key in map.keys() {
        issues.push(ConfigIssue::new(
            format!("auth.{key}"),
            "unknown key; expected api_keys or admin_tokens",
        ));
    }
    check_unique(&auth, issues);
    auth
}

/// One list of keys; entries whose key is empty (an unset `${VAR:-}`) are left out.
fn keys(
    value: Option<Value>,
    path: &str,
    default_name: &str,
    tenants: bool,
    issues: &mut Vec<ConfigIssue>,
) -> Vec<KeyConfig> {
    let entries = match value {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            issues.push(ConfigIssue::new(path, "must be a list"));
            return Vec::new();
        }
    };
    let mut found = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let at = format!("{path}[{index}]");
        let named = match entry {
            Value::String(key) => NamedKey {
                key: Secret::new(key),
                name: None,
                tenant: None,
            },
            Value::Object(_) => match typed::<NamedKey>(entry, &at, issues) {
                Some(named) => named,
                None => continue,
            },
            _ => {
                issues.push(ConfigIssue::new(
                    at,
                    "must be a key (a string) or {key, name, tenant}",
                ));
                continue;
            }
        };
        let name = named
            .name
            .unwrap_or_else(|| format!("{default_name}-{}", index + 1));
        if !is_key_name(&name) {
            issues.push(ConfigIssue::new(
                format!("{at}.name"),
                "must be 1-64 characters of A-Za-z0-9 . _ -",
            ));
        }
        let tenant = match named.tenant {
            None => Tenant::default_tenant(),
            Some(_) if !tenants => {
                issues.push(ConfigIssue::new(
                    format!("{at}.tenant"),
                    "admin tokens have no tenant: they act on any tenant a request names in the \
                     x-enrichd-tenant header",
                ));
                Tenant::default_tenant()
            }
            Some(tenant) => Tenant::parse(&tenant).unwrap_or_else(|message| {
                issues.push(ConfigIssue::new(format!("{at}.tenant"), message));
                Tenant::default_tenant()
            }),
        };
        if !named.key.is_empty() {
            found.push(KeyConfig {
                key: named.key,
                name,
                tenant,
            });
        }
    }
    found
}

fn is_key_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A key configured twice would belong to two tenants, and a name used twice would make the
/// audit trail ambiguous.
fn check_unique(auth: &AuthConfig, issues: &mut Vec<ConfigIssue>) {
    let all: Vec<(&str, &KeyConfig)> = auth
        .api_keys
        .iter()
        .map(|k| ("auth.api_keys", k))
        .chain(auth.admin_tokens.iter().map(|k| ("auth.admin_tokens", k)))
        .collect();
    for (index, (list, key)) in all.iter().enumerate() {
        let earlier = &all[..index];
        if earlier
            .iter()
            .any(|(_, other)| other.key.expose().trim() == key.key.expose().trim())
        {
            issues.push(ConfigIssue::new(
                *list,
                format!("the key named `{}` is configured twice", key.name),
            ));
        } else if earlier.iter().any(|(_, other)| other.name == key.name) {
            issues.push(ConfigIssue::new(
                *list,
                format!("the name `{}` is given to two keys", key.name),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: serde_json::Value) -> (AuthConfig, Vec<ConfigIssue>) {
        let mut issues = Vec::new();
        let auth = section(Some(yaml), &mut issues);
        (auth, issues)
    }

    #[test]
    fn plain_keys_belong_to_the_default_tenant_and_get_a_name() {
        let (auth, issues) = read(serde_json::json!({
            "api_keys": ["k1", "", {"key": "k3", "name": "crm-sync", "tenant": "marketing"}],
            "admin_tokens": ["a1"]
        }));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(auth.api_keys.len(), 2, "the empty key is left out");
        assert_eq!(auth.api_keys[0].name, "api-key-1");
        assert!(auth.api_keys[0].tenant.is_default());
        assert_eq!(auth.api_keys[1].name, "crm-sync");
        assert_eq!(auth.api_keys[1].tenant.as_str(), "marketing");
        assert_eq!(auth.admin_tokens[0].name, "admin-token-1");
        let tenants: Vec<String> = auth.tenants().iter().map(|t| t.to_string()).collect();
        assert_eq!(tenants, ["default", "marketing"]);
    }

    #[test]
    fn bad_entries_are_named_without_quoting_keys() {
        let (_, issues) = read(serde_json::json!({
            "api_keys": [
                {"key": "s3cret-1", "tenant": "Bad Tenant"},
                {"key": "s3cret-2", "name": "has space"},
                {"key": "s3cret-3", "tenent": "x"},
                7,
                "s3cret-1",
            ],
            "admin_tokens": [{"key": "s3cret-4", "tenant": "marketing"}],
            "api_key": []
        }));
        let paths: Vec<&str> = issues.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "auth.api_keys[0].tenant",
                "auth.api_keys[1].name",
                "auth.api_keys[2].tenent",
                "auth.api_keys[3]",
                "auth.admin_tokens[0].tenant",
                "auth.api_key",
                "auth.api_keys",
            ],
            "{issues:?}"
        );
        let text = format!("{issues:?}");
        assert!(!text.contains("s3cret"), "{text}");
    }

    #[test]
    fn names_must_be_unique() {
        let (_, issues) = read(serde_json::json!({
            "api_keys": [{"key": "k1", "name": "same"}, {"key": "k2", "name": "same"}],
        }));
        assert_eq!(issues.len(), 1);
        assert!(issues[0].message.contains("`same`"), "{issues:?}");
    }
}

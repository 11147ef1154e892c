//! Typed reading of configuration values: a value that does not deserialize becomes an issue
//! at its full key path (`cache.ttl_seconds: invalid value ...`), never a stop.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::ConfigIssue;

/// Deserialize one section, or its default when absent; a failure becomes an issue.
pub(super) fn section<T: DeserializeOwned + Default>(
    value: Option<Value>,
    path: &str,
    issues: &mut Vec<ConfigIssue>,
) -> T {
    match value {
        None | Some(Value::Null) => T::default(),
        Some(value) => typed(value, path, issues).unwrap_or_default(),
    }
}

/// Deserialize `value` as a `T`; a failure becomes an issue at its key path under `path`.
pub(super) fn typed<T: DeserializeOwned>(
    value: Value,
    path: &str,
    issues: &mut Vec<ConfigIssue>,
) -> Option<T> {
    serde_path_to_error::deserialize(value)
        .map_err(|err| {
            let inner = err.path().to_string();
            let at = if inner == "." {
                path.to_owned()
            } else {
                format!("{path}.{inner}")
            };
            issues.push(ConfigIssue::new(at, err.inner().to_string()));
        })
        .ok()
}

//! Declarative connector manifests found in `connectors_dir`: one file per connector
//! (`<name>.yaml`, `.yml` or `.json`; the name is the file stem), of kind `http`.
//!
//! A file is a manifest (the `http` connector's settings) plus, optionally, the generic keys
//! of any connector entry at its top level — `enabled`, `timeout_ms`, `confidence`,
//! `ttl_seconds`, `retry`, `rate_limit`, `circuit_breaker`, `max_response_bytes`, `canary`.
//! `${VAR}` placeholders are replaced from the environment first, as in `config.yaml`.
//! Problems are reported per file, each naming the file and the key.

use std::{
    collections::BTreeMap,
    hash::{DefaultHasher, Hash, Hasher},
    path::Path,
};

use serde_json::{Map, Value};

use super::Factories;
use crate::config::{ConfigIssue, ConnectorConfig, connector_issues, substitute};

/// The generic keys a manifest file may carry beside the manifest proper.
const GENERIC_KEYS: &[&str] = &[
    "enabled",
    "timeout_ms",
    "confidence",
    "ttl_seconds",
    "retry",
    "rate_limit",
    "circuit_breaker",
    "max_response_bytes",
    "canary",
];

/// Largest manifest file read.
const MAX_MANIFEST_BYTES: u64 = 256 * 1024;

/// A valid manifest, ready to build.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub file: String,
    pub config: ConnectorConfig,
    /// Changes whenever the file's content does.
    pub fingerprint: u64,
}

/// What a scan of `connectors_dir` found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Valid manifests by connector name.
    pub manifests: BTreeMap<String, Manifest>,
    /// Files refused, with every reason.
    pub refused: Vec<(String, Vec<ConfigIssue>)>,
}

/// Read every manifest in `dir` (a missing directory has none).
pub fn scan(dir: &Path, factories: &Factories, env: &dyn Fn(&str) -> Option<String>) -> Scan {
    let mut scan = Scan::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return scan;
    };
    let mut files: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let is_manifest = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if !is_manifest || !path.is_file() {
            continue;
        }
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match read(&path, &file, &name, factories, env) {
            Ok(manifest) => {
                scan.manifests.insert(name, manifest);
            }
            Err(issues) => scan.refused.push((file, issues)),
        }
    }
    scan
}

fn read(
    path: &Path,
    file: &str,
    name: &str,
    factories: &Factories,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Manifest, Vec<ConfigIssue>> {
    let at = |key: &str| {
        if key.is_empty() {
            format!("connectors_dir/{file}")
        } else {
            format!("connectors_dir/{file}: {key}")
        }
    };
    let fail = |key: &str, message: String| vec![ConfigIssue::new(at(key), message)];
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    if size > MAX_MANIFEST_BYTES {
        return Err(fail(
            "",
            format!("is larger than {MAX_MANIFEST_BYTES} bytes"),
        ));
    }
    let text =
        std::fs::read_to_string(path).map_err(|err| fail("", format!("cannot be read: {err}")))?;
    let valid_name = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !valid_name {
        return Err(fail(
            "",
            "the file name (the connector's name) must be 1-64 characters of a-z, 0-9, `_` and `-`"
                .into(),
        ));
    }
    let (text, issues) = substitute(&text, env);
    if !issues.is_empty() {
        return Err(issues
            .into_iter()
            .map(|i| ConfigIssue::new(at(&i.path), i.message))
            .collect());
    }
    let value: Value = serde_saphyr::from_str(&text)
        .map_err(|err| fail("", format!("is not valid YAML or JSON: {err}")))?;
    let Value::Object(mut manifest) = value else {
        return Err(fail("", "must be a mapping (a manifest)".into()));
    };
    let mut entry = Map::new();
    for key in GENERIC_KEYS {
        if let Some(value) = manifest.remove(*key) {
            entry.insert((*key).to_owned(), value);
        }
    }
    entry.insert("kind".into(), Value::String("http".into()));
    entry.insert("settings".into(), Value::Object(manifest));
    let config: ConnectorConfig = serde_path_to_error::deserialize(Value::Object(entry))
        .map_err(|err| fail(&err.path().to_string(), err.inner().to_string()))?;
    let issues: Vec<ConfigIssue> = connector_issues("", &config, factories)
        .into_iter()
        .map(|issue| {
            let key = issue
                .path
                .trim_start_matches('.')
                .trim_start_matches("settings.");
            ConfigIssue::new(at(key), issue.message)
        })
        .collect();
    if !issues.is_empty() {
        return Err(issues);
    }
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    Ok(Manifest {
        file: file.to_owned(),
        config,
        fingerprint: hasher.finish(),
    })
}

//! Settings validation, metadata and conformance with the SDK's contract.

use enrichd_github::GitHubFactory;
use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier, SettingsIssue,
    testkit::{assert_conformance, issue_paths, settings_issues},
};
use serde_json::{Value, json};

use crate::helpers::TOKEN;

#[track_caller]
fn issues(settings: Value) -> Vec<SettingsIssue> {
    settings_issues(&GitHubFactory, &settings)
}

#[test]
fn the_connector_conforms_with_and_without_a_token() {
    assert_conformance(
        &GitHubFactory,
        json!({"base_url": "https://api.github.com"}),
    );
    assert_conformance(
        &GitHubFactory,
        json!({"base_url": "https://api.github.com", "token": TOKEN}),
    );
}

#[test]
fn nothing_is_required() {
    assert_eq!(GitHubFactory.validate(&json!({})), []);
    assert_eq!(GitHubFactory.validate(&Value::Null), []);
}

#[test]
fn a_bad_base_url_is_reported_by_key() {
    for base_url in [
        "api.github.com",
        "file:///etc/passwd",
        "https://api.github.com/?per_page=1",
    ] {
        let issues = issues(json!({"base_url": base_url}));
        assert_eq!(issue_paths(&issues), ["base_url"], "{base_url}");
    }
}

#[test]
fn an_unknown_key_is_reported_by_name() {
    let issues = issues(json!({"tokn": TOKEN}));
    assert_eq!(issue_paths(&issues), ["tokn"]);
}

#[test]
fn a_token_of_the_wrong_type_is_not_quoted() {
    let issues = issues(json!({"token": ["ghp_secret_in_a_list"]}));
    assert_eq!(issue_paths(&issues), ["token"]);
    assert!(
        !issues[0].message.contains("ghp_secret_in_a_list"),
        "{}",
        issues[0].message
    );
}

#[test]
fn metadata_describes_a_social_connector_keyed_by_the_github_handle() {
    let meta = GitHubFactory.metadata();
    assert_eq!(GitHubFactory.kind(), "github");
    assert_eq!(meta.name, "github");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Social);
    assert_eq!(
        meta.required_identifiers,
        [Identifier::Handle("github".into())]
    );
    assert_eq!(meta.default_confidence, 0.8);
    assert_eq!(meta.default_ttl_seconds, 86_400);
    for capability in [
        Capability::Identity,
        Capability::Demographics,
        Capability::Social,
        Capability::Behavior,
    ] {
        assert!(meta.capabilities.contains(&capability), "{capability:?}");
    }
    let schema = &meta.config_schema;
    assert!(!schema.properties["token"].required);
    assert_eq!(
        schema.redact(&json!({"token": TOKEN})),
        json!({"token": "***"})
    );
}

//! Settings validation, metadata and conformance with the SDK's contract.

use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier, SettingsIssue,
    testkit::{assert_conformance, issue_paths, settings_issues},
};
use enrichd_x::XFactory;
use serde_json::{Value, json};

use crate::helpers::TOKEN;

#[track_caller]
fn issues(settings: Value) -> Vec<SettingsIssue> {
    settings_issues(&XFactory, &settings)
}

#[test]
fn the_connector_conforms() {
    assert_conformance(
        &XFactory,
        json!({"base_url": "https://api.x.com", "bearer_token": TOKEN}),
    );
}

#[test]
fn only_the_bearer_token_is_required() {
    assert_eq!(XFactory.validate(&json!({"bearer_token": TOKEN})), []);
}

#[test]
fn a_missing_or_blank_token_is_reported_by_key() {
    for settings in [
        json!({}),
        Value::Null,
        json!({"bearer_token": ""}),
        json!({"bearer_token": "   "}),
    ] {
        let issues = issues(settings);
        assert_eq!(issue_paths(&issues), ["bearer_token"]);
        assert!(
            issues[0].message.contains("bearer token"),
            "{}",
            issues[0].message
        );
    }
}

#[test]
fn a_bad_base_url_is_reported_by_key() {
    for base_url in [
        "api.x.com",
        "ftp://api.x.com",
        "https://api.x.com/?x=1",
        "https://",
    ] {
        let issues = issues(json!({"base_url": base_url, "bearer_token": TOKEN}));
        assert_eq!(issue_paths(&issues), ["base_url"], "{base_url}");
    }
}

#[test]
fn an_unknown_key_is_reported_by_name() {
    let issues = issues(json!({"bearer_token": TOKEN, "token": TOKEN}));
    assert_eq!(issue_paths(&issues), ["token"]);
}

#[test]
fn a_token_of_the_wrong_type_is_not_quoted() {
    let issues = issues(json!({"bearer_token": ["AAAA-secret-in-a-list"]}));
    assert_eq!(issue_paths(&issues), ["bearer_token"]);
    assert!(
        !issues[0].message.contains("AAAA-secret-in-a-list"),
        "{}",
        issues[0].message
    );
}

#[test]
fn metadata_describes_a_social_connector_keyed_by_the_x_handle() {
    let meta = XFactory.metadata();
    assert_eq!(XFactory.kind(), "x");
    assert_eq!(meta.name, "x");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Social);
    assert_eq!(meta.required_identifiers, [Identifier::Handle("x".into())]);
    assert_eq!(meta.default_confidence, 0.75);
    assert_eq!(meta.default_ttl_seconds, 86_400);
    for capability in [
        Capability::Identity,
        Capability::Demographics,
        Capability::Interests,
        Capability::Social,
        Capability::Behavior,
        Capability::Contextual,
    ] {
        assert!(meta.capabilities.contains(&capability), "{capability:?}");
    }
    let schema = &meta.config_schema;
    assert!(schema.properties["bearer_token"].required);
    assert!(schema.properties["bearer_token"].sensitive);
    assert_eq!(
        schema.redact(&json!({"base_url": "https://api.x.com", "bearer_token": TOKEN})),
        json!({"base_url": "https://api.x.com", "bearer_token": "***"})
    );
}

//! Settings validation, metadata and conformance with the SDK's contract.

use enrichd_gravatar::GravatarFactory;
use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier, SettingsIssue,
    testkit::{assert_conformance, issue_paths, settings_issues},
};
use serde_json::{Value, json};

use crate::helpers::API_KEY;

#[track_caller]
fn issues(settings: Value) -> Vec<SettingsIssue> {
    settings_issues(&GravatarFactory, &settings)
}

#[test]
fn the_connector_conforms_with_and_without_a_key() {
    assert_conformance(
        &GravatarFactory,
        json!({"base_url": "https://api.gravatar.com"}),
    );
    assert_conformance(
        &GravatarFactory,
        json!({"base_url": "https://api.gravatar.com", "api_key": API_KEY}),
    );
}

#[test]
fn nothing_is_required() {
    assert_eq!(GravatarFactory.validate(&json!({})), []);
    assert_eq!(GravatarFactory.validate(&Value::Null), []);
}

#[test]
fn a_bad_base_url_is_reported_by_key() {
    for base_url in [
        "api.gravatar.com",
        "ftp://api.gravatar.com",
        "https://api.gravatar.com/#v3",
    ] {
        let issues = issues(json!({"base_url": base_url}));
        assert_eq!(issue_paths(&issues), ["base_url"], "{base_url}");
    }
}

#[test]
fn an_unknown_key_is_reported_by_name() {
    let issues = issues(json!({"apikey": API_KEY}));
    assert_eq!(issue_paths(&issues), ["apikey"]);
}

#[test]
fn a_key_of_the_wrong_type_is_not_quoted() {
    let issues = issues(json!({"api_key": 987_654_321}));
    assert_eq!(issue_paths(&issues), ["api_key"]);
    assert!(
        !issues[0].message.contains("987654321"),
        "{}",
        issues[0].message
    );
}

#[test]
fn metadata_describes_a_social_connector_keyed_by_email() {
    let meta = GravatarFactory.metadata();
    assert_eq!(GravatarFactory.kind(), "gravatar");
    assert_eq!(meta.name, "gravatar");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Social);
    assert_eq!(meta.required_identifiers, [Identifier::Email]);
    assert_eq!(meta.default_confidence, 0.6);
    assert_eq!(meta.default_ttl_seconds, 86_400);
    for capability in [
        Capability::Identity,
        Capability::Demographics,
        Capability::Interests,
        Capability::Social,
        Capability::Contextual,
    ] {
        assert!(meta.capabilities.contains(&capability), "{capability:?}");
    }
    let schema = &meta.config_schema;
    assert!(!schema.properties["api_key"].required);
    assert!(schema.properties["api_key"].sensitive);
    assert_eq!(
        schema.redact(&json!({"api_key": API_KEY})),
        json!({"api_key": "***"})
    );
}

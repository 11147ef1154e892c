//! Settings validation, metadata and conformance with the SDK's contract.

use enrichd_hubspot::HubSpotFactory;
use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier, SettingsIssue,
    testkit::{assert_conformance, issue_paths, settings_issues},
};
use serde_json::{Value, json};

use crate::helpers::TOKEN;

#[track_caller]
fn issues(settings: Value) -> Vec<SettingsIssue> {
    settings_issues(&HubSpotFactory, &settings)
}

#[test]
fn the_connector_conforms() {
    assert_conformance(
        &HubSpotFactory,
        json!({"base_url": "https://api.hubapi.com", "access_token": TOKEN}),
    );
}

#[test]
fn only_the_token_is_required() {
    assert_eq!(HubSpotFactory.validate(&json!({"access_token": TOKEN})), []);
}

#[test]
fn a_missing_or_blank_token_is_reported_by_key() {
    for settings in [
        json!({}),
        Value::Null,
        json!({"access_token": ""}),
        json!({"access_token": "  "}),
    ] {
        let issues = issues(settings);
        assert_eq!(issue_paths(&issues), ["access_token"]);
        assert!(
            issues[0].message.contains("private-app"),
            "{}",
            issues[0].message
        );
    }
}

#[test]
fn a_bad_base_url_is_reported_by_key() {
    for base_url in ["api.hubapi.com", "ftp://api.hubapi.com", "https://"] {
        let issues = issues(json!({"base_url": base_url, "access_token": TOKEN}));
        assert_eq!(issue_paths(&issues), ["base_url"], "{base_url}");
    }
}

#[test]
fn an_unknown_key_is_reported_by_name() {
    let issues = issues(json!({"access_token": TOKEN, "acces_token": TOKEN}));
    assert_eq!(issue_paths(&issues), ["acces_token"]);
}

#[test]
fn a_bad_property_list_is_reported_by_key() {
    let issues1 = issues(json!({"access_token": TOKEN, "properties": "email,firstname"}));
    assert_eq!(issue_paths(&issues1), ["properties"]);
    let issues2 = issues(json!({"access_token": TOKEN, "properties": ["email", "first,name"]}));
    assert_eq!(issue_paths(&issues2), ["properties.1"]);
}

#[test]
fn a_token_of_the_wrong_type_is_not_quoted() {
    let issues = issues(json!({"access_token": 1234567890}));
    assert_eq!(issue_paths(&issues), ["access_token"]);
    assert!(
        !issues[0].message.contains("1234567890"),
        "{}",
        issues[0].message
    );
}

#[test]
fn metadata_describes_a_crm_connector_keyed_by_email() {
    let meta = HubSpotFactory.metadata();
    assert_eq!(HubSpotFactory.kind(), "hubspot");
    assert_eq!(meta.name, "hubspot");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Crm);
    assert_eq!(meta.required_identifiers, [Identifier::Email]);
    assert_eq!(meta.default_confidence, 0.9);
    assert_eq!(meta.default_ttl_seconds, 3600);
    for capability in [
        Capability::Identity,
        Capability::Demographics,
        Capability::Interests,
        Capability::Contextual,
    ] {
        assert!(meta.capabilities.contains(&capability), "{capability:?}");
    }
    let schema = &meta.config_schema;
    assert!(schema.properties["access_token"].required);
    assert_eq!(
        schema.redact(&json!({"base_url": "https://api.hubapi.com", "access_token": TOKEN})),
        json!({"base_url": "https://api.hubapi.com", "access_token": "***"})
    );
}

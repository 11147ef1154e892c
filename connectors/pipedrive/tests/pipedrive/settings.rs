//! Settings validation, metadata and conformance with the SDK's contract.

use enrichd_pipedrive::PipedriveFactory;
use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier, SettingsIssue,
    testkit::{assert_conformance, issue_paths, settings_issues},
};
use serde_json::{Value, json};

use crate::helpers::{ACCESS_TOKEN, API_TOKEN};

#[track_caller]
fn issues(settings: Value) -> Vec<SettingsIssue> {
    settings_issues(&PipedriveFactory, &settings)
}

#[test]
fn the_connector_conforms_with_either_credential() {
    assert_conformance(
        &PipedriveFactory,
        json!({"base_url": "https://api.pipedrive.com", "api_token": API_TOKEN}),
    );
    assert_conformance(
        &PipedriveFactory,
        json!({"base_url": "https://acme.pipedrive.com/api", "access_token": ACCESS_TOKEN}),
    );
}

#[test]
fn one_token_is_all_that_is_required() {
    assert_eq!(
        PipedriveFactory.validate(&json!({"api_token": API_TOKEN})),
        []
    );
    assert_eq!(
        PipedriveFactory.validate(&json!({"access_token": ACCESS_TOKEN})),
        []
    );
}

#[test]
fn no_token_is_reported_naming_both_keys() {
    for settings in [
        json!({}),
        Value::Null,
        json!({"api_token": "", "access_token": "  "}),
    ] {
        let issues = issues(settings);
        assert_eq!(issue_paths(&issues), ["api_token"]);
        let message = &issues[0].message;
        assert!(
            message.contains("`api_token`") && message.contains("`access_token`"),
            "{message}"
        );
    }
}

#[test]
fn two_tokens_are_reported_naming_both_keys() {
    let issues = issues(json!({"api_token": API_TOKEN, "access_token": ACCESS_TOKEN}));
    assert_eq!(issue_paths(&issues), ["access_token"]);
    assert!(
        issues[0].message.contains("`api_token`"),
        "{}",
        issues[0].message
    );
    assert!(!issues[0].message.contains(API_TOKEN));
}

#[test]
fn a_bad_base_url_is_reported_by_key() {
    for base_url in [
        "api.pipedrive.com",
        "ftp://api.pipedrive.com",
        "https://api.pipedrive.com/?api_token=x",
    ] {
        let issues = issues(json!({"base_url": base_url, "api_token": API_TOKEN}));
        assert_eq!(issue_paths(&issues), ["base_url"], "{base_url}");
    }
}

#[test]
fn an_unknown_key_is_reported_by_name() {
    let issues = issues(json!({"api_token": API_TOKEN, "apitoken": API_TOKEN}));
    assert_eq!(issue_paths(&issues), ["apitoken"]);
}

#[test]
fn a_token_of_the_wrong_type_is_not_quoted() {
    let issues = issues(json!({"api_token": 1234567890}));
    assert_eq!(issue_paths(&issues), ["api_token"]);
    assert!(
        !issues[0].message.contains("1234567890"),
        "{}",
        issues[0].message
    );
}

#[test]
fn metadata_describes_a_crm_connector_keyed_by_email() {
    let meta = PipedriveFactory.metadata();
    assert_eq!(PipedriveFactory.kind(), "pipedrive");
    assert_eq!(meta.name, "pipedrive");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Crm);
    assert_eq!(meta.required_identifiers, [Identifier::Email]);
    assert_eq!(meta.default_confidence, 0.8);
    assert_eq!(meta.default_ttl_seconds, 3600);
    assert_eq!(
        meta.capabilities,
        [
            Capability::Identity,
            Capability::Behavior,
            Capability::Contextual
        ]
    );
    let schema = &meta.config_schema;
    assert!(schema.properties["api_token"].sensitive);
    assert!(schema.properties["access_token"].sensitive);
    assert_eq!(
        schema.redact(&json!({"base_url": "https://api.pipedrive.com", "api_token": API_TOKEN, "access_token": ACCESS_TOKEN})),
        json!({"base_url": "https://api.pipedrive.com", "api_token": "***", "access_token": "***"})
    );
}

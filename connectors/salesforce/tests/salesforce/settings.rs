//! Settings validation, metadata and conformance with the SDK's contract.

use enrichd_salesforce::SalesforceFactory;
use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier, SettingsIssue,
    testkit::{assert_conformance, issue_paths, settings_issues},
};
use serde_json::{Value, json};

use crate::helpers::TOKEN;

const BASE: &str = "https://acme.my.salesforce.com";

#[track_caller]
fn issues(settings: Value) -> Vec<SettingsIssue> {
    settings_issues(&SalesforceFactory, &settings)
}

#[test]
fn the_connector_conforms() {
    assert_conformance(
        &SalesforceFactory,
        json!({"base_url": BASE, "access_token": TOKEN}),
    );
}

#[test]
fn the_instance_and_the_token_are_required() {
    assert_eq!(
        SalesforceFactory.validate(&json!({"base_url": BASE, "access_token": TOKEN})),
        []
    );
    for settings in [
        json!({}),
        Value::Null,
        json!({"base_url": "", "access_token": " "}),
    ] {
        let issues = issues(settings);
        assert_eq!(issue_paths(&issues), ["base_url", "access_token"]);
        assert!(
            issues[0].message.contains("my.salesforce.com"),
            "{}",
            issues[0].message
        );
    }
}

#[test]
fn a_bad_base_url_is_reported_by_key() {
    for base_url in [
        "acme.my.salesforce.com",
        "ftp://acme.my.salesforce.com",
        "https://acme.my.salesforce.com/?x=1",
    ] {
        let issues = issues(json!({"base_url": base_url, "access_token": TOKEN}));
        assert_eq!(issue_paths(&issues), ["base_url"], "{base_url}");
    }
}

#[test]
fn a_bad_api_version_is_reported_with_an_example() {
    for version in ["66.0", "v66", "latest"] {
        let issues =
            issues(json!({"base_url": BASE, "access_token": TOKEN, "api_version": version}));
        assert_eq!(issue_paths(&issues), ["api_version"], "{version}");
        assert!(issues[0].message.contains("v66.0"), "{}", issues[0].message);
    }
}

#[test]
fn objects_must_be_contact_or_lead_each_once() {
    let none = issues(json!({"base_url": BASE, "access_token": TOKEN, "objects": []}));
    assert_eq!(issue_paths(&none), ["objects"]);
    let bad = issues(
        json!({"base_url": BASE, "access_token": TOKEN, "objects": ["Contact", "Account", "CONTACT"]}),
    );
    assert_eq!(issue_paths(&bad), ["objects.1", "objects.2"]);
    assert!(
        bad[0].message.contains("Contact or Lead"),
        "{}",
        bad[0].message
    );
    let wrong_type = issues(json!({"base_url": BASE, "access_token": TOKEN, "objects": "Contact"}));
    assert_eq!(issue_paths(&wrong_type), ["objects"]);
}

#[test]
fn field_lists_are_checked_per_object() {
    let bad = issues(json!({
        "base_url": BASE, "access_token": TOKEN,
        "fields": {"Contact": ["Id", "Email FROM User WHERE Name != ''"], "Lead": ["Id", "ID"]},
    }));
    assert_eq!(issue_paths(&bad), ["fields.Contact.1", "fields.Lead.1"]);
    let unknown_object = issues(json!({
        "base_url": BASE, "access_token": TOKEN, "fields": {"Account": ["Id"]},
    }));
    assert_eq!(issue_paths(&unknown_object), ["fields.Account"]);
}

#[test]
fn an_unknown_key_is_reported_by_name() {
    let issues = issues(json!({"base_url": BASE, "access_token": TOKEN, "instance_url": BASE}));
    assert_eq!(issue_paths(&issues), ["instance_url"]);
}

#[test]
fn a_token_of_the_wrong_type_is_not_quoted() {
    let issues = issues(json!({"base_url": BASE, "access_token": 1234567890}));
    assert_eq!(issue_paths(&issues), ["access_token"]);
    assert!(
        !issues[0].message.contains("1234567890"),
        "{}",
        issues[0].message
    );
}

#[test]
fn metadata_describes_a_crm_connector_keyed_by_email() {
    let meta = SalesforceFactory.metadata();
    assert_eq!(SalesforceFactory.kind(), "salesforce");
    assert_eq!(meta.name, "salesforce");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Crm);
    assert_eq!(meta.required_identifiers, [Identifier::Email]);
    assert_eq!(meta.default_confidence, 0.85);
    assert_eq!(meta.default_ttl_seconds, 3600);
    assert_eq!(
        meta.capabilities,
        [
            Capability::Identity,
            Capability::Demographics,
            Capability::Interests,
            Capability::Contextual
        ]
    );
    let schema = &meta.config_schema;
    assert!(schema.properties["base_url"].required);
    assert!(schema.properties["access_token"].required);
    assert_eq!(
        schema.properties["api_version"].default,
        Some(json!("v66.0"))
    );
    assert_eq!(
        schema.redact(&json!({"base_url": BASE, "access_token": TOKEN})),
        json!({"base_url": BASE, "access_token": "***"})
    );
}

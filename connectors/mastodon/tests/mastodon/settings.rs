//! Settings validation, metadata and conformance with the SDK's contract.

use enrichd_mastodon::MastodonFactory;
use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier, SettingsIssue,
    testkit::{assert_conformance, issue_paths, settings_issues},
};
use serde_json::{Value, json};

use crate::helpers::TOKEN;

#[track_caller]
fn issues(settings: Value) -> Vec<SettingsIssue> {
    settings_issues(&MastodonFactory, &settings)
}

#[test]
fn the_connector_conforms_in_every_mode() {
    for settings in [
        json!({"base_url": "https://mastodon.social"}),
        json!({"base_url": "https://mastodon.social", "access_token": TOKEN}),
        json!({"instances_allowed": ["mastodon.social"], "access_token": TOKEN}),
        json!({}),
    ] {
        assert_conformance(&MastodonFactory, settings);
    }
}

#[test]
fn nothing_is_required() {
    assert_eq!(MastodonFactory.validate(&json!({})), []);
    assert_eq!(MastodonFactory.validate(&Value::Null), []);
}

#[test]
fn a_bad_base_url_is_reported_by_key() {
    for base_url in [
        "mastodon.social",
        "file:///etc/passwd",
        "https://mastodon.social/?x=1",
    ] {
        let issues = issues(json!({"base_url": base_url}));
        assert_eq!(issue_paths(&issues), ["base_url"], "{base_url}");
    }
}

#[test]
fn a_bad_allow_list_entry_is_reported_by_index() {
    let entries = issues(json!({
        "instances_allowed": ["mastodon.social", "https://fosstodon.org", "mastodon.social:443", ""],
    }));
    assert_eq!(
        issue_paths(&entries),
        [
            "instances_allowed.1",
            "instances_allowed.2",
            "instances_allowed.3"
        ]
    );
    assert!(
        entries[0].message.contains("host name"),
        "{}",
        entries[0].message
    );

    let not_a_list = issues(json!({"instances_allowed": "mastodon.social"}));
    assert_eq!(issue_paths(&not_a_list), ["instances_allowed"]);
}

#[test]
fn an_unknown_key_is_reported_by_name() {
    let issues = issues(json!({"token": TOKEN}));
    assert_eq!(issue_paths(&issues), ["token"]);
}

#[test]
fn a_token_of_the_wrong_type_is_not_quoted() {
    let issues = issues(json!({"access_token": {"value": "secret-in-an-object"}}));
    assert_eq!(issue_paths(&issues), ["access_token"]);
    assert!(
        !issues[0].message.contains("secret-in-an-object"),
        "{}",
        issues[0].message
    );
}

#[test]
fn metadata_describes_a_social_connector_keyed_by_the_mastodon_handle() {
    let meta = MastodonFactory.metadata();
    assert_eq!(MastodonFactory.kind(), "mastodon");
    assert_eq!(meta.name, "mastodon");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Social);
    assert_eq!(
        meta.required_identifiers,
        [Identifier::Handle("mastodon".into())]
    );
    assert_eq!(meta.default_confidence, 0.7);
    assert_eq!(meta.default_ttl_seconds, 86_400);
    for capability in [
        Capability::Identity,
        Capability::Interests,
        Capability::Social,
        Capability::Behavior,
        Capability::Contextual,
    ] {
        assert!(meta.capabilities.contains(&capability), "{capability:?}");
    }
    let schema = &meta.config_schema;
    assert!(!schema.properties["base_url"].required);
    assert!(!schema.properties["access_token"].required);
    assert!(schema.properties["access_token"].sensitive);
    assert_eq!(
        schema.redact(&json!({"base_url": "https://mastodon.social", "access_token": TOKEN})),
        json!({"base_url": "https://mastodon.social", "access_token": "***"})
    );
}

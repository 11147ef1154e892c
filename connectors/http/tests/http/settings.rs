//! Manifest validation (every problem at once, each at its key path, with an example),
//! metadata derived from the manifest, redaction, and conformance with the SDK's contract.

use enrichd_http::{EXAMPLE_MANIFEST, HttpFactory};
use enrichd_sdk::{
    Capability, Category, ConnectorFactory, Identifier,
    testkit::{assert_conformance, issue_paths, wiremock::MockServer},
};
use serde_json::{Value, json};

use crate::helpers::{API_KEY, TOKEN, build, issues, manifest};

/// A valid manifest that calls `https://api.acme.example`, no server needed.
fn acme() -> Value {
    json!({
        "name": "acme-people",
        "requires": ["email"],
        "allowed_hosts": ["api.acme.example", "*.cdn.acme.example"],
        "request": {
            "url": "https://api.acme.example/v1/people?email={email}",
            "headers": {"Authorization": format!("Bearer {TOKEN}")},
        },
        "mapping": {"identity.name": "/person/full_name"},
    })
}

/// `acme()` with `pointer` (a JSON pointer into the manifest) set to `value`.
fn acme_with(pointer: &str, value: Value) -> Value {
    let mut manifest = acme();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    manifest.pointer_mut(parent).unwrap()[key] = value;
    manifest
}

/// The issues of `settings`, asserting that there is exactly one, at `path`.
#[track_caller]
fn single_issue(settings: Value, path: &str) -> String {
    let issues = issues(&settings);
    assert_eq!(issue_paths(&issues), [path], "{issues:#?}");
    issues[0].message.clone()
}

#[test]
fn the_connector_conforms() {
    assert_conformance(&HttpFactory, acme());
}

#[test]
fn a_minimal_manifest_builds() {
    assert_eq!(HttpFactory.validate(&acme()), []);
}

#[test]
fn the_example_manifest_builds_once_its_variable_is_replaced() {
    // What enrichd does to a manifest file before handing it over.
    let text = EXAMPLE_MANIFEST.replace("${ACME_TOKEN}", TOKEN);
    let manifest: Value = serde_saphyr::from_str(&text).unwrap();

    let connector = build(&manifest);

    let meta = connector.metadata();
    assert_eq!(meta.name, "acme-people");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Other);
    assert_eq!(meta.required_identifiers, [Identifier::Email]);
    assert_eq!(
        meta.capabilities,
        [
            Capability::Identity,
            Capability::Demographics,
            Capability::Interests,
            Capability::Social,
            Capability::Behavior,
            Capability::Contextual,
        ]
    );
    assert!(meta.description.starts_with("Looks the subject's email up"));
}

#[test]
fn the_example_manifest_with_its_variable_unset_is_refused_at_the_header() {
    let manifest: Value = serde_saphyr::from_str(EXAMPLE_MANIFEST).unwrap();
    let message = single_issue(manifest, "request.headers.Authorization");
    assert!(message.contains("environment"), "{message}");
}

#[test]
fn every_missing_key_is_reported_at_once() {
    for settings in [json!({}), Value::Null] {
        let issues = issues(&settings);
        assert_eq!(
            issue_paths(&issues),
            ["requires", "allowed_hosts", "request", "mapping"]
        );
        assert!(
            issues.iter().all(|i| i.message.contains("e.g.")),
            "{issues:#?}"
        );
    }
}

#[test]
fn many_problems_are_reported_at_once_each_at_its_key() {
    let settings = json!({
        "name": "ACME People",
        "version": "1.0",
        "requires": ["email", "twitter"],
        "allowed_hosts": ["api.acme.example", "https://evil.example/"],
        "request": {
            "method": "DELETE",
            "url": "https://{email}.acme.example/v1",
            "headers": {"X Bad": "x", "Host": "internal.example", "X-Phone": "{phone}"},
            // {phone} is not listed, but `requires` is broken itself: that is the issue shown.
        },
        "not_found": {"statuses": [302, 404], "when_missing": "person", "when_equals": {"pointer": "/a~2", "value": 1}},
        "mapping": {"identity.nme": "/person/name", "interests": "tags", "contextual.plan": "/plan"},
        "health": {"url": "/status", "expect_status": 1000},
    });

    let issues = issues(&settings);

    // With `allowed_hosts` broken, URLs are not checked against it (that would only add
    // noise); with `requires` broken, placeholders are not checked against it.
    assert_eq!(
        issue_paths(&issues),
        [
            "name",
            "version",
            "requires[1]",
            "allowed_hosts[1]",
            "request.method",
            "request.url",
            "request.headers.Host",
            "request.headers.X Bad",
            "not_found.statuses[0]",
            "not_found.when_missing",
            "not_found.when_equals.pointer",
            "mapping.identity.nme",
            "mapping.interests",
            "health.expect_status",
            "health.url",
        ]
    );
    for issue in &issues {
        assert!(issue.message.contains("e.g."), "{issue}");
    }
}

#[test]
fn each_bad_key_is_named_with_an_example() {
    let cases = [
        (acme_with("/name", json!("")), "name", "acme-people"),
        (
            acme_with("/description", json!(" ")),
            "description",
            "People API",
        ),
        (acme_with("/version", json!("v2")), "version", "1.0.0"),
        (acme_with("/requires", json!([])), "requires", "[email]"),
        (
            acme_with("/requires", json!(["Email"])),
            "requires[0]",
            "handles.github",
        ),
        (
            acme_with("/allowed_hosts", json!([])),
            "allowed_hosts",
            "api.acme.example",
        ),
        (
            acme_with("/allowed_hosts", json!(["api.acme.example", "*"])),
            "allowed_hosts[1]",
            "*.acme.example",
        ),
        (
            acme_with("/base_url", json!("ftp://api.acme.example")),
            "base_url",
            "https://",
        ),
        (
            acme_with("/base_url", json!("https://other.example")),
            "base_url",
            "allowed_hosts: [\"other.example\"]",
        ),
        (
            acme_with("/request/method", json!("PUT")),
            "request.method",
            "GET",
        ),
        (
            acme_with("/request/url", json!("")),
            "request.url",
            "https://api.acme.example",
        ),
        (
            acme_with(
                "/request/url",
                json!("https://evil.example/v1?email={email}"),
            ),
            "request.url",
            "allowed_hosts: [\"evil.example\"]",
        ),
        (
            acme_with("/request/url", json!("https://api.acme.example:{phone}/v1")),
            "request.url",
            "path and the query",
        ),
        (
            acme_with("/request/url", json!("/v1/people?email={email}")),
            "request.url",
            "base_url: https://api.acme.example",
        ),
        (
            acme_with("/request/url", json!("https://api.acme.example/v1/{emial}")),
            "request.url",
            "{email}",
        ),
        (
            acme_with("/request/url", json!("https://api.acme.example/v1/{phone}")),
            "request.url",
            "requires: [phone]",
        ),
        (
            acme_with("/request/body", json!({"q": "{email}"})),
            "request.body",
            "method: POST",
        ),
        (
            acme_with("/request/headers", json!({"Authorization": "Bearer "})),
            "request.headers.Authorization",
            "Bearer ${ACME_TOKEN}",
        ),
        (
            acme_with("/not_found", json!({"statuses": [99]})),
            "not_found.statuses[0]",
            "404",
        ),
        (
            acme_with("/not_found", json!({"when_missing": "person.id"})),
            "not_found.when_missing",
            "/person/id",
        ),
        (acme_with("/mapping", json!({})), "mapping", "identity.name"),
        (
            acme_with("/mapping", json!({"identity.nme": "/name"})),
            "mapping.identity.nme",
            "identity.name",
        ),
        (
            acme_with("/mapping", json!({"social.followers": "/f"})),
            "mapping.social.followers",
            "social.connections",
        ),
        (acme_with("/health", json!({})), "health.url", "/v1/status"),
        (
            acme_with(
                "/health",
                json!({"url": "https://api.acme.example/v1/{email}"}),
            ),
            "health.url",
            "/v1/status",
        ),
    ];
    for (settings, path, example) in cases {
        let message = single_issue(settings, path);
        assert!(
            message.contains(example),
            "{path}: `{message}` lacks `{example}`"
        );
    }
}

#[test]
fn a_post_body_is_checked_string_by_string() {
    let mut settings = acme_with("/request/method", json!("POST"));
    settings["request"]["body"] = json!({
        "lookup": {"email": "{email}", "phone": "{phone}"},
        "ids": ["{user_id}", "{emial}"],
    });
    let issues = issues(&settings);
    assert_eq!(
        issue_paths(&issues),
        ["request.body.ids[1]", "request.body.lookup.phone"]
    );
    assert!(
        issues[1].message.contains("requires: [phone]"),
        "{issues:#?}"
    );
}

#[test]
fn user_id_needs_no_listing_and_handles_do() {
    let user_id = acme_with(
        "/request/url",
        json!("https://api.acme.example/v1/users/{user_id}"),
    );
    assert_eq!(HttpFactory.validate(&user_id), []);

    let handle = acme_with(
        "/request/url",
        json!("https://api.acme.example/v1/gh/{handles.github}"),
    );
    let message = single_issue(handle.clone(), "request.url");
    assert!(message.contains("requires: [handles.github]"), "{message}");
    let mut listed = handle;
    listed["requires"] = json!(["handles.github"]);
    assert_eq!(HttpFactory.validate(&listed), []);
}

#[test]
fn a_relative_url_goes_below_base_url_and_an_absolute_one_may_not() {
    let mut relative = acme_with("/request/url", json!("/v1/people?email={email}"));
    relative["base_url"] = json!("https://api.acme.example");
    assert_eq!(HttpFactory.validate(&relative), []);

    let absolute = acme_with("/base_url", json!("https://api.acme.example"));
    let message = single_issue(absolute, "request.url");
    assert!(message.contains("path below base_url"), "{message}");
}

#[test]
fn unknown_keys_are_named_at_any_depth() {
    let top = single_issue(acme_with("/mappings", json!({})), "mappings");
    assert!(top.contains("unknown field"), "{top}");
    single_issue(
        acme_with("/not_found", json!({"when_mising": "/x"})),
        "not_found.when_mising",
    );
    // Under the sensitive `request`, the SDK names the key but quotes nothing.
    let nested = single_issue(acme_with("/request/hedaers", json!({})), "request.hedaers");
    assert!(!nested.contains(TOKEN), "{nested}");
}

#[test]
fn header_values_are_never_quoted() {
    let cases = [
        json!({"Authorization": format!("Bearer {TOKEN}\r\nX-Admin: 1")}),
        json!({"Authorization": format!("Bearer {TOKEN} {{emial}}")}),
        json!({"Authorization": format!("Bearer {TOKEN}"), "X-Api-Key": format!("{API_KEY} ")}),
        json!({"X-Api-Key": 12345}),
    ];
    for headers in cases {
        let issues = issues(&acme_with("/request/headers", headers.clone()));
        for issue in &issues {
            assert!(issue.path.starts_with("request.headers"), "{issue}");
            for secret in [TOKEN, API_KEY, "12345"] {
                assert!(!issue.message.contains(secret), "{secret} leaked: {issue}");
            }
        }
    }
}

#[test]
fn a_base_url_with_credentials_is_refused_without_quoting_them() {
    for base_url in [
        "https://acme:s3cr3t@api.acme.example",
        "https://acme:s3cr3t@api.acme.example/v1",
        "https://acme:s3cr3t@api.acme.example:99999",
        "ftp://acme:s3cr3t@api.acme.example",
    ] {
        let mut manifest = acme_with("/base_url", json!(base_url));
        manifest["request"]["url"] = json!("/v1/people?email={email}");

        let message = single_issue(manifest, "base_url");

        for secret in ["s3cr3t", "acme:"] {
            assert!(!message.contains(secret), "{base_url}: {message}");
        }
    }
}

#[tokio::test]
async fn a_loopback_server_is_allowed_by_its_host_and_port() {
    let server = MockServer::start().await;
    assert_eq!(HttpFactory.validate(&manifest(&server)), []);

    let mut other_port = manifest(&server);
    other_port["allowed_hosts"] = json!(["127.0.0.1:1"]);
    let message = single_issue(other_port, "request.url");
    assert!(message.contains("allowed_hosts"), "{message}");

    let mut by_name = manifest(&server);
    by_name["allowed_hosts"] = json!([format!("localhost:{}", server.address().port())]);
    single_issue(by_name, "request.url");
}

#[test]
fn metadata_comes_from_the_manifest() {
    let mut settings = acme();
    settings["description"] = json!("People API of ACME");
    settings["version"] = json!("2.3.4");
    settings["category"] = json!("crm");
    settings["requires"] = json!(["email", "handles.github", "email"]);
    settings["mapping"] = json!({
        "contextual.plan": "/plan",
        "identity.name": "/name",
        "social.connections": "/followers",
    });

    let meta = build(&settings).metadata().clone();

    assert_eq!(meta.name, "acme-people");
    assert_eq!(meta.description, "People API of ACME");
    assert_eq!(meta.version, "2.3.4");
    assert_eq!(meta.category, Category::Crm);
    assert_eq!(
        meta.required_identifiers,
        [Identifier::Email, Identifier::Handle("github".into())]
    );
    assert_eq!(
        meta.capabilities,
        [
            Capability::Identity,
            Capability::Social,
            Capability::Contextual
        ]
    );
    assert_eq!(meta.default_confidence, 0.5);
    assert_eq!(meta.default_ttl_seconds, 3600);
}

#[test]
fn defaults_fill_what_a_manifest_leaves_out() {
    let mut settings = acme();
    settings.as_object_mut().unwrap().remove("name");

    let meta = build(&settings).metadata().clone();

    assert_eq!(meta.name, "http");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Other);
    assert!(
        meta.description.contains("api.acme.example"),
        "{}",
        meta.description
    );
}

#[test]
fn the_factory_describes_the_kind() {
    let meta = HttpFactory.metadata();
    assert_eq!(HttpFactory.kind(), "http");
    assert_eq!(meta.name, "http");
    assert_eq!(meta.version, "1.0.0");
    assert_eq!(meta.category, Category::Other);
    assert_eq!(meta.required_identifiers, [Identifier::UserId]);
    assert_eq!(meta.capabilities.len(), 6);
}

#[test]
fn request_and_health_are_redacted_as_a_whole() {
    let schema = HttpFactory.metadata().config_schema;
    let mut settings = acme();
    settings["health"] = json!({"url": "https://api.acme.example/status?key=s3cret"});

    let shown = schema.redact(&settings);

    assert_eq!(shown["request"], "***");
    assert_eq!(shown["health"], "***");
    assert_eq!(shown["allowed_hosts"], settings["allowed_hosts"]);
    assert_eq!(shown["mapping"], settings["mapping"]);
    assert!(!shown.to_string().contains(TOKEN));
    assert!(schema.properties["request"].required);
    assert!(schema.properties["base_url"].kind == enrichd_sdk::PropertyType::Url);
}

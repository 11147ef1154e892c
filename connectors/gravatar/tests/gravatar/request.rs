//! The exact request the connector sends for a lookup.

use enrichd_sdk::testkit::{
    fixture_response, request_header,
    wiremock::{Mock, MockServer, matchers::any},
};
use serde_json::json;

use crate::helpers::{API_KEY, EMAIL, EMAIL_HASH, TestGravatar, subject};

#[tokio::test]
async fn an_anonymous_lookup_asks_for_the_sha256_of_the_email_without_authorization() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(fixture_response(200, "profile-full-sdk-fixture.json"))
        .await;

    gravatar.enrich(EMAIL).await.unwrap();

    let request = gravatar.single_request().await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), format!("/v3/profiles/{EMAIL_HASH}"));
    assert_eq!(request.url.query(), None);
    assert_eq!(request_header(&request, "accept"), Some("application/json"));
    assert_eq!(request_header(&request, "authorization"), None);
    let sent = format!("{:?} {}", request.headers, request.url);
    assert!(
        !sent.contains("biglytics"),
        "the email never leaves: {sent}"
    );
}

#[tokio::test]
async fn the_email_is_trimmed_and_lower_cased_before_hashing() {
    for email in ["BCooper@Biglytics.NET", "  bcooper@biglytics.net "] {
        let gravatar = TestGravatar::start().await;
        gravatar
            .answer_lookups(fixture_response(200, "profile-full-sdk-fixture.json"))
            .await;

        gravatar.enrich(email).await.unwrap();

        assert_eq!(
            gravatar.single_request().await.url.path(),
            format!("/v3/profiles/{EMAIL_HASH}"),
            "{email:?}"
        );
    }
}

#[tokio::test]
async fn a_configured_key_is_sent_as_bearer_and_an_empty_one_is_not() {
    let keyed = TestGravatar::start_with(json!({"api_key": API_KEY})).await;
    keyed
        .answer_lookups(fixture_response(200, "profile-full-sdk-fixture.json"))
        .await;
    keyed.enrich(EMAIL).await.unwrap();
    assert_eq!(
        request_header(&keyed.single_request().await, "authorization"),
        Some(format!("Bearer {API_KEY}").as_str())
    );

    let empty = TestGravatar::start_with(json!({"api_key": ""})).await;
    empty
        .answer_lookups(fixture_response(200, "profile-full-sdk-fixture.json"))
        .await;
    empty.enrich(EMAIL).await.unwrap();
    assert_eq!(
        request_header(&empty.single_request().await, "authorization"),
        None
    );
}

#[tokio::test]
async fn a_subject_without_an_email_is_not_found_without_a_call() {
    let gravatar = TestGravatar::start().await;
    let subject = enrichd_sdk::Subject::new("u-1").with_handle("github", "octocat");

    let err = gravatar
        .connector
        .enrich(&subject, &enrichd_sdk::testkit::context())
        .await
        .unwrap_err();

    assert_eq!(err.code, enrichd_sdk::ErrorCode::NotFound);
    assert!(
        gravatar
            .server
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_it() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fixture_response(200, "profile-full-sdk-fixture.json"))
        .mount(&server)
        .await;
    let connector = enrichd_sdk::ConnectorFactory::build(
        &enrichd_gravatar::GravatarFactory,
        &json!({"base_url": format!("{}/proxy/gravatar/", server.uri())}),
    )
    .unwrap();

    connector
        .enrich(&subject(EMAIL), &enrichd_sdk::testkit::context())
        .await
        .unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        request.url.path(),
        format!("/proxy/gravatar/v3/profiles/{EMAIL_HASH}")
    );
}

//! The exact request the connector sends for a lookup, and the handles and instances it
//! refuses to call.

use enrichd_mastodon::MastodonFactory;
use enrichd_sdk::{
    Connector, ConnectorError, ConnectorFactory, ErrorCode, hosts,
    testkit::{context, expect_error, fixture_response, request_header},
};
use serde_json::json;

use crate::helpers::{HANDLE, LOOKUP_PATH, TOKEN, TestMastodon, subject};

#[tokio::test]
async fn with_a_base_url_the_full_acct_is_looked_up_there_anonymously() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;

    mastodon.enrich(HANDLE).await.unwrap();

    let request = mastodon.single_request().await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), LOOKUP_PATH);
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        [("acct".to_owned(), "Gargron@mastodon.social".to_owned())]
    );
    assert_eq!(request.url.query(), Some("acct=Gargron%40mastodon.social"));
    assert_eq!(request_header(&request, "accept"), Some("application/json"));
    assert_eq!(request_header(&request, "authorization"), None);
}

#[tokio::test]
async fn a_leading_at_sign_and_the_instances_case_are_normalised() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;

    mastodon.enrich("@Gargron@Mastodon.Social").await.unwrap();

    let request = mastodon.single_request().await;
    let acct = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "acct")
        .map(|(_, v)| v.into_owned());
    assert_eq!(acct.as_deref(), Some("Gargron@mastodon.social"));
}

#[tokio::test]
async fn a_configured_token_is_sent_as_bearer() {
    let mastodon = TestMastodon::start_with(json!({"access_token": TOKEN})).await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;

    mastodon.enrich(HANDLE).await.unwrap();

    let request = mastodon.single_request().await;
    assert_eq!(
        request_header(&request, "authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
}

#[tokio::test]
async fn malformed_handles_are_not_found_without_a_call() {
    let long_user = format!("{}@mastodon.social", "a".repeat(31));
    for handle in [
        "Gargron",
        "Gargron@",
        "@mastodon.social",
        "Gar.gron@mastodon.social",
        "Gargron@mastodon.social:8443",
        "Gargron@mastodon.social/api",
        "Gargron@[::1]",
        "a@b@mastodon.social",
        "",
        long_user.as_str(),
    ] {
        let mastodon = TestMastodon::start().await;
        mastodon
            .answer_lookups(fixture_response(200, "account-get-local-user.json"))
            .await;

        let err = expect_error(mastodon.enrich(handle).await, ErrorCode::NotFound);

        assert!(!err.retryable);
        assert!(
            mastodon
                .server
                .received_requests()
                .await
                .unwrap()
                .is_empty(),
            "{handle:?}"
        );
        if !handle.is_empty() {
            assert!(!err.message.contains(handle), "{}", err.message);
        }
    }
}

/// Every handle whose instance may not be called, whatever the reason, gets this one answer.
async fn refusal_of(connector: &dyn Connector, handle: &str) -> ConnectorError {
    let err = expect_error(
        connector.enrich(&subject(handle), &context()).await,
        ErrorCode::NotFound,
    );
    assert!(!err.retryable, "{handle}");
    assert!(!err.message.contains(handle), "{}", err.message);
    err
}

#[tokio::test]
async fn internal_instances_are_refused_without_a_call_and_alike() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;
    let first = refusal_of(mastodon.connector.as_ref(), "admin@localhost").await;

    for handle in [
        "admin@127.0.0.1",
        "admin@10.0.0.1",
        "admin@169.254.169.254",
        "admin@intranet",
        "admin@mastodon.internal",
        "admin@printer.local",
        "admin@api.localhost",
        "admin@1.0.0.127.in-addr.arpa",
        "u@127.0.0.0x1",
        "u@0x7f.0.0.0x1",
        "u@169.254.169.0xfe",
        "u@127.1.0x0",
        "u@a.0x1",
        "u@2130706433",
        "u@0177.0.0.1",
        "u@[::ffff:127.0.0.1]",
        "u@mastodon.social:443",
        "Gargron@mastodon.social@evil.example",
    ] {
        let err = refusal_of(mastodon.connector.as_ref(), handle).await;
        assert_eq!(err, first, "{handle}");
    }
    assert!(
        mastodon
            .server
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn without_a_base_url_addresses_in_disguise_are_refused_without_a_connection() {
    // Each of these is an address the URL parser would connect to (`127.0.0.1`,
    // `169.254.169.254`, `127.1.0.0`), or no URL at all (`a.0x1`, which once panicked).
    // A connection attempt would be a `connection` error: nothing listens on their port 443.
    let connector = MastodonFactory.build(&json!({})).unwrap();
    let first = refusal_of(connector.as_ref(), "admin@localhost").await;

    for handle in [
        "u@127.0.0.0x1",
        "u@0x7f.0.0.0x1",
        "u@169.254.169.0xfe",
        "u@127.1.0x0",
        "u@a.0x1",
        "u@127.0.0.1",
        "u@2130706433",
        "u@[::1]",
        "u@１２７．０．０．１",
    ] {
        let err = refusal_of(connector.as_ref(), handle).await;
        assert_eq!(err, first, "{handle}");
        assert!(!err.subject_caused);
    }
}

#[tokio::test]
async fn an_allow_list_is_the_only_thing_called() {
    let mastodon = TestMastodon::start_with(json!({
        "instances_allowed": ["Mastodon.Social", "mastodon.internal"],
    }))
    .await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;

    expect_error(
        mastodon.enrich("noiob@awoo.space").await,
        ErrorCode::NotFound,
    );
    assert!(
        mastodon
            .server
            .received_requests()
            .await
            .unwrap()
            .is_empty()
    );

    mastodon.enrich("Gargron@MASTODON.social").await.unwrap();
    mastodon.enrich("staff@mastodon.internal").await.unwrap();
    assert_eq!(mastodon.server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn an_allow_list_and_the_handle_are_compared_as_the_url_reads_them() {
    let mastodon = TestMastodon::start_with(json!({
        "instances_allowed": ["bücher.example", "127.0.0.1"],
    }))
    .await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;

    mastodon.enrich("u@BÜCHER.example").await.unwrap();
    mastodon.enrich("u@127.0.0.0x1").await.unwrap();
    expect_error(mastodon.enrich("u@127.0.0.2").await, ErrorCode::NotFound);

    let accts: Vec<String> = mastodon
        .server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter_map(|r| {
            r.url
                .query_pairs()
                .find(|(k, _)| k == "acct")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert_eq!(accts, ["u@xn--bcher-kva.example", "u@127.0.0.1"]);
}

#[tokio::test]
async fn without_a_base_url_the_call_goes_to_the_instance_and_a_failure_names_nothing() {
    // `localhost` is allowed explicitly, so the lookup goes to https://localhost:443, where
    // nothing listens: the failure is the subject's, and says nothing of what happened.
    let connector = MastodonFactory
        .build(&json!({"instances_allowed": ["localhost"]}))
        .unwrap();

    let err = expect_error(
        connector
            .enrich(&subject("admin@localhost"), &context())
            .await,
        ErrorCode::Connection,
    );

    assert_eq!(err, hosts::unreachable_host());
    assert!(!err.retryable);
    assert!(err.subject_caused);
    assert_eq!(
        err.message,
        "the host named by the subject could not be reached"
    );
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_it() {
    use enrichd_sdk::testkit::wiremock::{Mock, MockServer, matchers::any};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fixture_response(200, "account-get-local-user.json"))
        .mount(&server)
        .await;
    let connector = MastodonFactory
        .build(&json!({"base_url": format!("{}/proxy/mastodon/", server.uri())}))
        .unwrap();

    connector
        .enrich(&subject(HANDLE), &context())
        .await
        .unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.url.path(), "/proxy/mastodon/api/v1/accounts/lookup");
}

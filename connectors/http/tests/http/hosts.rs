//! `allowed_hosts` on redirects: on loopback every server is 127.0.0.1, so the two "hosts" of
//! these tests are told apart by port (`127.0.0.1:<port>` entries) and by name (`localhost`
//! is not `127.0.0.1`). A refused hop must not reach the other server at all.

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        expect_error, fixture_response,
        wiremock::{
            Mock, MockServer, ResponseTemplate,
            matchers::{any, path},
        },
    },
};
use serde_json::json;

use crate::helpers::{EMAIL, PEOPLE_PATH, TestApi, assert_private};

fn redirect_to(location: &str) -> ResponseTemplate {
    ResponseTemplate::new(302).insert_header("location", location)
}

/// A second server that would answer with the demo person if it were ever reached.
async fn other_server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fixture_response(200, "person-bcooper.json"))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn a_redirect_to_another_port_is_refused_before_it_is_called() {
    let other = other_server().await;
    let api = TestApi::start().await;
    api.answer_lookups(redirect_to(&format!("{}/v1/people?steal=1", other.uri())))
        .await;

    let err = expect_error(api.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert!(
        other.received_requests().await.unwrap().is_empty(),
        "the refused host was called"
    );
    assert!(
        err.message.starts_with("HTTP 302 from acme-people"),
        "{}",
        err.message
    );
    assert!(err.message.contains("allowed_hosts"), "{}", err.message);
    assert!(!err.retryable);
    assert_private(&err, &api.server);
    assert!(!err.message.contains(&other.uri()), "{}", err.message);
}

#[tokio::test]
async fn a_redirect_to_another_host_name_is_refused() {
    let api = TestApi::start().await;
    let port = api.server.address().port();
    api.answer_lookups(redirect_to(&format!("http://localhost:{port}/v2/people")))
        .await;
    Mock::given(path("/v2/people"))
        .respond_with(fixture_response(200, "person-bcooper.json"))
        .mount(&api.server)
        .await;

    expect_error(api.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert_eq!(
        api.requests().await.len(),
        1,
        "localhost must not be called"
    );
}

#[tokio::test]
async fn a_redirect_to_a_non_http_scheme_is_refused() {
    let api = TestApi::start().await;
    api.answer_lookups(redirect_to("file:///etc/passwd")).await;

    expect_error(api.enrich(EMAIL).await, ErrorCode::BadResponse);
}

#[tokio::test]
async fn a_redirect_within_the_allowed_host_is_followed() {
    let api = TestApi::start().await;
    api.answer_lookups(
        ResponseTemplate::new(301).insert_header("location", "/v2/people?email=moved"),
    )
    .await;
    Mock::given(path("/v2/people"))
        .respond_with(fixture_response(200, "person-bcooper.json"))
        .mount(&api.server)
        .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Bryan Cooper"));
    let paths: Vec<String> = api
        .requests()
        .await
        .iter()
        .map(|r| r.url.path().to_owned())
        .collect();
    assert_eq!(paths, [PEOPLE_PATH, "/v2/people"]);
}

#[tokio::test]
async fn an_entry_without_a_port_allows_every_port_of_its_host() {
    let other = other_server().await;
    let api = TestApi::start_with(|manifest, _| {
        manifest["allowed_hosts"] = json!(["127.0.0.1"]);
    })
    .await;
    api.answer_lookups(redirect_to(&format!("{}/v1/people", other.uri())))
        .await;

    let enrichment = api.enrich(EMAIL).await.unwrap();

    assert_eq!(enrichment.identity.company.as_deref(), Some("Biglytics"));
    assert_eq!(other.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn at_most_five_redirects_are_followed() {
    let api = TestApi::start().await;
    api.answer_all(redirect_to("/v1/loop")).await;

    let err = expect_error(api.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert!(err.message.contains("5th hop"), "{}", err.message);
    // The original call and five hops; the sixth redirect is not followed.
    assert_eq!(api.requests().await.len(), 6);
}

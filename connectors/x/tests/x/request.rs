//! The exact request the connector sends for a lookup.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, request_header},
};

use crate::helpers::{TOKEN, TestX, USERNAME};

const USER_FIELDS: &str = "created_at,description,entities,location,profile_image_url,protected,\
                           public_metrics,url,verified,verified_type";

#[tokio::test]
async fn a_lookup_gets_the_user_by_username_with_the_mapped_fields_and_the_token() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(200, "user-by-id-with-fields.json"))
        .await;

    x.enrich(USERNAME).await.unwrap();

    let request = x.single_request().await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), "/2/users/by/username/XDevelopers");
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    assert_eq!(query, [("user.fields".to_owned(), USER_FIELDS.to_owned())]);
    let header = |name: &str| request_header(&request, name);
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(header("accept"), Some("application/json"));
}

#[tokio::test]
async fn a_leading_at_sign_is_dropped() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(200, "user-by-id-with-fields.json"))
        .await;

    x.enrich("@XDevelopers").await.unwrap();

    assert_eq!(
        x.single_request().await.url.path(),
        "/2/users/by/username/XDevelopers"
    );
}

#[tokio::test]
async fn a_handle_that_cannot_be_a_username_is_not_found_without_a_call() {
    let long = "a".repeat(16);
    for handle in [
        "x-dev",
        "ada@example.com",
        "../../2/tweets",
        "jack/likes",
        "zoë",
        "@",
        "",
        long.as_str(),
    ] {
        let x = TestX::start().await;
        x.answer_lookups(fixture_response(200, "user-by-id-with-fields.json"))
            .await;

        let err = expect_error(x.enrich(handle).await, ErrorCode::NotFound);

        assert!(!err.retryable);
        assert!(
            x.server.received_requests().await.unwrap().is_empty(),
            "{handle:?}"
        );
        if handle.len() > 1 {
            assert!(!err.message.contains(handle), "{}", err.message);
        }
    }
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_it() {
    use enrichd_sdk::testkit::wiremock::{Mock, MockServer, matchers::any};
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fixture_response(200, "user-by-username-default.json"))
        .mount(&server)
        .await;
    let connector = crate::helpers::connector(&format!("{}/proxy/x/", server.uri()));

    connector
        .enrich(
            &crate::helpers::subject(USERNAME),
            &enrichd_sdk::testkit::context(),
        )
        .await
        .unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        request.url.path(),
        "/proxy/x/2/users/by/username/XDevelopers"
    );
}

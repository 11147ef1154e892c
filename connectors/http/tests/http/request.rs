//! The exact request: method, percent-encoding of hostile identifiers in the path and the
//! query, headers with credentials and placeholders, POST body templates, `base_url`.

use enrichd_sdk::{
    ErrorCode, Subject,
    testkit::{context, expect_error, fixture_response, request_header},
};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use crate::helpers::{API_KEY, EMAIL, PEOPLE_PATH, TOKEN, TestApi, assert_private, subject};

fn query(request: &enrichd_sdk::testkit::wiremock::Request) -> Vec<(String, String)> {
    request.url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn a_lookup_sends_the_templated_get_with_its_headers() {
    let api = TestApi::start().await;
    api.answer_lookups(fixture_response(200, "person-bcooper.json"))
        .await;

    api.enrich(EMAIL).await.unwrap();

    let request = api.single_request().await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), PEOPLE_PATH);
    assert_eq!(
        request.url.query(),
        Some("email=bcooper%40biglytics.net&uid=u-42")
    );
    let header = |name: &str| request_header(&request, name);
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(header("x-api-key"), Some(API_KEY));
    assert_eq!(header("accept"), Some("application/json"));
    assert!(
        header("user-agent").is_some_and(|ua| ua.starts_with("enrichd/")),
        "{:?}",
        header("user-agent")
    );
    assert!(request.body.is_empty());
}

#[tokio::test]
async fn hostile_identifiers_stay_inside_their_query_value() {
    let cases = [
        "a/../../admin?x=1#@evil.example",
        "x&uid=admin&email=y@evil.example",
        "@evil.example",
        "zoë+tag=1@exämple.com",
        "100% true@example.com",
    ];
    for email in cases {
        let api = TestApi::start().await;
        api.answer_lookups(fixture_response(200, "person-bcooper.json"))
            .await;

        api.enrich(email).await.unwrap();

        let request = api.single_request().await;
        let host = api.server.address().to_string();
        assert_eq!(
            request.headers.get("host").unwrap(),
            host.as_str(),
            "{email}"
        );
        assert_eq!(request.url.path(), PEOPLE_PATH, "{email}");
        assert_eq!(
            query(&request),
            [
                ("email".to_owned(), email.to_owned()),
                ("uid".to_owned(), "u-42".to_owned())
            ],
            "{email}"
        );
        assert!(request.url.fragment().is_none(), "{email}");
    }
}

#[tokio::test]
async fn hostile_identifiers_stay_inside_their_path_segment() {
    let cases = [
        (
            "a/../../admin?x=1#",
            "/v1/users/a%2F..%2F..%2Fadmin%3Fx%3D1%23/profile",
        ),
        ("@evil.example", "/v1/users/%40evil.example/profile"),
        ("zoë", "/v1/users/zo%C3%AB/profile"),
        ("a..b", "/v1/users/a..b/profile"),
    ];
    for (user_id, expected) in cases {
        let api = TestApi::start_with(|manifest, server| {
            manifest["request"]["url"] =
                json!(format!("{}/v1/users/{{user_id}}/profile", server.uri()));
        })
        .await;
        api.answer_all(fixture_response(200, "person-bcooper.json"))
            .await;

        api.connector
            .enrich(&Subject::new(user_id).with_email(EMAIL), &context())
            .await
            .unwrap();

        let request = api.single_request().await;
        assert_eq!(request.url.path(), expected, "{user_id}");
        let segment = expected.split('/').nth(3).unwrap();
        assert_eq!(
            percent_decode_str(segment).decode_utf8().unwrap(),
            user_id,
            "one decoding gives the value back"
        );
        assert_eq!(request.url.query(), None);
    }
}

#[tokio::test]
async fn a_dot_segment_is_refused_without_calling() {
    for user_id in [".", ".."] {
        let api = TestApi::start_with(|manifest, server| {
            manifest["request"]["url"] =
                json!(format!("{}/v1/users/{{user_id}}/profile", server.uri()));
        })
        .await;
        api.answer_all(fixture_response(200, "person-bcooper.json"))
            .await;

        let err = expect_error(
            api.connector
                .enrich(&Subject::new(user_id).with_email(EMAIL), &context())
                .await,
            ErrorCode::NotFound,
        );

        assert!(err.message.contains("user_id"), "{}", err.message);
        assert!(err.message.contains("not called"), "{}", err.message);
        assert!(api.requests().await.is_empty(), "{user_id}");
    }
}

#[tokio::test]
async fn a_subject_without_a_required_identifier_is_not_looked_up() {
    let api = TestApi::start().await;
    api.answer_all(fixture_response(200, "person-bcooper.json"))
        .await;

    for subject in [Subject::new("u-1"), Subject::new("u-1").with_email("")] {
        let err = expect_error(
            api.connector.enrich(&subject, &context()).await,
            ErrorCode::NotFound,
        );
        assert!(err.message.contains("email"), "{}", err.message);
    }
    assert!(api.requests().await.is_empty());
}

#[tokio::test]
async fn header_placeholders_are_filled_and_line_breaks_refused() {
    let api = TestApi::start_with(|manifest, _| {
        manifest["request"]["headers"]["X-Email"] = json!("{email}");
        manifest["request"]["headers"]["X-Lookup"] = json!("user={user_id}; v=1");
    })
    .await;
    api.answer_lookups(fixture_response(200, "person-bcooper.json"))
        .await;

    api.enrich("zoë@example.com").await.unwrap();
    let refused = api
        .enrich("a@example.com\r\nX-Admin: true")
        .await
        .unwrap_err();

    let request = api.single_request().await;
    let header = |name: &str| request_header(&request, name);
    assert_eq!(header("x-email"), Some("zo%C3%AB@example.com"));
    assert_eq!(header("x-lookup"), Some("user=u-42; v=1"));
    assert_eq!(refused.code, ErrorCode::NotFound);
    assert!(
        refused.message.contains("line break"),
        "{}",
        refused.message
    );
    assert_private(&refused, &api.server);
}

#[tokio::test]
async fn a_post_sends_its_body_template_as_json() {
    let api = TestApi::start_with(|manifest, server| {
        manifest["request"]["method"] = json!("POST");
        manifest["request"]["url"] = json!(format!("{}/v1/people/search", server.uri()));
        manifest["request"]["body"] = json!({
            "lookup": {"email": "{email}", "user": "user {user_id}"},
            "fields": ["name", "employment"],
            "limit": 1,
            "exact": true,
        });
    })
    .await;
    api.answer_all(fixture_response(200, "person-bcooper.json"))
        .await;
    let hostile = "x\"}, \"admin\": true, \"y\": {\"@example.com";

    let enrichment = api.enrich(hostile).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Bryan Cooper"));
    let request = api.single_request().await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(request.url.path(), "/v1/people/search");
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/json"
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "lookup": {"email": hostile, "user": "user u-42"},
            "fields": ["name", "employment"],
            "limit": 1,
            "exact": true,
        })
    );
}

#[tokio::test]
async fn a_post_keeps_the_content_type_its_headers_set() {
    let api = TestApi::start_with(|manifest, _| {
        manifest["request"]["method"] = json!("post");
        manifest["request"]["headers"]["Content-Type"] = json!("application/vnd.acme+json");
        manifest["request"]["body"] = json!({"email": "{email}"});
    })
    .await;
    api.answer_all(fixture_response(200, "person-bcooper.json"))
        .await;

    api.enrich(EMAIL).await.unwrap();

    let request = api.single_request().await;
    assert_eq!(request.method.as_str(), "POST");
    assert_eq!(
        request.headers.get("content-type").unwrap(),
        "application/vnd.acme+json"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&request.body).unwrap(),
        json!({"email": EMAIL})
    );
}

#[tokio::test]
async fn a_path_under_base_url_keeps_the_base_path() {
    let api = TestApi::start_with(|manifest, server| {
        manifest["base_url"] = json!(format!("{}/proxy/acme/", server.uri()));
        manifest["request"]["url"] = json!("/v1/people?email={email}");
    })
    .await;
    api.answer_all(fixture_response(200, "person-bcooper.json"))
        .await;

    api.connector
        .enrich(&subject(EMAIL), &context())
        .await
        .unwrap();

    let request = api.single_request().await;
    assert_eq!(request.url.path(), "/proxy/acme/v1/people");
    assert_eq!(request.url.query(), Some("email=bcooper%40biglytics.net"));
}

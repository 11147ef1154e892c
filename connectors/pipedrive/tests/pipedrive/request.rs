//! The exact requests the connector sends: the search, then the person found, each with the
//! configured credential.

use enrichd_sdk::testkit::{
    context, fixture_response, request_header,
    wiremock::{Mock, MockServer, matchers::any},
};
use serde_json::json;

use crate::helpers::{
    ACCESS_TOKEN, API_TOKEN, EMAIL, SEARCH_PATH, TestPipedrive, no_hits, query, subject,
};

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[tokio::test]
async fn a_lookup_searches_by_exact_email_then_gets_the_person_with_the_api_token() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive
        .answer_search(fixture_response(200, "persons-search.json"))
        .await;
    pipedrive
        .answer_person(fixture_response(200, "person-get.json"))
        .await;

    pipedrive.enrich(EMAIL).await.unwrap();

    let requests = pipedrive.requests().await;
    assert_eq!(requests.len(), 2);
    let (search, person) = (&requests[0], &requests[1]);
    assert_eq!(search.method.as_str(), "GET");
    assert_eq!(search.url.path(), SEARCH_PATH);
    assert_eq!(
        query(search),
        pairs(&[
            ("term", EMAIL),
            ("fields", "email"),
            ("exact_match", "true"),
            ("limit", "1"),
            ("api_token", API_TOKEN),
        ])
    );
    assert_eq!(person.method.as_str(), "GET");
    assert_eq!(person.url.path(), "/v1/persons/1", "the search hit's id");
    assert_eq!(query(person), pairs(&[("api_token", API_TOKEN)]));
    for request in &requests {
        assert_eq!(request.headers.get("authorization"), None);
        assert_eq!(request_header(request, "accept"), Some("application/json"));
    }
}

#[tokio::test]
async fn an_oauth_token_is_sent_as_bearer_and_never_in_the_url() {
    let pipedrive = TestPipedrive::start_with(json!({"access_token": ACCESS_TOKEN})).await;
    pipedrive
        .answer_search(fixture_response(200, "persons-search.json"))
        .await;
    pipedrive
        .answer_person(fixture_response(200, "person-get.json"))
        .await;

    pipedrive.enrich(EMAIL).await.unwrap();

    let requests = pipedrive.requests().await;
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request
                .headers
                .get("authorization")
                .map(|v| v.to_str().unwrap()),
            Some(format!("Bearer {ACCESS_TOKEN}").as_str())
        );
        assert!(query(request).iter().all(|(k, _)| k != "api_token"));
    }
}

#[tokio::test]
async fn the_email_is_form_encoded_once_in_the_term() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(no_hits()).await;

    let _ = pipedrive.enrich("ada+x@example.com").await;

    let raw = pipedrive.requests().await[0]
        .url
        .query()
        .unwrap()
        .to_owned();
    assert!(raw.starts_with("term=ada%2Bx%40example.com&"), "{raw}");
}

#[tokio::test]
async fn an_unknown_email_costs_one_call() {
    let pipedrive = TestPipedrive::start().await;
    pipedrive.answer_search(no_hits()).await;
    pipedrive
        .answer_person(fixture_response(200, "person-get.json"))
        .await;

    let _ = pipedrive.enrich(EMAIL).await;

    assert_eq!(pipedrive.requests().await.len(), 1);
}

#[tokio::test]
async fn a_company_domain_base_url_keeps_its_path() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(no_hits())
        .mount(&server)
        .await;
    let connector = enrichd_sdk::ConnectorFactory::build(
        &enrichd_pipedrive::PipedriveFactory,
        &json!({"base_url": format!("{}/api", server.uri()), "api_token": API_TOKEN}),
    )
    .unwrap();

    let _ = connector.enrich(&subject(EMAIL), &context()).await;

    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.url.path(), "/api/v1/persons/search");
}

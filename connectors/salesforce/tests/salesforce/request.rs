//! The exact requests the connector sends: the SOQL, its encoding, the token, and a Lead query
//! only when no Contact matched.

use enrichd_sdk::testkit::{
    context, fixture_response, request_header,
    wiremock::{Mock, MockServer, matchers::any},
};
use serde_json::json;

use crate::helpers::{
    EMAIL, QUERY_PATH, TOKEN, TestSalesforce, no_records, query_result, soql, subject,
};

const CONTACT_QUERY: &str = "SELECT Id, Name, FirstName, LastName, Email, Title, Department, \
                             Account.Name, Account.Industry, MailingCity, MailingCountry, \
                             LeadSource, Phone, CreatedDate FROM Contact \
                             WHERE Email = 'bcooper@biglytics.net' \
                             ORDER BY LastModifiedDate DESC LIMIT 1";
const LEAD_QUERY: &str = "SELECT Id, Name, Email, Title, Company, Industry, City, Country, \
                          LeadSource, Status, Rating FROM Lead \
                          WHERE Email = 'bcooper@biglytics.net' \
                          ORDER BY LastModifiedDate DESC LIMIT 1";

#[tokio::test]
async fn a_contact_lookup_sends_one_soql_query_with_the_token() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer("Contact", fixture_response(200, "query-contact.json"))
        .await;

    salesforce.enrich(EMAIL).await.unwrap();

    let requests = salesforce.requests().await;
    assert_eq!(requests.len(), 1, "a found Contact needs no Lead query");
    let request = &requests[0];
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), QUERY_PATH);
    assert_eq!(soql(request), CONTACT_QUERY);
    let pairs: Vec<_> = request.url.query_pairs().collect();
    assert_eq!(pairs.len(), 1, "q is the only parameter");
    let header = |name: &str| request_header(request, name);
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(header("accept"), Some("application/json"));
}

#[tokio::test]
async fn the_query_is_form_encoded_exactly_once() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer("Contact", query_result(json!([{"Id": "1"}])))
        .await;

    salesforce.enrich("ada+x@example.com").await.unwrap();

    let raw = salesforce.requests().await[0]
        .url
        .query()
        .unwrap()
        .to_owned();
    assert!(raw.starts_with("q=SELECT+Id%2C+Name%2C+"), "{raw}");
    assert!(
        raw.contains("+WHERE+Email+%3D+%27ada%2Bx%40example.com%27+ORDER+BY+"),
        "quotes, @ and + are encoded once: {raw}"
    );
    assert!(!raw.contains("%25"), "nothing is encoded twice: {raw}");
}

#[tokio::test]
async fn a_lead_is_asked_for_only_when_no_contact_matched() {
    let salesforce = TestSalesforce::start().await;
    salesforce.answer("Contact", no_records()).await;
    salesforce
        .answer("Lead", query_result(json!([{"Id": "00Q1", "Name": "Ada"}])))
        .await;

    let enrichment = salesforce.enrich(EMAIL).await.unwrap();

    assert_eq!(salesforce.queries().await, [CONTACT_QUERY, LEAD_QUERY]);
    assert_eq!(enrichment.extra["object"], "Lead");
}

#[tokio::test]
async fn quotes_and_backslashes_in_the_email_cannot_change_the_query() {
    let salesforce = TestSalesforce::start().await;
    salesforce.answer("Contact", no_records()).await;
    salesforce.answer("Lead", no_records()).await;
    let email = r"x'OR'Email!=''\'@example.com";

    let _ = salesforce.enrich(email).await;

    let queries = salesforce.queries().await;
    assert_eq!(queries.len(), 2);
    for query in queries {
        assert!(
            query.contains(r" WHERE Email = 'x\'OR\'Email!=\'\'\\\'@example.com' ORDER BY "),
            "{query}"
        );
    }
}

#[tokio::test]
async fn the_configured_objects_fields_and_version_are_used() {
    let salesforce = TestSalesforce::start_with(json!({
        "api_version": "v59.0",
        "objects": ["Lead", "Contact"],
        "fields": {"Lead": ["Id", "Email", "Custom_Score__c"]},
    }))
    .await;
    Mock::given(any())
        .respond_with(no_records())
        .mount(&salesforce.server)
        .await;

    let _ = salesforce.enrich(EMAIL).await;

    let requests = salesforce.requests().await;
    assert_eq!(requests.len(), 2);
    assert!(
        requests
            .iter()
            .all(|r| r.url.path() == "/services/data/v59.0/query")
    );
    assert_eq!(
        soql(&requests[0]),
        "SELECT Id, Email, Custom_Score__c FROM Lead WHERE Email = 'bcooper@biglytics.net' \
         ORDER BY LastModifiedDate DESC LIMIT 1"
    );
    assert!(soql(&requests[1]).starts_with("SELECT Id, Name, FirstName, "));
    assert!(soql(&requests[1]).contains(" FROM Contact "));
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_it() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fixture_response(200, "query-contact.json"))
        .mount(&server)
        .await;
    let connector = enrichd_sdk::ConnectorFactory::build(
        &enrichd_salesforce::SalesforceFactory,
        &json!({"base_url": format!("{}/proxy/sf/", server.uri()), "access_token": TOKEN}),
    )
    .unwrap();

    connector.enrich(&subject(EMAIL), &context()).await.unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(request.url.path(), "/proxy/sf/services/data/v66.0/query");
}

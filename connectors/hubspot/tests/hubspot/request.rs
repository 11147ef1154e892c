//! The exact request the connector sends for a lookup.

use enrichd_sdk::testkit::{
    fixture_response, request_header,
    wiremock::{Mock, MockServer, matchers::any},
};
use serde_json::json;

use crate::helpers::{CONTACT_PATH, EMAIL, TOKEN, TestHubSpot, subject};

// `twitterhandle`: the property of the default `handle_properties` (`x`), asked for too.
const DEFAULT_PROPERTIES: &str = "email,hs_additional_emails,firstname,lastname,company,jobtitle,\
                                  phone,city,state,country,website,industry,lifecyclestage,\
                                  hs_lead_status,hubspotscore,hs_analytics_source,twitterhandle";

#[tokio::test]
async fn a_lookup_gets_the_contact_by_email_with_the_token_and_properties() {
    let hubspot = TestHubSpot::start().await;
    hubspot
        .answer_lookups(fixture_response(200, "contact-by-email.json"))
        .await;

    hubspot.enrich(EMAIL).await.unwrap();

    let request = hubspot.single_request().await;
    assert_eq!(request.method.as_str(), "GET");
    assert_eq!(request.url.path(), CONTACT_PATH);
    let query: Vec<(String, String)> = request.url.query_pairs().into_owned().collect();
    assert_eq!(
        query,
        [
            ("idProperty".to_owned(), "email".to_owned()),
            ("properties".to_owned(), DEFAULT_PROPERTIES.to_owned()),
        ]
    );
    let header = |name: &str| request_header(&request, name);
    assert_eq!(
        header("authorization"),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(header("accept"), Some("application/json"));
}

#[tokio::test]
async fn the_email_is_percent_encoded_exactly_once() {
    // `+` and `@` are legal in a path segment and stay as they are; `%` and `/` must be
    // escaped, once. A double-encoded `@` (`%2540`) is what made HubSpot answer 404 to an SDK.
    let cases = [
        (
            "ada+test@example.com",
            "/crm/v3/objects/contacts/ada+test@example.com",
        ),
        (
            "a%b/c@example.com",
            "/crm/v3/objects/contacts/a%25b%2Fc@example.com",
        ),
        (
            "zoë@example.com",
            "/crm/v3/objects/contacts/zo%C3%AB@example.com",
        ),
    ];
    for (email, expected_path) in cases {
        let hubspot = TestHubSpot::start().await;
        hubspot
            .answer_lookups(fixture_response(200, "contact-by-email.json"))
            .await;

        hubspot.enrich(email).await.unwrap();

        let request = hubspot.single_request().await;
        let path = request.url.path();
        assert_eq!(path, expected_path, "{email}");
        let segment = path.rsplit('/').next().unwrap();
        assert_eq!(
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .unwrap(),
            email,
            "one decoding gives the email back"
        );
    }
}

#[tokio::test]
async fn a_base_url_with_a_path_prefix_keeps_it() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(fixture_response(200, "contact-by-email.json"))
        .mount(&server)
        .await;
    let settings = json!({
        "base_url": format!("{}/proxy/hubspot/", server.uri()),
        "access_token": TOKEN,
        "properties": ["email", "firstname"],
    });
    let connector =
        enrichd_sdk::ConnectorFactory::build(&enrichd_hubspot::HubSpotFactory, &settings).unwrap();

    connector
        .enrich(&subject(EMAIL), &enrichd_sdk::testkit::context())
        .await
        .unwrap();

    let request = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        request.url.path(),
        "/proxy/hubspot/crm/v3/objects/contacts/bcooper@biglytics.net"
    );
    let properties = request
        .url
        .query_pairs()
        .find(|(k, _)| k == "properties")
        .map(|(_, v)| v.into_owned());
    assert_eq!(properties.as_deref(), Some("email,firstname,twitterhandle"));
}

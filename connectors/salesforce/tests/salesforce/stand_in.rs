//! The stand-in: Salesforce's answers for the demo Contact, its errors, and a round trip through
//! the connector with the stand-in served over HTTP.

use std::sync::Arc;

use enrichd_salesforce::{SalesforceFactory, SalesforceStandIn};
use enrichd_sdk::{
    ConnectorFactory, ErrorCode, Subject,
    stand_in::{StandIn, StandInRequest, StandInResponse},
    testkit::{
        StandInRoundTrip, context, expect_error, expect_refused, fixture, json_body, stand_in_get,
        stand_in_round_trip,
    },
};
use serde_json::json;

fn stand_in() -> Arc<dyn StandIn> {
    SalesforceFactory
        .stand_in()
        .expect("Salesforce offers a stand-in")
}

/// A GET of `path` with `soql`, if any, as its `q` parameter.
fn get(path: &str, soql: Option<&str>, token: Option<&str>) -> StandInRequest {
    let query: Vec<(&str, &str)> = soql.map(|q| ("q", q)).into_iter().collect();
    stand_in_get(path, &query, token)
}

fn query(soql: &str) -> StandInResponse {
    stand_in().answer(&get(
        "/services/data/v66.0/query",
        Some(soql),
        Some(SalesforceStandIn::TOKEN),
    ))
}

#[test]
fn the_known_contact_is_found_case_insensitively_with_the_selected_fields() {
    let response = query(
        "SELECT Id, Name, Email, Account.Name, MobilePhone FROM Contact \
         WHERE Email = 'BCooper@Biglytics.NET' ORDER BY LastModifiedDate DESC LIMIT 1",
    );

    assert_eq!(response.status, 200);
    assert!(
        response
            .header("sforce-limit-info")
            .is_some_and(|v| v.starts_with("api-usage=")),
        "{:?}",
        response.headers
    );
    assert_eq!(
        json_body(&response),
        json!({
            "totalSize": 1,
            "done": true,
            "records": [{
                "attributes": {
                    "type": "Contact",
                    "url": "/services/data/v66.0/sobjects/Contact/003RO0000035WQgYAM",
                },
                "Id": "003RO0000035WQgYAM",
                "Name": "John Smith",
                "Email": "bcooper@biglytics.net",
                "Account": {
                    "attributes": {
                        "type": "Account",
                        "url": "/services/data/v66.0/sobjects/Account/001RO000004vZcaYAE",
                    },
                    "Name": "Biglytics",
                },
                "MobilePhone": null,
            }],
        })
    );
}

#[test]
fn an_unknown_email_and_any_lead_query_find_nothing() {
    for soql in [
        "SELECT Id FROM Contact WHERE Email = 'nobody@example.com' LIMIT 1",
        "SELECT Id, Company FROM Lead WHERE Email = 'bcooper@biglytics.net' LIMIT 1",
        r"SELECT Id FROM Contact WHERE Email = 'bcooper@biglytics.net\' OR Email != \'' LIMIT 1",
    ] {
        let response = query(soql);
        assert_eq!(response.status, 200, "{soql}");
        assert_eq!(
            json_body(&response),
            json!({"totalSize": 0, "done": true, "records": []}),
            "{soql}"
        );
    }
}

#[test]
fn bad_queries_get_salesforces_error_codes() {
    let cases = [
        (
            "SELECT Nope FROM Contact WHERE Email = 'a@b.c'",
            "INVALID_FIELD",
        ),
        (
            "SELECT Id FROM Account WHERE Email = 'a@b.c'",
            "INVALID_TYPE",
        ),
        (
            "SELECT Id, id FROM Contact WHERE Email = 'a@b.c'",
            "MALFORMED_QUERY",
        ),
        (
            "SELECT Id FROM Contact WHERE Email = a@b.c",
            "MALFORMED_QUERY",
        ),
    ];
    for (soql, code) in cases {
        let response = query(soql);
        assert_eq!(response.status, 400, "{soql}");
        assert_eq!(json_body(&response)[0]["errorCode"], code, "{soql}");
    }
    let missing = stand_in().answer(&get(
        "/services/data/v66.0/query",
        None,
        Some(SalesforceStandIn::TOKEN),
    ));
    assert_eq!(json_body(&missing)[0]["errorCode"], "MALFORMED_QUERY");
}

#[test]
fn a_wrong_or_missing_token_is_refused_like_salesforce() {
    for token in [Some("00Dwrong"), None] {
        let response = stand_in().answer(&get(
            "/services/data/v66.0/query",
            Some("SELECT Id FROM Contact WHERE Email = 'bcooper@biglytics.net'"),
            token,
        ));

        assert_eq!(response.status, 401, "{token:?}");
        assert_eq!(
            json_body(&response),
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
        );
    }
}

#[test]
fn the_limits_show_the_daily_allowance() {
    let response = stand_in().answer(&get(
        "/services/data/v66.0/limits",
        None,
        Some(SalesforceStandIn::TOKEN),
    ));

    assert_eq!(response.status, 200);
    let limits = json_body(&response);
    assert_eq!(limits["DailyApiRequests"]["Max"], 15000);
    assert!(limits["DailyApiRequests"]["Remaining"].as_u64().unwrap() > 14000);
}

#[test]
fn other_paths_are_salesforces_recorded_404() {
    for path in [
        "/services/data/v66.0/sobjects/Contact/003RO0000035WQgYAM",
        "/services/data/latest/query",
        "/services/apexrest/x",
    ] {
        let response = stand_in().answer(&get(path, None, Some(SalesforceStandIn::TOKEN)));
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.body, fixture("404.json"));
    }
    let post = StandInRequest {
        method: "POST".into(),
        ..get(
            "/services/data/v66.0/query",
            None,
            Some(SalesforceStandIn::TOKEN),
        )
    };
    assert_eq!(stand_in().answer(&post).status, 405);
}

#[test]
fn its_settings_build_a_connector_and_its_sample_only_adds_the_email() {
    let stand_in = stand_in();
    let settings = stand_in.settings("http://127.0.0.1:4012");
    assert_eq!(
        settings,
        json!({"base_url": "http://127.0.0.1:4012", "access_token": "demo-salesforce-token"})
    );
    assert!(SalesforceFactory.build(&settings).is_ok());

    let mut subject = Subject::new("demo");
    stand_in.sample(&mut subject);
    assert_eq!(
        subject.email.as_deref(),
        Some(SalesforceStandIn::KNOWN_EMAIL)
    );

    let mut other = Subject::new("demo").with_email("ada@example.com");
    stand_in.sample(&mut other);
    assert_eq!(other.email.as_deref(), Some("ada@example.com"));
}

#[tokio::test]
async fn the_connector_enriches_the_sample_from_the_served_stand_in() {
    let trip = stand_in_round_trip(&SalesforceFactory).await;
    let StandInRoundTrip {
        server,
        connector,
        subject,
        ..
    } = &trip;

    let enrichment = connector.enrich(subject, &context()).await.unwrap();
    connector.health(&context()).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("John Smith"));
    assert_eq!(enrichment.identity.emails, ["bcooper@biglytics.net"]);
    assert_eq!(enrichment.identity.company.as_deref(), Some("Biglytics"));
    assert_eq!(
        enrichment.identity.job_title.as_deref(),
        Some("Director of Data Engineering")
    );
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("Cambridge, United States")
    );
    assert_eq!(enrichment.interests, ["Technology"]);
    assert_eq!(enrichment.extra["object"], "Contact");
    assert_eq!(enrichment.extra["record_id"], "003RO0000035WQgYAM");
    assert_eq!(enrichment.extra["department"], "Engineering");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        2,
        "one query and the health check: no Lead query"
    );

    let unknown = Subject::new("u-1").with_email("o'brien@example.com");
    expect_error(
        connector.enrich(&unknown, &context()).await,
        ErrorCode::NotFound,
    );

    let wrong_token = SalesforceFactory
        .build(&json!({"base_url": server.uri(), "access_token": "00Dwrong"}))
        .unwrap();
    expect_refused(&wrong_token, subject).await;
}

//! The quota that Salesforce's `Sforce-Limit-Info: api-usage=<used>/<limit>` report.

use enrichd_sdk::{
    quota::Quota,
    testkit::{fixture_response, reported_quota},
};

use crate::helpers::{TestSalesforce, subject};

#[tokio::test]
async fn the_rate_limit_headers_are_reported_as_the_quota() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            fixture_response(200, "query-contact.json").insert_header(
                "Sforce-Limit-Info",
                "api-usage=10018/100000; api-bursts=1/750",
            ),
        )
        .await;

    let quota = reported_quota(&salesforce.connector, &subject("bcooper@biglytics.net")).await;

    assert_eq!(
        quota,
        Some(Quota {
            remaining: 89_982,
            resets_at: None,
        })
    );
}

#[tokio::test]
async fn an_answer_without_them_reports_nothing() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer("Contact", fixture_response(200, "query-contact.json"))
        .await;

    assert_eq!(
        reported_quota(&salesforce.connector, &subject("bcooper@biglytics.net")).await,
        None
    );
}

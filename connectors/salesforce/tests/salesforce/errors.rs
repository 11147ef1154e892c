//! How Salesforce's failures map into ConnectorErrors — its limits arrive as a 403 and a 404
//! means a wrong URL — and that none of them leaks the email, the token or the URL.

use std::time::Duration;

use enrichd_sdk::{
    ErrorCode,
    testkit::{
        context, context_with_deadline, expect_error, fixture_response, unreachable_base_url,
        wiremock::ResponseTemplate,
    },
};

use crate::helpers::{
    EMAIL, TestSalesforce, assert_private, no_records, salesforce_error, subject,
};

#[tokio::test]
async fn an_expired_session_is_an_authentication_error() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            salesforce_error(401, "INVALID_SESSION_ID", "Session expired or invalid")
                .insert_header("www-authenticate", "Token"),
        )
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::Authentication);

    assert!(!err.retryable);
    assert_eq!(
        err.message,
        "HTTP 401 from Salesforce (INVALID_SESSION_ID): the token was refused"
    );
    assert_private(&err, EMAIL, &salesforce.server);
}

#[tokio::test]
async fn the_used_up_daily_allowance_is_a_quota_with_the_usage() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            fixture_response(403, "403-request-limit-exceeded.json").insert_header(
                "sforce-limit-info",
                "api-usage=100012/100000; api-bursts=3/750",
            ),
        )
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::QuotaExceeded);

    assert!(
        !err.retryable,
        "waiting a little does not bring the allowance back"
    );
    assert_eq!(err.retry_after, Some(Duration::from_secs(900)));
    assert_eq!(
        err.message,
        "HTTP 403 from Salesforce (REQUEST_LIMIT_EXCEEDED): the org's API request allowance \
         is used up (api-usage 100012/100000)"
    );
    assert_eq!(
        salesforce.requests().await.len(),
        1,
        "no Lead query after a limit"
    );
    assert_private(&err, EMAIL, &salesforce.server);
}

#[tokio::test]
async fn the_quota_message_does_without_the_usage_header() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            fixture_response(403, "403-request-limit-exceeded.json"),
        )
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::QuotaExceeded);

    assert!(
        err.message.ends_with("allowance is used up"),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn the_concurrent_limit_is_a_short_rate_limit() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            fixture_response(403, "403-concurrent-limit-exceeded.json")
                .insert_header("sforce-limit-info", "api-usage=18/15000"),
        )
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::RateLimited);

    assert_eq!(err.retry_after, Some(Duration::from_secs(10)));
    assert!(!err.retryable);
    assert!(
        !err.message
            .contains("ConcurrentPerOrgLongTxn Limit exceeded.")
    );
}

#[tokio::test]
async fn another_403_is_an_authentication_error() {
    for code in ["INSUFFICIENT_ACCESS", "API_DISABLED_FOR_ORG"] {
        let salesforce = TestSalesforce::start().await;
        salesforce
            .answer(
                "Contact",
                salesforce_error(
                    403,
                    code,
                    "The REST API is not enabled for this Organization.",
                ),
            )
            .await;

        let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::Authentication);

        assert_eq!(
            err.message,
            format!("HTTP 403 from Salesforce ({code}): access refused")
        );
    }
}

#[tokio::test]
async fn a_query_the_org_refuses_is_a_configuration_problem_that_quotes_nothing() {
    // Salesforce quotes the query, and so the email, in its message.
    let cases = [
        (
            "MALFORMED_QUERY",
            format!("\nWHERE Email = '{EMAIL}'\n^\nERROR at Row:1:Column:60\nunexpected token"),
        ),
        (
            "INVALID_FIELD",
            format!(
                "\nSELECT Nope FROM Contact WHERE Email = '{EMAIL}'\n^\nERROR at Row:1:Column:8\nNo such column 'Nope' on entity 'Contact'."
            ),
        ),
        (
            "INVALID_TYPE",
            "sObject type 'Lead' is not supported.".to_owned(),
        ),
    ];
    for (code, message) in cases {
        let salesforce = TestSalesforce::start().await;
        salesforce
            .answer("Contact", salesforce_error(400, code, &message))
            .await;

        let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::InvalidConfig);

        assert!(!err.retryable);
        assert!(
            err.message
                .starts_with(&format!("HTTP 400 from Salesforce ({code}): "))
        );
        assert!(err.message.contains("`fields`"), "{}", err.message);
        assert_private(&err, EMAIL, &salesforce.server);
    }
}

#[tokio::test]
async fn another_400_is_a_bad_response() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            salesforce_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator"),
        )
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert_eq!(
        err.message,
        "HTTP 400 from Salesforce (INVALID_QUERY_LOCATOR)"
    );
}

#[tokio::test]
async fn a_404_is_a_wrong_url_not_an_unknown_person() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer("Contact", fixture_response(404, "404.json"))
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::InvalidConfig);

    assert!(
        err.message
            .starts_with("HTTP 404 from Salesforce (NOT_FOUND): ")
    );
    assert!(err.message.contains("`api_version`"), "{}", err.message);
    assert_private(&err, EMAIL, &salesforce.server);
}

#[tokio::test]
async fn a_failing_lead_query_fails_the_lookup() {
    let salesforce = TestSalesforce::start().await;
    salesforce.answer("Contact", no_records()).await;
    salesforce
        .answer(
            "Lead",
            ResponseTemplate::new(503).set_body_json(
                serde_json::json!([{"errorCode": "SERVER_UNAVAILABLE", "message": "down"}]),
            ),
        )
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::Connection);

    assert!(err.retryable);
    assert_eq!(err.message, "HTTP 503 from Salesforce (SERVER_UNAVAILABLE)");
}

#[tokio::test]
async fn server_errors_are_retryable_connection_errors() {
    for status in [500, 502, 503] {
        let salesforce = TestSalesforce::start().await;
        salesforce
            .answer(
                "Contact",
                ResponseTemplate::new(status).set_body_string("<html>oops</html>"),
            )
            .await;

        let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::Connection);

        assert!(err.retryable, "HTTP {status}");
        assert_eq!(err.message, format!("HTTP {status} from Salesforce"));
    }
}

#[tokio::test]
async fn malformed_json_is_a_bad_response_that_quotes_nothing() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            ResponseTemplate::new(200).set_body_raw(
                format!(r#"{{"totalSize": 1, "records": [{{"Email": "{EMAIL}""#),
                "application/json",
            ),
        )
        .await;

    let err = expect_error(salesforce.enrich(EMAIL).await, ErrorCode::BadResponse);

    assert!(err.message.contains("not valid JSON"), "{}", err.message);
    assert_private(&err, EMAIL, &salesforce.server);
}

#[tokio::test]
async fn a_body_over_the_size_cap_is_refused() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer("Contact", fixture_response(200, "query-contact.json"))
        .await;
    let ctx = context().with_max_response_bytes(100);

    let result = salesforce.connector.enrich(&subject(EMAIL), &ctx).await;

    let err = expect_error(result, ErrorCode::BadResponse);
    assert!(err.message.contains("exceeds 100 bytes"), "{}", err.message);
}

#[tokio::test]
async fn a_slow_salesforce_times_out_at_the_deadline() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            fixture_response(200, "query-contact.json").set_delay(Duration::from_secs(3)),
        )
        .await;
    let ctx = context_with_deadline(Duration::from_millis(200));

    let err = expect_error(
        salesforce.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(err.retryable);
    assert_private(&err, EMAIL, &salesforce.server);
}

#[tokio::test]
async fn the_lead_query_shares_the_deadline_of_the_contact_query() {
    let salesforce = TestSalesforce::start().await;
    salesforce
        .answer(
            "Contact",
            no_records().set_delay(Duration::from_millis(150)),
        )
        .await;
    salesforce
        .answer("Lead", no_records().set_delay(Duration::from_secs(3)))
        .await;
    let ctx = context_with_deadline(Duration::from_millis(300));
    let started = std::time::Instant::now();

    let err = expect_error(
        salesforce.connector.enrich(&subject(EMAIL), &ctx).await,
        ErrorCode::Timeout,
    );

    assert!(
        started.elapsed() < Duration::from_millis(1000),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(salesforce.requests().await.len(), 2);
    assert_private(&err, EMAIL, &salesforce.server);
}

#[tokio::test]
async fn an_unreachable_salesforce_is_a_connection_error_without_the_url() {
    let uri = unreachable_base_url();
    let connector = enrichd_sdk::ConnectorFactory::build(
        &enrichd_salesforce::SalesforceFactory,
        &serde_json::json!({"base_url": uri, "access_token": crate::helpers::TOKEN}),
    )
    .unwrap();

    let err = expect_error(
        connector.enrich(&subject(EMAIL), &context()).await,
        ErrorCode::Connection,
    );

    assert!(err.retryable);
    assert!(!err.message.contains(&uri), "{}", err.message);
    assert!(!err.message.contains(EMAIL), "{}", err.message);
    assert!(!err.message.contains("SELECT"), "{}", err.message);
}

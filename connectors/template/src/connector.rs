//! The template connector itself: the lookup by email, its error mapping and the health check.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, Subject, async_trait,
    http::{self, UpstreamResponse},
};
use reqwest::{Url, header};

use crate::{person::PersonResponse, settings::ValidSettings};

/// The name error messages give the upstream.
const UPSTREAM: &str = "Acme";
/// The wait after a 429 without `Retry-After`.
const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// Looks subjects up in the Acme People API.
///
/// Built by [`crate::TemplateFactory`]; holds only immutable settings, so one instance serves
/// every concurrent request.
#[derive(Debug)]
pub struct TemplateConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
}

impl TemplateConnector {
    pub(crate) fn new(settings: ValidSettings, metadata: ConnectorMetadata) -> TemplateConnector {
        TemplateConnector { settings, metadata }
    }

    // STEP 5: the request. Build URLs with `http::endpoint` (each path segment encoded once)
    // and `query_pairs_mut` (query values encoded once); send with `http::send`, which applies
    // the call's deadline and refuses bodies over the size cap. Use the shared client in `ctx`.
    // `success_or_else` turns a non-2xx answer into your error mapping's `ConnectorError`.
    // If the upstream says in headers how much of its allowance is left, hand that to enrichd
    // with `ctx.observe_quota(&QUOTA, &response)` (a `quota::QuotaHeaders` naming them): at 0
    // enrichd stops calling it, on every replica, until the reset.
    /// GET `{base_url}/v1/<segments>` with the key; a non-success answer becomes its error.
    async fn get(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
        ctx: &EnrichContext,
    ) -> Result<UpstreamResponse, ConnectorError> {
        let mut path = vec!["v1"];
        path.extend_from_slice(segments);
        let mut url: Url = http::endpoint(&self.settings.base_url, &path);
        for (name, value) in query {
            url.query_pairs_mut().append_pair(name, value);
        }
        let request = ctx
            .http()
            .get(url)
            .bearer_auth(self.settings.api_key.expose())
            .header(header::ACCEPT, "application/json");
        http::send(request, ctx).await?.success_or_else(error_from)
    }
}

// STEP 7: the error mapping. Decide, per status (and vendor error code), which `ErrorCode`
// enrichd gets: it retries only retryable errors, stops calling a `rate_limited` upstream until
// `retry_after` passes, and counts `not_found` as an answer ("unknown person"), not a failure.
// Read the vendor's own wait headers: `http::rate_limit_wait` takes `Retry-After`, else what
// you read from the vendor's headers (`http::until_epoch_reset` for an epoch reset), else a
// default. A message names the upstream, the status and at most a vendor error *code*
// (`http::status_message`, with the code checked by `http::is_error_code`): never the email,
// the token, the URL or the vendor's free text.
/// The error for a non-success answer from Acme.
fn error_from(response: &UpstreamResponse) -> ConnectorError {
    let status = response.status.as_u16();
    let message = http::status_message(UPSTREAM, status, None);
    match status {
        404 => ConnectorError {
            message,
            ..ConnectorError::not_found()
        },
        429 => ConnectorError::rate_limited(
            message,
            Some(http::rate_limit_wait(
                &response.headers,
                SystemTime::now(),
                || None,
                DEFAULT_RATE_LIMIT_WAIT,
            )),
        ),
        // 401/403 → authentication, 5xx → retryable connection, others → bad_response.
        _ => http::status_error(UPSTREAM, response),
    }
}

#[async_trait]
impl Connector for TemplateConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        // enrichd calls only with the required identifiers present; stay total anyway
        // (`subject.require(&Identifier::Email, UPSTREAM)?` also says what was missing).
        let Some(email) = subject.email.as_deref() else {
            return Err(ConnectorError::not_found());
        };
        let response = self.get(&["people"], &[("email", email)], ctx).await?;
        // `json()` turns a body of the wrong shape into `bad_response`, quoting no value.
        let body: PersonResponse = response.json_async().await?;
        Ok(body.person.into_enrichment())
    }

    /// One cheap authenticated call: proves the URL and the key.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        self.get(&["me"], &[], ctx).await.map(drop)
    }
}

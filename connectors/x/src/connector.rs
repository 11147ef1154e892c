//! The X connector itself: the user lookup by username and the health check.

use std::time::SystemTime;

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, ErrorCode, Subject,
    async_trait,
    http::{self, UpstreamResponse},
    quota::{QuotaHeaders, Reset},
};
use reqwest::{Url, header};

use crate::{
    KIND, errors,
    settings::ValidSettings,
    user::{LookupBody, USER_FIELDS},
    username,
};

/// X: `x-rate-limit-remaining`, `x-rate-limit-reset` in epoch seconds.
const QUOTA: QuotaHeaders = QuotaHeaders::new(
    "x-rate-limit-remaining",
    Reset::EpochSeconds("x-rate-limit-reset"),
);

/// The account the health check looks up: X's own developer account, which exists as long as
/// the API does.
pub(crate) const HEALTH_USERNAME: &str = "XDevelopers";

/// Reads public X profiles with the API v2.
///
/// Built by [`crate::XFactory`]; holds only immutable settings, so one instance serves every
/// concurrent request.
#[derive(Debug)]
pub struct XConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
}

impl XConnector {
    pub(crate) fn new(settings: ValidSettings, metadata: ConnectorMetadata) -> XConnector {
        XConnector { settings, metadata }
    }

    /// `{base_url}/2/users/by/username/{username}`, the username percent-encoded once.
    fn lookup_url(&self, username: &str) -> Url {
        http::endpoint(
            &self.settings.base_url,
            &["2", "users", "by", "username", username],
        )
    }

    /// GET `url` with the bearer token, within the context's deadline and size cap. Any status
    /// is returned; the caller decides what it means.
    async fn get(&self, url: Url, ctx: &EnrichContext) -> Result<UpstreamResponse, ConnectorError> {
        let request = ctx
            .http()
            .get(url)
            .bearer_auth(self.settings.bearer_token.expose())
            .header(header::ACCEPT, "application/json");
        let response = http::send(request, ctx).await?;
        ctx.observe_quota(&QUOTA, &response);
        Ok(response)
    }
}

#[async_trait]
impl Connector for XConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let Some(handle) = subject.handles.get(KIND) else {
            return Err(ConnectorError {
                message: "the subject has no x handle".into(),
                ..ConnectorError::not_found()
            });
        };
        let Some(username) = username::parse(handle) else {
            return Err(ConnectorError {
                message: "the x handle cannot be an X username \
                          (1-15 letters, digits and underscores); X was not called"
                    .into(),
                ..ConnectorError::not_found()
            });
        };
        let mut url = self.lookup_url(username);
        url.query_pairs_mut()
            .append_pair("user.fields", USER_FIELDS);
        let response = self
            .get(url, ctx)
            .await?
            .success_or_else(|response| errors::from_response(response, SystemTime::now()))?;
        let body: LookupBody = response.json_async().await?;
        Ok(body.into_user()?.into_enrichment())
    }

    /// Looks up `XDevelopers` (`HEALTH_USERNAME`) with the default fields. X has no free status endpoint, so
    /// each check costs one request of the app's lookup allowance (300 per 15 minutes) and, on
    /// pay-per-use plans, one billed read: keep the health interval long.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        let response = self.get(self.lookup_url(HEALTH_USERNAME), ctx).await?;
        if response.status.is_success() {
            // Reachable and the token accepted, whatever the body says about the account.
            return Ok(());
        }
        match errors::from_response(&response, SystemTime::now()) {
            // X's own account does not vanish: whatever answered 404 is not X's API root.
            err if err.code == ErrorCode::NotFound => Err(ConnectorError::bad_response(
                "HTTP 404 from X for the health lookup: check base_url",
            )),
            err => Err(err),
        }
    }
}

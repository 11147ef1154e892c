//! The GitHub connector itself: the profile lookup by login and the health check.

use std::time::SystemTime;

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, ErrorCode, Subject,
    async_trait,
    http::{self, UpstreamResponse},
    quota::{QuotaHeaders, Reset},
};
use reqwest::{Url, header};

use crate::{KIND, errors, login::is_plausible_login, settings::ValidSettings, user::User};

/// GitHub: `x-ratelimit-remaining`, `x-ratelimit-reset` in epoch seconds.
const QUOTA: QuotaHeaders = QuotaHeaders::new(
    "x-ratelimit-remaining",
    Reset::EpochSeconds("x-ratelimit-reset"),
);

/// The `User-Agent` GitHub requires on every request.
const USER_AGENT: &str = concat!("enrichd/", env!("CARGO_PKG_VERSION"));
/// The REST API version the mapping was written against.
const API_VERSION: &str = "2022-11-28";

/// Reads public GitHub profiles.
///
/// Built by [`crate::GitHubFactory`]; holds only immutable settings, so one instance serves
/// every concurrent request.
#[derive(Debug)]
pub struct GitHubConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
}

impl GitHubConnector {
    pub(crate) fn new(settings: ValidSettings, metadata: ConnectorMetadata) -> GitHubConnector {
        GitHubConnector { settings, metadata }
    }

    /// `{base_url}/<segments...>`, each segment percent-encoded once.
    fn url(&self, segments: &[&str]) -> Url {
        http::endpoint(&self.settings.base_url, segments)
    }

    /// GET `url` with GitHub's headers (and the token, if any), within the context's deadline
    /// and size cap. Any status is returned; the caller decides what it means.
    async fn get(&self, url: Url, ctx: &EnrichContext) -> Result<UpstreamResponse, ConnectorError> {
        let mut request = ctx
            .http()
            .get(url)
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", API_VERSION)
            .header(header::USER_AGENT, USER_AGENT);
        if let Some(token) = &self.settings.token {
            request = request.bearer_auth(token.expose());
        }
        let response = http::send(request, ctx).await?;
        ctx.observe_quota(&QUOTA, &response);
        Ok(response)
    }
}

#[async_trait]
impl Connector for GitHubConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let Some(login) = subject.handles.get(KIND) else {
            return Err(ConnectorError {
                message: "the subject has no github handle".into(),
                ..ConnectorError::not_found()
            });
        };
        if !is_plausible_login(login) {
            return Err(ConnectorError {
                message: "the github handle cannot be a GitHub login \
                          (1-39 letters, digits and hyphens); GitHub was not called"
                    .into(),
                ..ConnectorError::not_found()
            });
        }
        let response = self
            .get(self.url(&["users", login]), ctx)
            .await?
            .success_or_else(|response| errors::from_response(response, SystemTime::now()))?;
        let user: User = response.json_async().await?;
        Ok(user.into_enrichment())
    }

    /// Reads `/rate_limit`: cheap, not counted against the limit, and refused with 401 when the
    /// token is bad.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        let response = self.get(self.url(&["rate_limit"]), ctx).await?;
        if response.status.is_success() || errors::is_rate_limiting_disabled(&response) {
            return Ok(());
        }
        match errors::from_response(&response, SystemTime::now()) {
            // Not "unknown person": whatever answered 404 here is not GitHub's API root.
            err if err.code == ErrorCode::NotFound => Err(ConnectorError::bad_response(
                "HTTP 404 from GitHub for /rate_limit: check base_url",
            )),
            err => Err(err),
        }
    }
}

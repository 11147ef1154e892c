//! The Gravatar connector itself: the profile lookup by email hash and the health check.

use std::time::SystemTime;

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, Identifier, Subject,
    async_trait,
    http::{self, UpstreamResponse},
    quota::{QuotaHeaders, Reset},
};
use reqwest::{Url, header};

use crate::{email_hash::email_hash, errors, profile::Profile, settings::ValidSettings};

/// Gravatar: `X-RateLimit-Remaining`, `X-RateLimit-Reset` in epoch seconds (sent on 200, 404 and 429).
const QUOTA: QuotaHeaders = QuotaHeaders::new(
    "x-ratelimit-remaining",
    Reset::EpochSeconds("x-ratelimit-reset"),
);

/// The address whose profile the health check asks for: under `.invalid`, so no one can own
/// it and the answer is a 404.
pub(crate) const HEALTH_EMAIL: &str = "healthcheck@enrichd.invalid";

/// Reads public Gravatar profiles.
///
/// Built by [`crate::GravatarFactory`]; holds only immutable settings, so one instance serves
/// every concurrent request.
#[derive(Debug)]
pub struct GravatarConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
}

impl GravatarConnector {
    pub(crate) fn new(settings: ValidSettings, metadata: ConnectorMetadata) -> GravatarConnector {
        GravatarConnector { settings, metadata }
    }

    /// `{base_url}/v3/profiles/{sha256 of the email}`.
    fn profile_url(&self, email: &str) -> Url {
        http::endpoint(
            &self.settings.base_url,
            &["v3", "profiles", &email_hash(email)],
        )
    }

    /// GET `url` with the API key, if any, within the context's deadline and size cap. Any
    /// status is returned; the caller decides what it means.
    async fn get(&self, url: Url, ctx: &EnrichContext) -> Result<UpstreamResponse, ConnectorError> {
        let mut request = ctx
            .http()
            .get(url)
            .header(header::ACCEPT, "application/json");
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key.expose());
        }
        let response = http::send(request, ctx).await?;
        ctx.observe_quota(&QUOTA, &response);
        Ok(response)
    }
}

#[async_trait]
impl Connector for GravatarConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let email = subject.require(&Identifier::Email, "Gravatar")?;
        let response = self
            .get(self.profile_url(email), ctx)
            .await?
            .success_or_else(|response| errors::from_response(response, SystemTime::now()))?;
        let profile: Profile = response.json_async().await?;
        Ok(profile.into_enrichment())
    }

    /// Asks for the profile of `healthcheck@enrichd.invalid` (`HEALTH_EMAIL`): a 404 (or a 200) proves Gravatar answers and,
    /// with an API key, that the key is accepted (a bad one is a 401). Gravatar has no free
    /// endpoint, so each check costs one request of the hourly allowance (100 anonymous, 1,000
    /// with a key): keep the health interval long.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        let response = self.get(self.profile_url(HEALTH_EMAIL), ctx).await?;
        if response.status.is_success() || response.status.as_u16() == 404 {
            return Ok(());
        }
        Err(errors::from_response(&response, SystemTime::now()))
    }
}

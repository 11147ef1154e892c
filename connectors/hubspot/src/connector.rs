//! The HubSpot connector itself: the contact lookup by email and the health check.

use std::time::SystemTime;

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, Identifier, Subject,
    async_trait,
    http::{self, UpstreamResponse},
    quota::{QuotaHeaders, Reset},
};
use reqwest::{Url, header};

use crate::{contact::Contact, errors, settings::ValidSettings};

/// HubSpot: the daily allowance of private-app tokens, `X-HubSpot-RateLimit-Daily-Remaining`; no reset time is sent.
const QUOTA: QuotaHeaders =
    QuotaHeaders::new("x-hubspot-ratelimit-daily-remaining", Reset::Unknown);

/// Looks subjects up among the contacts of one HubSpot account.
///
/// Built by [`crate::HubSpotFactory`]; holds only immutable settings, so one instance serves
/// every concurrent request.
#[derive(Debug)]
pub struct HubSpotConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
}

impl HubSpotConnector {
    pub(crate) fn new(settings: ValidSettings, metadata: ConnectorMetadata) -> HubSpotConnector {
        HubSpotConnector { settings, metadata }
    }

    /// `{base_url}/crm/v3/objects/<segments...>`, each segment percent-encoded once.
    fn objects_url(&self, segments: &[&str]) -> Url {
        let mut path = vec!["crm", "v3", "objects"];
        path.extend_from_slice(segments);
        http::endpoint(&self.settings.base_url, &path)
    }

    /// The lookup of one contact by email, with the configured properties.
    fn contact_url(&self, email: &str) -> Url {
        let mut url = self.objects_url(&["contacts", email]);
        url.query_pairs_mut()
            .append_pair("idProperty", "email")
            .append_pair("properties", &self.settings.properties);
        url
    }

    /// GET `url` with the token, within the context's deadline and size cap.
    async fn get(&self, url: Url, ctx: &EnrichContext) -> Result<UpstreamResponse, ConnectorError> {
        let request = ctx
            .http()
            .get(url)
            .bearer_auth(self.settings.access_token.expose())
            .header(header::ACCEPT, "application/json");
        let response = http::send(request, ctx).await?;
        ctx.observe_quota(&QUOTA, &response);
        response.success_or_else(|response| errors::from_response(response, SystemTime::now()))
    }
}

#[async_trait]
impl Connector for HubSpotConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let email = subject.require(&Identifier::Email, "HubSpot")?;
        let response = self.get(self.contact_url(email), ctx).await?;
        let contact: Contact = response.json_async().await?;
        Ok(contact.into_enrichment(&self.settings.handle_properties))
    }

    /// Lists one contact: cheap, and refused with 401/403 when the token or its scope is wrong.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        let mut url = self.objects_url(&["contacts"]);
        url.query_pairs_mut().append_pair("limit", "1");
        self.get(url, ctx).await.map(drop)
    }
}

//! The Pipedrive connector itself: the person search by email, the fetch of the person found,
//! and the health check.

use std::time::SystemTime;

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, Identifier, Subject,
    async_trait,
    http::{self, UpstreamResponse},
    quota::{QuotaHeaders, Reset},
};
use reqwest::{Url, header};

use crate::{
    errors::{self, Call},
    person::{PersonResponse, SearchResponse},
    settings::{Credential, ValidSettings},
};

/// Pipedrive: `x-ratelimit-remaining` of the 2-second window, `x-ratelimit-reset` in seconds left.
const QUOTA: QuotaHeaders = QuotaHeaders::new(
    "x-ratelimit-remaining",
    Reset::SecondsLeft("x-ratelimit-reset"),
);

/// Looks subjects up among the persons of one Pipedrive company.
///
/// Built by [`crate::PipedriveFactory`]; holds only immutable settings, so one instance serves
/// every concurrent request.
#[derive(Debug)]
pub struct PipedriveConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
}

impl PipedriveConnector {
    pub(crate) fn new(settings: ValidSettings, metadata: ConnectorMetadata) -> PipedriveConnector {
        PipedriveConnector { settings, metadata }
    }

    /// `{base_url}/v1/<segments...>`, each segment percent-encoded once.
    fn url(&self, segments: &[&str]) -> Url {
        let mut path = vec!["v1"];
        path.extend_from_slice(segments);
        http::endpoint(&self.settings.base_url, &path)
    }

    /// The exact-match search of one email among the persons' email fields.
    fn search_url(&self, email: &str) -> Url {
        let mut url = self.url(&["persons", "search"]);
        url.query_pairs_mut()
            .append_pair("term", email)
            .append_pair("fields", "email")
            .append_pair("exact_match", "true")
            .append_pair("limit", "1");
        url
    }

    /// GET `url` with the credential, within the context's deadline and size cap; a
    /// non-success answer becomes its [`ConnectorError`] for `call`.
    ///
    /// An `api_token` goes into the URL, which is why no URL ever goes into a message: the
    /// SDK's `send` strips it from transport errors and the status mapping never shows it.
    async fn get(
        &self,
        mut url: Url,
        call: Call,
        ctx: &EnrichContext,
    ) -> Result<UpstreamResponse, ConnectorError> {
        if let Credential::ApiToken(token) = &self.settings.credential {
            url.query_pairs_mut()
                .append_pair("api_token", token.expose());
        }
        let mut request = ctx
            .http()
            .get(url)
            .header(header::ACCEPT, "application/json");
        if let Credential::AccessToken(token) = &self.settings.credential {
            request = request.bearer_auth(token.expose());
        }
        let response = http::send(request, ctx).await?;
        ctx.observe_quota(&QUOTA, &response);
        response
            .success_or_else(|response| errors::from_response(response, call, SystemTime::now()))
    }
}

#[async_trait]
impl Connector for PipedriveConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    /// Two calls: the search finds the person's id (its items carry only name, emails, phones
    /// and organization), then `/v1/persons/{id}` returns the full record with job title,
    /// owner, picture, labels and the deal and activity counts.
    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let email = subject.require(&Identifier::Email, "Pipedrive")?;
        let search: SearchResponse = self
            .get(self.search_url(email), Call::Search, ctx)
            .await?
            .json_async()
            .await?;
        let Some(id) = search.first_id()? else {
            return Err(ConnectorError {
                message: "no Pipedrive person has this email".into(),
                ..ConnectorError::not_found()
            });
        };
        let person: PersonResponse = self
            .get(self.url(&["persons", &id.to_string()]), Call::Person, ctx)
            .await?
            .json_async()
            .await?;
        match person.into_person()? {
            Some(person) => Ok(person.into_enrichment()),
            None => Err(ConnectorError {
                message: "Pipedrive returned no data for the person found".into(),
                ..ConnectorError::not_found()
            }),
        }
    }

    /// Reads `/v1/users/me`, the token's own user: cheap, and refused with 401 when the token
    /// is wrong.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        self.get(self.url(&["users", "me"]), Call::Health, ctx)
            .await
            .map(drop)
    }
}

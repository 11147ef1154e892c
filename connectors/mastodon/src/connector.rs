//! The Mastodon connector itself: the account lookup on the handle's instance and the health
//! check.

use std::time::{Duration, SystemTime};

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, ErrorCode,
    SettingsIssue, Subject, async_trait,
    http::{self, UpstreamResponse},
};
use reqwest::{Url, header, redirect};

use crate::{
    KIND, account::Account, errors, handle, handle::Handle, public_dns::PublicOnlyResolver,
    settings::ValidSettings,
};

/// The `User-Agent` of calls to instances named by handles (the shared client sets enrichd's).
const USER_AGENT: &str = concat!("enrichd/", env!("CARGO_PKG_VERSION"));

/// Reads Mastodon accounts on the instance their handle names.
///
/// Built by [`crate::MastodonFactory`]; holds only immutable settings and an HTTP client, so one
/// instance serves every concurrent request.
#[derive(Debug)]
pub struct MastodonConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
    /// The client for calls to the instances handles name (no `base_url`): it follows no
    /// redirect and, without an allow-list, connects to public addresses only, so a handle
    /// cannot steer a request into the internal network. `None` with a `base_url`, whose
    /// server the operator chose: the shared client serves it.
    direct_client: Option<reqwest::Client>,
}

impl MastodonConnector {
    pub(crate) fn new(
        settings: ValidSettings,
        metadata: ConnectorMetadata,
    ) -> Result<MastodonConnector, Vec<SettingsIssue>> {
        let direct_client = match settings.base_url {
            Some(_) => None,
            None => {
                let mut builder = reqwest::Client::builder()
                    .redirect(redirect::Policy::none())
                    .connect_timeout(Duration::from_secs(2))
                    .user_agent(USER_AGENT);
                if settings.instances_allowed.is_empty() {
                    builder = builder.dns_resolver(PublicOnlyResolver);
                }
                let client = builder.build().map_err(|err| {
                    vec![SettingsIssue::new(
                        "base_url",
                        format!("without it, an HTTP client for direct calls is needed and cannot be built: {err}"),
                    )]
                })?;
                Some(client)
            }
        };
        Ok(MastodonConnector {
            settings,
            metadata,
            direct_client,
        })
    }

    /// Where to look `handle` up: `{base_url}/api/v1/accounts/lookup?acct=user@instance` when a
    /// base URL is set, else `https://{instance}/api/v1/accounts/lookup?acct=user` (the
    /// instance's own account, without a WebFinger round trip).
    pub(crate) fn lookup_url(&self, handle: &Handle<'_>) -> Url {
        let (root, acct) = match &self.settings.base_url {
            Some(base_url) => (base_url.clone(), handle.acct()),
            None => {
                // The instance passed `handle::parse`: a bare host name, so this parses.
                let root = Url::parse(&format!("https://{}/", handle.instance))
                    .expect("a checked host name makes a URL");
                (root, handle.user.to_owned())
            }
        };
        let mut url = http::endpoint(&root, &["api", "v1", "accounts", "lookup"]);
        url.query_pairs_mut().append_pair("acct", &acct);
        url
    }

    /// GET `url` with the token, if any, within the context's deadline and size cap. Any status
    /// is returned; the caller decides what it means.
    async fn get(&self, url: Url, ctx: &EnrichContext) -> Result<UpstreamResponse, ConnectorError> {
        let client = self.direct_client.as_ref().unwrap_or(ctx.http());
        let mut request = client.get(url).header(header::ACCEPT, "application/json");
        if let Some(token) = &self.settings.access_token {
            request = request.bearer_auth(token.expose());
        }
        http::send(request, ctx).await
    }
}

#[async_trait]
impl Connector for MastodonConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let Some(text) = subject.handles.get(KIND) else {
            return Err(ConnectorError {
                message: "the subject has no mastodon handle".into(),
                ..ConnectorError::not_found()
            });
        };
        let Some(handle) = handle::parse(text) else {
            return Err(ConnectorError {
                message: "the mastodon handle is not `user@instance` (user: 1-30 letters, \
                          digits and underscores; instance: a host name); Mastodon was not called"
                    .into(),
                ..ConnectorError::not_found()
            });
        };
        if !self.settings.permits(&handle.instance) {
            return Err(ConnectorError {
                message: "the mastodon handle names an instance that is not allowed (see \
                          instances_allowed); Mastodon was not called"
                    .into(),
                ..ConnectorError::not_found()
            });
        }
        let response = self
            .get(self.lookup_url(&handle), ctx)
            .await?
            .success_or_else(|response| errors::from_response(response, SystemTime::now()))?;
        let account: Account = response.json()?;
        if account.is_suspended() {
            return Err(ConnectorError {
                message: "HTTP 200 from Mastodon: the account is suspended".into(),
                ..ConnectorError::not_found()
            });
        }
        Ok(account.into_enrichment(&handle.instance))
    }

    /// With a `base_url`: `GET /api/v1/apps/verify_credentials` when a token is set (proves the
    /// server answers and accepts the token), else `GET /api/v2/instance` (proves it answers).
    /// Without one there is no single upstream to check (each handle names its own), so the
    /// connector reports healthy and each lookup's outcome speaks for itself.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        let Some(base_url) = &self.settings.base_url else {
            return Ok(());
        };
        let path: &[&str] = match self.settings.access_token {
            Some(_) => &["api", "v1", "apps", "verify_credentials"],
            None => &["api", "v2", "instance"],
        };
        let response = self.get(http::endpoint(base_url, path), ctx).await?;
        if response.status.is_success() {
            return Ok(());
        }
        match errors::from_response(&response, SystemTime::now()) {
            err if err.code == ErrorCode::NotFound => Err(ConnectorError::bad_response(
                "HTTP 404 from Mastodon for the health check: check base_url (Mastodon 4.0 or \
                 later is needed)",
            )),
            err => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use enrichd_sdk::ConnectorFactory;
    use serde_json::json;

    use super::*;

    fn connector(settings: serde_json::Value) -> MastodonConnector {
        let settings = crate::settings::parse(&settings).unwrap();
        MastodonConnector::new(settings, crate::MastodonFactory.metadata()).unwrap()
    }

    #[test]
    fn without_a_base_url_the_lookup_goes_to_the_handles_instance() {
        let connector = connector(json!({}));
        let handle = handle::parse("@Gargron@Mastodon.Social").unwrap();
        assert_eq!(
            connector.lookup_url(&handle).as_str(),
            "https://mastodon.social/api/v1/accounts/lookup?acct=Gargron"
        );
        assert!(connector.direct_client.is_some());
    }

    #[test]
    fn with_a_base_url_the_full_acct_goes_to_it() {
        let connector = connector(json!({"base_url": "http://127.0.0.1:4013/prefix/"}));
        let handle = handle::parse("noiob@awoo.space").unwrap();
        assert_eq!(
            connector.lookup_url(&handle).as_str(),
            "http://127.0.0.1:4013/prefix/api/v1/accounts/lookup?acct=noiob%40awoo.space"
        );
        assert!(connector.direct_client.is_none());
    }
}

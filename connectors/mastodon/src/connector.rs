//! The Mastodon connector itself: the account lookup on the handle's instance and the health
//! check.

use std::time::SystemTime;

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, ErrorCode,
    SettingsIssue, Subject, async_trait, hosts,
    http::{self, UpstreamResponse},
    quota::{QuotaHeaders, Reset},
};
use reqwest::{Url, header};

use crate::{
    KIND,
    account::Account,
    errors,
    handle::{self, Handle, Refusal},
    settings::ValidSettings,
};

/// Mastodon: `X-RateLimit-Remaining`, `X-RateLimit-Reset` as a timestamp (RFC 3339, or epoch
/// seconds). Only the configured instance's allowance is the connector's.
const QUOTA: QuotaHeaders = QuotaHeaders::new(
    "x-ratelimit-remaining",
    Reset::Timestamp("x-ratelimit-reset"),
);

/// The `User-Agent` of calls to instances named by handles (the shared client sets enrichd's).
const USER_AGENT: &str = concat!("enrichd/", env!("CARGO_PKG_VERSION"));

/// The message of every handle whose instance may not be called, whatever the reason: one
/// message, so that a caller cannot tell how its instance was read or where it points.
const INSTANCE_REFUSED: &str = "the mastodon handle's instance is not a host that may be called \
                                (a public host name, or one in instances_allowed); Mastodon was \
                                not called";

/// The answer to a handle whose instance may not be called: `not_found`, the subject being
/// unknown to every instance the connector may ask, with [`INSTANCE_REFUSED`].
fn instance_refused() -> ConnectorError {
    ConnectorError {
        message: INSTANCE_REFUSED.into(),
        ..ConnectorError::not_found()
    }
}

/// Reads Mastodon accounts on the instance their handle names.
///
/// Built by [`crate::MastodonFactory`]; holds only immutable settings and an HTTP client, so one
/// instance serves every concurrent request.
#[derive(Debug)]
pub struct MastodonConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
    /// The client for calls to the instances handles name (no `base_url`), from the SDK's
    /// [`hosts`]: it follows no redirect and, without an allow-list, connects to public
    /// addresses only, so a handle cannot steer a request into the internal network. `None`
    /// with a `base_url`, whose server the operator chose: the shared client serves it.
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
                let client = if settings.instances_allowed.is_empty() {
                    hosts::caller_host_client(USER_AGENT)
                } else {
                    hosts::listed_host_client(USER_AGENT)
                };
                let client = client.map_err(|err| {
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
    ///
    /// `None` only if the instance, a host the URL parser already normalised, no longer makes
    /// a URL: refused like any other instance rather than trusted to.
    pub(crate) fn lookup_url(&self, handle: &Handle<'_>) -> Option<Url> {
        let (root, acct) = match &self.settings.base_url {
            Some(base_url) => (base_url.clone(), handle.acct()),
            None => {
                let root = Url::parse(&format!("https://{}/", handle.instance)).ok()?;
                (root, handle.user.to_owned())
            }
        };
        let mut url = http::endpoint(&root, &["api", "v1", "accounts", "lookup"]);
        url.query_pairs_mut().append_pair("acct", &acct);
        Some(url)
    }

    /// Look the account up at `url` and map the answer, or the failure, of the server. Without
    /// a `base_url` the caller chose the server, so every failure is [subject-caused]: an
    /// instance that is down, slow, rate-limits or answers garbage says nothing about this
    /// connector, and must not open its circuit or make other subjects wait.
    ///
    /// [subject-caused]: ConnectorError::subject_caused
    async fn look_up(
        &self,
        url: Url,
        instance: &str,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let outcome = self.read_account(url, instance, ctx).await;
        match self.direct_client {
            Some(_) => outcome.map_err(ConnectorError::caused_by_subject),
            None => outcome,
        }
    }

    /// The account at `url`, mapped; a non-success status mapped by [`errors::from_response`].
    async fn read_account(
        &self,
        url: Url,
        instance: &str,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let response = self
            .get(url, ctx)
            .await?
            .success_or_else(|response| errors::from_response(response, SystemTime::now()))?;
        let account: Account = response.json_async().await?;
        if account.is_suspended() {
            return Err(ConnectorError {
                message: "HTTP 200 from Mastodon: the account is suspended".into(),
                ..ConnectorError::not_found()
            });
        }
        Ok(account.into_enrichment(instance))
    }

    /// GET `url` with the token, if any, within the context's deadline and size cap. Any status
    /// is returned; the caller decides what it means. A direct call goes through
    /// [`hosts::send`]: a failure to reach the instance is [`hosts::unreachable_host`], the
    /// same whatever happened.
    async fn get(&self, url: Url, ctx: &EnrichContext) -> Result<UpstreamResponse, ConnectorError> {
        let client = self.direct_client.as_ref().unwrap_or(ctx.http());
        let mut request = client.get(url).header(header::ACCEPT, "application/json");
        if let Some(token) = &self.settings.access_token {
            request = request.bearer_auth(token.expose());
        }
        match self.direct_client {
            Some(_) => hosts::send(request, ctx).await,
            None => {
                let response = http::send(request, ctx).await?;
                ctx.observe_quota(&QUOTA, &response);
                Ok(response)
            }
        }
    }
}

#[async_trait]
impl Connector for MastodonConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    /// Check the handle (a refused one is `not_found` without a call), then look it up.
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
        let parsed = handle::parse(text, |instance| self.settings.callable_instance(instance));
        let handle = match parsed {
            Ok(handle) => handle,
            Err(Refusal::Malformed) => {
                return Err(ConnectorError {
                    message: "the mastodon handle is not `user@instance` (user: 1-30 letters, \
                              digits and underscores); Mastodon was not called"
                        .into(),
                    ..ConnectorError::not_found()
                });
            }
            Err(Refusal::InstanceRefused) => return Err(instance_refused()),
        };
        let url = self.lookup_url(&handle).ok_or_else(instance_refused)?;
        self.look_up(url, &handle.instance, ctx).await
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
    use std::time::Duration;

    use enrichd_sdk::{
        ConnectorFactory,
        testkit::{
            context, fixture_response, unreachable_base_url,
            wiremock::{Mock, MockServer, ResponseTemplate, matchers::any},
        },
    };
    use serde_json::json;

    use super::*;

    fn connector(settings: serde_json::Value) -> MastodonConnector {
        let settings = crate::settings::parse(&settings).unwrap();
        MastodonConnector::new(settings, crate::MastodonFactory.metadata()).unwrap()
    }

    #[test]
    fn without_a_base_url_the_lookup_goes_to_the_handles_instance() {
        let connector = connector(json!({}));
        let handle = handle::parse("@Gargron@Mastodon.Social", |instance| {
            connector.settings.callable_instance(instance)
        })
        .unwrap();
        assert_eq!(
            connector.lookup_url(&handle).unwrap().as_str(),
            "https://mastodon.social/api/v1/accounts/lookup?acct=Gargron"
        );
        assert!(connector.direct_client.is_some());
    }

    #[test]
    fn with_a_base_url_the_full_acct_goes_to_it() {
        let connector = connector(json!({"base_url": "http://127.0.0.1:4013/prefix/"}));
        let handle = handle::parse("noiob@awoo.space", |instance| {
            connector.settings.callable_instance(instance)
        })
        .unwrap();
        assert_eq!(
            connector.lookup_url(&handle).unwrap().as_str(),
            "http://127.0.0.1:4013/prefix/api/v1/accounts/lookup?acct=noiob%40awoo.space"
        );
        assert!(connector.direct_client.is_none());
    }

    #[test]
    fn an_instance_that_makes_no_url_is_refused_without_a_panic() {
        let connector = connector(json!({}));
        for instance in ["a.0x1", "x y", "", "[::1"] {
            let handle = Handle {
                user: "u",
                instance: instance.to_owned(),
            };
            assert_eq!(connector.lookup_url(&handle), None, "{instance}");
        }
    }

    /// A server answering every request with `response`.
    async fn answering(response: ResponseTemplate) -> MockServer {
        let server = MockServer::start().await;
        Mock::given(any())
            .respond_with(response)
            .mount(&server)
            .await;
        server
    }

    /// What `connector` makes of the lookup answer of a server answering `response`.
    async fn outcome(
        connector: &MastodonConnector,
        response: ResponseTemplate,
    ) -> Result<Enrichment, ConnectorError> {
        let server = answering(response).await;
        let url = Url::parse(&format!("{}/api/v1/accounts/lookup?acct=u", server.uri())).unwrap();
        connector.look_up(url, "mastodon.social", &context()).await
    }

    fn error_statuses() -> Vec<(ResponseTemplate, ErrorCode)> {
        vec![
            (ResponseTemplate::new(503), ErrorCode::Connection),
            (
                ResponseTemplate::new(429).insert_header("retry-after", "600"),
                ErrorCode::RateLimited,
            ),
            (ResponseTemplate::new(401), ErrorCode::Authentication),
            (ResponseTemplate::new(403), ErrorCode::Authentication),
            (ResponseTemplate::new(404), ErrorCode::NotFound),
            (ResponseTemplate::new(302), ErrorCode::BadResponse),
            (
                ResponseTemplate::new(200).set_body_string("{\"acct\": "),
                ErrorCode::BadResponse,
            ),
        ]
    }

    #[tokio::test]
    async fn every_failure_of_a_caller_named_instance_is_the_subjects() {
        // An allow-list lets the direct client reach the mock server on loopback.
        let direct = connector(json!({"instances_allowed": ["127.0.0.1"]}));
        assert!(direct.direct_client.is_some());
        for (response, code) in error_statuses() {
            let err = outcome(&direct, response).await.unwrap_err();
            assert_eq!(err.code, code, "{err}");
            assert!(err.subject_caused, "{err}");
            assert!(!err.retryable, "{err}");
            if code == ErrorCode::RateLimited {
                assert_eq!(err.retry_after, Some(Duration::from_secs(600)));
            }
        }
        let suspended = outcome(
            &direct,
            ResponseTemplate::new(200).set_body_json(json!({
                "id": "1", "username": "u", "acct": "u", "suspended": true,
            })),
        )
        .await
        .unwrap_err();
        assert_eq!(suspended.code, ErrorCode::NotFound);
        assert!(suspended.subject_caused);
        outcome(
            &direct,
            fixture_response(200, "account-get-local-user.json"),
        )
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn an_unreachable_caller_named_instance_is_one_uniform_error() {
        let direct = connector(json!({"instances_allowed": ["127.0.0.1"]}));
        let url = Url::parse(&format!(
            "{}/api/v1/accounts/lookup",
            unreachable_base_url()
        ))
        .unwrap();

        let err = direct
            .look_up(url, "mastodon.social", &context())
            .await
            .unwrap_err();

        assert_eq!(err, hosts::unreachable_host());
    }

    #[tokio::test]
    async fn failures_of_the_operators_base_url_count_as_the_connectors() {
        let configured = connector(json!({"base_url": "http://127.0.0.1:4013/"}));
        for (response, code) in error_statuses() {
            let err = outcome(&configured, response).await.unwrap_err();
            assert_eq!(err.code, code, "{err}");
            assert!(!err.subject_caused, "{err}");
        }
        let url = Url::parse(&format!(
            "{}/api/v1/accounts/lookup",
            unreachable_base_url()
        ))
        .unwrap();
        let err = configured
            .look_up(url, "mastodon.social", &context())
            .await
            .unwrap_err();
        assert_eq!(err.code, ErrorCode::Connection);
        assert!(err.retryable);
        assert!(!err.subject_caused);
    }
}

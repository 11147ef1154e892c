//! The declarative connector itself: one templated call per subject, the manifest's not-found
//! rules and mapping on the answer, and the optional health call.

use std::{fmt, sync::Arc, time::Duration};

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, SettingsIssue,
    Subject, async_trait, http,
};
use reqwest::{
    RequestBuilder,
    header::{CONTENT_TYPE, HeaderMap, HeaderValue},
};

use crate::{
    hosts::redirect_policy,
    responses::{error_for_status, interpret},
    template::{Unusable, header_value, raw_value},
    validate::{HeaderTemplate, ValidManifest},
};

/// The `User-Agent` of every call (many APIs refuse requests without one); a manifest may set
/// its own in `request.headers`.
const USER_AGENT: &str = concat!("enrichd/", env!("CARGO_PKG_VERSION"), " (declarative)");
/// How long to wait for a TCP/TLS connection; the call's deadline bounds everything anyway.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Calls the API a manifest describes.
///
/// Built by [`crate::HttpFactory`]. It holds its own HTTP client rather than enrichd's shared
/// one: that client's redirect policy enforces `allowed_hosts` on every hop. Everything else is
/// immutable, so one instance serves every concurrent request.
pub struct HttpConnector {
    /// Shared with the processing of large answers, which runs off the worker.
    manifest: Arc<ValidManifest>,
    metadata: ConnectorMetadata,
    client: reqwest::Client,
    /// How error messages name the upstream: the manifest's `name`, or "the upstream".
    upstream: String,
}

impl fmt::Debug for HttpConnector {
    /// Only the name: the manifest's URL and headers may carry credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpConnector")
            .field("name", &self.metadata.name)
            .finish_non_exhaustive()
    }
}

impl HttpConnector {
    pub(crate) fn new(
        manifest: ValidManifest,
        metadata: ConnectorMetadata,
    ) -> Result<HttpConnector, SettingsIssue> {
        let client = reqwest::Client::builder()
            .redirect(redirect_policy(Arc::new(manifest.hosts.clone())))
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(USER_AGENT)
            .build()
            .map_err(|err| {
                SettingsIssue::new("", format!("the HTTP client cannot be built: {err}"))
            })?;
        let upstream = manifest
            .name
            .clone()
            .unwrap_or_else(|| "the upstream".to_owned());
        Ok(HttpConnector {
            manifest: Arc::new(manifest),
            metadata,
            client,
            upstream,
        })
    }

    /// "Not called": the subject's identifier cannot be used as the manifest asks.
    fn refused(&self, unusable: Unusable) -> ConnectorError {
        ConnectorError {
            message: format!(
                "the subject's {} {}; {} was not called",
                unusable.identifier, unusable.why, self.upstream
            ),
            ..ConnectorError::not_found()
        }
    }

    /// The call for `subject`: URL, headers and body filled from its identifiers.
    fn request_for(&self, subject: &Subject) -> Result<RequestBuilder, Unusable> {
        let plan = &self.manifest.request;
        for identifier in &self.manifest.requires {
            raw_value(subject, identifier)?;
        }
        let url = plan.url.render(subject)?;
        let mut headers = HeaderMap::new();
        for header in &plan.headers {
            let value = header
                .value
                .render(|identifier| header_value(identifier, raw_value(subject, identifier)?))?;
            headers.insert(header.name.clone(), sensitive(&value));
        }
        let mut request = self.client.request(plan.method.clone(), url);
        if let Some(body) = &plan.body {
            let body = body.render(subject)?;
            if !headers.contains_key(CONTENT_TYPE) {
                headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            request = request.body(body.to_string());
        }
        Ok(request.headers(headers))
    }

    /// The headers without placeholders, for the health call (it has no subject).
    fn fixed_headers(&self) -> HeaderMap {
        self.manifest
            .request
            .headers
            .iter()
            .filter(|header| !header.value.has_placeholders())
            .map(|HeaderTemplate { name, value }| (name.clone(), sensitive(&value.probe())))
            .collect()
    }
}

/// A header value marked sensitive, so that the HTTP stack never logs it. The text was checked
/// at build time and its values encoded, so it is always a valid value.
fn sensitive(text: &str) -> HeaderValue {
    let mut value = HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

#[async_trait]
impl Connector for HttpConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let request = self
            .request_for(subject)
            .map_err(|unusable| self.refused(unusable))?;
        let response = http::send(request, ctx).await?;
        if let Some(quota) = &self.manifest.quota {
            ctx.observe_quota(quota, &response);
        }
        let manifest = self.manifest.clone();
        let upstream = self.upstream.clone();
        response
            .process(move |response| {
                let body = interpret(&upstream, &manifest.not_found, &response)?;
                manifest.mapping.apply(&body)
            })
            .await
    }

    /// Calls `health.url` with `GET` and the request's fixed headers; healthy when the answer
    /// has `health.expect_status`. Without a `health` section, always healthy.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        let Some(plan) = &self.manifest.health else {
            return Ok(());
        };
        let request = self
            .client
            .get(plan.url.clone())
            .headers(self.fixed_headers());
        let response = http::send(request, ctx).await?;
        let status = response.status.as_u16();
        if status == plan.expect_status {
            return Ok(());
        }
        let err = if response.status.is_success() {
            ConnectorError::bad_response(http::status_message(&self.upstream, status, None))
        } else {
            error_for_status(&self.upstream, &response)
        };
        Err(ConnectorError {
            message: format!(
                "{} (health check, expected HTTP {})",
                err.message, plan.expect_status
            ),
            ..err
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn debug_output_shows_no_credential() {
        let manifest = crate::validate::manifest(&json!({
            "name": "acme-people",
            "requires": ["email"],
            "allowed_hosts": ["api.acme.example"],
            "request": {
                "url": "https://api.acme.example/v1/people?email={email}&key=k3y",
                "headers": {"Authorization": "Bearer s3cret"},
            },
            "mapping": {"identity.name": "/name"},
        }))
        .unwrap();
        let metadata = crate::metadata(&manifest);
        let connector = HttpConnector::new(manifest, metadata).unwrap();

        let shown = format!("{connector:?}");

        assert_eq!(shown, r#"HttpConnector { name: "acme-people", .. }"#);
    }
}

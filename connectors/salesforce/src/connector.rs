//! The Salesforce connector itself: the SOQL lookup by email (Contact first, then Lead) and the
//! health check.

use enrichd_sdk::{
    Connector, ConnectorError, ConnectorMetadata, EnrichContext, Enrichment, Identifier, Subject,
    async_trait,
    http::{self, UpstreamResponse},
    quota::Quota,
};
use reqwest::{Url, header};
use serde_json::Value;

use crate::{
    errors,
    record::QueryResult,
    settings::ValidSettings,
    soql::{self, SObject},
};

/// Looks subjects up among the Contacts and Leads of one Salesforce org.
///
/// Built by [`crate::SalesforceFactory`]; holds only immutable settings, so one instance serves
/// every concurrent request.
#[derive(Debug)]
pub struct SalesforceConnector {
    settings: ValidSettings,
    metadata: ConnectorMetadata,
}

impl SalesforceConnector {
    pub(crate) fn new(settings: ValidSettings, metadata: ConnectorMetadata) -> SalesforceConnector {
        SalesforceConnector { settings, metadata }
    }

    /// `{base_url}/services/data/{api_version}/<segments...>`.
    fn data_url(&self, segments: &[&str]) -> Url {
        let mut path = vec!["services", "data", self.settings.api_version.as_str()];
        path.extend_from_slice(segments);
        http::endpoint(&self.settings.base_url, &path)
    }

    /// The query resource with `soql` as its `q` parameter, form-encoded (quotes, `@` and
    /// spaces included) exactly once.
    fn query_url(&self, soql: &str) -> Url {
        let mut url = self.data_url(&["query"]);
        url.query_pairs_mut().append_pair("q", soql);
        url
    }

    /// GET `url` with the token, within the context's deadline and size cap; a non-success
    /// answer becomes its [`ConnectorError`].
    async fn get(&self, url: Url, ctx: &EnrichContext) -> Result<UpstreamResponse, ConnectorError> {
        let request = ctx
            .http()
            .get(url)
            .bearer_auth(self.settings.access_token.expose())
            .header(header::ACCEPT, "application/json");
        let response = http::send(request, ctx).await?;
        if let Some(quota) = response.header("sforce-limit-info").and_then(api_usage) {
            ctx.report_quota(quota);
        }
        response.success_or_else(errors::from_response)
    }

    /// The record of `object` whose Email is `email`, if there is one.
    async fn lookup(
        &self,
        object: SObject,
        fields: &[String],
        email: &str,
        ctx: &EnrichContext,
    ) -> Result<Option<Enrichment>, ConnectorError> {
        let url = self.query_url(&soql::lookup_query(object, fields, email));
        let result: QueryResult = self.get(url, ctx).await?.json_async().await?;
        Ok(result
            .into_first(object)
            .map(|record| record.into_enrichment()))
    }
}

#[async_trait]
impl Connector for SalesforceConnector {
    fn metadata(&self) -> &ConnectorMetadata {
        &self.metadata
    }

    /// Queries each configured object in turn (Contact, then Lead by default) and answers with
    /// the first record found: a Lead is asked for only when no Contact has the email.
    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError> {
        let email = subject.require(&Identifier::Email, "Salesforce")?;
        for (object, fields) in &self.settings.objects {
            if let Some(enrichment) = self.lookup(*object, fields, email, ctx).await? {
                return Ok(enrichment);
            }
        }
        let searched: Vec<&str> = self
            .settings
            .objects
            .iter()
            .map(|(o, _)| o.name())
            .collect();
        Err(ConnectorError {
            message: format!("no Salesforce {} has this email", searched.join(" or ")),
            ..ConnectorError::not_found()
        })
    }

    /// Reads `/limits`: one cheap call that proves the instance URL, the API version and the
    /// token, and reports a used-up daily allowance before lookups run into it.
    async fn health(&self, ctx: &EnrichContext) -> Result<(), ConnectorError> {
        let limits: Value = self
            .get(self.data_url(&["limits"]), ctx)
            .await?
            .json_async()
            .await?;
        let remaining = limits
            .pointer("/DailyApiRequests/Remaining")
            .and_then(Value::as_i64);
        match remaining {
            Some(remaining) if remaining <= 0 => Err(ConnectorError::quota_exceeded(
                "Salesforce /limits: no daily API requests remaining",
            )),
            _ => Ok(()),
        }
    }
}
/// What `Sforce-Limit-Info: api-usage=10018/100000; api-bursts=1/750` says is left of the org's
/// daily allowance (a rolling 24 hours: no reset time is given).
fn api_usage(info: &str) -> Option<Quota> {
    let usage = info
        .split(';')
        .find_map(|part| part.trim().strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    let used: u64 = used.trim().parse().ok()?;
    let limit: u64 = limit.trim().parse().ok()?;
    Some(Quota {
        remaining: limit.saturating_sub(used),
        resets_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_daily_allowance_left_is_read_from_sforce_limit_info() {
        let left = |info| api_usage(info).map(|q| q.remaining);
        assert_eq!(
            left("api-usage=10018/100000; api-bursts=1/750"),
            Some(89_982)
        );
        assert_eq!(left("api-bursts=1/750; api-usage= 25 / 25 "), Some(0));
        assert_eq!(left("api-usage=120/100"), Some(0));
        assert_eq!(left("api-usage=10018"), None);
        assert_eq!(left("api-usage=a/100"), None);
        assert_eq!(left("api-usage=1/b"), None);
        assert_eq!(left("api-bursts=1/750"), None);
        assert_eq!(api_usage("api-usage=1/2").unwrap().resets_at, None);
    }
}

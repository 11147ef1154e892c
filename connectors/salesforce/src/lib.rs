//! The Salesforce connector of enrichd: looks a subject up by email among the Contacts (then the
//! Leads) of one Salesforce org with a SOQL query, and maps the record into profile sections.
//!
//! # What it calls
//!
//! `GET {base_url}/services/data/{api_version}/query?q=SELECT <fields> FROM Contact WHERE
//! Email = '<email>' ORDER BY LastModifiedDate DESC LIMIT 1` with the OAuth access token as
//! `Authorization: Bearer`. `base_url` is the org's instance (My Domain) URL, e.g.
//! `https://acme.my.salesforce.com`; `api_version` defaults to `v66.0`.
//!
//! - The email goes into the query as a SOQL string literal with `\` and `'` (and `"` and
//!   control characters) backslash-escaped, so no subject can change the query; the query is
//!   form-encoded once as the `q` parameter. Field names come from validated settings only.
//! - Contact is queried first; only when no Contact has the email is Lead queried (a second
//!   call only when needed). `objects` changes the list or the order.
//! - An unknown email is an HTTP 200 with `totalSize: 0` and no records, never a 404. With
//!   `LIMIT 1` there is never a next batch to fetch: `done` and `nextRecordsUrl` are ignored
//!   and the first record is taken. When several records share the email, the most recently
//!   modified one wins.
//!
//! [`Connector::health`] reads `GET {base_url}/services/data/{api_version}/limits`: it proves the
//! instance, the version and the token, and fails with `quota_exceeded` when
//! `DailyApiRequests.Remaining` is 0.
//!
//! # What it fills
//!
//! | Salesforce field (Contact / Lead) | profile field |
//! |---|---|
//! | `Name` (else `FirstName` + `LastName`) | `identity.name` |
//! | `Email` | `identity.emails` |
//! | `Title` | `identity.job_title` |
//! | `Account.Name` / `Company` | `identity.company` |
//! | `MailingCity` / `City`, `MailingCountry` / `Country` | `demographics.city`, `demographics.country`, and `demographics.location` when at least two of city, state (`MailingState` / `State`, if selected) and country are known |
//! | `Account.Industry` / `Industry` | `interests` |
//! | the object (`Contact` or `Lead`), `Id`, `Department`, `LeadSource`, `Status`, `Rating`, `Phone`, `CreatedDate` | `extra` (shown as `contextual.salesforce`) as `object`, `record_id`, `department`, `lead_source`, `lead_status`, `rating`, `phone`, `created_at` |
//!
//! `Department` goes to `extra`, not `demographics.occupation`: it names a unit of the
//! employer ("Procurement"), not the person's occupation, and as a CRM value it would win the
//! occupation field over sources that know the real one. Interests are the industry of the
//! Contact's Account, or the Lead's own `Industry`. Null and empty fields count as absent.
//!
//! Default confidence 0.85 (a CRM record the sales team maintains, a little below HubSpot's
//! 0.9 since Leads are often unverified), TTL one hour.
//!
//! # How failures map
//!
//! 401 (`INVALID_SESSION_ID`) is `authentication`. A 403 `REQUEST_LIMIT_EXCEEDED` is
//! `rate_limited` for 10 s when its message names the concurrent long-transaction limit
//! (`ConcurrentPerOrgLongTxn`), else the org's API allowance is used up: `quota_exceeded`, not
//! retryable, probed again after 15 minutes, the message quoting `Sforce-Limit-Info`'s
//! `api-usage=<used>/<limit>` (Salesforce sends no `Retry-After`). Any other 403 is
//! `authentication`. A 400 `MALFORMED_QUERY`, `INVALID_FIELD` or `INVALID_TYPE` is
//! `invalid_config` (the configured fields or objects do not fit the org); any other 400 is
//! `bad_response`. A 404 is `invalid_config` (wrong instance or API version), never
//! `not_found`. 5xx is a retryable `connection` error and a body that is not a query result is
//! `bad_response`. Messages carry the status and Salesforce's `errorCode`, never its message
//! text (it can quote the query, and so the email).
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

mod connector;
mod errors;
mod record;
mod settings;
mod soql;
mod stand_in;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::SalesforceConnector;
pub use settings::{FieldLists, SalesforceSettings};
pub use soql::SObject;
pub use stand_in::SalesforceStandIn;

/// The `kind:` that selects this connector in `config.yaml`.
const KIND: &str = "salesforce";

/// Builds [`SalesforceConnector`]s from their `settings` section; register it with enrichd
/// under the kind `salesforce`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SalesforceFactory;

impl ConnectorFactory for SalesforceFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn metadata(&self) -> ConnectorMetadata {
        metadata()
    }

    fn build(
        &self,
        settings: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, Vec<SettingsIssue>> {
        let settings = settings::parse(settings)?;
        Ok(Arc::new(SalesforceConnector::new(settings, metadata())))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(SalesforceStandIn::new()))
    }
}

/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Crm,
        description: "Looks the subject's email up among the Contacts, then the Leads, of a \
                      Salesforce org (SOQL over the REST API) and maps name, company, job \
                      title, location, industry, lead source, status and rating."
            .to_owned(),
        capabilities: vec![
            Capability::Identity,
            Capability::Demographics,
            Capability::Interests,
            Capability::Contextual,
        ],
        required_identifiers: vec![Identifier::Email],
        config_schema: settings::schema(),
        default_confidence: 0.85,
        default_ttl_seconds: 3600,
    }
}

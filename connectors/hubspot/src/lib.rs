//! The HubSpot connector of enrichd: looks a subject up by email among the CRM v3 contacts of one
//! HubSpot account and maps the contact into profile sections.
//!
//! # What it calls
//!
//! `GET {base_url}/crm/v3/objects/contacts/{email}?idProperty=email&properties=...` with the
//! private-app token as `Authorization: Bearer`. The email travels percent-encoded exactly once
//! in the path (HubSpot answers 404 to a double-encoded `@`). [`Connector::health`] lists one
//! contact (`GET /crm/v3/objects/contacts?limit=1`) to prove the token is accepted.
//!
//! # What it fills
//!
//! | HubSpot property | profile field |
//! |---|---|
//! | `firstname` + `lastname` | `identity.name` |
//! | `email`, `hs_additional_emails` | `identity.emails` |
//! | `company`, `jobtitle` | `identity.company`, `identity.job_title` |
//! | `twitterhandle`, and the properties of `handle_properties` | `identity.handles.<platform>` (`x` for `twitterhandle`) |
//! | `city`, `state`, `country` | `demographics.city`, `demographics.country`, and `demographics.location` when at least two of the three are known |
//! | `industry` | `interests` |
//! | `hubspotscore` | `behavior.engagement.lead_score` (a number) |
//! | contact id, `lifecyclestage`, `hs_lead_status`, `hubspotscore`, `hs_analytics_source`, `createdate`, `lastmodifieddate`, `phone`, `website` | `extra` (shown as `contextual.hubspot`) |
//!
//! Every HubSpot property value is a string that may be null or empty; empty counts as absent.
//!
//! # How failures map
//!
//! 401 and 403 are `authentication`, any 404 is `not_found`, 5xx is a retryable `connection`
//! error and a body that is not a contact is `bad_response`. A 429 whose `policyName` is `DAILY` is
//! `quota_exceeded` (not retryable), and the other 429s are `rate_limited` with a wait derived
//! from `Retry-After`, the policy and HubSpot's interval header.
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

mod connector;
mod contact;
mod errors;
mod settings;
mod stand_in;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::HubSpotConnector;
pub use settings::HubSpotSettings;
pub use stand_in::HubSpotStandIn;

/// The `kind:` that selects this connector in `config.yaml`.
const KIND: &str = "hubspot";

/// Builds [`HubSpotConnector`]s from their `settings` section; register it with enrichd under
/// the kind `hubspot`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HubSpotFactory;

impl ConnectorFactory for HubSpotFactory {
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
        Ok(Arc::new(HubSpotConnector::new(settings, metadata())))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(HubSpotStandIn::new()))
    }
}

/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Crm,
        description:
            "Looks the subject's email up among the contacts of a HubSpot account (CRM v3) \
                      and maps name, company, job title, location, industry, lifecycle stage and \
                      lead score."
                .to_owned(),
        capabilities: vec![
            Capability::Identity,
            Capability::Demographics,
            Capability::Interests,
            Capability::Behavior,
            Capability::Contextual,
        ],
        required_identifiers: vec![Identifier::Email],
        config_schema: settings::schema(),
        default_confidence: 0.9,
        default_ttl_seconds: 3600,
    }
}

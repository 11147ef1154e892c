//! The Pipedrive connector of enrichd: finds a subject's email among the persons of one
//! Pipedrive company, reads that person's record and maps it into identity and deal-activity
//! figures.
//!
//! # What it calls
//!
//! Two calls, because a search hit carries only the name, emails, phones and organization:
//!
//! 1. `GET {base_url}/v1/persons/search?term=<email>&fields=email&exact_match=true&limit=1`:
//!    an unknown email is a 200 with no `items`, which is `not_found`.
//! 2. `GET {base_url}/v1/persons/{id}` for the first hit: the full record, with job title,
//!    owner, picture, labels and the deal and activity counts.
//!
//! Authentication is either the personal `api_token`, sent as the `api_token` query
//! parameter (Pipedrive's way; the URL then holds the token, so no URL ever reaches a message),
//! or an OAuth `access_token`, sent as `Authorization: Bearer`; exactly one is configured.
//! `base_url` defaults to `https://api.pipedrive.com`; `https://<company>.pipedrive.com/api`
//! works too. [`Connector::health`] reads `GET /v1/users/me`, the token's own user.
//!
//! # What it fills
//!
//! | Pipedrive field | profile field |
//! |---|---|
//! | `name` (else `first_name` + `last_name`) | `identity.name` |
//! | `email[]` (the primary one first), `primary_email` | `identity.emails` |
//! | `org_name` (else `org_id.name`) | `identity.company` |
//! | `job_title` (where the account has it) | `identity.job_title` |
//! | `picture_id.pictures` (512 px, else 128 px) | `identity.avatar_url` |
//! | `open_deals_count`, `won_deals_count`, `lost_deals_count`, `closed_deals_count`, `activities_count`, `done_activities_count`, `email_messages_count`, `last_activity_date` | `behavior.engagement`, under the same names |
//! | `id`, `owner_name` (else `owner_id.name`), `phone[]` (primary first), `label_ids` (else `label`), `marketing_status`, `next_activity_date`, `add_time`, `update_time` | `extra` (shown as `contextual.pipedrive`) as `person_id`, `owner`, `phones`, `label_ids`, `marketing_status`, `next_activity_date`, `created_at`, `updated_at` |
//!
//! No interests: Pipedrive's labels are ids whose names live in the account's person-field
//! definitions (another call), so they are kept as `label_ids` in `extra`. And no
//! `behavior.purchase_history`: the person record holds deal counts, not deals (their values
//! and dates would take another call per person), so the counts go to `engagement`. Null and
//! empty fields count as absent; `owner_id` and `org_id` may be objects or plain ids.
//!
//! Default confidence 0.8 (a CRM, but persons are often created from a single email thread
//! with little checking), TTL one hour.
//!
//! # How failures map
//!
//! 401, 402 (company account not open) and 403 are `authentication`. A 404 or 410 on the
//! person is `not_found` (deleted between the calls); a 404 on the search or on `/users/me`
//! means `base_url` is wrong: `invalid_config`. A 429 is `rate_limited`, waiting `Retry-After`
//! when sent, else `x-ratelimit-reset` (the seconds left in the current window), else two
//! seconds (the window's length). 5xx is a retryable `connection` error; a body that is not
//! Pipedrive's JSON, or says `success: false` with a 200, is `bad_response`. Under Pipedrive's
//! newer token-based daily budgets a spent budget is also a 429; its headers are not
//! documented, so it is handled as any 429.
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

mod connector;
mod errors;
mod person;
mod settings;
mod stand_in;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::PipedriveConnector;
pub use settings::PipedriveSettings;
pub use stand_in::PipedriveStandIn;

/// The `kind:` that selects this connector in `config.yaml`.
const KIND: &str = "pipedrive";

/// Builds [`PipedriveConnector`]s from their `settings` section; register it with enrichd under
/// the kind `pipedrive`.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipedriveFactory;

impl ConnectorFactory for PipedriveFactory {
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
        Ok(Arc::new(PipedriveConnector::new(settings, metadata())))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(PipedriveStandIn::new()))
    }
}

/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Crm,
        description: "Finds the subject's email among the persons of a Pipedrive company and \
                      maps name, emails, organization, picture, owner and deal and activity \
                      counts."
            .to_owned(),
        capabilities: vec![
            Capability::Identity,
            Capability::Behavior,
            Capability::Contextual,
        ],
        required_identifiers: vec![Identifier::Email],
        config_schema: settings::schema(),
        default_confidence: 0.8,
        default_ttl_seconds: 3600,
    }
}

//! The Gravatar connector of enrichd: looks a subject's email up as a Gravatar profile and
//! maps it into identity (with handles Gravatar verified), location, interests, platforms and
//! profile details.
//!
//! # What it calls
//!
//! `GET {base_url}/v3/profiles/{hash}` with `Accept: application/json` and, when `api_key` is
//! set, `Authorization: Bearer <api_key>`. `hash` is the lower-case hex SHA-256 of the email
//! trimmed and lower-cased (never MD5, which the v3 API does not take); the email itself never
//! leaves enrichd. Anonymous calls get the core profile at 100 requests an hour; with a key,
//! the full profile (interests, languages, links, ...) at 1,000. Every answer carries
//! `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset` (epoch seconds).
//!
//! [`Connector::health`] asks for the profile of an address under `.invalid` (no one can own
//! it): a 404 or a 200 is healthy, a 401 says the key is refused. Gravatar has no free
//! endpoint, so each check costs one request of the hourly allowance: keep the health
//! interval long.
//!
//! # What it fills
//!
//! | Gravatar field | profile field |
//! |---|---|
//! | `display_name` (else `first_name` + `last_name`) | `identity.name` |
//! | `avatar_url`, `description` | `identity.avatar_url`, `identity.bio` |
//! | `company`, `job_title` | `identity.company`, `identity.job_title` |
//! | `verified_accounts` of GitHub, X (`twitter`) and Mastodon | `identity.handles.github`, `.x`, `.mastodon` (below) |
//! | `location` | `demographics.location` |
//! | `interests[].name` (authenticated) | `interests` |
//! | `verified_accounts[].service_type` | `social.platforms`, after `gravatar` (`twitter` as `x`) |
//! | `profile_url`, `avatar_alt_text`, `pronouns`, `pronunciation`, `timezone`, `is_organization`, `registration_date`, `last_profile_edit`, `number_verified_accounts` | `extra` (shown as `contextual.gravatar`) under the same names |
//! | `languages[].name` (primary first, then in order) | `extra.languages` |
//! | `links[]` | `extra.links`: `[{"label", "url"}]` |
//! | `verified_accounts[]` | `extra.verified_accounts`: `[{"service", "label", "url"}]` |
//!
//! Empty strings count as absent (Gravatar sends `""` for unset fields). `company` and
//! `job_title` go to identity, which has fields for them, rather than to `extra`.
//!
//! **Handles** are taken conservatively: only from verified accounts (Gravatar checked that
//! they belong to the owner), only for platforms enrichd has connectors for, and only when the
//! URL has the exact shape of a profile there — `https://github.com/{login}`,
//! `https://x.com/{username}` or `twitter.com/{username}`, `https://{instance}/@{user}` for
//! Mastodon — with a handle those connectors accept. Accounts the owner hides (`is_hidden`) are
//! left out everywhere. The first account of a platform wins.
//!
//! **Not copied**: `contact_info` (phone numbers and a contact email: personal data the caller
//! did not provide), `payments` (payment links, crypto wallets), `gallery` and the `hash`.
//!
//! **Interests** are the names of the profile's `interests` (authenticated answers only),
//! repeats dropped case-insensitively. Gravatar shows no followers, so there are no
//! `social.connections` and no `social.influence`.
//!
//! The default confidence is 0.6 (self-declared, and the email may be shared or stale) and
//! answers stay fresh for a day (86,400 s).
//!
//! # How failures map
//!
//! 404 is `not_found` (no profile for the hash), 401 and 403 `authentication` (a refused API
//! key). A 429 is `rate_limited`, waiting `Retry-After` if present, else until
//! `X-RateLimit-Reset`, else 60 seconds. 5xx is a retryable `connection` error, and a body that
//! is not a profile (not an object with a `hash`) is `bad_response`. Messages carry the status and at most Gravatar's error
//! `code`.
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

mod connector;
mod email_hash;
mod errors;
mod profile;
mod settings;
mod stand_in;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::GravatarConnector;
pub use settings::GravatarSettings;
pub use stand_in::GravatarStandIn;

/// The `kind:` that selects this connector in `config.yaml`.
const KIND: &str = "gravatar";

/// Builds [`GravatarConnector`]s from their `settings` section; register it with enrichd under
/// the kind `gravatar`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GravatarFactory;

impl ConnectorFactory for GravatarFactory {
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
        Ok(Arc::new(GravatarConnector::new(settings, metadata())))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(GravatarStandIn::new()))
    }
}

/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Social,
        description: "Reads the Gravatar profile of the subject's email (by its SHA-256): name, \
                      avatar, bio, job, location, interests and verified accounts."
            .to_owned(),
        capabilities: vec![
            Capability::Identity,
            Capability::Demographics,
            Capability::Interests,
            Capability::Social,
            Capability::Contextual,
        ],
        required_identifiers: vec![Identifier::Email],
        config_schema: settings::schema(),
        default_confidence: 0.6,
        default_ttl_seconds: 86_400,
    }
}

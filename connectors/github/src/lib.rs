//! The GitHub connector of enrichd: looks a subject's GitHub handle up with the public REST API
//! and maps the public profile into identity, location, social reach and activity figures.
//!
//! # What it calls
//!
//! `GET {base_url}/users/{login}` with `Accept: application/vnd.github+json`,
//! `X-GitHub-Api-Version: 2022-11-28`, a `User-Agent` (GitHub refuses requests without one) and,
//! when a token is configured, `Authorization: Bearer <token>` (5,000 requests an hour instead
//! of 60 per IP). [`Connector::health`] calls `GET /rate_limit`, which does not count against
//! the limit.
//!
//! Logins are checked before any call: 1–39 ASCII letters, digits and hyphens. GitHub's
//! sign-up form is stricter (no leading, trailing or doubled hyphen), but grandfathered
//! accounts such as `foo-` or `-Jerry-` exist, so the check only keeps out what cannot be a
//! login at all; such a handle is `not_found` without calling GitHub.
//!
//! # What it fills
//!
//! | GitHub field | profile field |
//! |---|---|
//! | `name`, `avatar_url`, `bio` | `identity.name`, `identity.avatar_url`, `identity.bio` |
//! | `login`, `twitter_username` | `identity.handles.github`, `identity.handles.x` |
//! | `email` (the public one) | `identity.emails` |
//! | `company` (a leading `@` removed) | `identity.company` |
//! | `location` | `demographics.location` |
//! | `followers` | `social.connections`, and `social.influence` (below) |
//! | `public_repos`, `public_gists`, `followers`, `following` | `behavior.engagement.github_*` |
//! | `id`, `html_url`, `blog`, `hireable`, `type`, `created_at` | `extra` (shown as `contextual.github`) as `id`, `profile_url`, `blog`, `hireable`, `account_type`, `created_at` |
//!
//! `social.influence` is `min(1, log10(1 + followers) / 6)`, rounded to three decimals: reach
//! grows with the order of magnitude of the audience, and a million followers is the top of
//! the scale (20 followers → 0.22, 1,000 → 0.5, 100,000 → 0.833).
//!
//! # How failures map
//!
//! 404 is `not_found`, 401 `authentication`. A 403 or 429 is a rate limit when GitHub says so —
//! `retry-after` (secondary limit) is honoured first, then `x-ratelimit-remaining: 0` waits
//! until `x-ratelimit-reset`, and a 429 or a 403 whose message mentions a rate limit without
//! either header waits 60 seconds — and any other 403 is `authentication`. 5xx is a retryable
//! `connection` error and a body that is not a user is `bad_response`.
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

mod connector;
mod errors;
mod login;
mod settings;
mod stand_in;
mod user;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::GitHubConnector;
pub use settings::GitHubSettings;
pub use stand_in::GitHubStandIn;

/// The `kind:` that selects this connector in `config.yaml`, and the handle platform it needs.
const KIND: &str = "github";

/// Builds [`GitHubConnector`]s from their `settings` section; register it with enrichd under the
/// kind `github`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GitHubFactory;

impl ConnectorFactory for GitHubFactory {
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
        Ok(Arc::new(GitHubConnector::new(settings, metadata())))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(GitHubStandIn::new()))
    }
}

/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Social,
        description: "Reads the public GitHub profile of the subject's `github` handle: name, \
                      avatar, bio, company, location, public email, followers and activity."
            .to_owned(),
        capabilities: vec![
            Capability::Identity,
            Capability::Demographics,
            Capability::Social,
            Capability::Behavior,
            Capability::Contextual,
        ],
        required_identifiers: vec![Identifier::Handle(KIND.to_owned())],
        config_schema: settings::schema(),
        default_confidence: 0.8,
        default_ttl_seconds: 86_400,
    }
}

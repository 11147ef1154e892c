//! The X connector of enrichd: looks a subject's X handle up with the API v2 user lookup and
//! maps the public profile into identity, location, interests, social reach and activity
//! figures.
//!
//! # What it calls
//!
//! `GET {base_url}/2/users/by/username/{username}?user.fields=created_at,description,entities,location,profile_image_url,protected,public_metrics,url,verified,verified_type`
//! with `Authorization: Bearer <bearer_token>` and `Accept: application/json`. The fields are
//! exactly the ones mapped below (`id`, `name` and `username` always come back). The lookup
//! counts against the app's allowance of 300 requests per 15 minutes, reported in
//! `x-rate-limit-limit`, `x-rate-limit-remaining` and `x-rate-limit-reset`.
//!
//! The handle may be written with a leading `@`, which is removed; what remains must match
//! X's pattern `^[A-Za-z0-9_]{1,15}$`, else the subject is `not_found` without calling X.
//!
//! [`Connector::health`] looks up `XDevelopers`, X's own developer account: X has no free
//! status endpoint, so every check costs one request of the allowance (and one billed read on
//! pay-per-use plans). Keep the health interval long.
//!
//! # What it fills
//!
//! | X field | profile field |
//! |---|---|
//! | `name`, `profile_image_url`, `description` | `identity.name`, `identity.avatar_url`, `identity.bio` |
//! | `username` | `identity.handles.x` |
//! | `location` | `demographics.location` |
//! | `public_metrics.followers_count` | `social.connections`, and `social.influence` (below) |
//! | `public_metrics.followers_count`, `following_count`, `tweet_count`, `listed_count` (and `like_count`, `media_count` when sent) | `behavior.engagement.x_followers`, `x_following`, `x_tweets`, `x_listed`, `x_likes`, `x_media` |
//! | `id`, `created_at`, `verified`, `verified_type`, `protected` | `extra` (shown as `contextual.x`) under the same names |
//! | `entities.url.urls[].expanded_url` (else the t.co `url`) | `extra.website` |
//! | `username` | `extra.profile_url` (`https://x.com/{username}`) |
//!
//! `social.platforms` is `["x"]`.
//!
//! **Interests** are the hashtags of the bio: `entities.description.hashtags[].tag` when X sends
//! that list, else the `#words` of the description found as X would link them (a `#` not inside
//! a word, followed by letters, digits or `_`, not digits only). Repeats are dropped
//! case-insensitively, keeping the first spelling.
//!
//! **Influence** is `min(1, log10(1 + followers) / 7 + min(0.1, log10(1 + listed_count) / 50))`,
//! rounded to three decimals: the order of magnitude of the audience (ten million followers is
//! the top of the scale) plus up to 0.1 for being on many lists, which says others curate the
//! account as a source (9 followers and no list → 0.143; 999 followers and 99 lists → 0.469;
//! X Developers' 583,423 followers and 1,672 lists → 0.888; ten million followers → 1).
//!
//! The default confidence is 0.75 (self-declared profile data, under a handle the caller
//! supplied) and answers stay fresh for a day (86,400 s).
//!
//! # How failures map
//!
//! - 404 is `not_found`. So is an HTTP 200 without `data` whose `errors` hold a problem titled
//!   `Not Found Error` or typed `resource-not-found` (X documents 404, but has been seen
//!   answering this way), or any problem about the user resource, such as a suspended account:
//!   the account cannot be enriched, and enrichd caches the miss. A 200 without `data` and with
//!   other problems is `bad_response`; problems beside a `data` are ignored.
//! - 401 and 403 are `authentication`.
//! - A 429 whose problem `type` is `.../2/problems/usage-capped` is `quota_exceeded`, not
//!   retryable, with a wait of an hour (the cap lasts until the billing period rolls over,
//!   which no header tells). Any other 429 is `rate_limited`, waiting `Retry-After` if present,
//!   else until `x-rate-limit-reset` (epoch seconds), else 60 seconds. X's two known 429 bodies
//!   are not told apart.
//! - 5xx is a retryable `connection` error; a body that is not a lookup answer is
//!   `bad_response`.
//!
//! Messages carry the status and at most X's problem kind (`usage-capped`); X's `detail`
//! quotes the username and is never copied.
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

mod connector;
mod errors;
mod settings;
mod stand_in;
mod user;
mod username;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::XConnector;
pub use settings::XSettings;
pub use stand_in::XStandIn;

/// The `kind:` that selects this connector in `config.yaml`, and the handle platform it needs.
const KIND: &str = "x";

/// Builds [`XConnector`]s from their `settings` section; register it with enrichd under the
/// kind `x`.
#[derive(Debug, Clone, Copy, Default)]
pub struct XFactory;

impl ConnectorFactory for XFactory {
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
        Ok(Arc::new(XConnector::new(settings, metadata())))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(XStandIn::new()))
    }
}

/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Social,
        description: "Reads the public X profile of the subject's `x` handle (API v2): name, \
                      avatar, bio, location, bio hashtags, followers and activity."
            .to_owned(),
        capabilities: vec![
            Capability::Identity,
            Capability::Demographics,
            Capability::Interests,
            Capability::Social,
            Capability::Behavior,
            Capability::Contextual,
        ],
        required_identifiers: vec![Identifier::Handle(KIND.to_owned())],
        config_schema: settings::schema(),
        default_confidence: 0.75,
        default_ttl_seconds: 86_400,
    }
}

//! The Mastodon connector of enrichd: looks a subject's Mastodon handle (`user@instance`) up on
//! that instance and maps the account into identity, interests, social reach, the instance as
//! a community, and activity figures.
//!
//! # What it calls
//!
//! `GET https://{instance}/api/v1/accounts/lookup?acct={user}` (Mastodon 3.4 or later), with
//! `Accept: application/json` and, when `access_token` is set, `Authorization: Bearer`.
//! Lookups are public on most instances. The handle may start with `@`; the user must be 1–30
//! ASCII letters, digits or underscores, else the subject is `not_found` without any call.
//!
//! **Which instances it calls.** The instance comes from the caller, so the connector guards
//! against server-side request forgery with the SDK's [`enrichd_sdk::hosts`], which reads the
//! instance exactly as the request's URL will (`127.0.0.0x1` and `2130706433` are
//! `127.0.0.1`; internationalised names become punycode). With an `instances_allowed` list,
//! only the listed hosts are called, compared after that normalisation. Without one, only a
//! public host name is ([`hosts::caller_host`](enrichd_sdk::hosts::caller_host)): IP addresses
//! in any form, `localhost`, names without a dot, special-use or private top-level names
//! (`.local`, `.internal`, `.arpa`, `.lan`, ...) and anything but a bare host (a port, a path,
//! user info) are refused as `not_found` without a call, with one message whatever the reason,
//! and the connection itself only goes to public addresses (a resolver drops loopback,
//! private, link-local and other internal addresses, so `127.0.0.1.nip.io` fails to connect).
//! Direct calls never follow redirects (a 3xx is `bad_response`). An HTTP proxy configured in
//! the environment resolves names itself; it is then the egress control.
//!
//! **Failures of a direct call are the subject's.** Without a `base_url` the caller chose the
//! server, so every error of a lookup is marked
//! [subject-caused](enrichd_sdk::ConnectorError::subject_caused) and is not retried: enrichd
//! neither opens the connector's circuit for it nor makes other subjects wait out its
//! `Retry-After`. An instance that cannot be reached (no such name, no public address, refused
//! connection, TLS failure, timeout) is one `connection` error with one message,
//! [`hosts::unreachable_host`](enrichd_sdk::hosts::unreachable_host), so that the outcome
//! tells a caller nothing about the network behind it.
//!
//! **`base_url`**, when set, replaces `https://{instance}` for every lookup, which then asks for
//! `acct=user@instance` (Mastodon resolves that for its own and for known remote accounts).
//! It is meant for tests, `enrichd demo` and a deployment that trusts one instance; the
//! instance checks above still apply to the handle, and failures count as the server's own.
//!
//! **Health** ([`Connector::health`]): with a `base_url`, `GET /api/v1/apps/verify_credentials`
//! when a token is set (proves the token too), else `GET /api/v2/instance` (Mastodon 4.0 or
//! later). Without one there is no single upstream to check, and the connector reports healthy.
//!
//! # What it fills
//!
//! | Mastodon field | profile field |
//! |---|---|
//! | `display_name` (else `username`) | `identity.name` |
//! | `acct`, as `user@instance` (the domain added for local accounts, lower-cased) | `identity.handles.mastodon` |
//! | `avatar` (not Mastodon's `missing.png` placeholder) | `identity.avatar_url` |
//! | `note`, HTML turned into plain text | `identity.bio` |
//! | `followers_count` | `social.connections`, and `social.influence` (below) |
//! | the account's home instance | `social.communities` |
//! | `followers_count`, `following_count`, `statuses_count` | `behavior.engagement.mastodon_followers`, `mastodon_following`, `mastodon_statuses` |
//! | `id`, `url`, `created_at`, `last_status_at`, `bot`, `locked` | `extra` (shown as `contextual.mastodon`) as `id`, `profile_url`, `created_at`, `last_status_at`, `bot`, `locked` |
//! | `fields` (values turned into plain text) | `extra.fields`: `[{"name", "value", "verified_at"?}]` |
//! | `moved.acct` | `extra.moved_to` |
//!
//! `social.platforms` is `["mastodon"]`. Plain text means: tags dropped, `<br>` a line break,
//! paragraphs separated by a blank line, basic and numeric HTML entities decoded. Negative
//! counters (seen on some remote accounts) count as unknown.
//!
//! **Interests** are the hashtags linked in the note (`<a class="mention hashtag">#tag</a>` or
//! `rel="tag"`), without the `#`, first spelling kept, no repeats.
//!
//! **Influence** is `min(1, log10(1 + followers) / 6)`, rounded to three decimals, as for
//! GitHub: each order of magnitude of the audience adds a sixth, and a million followers is the
//! top (553 → 0.457, Gargron's 318,699 → 0.917).
//!
//! The default confidence is 0.7 (self-declared profile data, on an instance the caller named)
//! and answers stay fresh for a day (86,400 s).
//!
//! # How failures map
//!
//! 404 (`{"error":"Record not found"}`) and 410 are `not_found`, and so is an account returned
//! with `suspended: true` (Mastodon 3.3+ answers that instead of 410; the profile is emptied
//! and must not be enriched). 401 and 403 are `authentication`. A 429 is `rate_limited`,
//! waiting `Retry-After` if present, else until `X-RateLimit-Reset` (ISO 8601 as Mastodon sends
//! it, any offset, or epoch seconds), else 60 seconds. 5xx is a retryable `connection` error,
//! and a body that is not an account is `bad_response`; without a `base_url`, each of these is
//! also subject-caused (above). Messages name the status only, never the handle or the
//! instance.
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

mod account;
mod connector;
mod errors;
mod handle;
mod html;
mod settings;
mod stand_in;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::MastodonConnector;
pub use settings::MastodonSettings;
pub use stand_in::MastodonStandIn;

/// The `kind:` that selects this connector in `config.yaml`, and the handle platform it needs.
const KIND: &str = "mastodon";

/// Builds [`MastodonConnector`]s from their `settings` section; register it with enrichd under
/// the kind `mastodon`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MastodonFactory;

impl ConnectorFactory for MastodonFactory {
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
        Ok(Arc::new(MastodonConnector::new(settings, metadata())?))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(MastodonStandIn::new()))
    }
}

/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Social,
        description: "Looks the subject's `mastodon` handle (user@instance) up on that instance: \
                      name, avatar, bio, hashtags, followers, instance and activity."
            .to_owned(),
        capabilities: vec![
            Capability::Identity,
            Capability::Interests,
            Capability::Social,
            Capability::Behavior,
            Capability::Contextual,
        ],
        required_identifiers: vec![Identifier::Handle(KIND.to_owned())],
        config_schema: settings::schema(),
        default_confidence: 0.7,
        default_ttl_seconds: 86_400,
    }
}

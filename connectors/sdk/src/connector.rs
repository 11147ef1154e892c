//! The plugin interface: the [`Connector`] trait, its metadata and the factory enrichd builds it with.

use std::{fmt, sync::Arc};

use serde::{Deserialize, Serialize};

use crate::{
    ConfigSchema, ConnectorError, EnrichContext, Enrichment, SettingsIssue, Subject,
    stand_in::StandIn,
};

/// One upstream source of profile data (a CRM, a social network, ...).
///
/// enrichd holds connectors as `Arc<dyn Connector>` and calls them from many requests at once,
/// so an implementation must be cheap to share: keep per-request state on the stack, and
/// long-lived state (settings, derived URLs) immutable.
#[async_trait::async_trait]
pub trait Connector: Send + Sync {
    /// What this connector is and needs. Called often: return a stored value.
    fn metadata(&self) -> &ConnectorMetadata;

    /// Look the subject up upstream and map the answer into an [`Enrichment`].
    ///
    /// Called only when the subject carries every identifier of
    /// [`ConnectorMetadata::required_identifiers`]. Respect `ctx.remaining()`: enrichd drops the
    /// call at the deadline anyway, but a request timeout set from it frees the connection
    /// sooner. Report "this person is unknown upstream" as [`crate::ErrorCode::NotFound`], never
    /// as an empty enrichment, so that enrichd can tell unknown from known-but-empty.
    async fn enrich(
        &self,
        subject: &Subject,
        ctx: &EnrichContext,
    ) -> Result<Enrichment, ConnectorError>;

    /// A cheap check that the upstream is reachable and the credentials are accepted.
    ///
    /// Called by enrichd's background health checker, never on the request path. The default
    /// says healthy; override it when the upstream offers a cheap authenticated call.
    async fn health(&self, _ctx: &EnrichContext) -> Result<(), ConnectorError> {
        Ok(())
    }

    /// Release resources. Called once, after the last request on this instance has finished,
    /// when the connector is disabled, reloaded, or the process exits.
    async fn shutdown(&self) {}
}

/// Builds connectors of one kind from their `settings` section in `config.yaml`.
///
/// enrichd keeps one factory per kind in its registry (one line per connector crate) and calls
/// [`build`](Self::build) at start-up and on every reload.
pub trait ConnectorFactory: Send + Sync {
    /// The `kind:` value in `config.yaml` that selects this factory, e.g. `"hubspot"`.
    fn kind(&self) -> &'static str;

    /// Metadata of connectors of this kind, available without building one (listing, docs).
    fn metadata(&self) -> ConnectorMetadata;

    /// Build a connector from its `settings` section. Must not touch the network: a bad
    /// setting is reported here, every one of them, with the key it concerns.
    fn build(&self, settings: &serde_json::Value)
    -> Result<Arc<dyn Connector>, Vec<SettingsIssue>>;

    /// Check settings without keeping the connector (used by `enrichd check-config`).
    fn validate(&self, settings: &serde_json::Value) -> Vec<SettingsIssue> {
        self.build(settings).err().unwrap_or_default()
    }

    /// A local stand-in of the upstream API for `enrichd demo`, answering like the real one.
    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        None
    }
}

/// Static description of a connector, as listed by `GET /v1/connectors`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ConnectorMetadata {
    /// The connector's own name (`"hubspot"`); enrichd shows it beside the configured name.
    pub name: String,
    /// Semantic version of the connector's implementation.
    pub version: String,
    /// What kind of source this is.
    pub category: Category,
    /// One sentence for operators.
    pub description: String,
    /// Which profile sections it may fill.
    pub capabilities: Vec<Capability>,
    /// The subject identifiers it needs; without all of them it is `skipped`, not called.
    pub required_identifiers: Vec<Identifier>,
    /// Its `settings` keys, with the sensitive ones marked (they are shown as `"***"`).
    pub config_schema: ConfigSchema,
    /// Confidence of its answers when `config.yaml` sets none (0..=1).
    pub default_confidence: f64,
    /// How long its answers stay fresh when `config.yaml` sets no `ttl_seconds`.
    pub default_ttl_seconds: u64,
}

/// The category of a connector.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Customer-relationship management systems (HubSpot, Salesforce, Pipedrive).
    Crm,
    /// Social networks and public profiles (GitHub, X, Mastodon, Gravatar).
    Social,
    /// Anything else (internal APIs, data vendors).
    Other,
}

/// A section of the profile a connector can fill.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    Identity,
    Demographics,
    Interests,
    Social,
    Behavior,
    Contextual,
}

/// A subject identifier a connector may require.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Identifier {
    UserId,
    Email,
    Phone,
    /// A social handle, by platform: `Handle("github")` is `handles.github` in the request.
    Handle(String),
}

impl Identifier {
    /// Parse the form used in requests, configs and manifests: `email`, `handles.github`, ...
    pub fn parse(text: &str) -> Option<Identifier> {
        match text {
            "user_id" => Some(Identifier::UserId),
            "email" => Some(Identifier::Email),
            "phone" => Some(Identifier::Phone),
            _ => {
                let platform = text.strip_prefix("handles.")?;
                let valid = !platform.is_empty()
                    && platform.len() <= 32
                    && platform
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                valid.then(|| Identifier::Handle(platform.to_owned()))
            }
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identifier::UserId => f.write_str("user_id"),
            Identifier::Email => f.write_str("email"),
            Identifier::Phone => f.write_str("phone"),
            Identifier::Handle(platform) => write!(f, "handles.{platform}"),
        }
    }
}

impl Serialize for Identifier {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Identifier {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Identifier::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown identifier `{text}`, expected `user_id`, `email`, `phone` or `handles.<platform>`"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip_through_their_text_form() {
        for text in ["user_id", "email", "phone", "handles.github", "handles.x"] {
            let id = Identifier::parse(text).unwrap();
            assert_eq!(id.to_string(), text);
        }
    }

    #[test]
    fn malformed_identifiers_are_refused() {
        for text in ["", "Email", "handles.", "handles.Git Hub", "twitter"] {
            assert_eq!(Identifier::parse(text), None, "{text}");
        }
    }
}

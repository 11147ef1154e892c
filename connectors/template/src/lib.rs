//! A copyable, working connector for a fictional people API ("Acme People"): the starting point
//! of a new connector. `connectors/README.md` walks through it; the `STEP n` comments say what
//! to change. It is a workspace member (so it is built and tested) but not registered in
//! enrichd.
//!
//! # What it calls
//!
//! `GET {base_url}/v1/people?email=<email>` with `Authorization: Bearer <api_key>`, answered
//! with `{"person": {...}}`, or a 404 when the email is unknown. [`Connector::health`] calls
//! `GET {base_url}/v1/me`.
//!
//! # What it fills
//!
//! | Acme field | profile field |
//! |---|---|
//! | `full_name`, `email`, `company`, `title` | `identity.name`, `identity.emails`, `identity.company`, `identity.job_title` |
//! | `city`, `country` | `demographics.city`, `demographics.country` |
//! | `interests` | `interests`, as they are |
//! | `score` | `behavior.engagement.acme_score` |
//! | `id`, `created_at` | `extra` (shown as `contextual.template`) as `person_id`, `created_at` |
//!
//! Default confidence 0.7, TTL one day.
//!
//! # How failures map
//!
//! 401/403 `authentication`, 404 `not_found`, 429 `rate_limited` (waiting `Retry-After`, else
//! 60 s), 5xx retryable `connection`, a body that is not a person `bad_response`.
//!
//! [`Connector::health`]: enrichd_sdk::Connector::health

// STEP 1: rename. Copy this folder and rename the crate (`enrichd-acme`), `KIND` below and the
// `Template*` types (`TemplateFactory` → `AcmeFactory`, ...): `connectors/README.md` has the
// exact commands. Rewrite the crate doc above for your upstream: what it calls, the field
// table, how interests are derived, the default confidence and TTL, how failures map. Then add
// the crate to the root Cargo.toml and register the factory with one line in
// `src/connectors/mod.rs` (`Factories::builtin()`).

mod connector;
mod person;
mod settings;
mod stand_in;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::TemplateConnector;
pub use settings::TemplateSettings;
pub use stand_in::TemplateStandIn;

/// The `kind:` that selects this connector in `config.yaml` (lower case, unique).
const KIND: &str = "template";

/// Builds [`TemplateConnector`]s from their `settings` section; register it with enrichd under
/// the kind `template`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TemplateFactory;

// STEP 4: the factory. Usually nothing to change: `build` parses the settings (reporting every
// problem, with no network call) and wraps them in the connector; `stand_in` offers the local
// imitation `enrichd demo` serves.
impl ConnectorFactory for TemplateFactory {
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
        Ok(Arc::new(TemplateConnector::new(settings, metadata())))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(TemplateStandIn))
    }
}

// STEP 3: the metadata. `required_identifiers` decides when enrichd calls you at all (a
// subject without them is `skipped`); `capabilities` lists the sections you fill; the default
// confidence (0..=1) weighs your scalars against other sources' when profiles merge, and the
// TTL caps how long your answers are cached.
/// The description enrichd lists for this connector; the factory and every built connector
/// return the same value.
fn metadata() -> ConnectorMetadata {
    ConnectorMetadata {
        name: KIND.to_owned(),
        version: "1.0.0".to_owned(),
        category: Category::Other,
        description: "Looks the subject's email up in the Acme People API (a template to copy)."
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
        default_confidence: 0.7,
        default_ttl_seconds: 86_400,
    }
}

//! The connector SDK of enrichd: everything a connector author needs, and nothing else.
//!
//! # Where a connector sits
//!
//! A caller sends enrichd a [`Subject`] (a user id plus whatever identifiers it knows: email,
//! phone, social handles). For every enabled connector whose [required
//! identifiers](ConnectorMetadata::required_identifiers) the subject carries, enrichd calls
//! [`Connector::enrich`] — all connectors concurrently, each under its own timeout and the
//! request's overall deadline (see [`EnrichContext`]). Each connector answers with an
//! [`Enrichment`] (the profile sections it could fill) or a [`ConnectorError`]. enrichd then
//! merges every answer into one profile, recording for each field which connector supplied it
//! and with what confidence, caches it and answers the caller.
//!
//! A connector therefore only has to: turn a subject into one or a few upstream HTTP calls,
//! map the upstream's answer into an [`Enrichment`], and map the upstream's failures into the
//! right [`ErrorCode`]. Retries, timeouts, rate limits, caching and merging are enrichd's job.
//!
//! # Writing one
//!
//! A connector is a crate under `connectors/` with a settings type (validated with
//! [`parse_settings`]), a type implementing [`Connector`], and a [`ConnectorFactory`] that
//! enrichd registers with one line. The [`http`] module holds the helpers that make a connector
//! behave like every other one towards its upstream (size caps, status mapping, error messages,
//! rate-limit waits); [`hosts`] decides whether a host the subject names may be called, and
//! calls it so that its failures count against the subject, not the connector; [`text`] reads
//! upstream fields the same way everywhere (trimmed, blank is absent, repeats dropped) and
//! [`scores`] turns counts into comparable 0..=1 scores; [`quota`] reads an upstream's rate-limit
//! headers so that enrichd can stop calling it when its allowance is spent. Settings checks share
//! [`check_base_url`], [`optional_secret`], [`require_secret`] and [`finish_settings`].
//! Enable the `testkit` feature in `dev-dependencies` for [`testkit`] helpers.

mod connector;
mod context;
mod enrichment;
mod error;
pub mod hosts;
pub mod http;
mod profile;
pub mod quota;
pub mod scores;
mod settings;
pub mod stand_in;
mod subject;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod text;

pub use connector::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
};
pub use context::{EnrichContext, QuotaSlot};
pub use enrichment::{Enrichment, insert_present};
pub use error::{ConnectorError, ErrorCode};
pub use profile::{Behavior, Demographics, Identity, Social};
pub use settings::{
    ConfigProperty, ConfigSchema, PropertyType, Secret, SettingsIssue, check_base_url,
    finish_settings, optional_secret, parse_settings, require_secret,
};
pub use subject::Subject;

/// Re-exported so that connectors implement the trait with the same macro version as enrichd.
pub use async_trait::async_trait;

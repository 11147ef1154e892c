//! The declarative connector of enrichd (kind `http`): connectors that need no Rust code, each
//! described by a manifest — the call to make for a subject, when the answer means "not
//! found", where each value of the answer goes in the profile, and the hosts it may call.
//!
//! # The manifest
//!
//! enrichd hands the manifest over as the connector's `settings`, whether it is written inline
//! in `config.yaml` or is a file in `connectors_dir` (enrichd takes out the generic keys —
//! `enabled`, `timeout_ms`, `confidence`, `ttl_seconds`, `retry`, `rate_limit`,
//! `circuit_breaker`, `max_response_bytes` — and replaces `${ENV}` placeholders first).
//! `examples/acme-people.yaml` is a complete, commented one; every key is documented on
//! [`HttpManifest`].
//!
//! ```yaml
//! name: acme-people                 # optional, a-z 0-9 _ -; names the upstream in messages
//! description: "People API of ACME" # optional
//! version: "1.0.0"                  # optional, MAJOR.MINOR.PATCH
//! category: other                   # crm | social | other (default)
//! requires: [email]                 # email, phone, user_id, handles.<platform>
//! allowed_hosts: [api.acme.example, "*.acme.example"]
//! base_url: https://api.acme.example   # optional: then the URLs below are paths
//! request:
//!   method: GET                     # GET (default) or POST
//!   url: "/v1/people?email={email}&uid={user_id}"
//!   headers: {Authorization: "Bearer ${ACME_TOKEN}", Accept: application/json}
//!   body: {"lookup": {"email": "{email}"}}   # POST only
//! not_found:
//!   statuses: [404]                 # the default
//!   when_missing: /person
//!   when_equals: {pointer: /status, value: no_match}
//! mapping:
//!   identity.name: /person/full_name
//!   contextual.plan: /person/plan
//! health: {url: /v1/status, expect_status: 200}
//! ```
//!
//! Building a connector validates all of it without touching the network and reports every
//! problem at once, each with its key path in the manifest (`request.url`,
//! `mapping.identity.nme`, `allowed_hosts[1]`, `not_found.when_missing`) and an example of a
//! right value.
//!
//! # What it calls
//!
//! One request per subject: `request.method` to `request.url` (absolute, or a path under
//! `base_url` — one or the other, never both), with `request.headers` and, for POST,
//! `request.body` as JSON (`Content-Type: application/json` unless the headers set one) and a
//! `User-Agent: enrichd/<version> (declarative)` unless the headers set one.
//!
//! Placeholders `{email}`, `{phone}`, `{user_id}` and `{handles.<platform>}` are filled from
//! the subject:
//!
//! - in the URL, only in the path and the query (never the scheme, host or port: refused at
//!   build time), each value percent-encoded down to RFC 3986's unreserved characters, so
//!   `a/../../admin?x=1#` or `@evil.example` stays inside its segment or query value;
//!   a value that is `.` or `..` as a whole path segment (which URL parsing resolves even
//!   encoded) is refused and the upstream not called;
//! - in header values, as they are when printable ASCII, else percent-encoded (`%` too); a
//!   value holding CR, LF or NUL is refused;
//! - in the body's strings, inserted as JSON strings (escaped by construction).
//!
//! Every placeholder but `{user_id}` (every subject has one) must be listed in `requires`, or
//! the call could be made without its value. A placeholder-shaped `{word}` must name a known
//! identifier; other braces (`{ name }`) are plain text.
//!
//! # Which hosts it may call
//!
//! `allowed_hosts` lists exact hosts (`api.acme.example`, any port), hosts with a port
//! (`127.0.0.1:4010`: that port only, the URL's port or its scheme's default) and `*.domain`
//! wildcards (subdomains only, at least two labels: `*.com` is refused). The request and health
//! URLs (and `base_url`) must match at build time, and every redirect must match too: the
//! connector has its own HTTP client whose redirect policy follows a hop only when it is
//! `http(s)`, does not downgrade `https` to `http`, goes to an allowed host and is at most the
//! 5th. A refused redirect is not followed; its 3xx is reported as `bad_response`. No
//! manifest can make enrichd call anything else.
//!
//! # What it fills
//!
//! `mapping` maps profile fields to JSON pointers (RFC 6901) into the response. A pointer that
//! finds nothing or null fills nothing; a value of the wrong shape is skipped on its own and
//! never fails the answer. The profile is assembled as JSON and deserialized into an
//! [`Enrichment`](enrichd_sdk::Enrichment), so it is always valid.
//!
//! | profile field | takes |
//! |---|---|
//! | `identity.name`, `.avatar_url`, `.bio`, `.company`, `.job_title`, `identity.handles.<platform>`, `demographics.gender`, `.location`, `.country`, `.city`, `.education`, `.occupation` | a string (trimmed; empty is nothing), a number as its text, a boolean as `true`/`false` |
//! | `identity.emails`, `interests`, `social.platforms`, `social.communities`, `behavior.preferred_channels` | an array of such scalars (others skipped, repeats ignoring case dropped), or one scalar |
//! | `demographics.age` | a whole number 0–150, or a string holding one |
//! | `social.connections` | a whole non-negative number (`1200`, `1200.0`, `"1200"`) |
//! | `social.influence` | a number 0–1, or a string holding one |
//! | `behavior.engagement.<key>` | a number, or a string holding one (kept as a number) |
//! | `behavior.purchase_history` | an array's non-null items as they are, or one value |
//! | `contextual.<key>` | any non-null value as it is (shown under `contextual.<connector>`) |
//!
//! Interests are exactly what the `interests` pointer finds: nothing is derived.
//!
//! # Not found
//!
//! A status listed in `not_found.statuses` (default `[404]`) is `not_found` whatever the body;
//! so is a 2xx whose value at `when_missing` is absent, null or an empty array, or whose value
//! at `when_equals.pointer` equals `when_equals.value`. A 2xx that matches no rule is mapped,
//! even when nothing maps: the manifest's rules are what tell a miss.
//!
//! # How failures map
//!
//! - listed not-found statuses and rules → `not_found`;
//! - 401, 403 → `authentication`; 408 → `timeout`; 429 → `rate_limited` with `Retry-After`
//!   (seconds or HTTP date); 5xx → retryable `connection`, with `Retry-After` when sent;
//! - a 404 or 410 the manifest does not list → `bad_response` (the manifest says what a miss
//!   looks like, so an unlisted 404 is a wrong URL); a refused redirect → `bad_response`; any
//!   other status → `bad_response`;
//! - a 2xx body that is not JSON → `bad_response`; a body over the size cap → `bad_response`;
//!   no answer by the deadline → `timeout`;
//! - a subject identifier that cannot be sent (absent, empty, a `..` segment, a line break in
//!   a header) → `not_found`, without calling the upstream.
//!
//! Messages name the upstream by the manifest's `name` ("HTTP 503 from acme-people") and never
//! quote the URL, a header or a body.
//!
//! # Metadata, defaults and secrets
//!
//! A built connector describes itself from its manifest: `name` (default `http`),
//! `description` (default: one naming the host), `version`, `category`, the capabilities of
//! the sections its mapping fills, and `requires` as its required identifiers. Confidence and
//! TTL come from `config.yaml`; without them a declarative connector's answers have confidence
//! 0.5 (nothing is known about the source) and stay fresh for an hour.
//!
//! The config schema marks `request` and `health` sensitive as a whole, so that admin output
//! shows them as `"***"`: the SDK redacts top-level keys only, and besides the headers, a URL
//! or body may carry a credential (an API key in a query).
//!
//! # Stand-in
//!
//! [`HttpFactory::stand_in`] serves ACME's People API of the example manifest: `GET
//! /v1/people?email=` knows `bcooper@biglytics.net` (case-insensitively) and answers 200
//! `no_match` for other emails; `GET /v1/status` answers the health check; a token other than
//! `demo-http-token` gets a 401. Its settings are the example manifest with `base_url` and
//! `allowed_hosts` pointed at the stand-in and the demo token in `Authorization`.

mod body;
mod connector;
mod hosts;
mod manifest;
mod mapping;
mod responses;
mod stand_in;
mod template;
mod url_template;
mod validate;

use std::sync::Arc;

use enrichd_sdk::{
    Capability, Category, Connector, ConnectorFactory, ConnectorMetadata, Identifier,
    SettingsIssue, stand_in::StandIn,
};

pub use connector::HttpConnector;
pub use manifest::{EqualsRule, HealthSection, HttpManifest, NotFoundSection, RequestTemplate};
pub use stand_in::{EXAMPLE_MANIFEST, HttpStandIn};

/// The `kind:` that selects this connector in `config.yaml`, and the name of a manifest
/// without one.
const KIND: &str = "http";
/// The version of the connector kind, which is also the version of a manifest that names none.
const VERSION: &str = manifest::DEFAULT_VERSION;
/// Confidence of a declarative connector's answers when `config.yaml` sets none.
const DEFAULT_CONFIDENCE: f64 = 0.5;
/// Freshness of its answers when `config.yaml` sets no `ttl_seconds`.
const DEFAULT_TTL_SECONDS: u64 = 3600;

/// Builds [`HttpConnector`]s from their manifest; register it with enrichd under the kind
/// `http`.
#[derive(Debug, Clone, Copy, Default)]
pub struct HttpFactory;

impl ConnectorFactory for HttpFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    /// The kind's own description; a built connector describes itself from its manifest.
    fn metadata(&self) -> ConnectorMetadata {
        ConnectorMetadata {
            name: KIND.to_owned(),
            version: VERSION.to_owned(),
            category: Category::Other,
            description: "Declarative connector: calls the HTTP API a manifest describes and \
                          maps JSON pointers of its answer into the profile."
                .to_owned(),
            capabilities: vec![
                Capability::Identity,
                Capability::Demographics,
                Capability::Interests,
                Capability::Social,
                Capability::Behavior,
                Capability::Contextual,
            ],
            // The least a manifest can need; each one lists its own in `requires`.
            required_identifiers: vec![Identifier::UserId],
            config_schema: manifest::schema(),
            default_confidence: DEFAULT_CONFIDENCE,
            default_ttl_seconds: DEFAULT_TTL_SECONDS,
        }
    }

    fn build(
        &self,
        settings: &serde_json::Value,
    ) -> Result<Arc<dyn Connector>, Vec<SettingsIssue>> {
        let manifest = validate::manifest(settings)?;
        let metadata = metadata(&manifest);
        let connector = HttpConnector::new(manifest, metadata).map_err(|issue| vec![issue])?;
        Ok(Arc::new(connector))
    }

    fn stand_in(&self) -> Option<Arc<dyn StandIn>> {
        Some(Arc::new(HttpStandIn::new()))
    }
}

/// What a built connector lists: its manifest's description of itself.
fn metadata(manifest: &validate::ValidManifest) -> ConnectorMetadata {
    let description = manifest.description.clone().unwrap_or_else(|| {
        format!(
            "Declarative connector calling {} (its manifest has no description).",
            manifest.host
        )
    });
    ConnectorMetadata {
        name: manifest.name.clone().unwrap_or_else(|| KIND.to_owned()),
        version: manifest.version.clone(),
        category: manifest.category,
        description,
        capabilities: manifest.mapping.capabilities(),
        required_identifiers: manifest.requires.clone(),
        ..HttpFactory.metadata()
    }
}

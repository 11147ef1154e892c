//! The manifest of a declarative connector, as written under `settings:` in `config.yaml` or
//! as a file in `connectors_dir` (the generic keys — `enabled`, `timeout_ms`, `confidence`,
//! `ttl_seconds`, `retry`, `rate_limit`, `circuit_breaker`, `max_response_bytes` — are taken
//! out by enrichd first, and `${ENV}` placeholders are already replaced).
//!
//! This is only the shape; [`crate::validate`] checks the content.

use std::collections::BTreeMap;

use enrichd_sdk::{Category, ConfigProperty, ConfigSchema, PropertyType, Secret};
use serde::Deserialize;
use serde_json::Value;

/// The version a manifest has when it names none.
pub(crate) const DEFAULT_VERSION: &str = "1.0.0";
/// The statuses that mean "not found" when a manifest names none.
pub(crate) const DEFAULT_NOT_FOUND_STATUSES: &[u16] = &[404];

/// A declarative connector: which API to call for a subject, how, and where its answer goes
/// in the profile.
///
/// Keys that must be present (`requires`, `allowed_hosts`, `request`, `mapping`) default to
/// empty here so that every missing one is reported at once by the validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpManifest {
    /// The connector's own name in its metadata and error messages (`acme-people`): 1-64 of
    /// `a-z`, `0-9`, `_`, `-`. Defaults to `http`.
    #[serde(default)]
    pub name: Option<String>,
    /// One sentence for operators, shown in `GET /v1/connectors`. Defaults to one naming the
    /// API's host.
    #[serde(default)]
    pub description: Option<String>,
    /// The manifest's own version, `MAJOR.MINOR.PATCH`. Defaults to `1.0.0`.
    #[serde(default)]
    pub version: Option<String>,
    /// `crm`, `social` or `other` (the default).
    #[serde(default)]
    pub category: Option<Category>,
    /// The subject identifiers the call needs (`email`, `phone`, `user_id`,
    /// `handles.<platform>`); a subject without one of them is skipped, not called. Every
    /// placeholder but `{user_id}` (which every subject has) must be listed. Required.
    #[serde(default)]
    pub requires: Vec<String>,
    /// The only hosts the connector may call, its redirects included: `api.acme.example`,
    /// `api.acme.example:8443` (that port only) or `*.acme.example` (any subdomain). Required.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The API root, when `request.url` and `health.url` are written as paths
    /// (`/v1/people?email={email}`); tests and `enrichd demo` point it at a local server. Its
    /// host must be allowed too.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The call made for each subject. Required.
    #[serde(default)]
    pub request: Option<RequestTemplate>,
    /// When an answer means "the upstream does not know this person". Defaults to HTTP 404.
    #[serde(default)]
    pub not_found: Option<NotFoundSection>,
    /// Profile field → JSON pointer (RFC 6901) into the response, e.g.
    /// `identity.name: /person/full_name`. Required, at least one field.
    #[serde(default)]
    pub mapping: BTreeMap<String, String>,
    /// A cheap call proving the API is reachable and the credentials accepted. Without it the
    /// connector reports healthy.
    #[serde(default)]
    pub health: Option<HealthSection>,
    /// The rate-limit headers saying how much of the API's allowance is left (enrichd stops
    /// calling it at 0, until the reset). Without it no quota is read.
    #[serde(default)]
    pub quota: Option<QuotaSection>,
}

/// `quota:` — the headers of the API's allowance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaSection {
    /// The header with the calls (or credits) left, e.g. `x-ratelimit-remaining`. Required.
    #[serde(default)]
    pub remaining: String,
    /// The header saying when the allowance comes back, if the API sends one.
    #[serde(default)]
    pub reset: Option<String>,
    /// How `reset` is written: `epoch_seconds` (the default), `seconds_left` or `timestamp`
    /// (RFC 3339, or epoch seconds).
    #[serde(default)]
    pub reset_format: ResetFormat,
}

/// `quota.reset_format:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResetFormat {
    #[default]
    EpochSeconds,
    SecondsLeft,
    Timestamp,
}

/// `request:` — the HTTP call for one subject.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestTemplate {
    /// `GET` (the default) or `POST`.
    #[serde(default)]
    pub method: Option<String>,
    /// The URL, absolute or a path below `base_url`, with placeholders (`{email}`, `{phone}`,
    /// `{user_id}`, `{handles.<platform>}`) in its path and query only; each value is
    /// percent-encoded. Required.
    #[serde(default)]
    pub url: String,
    /// Headers sent with every call, e.g. `Authorization: "Bearer ${ACME_TOKEN}"`. Values may
    /// hold placeholders too. Kept as [`Secret`]s: they carry credentials.
    #[serde(default)]
    pub headers: BTreeMap<String, Secret>,
    /// A JSON body (POST only) whose strings may hold placeholders; sent with
    /// `Content-Type: application/json` unless `headers` set another.
    #[serde(default)]
    pub body: Option<Value>,
}

/// `not_found:` — what an unknown person looks like.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotFoundSection {
    /// Statuses that mean not found, whatever the body. Defaults to `[404]`; `[]` makes a 404
    /// a `bad_response` (a wrong URL), for APIs that answer misses with 200.
    #[serde(default = "default_statuses")]
    pub statuses: Vec<u16>,
    /// A JSON pointer: a 2xx whose value there is absent, null or an empty array is not found.
    #[serde(default)]
    pub when_missing: Option<String>,
    /// A 2xx whose value at `pointer` equals `value` is not found.
    #[serde(default)]
    pub when_equals: Option<EqualsRule>,
}

impl Default for NotFoundSection {
    fn default() -> NotFoundSection {
        NotFoundSection {
            statuses: default_statuses(),
            when_missing: None,
            when_equals: None,
        }
    }
}

fn default_statuses() -> Vec<u16> {
    DEFAULT_NOT_FOUND_STATUSES.to_vec()
}

/// `not_found.when_equals:` — a value that marks a miss.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EqualsRule {
    /// Where to look, e.g. `/status`.
    pub pointer: String,
    /// The JSON value that means not found there, e.g. `no_match`.
    pub value: Value,
}

/// `health:` — the connector's health check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthSection {
    /// A fixed URL (no placeholders), absolute or a path below `base_url`, called with `GET`
    /// and the request's headers that hold no placeholder. Same host rules as the request.
    #[serde(default)]
    pub url: String,
    /// The status that means healthy. Defaults to 200.
    #[serde(default = "default_expect_status")]
    pub expect_status: u16,
}

fn default_expect_status() -> u16 {
    200
}

/// The schema enrichd lists and redacts admin output with.
///
/// `request` is marked sensitive as a whole: its headers carry credentials, and a URL or body
/// may too (an API key in a query), while the SDK redacts top-level keys only. `health` is
/// sensitive for the same reason (its URL). The rest — hosts, mapping, not-found rules — stays
/// visible.
pub(crate) fn schema() -> ConfigSchema {
    ConfigSchema::new()
        .property(
            "name",
            ConfigProperty::new(
                PropertyType::String,
                "The connector's own name (a-z, 0-9, _, -).",
            )
            .default_value("http"),
        )
        .property(
            "description",
            ConfigProperty::new(PropertyType::String, "One sentence for operators."),
        )
        .property(
            "version",
            ConfigProperty::new(
                PropertyType::String,
                "The manifest's version, MAJOR.MINOR.PATCH.",
            )
            .default_value(DEFAULT_VERSION),
        )
        .property(
            "category",
            ConfigProperty::new(PropertyType::String, "crm, social or other.")
                .default_value("other"),
        )
        .property(
            "requires",
            ConfigProperty::new(
                PropertyType::Array,
                "Subject identifiers the call needs: email, phone, user_id, handles.<platform>.",
            )
            .required(),
        )
        .property(
            "allowed_hosts",
            ConfigProperty::new(
                PropertyType::Array,
                "The only hosts it may call, redirects included: host, host:port or *.domain.",
            )
            .required(),
        )
        .property(
            "base_url",
            ConfigProperty::new(
                PropertyType::Url,
                "API root for request.url and health.url written as paths.",
            ),
        )
        .property(
            "request",
            ConfigProperty::new(
                PropertyType::Object,
                "method, url (with {email}/{phone}/{user_id}/{handles.<platform>}), headers, \
                 body. Redacted as a whole: it carries credentials.",
            )
            .required()
            .sensitive(),
        )
        .property(
            "not_found",
            ConfigProperty::new(
                PropertyType::Object,
                "statuses, when_missing (JSON pointer), when_equals {pointer, value}.",
            )
            .default_value(serde_json::json!({"statuses": DEFAULT_NOT_FOUND_STATUSES})),
        )
        .property(
            "mapping",
            ConfigProperty::new(
                PropertyType::Object,
                "Profile field → JSON pointer into the response, e.g. identity.name: /person/name.",
            )
            .required(),
        )
        .property(
            "quota",
            ConfigProperty::new(
                PropertyType::Object,
                "remaining, reset, reset_format (epoch_seconds, seconds_left, timestamp): the \
                 rate-limit headers of the API's allowance.",
            ),
        )
        .property(
            "health",
            ConfigProperty::new(
                PropertyType::Object,
                "url and expect_status of a cheap health call. Redacted: its URL may carry a key.",
            )
            .sensitive(),
        )
}

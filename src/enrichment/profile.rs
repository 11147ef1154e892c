//! The merged profile as enrichd answers it (PRODUCT.md §3), and the per-source report.

use std::{collections::BTreeMap, time::SystemTime};

use bytes::{BufMut, Bytes, BytesMut};
use enrichd_sdk::{Behavior, Demographics, Identity, Social};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::spend::Price;

/// The answer of `/v1/enrich` and `GET /v1/profiles/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Profile {
    pub user_id: String,
    pub profile: ProfileBody,
    /// For every filled field (`identity.name`), where it came from.
    pub provenance: BTreeMap<String, Provenance>,
    /// What each connector did for this profile.
    pub sources: Vec<SourceReport>,
    /// Overall confidence: the mean confidence of the filled fields (0 when none).
    #[schema(minimum = 0, maximum = 1)]
    pub confidence: f64,
    /// Whether some attempted connector neither answered nor said "not found".
    pub partial: bool,
    /// How this answer was served; absent in the cached copy, set when answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required, nullable = false)]
    pub cache: Option<CacheStatus>,
    /// What this answer cost, in credits: the sum of the calls made for it (0 when served
    /// from the cache); absent in the cached copy, set when answering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(required, nullable = false)]
    pub cost: Option<f64>,
    #[schema(format = DateTime)]
    pub enriched_at: String,
    /// When the profile stops being fresh.
    #[schema(format = DateTime)]
    pub expires_at: String,
}

/// The profile sections, merged from every source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ProfileBody {
    #[schema(required)]
    pub identity: Identity,
    #[schema(required)]
    pub demographics: Demographics,
    #[schema(required)]
    pub interests: Vec<String>,
    #[schema(required)]
    pub social: Social,
    #[schema(required)]
    pub behavior: Behavior,
    /// Each connector's own facts, by connector name.
    #[schema(required, value_type = BTreeMap<String, Object>)]
    pub contextual: BTreeMap<String, Map<String, Value>>,
}

/// Where one field's value came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Provenance {
    /// The source whose value won (for lists and sums: the most confident contributor).
    pub source: String,
    pub confidence: f64,
    #[schema(format = DateTime)]
    pub fetched_at: String,
    /// Every contributing source, for fields merged from several (lists, connection counts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    /// Other sources that gave the same value (compared trimmed and case-folded); the
    /// confidence is then 1 − Π(1 − cᵢ) over `source` and these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agreeing: Vec<String>,
    /// Sources that gave another value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
}

/// A value a source gave that lost to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Conflict {
    pub source: String,
    #[schema(value_type = Object)]
    pub value: Value,
    pub confidence: f64,
}

/// One connector's part in a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SourceReport {
    pub connector: String,
    pub status: SourceStatus,
    pub latency_ms: u64,
    /// The confidence its answer was merged with (`ok` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub confidence: Option<f64>,
    /// What went wrong, for failures; never contains personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<String>,
    /// How long the upstream asked us to wait (`rate_limited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub retry_after_ms: Option<u64>,
    /// The fan-out wave it was asked in (absent: the first).
    #[serde(default = "first_wave", skip_serializing_if = "is_first_wave")]
    #[schema(minimum = 1, default = 1)]
    pub wave: u8,
    /// For a later wave: the identifier, found by another source, that let it be asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub via: Option<Via>,
    /// What it cost, in credits (`connectors.<name>.cost`; 0 when reused from the cache).
    #[serde(default)]
    pub cost: f64,
    /// Why it was skipped, when not for lack of an identifier (`deadline`: its wave could not
    /// start in time; `waterfall_satisfied`: an earlier connector of its waterfall filled the
    /// fields), or not called (`budget`, `max_cost`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<String>,
}

/// The identifier that chained a source into a later wave, and who found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Via {
    /// `email` or `handles.<platform>`.
    #[schema(example = "handles.github")]
    pub identifier: String,
    /// The connector whose answer named it.
    #[schema(example = "hubspot")]
    pub from: String,
}

fn first_wave() -> u8 {
    1
}

fn is_first_wave(wave: &u8) -> bool {
    *wave <= 1
}

/// What happened to one connector in one enrichment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SourceStatus {
    Ok,
    NotFound,
    Timeout,
    Error,
    RateLimited,
    CircuitOpen,
    /// Not called: the call would have passed the tenant's daily budget or the request's
    /// `max_cost`.
    BudgetExhausted,
    Skipped,
    Disabled,
}

impl SourceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStatus::Ok => "ok",
            SourceStatus::NotFound => "not_found",
            SourceStatus::Timeout => "timeout",
            SourceStatus::Error => "error",
            SourceStatus::RateLimited => "rate_limited",
            SourceStatus::CircuitOpen => "circuit_open",
            SourceStatus::BudgetExhausted => "budget_exhausted",
            SourceStatus::Skipped => "skipped",
            SourceStatus::Disabled => "disabled",
        }
    }

    /// Whether the connector was actually asked (or would have been, but for a guard).
    pub fn attempted(self) -> bool {
        !matches!(self, SourceStatus::Skipped | SourceStatus::Disabled)
    }

    /// What a call that ended so cost at `price`: a find `per_call`, a "not found"
    /// `per_not_found`, a timeout `per_call` (the upstream may have answered, and charged,
    /// after enrichd stopped waiting); a failure the upstream reported, nothing.
    pub fn charge(self, price: &Price) -> u64 {
        match self {
            SourceStatus::Ok | SourceStatus::Timeout => price.per_call,
            SourceStatus::NotFound => price.per_not_found,
            _ => 0,
        }
    }

    /// Whether the connector gave a usable answer (data, or a definite "unknown").
    pub fn answered(self) -> bool {
        matches!(self, SourceStatus::Ok | SourceStatus::NotFound)
    }
}

/// How an answer was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CacheStatus {
    Hit,
    Stale,
    Miss,
    Bypass,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "hit",
            CacheStatus::Stale => "stale",
            CacheStatus::Miss => "miss",
            CacheStatus::Bypass => "bypass",
        }
    }
}

/// A timestamp as the API writes it: RFC 3339, UTC, whole seconds.
pub fn timestamp(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The stored JSON of a profile (which has no `cache` or `cost` field) with `"cache": status`
/// and `"cost": cost` added, without parsing it again: the hit path serves cached bytes as
/// they are.
pub fn served(stored: &[u8], status: CacheStatus, cost: f64) -> Bytes {
    let body = stored.strip_suffix(b"}").unwrap_or(stored);
    let mut out = BytesMut::with_capacity(stored.len() + 32);
    out.put_slice(body);
    out.put_slice(b",\"cache\":\"");
    out.put_slice(status.as_str().as_bytes());
    out.put_slice(b"\",\"cost\":");
    if cost > 0.0 && cost.is_finite() {
        out.put_slice(cost.to_string().as_bytes());
    } else {
        out.put_slice(b"0");
    }
    out.put_slice(b"}");
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_status_is_spliced_into_stored_json() {
        let stored = br#"{"user_id":"u-1","confidence":0.5}"#;
        let hit = served(stored, CacheStatus::Hit, 0.0);
        let value: Value = serde_json::from_slice(&hit).unwrap();
        assert_eq!(value["cache"], "hit");
        assert_eq!(value["cost"], 0);
        assert_eq!(value["user_id"], "u-1");
        let miss = served(stored, CacheStatus::Miss, 2.5);
        let value: Value = serde_json::from_slice(&miss).unwrap();
        assert_eq!(value["cache"], "miss");
        assert_eq!(value["cost"], 2.5);
        assert_eq!(value["confidence"], 0.5);
    }

    #[test]
    fn each_outcome_has_its_charge() {
        let price = Price {
            per_call: 4,
            per_not_found: 1,
        };
        assert_eq!(SourceStatus::Ok.charge(&price), 4);
        assert_eq!(SourceStatus::Timeout.charge(&price), 4);
        assert_eq!(SourceStatus::NotFound.charge(&price), 1);
        for status in [
            SourceStatus::Error,
            SourceStatus::RateLimited,
            SourceStatus::CircuitOpen,
            SourceStatus::BudgetExhausted,
            SourceStatus::Skipped,
            SourceStatus::Disabled,
        ] {
            assert_eq!(status.charge(&price), 0, "{status:?}");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_seconds() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_795_000_000_500);
        assert_eq!(timestamp(at), "2026-11-18T11:06:40Z");
    }
}

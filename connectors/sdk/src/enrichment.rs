//! What one connector found about a subject.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Behavior, Demographics, Identity, Social};

/// One connector's answer: the profile sections it could fill.
///
/// Fill only what the upstream really said; leave the rest at its default. enrichd merges the
/// answers of all connectors field by field, so an empty field never hides another source's
/// value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrichment {
    #[serde(default, skip_serializing_if = "Identity::is_empty")]
    pub identity: Identity,
    #[serde(default, skip_serializing_if = "Demographics::is_empty")]
    pub demographics: Demographics,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interests: Vec<String>,
    #[serde(default, skip_serializing_if = "Social::is_empty")]
    pub social: Social,
    #[serde(default, skip_serializing_if = "Behavior::is_empty")]
    pub behavior: Behavior,
    /// Source-specific facts with no common field (CRM lifecycle stage, lead score, ...).
    /// enrichd shows them under `contextual.<connector>` in the merged profile.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// The confidence of this particular answer (0..=1), when the connector knows better than
    /// its configured confidence (a fuzzy match, say). `None` uses the configured one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// Insert each present value of `entries` into `map` under its key, leaving the absent ones out:
/// how a mapping fills [`Enrichment::extra`] and `behavior.engagement` from optional fields.
///
/// ```
/// use enrichd_sdk::{Enrichment, insert_present, text::trimmed};
///
/// let mut enrichment = Enrichment::default();
/// insert_present(
///     &mut enrichment.behavior.engagement,
///     [("github_followers", Some(20_u64)), ("github_following", None)],
/// );
/// insert_present(&mut enrichment.extra, [("blog", trimmed(Some(" ".into())))]);
/// assert_eq!(enrichment.behavior.engagement["github_followers"], 20);
/// assert_eq!(enrichment.behavior.engagement.len(), 1);
/// assert!(enrichment.extra.is_empty());
/// ```
pub fn insert_present<K: Into<String>, V: Into<Value>>(
    map: &mut Map<String, Value>,
    entries: impl IntoIterator<Item = (K, Option<V>)>,
) {
    for (key, value) in entries {
        if let Some(value) = value {
            map.insert(key.into(), value.into());
        }
    }
}

impl Enrichment {
    /// Whether the answer carries no data at all.
    pub fn is_empty(&self) -> bool {
        self.identity.is_empty()
            && self.demographics.is_empty()
            && self.interests.is_empty()
            && self.social.is_empty()
            && self.behavior.is_empty()
            && self.extra.is_empty()
    }
}

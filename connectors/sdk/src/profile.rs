//! The sections of a user profile, shared by connector answers and enrichd's merged profile.
//!
//! They follow the seed's `UserEnrichment`: identity, demographics, interests, social
//! connections, behaviour patterns; contextual data is per connector (see
//! [`crate::Enrichment::extra`]). Unknown scalars are `None` and are left out of the JSON;
//! lists and maps are always present, possibly empty, so clients see a stable shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Who the person is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Identity {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub name: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub emails: Vec<String>,
    /// Handles by platform (`github → octocat`).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub handles: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub avatar_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub bio: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub job_title: Option<String>,
}

/// Where and who in the population the person is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Demographics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub age: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub gender: Option<String>,
    /// Free-form location as the source gives it ("San Francisco").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub education: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub occupation: Option<String>,
}

/// The person's presence on social platforms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Social {
    /// Platforms the person is known on (`github`, `x`, ...).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub platforms: Vec<String>,
    /// Followers (or equivalent) on this source's platform; enrichd adds them up across
    /// distinct platforms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub connections: Option<u64>,
    /// Reach on a 0..=1 scale; each connector documents how it derives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub influence: Option<f64>,
    /// Organisations, groups, instances the person belongs to.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub communities: Vec<String>,
}

/// How the person behaves towards the business.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Behavior {
    /// Purchases or deals, each an object as the source describes it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub purchase_history: Vec<Value>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub preferred_channels: Vec<String>,
    /// Named engagement figures (`lead_score`, `public_repos`, ...).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub engagement: Map<String, Value>,
}

impl Identity {
    pub fn is_empty(&self) -> bool {
        self == &Identity::default()
    }
}

impl Demographics {
    pub fn is_empty(&self) -> bool {
        self == &Demographics::default()
    }

    /// Fill `city` and `country` from an address's parts, and `location` as
    /// `"city, state, country"` (the known parts) when at least two of the three are known.
    ///
    /// A lone city or country is already in its own field: a `location` repeating it would
    /// only hide a more precise location from another source when profiles merge.
    pub fn set_place(
        &mut self,
        city: Option<String>,
        state: Option<String>,
        country: Option<String>,
    ) {
        let known: Vec<&str> = [&city, &state, &country]
            .into_iter()
            .filter_map(|part| part.as_deref())
            .collect();
        if known.len() >= 2 {
            self.location = Some(known.join(", "));
        }
        self.city = city;
        self.country = country;
    }
}

impl Social {
    pub fn is_empty(&self) -> bool {
        self == &Social::default()
    }
}

impl Behavior {
    pub fn is_empty(&self) -> bool {
        self == &Behavior::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(city: Option<&str>, state: Option<&str>, country: Option<&str>) -> Demographics {
        let mut demographics = Demographics::default();
        demographics.set_place(
            city.map(str::to_owned),
            state.map(str::to_owned),
            country.map(str::to_owned),
        );
        demographics
    }

    #[test]
    fn a_location_needs_two_known_parts() {
        let full = place(
            Some("Cambridge"),
            Some("Massachusetts"),
            Some("United States"),
        );
        assert_eq!(
            full.location.as_deref(),
            Some("Cambridge, Massachusetts, United States")
        );
        assert_eq!(full.city.as_deref(), Some("Cambridge"));
        assert_eq!(full.country.as_deref(), Some("United States"));

        let no_state = place(Some("Cambridge"), None, Some("United States"));
        assert_eq!(
            no_state.location.as_deref(),
            Some("Cambridge, United States")
        );

        let state_only = place(None, Some("Massachusetts"), None);
        assert_eq!(state_only, Demographics::default());

        let city_only = place(Some("Boston"), None, None);
        assert_eq!(city_only.location, None);
        assert_eq!(city_only.city.as_deref(), Some("Boston"));
    }
}

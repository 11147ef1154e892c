//! A HubSpot CRM v3 contact as the API returns it, and how it maps into an [`Enrichment`].

use enrichd_sdk::{Enrichment, insert_present, text};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The parts of `SimplePublicObjectWithAssociations` the mapping reads; anything else in the
/// body is ignored.
#[derive(Debug, Deserialize)]
pub(crate) struct Contact {
    id: ContactId,
    /// Property values by internal name. HubSpot sends every value as a string or null; other
    /// JSON types are tolerated and read as text.
    properties: Map<String, Value>,
    #[serde(default, rename = "createdAt")]
    created_at: Option<String>,
    #[serde(default, rename = "updatedAt")]
    updated_at: Option<String>,
}

/// HubSpot's object id: a string of digits, accepted as a number too.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ContactId {
    Text(String),
    Number(u64),
}

impl ContactId {
    fn to_text(&self) -> String {
        match self {
            ContactId::Text(text) => text.clone(),
            ContactId::Number(number) => number.to_string(),
        }
    }
}

impl Contact {
    /// A property's value, trimmed; `None` when it is absent, null or empty.
    fn property(&self, name: &str) -> Option<String> {
        text::scalar(self.properties.get(name)?)
    }

    /// Map the contact into profile sections, filling only what HubSpot holds;
    /// `handle_properties` name the properties holding handles, by platform.
    pub(crate) fn into_enrichment(self, handle_properties: &[(String, String)]) -> Enrichment {
        let mut enrichment = Enrichment::default();

        let identity = &mut enrichment.identity;
        let name_parts: Vec<String> = ["firstname", "lastname"]
            .iter()
            .filter_map(|p| self.property(p))
            .collect();
        if !name_parts.is_empty() {
            identity.name = Some(name_parts.join(" "));
        }
        identity.emails = self.emails();
        identity.company = self.property("company");
        identity.job_title = self.property("jobtitle");
        for (platform, property) in handle_properties {
            if let Some(handle) = self.property(property) {
                let handle = handle.trim_start_matches('@').to_owned();
                if !handle.is_empty() {
                    identity.handles.insert(platform.clone(), handle);
                }
            }
        }

        // `location` only when at least two parts are known: a lone city or country is
        // already in its own field.
        enrichment.demographics.set_place(
            self.property("city"),
            self.property("state"),
            self.property("country"),
        );

        enrichment.interests.extend(self.property("industry"));

        let lead_score = self.property("hubspotscore").and_then(|s| text::number(&s));
        if let Some(score) = &lead_score {
            // The score is both an engagement figure and a CRM fact: the SDK names
            // `lead_score` as an example of the former, the product contract shows it under
            // `contextual.hubspot`.
            enrichment
                .behavior
                .engagement
                .insert("lead_score".into(), Value::Number(score.clone()));
        }

        let extra = &mut enrichment.extra;
        extra.insert("contact_id".into(), Value::String(self.id.to_text()));
        let texts = [
            ("lifecycle_stage", self.property("lifecyclestage")),
            ("lead_status", self.property("hs_lead_status")),
            ("original_source", self.property("hs_analytics_source")),
            (
                "created_at",
                self.property("createdate").or(self.created_at.clone()),
            ),
            (
                "updated_at",
                self.property("lastmodifieddate")
                    .or(self.updated_at.clone()),
            ),
            ("phone", self.property("phone")),
            ("website", self.property("website")),
        ];
        insert_present(extra, texts);
        if let Some(score) = lead_score {
            extra.insert("lead_score".into(), Value::Number(score));
        }

        enrichment
    }

    /// The primary email followed by the additional ones (HubSpot separates those with `;`),
    /// without repeats.
    fn emails(&self) -> Vec<String> {
        let primary = self.property("email");
        let additional = self.property("hs_additional_emails").unwrap_or_default();
        let candidates = primary
            .iter()
            .map(String::as_str)
            .chain(additional.split(';').map(str::trim))
            .filter(|email| !email.is_empty());
        text::unique_ignoring_ascii_case(candidates)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn contact(properties: Value) -> Contact {
        serde_json::from_value(json!({"id": "7", "properties": properties})).unwrap()
    }

    #[test]
    fn handle_properties_become_handles() {
        let handles = [
            ("x".to_owned(), "twitterhandle".to_owned()),
            ("github".to_owned(), "github_login".to_owned()),
        ];
        let enrichment = contact(json!({"twitterhandle": "@bcooper", "github_login": " bc "}))
            .into_enrichment(&handles);
        assert_eq!(enrichment.identity.handles["x"], "bcooper");
        assert_eq!(enrichment.identity.handles["github"], "bc");
        let blank = contact(json!({"twitterhandle": "@"})).into_enrichment(&handles);
        assert!(blank.identity.handles.is_empty());
    }

    #[test]
    fn empty_and_null_properties_count_as_absent() {
        let enrichment = contact(json!({
            "firstname": "", "lastname": null, "email": "  ", "company": null,
            "city": "", "country": null, "industry": "", "hubspotscore": "",
        }))
        .into_enrichment(&[]);
        assert!(enrichment.identity.is_empty());
        assert!(enrichment.demographics.is_empty());
        assert!(enrichment.interests.is_empty());
        assert!(enrichment.behavior.is_empty());
        assert_eq!(
            enrichment.extra,
            json!({"contact_id": "7"}).as_object().cloned().unwrap()
        );
    }

    #[test]
    fn a_single_name_part_is_still_a_name() {
        let enrichment = contact(json!({"lastname": "Cooper"})).into_enrichment(&[]);
        assert_eq!(enrichment.identity.name.as_deref(), Some("Cooper"));
    }

    #[test]
    fn location_needs_two_parts() {
        let city_only = contact(json!({"city": "Boston"})).into_enrichment(&[]);
        assert_eq!(city_only.demographics.city.as_deref(), Some("Boston"));
        assert_eq!(city_only.demographics.location, None);

        let full = contact(json!({"city": "Boston", "state": "MA", "country": "United States"}))
            .into_enrichment(&[]);
        assert_eq!(
            full.demographics.location.as_deref(),
            Some("Boston, MA, United States")
        );
    }

    #[test]
    fn additional_emails_follow_the_primary_one_without_repeats() {
        let enrichment = contact(json!({
            "email": "ada@example.com",
            "hs_additional_emails": "ada@work.example;ADA@example.com; ;lovelace@example.org",
        }))
        .into_enrichment(&[]);
        assert_eq!(
            enrichment.identity.emails,
            [
                "ada@example.com",
                "ada@work.example",
                "lovelace@example.org"
            ]
        );
    }

    #[test]
    fn lead_scores_become_numbers_and_garbage_is_dropped() {
        let integer = contact(json!({"hubspotscore": "61"})).into_enrichment(&[]);
        assert_eq!(integer.extra["lead_score"], json!(61));
        assert_eq!(integer.behavior.engagement["lead_score"], json!(61));

        let fraction = contact(json!({"hubspotscore": "12.5"})).into_enrichment(&[]);
        assert_eq!(fraction.extra["lead_score"], json!(12.5));

        let garbage = contact(json!({"hubspotscore": "high"})).into_enrichment(&[]);
        assert!(!garbage.extra.contains_key("lead_score"));
        assert!(garbage.behavior.engagement.is_empty());
    }

    #[test]
    fn numeric_ids_are_accepted() {
        let contact: Contact =
            serde_json::from_value(json!({"id": 512, "properties": {}})).unwrap();
        assert_eq!(
            contact.into_enrichment(&[]).extra["contact_id"],
            json!("512")
        );
    }

    #[test]
    fn a_long_list_of_additional_emails_loses_its_repeats_in_linear_time() {
        // Quadratic, 100,000 addresses held a worker for a minute.
        let additional: Vec<String> = (0..100_000)
            .map(|i| format!("a{i}@example.com"))
            .chain(
                (0..100_000)
                    .step_by(100)
                    .map(|i| format!("A{i}@EXAMPLE.com")),
            )
            .collect();
        let started = std::time::Instant::now();
        let emails = contact(json!({
            "email": "a7@example.com",
            "hs_additional_emails": additional.join(";"),
        }))
        .emails();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(emails.len(), 100_000);
        assert_eq!(
            emails[..3],
            ["a7@example.com", "a0@example.com", "a1@example.com"]
        );
    }
}

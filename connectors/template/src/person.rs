//! An Acme person as the API returns it, and how it maps into an [`Enrichment`].

// STEP 6: the mapping. Declare only the fields you read (serde ignores the rest, so a vendor
// adding fields breaks nothing), each optional. Fill only what the upstream really said: an
// empty field never hides another source's value when enrichd merges. Scalars (name, company,
// ...) are won by the most confident source; lists (emails, interests) are unioned;
// `engagement` keys merge one by one; `extra` is shown as `contextual.<connector>`. Read text
// fields with `enrichd_sdk::text::trimmed` (trimmed, `""` and blanks are absent) and loosely
// typed ones with `text::scalar`; derive 0..=1 scores from counts with `enrichd_sdk::scores`.

use enrichd_sdk::{Enrichment, insert_present, text::trimmed};
use serde::Deserialize;
use serde_json::Value;

/// The body of `GET /v1/people?email=...`.
#[derive(Debug, Deserialize)]
pub(crate) struct PersonResponse {
    pub(crate) person: Person,
}

/// The fields of an Acme person the mapping reads; any may be null or missing.
#[derive(Debug, Deserialize)]
pub(crate) struct Person {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    full_name: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    city: Option<String>,
    #[serde(default)]
    country: Option<String>,
    #[serde(default)]
    interests: Option<Vec<Option<String>>>,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    created_at: Option<String>,
}

impl Person {
    /// Map the person into profile sections, filling only what Acme holds.
    pub(crate) fn into_enrichment(self) -> Enrichment {
        let mut enrichment = Enrichment::default();
        enrichment.identity.name = trimmed(self.full_name);
        enrichment.identity.emails.extend(trimmed(self.email));
        enrichment.identity.company = trimmed(self.company);
        enrichment.identity.job_title = trimmed(self.title);
        enrichment.demographics.city = trimmed(self.city);
        enrichment.demographics.country = trimmed(self.country);
        enrichment.interests = self
            .interests
            .unwrap_or_default()
            .into_iter()
            .filter_map(trimmed)
            .collect();
        // Prefix engagement keys with the source when another source could mean something
        // else by the same name.
        if let Some(score) = self.score.and_then(serde_json::Number::from_f64) {
            enrichment
                .behavior
                .engagement
                .insert("acme_score".into(), Value::Number(score));
        }
        // `insert_present` leaves absent values out.
        insert_present(
            &mut enrichment.extra,
            [
                ("person_id", trimmed(self.id)),
                ("created_at", trimmed(self.created_at)),
            ],
        );
        enrichment
    }
}

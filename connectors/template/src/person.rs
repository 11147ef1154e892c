//! An Acme person as the API returns it, and how it maps into an [`Enrichment`].

// STEP 6: the mapping. Declare only the fields you read (serde ignores the rest, so a vendor
// adding fields breaks nothing), each optional. Fill only what the upstream really said: an
// empty field never hides another source's value when enrichd merges. Scalars (name, company,
// ...) are won by the most confident source; lists (emails, interests) are unioned;
// `engagement` keys merge one by one; `extra` is shown as `contextual.<connector>`.

use enrichd_sdk::Enrichment;
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
        enrichment.identity.name = text(self.full_name);
        enrichment.identity.emails.extend(text(self.email));
        enrichment.identity.company = text(self.company);
        enrichment.identity.job_title = text(self.title);
        enrichment.demographics.city = text(self.city);
        enrichment.demographics.country = text(self.country);
        enrichment.interests = self
            .interests
            .unwrap_or_default()
            .into_iter()
            .filter_map(text)
            .collect();
        // Prefix engagement keys with the source when another source could mean something
        // else by the same name.
        if let Some(score) = self.score.and_then(serde_json::Number::from_f64) {
            enrichment
                .behavior
                .engagement
                .insert("acme_score".into(), Value::Number(score));
        }
        for (key, value) in [("person_id", self.id), ("created_at", self.created_at)] {
            if let Some(value) = text(value) {
                enrichment.extra.insert(key.into(), Value::String(value));
            }
        }
        enrichment
    }
}

/// A text field, trimmed; `None` when null or empty.
fn text(value: Option<String>) -> Option<String> {
    let value = value?;
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

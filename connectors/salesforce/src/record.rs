//! A SOQL query result as the REST API returns it, and how its record maps into an
//! [`Enrichment`].

use enrichd_sdk::{Enrichment, insert_present, text};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::soql::SObject;

/// The body of `GET /services/data/vNN.N/query`. `totalSize`, `done` and `nextRecordsUrl` are
/// not read: the query asks for one record, so there is never a next batch to fetch, and a
/// body that still says `done: false` (Salesforce's own example does) is used as it is.
#[derive(Debug, Deserialize)]
pub(crate) struct QueryResult {
    records: Vec<Map<String, Value>>,
}

impl QueryResult {
    /// The first record, if the query matched any.
    pub(crate) fn into_first(self, object: SObject) -> Option<Record> {
        let fields = self.records.into_iter().next()?;
        Some(Record { object, fields })
    }
}

/// One Contact or Lead, its fields by API name. Relationship fields (`Account`) are nested
/// objects, or null when the relationship is empty; any field may be null.
#[derive(Debug)]
pub(crate) struct Record {
    object: SObject,
    fields: Map<String, Value>,
}

impl Record {
    /// A field's value as trimmed text, following dotted relationship paths (`Account.Name`);
    /// `None` when absent, null or empty. Numbers and booleans are read as text.
    fn text(&self, path: &str) -> Option<String> {
        let mut parts = path.split('.');
        let mut value = self.fields.get(parts.next()?)?;
        for part in parts {
            value = value.as_object()?.get(part)?;
        }
        text::scalar(value)
    }

    /// The first of `paths` that has a value (Contact and Lead name some fields differently).
    fn first(&self, paths: &[&str]) -> Option<String> {
        paths.iter().find_map(|path| self.text(path))
    }

    /// Map the record into profile sections, filling only what Salesforce holds.
    pub(crate) fn into_enrichment(self) -> Enrichment {
        let mut enrichment = Enrichment::default();

        let identity = &mut enrichment.identity;
        identity.name = self.text("Name").or_else(|| {
            let parts: Vec<String> = ["FirstName", "LastName"]
                .iter()
                .filter_map(|p| self.text(p))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        identity.emails.extend(self.text("Email"));
        identity.job_title = self.text("Title");
        identity.company = self.first(&["Account.Name", "Company"]);

        // As for HubSpot: `location` only when at least two parts are known.
        enrichment.demographics.set_place(
            self.first(&["MailingCity", "City"]),
            self.first(&["MailingState", "State"]),
            self.first(&["MailingCountry", "Country"]),
        );

        enrichment
            .interests
            .extend(self.first(&["Account.Industry", "Industry"]));

        let extra = &mut enrichment.extra;
        extra.insert("object".into(), Value::String(self.object.name().into()));
        let texts = [
            ("record_id", self.text("Id")),
            ("department", self.text("Department")),
            ("lead_source", self.text("LeadSource")),
            ("lead_status", self.text("Status")),
            ("rating", self.text("Rating")),
            ("phone", self.text("Phone")),
            ("created_at", self.text("CreatedDate")),
        ];
        insert_present(extra, texts);

        enrichment
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(object: SObject, fields: Value) -> Record {
        let result: QueryResult =
            serde_json::from_value(json!({"totalSize": 1, "done": true, "records": [fields]}))
                .unwrap();
        result.into_first(object).unwrap()
    }

    #[test]
    fn an_empty_result_has_no_record() {
        let result: QueryResult =
            serde_json::from_value(json!({"totalSize": 0, "done": true, "records": []})).unwrap();
        assert!(result.into_first(SObject::Contact).is_none());
    }

    #[test]
    fn relationship_paths_are_followed_and_a_null_relationship_is_absent() {
        let with = record(
            SObject::Contact,
            json!({"Account": {"attributes": {"type": "Account"}, "Name": "Acme", "Industry": null}}),
        );
        assert_eq!(with.text("Account.Name").as_deref(), Some("Acme"));
        assert_eq!(with.text("Account.Industry"), None);
        let without = record(SObject::Contact, json!({"Account": null}));
        assert_eq!(without.text("Account.Name"), None);
    }

    #[test]
    fn first_and_last_name_stand_in_for_a_missing_name() {
        let enrichment = record(
            SObject::Contact,
            json!({"FirstName": null, "LastName": "Smith"}),
        )
        .into_enrichment();
        assert_eq!(enrichment.identity.name.as_deref(), Some("Smith"));
    }

    #[test]
    fn a_record_with_only_nulls_says_only_which_object_matched() {
        let enrichment = record(
            SObject::Lead,
            json!({"attributes": {"type": "Lead"}, "Id": null, "Name": " ", "Company": null}),
        )
        .into_enrichment();
        assert!(enrichment.identity.is_empty());
        assert!(enrichment.demographics.is_empty());
        assert!(enrichment.interests.is_empty());
        assert_eq!(Value::Object(enrichment.extra), json!({"object": "Lead"}));
    }
}

//! Pipedrive's person search result and person record as the v1 API returns them, and how the
//! record maps into an [`Enrichment`].

use enrichd_sdk::{
    ConnectorError, Enrichment, insert_present,
    text::{scalar, unique_ignoring_ascii_case},
};
use serde::Deserialize;
use serde_json::{Map, Value};

/// The body of `GET /v1/persons/search`: only `success` and the id of the first hit are read.
#[derive(Debug, Deserialize)]
pub(crate) struct SearchResponse {
    success: bool,
    #[serde(default)]
    data: Option<SearchData>,
}

#[derive(Debug, Deserialize)]
struct SearchData {
    #[serde(default)]
    items: Option<Vec<SearchItem>>,
}

#[derive(Debug, Deserialize)]
struct SearchItem {
    item: SearchPerson,
}

#[derive(Debug, Deserialize)]
struct SearchPerson {
    id: u64,
}

impl SearchResponse {
    /// The id of the person found, `None` when nothing matched (no `data`, no `items`, or an
    /// empty list). A body saying `success: false` is a `bad_response`.
    pub(crate) fn first_id(self) -> Result<Option<u64>, ConnectorError> {
        if !self.success {
            return Err(ConnectorError::bad_response(
                "Pipedrive's search answered success: false",
            ));
        }
        Ok(self
            .data
            .and_then(|data| data.items)
            .and_then(|items| items.into_iter().next())
            .map(|hit| hit.item.id))
    }
}

/// The body of `GET /v1/persons/{id}`. The person is kept as a JSON object because its fields
/// change shape across accounts and API generations (`owner_id` and `org_id` are objects or
/// plain ids, `label` a number or `label_ids` a list); the mapping reads what it finds.
#[derive(Debug, Deserialize)]
pub(crate) struct PersonResponse {
    success: bool,
    #[serde(default)]
    data: Option<Map<String, Value>>,
}

impl PersonResponse {
    /// The person, `None` when `data` is null (deleted between the two calls).
    pub(crate) fn into_person(self) -> Result<Option<Person>, ConnectorError> {
        if !self.success {
            return Err(ConnectorError::bad_response(
                "Pipedrive's person answered success: false",
            ));
        }
        Ok(self.data.map(|fields| Person { fields }))
    }
}

/// The activity and deal figures copied into `behavior.engagement` under their Pipedrive names.
const ENGAGEMENT_COUNTS: &[&str] = &[
    "open_deals_count",
    "won_deals_count",
    "lost_deals_count",
    "closed_deals_count",
    "activities_count",
    "done_activities_count",
    "email_messages_count",
];

/// One Pipedrive person record.
#[derive(Debug)]
pub(crate) struct Person {
    fields: Map<String, Value>,
}

impl Person {
    /// A field's value, following `/`-separated object keys (`picture_id/pictures/512`).
    fn value(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('/');
        let mut value = self.fields.get(parts.next()?)?;
        for part in parts {
            value = value.as_object()?.get(part)?;
        }
        Some(value)
    }

    /// A text field, trimmed; `None` when absent, null or empty.
    fn text(&self, path: &str) -> Option<String> {
        text(self.value(path)?)
    }

    /// Map the person into profile sections, filling only what Pipedrive holds.
    pub(crate) fn into_enrichment(self) -> Enrichment {
        let mut enrichment = Enrichment::default();

        let identity = &mut enrichment.identity;
        identity.name = self.text("name").or_else(|| {
            let parts: Vec<String> = ["first_name", "last_name"]
                .iter()
                .filter_map(|p| self.text(p))
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        identity.emails = self.contacts("email");
        if let Some(primary) = self.text("primary_email")
            && !identity
                .emails
                .iter()
                .any(|e| e.eq_ignore_ascii_case(&primary))
        {
            identity.emails.insert(0, primary);
        }
        identity.company = self.text("org_name").or_else(|| self.text("org_id/name"));
        identity.job_title = self.text("job_title");
        identity.avatar_url = self
            .text("picture_id/pictures/512")
            .or_else(|| self.text("picture_id/pictures/128"));

        let engagement = &mut enrichment.behavior.engagement;
        for key in ENGAGEMENT_COUNTS {
            if let Some(count) = self.value(key).and_then(Value::as_u64) {
                engagement.insert((*key).into(), count.into());
            }
        }
        if let Some(date) = self.text("last_activity_date") {
            engagement.insert("last_activity_date".into(), Value::String(date));
        }

        let extra = &mut enrichment.extra;
        if let Some(id) = self.value("id").and_then(Value::as_u64) {
            extra.insert("person_id".into(), id.into());
        }
        let owner = self
            .text("owner_name")
            .or_else(|| self.text("owner_id/name"));
        let texts = [
            ("owner", owner),
            ("marketing_status", self.text("marketing_status")),
            ("next_activity_date", self.text("next_activity_date")),
            ("created_at", self.text("add_time")),
            ("updated_at", self.text("update_time")),
        ];
        insert_present(extra, texts);
        let phones = self.contacts("phone");
        if !phones.is_empty() {
            extra.insert("phones".into(), phones.into());
        }
        let labels = self.label_ids();
        if !labels.is_empty() {
            extra.insert("label_ids".into(), labels.into());
        }

        enrichment
    }

    /// The values of a contact list (`email`, `phone`): the primary one first, blanks and
    /// repeats left out. Entries are `{value, primary, label}` objects; plain strings are
    /// accepted too.
    fn contacts(&self, field: &str) -> Vec<String> {
        let Some(entries) = self.value(field).and_then(Value::as_array) else {
            return Vec::new();
        };
        let mut ordered: Vec<(bool, String)> = entries
            .iter()
            .filter_map(|entry| match entry {
                Value::Object(entry) => {
                    let primary = entry.get("primary").and_then(Value::as_bool) == Some(true);
                    Some((primary, text(entry.get("value")?)?))
                }
                other => Some((false, text(other)?)),
            })
            .collect();
        // Stable: the primary entry moves to the front, the others keep their order.
        ordered.sort_by_key(|(primary, _)| !primary);
        unique_ignoring_ascii_case(ordered.into_iter().map(|(_, value)| value))
    }

    /// The person's label ids: `label_ids` (a list), else `label` (one id). Their names live
    /// in the account's person fields, which would take another call, so ids are what we have.
    fn label_ids(&self) -> Vec<u64> {
        match self.value("label_ids") {
            Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_u64).collect(),
            _ => self
                .value("label")
                .and_then(Value::as_u64)
                .into_iter()
                .collect(),
        }
    }
}

/// A JSON string (trimmed, non-empty) or number as text, as [`scalar`] reads it; a boolean is
/// not text here.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(_) | Value::Number(_) => scalar(value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn person(fields: Value) -> Person {
        let response: PersonResponse =
            serde_json::from_value(json!({"success": true, "data": fields})).unwrap();
        response.into_person().unwrap().unwrap()
    }

    #[test]
    fn a_search_without_items_finds_no_one() {
        for body in [
            json!({"success": true, "data": {"items": []}}),
            json!({"success": true, "data": null}),
            json!({"success": true, "data": {"items": null}}),
            json!({"success": true}),
        ] {
            let search: SearchResponse = serde_json::from_value(body.clone()).unwrap();
            assert_eq!(search.first_id().unwrap(), None, "{body}");
        }
        let failed: SearchResponse =
            serde_json::from_value(json!({"success": false, "error": "x"})).unwrap();
        assert!(failed.first_id().is_err());
    }

    #[test]
    fn the_primary_contact_comes_first_without_repeats() {
        let person = person(json!({
            "email": [
                {"value": "home@example.com", "primary": false, "label": "home"},
                {"value": "", "primary": false},
                {"value": "work@example.com", "primary": true, "label": "work"},
                {"value": "HOME@example.com", "primary": false},
                "plain@example.com",
            ],
        }));
        assert_eq!(
            person.contacts("email"),
            ["work@example.com", "home@example.com", "plain@example.com"]
        );
    }

    #[test]
    fn plain_ids_for_owner_and_org_are_tolerated() {
        let enrichment = person(json!({
            "id": 7, "name": "Ada", "owner_id": 123, "org_id": 5, "label_ids": [3, 4],
            "primary_email": "ada@example.com", "email": [],
        }))
        .into_enrichment();
        assert_eq!(enrichment.identity.company, None);
        assert_eq!(enrichment.identity.emails, ["ada@example.com"]);
        assert_eq!(
            Value::Object(enrichment.extra),
            json!({"person_id": 7, "label_ids": [3, 4]})
        );
    }

    #[test]
    fn a_person_with_only_nulls_maps_to_nothing_but_its_id() {
        let enrichment = person(json!({
            "id": 9, "name": null, "first_name": "", "email": [{"value": "", "primary": true}],
            "phone": null, "org_name": null, "org_id": null, "owner_id": null,
            "open_deals_count": null, "label": null, "picture_id": null,
        }))
        .into_enrichment();
        assert!(enrichment.identity.is_empty());
        assert!(enrichment.behavior.is_empty());
        assert_eq!(Value::Object(enrichment.extra), json!({"person_id": 9}));
    }

    #[test]
    fn a_long_list_of_contacts_loses_its_repeats_in_linear_time() {
        // Quadratic, 100,000 entries held a worker for a minute.
        let entries: Vec<Value> = (0..100_000)
            .map(|i| json!({"value": format!("p{i}@example.com"), "primary": i == 9}))
            .chain(
                (0..100_000)
                    .step_by(100)
                    .map(|i| json!(format!("P{i}@example.com"))),
            )
            .collect();
        let started = std::time::Instant::now();
        let emails = person(json!({ "email": entries })).contacts("email");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(emails.len(), 100_000);
        assert_eq!(
            emails[..3],
            ["p9@example.com", "p0@example.com", "p1@example.com"]
        );
    }
}

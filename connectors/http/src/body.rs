//! The JSON body template of a POST: any JSON value whose strings may hold placeholders. The
//! values are inserted as JSON strings, so they are escaped by construction and can never add
//! keys or close a string.

use enrichd_sdk::{Identifier, Subject};
use serde_json::{Map, Value};

use crate::template::{Template, Unusable, raw_value};

/// A JSON value with placeholders in its strings (object keys are sent as written).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BodyTemplate {
    /// A number, boolean, null or a string without placeholders.
    Fixed(Value),
    /// A string with placeholders.
    Text(Template),
    Array(Vec<BodyTemplate>),
    Object(Vec<(String, BodyTemplate)>),
}

impl BodyTemplate {
    /// Parse `value`: the template, and each problem with its path below the body
    /// (`.lookup.email`, `.ids[0]`); a string with a problem becomes `null` in the template.
    pub(crate) fn parse(value: &Value) -> (BodyTemplate, Vec<(String, String)>) {
        let mut problems = Vec::new();
        let template = parse_at(value, String::new(), &mut problems);
        (template, problems)
    }

    /// Every placeholder with the path of the string holding it.
    pub(crate) fn placeholders(&self) -> Vec<(String, Identifier)> {
        let mut found = Vec::new();
        self.collect(String::new(), &mut found);
        found
    }

    fn collect(&self, path: String, found: &mut Vec<(String, Identifier)>) {
        match self {
            BodyTemplate::Fixed(_) => {}
            BodyTemplate::Text(template) => {
                found.extend(template.placeholders().map(|id| (path.clone(), id.clone())));
            }
            BodyTemplate::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    item.collect(format!("{path}[{index}]"), found);
                }
            }
            BodyTemplate::Object(entries) => {
                for (key, item) in entries {
                    item.collect(format!("{path}.{key}"), found);
                }
            }
        }
    }

    /// The body for `subject`, its values inserted as they are.
    pub(crate) fn render(&self, subject: &Subject) -> Result<Value, Unusable> {
        Ok(match self {
            BodyTemplate::Fixed(value) => value.clone(),
            BodyTemplate::Text(template) => Value::String(
                template.render(|identifier| raw_value(subject, identifier).map(str::to_owned))?,
            ),
            BodyTemplate::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| item.render(subject))
                    .collect::<Result<_, _>>()?,
            ),
            BodyTemplate::Object(entries) => {
                let mut map = Map::new();
                for (key, item) in entries {
                    map.insert(key.clone(), item.render(subject)?);
                }
                Value::Object(map)
            }
        })
    }
}

fn parse_at(value: &Value, path: String, problems: &mut Vec<(String, String)>) -> BodyTemplate {
    match value {
        Value::String(text) => match Template::parse(text) {
            Ok(template) if template.has_placeholders() => BodyTemplate::Text(template),
            Ok(_) => BodyTemplate::Fixed(value.clone()),
            Err(problem) => {
                problems.push((path, problem));
                BodyTemplate::Fixed(Value::Null)
            }
        },
        Value::Array(items) => BodyTemplate::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| parse_at(item, format!("{path}[{index}]"), problems))
                .collect(),
        ),
        Value::Object(map) => BodyTemplate::Object(
            map.iter()
                .map(|(key, item)| {
                    (
                        key.clone(),
                        parse_at(item, format!("{path}.{key}"), problems),
                    )
                })
                .collect(),
        ),
        other => BodyTemplate::Fixed(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn strings_are_filled_and_escaped_by_construction() {
        let template = BodyTemplate::parse(&json!({
            "lookup": {"email": "{email}", "note": "user {user_id}!"},
            "ids": ["{user_id}", 7, null, true],
            "fixed": "no placeholder",
        }))
        .0;
        let hostile = "a\"}, \"admin\": true, \"x\": {\"";
        let subject = Subject::new("u-1").with_email(hostile);

        let body = template.render(&subject).unwrap();

        assert_eq!(
            body,
            json!({
                "lookup": {"email": hostile, "note": "user u-1!"},
                "ids": ["u-1", 7, null, true],
                "fixed": "no placeholder",
            })
        );
        assert_eq!(body.as_object().unwrap().len(), 3);
    }

    #[test]
    fn placeholders_are_listed_with_their_path() {
        let template =
            BodyTemplate::parse(&json!({"a": {"b": "{email}"}, "c": ["x", "{phone}"]})).0;
        assert_eq!(
            template.placeholders(),
            [
                (".a.b".to_owned(), Identifier::Email),
                (".c[1]".to_owned(), Identifier::Phone),
            ]
        );
    }

    #[test]
    fn every_unknown_placeholder_is_reported_with_its_path() {
        let (_, problems) =
            BodyTemplate::parse(&json!({"a": "{emial}", "b": ["{x.y}"], "c": "{ok"}));
        let paths: Vec<&str> = problems.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(paths, [".a", ".b[0]"]);
    }
}

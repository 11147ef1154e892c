//! Overrides (PRODUCT.md §10): values a caller asserts about a user that win every merge
//! (`source: "override"`, confidence 1.0), or hide a field (`null`), until changed. Only the
//! profile's scalar fields can be overridden; each path is checked, and a bad one is named.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::{
    FieldError,
    fields::{TEXT_FIELDS, is_platform},
};

/// The most fields one user's overrides may hold.
pub const MAX_OVERRIDES: usize = 64;

/// The longest text an override may hold.
pub const MAX_OVERRIDE_CHARS: usize = 1024;

/// A user's overrides: field path → value (`null`: hide the field).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Overrides {
    /// `identity.company`, `demographics.city`, `demographics.age`, `social.influence`,
    /// `identity.handles.<platform>`, ...: a value of the field's type, or `null` to hide it.
    #[schema(value_type = Object, example = json!({"identity.company": "Acme", "demographics.city": null}))]
    pub fields: BTreeMap<String, Value>,
    /// When they were last set (RFC 3339); absent when there are none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub updated_at: Option<String>,
}

impl Overrides {
    /// `fields` as a caller sent them, each path and value checked.
    pub fn parse(fields: BTreeMap<String, Value>) -> Result<BTreeMap<String, Value>, FieldError> {
        if fields.len() > MAX_OVERRIDES {
            return Err(FieldError::new(
                "fields",
                format!(
                    "holds {} fields; at most {MAX_OVERRIDES} may be overridden",
                    fields.len()
                ),
            ));
        }
        for (path, value) in &fields {
            check(path, value)
                .map_err(|message| FieldError::new(format!("fields.{path}"), message))?;
        }
        Ok(fields)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Whether `value` may override the field at `path`.
fn check(path: &str, value: &Value) -> Result<(), String> {
    let text = || match value {
        Value::Null => Ok(()),
        Value::String(text) if text.trim().is_empty() => {
            Err("must not be blank; use null to hide the field".to_owned())
        }
        Value::String(text) if text.chars().count() > MAX_OVERRIDE_CHARS => {
            Err(format!("is longer than {MAX_OVERRIDE_CHARS} characters"))
        }
        Value::String(_) => Ok(()),
        _ => Err("must be a string or null".to_owned()),
    };
    if TEXT_FIELDS.contains(&path) {
        return text();
    }
    match path {
        "demographics.age" => match value {
            Value::Null => Ok(()),
            Value::Number(n) if n.as_u64().is_some_and(|age| age <= 150) => Ok(()),
            _ => Err("must be a whole number of years (0-150) or null".to_owned()),
        },
        "social.influence" => match value {
            Value::Null => Ok(()),
            // JSON numbers are finite.
            Value::Number(_) => Ok(()),
            _ => Err("must be a number or null".to_owned()),
        },
        _ => match path.strip_prefix("identity.handles.") {
            Some(platform) if is_platform(platform) => text(),
            _ => Err(format!(
                "is not a field that can be overridden; one of {}, demographics.age, \
                 social.influence, identity.handles.<platform>",
                TEXT_FIELDS.join(", ")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(fields: Value) -> Result<usize, String> {
        let fields: BTreeMap<String, Value> = serde_json::from_value(fields).unwrap();
        Overrides::parse(fields)
            .map(|f| f.len())
            .map_err(|e| format!("{}: {}", e.field, e.message))
    }

    #[test]
    fn scalar_fields_take_a_value_of_their_type_or_null() {
        assert_eq!(
            parse(json!({
                "identity.company": "Acme", "demographics.city": null, "demographics.age": 37,
                "social.influence": 0.5, "identity.handles.github": "ada"
            })),
            Ok(5)
        );
        assert_eq!(parse(json!({})), Ok(0));
        assert_eq!(
            parse(json!({"demographics.age": null, "social.influence": null})),
            Ok(2)
        );
        assert_eq!(
            parse(json!({"identity.bio": "é".repeat(MAX_OVERRIDE_CHARS)})),
            Ok(1),
            "exactly the longest text passes (counted in characters)"
        );
        let most: serde_json::Map<String, Value> = (0..MAX_OVERRIDES)
            .map(|i| (format!("identity.handles.p{i}"), json!("x")))
            .collect();
        assert_eq!(parse(Value::Object(most)), Ok(MAX_OVERRIDES));
    }

    #[test]
    fn overrides_know_whether_they_hold_anything() {
        assert!(Overrides::default().is_empty());
        let one = Overrides {
            fields: BTreeMap::from([("identity.company".to_owned(), json!("Acme"))]),
            updated_at: None,
        };
        assert!(!one.is_empty());
    }

    #[test]
    fn bad_paths_and_values_are_named() {
        for (fields, named) in [
            (
                json!({"identity.emails": ["a@b.co"]}),
                "fields.identity.emails",
            ),
            (
                json!({"identity.nickname": "x"}),
                "fields.identity.nickname",
            ),
            (json!({"identity.company": 7}), "fields.identity.company"),
            (json!({"identity.company": "  "}), "fields.identity.company"),
            (json!({"demographics.age": 151}), "fields.demographics.age"),
            (json!({"demographics.age": -1}), "fields.demographics.age"),
            (json!({"demographics.age": 3.5}), "fields.demographics.age"),
            (
                json!({"social.influence": "high"}),
                "fields.social.influence",
            ),
            (
                json!({"identity.handles.Bad": "x"}),
                "fields.identity.handles.Bad",
            ),
            (
                json!({"identity.handles.": "x"}),
                "fields.identity.handles.",
            ),
            (
                json!({"identity.bio": "x".repeat(MAX_OVERRIDE_CHARS + 1)}),
                "fields.identity.bio",
            ),
        ] {
            let err = parse(fields.clone()).unwrap_err();
            assert!(err.starts_with(&format!("{named}: ")), "{fields}: {err}");
        }
        let many: serde_json::Map<String, Value> = (0..=MAX_OVERRIDES)
            .map(|i| (format!("identity.handles.p{i}"), json!("x")))
            .collect();
        assert!(
            parse(Value::Object(many))
                .unwrap_err()
                .starts_with("fields: ")
        );
    }
}

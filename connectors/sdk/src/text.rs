//! Reading text out of upstream answers the same way in every connector: trimmed, with `""`,
//! blanks and `null` meaning "not said" (vendors send `""` for unset fields), so that an empty
//! value never hides another source's one when enrichd merges; lists without repeats.

use std::collections::HashSet;

use serde_json::{Number, Value};

/// `value` trimmed; `None` when it is empty or only white space.
pub fn non_empty(value: &str) -> Option<String> {
    let trimmed = value.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// A text field of an upstream answer, trimmed; `None` when null, missing, empty or blank.
///
/// Declare optional string fields as `#[serde(default)] Option<String>` and read them with
/// this:
///
/// ```
/// use enrichd_sdk::text::trimmed;
///
/// assert_eq!(trimmed(Some("  Ada Lovelace ".into())).as_deref(), Some("Ada Lovelace"));
/// assert_eq!(trimmed(Some(" ".into())), None);
/// assert_eq!(trimmed(None), None);
/// ```
pub fn trimmed(value: Option<String>) -> Option<String> {
    non_empty(&value?)
}

/// A JSON scalar as text: a string trimmed (blank is `None`), a number or a boolean written
/// out; `None` for `null`, arrays and objects. For vendors whose fields are loosely typed (a
/// CRM property may be `"61"` or `61`).
pub fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => non_empty(text),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A number written as text (`"61"`, `" 12.5 "`) as a JSON number: integers stay integers;
/// `None` when the text is not a finite number.
pub fn number(text: &str) -> Option<Number> {
    let text = text.trim();
    if let Ok(integer) = text.parse::<i64>() {
        return Some(Number::from(integer));
    }
    text.parse::<f64>().ok().and_then(Number::from_f64)
}

/// `items` without repeats compared ignoring ASCII case (`Chess`, `CHESS`), each kept in its
/// first spelling, in order.
///
/// In linear time: an upstream list can be long (a response with 100,000 distinct tags), and
/// comparing each item with every one kept before held a worker for a minute.
///
/// ```
/// use enrichd_sdk::text::unique_ignoring_ascii_case;
///
/// assert_eq!(unique_ignoring_ascii_case(["Chess", "go", "CHESS", "Go"]), ["Chess", "go"]);
/// ```
pub fn unique_ignoring_ascii_case<S: Into<String>>(
    items: impl IntoIterator<Item = S>,
) -> Vec<String> {
    unique_by(items, str::to_ascii_lowercase)
}

/// [`unique_ignoring_ascii_case`], comparing the Unicode lower case (`Zoë`, `ZOË`): for text
/// written by people, such as hashtags.
pub fn unique_ignoring_case<S: Into<String>>(items: impl IntoIterator<Item = S>) -> Vec<String> {
    unique_by(items, str::to_lowercase)
}

/// `items` without repeats of their `key`, first item of each key kept, in order.
fn unique_by<S: Into<String>>(
    items: impl IntoIterator<Item = S>,
    key: impl Fn(&str) -> String,
) -> Vec<String> {
    let mut seen = HashSet::new();
    items
        .into_iter()
        .map(Into::into)
        .filter(|item| seen.insert(key(item)))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn text_is_trimmed_and_blank_is_absent() {
        assert_eq!(non_empty("  Ada ").as_deref(), Some("Ada"));
        assert_eq!(non_empty(" \t\n"), None);
        assert_eq!(trimmed(Some("zoë ".into())).as_deref(), Some("zoë"));
        assert_eq!(trimmed(Some(String::new())), None);
        assert_eq!(trimmed(None), None);
    }

    #[test]
    fn scalars_are_written_out_and_the_rest_is_absent() {
        assert_eq!(scalar(&json!(" Biglytics ")).as_deref(), Some("Biglytics"));
        assert_eq!(scalar(&json!("  ")), None);
        assert_eq!(scalar(&json!(61)).as_deref(), Some("61"));
        assert_eq!(scalar(&json!(12.5)).as_deref(), Some("12.5"));
        assert_eq!(scalar(&json!(true)).as_deref(), Some("true"));
        for absent in [json!(null), json!([]), json!({"a": 1})] {
            assert_eq!(scalar(&absent), None, "{absent}");
        }
    }

    #[test]
    fn numbers_keep_integers_and_refuse_the_rest() {
        assert_eq!(number("61"), Some(Number::from(61)));
        assert_eq!(number(" -3 "), Some(Number::from(-3)));
        assert_eq!(number("12.5"), Number::from_f64(12.5));
        for garbage in ["", "sixty", "NaN", "inf", "1e999"] {
            assert_eq!(number(garbage), None, "{garbage}");
        }
    }

    #[test]
    fn repeats_are_dropped_keeping_the_first_spelling_and_the_order() {
        assert_eq!(
            unique_ignoring_ascii_case(["b", "A", "B", "a", "c", "ZOË", "zoë"]),
            ["b", "A", "c", "ZOË", "zoë"]
        );
        assert_eq!(
            unique_ignoring_case(["b", "A", "B", "a", "c", "ZOË", "zoë"]),
            ["b", "A", "c", "ZOË"]
        );
        assert!(unique_ignoring_case(Vec::<String>::new()).is_empty());
    }

    #[test]
    fn long_lists_are_deduplicated_in_linear_time() {
        // Quadratic, 100,000 distinct items take over a minute in a debug build.
        let items: Vec<String> = (0..100_000)
            .map(|i| format!("Tag{i}"))
            .chain((0..100_000).step_by(10).map(|i| format!("TAG{i}")))
            .collect();
        let started = std::time::Instant::now();
        let ascii = unique_ignoring_ascii_case(items.clone());
        let unicode = unique_ignoring_case(items);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        for unique in [ascii, unicode] {
            assert_eq!(unique.len(), 100_000);
            assert_eq!(unique[0], "Tag0");
            assert_eq!(unique[99_999], "Tag99999");
            assert!(
                unique
                    .iter()
                    .enumerate()
                    .all(|(i, t)| *t == format!("Tag{i}"))
            );
        }
    }
}

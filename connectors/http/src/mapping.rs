//! The `mapping:` of a manifest: profile field → JSON pointer into the response. Targets are
//! checked at build time against the fields an [`Enrichment`] has; at call time each value is
//! converted to its field's type or skipped, and the result is assembled as JSON and
//! deserialized into an `Enrichment`, so it is valid by construction.

use enrichd_sdk::{
    Capability, ConnectorError, Enrichment,
    text::{self, scalar},
};
use serde_json::{Map, Number, Value};

/// The fields of each section that take a fixed name, with their kind.
const IDENTITY: &[(&str, Kind)] = &[
    ("name", Kind::Text),
    ("emails", Kind::TextList),
    ("avatar_url", Kind::Text),
    ("bio", Kind::Text),
    ("company", Kind::Text),
    ("job_title", Kind::Text),
];
const DEMOGRAPHICS: &[(&str, Kind)] = &[
    ("age", Kind::Age),
    ("gender", Kind::Text),
    ("location", Kind::Text),
    ("country", Kind::Text),
    ("city", Kind::Text),
    ("education", Kind::Text),
    ("occupation", Kind::Text),
];
const SOCIAL: &[(&str, Kind)] = &[
    ("platforms", Kind::TextList),
    ("connections", Kind::Count),
    ("influence", Kind::Fraction),
    ("communities", Kind::TextList),
];
const BEHAVIOR: &[(&str, Kind)] = &[
    ("purchase_history", Kind::Values),
    ("preferred_channels", Kind::TextList),
];

/// The oldest age taken from a response; anything above is not an age.
const MAX_AGE: u64 = 150;

/// How a response value becomes a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A string field: a string (trimmed, empty skipped), a number's text, `true`/`false`.
    Text,
    /// A list of strings: an array of what [`Kind::Text`] takes, or one such value;
    /// repeats (ignoring case) are dropped.
    TextList,
    /// `demographics.age`: a whole number 0..=150, or a string holding one.
    Age,
    /// `social.connections`: a whole non-negative number, or a string holding one.
    Count,
    /// `social.influence`: a number 0..=1, or a string holding one.
    Fraction,
    /// `behavior.engagement.<key>`: a number, or a string holding one.
    Figure,
    /// `behavior.purchase_history`: an array's non-null items as they are, or one value.
    Values,
    /// `contextual.<key>`: any non-null value as it is.
    Any,
}

/// One mapped field: where it goes in the `Enrichment` JSON and how to convert into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// Keys from the `Enrichment` root: `["identity", "name"]`, `["extra", "plan"]`.
    path: Vec<String>,
    kind: Kind,
    section: Capability,
}

impl Target {
    /// Parse a mapping key such as `identity.name` or `contextual.plan`.
    pub(crate) fn parse(key: &str) -> Result<Target, String> {
        let (section, field) = key.split_once('.').unwrap_or((key, ""));
        let fixed = |capability, fields: &[(&str, Kind)], example: &str| {
            let found = fields.iter().find(|(name, _)| *name == field);
            match found {
                Some((name, kind)) => Ok(Target {
                    path: vec![section.to_owned(), (*name).to_owned()],
                    kind: *kind,
                    section: capability,
                }),
                None => Err(unknown(section, field, fields, example)),
            }
        };
        match section {
            "identity" => match field.strip_prefix("handles.") {
                Some(platform) => {
                    check_name(platform, true).map_err(|why| {
                        format!("`{platform}` {why}, e.g. identity.handles.github")
                    })?;
                    Ok(Target {
                        path: vec!["identity".into(), "handles".into(), platform.into()],
                        kind: Kind::Text,
                        section: Capability::Identity,
                    })
                }
                None if field == "handles" => {
                    Err("name the platform of the handle, e.g. identity.handles.github".into())
                }
                None => fixed(Capability::Identity, IDENTITY, "identity.name"),
            },
            "demographics" => fixed(
                Capability::Demographics,
                DEMOGRAPHICS,
                "demographics.country",
            ),
            "social" => fixed(Capability::Social, SOCIAL, "social.connections"),
            "behavior" => match field.strip_prefix("engagement.") {
                Some(name) => {
                    check_name(name, false)
                        .map_err(|why| format!("`{name}` {why}, e.g. behavior.engagement.score"))?;
                    Ok(Target {
                        path: vec!["behavior".into(), "engagement".into(), name.into()],
                        kind: Kind::Figure,
                        section: Capability::Behavior,
                    })
                }
                None if field == "engagement" => {
                    Err("name the engagement figure, e.g. behavior.engagement.score".into())
                }
                None => fixed(
                    Capability::Behavior,
                    BEHAVIOR,
                    "behavior.preferred_channels",
                ),
            },
            "interests" if field.is_empty() => Ok(Target {
                path: vec!["interests".into()],
                kind: Kind::TextList,
                section: Capability::Interests,
            }),
            "contextual" if !field.is_empty() => {
                check_name(field, false)
                    .map_err(|why| format!("`{field}` {why}, e.g. contextual.plan"))?;
                Ok(Target {
                    path: vec!["extra".into(), field.into()],
                    kind: Kind::Any,
                    section: Capability::Contextual,
                })
            }
            "contextual" => Err("name the fact, e.g. contextual.plan".into()),
            _ => Err(
                "is not a profile field: fields are identity.<name, emails, handles.<platform>, \
                 avatar_url, bio, company, job_title>, demographics.<age, gender, location, \
                 country, city, education, occupation>, interests, social.<platforms, \
                 connections, influence, communities>, behavior.<purchase_history, \
                 preferred_channels, engagement.<key>> and contextual.<key>, e.g. identity.name"
                    .into(),
            ),
        }
    }
}

fn unknown(section: &str, field: &str, fields: &[(&str, Kind)], example: &str) -> String {
    let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    let extra = match section {
        "identity" => ", handles.<platform>",
        "behavior" => ", engagement.<key>",
        _ => "",
    };
    format!(
        "`{field}` is not a field of {section}, which has {}{extra}, e.g. {example}",
        names.join(", ")
    )
}

/// Handle platforms follow the SDK's identifiers (lower case, digits, `_`, at most 32);
/// engagement and contextual keys also allow upper case and `-` (at most 64).
fn check_name(name: &str, platform: bool) -> Result<(), &'static str> {
    let max = if platform { 32 } else { 64 };
    let valid = !name.is_empty()
        && name.len() <= max
        && name.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || b == b'_'
                || (!platform && (b.is_ascii_uppercase() || b == b'-'))
        });
    match (valid, platform) {
        (true, _) => Ok(()),
        (false, true) => Err("is not a platform name (1-32 of a-z, 0-9, _)"),
        (false, false) => Err("is not a key (1-64 letters, digits, `_` or `-`)"),
    }
}

/// Check a JSON pointer (RFC 6901): empty (the whole document) or `/`-separated tokens with
/// `~0` and `~1` as the only escapes.
pub(crate) fn check_pointer(pointer: &str) -> Result<(), String> {
    if !pointer.is_empty() && !pointer.starts_with('/') {
        let suggestion = format!("/{}", pointer.replace('.', "/"));
        return Err(format!(
            "`{pointer}` is not a JSON pointer: it starts with `/`, e.g. {suggestion}"
        ));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(format!(
                "`{pointer}` has a `~` that is not `~0` (for ~) or `~1` (for /), e.g. /a~1b"
            ));
        }
    }
    Ok(())
}

/// The checked mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mapping {
    fields: Vec<(Target, String)>,
}

impl Mapping {
    pub(crate) fn new(fields: Vec<(Target, String)>) -> Mapping {
        Mapping { fields }
    }

    /// The profile sections the mapping fills, sorted.
    pub(crate) fn capabilities(&self) -> Vec<Capability> {
        let mut sections: Vec<Capability> = self.fields.iter().map(|(t, _)| t.section).collect();
        sections.sort();
        sections.dedup();
        sections
    }

    /// Map a response body. A pointer that finds nothing (or null) leaves its field empty; a
    /// value that does not convert is skipped; neither fails the answer.
    pub(crate) fn apply(&self, body: &Value) -> Result<Enrichment, ConnectorError> {
        let mut root = Map::new();
        for (target, pointer) in &self.fields {
            let Some(found) = body.pointer(pointer).filter(|v| !v.is_null()) else {
                continue;
            };
            if let Some(value) = convert(target.kind, found) {
                insert(&mut root, &target.path, value);
            }
        }
        serde_json::from_value(Value::Object(root)).map_err(|_| {
            // Unreachable by construction; said plainly should it ever happen.
            ConnectorError::bad_response("the mapped response does not form a valid profile")
        })
    }
}

/// Put `value` at `path`, creating the objects on the way.
fn insert(root: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = root;
    for key in parents {
        let child = node
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(child) = child else {
            return;
        };
        node = child;
    }
    node.insert(last.clone(), value);
}

/// `value` converted for a field of `kind`, or `None` when it does not fit.
pub(crate) fn convert(kind: Kind, value: &Value) -> Option<Value> {
    match kind {
        Kind::Text => scalar(value).map(Value::String),
        Kind::TextList => {
            let items: Vec<String> = match value {
                Value::Array(items) => items.iter().filter_map(scalar).collect(),
                other => scalar(other).into_iter().collect(),
            };
            // Linear: a response may hold 100,000 tags.
            let unique = text::unique_ignoring_ascii_case(items);
            (!unique.is_empty()).then(|| Value::from(unique))
        }
        Kind::Age => whole(value).filter(|age| *age <= MAX_AGE).map(Value::from),
        Kind::Count => whole(value).map(Value::from),
        Kind::Fraction => number(value)
            .and_then(|n| n.as_f64())
            .filter(|f| (0.0..=1.0).contains(f))
            .map(Value::from),
        Kind::Figure => number(value).map(Value::Number),
        Kind::Values => {
            let items: Vec<Value> = match value {
                Value::Array(items) => items.iter().filter(|v| !v.is_null()).cloned().collect(),
                other => vec![other.clone()],
            };
            (!items.is_empty()).then_some(Value::Array(items))
        }
        Kind::Any => Some(value.clone()),
    }
}

/// A number, or a string holding one (integers stay integers).
fn number(value: &Value) -> Option<Number> {
    match value {
        Value::Number(number) => Some(number.clone()),
        Value::String(written) => text::number(written),
        _ => None,
    }
}

/// A whole non-negative number (`12`, `12.0`, `"12"`).
fn whole(value: &Value) -> Option<u64> {
    let number = number(value)?;
    if let Some(integer) = number.as_u64() {
        return Some(integer);
    }
    let float = number.as_f64()?;
    // Below 2^53 every whole f64 is exact.
    let exact = float >= 0.0 && float.fract() == 0.0 && float < 9_007_199_254_740_992.0;
    exact.then_some(float as u64)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping(pairs: &[(&str, &str)]) -> Mapping {
        Mapping::new(
            pairs
                .iter()
                .map(|(key, pointer)| (Target::parse(key).unwrap(), (*pointer).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn every_documented_target_parses() {
        for key in [
            "identity.name",
            "identity.emails",
            "identity.handles.github",
            "identity.avatar_url",
            "identity.bio",
            "identity.company",
            "identity.job_title",
            "demographics.age",
            "demographics.gender",
            "demographics.location",
            "demographics.country",
            "demographics.city",
            "demographics.education",
            "demographics.occupation",
            "interests",
            "social.platforms",
            "social.connections",
            "social.influence",
            "social.communities",
            "behavior.purchase_history",
            "behavior.preferred_channels",
            "behavior.engagement.score",
            "contextual.plan",
            "contextual.Account-ID",
        ] {
            assert!(Target::parse(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn unknown_targets_say_what_would_be_right() {
        let cases = [
            ("identity.nme", "identity.name"),
            ("identity.handles", "identity.handles.github"),
            ("identity.handles.Git Hub", "identity.handles.github"),
            ("demographics", "demographics.country"),
            ("interests.music", "identity.name"),
            ("behavior.engagement", "behavior.engagement.score"),
            ("behavior.engagement.a.b", "behavior.engagement.score"),
            ("contextual", "contextual.plan"),
            ("contextual.a.b", "contextual.plan"),
            ("extra.plan", "identity.name"),
            ("confidence", "identity.name"),
        ];
        for (key, example) in cases {
            let err = Target::parse(key).unwrap_err();
            assert!(err.contains(example), "{key}: {err}");
        }
    }

    #[test]
    fn pointers_must_be_rfc_6901() {
        assert!(check_pointer("").is_ok());
        assert!(check_pointer("/a/b~1c/~0d/0").is_ok());
        let err = check_pointer("person.full_name").unwrap_err();
        assert!(err.contains("/person/full_name"), "{err}");
        assert!(check_pointer("/a~2").is_err());
        assert!(check_pointer("/a~").is_err());
    }

    #[test]
    fn every_kind_of_value_maps_into_a_valid_enrichment() {
        let all = mapping(&[
            ("identity.name", "/name"),
            ("identity.emails", "/emails"),
            ("identity.handles.github", "/gh"),
            ("demographics.age", "/age"),
            ("social.connections", "/followers"),
            ("social.influence", "/influence"),
            ("interests", "/tags"),
            ("behavior.purchase_history", "/orders"),
            ("behavior.engagement.score", "/score"),
            ("contextual.raw", "/raw"),
        ]);
        let enrichment = all
            .apply(&json!({
                "name": 42,
                "emails": ["a@example.com", "A@example.com", " ", null, {"x": 1}, 7],
                "gh": true,
                "age": "36",
                "followers": 1200.0,
                "influence": "0.25",
                "tags": "chess",
                "orders": [{"id": 1}, null, "gift"],
                "score": " 87.5 ",
                "raw": {"nested": [1, 2]},
            }))
            .unwrap();
        assert_eq!(enrichment.identity.name.as_deref(), Some("42"));
        assert_eq!(enrichment.identity.emails, ["a@example.com", "7"]);
        assert_eq!(enrichment.identity.handles["github"], "true");
        assert_eq!(enrichment.demographics.age, Some(36));
        assert_eq!(enrichment.social.connections, Some(1200));
        assert_eq!(enrichment.social.influence, Some(0.25));
        assert_eq!(enrichment.interests, ["chess"]);
        assert_eq!(
            enrichment.behavior.purchase_history,
            [json!({"id": 1}), json!("gift")]
        );
        assert_eq!(enrichment.behavior.engagement["score"], json!(87.5));
        assert_eq!(enrichment.extra["raw"], json!({"nested": [1, 2]}));
    }

    #[test]
    fn values_of_the_wrong_shape_are_skipped_one_by_one() {
        let all = mapping(&[
            ("identity.name", "/name"),
            ("identity.emails", "/emails"),
            ("demographics.age", "/age"),
            ("social.connections", "/followers"),
            ("social.influence", "/influence"),
            ("behavior.engagement.score", "/score"),
            ("behavior.purchase_history", "/orders"),
            ("demographics.city", "/city"),
        ]);
        let enrichment = all
            .apply(&json!({
                "name": {"first": "Ada"},
                "emails": {"work": "a@example.com"},
                "age": 400,
                "followers": -3,
                "influence": 1.5,
                "score": "high",
                "orders": [],
                "city": "Boston",
            }))
            .unwrap();
        let mut expected = Enrichment::default();
        expected.demographics.city = Some("Boston".into());
        assert_eq!(enrichment, expected);
    }

    #[test]
    fn missing_and_null_pointers_fill_nothing() {
        let enrichment = mapping(&[("identity.name", "/a/b/c"), ("contextual.x", "/x")])
            .apply(&json!({"a": [1], "x": null}))
            .unwrap();
        assert!(enrichment.is_empty());
    }

    #[test]
    fn capabilities_are_the_mapped_sections() {
        let m = mapping(&[
            ("contextual.plan", "/p"),
            ("identity.name", "/n"),
            ("identity.bio", "/b"),
            ("interests", "/i"),
        ]);
        assert_eq!(
            m.capabilities(),
            [
                Capability::Identity,
                Capability::Interests,
                Capability::Contextual
            ]
        );
    }

    #[test]
    fn long_text_lists_lose_their_repeats_in_linear_time() {
        // Quadratic, this held a worker for over a minute.
        let tags: Vec<Value> = (0..100_000)
            .map(|i| json!(format!("tag-{i}")))
            .chain(
                (0..100_000)
                    .step_by(1000)
                    .map(|i| json!(format!("TAG-{i}"))),
            )
            .chain([json!("Tag-99999"), json!(" tag-5 "), json!(null), json!(42)])
            .collect();
        let started = std::time::Instant::now();
        let enrichment = mapping(&[("interests", "/tags")])
            .apply(&json!({ "tags": tags }))
            .unwrap();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        let interests = &enrichment.interests;
        assert_eq!(interests.len(), 100_001);
        assert!(
            interests[..100_000]
                .iter()
                .enumerate()
                .all(|(i, tag)| *tag == format!("tag-{i}"))
        );
        assert_eq!(interests[100_000], "42");
    }
}

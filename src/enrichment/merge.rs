//! The merge rules of PRODUCT.md §3: many connector answers become one profile with provenance.
//!
//! - A scalar takes the value of the most confident source; ties go to the earlier source in
//!   `enrichment.priority`, then to the fresher answer.
//! - Lists are unioned without duplicates (strings compared case-insensitively), most
//!   confident source first.
//! - `social.connections` adds up across distinct platforms (per platform, the most confident
//!   source counts).
//! - Maps of scalars (`identity.handles`, `behavior.engagement`) merge key by key as scalars.
//! - Each connector's extra facts go under `contextual.<connector>`.
//! - Every filled field gets a provenance entry; the profile's confidence is the mean
//!   confidence of its filled fields.
//!
//! The rules work on the JSON form of the sections, so a field added to the SDK's profile types
//! is merged without touching this file.

use std::{collections::BTreeMap, time::SystemTime};

use enrichd_sdk::Enrichment;
use serde_json::{Map, Value};

use super::profile::{ProfileBody, Provenance, timestamp};

/// One connector's successful answer, ready to merge.
#[derive(Debug, Clone)]
pub struct SourceAnswer {
    pub connector: String,
    pub enrichment: Enrichment,
    /// The confidence it is merged with (the answer's own, else the configured one).
    pub confidence: f64,
    /// Position in `enrichment.priority` (lower wins ties).
    pub priority_rank: usize,
    pub fetched_at: SystemTime,
}

/// The merged sections with their provenance.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Merged {
    pub body: ProfileBody,
    pub provenance: BTreeMap<String, Provenance>,
    pub confidence: f64,
}

/// The section objects whose nested maps hold independent scalars.
const SCALAR_MAPS: [&str; 2] = ["identity.handles", "behavior.engagement"];
const CONNECTIONS: &str = "social.connections";

/// Merge `answers` (in any order) into one profile.
pub fn merge(mut answers: Vec<SourceAnswer>) -> Merged {
    answers.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then(a.priority_rank.cmp(&b.priority_rank))
            .then(b.fetched_at.cmp(&a.fetched_at))
    });
    let mut fields: BTreeMap<String, Field> = BTreeMap::new();
    for (index, answer) in answers.iter().enumerate() {
        let sections = sections_of(&answer.enrichment);
        for (section, value) in sections {
            collect(&section, value, index, answer, &mut fields);
        }
        if !answer.enrichment.extra.is_empty() {
            let extra = Value::Object(answer.enrichment.extra.clone());
            scalar(
                &format!("contextual.{}", answer.connector),
                extra,
                index,
                &mut fields,
            );
        }
    }

    let mut root = Map::new();
    let mut provenance = BTreeMap::new();
    for (path, field) in fields {
        let (value, contributors) = match field {
            Field::Scalar { value, source } => (value, vec![source]),
            Field::List { items, sources } => (Value::Array(items), sources),
            Field::Connections { per_platform } => {
                let total: u64 = per_platform.values().map(|(count, _)| count).sum();
                let mut sources: Vec<usize> = per_platform.values().map(|(_, s)| *s).collect();
                sources.sort_unstable();
                sources.dedup();
                (Value::from(total), sources)
            }
        };
        let top = &answers[contributors[0]];
        provenance.insert(
            path.clone(),
            Provenance {
                source: top.connector.clone(),
                confidence: top.confidence,
                fetched_at: timestamp(top.fetched_at),
                sources: if contributors.len() > 1 {
                    contributors
                        .iter()
                        .map(|&i| answers[i].connector.clone())
                        .collect()
                } else {
                    Vec::new()
                },
            },
        );
        insert_at(&mut root, &path, value);
    }
    let body: ProfileBody = serde_json::from_value(Value::Object(root))
        .expect("merged sections have the shape of the sections they came from");
    let confidence = if provenance.is_empty() {
        0.0
    } else {
        let sum: f64 = provenance.values().map(|p| p.confidence).sum();
        (sum / provenance.len() as f64 * 100.0).round() / 100.0
    };
    Merged {
        body,
        provenance,
        confidence,
    }
}

/// A field being merged; indexes point into the sorted answers.
enum Field {
    Scalar {
        value: Value,
        source: usize,
    },
    List {
        items: Vec<Value>,
        sources: Vec<usize>,
    },
    Connections {
        per_platform: BTreeMap<String, (u64, usize)>,
    },
}

/// The JSON sections of one answer, keyed by their profile path.
fn sections_of(enrichment: &Enrichment) -> Vec<(String, Value)> {
    let json = |value: Result<Value, serde_json::Error>| value.unwrap_or(Value::Null);
    vec![
        (
            "identity".into(),
            json(serde_json::to_value(&enrichment.identity)),
        ),
        (
            "demographics".into(),
            json(serde_json::to_value(&enrichment.demographics)),
        ),
        (
            "interests".into(),
            json(serde_json::to_value(&enrichment.interests)),
        ),
        (
            "social".into(),
            json(serde_json::to_value(&enrichment.social)),
        ),
        (
            "behavior".into(),
            json(serde_json::to_value(&enrichment.behavior)),
        ),
    ]
}

fn collect(
    path: &str,
    value: Value,
    index: usize,
    answer: &SourceAnswer,
    fields: &mut BTreeMap<String, Field>,
) {
    match value {
        Value::Null => {}
        Value::String(ref s) if s.trim().is_empty() => {}
        Value::Array(ref items) if items.is_empty() => {}
        // Below a scalar map (handles, engagement) every value is a scalar, kept whole.
        value if is_scalar_map_entry(path) => scalar(path, value, index, fields),
        Value::Object(map) => {
            for (key, inner) in map {
                collect(&format!("{path}.{key}"), inner, index, answer, fields);
            }
        }
        Value::Array(items) => {
            let field = fields.entry(path.to_owned()).or_insert(Field::List {
                items: Vec::new(),
                sources: Vec::new(),
            });
            if let Field::List {
                items: merged,
                sources,
            } = field
            {
                let before = merged.len();
                for item in items {
                    if !merged.iter().any(|seen| same_item(seen, &item)) {
                        merged.push(item);
                    }
                }
                if merged.len() > before || sources.is_empty() {
                    sources.push(index);
                }
            }
        }
        value if path == CONNECTIONS => {
            let Some(count) = value.as_u64() else { return };
            let platform = answer
                .enrichment
                .social
                .platforms
                .first()
                .unwrap_or(&answer.connector)
                .to_lowercase();
            let field = fields.entry(path.to_owned()).or_insert(Field::Connections {
                per_platform: BTreeMap::new(),
            });
            if let Field::Connections { per_platform } = field {
                per_platform.entry(platform).or_insert((count, index));
            }
        }
        value => scalar(path, value, index, fields),
    }
}

/// The first (most confident) source of a scalar wins.
fn scalar(path: &str, value: Value, index: usize, fields: &mut BTreeMap<String, Field>) {
    fields.entry(path.to_owned()).or_insert(Field::Scalar {
        value,
        source: index,
    });
}

/// Whether `path` is a key directly inside a scalar map (`identity.handles.github`).
fn is_scalar_map_entry(path: &str) -> bool {
    SCALAR_MAPS.iter().any(|map| {
        path.strip_prefix(map)
            .and_then(|rest| rest.strip_prefix('.'))
            .is_some_and(|key| !key.is_empty())
    })
}

/// List items are the same when equal, strings case-insensitively.
fn same_item(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(a), Value::String(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => a == b,
    }
}

/// Put `value` at a dotted `path`, creating objects on the way. Only the section prefixes are
/// split: the key inside a scalar map or under `contextual` is kept whole.
fn insert_at(root: &mut Map<String, Value>, path: &str, value: Value) {
    let depth = if is_scalar_map_entry(path) { 3 } else { 2 };
    let segments: Vec<&str> = path.splitn(depth, '.').collect();
    let (last, parents) = segments.split_last().expect("paths are never empty");
    let mut node = root;
    for segment in parents {
        node = node
            .entry(segment.to_string())
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .expect("profile paths only nest objects");
    }
    node.insert((*last).to_owned(), value);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use enrichd_sdk::{Identity, Social};
    use serde_json::json;

    use super::*;

    fn answer(
        connector: &str,
        confidence: f64,
        rank: usize,
        enrichment: Enrichment,
    ) -> SourceAnswer {
        SourceAnswer {
            connector: connector.into(),
            enrichment,
            confidence,
            priority_rank: rank,
            fetched_at: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        }
    }

    fn named(name: &str) -> Enrichment {
        Enrichment {
            identity: Identity {
                name: Some(name.into()),
                ..Identity::default()
            },
            ..Enrichment::default()
        }
    }

    #[test]
    fn the_most_confident_scalar_wins() {
        let merged = merge(vec![
            answer("github", 0.8, 1, named("Octo Cat")),
            answer("hubspot", 0.9, 0, named("Bryan Cooper")),
        ]);
        assert_eq!(merged.body.identity.name.as_deref(), Some("Bryan Cooper"));
        assert_eq!(merged.provenance["identity.name"].source, "hubspot");
        assert_eq!(merged.provenance["identity.name"].confidence, 0.9);
    }

    #[test]
    fn ties_go_to_priority_then_freshness() {
        let merged = merge(vec![
            answer("github", 0.8, 1, named("From GitHub")),
            answer("hubspot", 0.8, 0, named("From HubSpot")),
        ]);
        assert_eq!(merged.body.identity.name.as_deref(), Some("From HubSpot"));

        let mut older = answer("a", 0.8, 5, named("Older"));
        older.fetched_at -= Duration::from_secs(60);
        let newer = answer("b", 0.8, 5, named("Newer"));
        let merged = merge(vec![older, newer]);
        assert_eq!(merged.body.identity.name.as_deref(), Some("Newer"));
    }

    #[test]
    fn an_absent_or_blank_value_never_hides_another_source() {
        let merged = merge(vec![
            answer("hubspot", 0.9, 0, named("  ")),
            answer("github", 0.5, 1, named("Octo")),
        ]);
        assert_eq!(merged.body.identity.name.as_deref(), Some("Octo"));
        assert_eq!(merged.provenance["identity.name"].source, "github");
    }

    #[test]
    fn lists_are_unioned_case_insensitively() {
        let a = Enrichment {
            interests: vec!["Rust".into(), "databases".into()],
            ..Enrichment::default()
        };
        let b = Enrichment {
            interests: vec!["rust".into(), "Go".into()],
            ..Enrichment::default()
        };
        let merged = merge(vec![answer("a", 0.9, 0, a), answer("b", 0.5, 1, b)]);
        assert_eq!(merged.body.interests, ["Rust", "databases", "Go"]);
        assert_eq!(merged.provenance["interests"].source, "a");
        assert_eq!(merged.provenance["interests"].sources, ["a", "b"]);
    }

    #[test]
    fn connections_add_up_across_distinct_platforms() {
        let social = |platform: &str, count| Enrichment {
            social: Social {
                platforms: vec![platform.into()],
                connections: Some(count),
                ..Social::default()
            },
            ..Enrichment::default()
        };
        let merged = merge(vec![
            answer("github", 0.8, 0, social("github", 20)),
            answer("x", 0.7, 1, social("x", 100)),
            answer("github_mirror", 0.5, 2, social("github", 999)),
        ]);
        assert_eq!(merged.body.social.connections, Some(120));
        assert_eq!(merged.body.social.platforms, ["github", "x"]);
        assert_eq!(
            merged.provenance["social.connections"].sources,
            ["github", "x"]
        );
    }

    #[test]
    fn scalar_maps_merge_key_by_key() {
        let handles = |pairs: &[(&str, &str)]| Enrichment {
            identity: Identity {
                handles: pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Identity::default()
            },
            ..Enrichment::default()
        };
        let merged = merge(vec![
            answer(
                "github",
                0.8,
                0,
                handles(&[("github", "octocat"), ("x", "octo_x")]),
            ),
            answer("x", 0.9, 1, handles(&[("x", "real_x")])),
        ]);
        assert_eq!(merged.body.identity.handles["github"], "octocat");
        assert_eq!(merged.body.identity.handles["x"], "real_x");
        assert_eq!(merged.provenance["identity.handles.x"].source, "x");
    }

    #[test]
    fn extra_facts_go_under_contextual_by_connector() {
        let mut enrichment = named("Bryan");
        enrichment
            .extra
            .insert("lifecycle_stage".into(), json!("customer"));
        let merged = merge(vec![answer("hubspot", 0.9, 0, enrichment)]);
        assert_eq!(
            merged.body.contextual["hubspot"]["lifecycle_stage"],
            "customer"
        );
        assert_eq!(merged.provenance["contextual.hubspot"].source, "hubspot");
    }

    #[test]
    fn every_filled_field_has_provenance_and_confidence_is_their_mean() {
        let mut a = named("Bryan");
        a.identity.company = Some("Biglytics".into());
        let b = Enrichment {
            interests: vec!["rust".into()],
            ..Enrichment::default()
        };
        let merged = merge(vec![
            answer("hubspot", 0.9, 0, a),
            answer("github", 0.6, 1, b),
        ]);
        let paths: Vec<_> = merged.provenance.keys().cloned().collect();
        assert_eq!(paths, ["identity.company", "identity.name", "interests"]);
        assert_eq!(merged.confidence, 0.8);
    }

    #[test]
    fn nothing_to_merge_gives_an_empty_profile() {
        let merged = merge(Vec::new());
        assert_eq!(merged.body, ProfileBody::default());
        assert_eq!(merged.confidence, 0.0);
    }
}

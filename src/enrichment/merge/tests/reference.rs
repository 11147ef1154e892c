//! The JSON-based merge that the typed one replaced, verbatim but for agreement and conflicts
//! of text scalars (PRODUCT.md §10), added here the JSON way: the oracle of the equivalence
//! test.

use std::collections::BTreeMap;

use enrichd_sdk::Enrichment;
use serde_json::{Map, Value};

use super::super::{Merged, SourceAnswer};
use crate::enrichment::profile::{Conflict, ProfileBody, Provenance, timestamp};

/// The section objects whose nested maps hold independent scalars.
const SCALAR_MAPS: [&str; 2] = ["identity.handles", "behavior.engagement"];
const CONNECTIONS: &str = "social.connections";

/// The JSON-based merge this module used to be, verbatim: the reference for equivalence.
pub(super) fn reference_merge(mut answers: Vec<SourceAnswer>) -> Merged {
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
        let mut agreement = (Vec::new(), Vec::new());
        let (value, contributors) = match field {
            Field::Scalar {
                value,
                source,
                agreeing,
                conflicts,
            } => {
                agreement = (agreeing, conflicts);
                (value, vec![source])
            }
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
        let (agreeing, conflicts) = agreement;
        let unsure = agreeing.iter().fold(1.0 - top.confidence, |p, &i| {
            p * (1.0 - answers[i].confidence)
        });
        provenance.insert(
            path.clone(),
            Provenance {
                source: top.connector.clone(),
                confidence: if agreeing.is_empty() {
                    top.confidence
                } else {
                    1.0 - unsure
                },
                agreeing: agreeing
                    .iter()
                    .map(|&i| answers[i].connector.clone())
                    .collect(),
                conflicts: conflicts
                    .into_iter()
                    .map(|(i, value)| Conflict {
                        source: answers[i].connector.clone(),
                        value,
                        confidence: answers[i].confidence,
                    })
                    .collect(),
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
        /// Text scalars: the later sources with the same text (trimmed, case-folded), and the
        /// others with theirs.
        agreeing: Vec<usize>,
        conflicts: Vec<(usize, Value)>,
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
        Value::String(text) => {
            let folded = |t: &str| t.trim().to_lowercase();
            match fields.get_mut(path) {
                Some(Field::Scalar {
                    value: Value::String(won),
                    agreeing,
                    conflicts,
                    ..
                }) => {
                    if folded(won) == folded(&text) {
                        agreeing.push(index);
                    } else {
                        conflicts.push((index, Value::String(text)));
                    }
                }
                _ => scalar(path, Value::String(text), index, fields),
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
        agreeing: Vec::new(),
        conflicts: Vec::new(),
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

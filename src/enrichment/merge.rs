//! The merge rules of PRODUCT.md §3: many connector answers become one profile with provenance.
//!
//! - A scalar takes the value of the most confident source; ties go to the earlier source in
//!   `enrichment.priority`, then to the fresher answer. For text scalars, the provenance lists
//!   the other sources that agree (same text after trimming and case folding; the confidence is
//!   then 1 − Π(1 − cᵢ), noisy-OR over independent sources) and those that disagree, with their
//!   values (PRODUCT.md §10).
//! - Lists are unioned without duplicates (strings compared case-insensitively), most
//!   confident source first, in time linear in their length (a hashed key per item).
//! - `social.connections` adds up across distinct platforms (per platform, the most confident
//!   source counts).
//! - Maps of scalars (`identity.handles`, `behavior.engagement`) merge key by key as scalars.
//! - Each connector's extra facts go under `contextual.<connector>`.
//! - Every filled field gets a provenance entry; the profile's confidence is the mean
//!   confidence of its filled fields.
//!
//! A value counts as absent when it is `None`, a blank string, an empty list or a non-finite
//! `social.influence`, and as a value of `behavior.engagement` also when it is JSON `null`; an
//! absent value never hides another source's value. List items and the facts under
//! `contextual` are kept as the source gave them.
//!
//! The rules work on the typed sections, field by field: no JSON round trip. The merged
//! sections are built with exhaustive struct literals, so a field added to the SDK's profile
//! types does not compile until it is given a rule here, and the test
//! `every_sdk_field_is_merged` checks that every field of a fully populated answer reaches the
//! merged profile with its provenance.

use std::{
    cmp::Ordering,
    collections::{BTreeMap, HashSet},
    mem,
    time::SystemTime,
};

use enrichd_sdk::{Behavior, Demographics, Enrichment, Identity, Social};
use serde_json::{Map, Value};

use super::profile::{Conflict, ProfileBody, Provenance, timestamp};

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

/// The provenance path of the summed connection count.
const CONNECTIONS: &str = "social.connections";

/// Merge `answers` (in any order) into one profile.
///
/// The answers are consumed: each winning value moves into the profile rather than being
/// copied.
pub fn merge(mut answers: Vec<SourceAnswer>) -> Merged {
    answers.sort_by(precedence);
    let mut merger = Merger::new(answers);
    let body = ProfileBody {
        identity: merger.identity(),
        demographics: merger.demographics(),
        interests: merger.texts("interests", |e| &mut e.interests),
        social: merger.social(),
        behavior: merger.behavior(),
        contextual: merger.contextual(),
    };
    let provenance = merger.provenance;
    let confidence = mean_confidence(&provenance);
    Merged {
        body,
        provenance,
        confidence,
    }
}

/// The merge order: most confident first, then earlier in `enrichment.priority`, then fresher.
/// The sort is stable, so answers equal on all three keep their order.
fn precedence(a: &SourceAnswer, b: &SourceAnswer) -> Ordering {
    b.confidence
        .total_cmp(&a.confidence)
        .then(a.priority_rank.cmp(&b.priority_rank))
        .then(b.fetched_at.cmp(&a.fetched_at))
}

/// The mean confidence of the filled fields, to two decimals (0 when none is filled).
pub(super) fn mean_confidence(provenance: &BTreeMap<String, Provenance>) -> f64 {
    if provenance.is_empty() {
        return 0.0;
    }
    let sum: f64 = provenance.values().map(|p| p.confidence).sum();
    (sum / provenance.len() as f64 * 100.0).round() / 100.0
}

/// Merges the sorted answers one field at a time, moving each winning value out of its answer,
/// and records each filled field's provenance.
///
/// Contributors are indexes into the sorted answers, so the first one is the most confident.
/// Each field is read from the answers once, by its own rule, so a value moved out is never
/// looked at again (`social.platforms`, which `social.connections` also reads, comes after it).
struct Merger {
    /// The answers, most confident first; winning values are moved out of them.
    answers: Vec<SourceAnswer>,
    /// Each answer's `fetched_at` as the API writes it, formatted the first time it is needed.
    fetched_at: Vec<Option<String>>,
    /// The provenance of each filled field, by path.
    provenance: BTreeMap<String, Provenance>,
}

impl Merger {
    fn new(answers: Vec<SourceAnswer>) -> Self {
        Merger {
            fetched_at: vec![None; answers.len()],
            answers,
            provenance: BTreeMap::new(),
        }
    }

    fn identity(&mut self) -> Identity {
        Identity {
            name: self.text("identity.name", |e| &mut e.identity.name),
            emails: self.texts("identity.emails", |e| &mut e.identity.emails),
            handles: self.scalar_map(
                "identity.handles",
                |e| &mut e.identity.handles,
                |v| filled(v),
            ),
            avatar_url: self.text("identity.avatar_url", |e| &mut e.identity.avatar_url),
            bio: self.text("identity.bio", |e| &mut e.identity.bio),
            company: self.text("identity.company", |e| &mut e.identity.company),
            job_title: self.text("identity.job_title", |e| &mut e.identity.job_title),
        }
    }

    fn demographics(&mut self) -> Demographics {
        Demographics {
            age: self.first("demographics.age", |e| &mut e.demographics.age, |_| true),
            gender: self.text("demographics.gender", |e| &mut e.demographics.gender),
            location: self.text("demographics.location", |e| &mut e.demographics.location),
            country: self.text("demographics.country", |e| &mut e.demographics.country),
            city: self.text("demographics.city", |e| &mut e.demographics.city),
            education: self.text("demographics.education", |e| &mut e.demographics.education),
            occupation: self.text("demographics.occupation", |e| {
                &mut e.demographics.occupation
            }),
        }
    }

    fn social(&mut self) -> Social {
        // Before the platforms move out: they tell which platform each count is on.
        let connections = self.connections();
        Social {
            platforms: self.texts("social.platforms", |e| &mut e.social.platforms),
            connections,
            // A non-finite figure has no JSON form: it counts as absent.
            influence: self.first(
                "social.influence",
                |e| &mut e.social.influence,
                |x| x.is_finite(),
            ),
            communities: self.texts("social.communities", |e| &mut e.social.communities),
        }
    }

    fn behavior(&mut self) -> Behavior {
        Behavior {
            purchase_history: self.list(
                "behavior.purchase_history",
                |e| &mut e.behavior.purchase_history,
                item_key,
            ),
            preferred_channels: self.texts("behavior.preferred_channels", |e| {
                &mut e.behavior.preferred_channels
            }),
            engagement: self.scalar_map(
                "behavior.engagement",
                |e| &mut e.behavior.engagement,
                filled_value,
            ),
        }
    }

    /// Each connector's extra facts, whole, under its name (the most confident answer of a
    /// connector that answered twice).
    fn contextual(&mut self) -> BTreeMap<String, Map<String, Value>> {
        let mut contextual = BTreeMap::new();
        for index in 0..self.answers.len() {
            let answer = &mut self.answers[index];
            if answer.enrichment.extra.is_empty() || contextual.contains_key(&answer.connector) {
                continue;
            }
            let extra = mem::take(&mut answer.enrichment.extra);
            let path = dotted("contextual", &answer.connector);
            contextual.insert(answer.connector.clone(), extra);
            self.record(path, &[index]);
        }
        contextual
    }

    /// The first present value of a scalar, with provenance under `path`.
    fn first<T>(
        &mut self,
        path: &'static str,
        pick: fn(&mut Enrichment) -> &mut Option<T>,
        present: fn(&T) -> bool,
    ) -> Option<T> {
        let (index, value) = self
            .answers
            .iter_mut()
            .enumerate()
            .find_map(|(index, answer)| {
                let value = pick(&mut answer.enrichment).take_if(|value| present(value))?;
                Some((index, value))
            })?;
        self.record(path.to_owned(), &[index]);
        Some(value)
    }

    /// The first non-blank value of a text scalar, with provenance under `path` that says
    /// which other sources agree (same text after trimming and case folding: the confidence is
    /// then 1 − Π(1 − cᵢ) over the agreeing sources) and which disagree, with their values.
    fn text(
        &mut self,
        path: &'static str,
        pick: fn(&mut Enrichment) -> &mut Option<String>,
    ) -> Option<String> {
        let mut winner: Option<(usize, String)> = None;
        let mut agreeing = Vec::new();
        let mut conflicts = Vec::new();
        for (index, answer) in self.answers.iter_mut().enumerate() {
            let Some(text) = pick(&mut answer.enrichment)
                .as_deref()
                .filter(|t| filled(t))
            else {
                continue;
            };
            let folded = text.trim().to_lowercase();
            match &winner {
                None => winner = Some((index, folded)),
                Some((_, won)) if *won == folded => agreeing.push(index),
                Some(_) => conflicts.push(Conflict {
                    source: answer.connector.clone(),
                    value: Value::String(text.to_owned()),
                    confidence: answer.confidence,
                }),
            }
        }
        let (top, _) = winner?;
        let value = pick(&mut self.answers[top].enrichment).take();
        self.record(path.to_owned(), &[top]);
        if let Some(provenance) = self.provenance.get_mut(path) {
            if !agreeing.is_empty() {
                let unsure = agreeing
                    .iter()
                    .fold(1.0 - self.answers[top].confidence, |product, &index| {
                        product * (1.0 - self.answers[index].confidence)
                    });
                provenance.confidence = 1.0 - unsure;
            }
            provenance.agreeing = agreeing
                .iter()
                .map(|&index| self.answers[index].connector.clone())
                .collect();
            provenance.conflicts = conflicts;
        }
        value
    }

    /// The union of a list of strings, compared case-insensitively.
    fn texts(
        &mut self,
        path: &'static str,
        pick: fn(&mut Enrichment) -> &mut Vec<String>,
    ) -> Vec<String> {
        self.list(path, pick, |text| text.to_lowercase())
    }

    /// The union of a list, most confident source first; its contributors are the sources that
    /// added an item. Two items are the same when their `key`s are equal.
    fn list<T>(
        &mut self,
        path: &'static str,
        pick: fn(&mut Enrichment) -> &mut Vec<T>,
        key: fn(&T) -> String,
    ) -> Vec<T> {
        let room: usize = self
            .answers
            .iter_mut()
            .map(|a| pick(&mut a.enrichment).len())
            .sum();
        let mut merged: Vec<T> = Vec::with_capacity(room);
        let mut seen: HashSet<String> = HashSet::with_capacity(room);
        let mut contributors = Vec::new();
        for (index, answer) in self.answers.iter_mut().enumerate() {
            let before = merged.len();
            for item in mem::take(pick(&mut answer.enrichment)) {
                if seen.insert(key(&item)) {
                    merged.push(item);
                }
            }
            if merged.len() > before {
                contributors.push(index);
            }
        }
        self.record(path.to_owned(), &contributors);
        merged
    }

    /// The connections summed over distinct platforms: an answer's platform is its first listed
    /// one (else its connector's name), lower-cased, and the most confident answer of each
    /// platform counts. The sum saturates rather than overflow.
    fn connections(&mut self) -> Option<u64> {
        let mut counted: Vec<(String, u64)> = Vec::new();
        let mut contributors = Vec::new();
        for (index, answer) in self.answers.iter().enumerate() {
            let social = &answer.enrichment.social;
            let Some(count) = social.connections else {
                continue;
            };
            let platform = social
                .platforms
                .first()
                .unwrap_or(&answer.connector)
                .to_lowercase();
            if counted.iter().all(|(seen, _)| *seen != platform) {
                counted.push((platform, count));
                contributors.push(index);
            }
        }
        if contributors.is_empty() {
            return None;
        }
        self.record(CONNECTIONS.to_owned(), &contributors);
        Some(
            counted
                .iter()
                .fold(0, |sum, (_, count)| sum.saturating_add(*count)),
        )
    }

    /// A map of independent scalars merged key by key: each key takes its first present
    /// value, with provenance under `<prefix>.<key>`.
    fn scalar_map<M, V>(
        &mut self,
        prefix: &str,
        pick: fn(&mut Enrichment) -> &mut M,
        present: fn(&V) -> bool,
    ) -> M
    where
        M: Default + IntoIterator<Item = (String, V)> + FromIterator<(String, V)>,
    {
        let mut merged: BTreeMap<String, V> = BTreeMap::new();
        for index in 0..self.answers.len() {
            let entries = mem::take(pick(&mut self.answers[index].enrichment));
            for (key, value) in entries {
                if present(&value) && !merged.contains_key(&key) {
                    self.record(dotted(prefix, &key), &[index]);
                    merged.insert(key, value);
                }
            }
        }
        merged.into_iter().collect()
    }

    /// Record the provenance of the field at `path`, filled by `contributors` (none: not
    /// filled, nothing to record).
    fn record(&mut self, path: String, contributors: &[usize]) {
        let Some(&top) = contributors.first() else {
            return;
        };
        let sources = if contributors.len() > 1 {
            contributors
                .iter()
                .map(|&index| self.answers[index].connector.clone())
                .collect()
        } else {
            Vec::new()
        };
        let provenance = Provenance {
            source: self.answers[top].connector.clone(),
            confidence: self.answers[top].confidence,
            fetched_at: self.fetched_at(top),
            sources,
            agreeing: Vec::new(),
            conflicts: Vec::new(),
        };
        self.provenance.insert(path, provenance);
    }

    /// The `fetched_at` of the answer at `index`, formatted once per answer.
    fn fetched_at(&mut self, index: usize) -> String {
        let at = self.answers[index].fetched_at;
        self.fetched_at[index]
            .get_or_insert_with(|| timestamp(at))
            .clone()
    }
}

/// `<prefix>.<key>`, the provenance path of a key inside a map.
fn dotted(prefix: &str, key: &str) -> String {
    let mut path = String::with_capacity(prefix.len() + 1 + key.len());
    path.push_str(prefix);
    path.push('.');
    path.push_str(key);
    path
}

/// A text is present when it is not blank.
fn filled(text: &str) -> bool {
    !text.trim().is_empty()
}

/// An engagement figure is present unless it is `null`, a blank string or an empty list.
fn filled_value(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(text) => filled(text),
        Value::Array(items) => !items.is_empty(),
        _ => true,
    }
}

/// What makes list items the same: strings lower-cased, other values as their JSON text (which
/// is canonical: objects keep their keys sorted). The leading byte keeps a string apart from
/// any other value's text.
fn item_key(item: &Value) -> String {
    match item {
        Value::String(text) => format!("\u{1}{}", text.to_lowercase()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;

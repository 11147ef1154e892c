//! Tests of the merge rules, including equivalence with the JSON-based merge it replaced.

use std::time::Duration;

use enrichd_sdk::{Identity, Social};
use serde_json::json;

use super::*;

fn answer(connector: &str, confidence: f64, rank: usize, enrichment: Enrichment) -> SourceAnswer {
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
fn agreeing_sources_raise_confidence_and_disagreeing_ones_are_listed() {
    let merged = merge(vec![
        answer("github", 0.8, 1, named(" bryan COOPER")),
        answer("hubspot", 0.9, 0, named("Bryan Cooper")),
        answer("x", 0.5, 2, named("B. Cooper")),
        answer("gravatar", 0.6, 3, named("bryan cooper ")),
    ]);
    assert_eq!(merged.body.identity.name.as_deref(), Some("Bryan Cooper"));
    let provenance = &merged.provenance["identity.name"];
    assert_eq!(provenance.source, "hubspot");
    assert_eq!(provenance.agreeing, ["github", "gravatar"]);
    // 1 − (1 − 0.9)(1 − 0.8)(1 − 0.6)
    assert!(
        (provenance.confidence - 0.992).abs() < 1e-9,
        "{}",
        provenance.confidence
    );
    assert_eq!(provenance.conflicts.len(), 1);
    assert_eq!(provenance.conflicts[0].source, "x");
    assert_eq!(provenance.conflicts[0].value, "B. Cooper");
    assert_eq!(provenance.conflicts[0].confidence, 0.5);
    let alone = merge(vec![answer("hubspot", 0.9, 0, named("Bryan Cooper"))]);
    let provenance = &alone.provenance["identity.name"];
    assert_eq!(
        provenance.confidence, 0.9,
        "a lone source keeps its confidence"
    );
    assert!(provenance.agreeing.is_empty() && provenance.conflicts.is_empty());
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

/// Three answers shaped like HubSpot's, GitHub's and Gravatar's for one person.
fn realistic_answers() -> Vec<SourceAnswer> {
    let parse = |value: Value| -> Enrichment { serde_json::from_value(value).unwrap() };
    let hubspot = parse(json!({
        "identity": {"name": "Bryan Cooper", "emails": ["bcooper@biglytics.net", "bryan@example.com"],
                     "company": "Biglytics", "job_title": "CTO"},
        "demographics": {"city": "Cambridge", "country": "United States",
                         "location": "Cambridge, Massachusetts, United States"},
        "interests": ["Computer Software"],
        "behavior": {"engagement": {"lead_score": 42}},
        "extra": {"contact_id": "51", "lifecycle_stage": "customer", "lead_status": "OPEN",
                  "hubspot_score": 42, "created_at": "2024-01-02T03:04:05Z", "phone": "+1 555 0100"}
    }));
    let github = parse(json!({
        "identity": {"name": "Bryan C.", "emails": ["bryan@example.com"],
                     "handles": {"github": "bcooper", "x": "bryan_c"},
                     "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
                     "bio": "Building data tools", "company": "Biglytics"},
        "demographics": {"location": "Boston"},
        "social": {"platforms": ["github"], "connections": 1200, "influence": 0.513,
                   "communities": ["rust-lang", "Biglytics"]},
        "behavior": {"engagement": {"github_public_repos": 31, "github_public_gists": 4,
                                    "github_followers": 1200, "github_following": 12}},
        "extra": {"id": 1, "profile_url": "https://github.com/bcooper", "blog": "https://bc.dev",
                  "hireable": true, "account_type": "User", "created_at": "2011-01-25T18:44:36Z"}
    }));
    let gravatar = parse(json!({
        "identity": {"name": "Bryan Cooper", "handles": {"github": "bcooper", "mastodon": "@bc@hachyderm.io"},
                     "avatar_url": "https://gravatar.com/avatar/abc", "bio": "Data person",
                     "job_title": "Chief Technology Officer"},
        "demographics": {"location": "Cambridge, MA"},
        "interests": ["rust", "databases", "computer software"],
        "social": {"platforms": ["gravatar", "github", "mastodon"]},
        "extra": {"profile_url": "https://gravatar.com/bcooper", "pronouns": "he/him",
                  "timezone": "America/New_York", "is_organization": false,
                  "number_verified_accounts": 2}
    }));
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    vec![
        SourceAnswer {
            fetched_at: at,
            ..answer("hubspot", 0.9, 0, hubspot)
        },
        SourceAnswer {
            fetched_at: at + Duration::from_secs(1),
            ..answer("github", 0.8, 1, github)
        },
        SourceAnswer {
            fetched_at: at + Duration::from_secs(2),
            ..answer("gravatar", 0.7, 2, gravatar)
        },
    ]
}

/// How long merging the realistic answers takes: run in release with
/// `-- --ignored --nocapture`; `MERGE_ROUNDS` sets the number of merges (10,000).
#[test]
#[ignore]
fn merge_timing() {
    let rounds: u32 = std::env::var("MERGE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10_000);
    let inputs: Vec<_> = (0..rounds).map(|_| realistic_answers()).collect();
    let started = std::time::Instant::now();
    for answers in inputs {
        std::hint::black_box(merge(std::hint::black_box(answers)));
    }
    let elapsed = started.elapsed();
    println!(
        "merge: {rounds} rounds in {elapsed:?}, {:?} per merge",
        elapsed / rounds
    );
}

/// An answer with every field of every section present. The struct literals are exhaustive
/// on purpose: a field added to the SDK does not compile here until it is filled in too.
fn fully_populated() -> Enrichment {
    Enrichment {
        identity: Identity {
            name: Some("Ada Lovelace".into()),
            emails: vec!["ada@example.com".into()],
            handles: BTreeMap::from([("github".into(), "ada".into())]),
            avatar_url: Some("https://example.com/ada.png".into()),
            bio: Some("Analyst".into()),
            company: Some("Analytical Engines".into()),
            job_title: Some("Programmer".into()),
        },
        demographics: Demographics {
            age: Some(36),
            gender: Some("female".into()),
            location: Some("London, United Kingdom".into()),
            country: Some("United Kingdom".into()),
            city: Some("London".into()),
            education: Some("Private tutors".into()),
            occupation: Some("Mathematician".into()),
        },
        interests: vec!["mathematics".into()],
        social: Social {
            platforms: vec!["github".into()],
            connections: Some(20),
            influence: Some(0.22),
            communities: vec!["analysts".into()],
        },
        behavior: Behavior {
            purchase_history: vec![json!({"plan": "pro"})],
            preferred_channels: vec!["email".into()],
            engagement: Map::from_iter([("lead_score".to_owned(), json!(42))]),
        },
        extra: Map::from_iter([("lifecycle_stage".to_owned(), json!("customer"))]),
        confidence: Some(0.9),
    }
}

/// A leaf of an answer: the path it takes in the merged profile, and its value.
type Leaf = (Vec<String>, Value);

/// The leaves of an answer's JSON form: lists and the values of maps are leaves, `extra`
/// goes whole under `contextual.<connector>`, and the answer's own `confidence` is how it
/// is merged, not a profile field.
fn profile_leaves(enrichment: &Enrichment, connector: &str) -> Vec<Leaf> {
    let Value::Object(sections) = serde_json::to_value(enrichment).unwrap() else {
        panic!("an answer is a JSON object");
    };
    let mut leaves = Vec::new();
    for (key, value) in sections {
        match key.as_str() {
            "confidence" => {}
            "extra" => leaves.push((vec!["contextual".into(), connector.into()], value)),
            _ => collect_leaves(vec![key], value, &mut leaves),
        }
    }
    leaves
}

fn collect_leaves(path: Vec<String>, value: Value, leaves: &mut Vec<Leaf>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                let mut inner_path = path.clone();
                inner_path.push(key);
                collect_leaves(inner_path, inner, leaves);
            }
        }
        leaf => leaves.push((path, leaf)),
    }
}

/// The value at `path` in a JSON tree, keys taken whole.
fn value_at<'v>(root: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(root, |node, key| node.get(key))
}

#[test]
fn every_sdk_field_is_merged() {
    let enrichment = fully_populated();
    let leaves = profile_leaves(&enrichment, "hubspot");
    let merged = merge(vec![answer("hubspot", 0.9, 0, enrichment)]);
    let body = serde_json::to_value(&merged.body).unwrap();
    for (path, value) in &leaves {
        let dotted = path.join(".");
        assert_eq!(value_at(&body, path), Some(value), "{dotted} is not merged");
        assert!(
            merged.provenance.contains_key(&dotted),
            "{dotted} has no provenance"
        );
    }
    assert_eq!(merged.provenance.len(), leaves.len());
}

#[test]
fn odd_connector_data_never_panics() {
    let mut first = Enrichment::default();
    first
        .identity
        .handles
        .insert(String::new(), "octocat".into());
    first.behavior.engagement.insert(String::new(), json!(3));
    first.social.platforms = vec!["github".into()];
    first.social.connections = Some(u64::MAX);
    let mut second = Enrichment::default();
    second.social.platforms = vec!["x".into()];
    second.social.connections = Some(5);
    let merged = merge(vec![
        answer("github", 0.9, 0, first),
        answer("x", 0.8, 1, second),
    ]);
    assert_eq!(merged.body.identity.handles[""], "octocat");
    assert_eq!(merged.body.behavior.engagement[""], 3);
    assert!(merged.provenance.contains_key("identity.handles."));
    assert_eq!(merged.body.social.connections, Some(u64::MAX));
}

#[test]
fn the_typed_merge_matches_the_json_reference() {
    let mut cases = vec![
        Vec::new(),
        realistic_answers(),
        vec![answer("a", 0.5, 0, fully_populated())],
    ];
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    cases.extend((0..1_000).map(|_| random.answers()));
    for answers in cases {
        assert_eq!(
            merge(answers.clone()),
            reference::reference_merge(answers.clone()),
            "{answers:#?}"
        );
    }
}

/// A deterministic generator of varied answers (xorshift64): overlapping, conflicting,
/// blank and empty fields, case variants, ties on confidence and priority.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    fn pick<T: Clone>(&mut self, options: &[T]) -> T {
        options[self.below(options.len())].clone()
    }

    fn several<T: Clone>(&mut self, options: &[T], most: usize) -> Vec<T> {
        let count = self.below(most + 1);
        (0..count).map(|_| self.pick(options)).collect()
    }

    fn text(&mut self) -> Option<String> {
        let texts = [
            None,
            Some(""),
            Some("  "),
            Some("Ada"),
            Some("ada"),
            Some(" Bryan "),
        ];
        self.pick(&texts).map(str::to_owned)
    }

    fn texts(&mut self) -> Vec<String> {
        let texts = [
            "Rust",
            "rust",
            "Go",
            "",
            " ",
            "databases",
            "ΣΑΣ",
            "σας",
            "σασ",
            "\u{212A}",
            "k",
            "İ",
            "i\u{307}",
        ];
        self.several(&texts, 4)
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn map<V: Clone>(&mut self, keys: &[&str], values: &[V]) -> Vec<(String, V)> {
        let count = self.below(4);
        (0..count)
            .map(|_| (self.pick(keys).to_owned(), self.pick(values)))
            .collect()
    }

    fn answers(&mut self) -> Vec<SourceAnswer> {
        let count = self.below(5);
        (0..count).map(|_| self.answer()).collect()
    }

    fn answer(&mut self) -> SourceAnswer {
        let connector = self.pick(&["hubspot", "github", "x", "gravatar"]);
        let mut answer = answer(
            connector,
            self.pick(&[0.9, 0.8, 0.8, 0.7, 0.5]),
            self.pick(&[0, 1, 1, 2]),
            self.enrichment(),
        );
        answer.fetched_at += Duration::from_secs(self.pick(&[0, 0, 60]));
        answer
    }

    fn enrichment(&mut self) -> Enrichment {
        Enrichment {
            identity: Identity {
                name: self.text(),
                emails: self.texts(),
                handles: self
                    .map(&["github", "x", "Github"], &["", " ", "octocat", "Octocat"])
                    .into_iter()
                    .map(|(key, value)| (key, value.to_owned()))
                    .collect(),
                avatar_url: self.text(),
                bio: self.text(),
                company: self.text(),
                job_title: self.text(),
            },
            demographics: Demographics {
                age: self.pick(&[None, Some(0), Some(34)]),
                gender: self.text(),
                location: self.text(),
                country: self.text(),
                city: self.text(),
                education: self.text(),
                occupation: self.text(),
            },
            interests: self.texts(),
            social: Social {
                platforms: self
                    .several(&["github", "GitHub", "x", "", "mastodon"], 2)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                connections: self.pick(&[None, Some(0), Some(20), Some(100)]),
                influence: self.pick(&[
                    None,
                    Some(0.5),
                    Some(0.25),
                    Some(f64::NAN),
                    Some(f64::INFINITY),
                ]),
                communities: self.texts(),
            },
            behavior: Behavior {
                purchase_history: self.several(&items(), 3),
                preferred_channels: self.texts(),
                engagement: self
                    .map(&["lead_score", "followers", "github_followers"], &items())
                    .into_iter()
                    .collect(),
            },
            extra: self
                .map(&["stage", "score"], &items())
                .into_iter()
                .collect(),
            confidence: None,
        }
    }
}

/// JSON values of every kind, with blanks, case variants and numbers equal but typed apart.
fn items() -> [Value; 14] {
    [
        Value::Null,
        json!(1),
        json!(1.0),
        json!(-1),
        json!(true),
        json!(""),
        json!(" "),
        json!("Pro"),
        json!("pro"),
        json!([]),
        json!([null]),
        json!({}),
        json!({"id": 1}),
        json!({"id": 2}),
    ]
}

/// The JSON-based merge that the typed one replaced, kept as the reference it must match.
mod reference;

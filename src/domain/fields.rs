//! The profile's single-valued fields by path (`identity.company`, `demographics.age`,
//! `identity.handles.github`): what overrides may set and what a waterfall's `until` may wait
//! for, and whether an answer fills one.

use enrichd_sdk::Enrichment;

/// The text fields of a profile.
pub const TEXT_FIELDS: &[&str] = &[
    "identity.name",
    "identity.avatar_url",
    "identity.bio",
    "identity.company",
    "identity.job_title",
    "demographics.gender",
    "demographics.location",
    "demographics.country",
    "demographics.city",
    "demographics.education",
    "demographics.occupation",
];

/// The fields a waterfall's `until` may name: the text fields, `demographics.age`,
/// `social.influence`, `social.connections`, `identity.emails` (one at least) and
/// `identity.handles.<platform>`.
pub fn is_until_field(path: &str) -> bool {
    TEXT_FIELDS.contains(&path)
        || matches!(
            path,
            "demographics.age" | "social.influence" | "social.connections" | "identity.emails"
        )
        || path
            .strip_prefix("identity.handles.")
            .is_some_and(is_platform)
}

/// Whether `answer` gives the field at `path` a (non-blank) value.
pub fn fills(answer: &Enrichment, path: &str) -> bool {
    let text = |value: &Option<String>| value.as_deref().is_some_and(|t| !t.trim().is_empty());
    let identity = &answer.identity;
    let demographics = &answer.demographics;
    match path {
        "identity.name" => text(&identity.name),
        "identity.avatar_url" => text(&identity.avatar_url),
        "identity.bio" => text(&identity.bio),
        "identity.company" => text(&identity.company),
        "identity.job_title" => text(&identity.job_title),
        "identity.emails" => identity.emails.iter().any(|e| !e.trim().is_empty()),
        "demographics.gender" => text(&demographics.gender),
        "demographics.location" => text(&demographics.location),
        "demographics.country" => text(&demographics.country),
        "demographics.city" => text(&demographics.city),
        "demographics.education" => text(&demographics.education),
        "demographics.occupation" => text(&demographics.occupation),
        "demographics.age" => demographics.age.is_some(),
        "social.influence" => answer.social.influence.is_some(),
        "social.connections" => answer.social.connections.is_some(),
        _ => path
            .strip_prefix("identity.handles.")
            .and_then(|platform| identity.handles.get(platform))
            .is_some_and(|handle| !handle.trim().is_empty()),
    }
}

/// A platform name as handles use it: 1-32 of `a-z0-9_`.
pub fn is_platform(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn until_fields_are_the_single_valued_ones() {
        for good in [
            "identity.company",
            "demographics.occupation",
            "demographics.age",
            "social.influence",
            "social.connections",
            "identity.emails",
            "identity.handles.github",
        ] {
            assert!(is_until_field(good), "{good}");
        }
        for bad in [
            "identity",
            "interests",
            "identity.handles.",
            "identity.handles.Git",
            "x",
        ] {
            assert!(!is_until_field(bad), "{bad}");
        }
    }

    /// Every field `fills` knows, with GitHub for the handles.
    fn every_field() -> impl Iterator<Item = &'static str> {
        TEXT_FIELDS.iter().copied().chain([
            "identity.emails",
            "demographics.age",
            "social.influence",
            "social.connections",
            "identity.handles.github",
        ])
    }

    #[test]
    fn an_answer_fills_a_field_with_a_non_blank_value() {
        let mut answer = Enrichment::default();
        for path in every_field() {
            assert!(!fills(&answer, path), "{path}");
        }
        answer.identity.company = Some("  ".into());
        answer.identity.handles.insert("github".into(), " ".into());
        answer.identity.emails.push(" ".into());
        assert!(!fills(&answer, "identity.company"));
        assert!(!fills(&answer, "identity.handles.github"));
        assert!(!fills(&answer, "identity.emails"));
        let identity = &mut answer.identity;
        identity.name = Some("Ada".into());
        identity.avatar_url = Some("https://a/b".into());
        identity.bio = Some("b".into());
        identity.company = Some("Acme".into());
        identity.job_title = Some("CTO".into());
        identity.emails.push("ada@example.com".into());
        identity.handles.insert("github".into(), "ada".into());
        let demographics = &mut answer.demographics;
        demographics.gender = Some("f".into());
        demographics.location = Some("London".into());
        demographics.country = Some("GB".into());
        demographics.city = Some("London".into());
        demographics.education = Some("Cambridge".into());
        demographics.occupation = Some("engineer".into());
        demographics.age = Some(36);
        answer.social.influence = Some(0.4);
        answer.social.connections = Some(12);
        for path in every_field() {
            assert!(fills(&answer, path), "{path}");
        }
        assert!(!fills(&answer, "identity.handles.x"));
    }
}

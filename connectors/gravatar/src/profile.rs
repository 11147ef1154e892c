//! A Gravatar v3 profile as `GET /v3/profiles/{hash}` returns it, and how it maps into an
//! [`Enrichment`].

use enrichd_sdk::{
    Enrichment, insert_present,
    text::{trimmed, unique_ignoring_ascii_case, unique_ignoring_case},
};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The fields of Gravatar's `Profile` the mapping reads; any other field is ignored, and every
/// one but `hash` may be null or missing (the authenticated-only ones are absent from anonymous
/// answers).
#[derive(Debug, Deserialize)]
pub(crate) struct Profile {
    /// Not mapped (it is derived from the email), but every profile has one: a body without it
    /// is not a profile.
    #[serde(rename = "hash")]
    _hash: String,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    profile_url: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    avatar_alt_text: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    job_title: Option<String>,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    pronunciation: Option<String>,
    #[serde(default)]
    pronouns: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    is_organization: Option<bool>,
    #[serde(default)]
    verified_accounts: Option<Vec<VerifiedAccount>>,
    #[serde(default)]
    languages: Option<Vec<Language>>,
    #[serde(default)]
    links: Option<Vec<Link>>,
    #[serde(default)]
    interests: Option<Vec<Interest>>,
    #[serde(default)]
    number_verified_accounts: Option<u64>,
    #[serde(default)]
    registration_date: Option<String>,
    #[serde(default)]
    last_profile_edit: Option<String>,
}

/// An account on another service that Gravatar verified belongs to the profile's owner.
#[derive(Debug, Deserialize)]
struct VerifiedAccount {
    #[serde(default)]
    service_type: Option<String>,
    #[serde(default)]
    service_label: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    is_hidden: Option<bool>,
}

#[derive(Debug, Deserialize)]
struct Language {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    is_primary: Option<bool>,
    #[serde(default)]
    order: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct Link {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Interest {
    #[serde(default)]
    name: Option<String>,
}

impl Profile {
    /// Map the profile into profile sections, filling only what Gravatar shows. Gravatar sends
    /// `""` for unset fields, which [`trimmed`] reads as absent.
    pub(crate) fn into_enrichment(self) -> Enrichment {
        let mut enrichment = Enrichment::default();
        let accounts: Vec<VerifiedAccount> = self
            .verified_accounts
            .unwrap_or_default()
            .into_iter()
            .filter(|account| account.is_hidden != Some(true))
            .collect();

        let identity = &mut enrichment.identity;
        identity.name = trimmed(self.display_name).or_else(|| {
            let parts: Vec<String> = [self.first_name, self.last_name]
                .into_iter()
                .filter_map(trimmed)
                .collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        });
        identity.avatar_url = trimmed(self.avatar_url);
        identity.bio = trimmed(self.description);
        identity.company = trimmed(self.company);
        identity.job_title = trimmed(self.job_title);
        for account in &accounts {
            if let Some((platform, handle)) = account.handle() {
                identity.handles.entry(platform.into()).or_insert(handle);
            }
        }

        enrichment.demographics.location = trimmed(self.location);

        enrichment.interests = unique_ignoring_case(
            self.interests
                .unwrap_or_default()
                .into_iter()
                .filter_map(|interest| trimmed(interest.name)),
        );

        // Gravatar first: enrichd counts connections by a source's first platform. Platforms
        // are lower case already.
        enrichment.social.platforms = unique_ignoring_ascii_case(
            std::iter::once("gravatar".to_owned())
                .chain(accounts.iter().filter_map(VerifiedAccount::platform)),
        );

        let extra = &mut enrichment.extra;
        let texts = [
            ("profile_url", trimmed(self.profile_url)),
            ("avatar_alt_text", trimmed(self.avatar_alt_text)),
            ("pronouns", trimmed(self.pronouns)),
            ("pronunciation", trimmed(self.pronunciation)),
            ("timezone", trimmed(self.timezone)),
            ("registration_date", trimmed(self.registration_date)),
            ("last_profile_edit", trimmed(self.last_profile_edit)),
        ];
        insert_present(extra, texts);
        if let Some(flag) = self.is_organization {
            extra.insert("is_organization".into(), flag.into());
        }
        let mut languages = self.languages.unwrap_or_default();
        // Primary first, then in the profile's order.
        languages.sort_by_key(|l| (l.is_primary != Some(true), l.order.unwrap_or(i64::MAX)));
        let languages: Vec<Value> = languages
            .into_iter()
            .filter_map(|l| trimmed(l.name))
            .map(Value::String)
            .collect();
        if !languages.is_empty() {
            extra.insert("languages".into(), Value::Array(languages));
        }
        let links: Vec<Value> = self
            .links
            .unwrap_or_default()
            .into_iter()
            .filter_map(|link| {
                let url = trimmed(link.url)?;
                let mut entry = Map::new();
                if let Some(label) = trimmed(link.label) {
                    entry.insert("label".into(), json!(label));
                }
                entry.insert("url".into(), json!(url));
                Some(Value::Object(entry))
            })
            .collect();
        if !links.is_empty() {
            extra.insert("links".into(), Value::Array(links));
        }
        let verified: Vec<Value> = accounts
            .iter()
            .filter_map(|account| {
                let url = trimmed(account.url.clone())?;
                let mut entry = Map::new();
                if let Some(service) = trimmed(account.service_type.clone()) {
                    entry.insert("service".into(), json!(service));
                }
                if let Some(label) = trimmed(account.service_label.clone()) {
                    entry.insert("label".into(), json!(label));
                }
                entry.insert("url".into(), json!(url));
                Some(Value::Object(entry))
            })
            .collect();
        if !verified.is_empty() {
            extra.insert("verified_accounts".into(), Value::Array(verified));
        }
        if let Some(count) = self.number_verified_accounts {
            extra.insert("number_verified_accounts".into(), count.into());
        }

        enrichment
    }
}

impl VerifiedAccount {
    /// The platform name enrichd uses for the service (`twitter` is `x`), lower case.
    fn platform(&self) -> Option<String> {
        let service = trimmed(self.service_type.clone())?.to_ascii_lowercase();
        let valid = service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        match service.as_str() {
            "twitter" => Some("x".into()),
            _ if valid => Some(service),
            _ => None,
        }
    }

    /// The `(platform, handle)` this account gives, for the three platforms enrichd has
    /// connectors for, and only when the URL has the exact shape of a profile on it:
    /// `https://github.com/{login}`, `https://x.com/{username}` (or twitter.com) and
    /// `https://{instance}/@{user}` for Mastodon.
    fn handle(&self) -> Option<(&'static str, String)> {
        let url = Url::parse(trimmed(self.url.clone())?.as_str()).ok()?;
        if !matches!(url.scheme(), "http" | "https") {
            return None;
        }
        let host = url.host_str()?.to_ascii_lowercase();
        let host = host.strip_prefix("www.").unwrap_or(&host);
        let segments: Vec<&str> = url.path_segments()?.filter(|s| !s.is_empty()).collect();
        let [segment] = segments.as_slice() else {
            return None;
        };
        match self.platform()?.as_str() {
            "github" if host == "github.com" => {
                let valid = segment.len() <= 39
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                valid.then(|| ("github", (*segment).to_owned()))
            }
            "x" if ["x.com", "twitter.com", "mobile.twitter.com"].contains(&host) => {
                let valid = segment.len() <= 15
                    && segment
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_');
                valid.then(|| ("x", (*segment).to_owned()))
            }
            "mastodon" => {
                let user = segment.strip_prefix('@')?;
                let valid = (1..=30).contains(&user.len())
                    && user.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    && url.domain().is_some()
                    && url.port().is_none();
                valid.then(|| ("mastodon", format!("{user}@{host}")))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(service: &str, url: &str) -> VerifiedAccount {
        VerifiedAccount {
            service_type: Some(service.into()),
            service_label: None,
            url: Some(url.into()),
            is_hidden: Some(false),
        }
    }

    #[test]
    fn profile_urls_of_known_platforms_give_handles() {
        let cases = [
            (
                "github",
                "https://github.com/octocat",
                Some(("github", "octocat")),
            ),
            (
                "github",
                "https://www.github.com/octocat/",
                Some(("github", "octocat")),
            ),
            (
                "twitter",
                "https://twitter.com/XDevelopers",
                Some(("x", "XDevelopers")),
            ),
            (
                "twitter",
                "https://x.com/XDevelopers",
                Some(("x", "XDevelopers")),
            ),
            ("x", "http://mobile.twitter.com/jack", Some(("x", "jack"))),
            (
                "mastodon",
                "https://mastodon.social/@Gargron",
                Some(("mastodon", "Gargron@mastodon.social")),
            ),
            (
                "mastodon",
                "https://Fosstodon.org/@zoe/",
                Some(("mastodon", "zoe@fosstodon.org")),
            ),
        ];
        for (service, url, expected) in cases {
            let handle = account(service, url).handle();
            let expected = expected.map(|(p, h)| (p, h.to_owned()));
            assert_eq!(handle, expected, "{service} {url}");
        }
    }

    #[test]
    fn anything_else_gives_no_handle() {
        for (service, url) in [
            ("github", "https://gist.github.com/octocat"),
            ("github", "https://github.com/octocat/hello-world"),
            ("github", "https://github.com/"),
            ("github", "https://evil.example/octocat"),
            (
                "twitter",
                "https://twitter.com/intent/user?screen_name=jack&x=1/a/b",
            ),
            ("twitter", "https://x.com/this_name_is_too_long"),
            ("mastodon", "https://mastodon.social/users/Gargron"),
            ("mastodon", "https://127.0.0.1/@admin"),
            ("mastodon", "https://mastodon.social:8443/@Gargron"),
            ("wordpress", "http://notreal.wordpress.com"),
            ("github", "ftp://github.com/octocat"),
            ("github", "not a url"),
        ] {
            assert_eq!(account(service, url).handle(), None, "{service} {url}");
        }
    }

    #[test]
    fn twitter_is_the_x_platform() {
        assert_eq!(account("twitter", "").platform().as_deref(), Some("x"));
        assert_eq!(
            account("WordPress", "").platform().as_deref(),
            Some("wordpress")
        );
        assert_eq!(account("we ird", "").platform(), None);
    }

    #[test]
    fn long_lists_of_interests_and_accounts_lose_their_repeats_in_linear_time() {
        // Quadratic, 100,000 interests held a worker for a minute.
        let interests: Vec<serde_json::Value> = (0..100_000)
            .map(|i| json!({"name": format!("Topic {i}")}))
            .chain(
                (0..100_000)
                    .step_by(100)
                    .map(|i| json!({"name": format!("TOPIC {i}")})),
            )
            .collect();
        let accounts: Vec<serde_json::Value> = (0..100_000)
            .map(|i| json!({"service_type": format!("service{}", i % 50_000), "url": ""}))
            .chain([json!({"service_type": "Gravatar", "url": ""})])
            .collect();
        let profile: Profile = serde_json::from_value(json!({
            "hash": "31c5543c1734d25c7206f5fd591525d0295bec6fe84ff82f946a34fe970a1e66",
            "interests": interests,
            "verified_accounts": accounts,
        }))
        .unwrap();
        let started = std::time::Instant::now();
        let enrichment = profile.into_enrichment();
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(enrichment.interests.len(), 100_000);
        assert_eq!(enrichment.interests[..2], ["Topic 0", "Topic 1"]);
        let platforms = &enrichment.social.platforms;
        assert_eq!(platforms.len(), 50_001);
        assert_eq!(platforms[..3], ["gravatar", "service0", "service1"]);
    }
}

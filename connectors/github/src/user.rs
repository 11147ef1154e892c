//! A GitHub user as `GET /users/{login}` returns it, and how it maps into an [`Enrichment`].

use enrichd_sdk::{Enrichment, insert_present, scores, text::trimmed};
use serde::Deserialize;

/// The fields of GitHub's `public-user` (or `private-user`) the mapping reads; any other field
/// is ignored, and every one but `login` may be null or missing.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    login: String,
    #[serde(default)]
    id: Option<u64>,
    #[serde(default, rename = "type")]
    account_type: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    avatar_url: Option<String>,
    #[serde(default)]
    html_url: Option<String>,
    #[serde(default)]
    company: Option<String>,
    #[serde(default)]
    blog: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    hireable: Option<bool>,
    #[serde(default)]
    bio: Option<String>,
    #[serde(default)]
    twitter_username: Option<String>,
    #[serde(default)]
    public_repos: Option<u64>,
    #[serde(default)]
    public_gists: Option<u64>,
    #[serde(default)]
    followers: Option<u64>,
    #[serde(default)]
    following: Option<u64>,
    #[serde(default)]
    created_at: Option<String>,
}

impl User {
    /// Map the profile into profile sections, filling only what GitHub shows.
    pub(crate) fn into_enrichment(self) -> Enrichment {
        let mut enrichment = Enrichment::default();

        let identity = &mut enrichment.identity;
        identity.name = trimmed(self.name);
        identity.handles.insert("github".into(), self.login);
        let x_handle = trimmed(self.twitter_username).map(|h| h.trim_start_matches('@').to_owned());
        if let Some(handle) = x_handle.filter(|h| !h.is_empty()) {
            identity.handles.insert("x".into(), handle);
        }
        identity.emails.extend(trimmed(self.email));
        identity.avatar_url = trimmed(self.avatar_url);
        identity.bio = trimmed(self.bio);
        // GitHub users often write their employer as an organization mention: "@github".
        identity.company = trimmed(self.company)
            .map(|c| c.trim_start_matches('@').trim().to_owned())
            .filter(|c| !c.is_empty());

        enrichment.demographics.location = trimmed(self.location);

        let social = &mut enrichment.social;
        social.platforms.push("github".into());
        social.connections = self.followers;
        social.influence = self.followers.map(influence);

        let figures = [
            ("github_public_repos", self.public_repos),
            ("github_public_gists", self.public_gists),
            ("github_followers", self.followers),
            ("github_following", self.following),
        ];
        insert_present(&mut enrichment.behavior.engagement, figures);

        let extra = &mut enrichment.extra;
        if let Some(id) = self.id {
            extra.insert("id".into(), id.into());
        }
        // GitHub sends `""` for an unset blog: `trimmed` makes it absent.
        let texts = [
            ("profile_url", trimmed(self.html_url)),
            ("blog", trimmed(self.blog)),
            ("account_type", trimmed(self.account_type)),
            ("created_at", trimmed(self.created_at)),
        ];
        insert_present(extra, texts);
        if let Some(hireable) = self.hireable {
            extra.insert("hireable".into(), hireable.into());
        }

        enrichment
    }
}

/// How many orders of magnitude of followers make the whole influence scale: a million
/// followers is the top.
const INFLUENCE_ORDERS: f64 = 6.0;

/// Reach on a 0..=1 scale from a follower count: `min(1, log10(1 + followers) / 6)`, rounded to
/// three decimals ([`scores::influence`]). Each order of magnitude adds a sixth; a million
/// followers is the top.
pub(crate) fn influence(followers: u64) -> f64 {
    scores::influence(followers, INFLUENCE_ORDERS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn influence_grows_with_the_order_of_magnitude() {
        assert_eq!(influence(0), 0.0);
        assert_eq!(influence(9), 0.167);
        assert_eq!(influence(20), 0.22);
        assert_eq!(influence(999), 0.5);
        assert_eq!(influence(999_999), 1.0);
        assert_eq!(influence(u64::MAX), 1.0);
    }

    #[test]
    fn a_user_with_only_a_login_maps_to_the_handle() {
        let user: User = serde_json::from_value(json!({"login": "ghost"})).unwrap();
        let enrichment = user.into_enrichment();
        assert_eq!(enrichment.identity.handles["github"], "ghost");
        assert_eq!(enrichment.identity.handles.len(), 1);
        assert_eq!(enrichment.social.platforms, ["github"]);
        assert_eq!(enrichment.social.connections, None);
        assert_eq!(enrichment.social.influence, None);
        assert!(enrichment.behavior.is_empty());
        assert!(enrichment.extra.is_empty());
    }

    #[test]
    fn company_mentions_lose_their_at_sign() {
        for (company, expected) in [
            ("@github", Some("github")),
            ("GitHub", Some("GitHub")),
            (" @ ", None),
            ("@github @microsoft", Some("github @microsoft")),
        ] {
            let user: User =
                serde_json::from_value(json!({"login": "a", "company": company})).unwrap();
            assert_eq!(user.into_enrichment().identity.company.as_deref(), expected);
        }
    }
}

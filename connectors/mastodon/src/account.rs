//! A Mastodon `Account` entity as `GET /api/v1/accounts/lookup` returns it, and how it maps into
//! an [`Enrichment`].

use enrichd_sdk::{
    Enrichment, insert_present, scores,
    text::{non_empty, trimmed},
};
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

use crate::html;

/// The path Mastodon serves when an account has no avatar of its own.
const MISSING_AVATAR: &str = "/avatars/original/missing.png";

/// The fields of the `Account` entity the mapping reads; any other field is ignored, and every
/// one but `username` and `acct` may be null or missing.
#[derive(Debug, Deserialize)]
pub(crate) struct Account {
    username: String,
    acct: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    avatar: Option<String>,
    #[serde(default)]
    locked: Option<bool>,
    #[serde(default)]
    bot: Option<bool>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    last_status_at: Option<String>,
    #[serde(default, deserialize_with = "count")]
    followers_count: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    following_count: Option<u64>,
    #[serde(default, deserialize_with = "count")]
    statuses_count: Option<u64>,
    #[serde(default)]
    fields: Option<Vec<ProfileField>>,
    #[serde(default)]
    suspended: Option<bool>,
    #[serde(default)]
    moved: Option<MovedTo>,
}

/// A name/value pair of the profile's metadata table; the value is HTML.
#[derive(Debug, Deserialize)]
struct ProfileField {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    verified_at: Option<String>,
}

/// The account an account moved to, as far as the mapping reads it.
#[derive(Debug, Deserialize)]
struct MovedTo {
    #[serde(default)]
    acct: Option<String>,
}

/// A counter; remote accounts have been seen with negative counts, read as unknown rather than
/// failing the whole answer.
fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    let value = Option::<i64>::deserialize(deserializer)?;
    Ok(value.and_then(|n| u64::try_from(n).ok()))
}

impl Account {
    /// Whether the server has suspended the account (since Mastodon 3.3 a suspended account is
    /// returned with `suspended: true` and its profile emptied).
    pub(crate) fn is_suspended(&self) -> bool {
        self.suspended == Some(true)
    }

    /// Map the account into profile sections, filling only what Mastodon shows. `instance` is
    /// the server named by the handle: an `acct` without a domain is an account of that server.
    pub(crate) fn into_enrichment(self, instance: &str) -> Enrichment {
        let mut enrichment = Enrichment::default();
        let handle = normalized_acct(&self.acct, instance);
        let home = handle
            .rsplit_once('@')
            .map(|(_, domain)| domain.to_owned())
            .unwrap_or_else(|| instance.to_owned());
        let note = self.note.unwrap_or_default();

        enrichment.interests = html::hashtags(&note);

        let identity = &mut enrichment.identity;
        identity.name = trimmed(self.display_name).or_else(|| non_empty(&self.username));
        identity.handles.insert("mastodon".into(), handle);
        identity.avatar_url = trimmed(self.avatar).filter(|url| !url.ends_with(MISSING_AVATAR));
        identity.bio = non_empty(&html::to_text(&note));

        let social = &mut enrichment.social;
        social.platforms.push("mastodon".into());
        social.connections = self.followers_count;
        social.influence = self.followers_count.map(influence);
        social.communities.push(home);

        let figures = [
            ("mastodon_followers", self.followers_count),
            ("mastodon_following", self.following_count),
            ("mastodon_statuses", self.statuses_count),
        ];
        insert_present(&mut enrichment.behavior.engagement, figures);

        let extra = &mut enrichment.extra;
        let texts = [
            ("id", trimmed(self.id)),
            ("profile_url", trimmed(self.url)),
            ("created_at", trimmed(self.created_at)),
            ("last_status_at", trimmed(self.last_status_at)),
            (
                "moved_to",
                self.moved
                    .and_then(|m| trimmed(m.acct))
                    .map(|acct| normalized_acct(&acct, instance)),
            ),
        ];
        insert_present(extra, texts);
        insert_present(extra, [("bot", self.bot), ("locked", self.locked)]);
        let fields: Vec<Value> = self
            .fields
            .unwrap_or_default()
            .into_iter()
            .filter_map(ProfileField::into_value)
            .collect();
        if !fields.is_empty() {
            extra.insert("fields".into(), Value::Array(fields));
        }

        enrichment
    }
}

impl ProfileField {
    /// `{"name", "value" (as text), "verified_at"?}`; `None` when the name or value is empty.
    fn into_value(self) -> Option<Value> {
        let name = trimmed(self.name)?;
        let value = trimmed(self.value.map(|v| html::to_text(&v)))?;
        let mut field = Map::new();
        field.insert("name".into(), json!(name));
        field.insert("value".into(), json!(value));
        if let Some(at) = trimmed(self.verified_at) {
            field.insert("verified_at".into(), json!(at));
        }
        Some(Value::Object(field))
    }
}

/// `acct` as `user@instance`: Mastodon leaves the domain out for accounts of the server that
/// answered, which is the instance of the handle. The domain is lower-cased.
pub(crate) fn normalized_acct(acct: &str, instance: &str) -> String {
    let acct = acct.trim().trim_start_matches('@');
    match acct.split_once('@') {
        Some((user, domain)) => format!("{user}@{}", domain.to_ascii_lowercase()),
        None => format!("{acct}@{}", instance.to_ascii_lowercase()),
    }
}

/// How many orders of magnitude of followers make the whole influence scale: a million
/// followers is the top, as for GitHub.
const INFLUENCE_ORDERS: f64 = 6.0;

/// Reach on a 0..=1 scale from a follower count: `min(1, log10(1 + followers) / 6)`, rounded to
/// three decimals ([`scores::influence`]), as for GitHub: each order of magnitude adds a sixth;
/// a million followers is the top.
pub(crate) fn influence(followers: u64) -> f64 {
    scores::influence(followers, INFLUENCE_ORDERS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn influence_grows_with_the_order_of_magnitude() {
        assert_eq!(influence(0), 0.0);
        assert_eq!(influence(9), 0.167);
        assert_eq!(influence(553), 0.457);
        assert_eq!(influence(318_699), 0.917);
        assert_eq!(influence(999_999), 1.0);
        assert_eq!(influence(u64::MAX), 1.0);
    }

    #[test]
    fn accts_get_the_instance_when_local() {
        assert_eq!(
            normalized_acct("Gargron", "mastodon.social"),
            "Gargron@mastodon.social"
        );
        assert_eq!(
            normalized_acct("noiob@Awoo.Space", "mastodon.social"),
            "noiob@awoo.space"
        );
        assert_eq!(
            normalized_acct("@Gargron", "Mastodon.Social"),
            "Gargron@mastodon.social"
        );
    }

    #[test]
    fn a_bare_account_maps_to_its_handle_name_and_instance() {
        let account: Account = serde_json::from_value(json!({
            "username": "ghost", "acct": "ghost", "display_name": "",
            "followers_count": -1, "avatar": "https://example.social/avatars/original/missing.png",
            "fields": null, "note": "",
        }))
        .unwrap();
        let enrichment = account.into_enrichment("example.social");
        assert_eq!(enrichment.identity.name.as_deref(), Some("ghost"));
        assert_eq!(
            enrichment.identity.handles["mastodon"],
            "ghost@example.social"
        );
        assert_eq!(enrichment.identity.avatar_url, None);
        assert_eq!(enrichment.identity.bio, None);
        assert_eq!(enrichment.social.connections, None);
        assert_eq!(enrichment.social.communities, ["example.social"]);
        assert!(enrichment.behavior.is_empty());
        assert!(enrichment.extra.is_empty());
    }
}

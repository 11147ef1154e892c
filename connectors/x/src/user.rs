//! An X user as `GET /2/users/by/username/{username}` returns it, and how it maps into an
//! [`Enrichment`].

use enrichd_sdk::{
    ConnectorError, Enrichment, insert_present, scores,
    text::{trimmed, unique_ignoring_case},
};
use serde::Deserialize;

use crate::errors::Problem;

/// The `user.fields` the connector asks for: exactly the ones the mapping reads (`id`, `name`
/// and `username` always come back).
pub(crate) const USER_FIELDS: &str = "created_at,description,entities,location,profile_image_url,\
                                      protected,public_metrics,url,verified,verified_type";

/// The whole answer to a lookup: the user, or problems, or both (partial errors).
#[derive(Debug, Deserialize)]
pub(crate) struct LookupBody {
    #[serde(default)]
    data: Option<User>,
    #[serde(default)]
    errors: Vec<Problem>,
}

impl LookupBody {
    /// The user, or why there is none.
    ///
    /// X may answer HTTP 200 with no `data` and an `errors` array for a missing user (seen in
    /// public captures; the documentation says 404). A problem titled `Not Found Error` or typed
    /// `resource-not-found`, or any problem about the user resource (a suspended account), is
    /// `not_found`. Problems next to a `data` (a pinned post that is gone, say) are ignored.
    pub(crate) fn into_user(self) -> Result<User, ConnectorError> {
        if let Some(user) = self.data {
            return Ok(user);
        }
        if self.errors.iter().any(Problem::is_not_found) {
            return Err(ConnectorError {
                message: "HTTP 200 from X: no such user".into(),
                ..ConnectorError::not_found()
            });
        }
        if self.errors.iter().any(Problem::is_about_a_user) {
            return Err(ConnectorError {
                message: "HTTP 200 from X: the user is unavailable (suspended or withheld)".into(),
                ..ConnectorError::not_found()
            });
        }
        let message = match self.errors.iter().find_map(Problem::code) {
            Some(code) => format!("HTTP 200 from X without a user ({code})"),
            None => "HTTP 200 from X without a user".to_owned(),
        };
        Err(ConnectorError::bad_response(message))
    }
}

/// The fields of X's `User` object the mapping reads; any other field is ignored, and every one
/// but `username` may be null or missing.
#[derive(Debug, Deserialize)]
pub(crate) struct User {
    username: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    profile_image_url: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    verified: Option<bool>,
    #[serde(default)]
    verified_type: Option<String>,
    #[serde(default)]
    protected: Option<bool>,
    #[serde(default)]
    public_metrics: Option<PublicMetrics>,
    #[serde(default)]
    entities: Option<Entities>,
}

/// `public_metrics`; X adds counters over time (`like_count`, `media_count`), all optional here.
#[derive(Debug, Default, Deserialize)]
struct PublicMetrics {
    #[serde(default)]
    followers_count: Option<u64>,
    #[serde(default)]
    following_count: Option<u64>,
    #[serde(default)]
    tweet_count: Option<u64>,
    #[serde(default)]
    listed_count: Option<u64>,
    #[serde(default)]
    like_count: Option<u64>,
    #[serde(default)]
    media_count: Option<u64>,
}

/// `entities`: what X parsed out of the profile's `url` and `description`.
#[derive(Debug, Default, Deserialize)]
struct Entities {
    #[serde(default)]
    url: Option<UrlEntities>,
    #[serde(default)]
    description: Option<DescriptionEntities>,
}

#[derive(Debug, Default, Deserialize)]
struct UrlEntities {
    #[serde(default)]
    urls: Vec<UrlEntity>,
}

#[derive(Debug, Default, Deserialize)]
struct UrlEntity {
    #[serde(default)]
    expanded_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DescriptionEntities {
    /// `None` when X sent no `hashtags` list; the description is then scanned instead.
    #[serde(default)]
    hashtags: Option<Vec<Hashtag>>,
}

#[derive(Debug, Default, Deserialize)]
struct Hashtag {
    #[serde(default)]
    tag: Option<String>,
}

impl User {
    /// Map the user into profile sections, filling only what X shows.
    pub(crate) fn into_enrichment(self) -> Enrichment {
        let mut enrichment = Enrichment::default();
        let metrics = self.public_metrics.unwrap_or_default();
        let entities = self.entities.unwrap_or_default();
        let bio = trimmed(self.description);

        enrichment.interests = match entities.description.and_then(|d| d.hashtags) {
            Some(hashtags) => unique(hashtags.into_iter().filter_map(|h| trimmed(h.tag))),
            None => bio.as_deref().map(hashtags_in).unwrap_or_default(),
        };

        let identity = &mut enrichment.identity;
        identity.name = trimmed(self.name);
        identity.avatar_url = trimmed(self.profile_image_url);
        identity.bio = bio;
        identity.handles.insert("x".into(), self.username.clone());

        enrichment.demographics.location = trimmed(self.location);

        let social = &mut enrichment.social;
        social.platforms.push("x".into());
        social.connections = metrics.followers_count;
        social.influence = metrics
            .followers_count
            .map(|followers| influence(followers, metrics.listed_count.unwrap_or(0)));

        let figures = [
            ("x_followers", metrics.followers_count),
            ("x_following", metrics.following_count),
            ("x_tweets", metrics.tweet_count),
            ("x_listed", metrics.listed_count),
            ("x_likes", metrics.like_count),
            ("x_media", metrics.media_count),
        ];
        insert_present(&mut enrichment.behavior.engagement, figures);

        // `url` is X's t.co short link; the link the person wrote is in `entities.url`.
        let website = entities
            .url
            .and_then(|u| u.urls.into_iter().find_map(|e| trimmed(e.expanded_url)))
            .or(trimmed(self.url));
        let extra = &mut enrichment.extra;
        let texts = [
            ("id", trimmed(self.id)),
            (
                "profile_url",
                Some(format!("https://x.com/{}", self.username)),
            ),
            ("website", website),
            ("created_at", trimmed(self.created_at)),
            ("verified_type", trimmed(self.verified_type)),
        ];
        insert_present(extra, texts);
        insert_present(
            extra,
            [("verified", self.verified), ("protected", self.protected)],
        );

        enrichment
    }
}

/// Reach on a 0..=1 scale: `min(1, log10(1 + followers) / 7 + min(0.1, log10(1 + listed) / 50))`,
/// rounded to three decimals (with the SDK's [`scores`] helpers).
///
/// Followers give the order of magnitude of the audience (ten million is the top of the
/// scale: X audiences run an order larger than GitHub's). Being on many people's lists says
/// others curate the account as a source, so up to 0.1 is added for it (a hundred thousand
/// lists give the whole bonus).
pub(crate) fn influence(followers: u64, listed: u64) -> f64 {
    let audience = scores::orders_of_magnitude(followers, 7.0);
    let curation = scores::orders_of_magnitude(listed, 50.0).min(0.1);
    scores::round_score((audience + curation).min(1.0))
}

/// The hashtags in a description, as X would link them: a `#` at the start or after a
/// character that is not part of a word, then letters, digits or `_`, not digits only
/// (`#1` is not a hashtag). Without the `#`, first spelling kept, no repeats.
pub(crate) fn hashtags_in(description: &str) -> Vec<String> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut tags = Vec::new();
    let mut previous: Option<char> = None;
    let mut chars = description.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let starts_tag = c == '#' && !previous.is_some_and(|p| is_word(p) || p == '&' || p == '#');
        previous = Some(c);
        if !starts_tag {
            continue;
        }
        let start = at + c.len_utf8();
        let mut end = start;
        while let Some(&(i, next)) = chars.peek() {
            if !is_word(next) {
                break;
            }
            end = i + next.len_utf8();
            previous = Some(next);
            chars.next();
        }
        let tag = &description[start..end];
        if !tag.is_empty() && !tag.chars().all(|c| c.is_ascii_digit()) {
            tags.push(tag.to_owned());
        }
    }
    unique(tags.into_iter())
}

/// `items` without repeats (compared case-insensitively), in their first spelling.
fn unique(items: impl Iterator<Item = String>) -> Vec<String> {
    unique_ignoring_case(
        items
            .map(|item| item.trim_start_matches('#').to_owned())
            .filter(|item| !item.is_empty()),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    #[test]
    fn influence_combines_the_audience_and_a_small_list_bonus() {
        assert_eq!(influence(0, 0), 0.0);
        assert_eq!(influence(9, 0), 0.143);
        assert_eq!(influence(999, 0), 0.429);
        assert_eq!(influence(999, 99), 0.469);
        assert_eq!(influence(583_423, 1672), 0.888);
        assert_eq!(influence(999_999, 10_000_000), 0.957);
        assert_eq!(influence(9_999_999, 0), 1.0);
        assert_eq!(influence(u64::MAX, u64::MAX), 1.0);
    }

    #[test]
    fn hashtags_are_found_where_x_would_link_them() {
        assert_eq!(
            hashtags_in("Building #RustLang tools, #rustlang fan. #100DaysOfCode #1 C# a#b #_x"),
            ["RustLang", "100DaysOfCode", "_x"]
        );
        assert_eq!(hashtags_in("#café au #日本語"), ["café", "日本語"]);
        assert_eq!(hashtags_in("no tags & #"), Vec::<String>::new());
        assert_eq!(
            hashtags_in("&#39;quoted&#39; ##double"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn entity_hashtags_win_over_scanning_the_description() {
        let user: User = serde_json::from_value(json!({
            "username": "a",
            "description": "#scanned",
            "entities": {"description": {"hashtags": [
                {"start": 0, "end": 5, "tag": "Rust"}, {"tag": "rust"}, {"tag": null}
            ]}},
        }))
        .unwrap();
        assert_eq!(user.into_enrichment().interests, ["Rust"]);

        let without_list: User = serde_json::from_value(json!({
            "username": "a",
            "description": "#scanned",
            "entities": {"description": {"mentions": []}},
        }))
        .unwrap();
        assert_eq!(without_list.into_enrichment().interests, ["scanned"]);
    }

    #[test]
    fn a_user_with_only_a_username_maps_to_the_handle() {
        let user: User = serde_json::from_value(json!({"username": "jack"})).unwrap();
        let enrichment = user.into_enrichment();
        assert_eq!(enrichment.identity.handles["x"], "jack");
        assert_eq!(enrichment.social.platforms, ["x"]);
        assert_eq!(enrichment.social.influence, None);
        assert!(enrichment.behavior.is_empty());
        assert_eq!(
            Value::Object(enrichment.extra),
            json!({"profile_url": "https://x.com/jack"})
        );
    }

    #[test]
    fn a_long_list_of_hashtags_loses_its_repeats_in_linear_time() {
        // Quadratic, 100,000 hashtags held a worker for a minute.
        let hashtags: Vec<Value> = (0..100_000)
            .map(|i| json!({"tag": format!("Tag{i}")}))
            .chain(
                (0..100_000)
                    .step_by(100)
                    .map(|i| json!({"tag": format!("#TAG{i}")})),
            )
            .collect();
        let user: User = serde_json::from_value(json!({
            "username": "a",
            "entities": {"description": {"hashtags": hashtags}},
        }))
        .unwrap();
        let description: String = (0..50_000).map(|i| format!("#Tag{i} #tag{i} ")).collect();
        let started = std::time::Instant::now();
        let interests = user.into_enrichment().interests;
        let scanned = hashtags_in(&description);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(interests.len(), 100_000);
        assert_eq!(interests[..2], ["Tag0", "Tag1"]);
        assert_eq!(scanned.len(), 50_000);
        assert_eq!(scanned[49_999], "Tag49999");
    }
}

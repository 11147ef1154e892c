//! How Mastodon's Account entities map into an Enrichment: the documentation's local, remote
//! and entity examples, and edge cases.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_json, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::{HANDLE, TestMastodon, assert_private};

const REMOTE_HANDLE: &str = "noiob@awoo.space";

/// The plain text of the remote accounts' note.
const NOIOB_BIO: &str = ":ms_rainbow_flag:\u{200b} :ms_bisexual_flag:\u{200b} :ms_nonbinary_flag:\u{200b} \
#awoo.space #admin ~ #bi ~ #nonbinary ~ compsci student ~ likes video #games and weird/ old \
electronics and will post obsessively about both ~ avatar by @dzuk";

#[tokio::test]
async fn the_local_account_maps_into_every_section() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-local-user.json"))
        .await;

    let enrichment = mastodon.enrich(HANDLE).await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("Eugen"));
    assert_eq!(
        serde_json::to_value(&identity.handles).unwrap(),
        json!({"mastodon": "Gargron@mastodon.social"})
    );
    assert_eq!(
        identity.avatar_url.as_deref(),
        Some(
            "https://files.mastodon.social/accounts/avatars/000/000/001/original/d96d39a0abb45b92.jpg"
        )
    );
    assert_eq!(
        identity.bio.as_deref(),
        Some(
            "Developer of Mastodon and administrator of mastodon.social. I post service \
             announcements, development updates, and personal stuff."
        )
    );
    assert!(identity.emails.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());

    assert_eq!(enrichment.social.platforms, ["mastodon"]);
    assert_eq!(enrichment.social.connections, Some(318_699));
    assert_eq!(enrichment.social.influence, Some(0.917));
    assert_eq!(enrichment.social.communities, ["mastodon.social"]);
    assert_eq!(
        Value::Object(enrichment.behavior.engagement.clone()),
        json!({
            "mastodon_followers": 318_699,
            "mastodon_following": 453,
            "mastodon_statuses": 61_013,
        })
    );
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "id": "1",
            "profile_url": "https://mastodon.social/@Gargron",
            "created_at": "2016-03-16T14:34:26.392Z",
            "last_status_at": "2019-11-30T20:02:08.277Z",
            "bot": false,
            "locked": false,
            "fields": [
                {"name": "Patreon", "value": "https://www.patreon.com/mastodon"},
                {"name": "Homepage", "value": "https://zeonfederated.com",
                 "verified_at": "2019-07-15T18:29:57.191+00:00"},
            ],
        })
    );
}

#[tokio::test]
async fn the_remote_account_keeps_its_home_instance_and_hashtags() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-get-remote-user.json"))
        .await;

    let enrichment = mastodon.enrich(REMOTE_HANDLE).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("shork"));
    assert_eq!(enrichment.identity.handles["mastodon"], "noiob@awoo.space");
    assert_eq!(enrichment.identity.bio.as_deref(), Some(NOIOB_BIO));
    assert_eq!(
        enrichment.interests,
        ["awoo", "admin", "bi", "nonbinary", "games"]
    );
    assert_eq!(enrichment.social.communities, ["awoo.space"]);
    assert_eq!(enrichment.social.connections, Some(553));
    assert_eq!(enrichment.social.influence, Some(0.457));
    assert_eq!(enrichment.behavior.engagement["mastodon_statuses"], 28_982);
    assert_eq!(
        enrichment.extra["fields"],
        json!([
            {"name": "Pronouns", "value": "they/them"},
            {"name": "Alt", "value": "@noiob"},
            {"name": "Bots", "value": "@darksouls, @nierautomata, code for @awoobot"},
            {"name": "Website", "value": "http://shork.xyz", "verified_at": "2019-11-23T20:25:47.907+00:00"},
        ])
    );
    assert_eq!(enrichment.extra["profile_url"], "https://awoo.space/@noiob");
}

#[tokio::test]
async fn the_entity_example_with_the_newest_fields_maps_too() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(fixture_response(200, "account-entity-example.json"))
        .await;

    let enrichment = mastodon.enrich(REMOTE_HANDLE).await.unwrap();

    assert_eq!(
        enrichment.identity.name.as_deref(),
        Some("ikea shark fan account")
    );
    assert_eq!(
        enrichment.interests,
        ["awoo", "admin", "bi", "nonbinary", "games"]
    );
    assert_eq!(enrichment.social.connections, Some(547));
    assert_eq!(enrichment.social.influence, Some(0.456));
    assert_eq!(enrichment.extra["last_status_at"], "2019-11-17");
    assert_eq!(
        enrichment.extra["fields"][2]["value"],
        "@darksouls, @nierautomata, @fedi, code for @awoobot"
    );
    assert!(!enrichment.extra.contains_key("feature_approval"));
}

#[tokio::test]
async fn a_suspended_account_is_not_found() {
    // Mastodon 3.3+ returns a suspended account with its profile emptied.
    let mut account = fixture_json("account-get-local-user.json");
    account["suspended"] = json!(true);
    account["note"] = json!("");
    account["fields"] = json!([]);
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(ResponseTemplate::new(200).set_body_json(account))
        .await;

    let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::NotFound);

    assert!(!err.retryable);
    assert!(err.message.contains("suspended"), "{}", err.message);
    assert_private(&err, HANDLE, &mastodon.server);
}

#[tokio::test]
async fn html_entities_line_breaks_unicode_and_unknown_fields_are_handled() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(ResponseTemplate::new(200).set_body_json(json!({
            "id": "109",
            "username": "zoe",
            "acct": "zoe",
            "display_name": "Zoë Ångström 李 :blobcat:",
            "note": "<p>Physik &amp; 数学 &lt;3<br>Uppsala</p><p><a href=\"https://fosstodon.org/tags/Quantum\" class=\"mention hashtag\" rel=\"tag\">#<span>Quantum</span></a> &#x1F418;</p>",
            "url": "https://fosstodon.org/@zoe",
            "avatar": "https://cdn.fosstodon.org/avatars/zoe.png",
            "followers_count": 2_000_000,
            "following_count": -1,
            "statuses_count": null,
            "bot": true,
            "locked": true,
            "fields": [
                {"name": "Web", "value": "<a href=\"https://zoe.example\">zoe.example</a>", "verified_at": null},
                {"name": "", "value": "dropped"},
                {"name": "Empty", "value": "<span></span>"},
            ],
            "moved": {"id": "110", "username": "zoe", "acct": "zoe@Other.Example"},
            "noindex": true,
            "hide_collections": null,
            "a_field_mastodon_adds_later": {"nested": [1, 2]},
        })))
        .await;

    let enrichment = mastodon.enrich("zoe@Fosstodon.org").await.unwrap();

    assert_eq!(
        enrichment.identity.name.as_deref(),
        Some("Zoë Ångström 李 :blobcat:")
    );
    assert_eq!(enrichment.identity.handles["mastodon"], "zoe@fosstodon.org");
    assert_eq!(
        enrichment.identity.bio.as_deref(),
        Some("Physik & 数学 <3\nUppsala\n\n#Quantum 🐘")
    );
    assert_eq!(enrichment.interests, ["Quantum"]);
    assert_eq!(enrichment.social.influence, Some(1.0), "capped at 1");
    assert_eq!(enrichment.social.communities, ["fosstodon.org"]);
    assert_eq!(
        Value::Object(enrichment.behavior.engagement.clone()),
        json!({"mastodon_followers": 2_000_000}),
        "a negative or null counter is unknown"
    );
    assert_eq!(enrichment.extra["bot"], true);
    assert_eq!(enrichment.extra["locked"], true);
    assert_eq!(enrichment.extra["moved_to"], "zoe@other.example");
    assert_eq!(
        enrichment.extra["fields"],
        json!([{"name": "Web", "value": "zoe.example"}])
    );
}

#[tokio::test]
async fn nulls_leave_fields_unset_and_the_username_names_the_account() {
    let mastodon = TestMastodon::start().await;
    mastodon
        .answer_lookups(ResponseTemplate::new(200).set_body_json(json!({
            "id": "7", "username": "ghost", "acct": "ghost", "display_name": null,
            "note": null, "url": null, "avatar": null, "created_at": null,
            "followers_count": null, "following_count": null, "statuses_count": null,
            "bot": null, "locked": null, "fields": null, "emojis": null, "suspended": null,
        })))
        .await;

    let enrichment = mastodon.enrich("ghost@mastodon.social").await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("ghost"));
    assert_eq!(enrichment.identity.bio, None);
    assert_eq!(enrichment.identity.avatar_url, None);
    assert!(enrichment.interests.is_empty());
    assert_eq!(enrichment.social.connections, None);
    assert!(enrichment.behavior.is_empty());
    assert_eq!(Value::Object(enrichment.extra), json!({"id": "7"}));
}

#[tokio::test]
async fn a_body_that_is_not_an_account_is_a_bad_response() {
    for body in [
        json!([]),
        json!({"error": "Record not found"}),
        json!({"username": "Gargron"}),
        json!({"username": "Gargron", "acct": 1}),
        json!({"username": "Gargron", "acct": "Gargron", "followers_count": "many"}),
    ] {
        let mastodon = TestMastodon::start().await;
        mastodon
            .answer_lookups(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await;

        let err = expect_error(mastodon.enrich(HANDLE).await, ErrorCode::BadResponse);

        assert!(!err.retryable, "{body}");
        assert_private(&err, HANDLE, &mastodon.server);
    }
}

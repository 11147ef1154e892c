//! How Gravatar's profiles map into an Enrichment: the SDK's full (authenticated) profile, the
//! spec's core (anonymous) one, and edge cases.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::{EMAIL, TestGravatar, assert_private};

#[tokio::test]
async fn the_full_sdk_profile_maps_into_every_section_it_fills() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(fixture_response(200, "profile-full-sdk-fixture.json"))
        .await;

    let enrichment = gravatar.enrich(EMAIL).await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("John Appleseed"));
    assert_eq!(
        identity.avatar_url.as_deref(),
        Some("https://2.gravatar.com/avatar/hashhash")
    );
    assert!(
        identity
            .bio
            .as_deref()
            .unwrap()
            .starts_with("I'm a beach tennis player who enjoys")
    );
    assert!(
        identity
            .bio
            .as_deref()
            .unwrap()
            .ends_with("\n\nBy Chat GPT.")
    );
    assert_eq!(identity.company.as_deref(), Some("A company"));
    assert_eq!(identity.job_title.as_deref(), Some("Engineer"));
    assert!(identity.handles.is_empty(), "WordPress gives no handle");
    assert!(
        identity.emails.is_empty(),
        "contact_info's email is not copied"
    );

    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("Atlanta GA")
    );
    assert_eq!(
        enrichment.interests,
        ["Beach Tennis", "Software Engineering", "Music and Audio"]
    );
    assert_eq!(enrichment.social.platforms, ["gravatar", "wordpress"]);
    assert_eq!(enrichment.social.connections, None);
    assert_eq!(enrichment.social.influence, None);
    assert!(enrichment.behavior.is_empty());
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "profile_url": "https://gravatar.com/notreal",
            "pronouns": "he/him",
            "pronunciation": "John",
            "registration_date": "2018-01-24T14:23:32Z",
            "last_profile_edit": "2024-05-28T14:17:03Z",
            "links": [
                {"label": "My site verified", "url": "https://notreal.wordpress.com/"},
                {"label": "Gravatar", "url": "https://gravatar.com"},
            ],
            "verified_accounts": [
                {"service": "wordpress", "label": "WordPress", "url": "http://notreal.wordpress.com"},
            ],
            "number_verified_accounts": 1,
        })
    );
}

#[tokio::test]
async fn the_core_profile_of_an_anonymous_answer_maps_too() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(fixture_response(
            200,
            "profile-unauthenticated-alex-morgan.json",
        ))
        .await;

    let enrichment = gravatar.enrich("alex@example.com").await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("Alex Morgan"));
    assert_eq!(
        identity.avatar_url.as_deref(),
        Some(
            "https://0.gravatar.com/avatar/33252cd1f33526af53580fcb1736172f06e6716f32afdd1be19ec3096d15dea5"
        )
    );
    assert_eq!(
        identity.bio.as_deref(),
        Some("I like playing hide and seek.")
    );
    assert_eq!(identity.company.as_deref(), Some("ACME Corp"));
    assert_eq!(identity.job_title.as_deref(), Some("Landscape Architect"));
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("New York, USA")
    );
    assert!(
        enrichment.interests.is_empty(),
        "anonymous answers have none"
    );
    assert_eq!(enrichment.social.platforms, ["gravatar", "tumblr"]);
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "profile_url": "https://gravatar.com/example",
            "avatar_alt_text": "Alex Morgan's avatar image. Alex is smiling and standing in beside a large dog who is looking up at Alex.",
            "pronouns": "She/They",
            "pronunciation": "Al-ex Mor-gan",
            "verified_accounts": [
                {"service": "tumblr", "label": "Tumblr", "url": "https://example.tumblr.com/"},
            ],
        })
    );
}

#[tokio::test]
async fn verified_accounts_of_known_platforms_give_handles_and_hidden_ones_are_left_out() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(ResponseTemplate::new(200).set_body_json(json!({
            "hash": "x",
            "display_name": "",
            "first_name": "Zoë",
            "last_name": "Ångström 李",
            "verified_accounts": [
                {"service_type": "github", "service_label": "GitHub", "service_icon": "", "url": "https://github.com/zoe-a", "is_hidden": false},
                {"service_type": "github", "service_label": "GitHub", "service_icon": "", "url": "https://github.com/zoe-b", "is_hidden": false},
                {"service_type": "twitter", "service_label": "X", "service_icon": "", "url": "https://twitter.com/zoe_a", "is_hidden": false},
                {"service_type": "mastodon", "service_label": "Mastodon", "service_icon": "", "url": "https://Fosstodon.org/@zoe", "is_hidden": false},
                {"service_type": "linkedin", "service_label": "LinkedIn", "service_icon": "", "url": "https://linkedin.com/in/zoe", "is_hidden": true},
                {"service_type": "bluesky", "service_label": "Bluesky", "service_icon": "", "url": "https://bsky.app/profile/zoe.example", "is_hidden": false},
            ],
            "languages": [
                {"code": "de", "name": "German", "is_primary": false, "order": 2},
                {"code": "sv", "name": "Swedish", "is_primary": true, "order": 1},
                {"code": "zh", "name": "Chinese", "is_primary": false, "order": 3},
            ],
            "interests": [{"id": 1, "name": "Physik"}, {"id": 2, "name": "physik"}, {"id": 3, "name": "数学"}],
            "timezone": "Europe/Stockholm",
            "is_organization": false,
            "contact_info": {"cell_phone": "+46700000000", "email": "zoe@contact.example"},
            "payments": {"links": [], "crypto_wallets": [{"label": "BTC", "address": "bc1q"}]},
            "a_field_gravatar_adds_later": {"nested": [1, 2]},
        })))
        .await;

    let enrichment = gravatar.enrich("zoe@example.com").await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Zoë Ångström 李"));
    assert_eq!(
        serde_json::to_value(&enrichment.identity.handles).unwrap(),
        json!({"github": "zoe-a", "x": "zoe_a", "mastodon": "zoe@fosstodon.org"})
    );
    assert_eq!(
        enrichment.social.platforms,
        ["gravatar", "github", "x", "mastodon", "bluesky"]
    );
    assert_eq!(enrichment.interests, ["Physik", "数学"]);
    assert!(enrichment.identity.emails.is_empty());
    let extra = &enrichment.extra;
    assert_eq!(extra["languages"], json!(["Swedish", "German", "Chinese"]));
    assert_eq!(extra["timezone"], "Europe/Stockholm");
    assert_eq!(extra["is_organization"], false);
    assert_eq!(extra["verified_accounts"].as_array().unwrap().len(), 5);
    let shown = Value::Object(extra.clone()).to_string();
    for hidden in ["linkedin", "+46700000000", "zoe@contact.example", "bc1q"] {
        assert!(!shown.contains(hidden), "{hidden} in {shown}");
    }
}

#[tokio::test]
async fn nulls_and_empty_strings_leave_fields_unset() {
    let gravatar = TestGravatar::start().await;
    gravatar
        .answer_lookups(ResponseTemplate::new(200).set_body_json(json!({
            "hash": "x", "display_name": "", "profile_url": "", "avatar_url": null,
            "avatar_alt_text": "", "location": "", "description": "", "job_title": "",
            "company": null, "verified_accounts": [], "pronunciation": "", "pronouns": "",
            "interests": null, "links": null, "languages": null,
        })))
        .await;

    let enrichment = gravatar.enrich(EMAIL).await.unwrap();

    assert!(enrichment.identity.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());
    assert_eq!(enrichment.social.platforms, ["gravatar"]);
    assert!(enrichment.extra.is_empty());
}

#[tokio::test]
async fn a_body_that_is_not_a_profile_is_a_bad_response() {
    for body in [
        json!([]),
        json!({}),
        json!("profile"),
        json!({"display_name": 42}),
        json!({"verified_accounts": {"github": "x"}}),
    ] {
        let gravatar = TestGravatar::start().await;
        gravatar
            .answer_lookups(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await;

        let err = expect_error(gravatar.enrich(EMAIL).await, ErrorCode::BadResponse);

        assert!(!err.retryable, "{body}");
        assert_private(&err, &gravatar.server);
    }
}

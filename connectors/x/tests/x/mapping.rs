//! How X's user objects map into an Enrichment.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::{TestX, USERNAME, assert_private};

#[tokio::test]
async fn the_quickstart_user_maps_into_every_section_it_fills() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(200, "user-by-id-with-fields.json"))
        .await;

    let enrichment = x.enrich(USERNAME).await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("X Developers"));
    assert_eq!(
        serde_json::to_value(&identity.handles).unwrap(),
        json!({"x": "XDevelopers"})
    );
    assert_eq!(
        identity.bio.as_deref(),
        Some("The voice of the X developer community")
    );
    assert_eq!(identity.avatar_url, None);
    assert!(identity.emails.is_empty());
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());

    assert_eq!(enrichment.social.platforms, ["x"]);
    assert_eq!(enrichment.social.connections, Some(583_423));
    assert_eq!(enrichment.social.influence, Some(0.888));
    assert!(enrichment.social.communities.is_empty());
    assert_eq!(
        Value::Object(enrichment.behavior.engagement.clone()),
        json!({
            "x_followers": 583_423,
            "x_following": 2048,
            "x_tweets": 14_052,
            "x_listed": 1672,
        })
    );
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "id": "2244994945",
            "profile_url": "https://x.com/XDevelopers",
            "created_at": "2013-12-14T04:35:55.000Z",
            "verified": true,
        })
    );
}

#[tokio::test]
async fn the_default_response_maps_to_name_and_handle_only() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(200, "user-by-username-default.json"))
        .await;

    let enrichment = x.enrich(USERNAME).await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("X Developers"));
    assert_eq!(enrichment.identity.handles["x"], "XDevelopers");
    assert_eq!(enrichment.social.connections, None);
    assert_eq!(enrichment.social.influence, None);
    assert!(enrichment.behavior.is_empty());
    assert_eq!(enrichment.extra["id"], "2244994945");
}

#[tokio::test]
async fn expansions_and_their_includes_are_ignored() {
    let x = TestX::start().await;
    x.answer_lookups(fixture_response(
        200,
        "user-by-username-with-fields-expansions.json",
    ))
    .await;

    let enrichment = x.enrich(USERNAME).await.unwrap();

    assert_eq!(enrichment.social.connections, Some(583_423));
    // No listed_count in this answer: no list bonus, and no x_listed figure.
    assert_eq!(enrichment.social.influence, Some(0.824));
    assert!(!enrichment.behavior.engagement.contains_key("x_listed"));
    assert!(!enrichment.extra.contains_key("pinned_tweet_id"));
}

#[tokio::test]
async fn a_full_profile_with_entities_unicode_and_unknown_fields_maps_everything() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({
        "data": {
            "id": "42",
            "name": "Zoë Ångström 李",
            "username": "zoe_a",
            "description": "Physik ⚛️ & 数学 #Quantum #rust #RUST #1 https://t.co/abc",
            "location": "Uppsala, Sverige",
            "profile_image_url": "https://pbs.twimg.com/profile_images/1/zoe_normal.jpg",
            "url": "https://t.co/xyz",
            "created_at": "2010-05-06T07:08:09.000Z",
            "protected": false,
            "verified": false,
            "verified_type": "none",
            "public_metrics": {
                "followers_count": 12_000_000,
                "following_count": 3,
                "tweet_count": 4,
                "listed_count": 5,
                "like_count": 6,
                "media_count": 7,
            },
            "entities": {
                "url": {"urls": [{"start": 0, "end": 23, "url": "https://t.co/xyz",
                                   "expanded_url": "https://zoe.example", "display_url": "zoe.example"}]},
                "description": {
                    "hashtags": [{"start": 18, "end": 26, "tag": "Quantum"}, {"start": 27, "end": 32, "tag": "rust"},
                                 {"start": 33, "end": 38, "tag": "RUST"}],
                    "urls": [{"start": 42, "end": 65, "url": "https://t.co/abc"}],
                },
            },
            "parody": false,
            "a_field_x_adds_later": {"nested": [1, 2]},
        },
        "errors": [{"title": "Not Found Error", "resource_type": "tweet", "detail": "pinned post gone"}],
        "includes": {"tweets": []},
    })))
    .await;

    let enrichment = x.enrich("zoe_a").await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Zoë Ångström 李"));
    assert_eq!(
        enrichment.identity.avatar_url.as_deref(),
        Some("https://pbs.twimg.com/profile_images/1/zoe_normal.jpg")
    );
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("Uppsala, Sverige")
    );
    assert_eq!(enrichment.interests, ["Quantum", "rust"]);
    assert_eq!(enrichment.social.influence, Some(1.0), "capped at 1");
    assert_eq!(enrichment.behavior.engagement["x_likes"], 6);
    assert_eq!(enrichment.behavior.engagement["x_media"], 7);
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "id": "42",
            "profile_url": "https://x.com/zoe_a",
            "website": "https://zoe.example",
            "created_at": "2010-05-06T07:08:09.000Z",
            "verified_type": "none",
            "verified": false,
            "protected": false,
        })
    );
}

#[tokio::test]
async fn without_entities_hashtags_come_from_the_description_and_the_url_stays_short() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({"data": {
        "id": "7", "name": "Ada", "username": "ada",
        "description": "Counting engines. #Math #poetry, #Math again",
        "url": "https://t.co/short",
    }})))
    .await;

    let enrichment = x.enrich("ada").await.unwrap();

    assert_eq!(enrichment.interests, ["Math", "poetry"]);
    assert_eq!(enrichment.extra["website"], "https://t.co/short");
}

#[tokio::test]
async fn nulls_and_empty_strings_leave_fields_unset() {
    let x = TestX::start().await;
    x.answer_lookups(ResponseTemplate::new(200).set_body_json(json!({"data": {
        "id": "7", "username": "ghost", "name": "", "description": "", "location": null,
        "profile_image_url": null, "url": "", "created_at": null, "verified": null,
        "verified_type": null, "protected": null, "public_metrics": null, "entities": null,
    }})))
    .await;

    let enrichment = x.enrich("ghost").await.unwrap();

    assert_eq!(enrichment.identity.name, None);
    assert_eq!(enrichment.identity.bio, None);
    assert!(enrichment.demographics.is_empty());
    assert!(enrichment.interests.is_empty());
    assert_eq!(enrichment.social.connections, None);
    assert!(enrichment.behavior.is_empty());
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({"id": "7", "profile_url": "https://x.com/ghost"})
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_lookup_answer_is_a_bad_response() {
    for body in [
        json!([]),
        json!({"data": {"id": "1"}}),
        json!({"data": {"username": 42}}),
        json!({"data": null}),
        json!({"errors": [{"title": "Invalid Request", "type": "https://api.x.com/2/problems/invalid-request"}]}),
        json!({"meta": {"result_count": 0}}),
    ] {
        let x = TestX::start().await;
        x.answer_lookups(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await;

        let err = expect_error(x.enrich(USERNAME).await, ErrorCode::BadResponse);

        assert!(!err.retryable, "{body}");
        assert_private(&err, USERNAME, &x.server);
    }
}

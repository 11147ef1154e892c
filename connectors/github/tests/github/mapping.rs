//! How GitHub's user profiles map into an Enrichment.

use enrichd_sdk::{
    ErrorCode,
    testkit::{expect_error, fixture_response, wiremock::ResponseTemplate},
};
use serde_json::{Value, json};

use crate::helpers::TestGitHub;

#[tokio::test]
async fn the_octocat_fixture_maps_into_every_section() {
    let github = TestGitHub::start().await;
    github
        .answer_users(fixture_response(200, "user-octocat.json"))
        .await;

    let enrichment = github.enrich("OctoCat").await.unwrap();

    let identity = &enrichment.identity;
    assert_eq!(identity.name.as_deref(), Some("monalisa octocat"));
    assert_eq!(identity.emails, ["octocat@github.com"]);
    assert_eq!(
        serde_json::to_value(&identity.handles).unwrap(),
        json!({"github": "octocat", "x": "monatheoctocat"})
    );
    assert_eq!(
        identity.avatar_url.as_deref(),
        Some("https://github.com/images/error/octocat_happy.gif")
    );
    assert_eq!(identity.bio.as_deref(), Some("There once was..."));
    assert_eq!(identity.company.as_deref(), Some("GitHub"));
    assert_eq!(identity.job_title, None);

    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("San Francisco")
    );
    assert_eq!(enrichment.demographics.city, None);

    assert_eq!(enrichment.social.platforms, ["github"]);
    assert_eq!(enrichment.social.connections, Some(20));
    assert_eq!(enrichment.social.influence, Some(0.22));
    assert!(enrichment.interests.is_empty());

    assert_eq!(
        Value::Object(enrichment.behavior.engagement.clone()),
        json!({
            "github_public_repos": 2,
            "github_public_gists": 1,
            "github_followers": 20,
            "github_following": 0,
        })
    );
    assert_eq!(
        Value::Object(enrichment.extra),
        json!({
            "id": 1,
            "profile_url": "https://github.com/octocat",
            "blog": "https://github.com/blog",
            "account_type": "User",
            "created_at": "2008-01-14T04:33:35Z",
            "hireable": false,
        })
    );
}

#[tokio::test]
async fn a_bare_profile_full_of_nulls_maps_to_the_handle_and_counts() {
    let github = TestGitHub::start().await;
    github
        .answer_users(ResponseTemplate::new(200).set_body_json(json!({
            "login": "ghost",
            "id": 10137,
            "type": "User",
            "name": null,
            "company": null,
            "blog": "",
            "location": null,
            "email": null,
            "hireable": null,
            "bio": null,
            "twitter_username": null,
            "avatar_url": null,
            "html_url": "https://github.com/ghost",
            "public_repos": 0,
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": "2013-02-01T00:00:00Z",
            "updated_at": null,
        })))
        .await;

    let enrichment = github.enrich("ghost").await.unwrap();

    assert_eq!(enrichment.identity.name, None);
    assert!(enrichment.identity.emails.is_empty());
    assert_eq!(enrichment.identity.handles.len(), 1);
    assert_eq!(enrichment.identity.company, None);
    assert!(enrichment.demographics.is_empty());
    assert_eq!(enrichment.social.connections, Some(0));
    assert_eq!(enrichment.social.influence, Some(0.0));
    assert!(!enrichment.extra.contains_key("blog"));
    assert!(!enrichment.extra.contains_key("hireable"));
}

#[tokio::test]
async fn unicode_names_company_mentions_and_unknown_fields_are_fine() {
    let github = TestGitHub::start().await;
    github
        .answer_users(ResponseTemplate::new(200).set_body_json(json!({
            "login": "zoe-a",
            "name": "Zoë Ångström 李",
            "company": "@ångström-labs",
            "location": "Uppsala, Sverige",
            "bio": "Physik ⚛️ & 数学",
            "followers": 1_500_000,
            "twitter_username": "@zoe_a",
            "user_view_type": "public",
            "a_field_github_adds_later": {"nested": [1, 2]},
            "plan": {"name": "pro", "space": 976_562_499},
        })))
        .await;

    let enrichment = github.enrich("zoe-a").await.unwrap();

    assert_eq!(enrichment.identity.name.as_deref(), Some("Zoë Ångström 李"));
    assert_eq!(
        enrichment.identity.company.as_deref(),
        Some("ångström-labs")
    );
    assert_eq!(enrichment.identity.bio.as_deref(), Some("Physik ⚛️ & 数学"));
    assert_eq!(enrichment.identity.handles["x"], "zoe_a");
    assert_eq!(
        enrichment.demographics.location.as_deref(),
        Some("Uppsala, Sverige")
    );
    assert_eq!(enrichment.social.influence, Some(1.0), "capped at 1");
}

#[tokio::test]
async fn a_body_that_is_not_a_user_is_a_bad_response() {
    for body in [json!({"message": "hello"}), json!([]), json!({"login": 42})] {
        let github = TestGitHub::start().await;
        github
            .answer_users(ResponseTemplate::new(200).set_body_json(body.clone()))
            .await;
        expect_error(github.enrich("octocat").await, ErrorCode::BadResponse);
    }
}

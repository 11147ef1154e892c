//! Encryption at rest (PRODUCT.md §9): with `cache.encryption_keys` set, nothing enrichd keeps
//! in Redis about a user is readable there — checked by reading every key back with a plain
//! Redis client — and key rotation keeps what was sealed before readable.

use serde_json::json;

use crate::helpers::{TestApp, TestAppBuilder, known_subject};

const K1: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const K2: &str = "HxwdHhsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
const K3: &str = "ZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmY=";

/// `cache:` keys for `keys` (id, base64), the sealing one first.
fn keys(keys: &[(&str, &str)]) -> String {
    let listed: Vec<String> = keys
        .iter()
        .map(|(id, key)| format!("{{id: {id}, key: \"{key}\"}}"))
        .collect();
    format!("encryption_keys: [{}]", listed.join(", "))
}

/// Another replica of `app` (same Redis and prefix, its own in-process tier) with `keys`.
async fn replica_with(app: &TestApp, ring: &[(&str, &str)]) -> TestApp {
    TestAppBuilder::new()
        .replica_of(app)
        .cache(&keys(ring))
        .spawn()
        .await
}

/// Everything Redis holds under the app's prefix, as raw bytes: every string, every field and
/// value of every hash, every member of every set, and every key's `DUMP`.
fn everything_in_redis(app: &TestApp) -> Vec<Vec<u8>> {
    let mut redis = app.redis().connection();
    let names: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", app.prefix))
        .query(&mut redis)
        .unwrap();
    assert!(!names.is_empty());
    let mut held = Vec::new();
    for name in names {
        let kind: String = redis::cmd("TYPE").arg(&name).query(&mut redis).unwrap();
        match kind.as_str() {
            "string" => held.push(redis::cmd("GET").arg(&name).query(&mut redis).unwrap()),
            "hash" => held.extend(
                redis::cmd("HGETALL")
                    .arg(&name)
                    .query::<Vec<Vec<u8>>>(&mut redis)
                    .unwrap(),
            ),
            "set" => held.extend(
                redis::cmd("SMEMBERS")
                    .arg(&name)
                    .query::<Vec<Vec<u8>>>(&mut redis)
                    .unwrap(),
            ),
            "stream" => {
                let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
                    .arg(&name)
                    .arg("-")
                    .arg("+")
                    .query(&mut redis)
                    .unwrap();
                held.extend(entries.into_iter().flat_map(|(_, fields)| fields));
            }
            other => panic!("{name} is a {other}"),
        }
        held.push(redis::cmd("DUMP").arg(&name).query(&mut redis).unwrap());
    }
    held
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

#[tokio::test]
async fn with_keys_redis_holds_no_name_email_or_handle_in_clear() {
    let app = TestAppBuilder::new()
        .cache(&keys(&[("k1", K1)]))
        .api_key("key-default")
        .tenant_key("key-marketing", "crm-sync", "marketing")
        .privacy("")
        .spawn()
        .await;
    let profile = app.enrich(known_subject("sealed-1")).await;
    // Another tenant's profile, a suppression and an erasure (with its audit entry) too.
    let marketing = app
        .send_as(
            Some("key-marketing"),
            app.client
                .post(app.url("/v1/enrich"))
                .json(&known_subject("sealed-2")),
        )
        .await;
    assert_eq!(marketing.status, 200);
    let suppressed = app
        .send(app.client.post(app.url("/v1/suppressions")).json(
            &json!({"email": "someone.else@biglytics.net", "handles": {"github": "octocat-twin"}}),
        ))
        .await;
    assert_eq!(suppressed.status, 204);
    assert_eq!(app.enrich(known_subject("sealed-3")).await.status, 200);
    assert_eq!(app.delete_profile("sealed-3").await.status, 204);
    assert_eq!(profile.status, 200);
    let name = profile.body["profile"]["identity"]["name"]
        .as_str()
        .expect("the stand-ins name the person")
        .to_owned();
    app.wait_for_profile_in_redis("sealed-1").await;

    let held = everything_in_redis(&app);
    for secret in ["bcooper", "biglytics", "octocat", "sealed-3", &name] {
        let found = held.iter().filter(|value| contains(value, secret)).count();
        assert_eq!(found, 0, "{secret:?} is in Redis in clear");
    }
    // And it is served back from Redis by a replica whose in-process tier is empty.
    let replica = replica_with(&app, &[("k1", K1)]).await;
    let read = replica.get_profile("sealed-1").await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body["profile"], profile.body["profile"]);
}

#[tokio::test]
async fn without_keys_values_are_packed_not_sealed() {
    let app = TestAppBuilder::new().spawn().await;
    assert_eq!(app.enrich(known_subject("clear-1")).await.status, 200);
    app.wait_for_profile_in_redis("clear-1").await;
    // An entry (LZ4) is not sealed: read, its values are in clear.
    let unpacked: Vec<Vec<u8>> = everything_in_redis(&app)
        .into_iter()
        .filter(|value| value.starts_with(b"\xFEE\x01"))
        .filter_map(|value| enrichd::cache::Stored::decode(&value))
        .flat_map(|entry| {
            let (body, subject) = entry.profile_json().unwrap();
            let answers = entry.sources().iter().map(|s| s.json.clone());
            [body.to_vec(), subject]
                .into_iter()
                .chain(answers)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(unpacked.len() >= 3, "the profile, its subject, a source");
    assert!(unpacked.iter().any(|value| contains(value, "biglytics")));
}

#[tokio::test]
async fn rotation_keeps_old_values_readable_and_an_unknown_key_is_a_miss() {
    let app = TestAppBuilder::new()
        .cache(&keys(&[("k1", K1)]))
        .spawn()
        .await;
    assert_eq!(app.enrich(known_subject("rot-1")).await.status, 200);
    app.wait_for_profile_in_redis("rot-1").await;

    // A new key first, the old one still listed: the old value opens; a refresh re-seals it.
    let rotated = replica_with(&app, &[("k2", K2), ("k1", K1)]).await;
    assert_eq!(rotated.get_profile("rot-1").await.status, 200);
    let refreshed = rotated
        .send(
            rotated
                .client
                .get(rotated.url("/v1/profiles/rot-1?refresh=true")),
        )
        .await;
    assert_eq!(refreshed.status, 200);

    // The old key retired: what the refresh wrote opens with the new one alone.
    let retired = replica_with(&app, &[("k2", K2)]).await;
    let mut read = retired.get_profile("rot-1").await;
    for _ in 0..50 {
        if read.status == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        read = retired.get_profile("rot-1").await;
    }
    assert_eq!(read.status, 200, "the refresh did not re-seal with k2");

    // A replica that knows none of the keys: a miss, not an error; and it can enrich anew.
    let stranger = replica_with(&app, &[("k3", K3)]).await;
    let missed = stranger.get_profile("rot-1").await;
    assert_eq!(missed.status, 404, "{:?}", missed.body);
    assert_eq!(missed.body["error"]["code"], "profile_not_found");
    assert_eq!(stranger.enrich(known_subject("rot-1")).await.status, 200);
}

#[tokio::test]
async fn a_sealed_value_copied_under_another_user_does_not_open() {
    let app = TestAppBuilder::new()
        .cache(&keys(&[("k1", K1)]))
        .spawn()
        .await;
    assert_eq!(app.enrich(known_subject("copy-from")).await.status, 200);
    app.wait_for_profile_in_redis("copy-from").await;
    let mut redis = app.redis().connection();
    let entry: Vec<u8> = redis::cmd("GET")
        .arg(app.profile_key("copy-from"))
        .query(&mut redis)
        .unwrap();
    let () = redis::cmd("SET")
        .arg(app.profile_key("copy-to"))
        .arg(entry)
        .query(&mut redis)
        .unwrap();

    let replica = replica_with(&app, &[("k1", K1)]).await;
    assert_eq!(replica.get_profile("copy-from").await.status, 200);
    let copied = replica.get_profile("copy-to").await;
    assert_eq!(copied.status, 404, "{}", json!(copied.body));
}

//! A schema-driven fuzzer: every operation of `/openapi.json` is called with values generated
//! from its own schemas — valid, borderline and hostile (wrong types, huge numbers, odd
//! characters, unknown fields, missing ones, random methods and headers) — and the service must
//! answer each with a documented status, never a 5xx other than a documented 502, always with a
//! request id and, for errors, the error JSON. It keeps serving throughout.
//!
//! The generator is seeded (`ENRICHD_FUZZ_SEED`, default fixed) so a failure can be replayed;
//! `ENRICHD_FUZZ_CASES` sets the cases per operation (default 40).

use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, TestAppBuilder};

const ADMIN: &str = "fuzz-admin";
const KEY: &str = "fuzz-key";

/// A small deterministic generator (xorshift64*), enough to vary inputs reproducibly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Strings that have broken services before.
const NASTY: &[&str] = &[
    "",
    " ",
    "u-1",
    "octocat",
    "ada@example.com",
    "+442071838750",
    "Gargron@mastodon.social",
    "u@127.0.0.0x1",
    "..",
    "../../etc/passwd",
    "%00",
    "%FF%FE",
    "{user}",
    "a{b}c",
    "null",
    "true",
    "0",
    "-1",
    "1e309",
    "\u{0}",
    "\u{202e}evil",
    "é",
    "🦀",
    "<script>alert(1)</script>",
    "'; DROP TABLE users; --",
    "${HOME}",
    "\r\nx-injected: 1",
];

/// A value for `schema` (resolved against `doc`): mostly of the right shape, sometimes not.
fn value(rng: &mut Rng, doc: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    if depth > 4 || rng.chance(8) {
        return wild(rng);
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array)
        && !choices.is_empty()
        && rng.chance(80)
    {
        return rng.pick(choices).clone();
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => rng.pick(kinds).as_str().unwrap_or("string").to_owned(),
        _ if schema.get("properties").is_some() => "object".into(),
        _ => "string".into(),
    };
    match kind.as_str() {
        "object" => {
            let mut object = Map::new();
            let required: Vec<&str> = schema["required"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if let Some(properties) = schema["properties"].as_object() {
                for (name, property) in properties {
                    let wanted = required.contains(&name.as_str()) && rng.chance(90);
                    if wanted || rng.chance(40) {
                        object.insert(name.clone(), value(rng, doc, property, depth + 1));
                    }
                }
            }
            if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object())
                && rng.chance(50)
            {
                for _ in 0..rng.below(4) {
                    let key = rng.pick(&["github", "x", "mastodon", "p_1", "Bad Key", ""]);
                    object.insert((*key).to_owned(), value(rng, doc, extra, depth + 1));
                }
            }
            if rng.chance(10) {
                object.insert("unexpected".into(), wild(rng));
            }
            Value::Object(object)
        }
        "array" => {
            let count = if rng.chance(5) { 150 } else { rng.below(4) };
            Value::Array(
                (0..count)
                    .map(|_| value(rng, doc, &schema["items"], depth + 1))
                    .collect(),
            )
        }
        "integer" | "number" => json!(rng.pick(&[
            json!(0),
            json!(1),
            json!(250),
            json!(-1),
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1.5),
            json!(1e300),
        ])),
        "boolean" => json!(rng.chance(50)),
        _ => Value::String(text(rng)),
    }
}

/// A value of any shape.
fn wild(rng: &mut Rng) -> Value {
    match rng.below(6) {
        0 => Value::Null,
        1 => json!(rng.next()),
        2 => json!([text(rng), 1, null]),
        3 => json!({"nested": {"deeper": [text(rng)]}}),
        4 => json!(rng.chance(50)),
        _ => Value::String(text(rng)),
    }
}

fn text(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => "x".repeat(rng.pick(&[127, 128, 129, 300, 5000]).to_owned()),
        1 => (0..rng.below(20))
            .map(|_| char::from(b' ' + (rng.below(95) as u8)))
            .collect(),
        _ => (*rng.pick(NASTY)).to_owned(),
    }
}

/// Follow a local `$ref`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            doc.pointer(pointer).unwrap_or(&Value::Null)
        }
        None => schema,
    }
}

/// A path segment: a valid-looking name, or something hostile, percent-encoded or not.
fn segment(rng: &mut Rng, name: &str) -> String {
    let raw = match (name, rng.below(4)) {
        ("name", 0) => "github".to_owned(),
        ("user_id", 0) => "fuzz-u1".to_owned(),
        _ => text(rng),
    };
    if rng.chance(50) {
        percent_encoding::utf8_percent_encode(&raw, percent_encoding::NON_ALPHANUMERIC).to_string()
    } else {
        raw.chars()
            .filter(|c| !c.is_control() && !c.is_whitespace() && !matches!(c, '/' | '?' | '#'))
            .collect()
    }
}

fn parameters(operation: &Value, item: &Value) -> Vec<Value> {
    let mut all = Vec::new();
    for source in [&item["parameters"], &operation["parameters"]] {
        if let Some(list) = source.as_array() {
            all.extend(list.iter().cloned());
        }
    }
    all
}

/// One generated request for `method path`.
fn request(
    rng: &mut Rng,
    app: &TestApp,
    doc: &Value,
    method: &str,
    path: &str,
    operation: &Value,
    item: &Value,
) -> reqwest::RequestBuilder {
    let mut url = path.to_owned();
    let mut query = Vec::new();
    for parameter in parameters(operation, item) {
        let name = parameter["name"].as_str().unwrap_or_default();
        match parameter["in"].as_str() {
            Some("path") => url = url.replace(&format!("{{{name}}}"), &segment(rng, name)),
            Some("query") if rng.chance(60) => {
                let v = value(rng, doc, &parameter["schema"], 0);
                let shown = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                query.push(format!(
                    "{name}={}",
                    percent_encoding::utf8_percent_encode(
                        &shown,
                        percent_encoding::NON_ALPHANUMERIC
                    )
                ));
            }
            _ => {}
        }
    }
    if rng.chance(10) {
        query.push(format!("{}=1", segment(rng, "q")));
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    let verb = if rng.chance(5) {
        rng.pick(&["PUT", "PATCH", "OPTIONS", "HEAD", "TRACE", "FUZZ"])
            .to_string()
    } else {
        method.to_ascii_uppercase()
    };
    let mut builder = app.client.request(
        reqwest::Method::from_bytes(verb.as_bytes()).unwrap(),
        app.url(&url),
    );
    builder = match rng.below(10) {
        0 => builder,
        1 => builder.bearer_auth(KEY),
        2 => builder.header("authorization", text(rng).replace(['\r', '\n', '\0'], "")),
        _ => builder.bearer_auth(ADMIN),
    };
    if rng.chance(20) {
        builder = builder.header("x-request-id", segment(rng, "id"));
    }
    if let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema") {
        let body = value(rng, doc, schema, 0);
        let content_type = if rng.chance(90) {
            "application/json"
        } else {
            rng.pick(&[
                "text/plain",
                "application/x-www-form-urlencoded",
                "application/vnd+json",
            ])
        };
        let bytes = match rng.below(20) {
            0 => b"{\"user_id\": ".to_vec(),
            1 => vec![0xff, 0xfe, b'{'],
            _ => serde_json::to_vec(&body).unwrap(),
        };
        builder = builder.header("content-type", content_type).body(bytes);
    }
    builder
}

#[tokio::test]
async fn the_api_survives_requests_generated_from_its_own_openapi_document() {
    let app = TestAppBuilder::new()
        .api_key(KEY)
        .admin_token(ADMIN)
        .deadline_ms(300)
        .privacy("")
        .spawn()
        .await;
    let seed: u64 = std::env::var("ENRICHD_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_1130);
    let cases: usize = std::env::var("ENRICHD_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let mut rng = Rng(seed | 1);
    let doc = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();

    let mut sent = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let documented: Vec<u16> = operation["responses"]
                .as_object()
                .unwrap()
                .keys()
                .filter_map(|k| k.parse().ok())
                .collect();
            for case in 0..cases {
                let request = request(&mut rng, &app, &doc, method, path, operation, item);
                let replay = format!("{method} {path} case {case} (seed {seed:#x})");
                let response = request
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{replay}: {e}"));
                sent += 1;
                let status = response.status().as_u16();
                assert!(
                    response.headers().contains_key("x-request-id"),
                    "{replay}: no request id"
                );
                let body = response.bytes().await.unwrap();
                assert!(
                    status < 500 || (status == 502 && documented.contains(&502)),
                    "{replay}: {status} {}",
                    String::from_utf8_lossy(&body)
                );
                if status >= 400 && !body.is_empty() {
                    let error: Value = serde_json::from_slice(&body)
                        .unwrap_or_else(|_| panic!("{replay}: {status} is not JSON"));
                    assert!(error["error"]["code"].is_string(), "{replay}: {error}");
                }
            }
        }
    }

    assert!(sent > 300, "{sent} requests");
    assert_eq!(app.get("/healthz").await.status, 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.len() < 200_000,
        "{} bytes of metrics",
        metrics.len()
    );
}

//! `/openapi.json` against the live service: every route is documented, every documented
//! route answers, and live responses carry the fields their schemas require.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestAppBuilder, known_subject};

const ADMIN: &str = "admin-1";

async fn document(app: &TestApp) -> Value {
    let answer = app.get("/openapi.json").await;
    assert_eq!(answer.status, 200);
    answer.body
}

#[tokio::test]
async fn every_route_is_documented_and_every_documented_route_answers() {
    let app = TestAppBuilder::new().admin_token(ADMIN).spawn().await;
    let doc = document(&app).await;
    assert_eq!(doc["openapi"], "3.1.0");

    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    let mut routes: Vec<(String, String)> = enrichd::api::openapi::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    routes.sort();
    assert_eq!(
        documented, routes,
        "the document and the route table differ"
    );

    for (method, path) in routes {
        let concrete = path.replace("{user_id}", "u-1").replace("{name}", "github");
        let request = match method.as_str() {
            "get" => app.client.get(app.url(&concrete)),
            "post" => app.client.post(app.url(&concrete)),
            "delete" => app.client.delete(app.url(&concrete)),
            "put" => app.client.put(app.url(&concrete)),
            other => panic!("unexpected method {other}"),
        }
        .bearer_auth(ADMIN)
        .header("content-type", "application/json")
        .body(r#"{"user_id": "u-1", "subjects": []}"#);
        let answer = app.send(request).await;
        let code = answer.body["error"]["code"].as_str().unwrap_or_default();
        assert!(
            code != "not_found" && code != "method_not_allowed",
            "{method} {path} is documented but not served: {}",
            answer.body
        );
        let documented_statuses = doc["paths"][&path][&method]["responses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>();
        assert!(
            documented_statuses.contains(&answer.status.to_string()),
            "{method} {path} answered {} which is not documented ({documented_statuses:?})",
            answer.status
        );
    }
}

/// The `required` fields of a schema of the document, following one `$ref`.
fn required<'a>(doc: &'a Value, name: &str) -> Vec<&'a str> {
    doc["components"]["schemas"][name]["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn live_responses_carry_the_fields_their_schemas_require() {
    let app = TestAppBuilder::new().spawn().await;
    let doc = document(&app).await;
    let profile = app.enrich(known_subject("oa-1")).await.body;
    for field in required(&doc, "Profile") {
        assert!(!profile[field].is_null(), "the profile lacks `{field}`");
    }
    for field in required(&doc, "ProfileBody") {
        assert!(
            !profile["profile"][field].is_null(),
            "the profile body lacks `{field}`"
        );
    }
    for source in profile["sources"].as_array().unwrap() {
        for field in required(&doc, "SourceReport") {
            assert!(!source[field].is_null(), "a source lacks `{field}`");
        }
    }
    let error = app.enrich(json!({"user_id": ""})).await.body;
    for field in required(&doc, "ErrorBody") {
        assert!(
            error["error"].get(field).is_some(),
            "an error lacks `{field}`"
        );
    }
    let list = app.get("/v1/connectors").await.body;
    for connector in list["connectors"].as_array().unwrap() {
        for field in required(&doc, "Connector") {
            assert!(!connector[field].is_null(), "a connector lacks `{field}`");
        }
    }
}

#[tokio::test]
async fn every_operation_has_a_unique_id_and_path_parameters_their_pattern() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    let doc = document(&app).await;
    let mut ids = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str();
            assert!(id.is_some(), "{method} {path} has no operationId");
            ids.push(id.unwrap().to_owned());
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["name"] == "user_id" {
                    assert_eq!(
                        parameter["schema"]["pattern"], "^[A-Za-z0-9._:@-]{1,128}$",
                        "{method} {path}"
                    );
                }
            }
        }
    }
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count, "operationIds repeat");
}

/// The values of every `src="..."` and `href="..."` attribute of `html`.
fn references(html: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for (at, _) in html.match_indices(attribute) {
            let rest = &html[at + attribute.len()..];
            found.push(&rest[..rest.find('"').expect("a closed attribute")]);
        }
    }
    found
}

#[tokio::test]
async fn the_docs_page_loads_only_assets_enrichd_serves_itself() {
    let app = TestAppBuilder::new().without_redis().spawn().await;
    let page_url = reqwest::Url::parse(&app.url("/docs")).unwrap();

    let page = app.client.get(page_url.clone()).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let header = |name: &str| {
        page.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(header("content-type").starts_with("text/html"));
    let policy = header("content-security-policy");
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://") && !html.contains("//"),
        "the page names another host: {html}"
    );
    assert_eq!(
        html.matches("<script").count(),
        html.matches("<script src=").count(),
        "an inline script: {html}"
    );

    let assets: Vec<&str> = references(&html)
        .into_iter()
        .filter(|reference| !reference.starts_with("data:"))
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{assets:?}");
    assert!(assets.iter().any(|a| a.ends_with(".css")), "{assets:?}");
    for asset in assets {
        let url = page_url.join(asset).unwrap();
        assert_eq!(url.origin(), page_url.origin(), "{asset}");
        let response = app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
        let content_type = response.headers()["content-type"].to_str().unwrap();
        let expected = if asset.ends_with(".css") {
            "text/css"
        } else {
            "text/javascript"
        };
        assert!(
            content_type.starts_with(expected),
            "{asset}: {content_type}"
        );
        let body = response.text().await.unwrap();
        assert!(!body.is_empty(), "{asset}");
        // The start script names the document Swagger UI shows, beside the page.
        if asset.ends_with("init.js") {
            assert!(body.contains("\"openapi.json\""), "{body}");
            let document = page_url.join("openapi.json").unwrap();
            assert_eq!(document.path(), "/openapi.json");
            assert_eq!(app.get(document.path()).await.body["openapi"], "3.1.0");
        }
    }

    let missing = app.get("/docs/nothing.js").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["error"]["code"], "not_found");
}

//! `GET /docs`: the API's documentation page, Swagger UI showing `/openapi.json`.
//!
//! Everything the page loads is compiled into the binary: the page and its start script
//! (`docs/index.html`, `docs/init.js`) and Swagger UI's bundle and stylesheet, vendored from
//! npm with their licence in `docs/swagger-ui/`. No CDN, nothing downloaded at build or run
//! time. The page is HTML for people, not part of the JSON API, so it is not in
//! [`super::openapi::ROUTES`] or the document.
//!
//! Its Content-Security-Policy lets it load only what enrichd serves — no inline script, no
//! other host — plus `data:` images (Swagger UI's icons are `data:` URIs in its stylesheet).

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use super::error::ApiError;

/// The policy of the page: same-origin scripts, styles and requests only.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE: &[u8] = include_bytes!("docs/index.html");

/// What the page loads, from `/docs/<name>`.
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "init.js",
        "text/javascript; charset=utf-8",
        include_bytes!("docs/init.js"),
    ),
    (
        "swagger-ui-bundle.js",
        "text/javascript; charset=utf-8",
        include_bytes!("docs/swagger-ui/swagger-ui-bundle.js"),
    ),
    (
        "swagger-ui.css",
        "text/css; charset=utf-8",
        include_bytes!("docs/swagger-ui/swagger-ui.css"),
    ),
];

/// The documentation page.
pub async fn page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        // Small, and it names the assets: always revalidated.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(PAGE)
}

/// One asset of the page; any other name is the API's 404.
pub async fn asset(
    request: HttpRequest,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (_, content_type, body) = ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name.as_str())
        .ok_or_else(|| ApiError::RouteNotFound {
            method: request.method().to_string(),
            path: request.path().to_owned(),
        })?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(*body))
}
